//! Mixing candidate ranks of one module held at its largest rank.
//!
//! A module of rank `R` whose rank `r` means "its first `r` rank units" (LoRA:
//! the first `r` rows of A and columns of B; an adapter: the first `r` units of
//! its factors or bottleneck). The reference mixes candidates by summing the
//! masked weights, `Σₖ wₖ·(maskₖ ⊙ W)`. Because the masks are nested prefixes
//! this equals `W` scaled per unit by `uⱼ = Σₖ wₖ·[j < rₖ]`, one vector per
//! module, which is what [`RankMixer`] computes for many modules at once.
//!
//! Each module gets two such vectors (docs/algorithm.md §3): `a` from the sample
//! itself, for the first factor (LoRA's A, an adapter's down path), so the
//! architecture gradient flows there; `b` from the detached sample, for the
//! second factor (B, the up path). LoRA's per-rank scale `alpha/r` goes into `a`.

use burn::tensor::{backend::Backend, Tensor, TensorData};

/// The candidate ranks (and LoRA scales) of a set of modules.
#[derive(Clone, Debug)]
pub struct RankMixer {
    rows: usize,
    candidates: usize,
    width: usize,
    /// `[rows, candidates, width]`: 1 where unit `j` belongs to candidate `k`.
    masks: Vec<f32>,
    /// `[rows, candidates]`: the factor on candidate `k`'s share of the `a` path.
    scales: Vec<f32>,
}

impl RankMixer {
    /// One row per module: its candidate ranks and a scale per candidate (1 for
    /// all but LoRA). Every row must have the same number of candidates.
    pub fn new(rows: &[(Vec<usize>, Vec<f64>)]) -> Self {
        let candidates = rows.first().map_or(0, |(r, _)| r.len());
        let width = rows
            .iter()
            .flat_map(|(r, _)| r.iter().copied())
            .max()
            .unwrap_or(0);
        let mut masks = vec![0f32; rows.len() * candidates * width];
        let mut scales = vec![0f32; rows.len() * candidates];
        for (i, (ranks, row_scales)) in rows.iter().enumerate() {
            debug_assert_eq!(ranks.len(), candidates);
            for (k, (&rank, &scale)) in ranks.iter().zip(row_scales).enumerate() {
                scales[i * candidates + k] = scale as f32;
                let start = (i * candidates + k) * width;
                masks[start..start + rank].fill(1.0);
            }
        }
        RankMixer {
            rows: rows.len(),
            candidates,
            width,
            masks,
            scales,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn candidates(&self) -> usize {
        self.candidates
    }

    /// The largest rank of any row: the width of the unit vectors.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Per-unit weights from per-candidate weights.
    ///
    /// # Shapes
    /// - weights: `[rows, candidates]`
    /// - returns `(a, b)`, each `[rows, width]`: `a = (weights ⊙ scales)·masks`,
    ///   `b = detach(weights)·masks`
    pub fn units<B: Backend>(&self, weights: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let device = weights.device();
        let (n, k, w) = (self.rows, self.candidates, self.width);
        let masks =
            Tensor::<B, 3>::from_data(TensorData::new(self.masks.clone(), [n, k, w]), &device);
        let scales =
            Tensor::<B, 2>::from_data(TensorData::new(self.scales.clone(), [n, k]), &device);
        let a = (weights.clone() * scales)
            .reshape([n, 1, k])
            .matmul(masks.clone())
            .reshape([n, w]);
        let b = weights
            .detach()
            .reshape([n, 1, k])
            .matmul(masks)
            .reshape([n, w]);
        (a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    type B = Flex<f32>;

    #[test]
    fn units_are_sums_of_nested_masks() {
        let mixer = RankMixer::new(&[
            (vec![1, 2, 4], vec![2.0, 1.0, 0.5]),
            (vec![1, 2, 3], vec![1.0, 1.0, 1.0]),
        ]);
        assert_eq!(mixer.width(), 4);
        let w =
            Tensor::<B, 2>::from_floats([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0]], &Default::default());
        let (a, b) = mixer.units(w);
        // Row 0, a: unit 0 in all three candidates: 0.5·2 + 0.25·1 + 0.25·0.5 = 1.375;
        // unit 1 in the last two: 0.25 + 0.125; units 2, 3 in the last: 0.125.
        a.into_data().assert_approx_eq::<f32>(
            &TensorData::from([[1.375f32, 0.375, 0.125, 0.125], [1.0, 1.0, 0.0, 0.0]]),
            burn::tensor::Tolerance::absolute(1e-6),
        );
        b.into_data().assert_approx_eq::<f32>(
            &TensorData::from([[1.0f32, 0.5, 0.25, 0.25], [1.0, 1.0, 0.0, 0.0]]),
            burn::tensor::Tolerance::absolute(1e-6),
        );
    }
}
