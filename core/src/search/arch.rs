//! The architecture weights (docs/algorithm.md §3): two disentangled sets of logits,
//! `binary_logits` α over {off, on} for every slot and `rank_logits` β over the
//! candidate ranks for every rank-searchable slot, both initialised as
//! `init_std · N(0, 1)` (1e-3 in the reference).
//!
//! They live in their own module so that their optimiser (Adam) and the
//! weights' optimiser (AdamW) step disjoint parameters from one backward pass.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::tensor::{activation::softmax, backend::Backend, Tensor};

// `Result` stays unimported: the `Config` derive expands to code naming it.
use crate::error::Error;

/// Shape of the architecture logits.
#[derive(Config, Debug)]
pub struct ArchLogitsConfig {
    /// Number of slots (rows of α).
    pub slots: usize,
    /// Number of rank-searchable slots (rows of β).
    pub ranked_slots: usize,
    /// Number of candidate ranks (columns of β).
    pub candidates: usize,
    #[config(default = 1e-3)]
    pub init_std: f64,
}

/// α and β as trainable parameters.
#[derive(Module, Debug)]
pub struct ArchLogits<B: Backend> {
    /// α: `[slots, 2]`, column 0 "off", column 1 "on".
    pub binary_logits: Param<Tensor<B, 2>>,
    /// β: `[ranked_slots, candidates]`.
    pub rank_logits: Param<Tensor<B, 2>>,
}

impl ArchLogitsConfig {
    /// Draws fresh logits on `device` (seed the backend for reproducible draws).
    pub fn init<B: Backend>(&self, device: &B::Device) -> ArchLogits<B> {
        let init = Initializer::Normal {
            mean: 0.0,
            std: self.init_std,
        };
        ArchLogits {
            binary_logits: init.init([self.slots, 2], device),
            rank_logits: init.init([self.ranked_slots, self.candidates], device),
        }
    }
}

impl<B: Backend> ArchLogits<B> {
    /// The reference's architecture regulariser: for each logit tensor, the mean
    /// absolute difference between its row-wise softmax and the logits
    /// themselves (`F.l1_loss(softmax(w), w)`), summed over α and β. The search
    /// adds it to the task loss with factor 0.01.
    ///
    /// # Shapes
    /// - returns `[1]`
    pub fn regulariser(&self) -> Tensor<B, 1> {
        let l1 = |w: Tensor<B, 2>| softmax(w.clone(), 1).sub(w).abs().mean();
        l1(self.binary_logits.val()).add(l1(self.rank_logits.val()))
    }

    /// Copies both logit tensors to the host in one awaited read (WebGPU
    /// forbids synchronous reads).
    pub async fn snapshot_async(&self) -> crate::Result<ArchSnapshot> {
        let parts = super::read::read_parts(vec![
            super::read::flat(self.binary_logits.val()),
            super::read::flat(self.rank_logits.val()),
        ])
        .await?;
        let [binary, rank]: [Vec<f32>; 2] = parts
            .try_into()
            .map_err(|_| Error::TensorRead("the logits came back in pieces".into()))?;
        Ok(ArchSnapshot::new(binary, rank, self.rank_logits.dims()[1]))
    }
}

/// α and β on the host, for the bookkeeping of §6 (expected sizes, the
/// dimension window, the discrete result).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ArchSnapshot {
    binary: Vec<f32>,
    rank: Vec<f32>,
    candidates: usize,
}

impl ArchSnapshot {
    /// From row-major α (`[slots, 2]`) and β (`[ranked, candidates]`) values.
    pub fn new(binary: Vec<f32>, rank: Vec<f32>, candidates: usize) -> Self {
        ArchSnapshot {
            binary,
            rank,
            candidates,
        }
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.binary.len() / 2
    }

    /// Number of rank-searchable slots.
    pub fn ranked_rows(&self) -> usize {
        self.rank.len() / self.candidates.max(1)
    }

    /// Number of candidate ranks.
    pub fn candidates(&self) -> usize {
        self.candidates
    }

    /// softmax(α_m)[on].
    pub fn on_probability(&self, slot: usize) -> f64 {
        let (off, on) = (
            self.binary[2 * slot] as f64,
            self.binary[2 * slot + 1] as f64,
        );
        1.0 / (1.0 + (off - on).exp())
    }

    /// Whether argmax α_m is "on" (ties count as off, like `torch.argmax`).
    pub fn argmax_on(&self, slot: usize) -> bool {
        self.binary[2 * slot + 1] > self.binary[2 * slot]
    }

    /// β of one ranked row.
    pub fn rank_logits(&self, row: usize) -> &[f32] {
        &self.rank[row * self.candidates..(row + 1) * self.candidates]
    }

    /// All of β, row-major.
    pub fn all_rank_logits(&self) -> &[f32] {
        &self.rank
    }

    /// softmax(β_row).
    pub fn rank_probabilities(&self, row: usize) -> Vec<f64> {
        softmax_host(self.rank_logits(row))
    }

    /// argmax β_row (the first on ties).
    pub fn rank_argmax(&self, row: usize) -> usize {
        argmax_host(self.rank_logits(row))
    }
}

/// Numerically stable softmax of a short row, in f64.
pub(crate) fn softmax_host(row: &[f32]) -> Vec<f64> {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let exps: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

/// Index of the first largest entry.
pub(crate) fn argmax_host(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::TensorData;

    type B = Flex<f32>;

    #[test]
    fn init_has_the_right_shapes_and_scale() {
        let device = Default::default();
        let arch = ArchLogitsConfig::new(400, 300, 3).init::<B>(&device);
        assert_eq!(arch.binary_logits.dims(), [400, 2]);
        assert_eq!(arch.rank_logits.dims(), [300, 3]);
        let snap = futures_lite::future::block_on(arch.snapshot_async()).unwrap();
        let all: Vec<f32> = snap.binary.iter().chain(&snap.rank).copied().collect();
        let n = all.len() as f64;
        let mean = all.iter().map(|&v| v as f64).sum::<f64>() / n;
        let std = (all.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        // 1700 draws of 1e-3 · N(0, 1).
        assert!(mean.abs() < 2e-4, "mean {mean}");
        assert!((std - 1e-3).abs() < 1.5e-4, "std {std}");
    }

    #[test]
    fn regulariser_matches_hand_numbers() {
        // α = [[0, 0]]: softmax [.5, .5], |.5 - 0| mean = .5.
        // β = [[0, ln 3]]: softmax [.25, .75]; |.25 - 0|, |.75 - ln 3| = 0.348612...
        let device = Default::default();
        let arch = ArchLogits::<B> {
            binary_logits: Param::from_tensor(Tensor::zeros([1, 2], &device)),
            rank_logits: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.0f32, 3f32.ln()], [1, 2]),
                &device,
            )),
        };
        let value = arch.regulariser().into_scalar();
        let expected = 0.5 + (0.25 + (3f64.ln() - 0.75)) / 2.0;
        assert!(
            (value as f64 - expected).abs() < 1e-6,
            "{value} vs {expected}"
        );
    }

    #[test]
    fn regulariser_is_differentiable() {
        let device = Default::default();
        let arch = ArchLogitsConfig::new(3, 2, 3).init::<Autodiff<B>>(&device);
        let grads = arch.regulariser().backward();
        assert!(arch.binary_logits.grad(&grads).is_some());
        assert!(arch.rank_logits.grad(&grads).is_some());
    }

    #[test]
    fn snapshot_helpers() {
        let snap = ArchSnapshot::new(vec![0.0, 3f32.ln(), 1.0, 1.0], vec![0.5, 2.0, 2.0], 3);
        assert_eq!(snap.slots(), 2);
        assert_eq!(snap.ranked_rows(), 1);
        assert!((snap.on_probability(0) - 0.75).abs() < 1e-7);
        assert!(snap.argmax_on(0));
        assert!(!snap.argmax_on(1));
        assert_eq!(snap.rank_argmax(0), 1);
        let p = snap.rank_probabilities(0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((p[1] - p[2]).abs() < 1e-12);
    }
}
