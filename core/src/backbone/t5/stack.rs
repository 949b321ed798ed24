//! A T5 stack (`T5Stack`): the encoder or the decoder — blocks, then a final
//! norm. Block 0 computes the relative position bias once; every block adds
//! the same bias (plus masks) to its self-attention scores.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use super::block::{CrossInput, T5Block, T5BlockConfig};
use super::config::FeedForward;
use super::norm::{T5LayerNorm, T5LayerNormConfig};
use crate::backbone::{Hooks, Point, Site, Stack};

/// What a masked score gets added. Large enough that `exp` gives exactly 0
/// next to any real score, small enough that adding two masks stays finite.
pub const MASK_VALUE: f32 = -1.0e9;

/// Shape of a [`T5Stack`].
#[derive(Config, Debug)]
pub struct T5StackConfig {
    pub num_layers: usize,
    pub d_model: usize,
    pub d_kv: usize,
    pub d_ff: usize,
    pub num_heads: usize,
    pub feed_forward: FeedForward,
    pub layer_norm_epsilon: f64,
    pub num_buckets: usize,
    pub max_distance: usize,
    pub is_decoder: bool,
}

impl T5StackConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> T5Stack<B> {
        let block = (0..self.num_layers)
            .map(|layer| {
                T5BlockConfig::new(
                    self.d_model,
                    self.d_kv,
                    self.d_ff,
                    self.num_heads,
                    self.feed_forward,
                    self.layer_norm_epsilon,
                    self.is_decoder,
                    layer == 0,
                    self.num_buckets,
                    self.max_distance,
                )
                .init(device)
            })
            .collect();
        T5Stack {
            block,
            final_layer_norm: T5LayerNormConfig::new(self.d_model)
                .with_epsilon(self.layer_norm_epsilon)
                .init(device),
            stack: if self.is_decoder {
                Stack::Decoder
            } else {
                Stack::Encoder
            },
        }
    }
}

/// `encoder` or `decoder`: `block.{i}` and `final_layer_norm`.
#[derive(Module, Debug)]
pub struct T5Stack<B: Backend> {
    pub block: Vec<T5Block<B>>,
    pub final_layer_norm: T5LayerNorm<B>,
    #[module(skip)]
    pub stack: Stack,
}

impl<B: Backend> T5Stack<B> {
    /// Runs the blocks and the final norm over embedded tokens. `mask_bias` is
    /// the additive self-attention mask (padding in the encoder, causal in the
    /// decoder); the position bias is added here.
    ///
    /// # Shapes
    /// - embeddings: `[batch, len, d_model]`
    /// - mask_bias: broadcastable to `[batch, heads, len, len]`
    /// - output: `[batch, len, d_model]`
    pub fn forward<H: Hooks<B>>(
        &self,
        embeddings: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        cross: Option<&CrossInput<B>>,
        hooks: &H,
    ) -> Tensor<B, 3> {
        let [_, len, _] = embeddings.dims();
        let position_bias = self
            .block
            .first()
            .and_then(|block| block.self_attention.position_bias(len, len));
        let bias = match position_bias {
            Some(position_bias) => position_bias + mask_bias,
            None => mask_bias,
        };
        let mut hidden = embeddings;
        for (layer, block) in self.block.iter().enumerate() {
            hidden = block.forward(hidden, bias.clone(), cross, self.stack, layer, hooks);
        }
        let site = Site::new(self.stack, self.block.len(), Point::FinalNorm);
        self.final_layer_norm.forward(hidden, site, hooks)
    }
}

/// The additive mask of padded keys: 0 where `mask` is non-zero, [`MASK_VALUE`] where it is 0.
///
/// # Shapes
/// - mask: `[batch, len]` (1 = token, 0 = padding)
/// - output: `[batch, 1, 1, len]`
pub fn padding_bias<B: Backend>(mask: Tensor<B, 2, Int>) -> Tensor<B, 4> {
    let [batch, len] = mask.dims();
    (mask.equal_elem(0).float() * MASK_VALUE).reshape([batch, 1, 1, len])
}

/// The additive causal mask: query `i` sees keys `0..=i`.
///
/// # Shapes
/// - output: `[1, 1, len, len]`
pub fn causal_bias<B: Backend>(len: usize, device: &B::Device) -> Tensor<B, 4> {
    let values: Vec<f32> = (0..len)
        .flat_map(|query| (0..len).map(move |key| if key > query { MASK_VALUE } else { 0.0 }))
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 1, len, len]), device)
}
