//! Site-naming closures shaped like the backbones' `site_name` (Hugging Face
//! module paths), shared by the PEFT and search-space tests through
//! `#[path = "peft_naming.rs"] mod naming;`. It holds no tests of its own;
//! space_catalogue.rs checks every name against transformers' module lists.
#![allow(dead_code)]

use bipeft_core::backbone::{Point, Site, Stack};
use bipeft_core::space::{BackboneShape, Family};

/// T5 module paths (`encoder.block.3.layer.0.SelfAttention.q`); a gated FFN
/// names its input linears `wi_0` and `wi_1`.
pub fn t5(gated: bool) -> impl Fn(Site) -> String {
    move |site: Site| {
        let stack = match site.stack {
            Stack::Encoder => "encoder",
            Stack::Decoder => "decoder",
        };
        let ffn = if site.stack == Stack::Decoder { 2 } else { 1 };
        let block = format!("{stack}.block.{}", site.layer);
        let (wi, wi_gate) = if gated {
            ("wi_0", "wi_1")
        } else {
            ("wi", "wi_1")
        };
        match site.point {
            Point::Query => format!("{block}.layer.0.SelfAttention.q"),
            Point::Key => format!("{block}.layer.0.SelfAttention.k"),
            Point::Value => format!("{block}.layer.0.SelfAttention.v"),
            Point::AttnOutput => format!("{block}.layer.0.SelfAttention.o"),
            Point::Attention | Point::AttnSublayer => format!("{block}.layer.0.SelfAttention"),
            Point::AttnNorm => format!("{block}.layer.0.layer_norm"),
            Point::CrossQuery => format!("{block}.layer.1.EncDecAttention.q"),
            Point::CrossKey => format!("{block}.layer.1.EncDecAttention.k"),
            Point::CrossValue => format!("{block}.layer.1.EncDecAttention.v"),
            Point::CrossOutput => format!("{block}.layer.1.EncDecAttention.o"),
            Point::CrossAttnSublayer => format!("{block}.layer.1.EncDecAttention"),
            Point::CrossAttnNorm => format!("{block}.layer.1.layer_norm"),
            Point::FfnIn => format!("{block}.layer.{ffn}.DenseReluDense.{wi}"),
            Point::FfnGate => format!("{block}.layer.{ffn}.DenseReluDense.{wi_gate}"),
            Point::FfnOut => format!("{block}.layer.{ffn}.DenseReluDense.wo"),
            Point::FfnSublayer => format!("{block}.layer.{ffn}.DenseReluDense"),
            Point::FfnNorm => format!("{block}.layer.{ffn}.layer_norm"),
            Point::FinalNorm => format!("{stack}.final_layer_norm"),
            Point::EmbeddingNorm => format!("{stack}.embed_tokens"),
        }
    }
}

/// BERT module paths as in `BertModel` (`encoder.layer.2.attention.self.query`).
pub fn bert(site: Site) -> String {
    let layer = format!("encoder.layer.{}", site.layer);
    match site.point {
        Point::Query => format!("{layer}.attention.self.query"),
        Point::Key => format!("{layer}.attention.self.key"),
        Point::Value => format!("{layer}.attention.self.value"),
        Point::Attention => format!("{layer}.attention.self"),
        Point::AttnOutput => format!("{layer}.attention.output.dense"),
        Point::AttnSublayer => format!("{layer}.attention.output"),
        Point::AttnNorm => format!("{layer}.attention.output.LayerNorm"),
        Point::FfnIn | Point::FfnGate => format!("{layer}.intermediate.dense"),
        Point::FfnOut => format!("{layer}.output.dense"),
        Point::FfnSublayer => format!("{layer}.output"),
        Point::FfnNorm => format!("{layer}.output.LayerNorm"),
        Point::EmbeddingNorm => "embeddings.LayerNorm".into(),
        other => format!("{layer}.{other:?}"),
    }
}

/// T5-large (the paper's backbone): 24 + 24 blocks, d_model 1024, d_ff 4096,
/// 16 heads of 64, ReLU FFN, vocabulary 32128; 737,668,096 parameters as
/// transformers counts them (tests/fixtures/peft/reference.json).
pub fn t5_large() -> BackboneShape {
    BackboneShape {
        model_type: "t5".into(),
        family: Family::T5,
        d_model: 1024,
        d_ff: 4096,
        d_kv: 64,
        heads: 16,
        encoder_layers: 24,
        decoder_layers: 24,
        gated_ffn: false,
        linear_biases: false,
        vocab: 32128,
        backbone_params: 737_668_096,
    }
}

/// BERT-base: 12 blocks, hidden 768, FFN 3072, 12 heads of 64; 109,482,240
/// parameters with the pooler.
pub fn bert_base() -> BackboneShape {
    BackboneShape {
        model_type: "bert".into(),
        family: Family::Encoder,
        d_model: 768,
        d_ff: 3072,
        d_kv: 64,
        heads: 12,
        encoder_layers: 12,
        decoder_layers: 0,
        gated_ffn: false,
        linear_biases: true,
        vocab: 30522,
        backbone_params: 109_482_240,
    }
}

/// The tiny T5 of the reference fixture: 2 + 2 blocks, d_model 16, d_ff 32, 4 heads of 4.
pub fn t5_tiny(gated: bool) -> BackboneShape {
    BackboneShape {
        model_type: "t5".into(),
        family: Family::T5,
        d_model: 16,
        d_ff: 32,
        d_kv: 4,
        heads: 4,
        encoder_layers: 2,
        decoder_layers: 2,
        gated_ffn: gated,
        linear_biases: false,
        vocab: 64,
        backbone_params: 0,
    }
}

/// The tiny BERT of the reference fixture: 2 blocks, hidden 16, FFN 32, 4 heads.
pub fn bert_tiny() -> BackboneShape {
    BackboneShape {
        model_type: "bert".into(),
        family: Family::Encoder,
        d_model: 16,
        d_ff: 32,
        d_kv: 4,
        heads: 4,
        encoder_layers: 2,
        decoder_layers: 0,
        gated_ffn: false,
        linear_biases: true,
        vocab: 64,
        backbone_params: 0,
    }
}
