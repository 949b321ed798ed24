//! The sizes of a backbone that a search space is computed from.
//!
//! A catalogue of PEFT slots needs only widths and layer counts, never weights,
//! so the spaces of T5-large can be listed on a laptop. The backbones convert
//! their own configs into a [`BackboneShape`].

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which architecture family a backbone belongs to; it decides which hook
/// sites exist (T5 has a decoder with cross-attention and final norms, BERT-like
/// encoders have an embedding LayerNorm and post-norm blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// T5 encoder–decoder (original, v1.1, FLAN).
    T5,
    /// BERT-family encoder (BERT, MiniLM, RoBERTa).
    Encoder,
}

/// Widths and depths of a backbone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackboneShape {
    /// The checkpoint's `model_type` (`t5`, `bert`, `roberta`, ...), for display
    /// and for the configuration file.
    pub model_type: String,
    pub family: Family,
    /// Hidden width (T5 `d_model`, BERT `hidden_size`).
    pub d_model: usize,
    /// FFN inner width (T5 `d_ff`, BERT `intermediate_size`).
    pub d_ff: usize,
    /// Width of one attention head (T5 `d_kv`, BERT `hidden_size / heads`).
    pub d_kv: usize,
    pub heads: usize,
    pub encoder_layers: usize,
    /// 0 for encoder-only models.
    pub decoder_layers: usize,
    /// Gated FFN (T5 v1.1 `wi_0`/`wi_1`): adds the [`FfnGate`](crate::backbone::Point::FfnGate) linear.
    pub gated_ffn: bool,
    /// Whether the frozen linears carry biases (BERT yes, T5 no).
    pub linear_biases: bool,
    pub vocab: usize,
    /// Parameters of the whole backbone, for budgets given as a fraction.
    pub backbone_params: u64,
}

impl BackboneShape {
    /// Width of the concatenated attention heads (`heads · d_kv`); T5 calls it `inner_dim`.
    pub fn inner_dim(&self) -> usize {
        self.heads * self.d_kv
    }

    /// Blocks of a stack.
    pub fn layers(&self, stack: crate::backbone::hooks::Stack) -> usize {
        match stack {
            crate::backbone::hooks::Stack::Encoder => self.encoder_layers,
            crate::backbone::hooks::Stack::Decoder => self.decoder_layers,
        }
    }

    /// Checks that every size is usable; names the first field that is not.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("d_model", self.d_model),
            ("d_ff", self.d_ff),
            ("d_kv", self.d_kv),
            ("heads", self.heads),
            ("encoder_layers", self.encoder_layers),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(Error::InvalidInput(format!(
                    "backbone shape of `{}`: {field} must be positive",
                    self.model_type
                )));
            }
        }
        if self.family == Family::Encoder && self.decoder_layers != 0 {
            return Err(Error::InvalidInput(format!(
                "backbone shape of `{}`: an encoder-only model has no decoder layers (found {})",
                self.model_type, self.decoder_layers
            )));
        }
        Ok(())
    }
}
