//! Extension points of a backbone's forward pass.
//!
//! Backbones know nothing about PEFT (as in Hugging Face `peft`, where model code
//! is never edited). Instead their forward passes call a [`Hooks`] value at a
//! fixed set of [`Site`]s: after every frozen linear, beside every norm, after
//! every sub-layer and inside self-attention. The plain backbone passes
//! [`NoHooks`]; the supernet (and a discrete PEFT model) implements [`Hooks`] to
//! add LoRA deltas, biases, scales, adapters and prefixes, each at its slot.

use burn::tensor::{backend::Backend, Tensor};

/// Which stack of the backbone a site belongs to. Encoder-only models use
/// [`Stack::Encoder`] only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Stack {
    Encoder,
    Decoder,
}

/// A place inside one block (or at the end of a stack) where a hook fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Point {
    // Linears of self-attention: T5 `q k v o`, BERT `query key value attention.output.dense`.
    Query,
    Key,
    Value,
    AttnOutput,
    // Linears of cross-attention (T5 decoder `EncDecAttention`).
    CrossQuery,
    CrossKey,
    CrossValue,
    CrossOutput,
    // Linears of the FFN: `wi` (or `wi_0`) / BERT `intermediate.dense`,
    // `wi_1` (the gate of gated-GELU FFNs), `wo` / BERT `output.dense`.
    FfnIn,
    FfnGate,
    FfnOut,
    // Norms: the one in front of (T5) or behind (BERT) each sub-layer,
    // the final norm of a T5 stack, and BERT's embedding LayerNorm.
    AttnNorm,
    CrossAttnNorm,
    FfnNorm,
    FinalNorm,
    EmbeddingNorm,
    // Self-attention context per head, for prefix-tuning.
    Attention,
    // Whole sub-layers, for sequential and parallel adapters.
    AttnSublayer,
    CrossAttnSublayer,
    FfnSublayer,
}

/// One hook site: stack, block index and point. For [`Point::FinalNorm`] the
/// layer is the number of blocks of the stack; for [`Point::EmbeddingNorm`] 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Site {
    pub stack: Stack,
    pub layer: usize,
    pub point: Point,
}

impl Site {
    pub fn new(stack: Stack, layer: usize, point: Point) -> Self {
        Site { stack, layer, point }
    }
}

/// Callbacks a backbone's forward pass makes. Every method defaults to "no change".
pub trait Hooks<B: Backend> {
    /// After a frozen linear: `input` is what entered it, `output` what it returned.
    ///
    /// # Shapes
    /// - input: `[batch, seq, d_in]`, output: `[batch, seq, d_out]`
    fn linear(&self, site: Site, input: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        let _ = (site, input);
        output
    }

    /// Beside a norm: `normalized` is the input after normalisation and before the
    /// learned scale (T5: `x / rms(x)`, BERT: `(x - mean) / std`); `output` is the
    /// norm's output.
    fn norm(&self, site: Site, normalized: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        let _ = (site, normalized);
        output
    }

    /// After a sub-layer, before the residual addition: `input` is what entered
    /// the sub-layer (T5: the normed hidden state), `output` what it produced.
    fn sublayer(&self, site: Site, input: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        let _ = (site, input);
        output
    }

    /// Inside self-attention, after the per-head context `softmax(q kᵀ + bias) v`
    /// and before the heads are merged. `query` is as it entered `q kᵀ`
    /// (already scaled where the model scales it).
    ///
    /// # Shapes
    /// - query, context: `[batch, heads, seq, d_head]`
    fn attention(&self, site: Site, query: &Tensor<B, 4>, context: Tensor<B, 4>) -> Tensor<B, 4> {
        let _ = (site, query);
        context
    }
}

/// The plain backbone: no hook changes anything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl<B: Backend> Hooks<B> for NoHooks {}
