//! Hook sites ↔ Hugging Face module paths of a T5 checkpoint
//! (`encoder.block.3.layer.0.SelfAttention.q`, `decoder.final_layer_norm`, …).
//! PEFT slot names, and the keys of exported adapters, are built from these.

use super::config::T5Config;
use crate::backbone::{Point, Site, Stack};

fn stack_name(stack: Stack) -> &'static str {
    match stack {
        Stack::Encoder => "encoder",
        Stack::Decoder => "decoder",
    }
}

/// Index of the FFN sub-layer inside a block: 1 in the encoder, 2 in the
/// decoder (whose `layer.1` is the cross-attention).
fn ffn_layer(stack: Stack) -> usize {
    match stack {
        Stack::Encoder => 1,
        Stack::Decoder => 2,
    }
}

/// The module path of a site in the Hugging Face checkpoint: the linear, norm
/// or sub-layer module the hook stands beside.
///
/// - linears: `…layer.0.SelfAttention.{q,k,v,o}`, `…layer.1.EncDecAttention.{q,k,v,o}`,
///   `…layer.{1|2}.DenseReluDense.{wi|wi_0, wi_1, wo}`
/// - norms: `…layer.{0|1|2}.layer_norm`, `{stack}.final_layer_norm`
/// - sub-layers: `…layer.{0|1|2}`; attention context: `…layer.0.SelfAttention`
///
/// Sites T5 does not have ([`Point::EmbeddingNorm`], cross-attention or a
/// gate in a stack without one) get a name that matches no module,
/// `{stack}.block.{i}.<no {point:?} in this T5>`; [`all_sites`] never lists them.
pub fn site_name(site: Site, config: &T5Config) -> String {
    let stack = stack_name(site.stack);
    let block = format!("{stack}.block.{}", site.layer);
    let ffn = format!("{block}.layer.{}", ffn_layer(site.stack));
    let gated = config.feed_forward().gated;
    let has_cross = site.stack == Stack::Decoder;
    match site.point {
        Point::Query => format!("{block}.layer.0.SelfAttention.q"),
        Point::Key => format!("{block}.layer.0.SelfAttention.k"),
        Point::Value => format!("{block}.layer.0.SelfAttention.v"),
        Point::AttnOutput => format!("{block}.layer.0.SelfAttention.o"),
        Point::Attention => format!("{block}.layer.0.SelfAttention"),
        Point::AttnNorm => format!("{block}.layer.0.layer_norm"),
        Point::AttnSublayer => format!("{block}.layer.0"),
        Point::CrossQuery if has_cross => format!("{block}.layer.1.EncDecAttention.q"),
        Point::CrossKey if has_cross => format!("{block}.layer.1.EncDecAttention.k"),
        Point::CrossValue if has_cross => format!("{block}.layer.1.EncDecAttention.v"),
        Point::CrossOutput if has_cross => format!("{block}.layer.1.EncDecAttention.o"),
        Point::CrossAttnNorm if has_cross => format!("{block}.layer.1.layer_norm"),
        Point::CrossAttnSublayer if has_cross => format!("{block}.layer.1"),
        Point::FfnIn if gated => format!("{ffn}.DenseReluDense.wi_0"),
        Point::FfnIn => format!("{ffn}.DenseReluDense.wi"),
        Point::FfnGate if gated => format!("{ffn}.DenseReluDense.wi_1"),
        Point::FfnOut => format!("{ffn}.DenseReluDense.wo"),
        Point::FfnNorm => format!("{ffn}.layer_norm"),
        Point::FfnSublayer => ffn,
        Point::FinalNorm => format!("{stack}.final_layer_norm"),
        point => format!("{block}.<no {point:?} in this T5>"),
    }
}

/// Every site a forward pass of this T5 fires a hook at, encoder first, in
/// the order the hooks fire within a block.
pub fn all_sites(config: &T5Config) -> Vec<Site> {
    let gated = config.feed_forward().gated;
    let mut sites = Vec::new();
    for stack in [Stack::Encoder, Stack::Decoder] {
        let blocks = config.num_blocks(stack);
        for layer in 0..blocks {
            let mut points = vec![
                Point::AttnNorm,
                Point::Query,
                Point::Key,
                Point::Value,
                Point::Attention,
                Point::AttnOutput,
                Point::AttnSublayer,
            ];
            if stack == Stack::Decoder {
                points.extend([
                    Point::CrossAttnNorm,
                    Point::CrossQuery,
                    Point::CrossKey,
                    Point::CrossValue,
                    Point::CrossOutput,
                    Point::CrossAttnSublayer,
                ]);
            }
            points.extend([Point::FfnNorm, Point::FfnIn]);
            if gated {
                points.push(Point::FfnGate);
            }
            points.extend([Point::FfnOut, Point::FfnSublayer]);
            sites.extend(
                points
                    .into_iter()
                    .map(|point| Site::new(stack, layer, point)),
            );
        }
        sites.push(Site::new(stack, blocks, Point::FinalNorm));
    }
    sites
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ffn: &str) -> T5Config {
        T5Config::from_json(&format!(
            r#"{{"vocab_size": 10, "d_model": 4, "d_kv": 2, "d_ff": 8, "num_layers": 4,
                "num_decoder_layers": 2, "num_heads": 2, "feed_forward_proj": "{ffn}"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn names_follow_the_checkpoint() {
        let relu = config("relu");
        let gated = config("gated-gelu");
        let name = |c: &T5Config, stack, layer, point| site_name(Site::new(stack, layer, point), c);
        use Point::*;
        use Stack::*;
        assert_eq!(
            name(&relu, Encoder, 3, Query),
            "encoder.block.3.layer.0.SelfAttention.q"
        );
        assert_eq!(
            name(&relu, Decoder, 1, CrossKey),
            "decoder.block.1.layer.1.EncDecAttention.k"
        );
        assert_eq!(
            name(&gated, Encoder, 2, FfnIn),
            "encoder.block.2.layer.1.DenseReluDense.wi_0"
        );
        assert_eq!(
            name(&gated, Decoder, 0, FfnGate),
            "decoder.block.0.layer.2.DenseReluDense.wi_1"
        );
        assert_eq!(
            name(&relu, Encoder, 2, FfnIn),
            "encoder.block.2.layer.1.DenseReluDense.wi"
        );
        assert_eq!(
            name(&relu, Decoder, 1, FfnOut),
            "decoder.block.1.layer.2.DenseReluDense.wo"
        );
        assert_eq!(
            name(&relu, Encoder, 0, AttnNorm),
            "encoder.block.0.layer.0.layer_norm"
        );
        assert_eq!(
            name(&relu, Decoder, 1, CrossAttnNorm),
            "decoder.block.1.layer.1.layer_norm"
        );
        assert_eq!(
            name(&relu, Decoder, 1, FfnNorm),
            "decoder.block.1.layer.2.layer_norm"
        );
        assert_eq!(
            name(&relu, Encoder, 1, FfnNorm),
            "encoder.block.1.layer.1.layer_norm"
        );
        assert_eq!(
            name(&relu, Decoder, 2, FinalNorm),
            "decoder.final_layer_norm"
        );
        assert_eq!(
            name(&relu, Encoder, 1, AttnSublayer),
            "encoder.block.1.layer.0"
        );
        assert_eq!(
            name(&relu, Decoder, 0, CrossAttnSublayer),
            "decoder.block.0.layer.1"
        );
        assert_eq!(
            name(&relu, Decoder, 0, FfnSublayer),
            "decoder.block.0.layer.2"
        );
        assert_eq!(
            name(&relu, Encoder, 0, Attention),
            "encoder.block.0.layer.0.SelfAttention"
        );
        assert!(name(&relu, Encoder, 0, CrossQuery).contains("<no CrossQuery"));
        assert!(name(&relu, Encoder, 0, FfnGate).contains("<no FfnGate"));
        assert!(name(&relu, Encoder, 0, EmbeddingNorm).contains("<no EmbeddingNorm"));
    }

    #[test]
    fn all_sites_have_distinct_real_names() {
        for c in [config("relu"), config("gated-gelu")] {
            let sites = all_sites(&c);
            let per_encoder_block = if c.feed_forward().gated { 12 } else { 11 };
            let per_decoder_block = per_encoder_block + 6;
            assert_eq!(
                sites.len(),
                4 * per_encoder_block + 2 * per_decoder_block + 2
            );
            let mut names: Vec<String> = sites.iter().map(|&s| site_name(s, &c)).collect();
            assert!(names.iter().all(|n| !n.contains('<')));
            names.sort();
            names.dedup();
            assert_eq!(names.len(), sites.len());
        }
    }
}
