//! Multi-head self-attention with its output projection, residual and LayerNorm
//! (`BertAttention` = `BertSelfAttention` + `BertSelfOutput` in transformers,
//! eager path: `softmax(q kᵀ / sqrt(d_head) + mask) v`).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor};

use super::config::BertConfig;
use super::layer_norm::{BertLayerNorm, BertLayerNormConfig};
use super::linear::init_linear;
use crate::backbone::hooks::{Hooks, Point, Site, Stack};
use crate::flat::linear3;
use crate::kernels::{masked_softmax, matmul, merge_heads, split_heads};

/// One block's attention sub-layer.
#[derive(Module, Debug)]
pub struct BertAttention<B: Backend> {
    /// `attention.self.query`
    pub query: Linear<B>,
    /// `attention.self.key`
    pub key: Linear<B>,
    /// `attention.self.value`
    pub value: Linear<B>,
    /// `attention.output.dense`
    pub output: Linear<B>,
    /// `attention.output.LayerNorm`
    pub norm: BertLayerNorm<B>,
    #[module(skip)]
    pub num_heads: usize,
}

impl<B: Backend> BertAttention<B> {
    /// Randomly initialised, as transformers does.
    pub fn init(config: &BertConfig, device: &B::Device) -> Self {
        let h = config.hidden_size;
        let std = config.initializer_range;
        BertAttention {
            query: init_linear(h, h, std, device),
            key: init_linear(h, h, std, device),
            value: init_linear(h, h, std, device),
            output: init_linear(h, h, std, device),
            norm: BertLayerNormConfig::new(h)
                .with_epsilon(config.layer_norm_eps)
                .init(device),
            num_heads: config.num_attention_heads,
        }
    }

    /// # Shapes
    /// - hidden: `[batch, seq, hidden]` (the block's input)
    /// - mask_bias: `[batch, 1, 1, seq]`, 0 for tokens and a large negative
    ///   number for padding (see [`super::model::attention_mask_bias`])
    /// - output: `[batch, seq, hidden]`
    pub fn forward<H: Hooks<B> + ?Sized>(
        &self,
        hidden: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        layer: usize,
        hooks: &H,
    ) -> Tensor<B, 3> {
        let site = |point| Site::new(Stack::Encoder, layer, point);
        let d_head = hidden.dims()[2] / self.num_heads;
        let heads = |x: Tensor<B, 3>| split_heads(x, self.num_heads);

        let q = hooks.linear(
            site(Point::Query),
            &hidden,
            linear3(&self.query, hidden.clone()),
        );
        let k = hooks.linear(
            site(Point::Key),
            &hidden,
            linear3(&self.key, hidden.clone()),
        );
        let v = hooks.linear(
            site(Point::Value),
            &hidden,
            linear3(&self.value, hidden.clone()),
        );

        // Scaling q rather than the scores (as transformers does) is the same
        // product, and hands prefix-tuning the query as it enters q kᵀ.
        // (Scaled before the split into heads: one pass over contiguous memory.)
        let q = heads(q.mul_scalar((d_head as f64).powf(-0.5)));
        let scores = matmul(q.clone(), heads(k).swap_dims(2, 3));
        let context = matmul(masked_softmax(scores, mask_bias), heads(v));
        let context = hooks.attention(site(Point::Attention), &q, context);
        let merged = merge_heads(context);

        let out = hooks.linear(
            site(Point::AttnOutput),
            &merged,
            linear3(&self.output, merged.clone()),
        );
        let out = hooks.sublayer(site(Point::AttnSublayer), &hidden, out);
        self.norm
            .forward(out + hidden, site(Point::AttnNorm), hooks)
    }
}
