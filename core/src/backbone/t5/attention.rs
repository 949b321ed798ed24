//! T5 multi-head attention: self-attention (`SelfAttention`) and the decoder's
//! attention over the encoder output (`EncDecAttention`).
//!
//! Unlike most transformers, T5 does NOT scale the scores by `1/sqrt(d_kv)`
//! (transformers: `self.scaling = 1.0` in `T5Attention`; the scale is folded
//! into the initialisation of `q`). Positions enter only through the
//! additive bias, which also carries the masks.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{backend::Backend, Tensor};

use super::position_bias::{RelativePositionBias, RelativePositionBiasConfig};
use crate::backbone::{Hooks, Point, Site, Stack};
use crate::flat::linear3;
use crate::kernels::{matmul, merge_heads, split_heads};

/// Which attention of a block: it decides the hook points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionKind {
    /// `layer.0.SelfAttention`: points `Query … AttnOutput`, and `Attention`.
    SelfAttention,
    /// `layer.1.EncDecAttention`: points `CrossQuery … CrossOutput`.
    Cross,
}

impl AttentionKind {
    fn points(self) -> [Point; 4] {
        match self {
            AttentionKind::SelfAttention => {
                [Point::Query, Point::Key, Point::Value, Point::AttnOutput]
            }
            AttentionKind::Cross => [
                Point::CrossQuery,
                Point::CrossKey,
                Point::CrossValue,
                Point::CrossOutput,
            ],
        }
    }
}

/// Shape of a [`T5Attention`].
#[derive(Config, Debug)]
pub struct T5AttentionConfig {
    pub d_model: usize,
    pub d_kv: usize,
    pub num_heads: usize,
    /// Only the first self-attention of a stack owns the relative position
    /// bias; the other blocks reuse what it computed.
    #[config(default = false)]
    pub has_relative_attention_bias: bool,
    #[config(default = 32)]
    pub num_buckets: usize,
    #[config(default = 128)]
    pub max_distance: usize,
    /// Bidirectional buckets (encoder) or causal ones (decoder).
    #[config(default = true)]
    pub bidirectional: bool,
}

impl T5AttentionConfig {
    /// Fresh weights (burn's default initialisers; tests and `init_random` only).
    pub fn init<B: Backend>(&self, device: &B::Device) -> T5Attention<B> {
        let inner = self.num_heads * self.d_kv;
        let linear = |d_in, d_out| LinearConfig::new(d_in, d_out).with_bias(false).init(device);
        T5Attention {
            q: linear(self.d_model, inner),
            k: linear(self.d_model, inner),
            v: linear(self.d_model, inner),
            o: linear(inner, self.d_model),
            relative_attention_bias: self.has_relative_attention_bias.then(|| {
                RelativePositionBiasConfig::new(self.num_heads)
                    .with_num_buckets(self.num_buckets)
                    .with_max_distance(self.max_distance)
                    .with_bidirectional(self.bidirectional)
                    .init(device)
            }),
            num_heads: self.num_heads,
            d_kv: self.d_kv,
        }
    }
}

/// `q`, `k`, `v`, `o` without biases, and (block 0) the relative position bias.
#[derive(Module, Debug)]
pub struct T5Attention<B: Backend> {
    /// `[d_model, heads·d_kv]` (burn layout: `[in, out]`)
    pub q: Linear<B>,
    pub k: Linear<B>,
    pub v: Linear<B>,
    /// `[heads·d_kv, d_model]`
    pub o: Linear<B>,
    pub relative_attention_bias: Option<RelativePositionBias<B>>,
    pub num_heads: usize,
    pub d_kv: usize,
}

impl<B: Backend> T5Attention<B> {
    /// Attends from `hidden` to `key_value` (`hidden` itself for self-attention).
    /// `bias` (position bias plus masks, additive) broadcasts to the scores.
    ///
    /// # Shapes
    /// - hidden: `[batch, q_len, d_model]`
    /// - key_value: `[batch, k_len, d_model]`
    /// - bias: `[1 or batch, 1 or heads, q_len or 1, k_len]`
    /// - output: `[batch, q_len, d_model]`
    #[allow(clippy::too_many_arguments)]
    pub fn forward<H: Hooks<B>>(
        &self,
        hidden: Tensor<B, 3>,
        key_value: Tensor<B, 3>,
        bias: Tensor<B, 4>,
        kind: AttentionKind,
        stack: Stack,
        layer: usize,
        hooks: &H,
    ) -> Tensor<B, 3> {
        let [q_point, k_point, v_point, o_point] = kind.points();
        let site = |point| Site::new(stack, layer, point);
        let query = hooks.linear(site(q_point), &hidden, linear3(&self.q, hidden.clone()));
        let key = hooks.linear(
            site(k_point),
            &key_value,
            linear3(&self.k, key_value.clone()),
        );
        let value = hooks.linear(
            site(v_point),
            &key_value,
            linear3(&self.v, key_value.clone()),
        );
        let (query, key, value) = (
            split_heads(query, self.num_heads),
            split_heads(key, self.num_heads),
            split_heads(value, self.num_heads),
        );

        // No 1/sqrt(d_kv): see the module doc.
        let scores = matmul(query.clone(), key.swap_dims(2, 3)) + bias;
        let context = matmul(softmax(scores, 3), value);
        let context = match kind {
            AttentionKind::SelfAttention => {
                hooks.attention(site(Point::Attention), &query, context)
            }
            AttentionKind::Cross => context,
        };

        let merged = merge_heads(context);
        hooks.linear(site(o_point), &merged, linear3(&self.o, merged.clone()))
    }

    /// The relative position bias of this (first) block, if it owns one.
    ///
    /// # Shapes
    /// - output: `[1, heads, q_len, k_len]`
    pub fn position_bias(&self, q_len: usize, k_len: usize) -> Option<Tensor<B, 4>> {
        self.relative_attention_bias
            .as_ref()
            .map(|bias| bias.forward(q_len, k_len))
    }
}
