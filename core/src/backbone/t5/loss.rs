//! Token-level cross-entropy for text-to-text training, ignoring padded label
//! positions: transformers' `CrossEntropyLoss(ignore_index=-100)` over the
//! flattened logits.

use burn::tensor::activation::log_softmax;
use burn::tensor::{backend::Backend, Int, Tensor};

/// Mean negative log-likelihood of `targets` over the positions where `mask`
/// is 1. With no such position the loss is 0 (torch gives NaN; a training
/// step on an all-padding batch should not poison the weights).
///
/// # Shapes
/// - logits: `[batch, len, vocab]`
/// - targets: `[batch, len]` (any value where `mask` is 0)
/// - mask: `[batch, len]` (1 = counts, 0 = ignored)
/// - output: `[1]`
pub fn masked_cross_entropy<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    mask: Tensor<B, 2>,
) -> Tensor<B, 1> {
    let [batch, len, vocab] = logits.dims();
    // Ignored positions may hold -100 or ids ≥ vocab: gather a valid one, then mask.
    let safe = targets.clamp(0, vocab as i64 - 1).reshape([batch, len, 1]);
    let picked = log_softmax(logits, 2).gather(2, safe).reshape([batch, len]);
    let count = mask.clone().sum().clamp_min(1.0);
    (picked * mask).sum().neg() / count
}

/// transformers' seq2seq loss: labels equal to `-100` (any negative) are ignored.
///
/// # Shapes
/// - logits: `[batch, len, vocab]`
/// - labels: `[batch, len]`
/// - output: `[1]`
pub fn seq2seq_loss<B: Backend>(logits: Tensor<B, 3>, labels: Tensor<B, 2, Int>) -> Tensor<B, 1> {
    let mask = labels.clone().greater_equal_elem(0).float();
    masked_cross_entropy(logits, labels, mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    type B = burn::backend::Flex<f32>;

    #[test]
    fn ignores_masked_positions() {
        let device = Default::default();
        // Two positions; the second is ignored (-100).
        let logits = Tensor::<B, 3>::from_floats([[[0.0, 1.0, 2.0], [5.0, -5.0, 0.0]]], &device);
        let labels = Tensor::<B, 2, Int>::from_ints([[2, -100]], &device);
        let loss = seq2seq_loss(logits, labels).into_scalar();
        let lse = (1.0f32 + 1.0f32.exp() + 2.0f32.exp()).ln();
        assert!((loss - (lse - 2.0)).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn all_ignored_is_zero() {
        let device = Default::default();
        let logits = Tensor::<B, 3>::from_floats([[[0.0, 1.0]]], &device);
        let labels = Tensor::<B, 2, Int>::from_ints([[-100]], &device);
        assert_eq!(seq2seq_loss(logits, labels).into_scalar(), 0.0);
    }
}
