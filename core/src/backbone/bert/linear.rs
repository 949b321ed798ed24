//! Freshly initialised parameters the way transformers' BERT `_init_weights`
//! makes them: weights from N(0, initializer_range), biases zero.
//!
//! The tensors are drawn at once rather than through burn's lazy `Initializer`:
//! a lazily initialised `Param` that is cloned before first use draws again in
//! each clone, so a cloned fresh model would not equal its original.

use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::tensor::{backend::Backend, Distribution, Tensor};

/// A `[rows, cols]` tensor from N(0, std).
fn normal<B: Backend>(shape: [usize; 2], std: f64, device: &B::Device) -> Tensor<B, 2> {
    Tensor::random(shape, Distribution::Normal(0.0, std), device)
}

/// A `d_in → d_out` linear with bias (burn layout: weight `[d_in, d_out]`).
pub(crate) fn init_linear<B: Backend>(
    d_in: usize,
    d_out: usize,
    std: f64,
    device: &B::Device,
) -> Linear<B> {
    Linear {
        weight: Param::from_tensor(normal([d_in, d_out], std, device)),
        bias: Some(Param::from_tensor(Tensor::zeros([d_out], device))),
    }
}

/// A `[rows, width]` embedding table.
pub(crate) fn init_embedding<B: Backend>(
    rows: usize,
    width: usize,
    std: f64,
    device: &B::Device,
) -> Embedding<B> {
    Embedding {
        weight: Param::from_tensor(normal([rows, width], std, device)),
    }
}
