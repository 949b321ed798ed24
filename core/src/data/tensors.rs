//! A [`Batch`] on a burn device.

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::data::batcher::{Batch, BatchTargets};

/// A batch's tensors.
///
/// # Shapes
/// - `input_ids`, `token_type_ids`, `attention_mask`: `[batch, seq_len]`
/// - `targets`: see [`TensorTargets`]
#[derive(Debug, Clone)]
pub struct TensorBatch<B: Backend> {
    pub input_ids: Tensor<B, 2, Int>,
    pub token_type_ids: Tensor<B, 2, Int>,
    /// 1 on tokens, 0 on padding.
    pub attention_mask: Tensor<B, 2, Int>,
    pub targets: TensorTargets<B>,
}

/// A batch's targets as tensors.
#[derive(Debug, Clone)]
pub enum TensorTargets<B: Backend> {
    /// `[batch]` class indices.
    Classes(Tensor<B, 1, Int>),
    /// `[batch]` regression targets.
    Scores(Tensor<B, 1>),
    /// `[batch, target_len]` target ids (padded with the pad id) and their mask.
    Tokens {
        ids: Tensor<B, 2, Int>,
        mask: Tensor<B, 2, Int>,
    },
}

impl Batch {
    /// Copies the batch to `device`.
    pub fn to_tensors<B: Backend>(&self, device: &B::Device) -> TensorBatch<B> {
        let shape = [self.batch, self.seq_len];
        let ints = |values: &[i64], shape: [usize; 2]| {
            Tensor::<B, 2, Int>::from_data(TensorData::new(values.to_vec(), shape), device)
        };
        let targets = match &self.targets {
            BatchTargets::Classes(classes) => TensorTargets::Classes(Tensor::from_data(
                TensorData::new(classes.clone(), [self.batch]),
                device,
            )),
            BatchTargets::Scores(scores) => TensorTargets::Scores(Tensor::from_data(
                TensorData::new(scores.clone(), [self.batch]),
                device,
            )),
            BatchTargets::Tokens {
                ids,
                mask,
                target_len,
            } => TensorTargets::Tokens {
                ids: ints(ids, [self.batch, *target_len]),
                mask: ints(mask, [self.batch, *target_len]),
            },
        };
        TensorBatch {
            input_ids: ints(&self.input_ids, shape),
            token_type_ids: ints(&self.token_type_ids, shape),
            attention_mask: ints(&self.attention_mask, shape),
            targets,
        }
    }
}
