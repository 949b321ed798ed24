//! From token states to one vector per sequence.

use burn::config::Config;
use burn::tensor::{backend::Backend, Int, Tensor};

/// How a sequence becomes one vector.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The first token's state (`[CLS]`, RoBERTa's `<s>`), as
    /// `BertForSequenceClassification` uses it (through its pooler).
    Cls,
    /// The mean over non-padding tokens, as sentence-transformers computes it
    /// (all-MiniLM-L6-v2's sentence embedding before normalisation).
    Mean,
}

/// Pools `hidden` by `pooling`; `attention_mask` is 1 for tokens, 0 for padding.
///
/// # Shapes
/// - hidden: `[batch, seq, hidden]`, attention_mask: `[batch, seq]`
/// - output: `[batch, hidden]`
pub fn pool<B: Backend>(
    hidden: Tensor<B, 3>,
    attention_mask: Tensor<B, 2, Int>,
    pooling: Pooling,
) -> Tensor<B, 2> {
    match pooling {
        Pooling::Cls => hidden.narrow(1, 0, 1).squeeze_dim(1),
        Pooling::Mean => {
            let mask = attention_mask.float().unsqueeze_dim::<3>(2);
            let summed = (hidden * mask.clone()).sum_dim(1).squeeze_dim(1);
            // sentence-transformers clamps the count at 1e-9, so an all-padding
            // row gives zeros, not NaN.
            let count = mask.sum_dim(1).squeeze_dim(1).clamp_min(1e-9);
            summed / count
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{TensorData, Tolerance};

    type B = burn::backend::Flex<f32>;

    #[test]
    fn mean_skips_padding_and_cls_takes_the_first_token() {
        let device = Default::default();
        let hidden = Tensor::<B, 3>::from_floats(
            [
                [[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]],
                [[5.0, 6.0], [7.0, 8.0], [9.0, 10.0]],
            ],
            &device,
        );
        let mask = Tensor::<B, 2, Int>::from_ints([[1, 1, 0], [1, 1, 1]], &device);
        pool(hidden.clone(), mask.clone(), Pooling::Mean)
            .into_data()
            .assert_approx_eq::<f32>(
                &TensorData::from([[2.0, 3.0], [7.0, 8.0]]),
                Tolerance::absolute(1e-6),
            );
        pool(hidden, mask, Pooling::Cls)
            .into_data()
            .assert_approx_eq::<f32>(
                &TensorData::from([[1.0, 2.0], [5.0, 6.0]]),
                Tolerance::absolute(1e-6),
            );
    }
}
