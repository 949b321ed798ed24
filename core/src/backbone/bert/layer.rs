//! One post-LN encoder block (`BertLayer`): attention, then FFN, each followed by
//! residual + LayerNorm.

use burn::module::Module;
use burn::tensor::{backend::Backend, Tensor};

use super::attention::BertAttention;
use super::config::BertConfig;
use super::ffn::BertFfn;
use crate::backbone::hooks::Hooks;

/// `encoder.layer.{i}`.
#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    pub attention: BertAttention<B>,
    pub ffn: BertFfn<B>,
}

impl<B: Backend> BertLayer<B> {
    /// Randomly initialised, as transformers does.
    pub fn init(config: &BertConfig, device: &B::Device) -> Self {
        BertLayer {
            attention: BertAttention::init(config, device),
            ffn: BertFfn::init(config, device),
        }
    }

    /// # Shapes
    /// - hidden: `[batch, seq, hidden]`, mask_bias: `[batch, 1, 1, seq]`
    /// - output: `[batch, seq, hidden]`
    pub fn forward<H: Hooks<B> + ?Sized>(
        &self,
        hidden: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        layer: usize,
        hooks: &H,
    ) -> Tensor<B, 3> {
        let attended = self.attention.forward(hidden, mask_bias, layer, hooks);
        self.ffn.forward(attended, layer, hooks)
    }
}
