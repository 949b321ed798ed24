//! One T5 block (`T5Block`): pre-norm sub-layers with residual additions —
//! self-attention, (decoder only) cross-attention, feed-forward.
//!
//! Hook sites per sub-layer: the norm (`AttnNorm` / `CrossAttnNorm` /
//! `FfnNorm`), the linears inside, and the whole sub-layer (`AttnSublayer` /
//! `CrossAttnSublayer` / `FfnSublayer`: input = the normed hidden state going
//! in, output = what the sub-layer adds to the residual stream).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{backend::Backend, Tensor};

use super::attention::{AttentionKind, T5Attention, T5AttentionConfig};
use super::config::FeedForward;
use super::ffn::{T5Ffn, T5FfnConfig};
use super::norm::{T5LayerNorm, T5LayerNormConfig};
use crate::backbone::{Hooks, Point, Site, Stack};

/// Shape of a [`T5Block`].
#[derive(Config, Debug)]
pub struct T5BlockConfig {
    pub d_model: usize,
    pub d_kv: usize,
    pub d_ff: usize,
    pub num_heads: usize,
    pub feed_forward: FeedForward,
    pub layer_norm_epsilon: f64,
    /// Decoder blocks attend to the encoder output and use causal buckets.
    pub is_decoder: bool,
    /// Block 0 of a stack owns the relative position bias.
    pub has_relative_attention_bias: bool,
    pub num_buckets: usize,
    pub max_distance: usize,
}

impl T5BlockConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> T5Block<B> {
        let norm = || {
            T5LayerNormConfig::new(self.d_model)
                .with_epsilon(self.layer_norm_epsilon)
                .init(device)
        };
        let attention = |relative_bias: bool| {
            T5AttentionConfig::new(self.d_model, self.d_kv, self.num_heads)
                .with_has_relative_attention_bias(relative_bias)
                .with_num_buckets(self.num_buckets)
                .with_max_distance(self.max_distance)
                .with_bidirectional(!self.is_decoder)
                .init(device)
        };
        T5Block {
            self_attention: attention(self.has_relative_attention_bias),
            self_attention_norm: norm(),
            cross_attention: self.is_decoder.then(|| attention(false)),
            cross_attention_norm: self.is_decoder.then(norm),
            ffn: T5FfnConfig::new(self.d_model, self.d_ff, self.feed_forward).init(device),
            ffn_norm: norm(),
        }
    }
}

/// `layer.0` (self-attention), `layer.1` (cross-attention, decoder), and
/// `layer.1` / `layer.2` (FFN), each with its own `layer_norm`.
#[derive(Module, Debug)]
pub struct T5Block<B: Backend> {
    pub self_attention: T5Attention<B>,
    pub self_attention_norm: T5LayerNorm<B>,
    pub cross_attention: Option<T5Attention<B>>,
    pub cross_attention_norm: Option<T5LayerNorm<B>>,
    pub ffn: T5Ffn<B>,
    pub ffn_norm: T5LayerNorm<B>,
}

/// What a decoder block attends to: the encoder output and its additive mask.
pub struct CrossInput<B: Backend> {
    /// `[batch, src_len, d_model]`
    pub states: Tensor<B, 3>,
    /// `[batch, 1, 1, src_len]`
    pub bias: Tensor<B, 4>,
}

impl<B: Backend> T5Block<B> {
    /// # Shapes
    /// - hidden: `[batch, len, d_model]`
    /// - self_bias: broadcastable to `[batch, heads, len, len]`
    /// - output: `[batch, len, d_model]`
    pub fn forward<H: Hooks<B>>(
        &self,
        hidden: Tensor<B, 3>,
        self_bias: Tensor<B, 4>,
        cross: Option<&CrossInput<B>>,
        stack: Stack,
        layer: usize,
        hooks: &H,
    ) -> Tensor<B, 3> {
        let site = |point| Site::new(stack, layer, point);

        let normed = self
            .self_attention_norm
            .forward(hidden.clone(), site(Point::AttnNorm), hooks);
        let out = self.self_attention.forward(
            normed.clone(),
            normed.clone(),
            self_bias,
            AttentionKind::SelfAttention,
            stack,
            layer,
            hooks,
        );
        let mut hidden = hidden + hooks.sublayer(site(Point::AttnSublayer), &normed, out);

        if let (Some(attention), Some(norm), Some(cross)) =
            (&self.cross_attention, &self.cross_attention_norm, cross)
        {
            let normed = norm.forward(hidden.clone(), site(Point::CrossAttnNorm), hooks);
            let out = attention.forward(
                normed.clone(),
                cross.states.clone(),
                cross.bias.clone(),
                AttentionKind::Cross,
                stack,
                layer,
                hooks,
            );
            hidden = hidden + hooks.sublayer(site(Point::CrossAttnSublayer), &normed, out);
        }

        let normed = self
            .ffn_norm
            .forward(hidden.clone(), site(Point::FfnNorm), hooks);
        let out = self.ffn.forward(normed.clone(), stack, layer, hooks);
        hidden + hooks.sublayer(site(Point::FfnSublayer), &normed, out)
    }
}
