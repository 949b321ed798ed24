//! The Gumbel noise of the architecture samples (docs/algorithm.md §3), drawn on
//! the host from the search's own seeded generator rather than the backend's.
//! Its whole state is one `u64`, so a checkpoint stores it and a resumed
//! search draws exactly the noise the uninterrupted one would have; and a seed
//! gives the same noise on every backend (CPU natively, WebGPU in the page).
//! The draw is small (two logits per slot, one per candidate rank), so
//! uploading it each step costs nothing next to a forward pass.

use burn::tensor::{backend::Backend, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::rng::splitmix64_step;

/// SplitMix64 (Steele et al. 2014) for Gumbel noise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoiseRng {
    state: u64,
}

impl NoiseRng {
    /// A generator for the search seeded with `seed` (mixed, so that nearby
    /// seeds do not start on nearby states).
    pub fn new(seed: u64) -> Self {
        let mut rng = NoiseRng {
            state: seed ^ 0x6a09_e667_f3bc_c909,
        };
        rng.state = rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        splitmix64_step(&mut self.state)
    }

    /// Uniform on (0, 1), never 0: 53 random bits, offset by half a step.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard Gumbel noise `-log(-log u)`, one value per logit.
    ///
    /// # Shapes
    /// - returns `[rows, k]`
    pub fn gumbel<B: Backend>(
        &mut self,
        rows: usize,
        k: usize,
        device: &B::Device,
    ) -> Tensor<B, 2> {
        let values: Vec<f32> = (0..rows * k)
            .map(|_| -(-self.uniform().ln()).ln() as f32)
            .collect();
        Tensor::from_data(TensorData::new(values, [rows, k]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use futures_lite::future::block_on;

    #[test]
    fn same_seed_same_noise_and_a_resumable_state() {
        let device = Default::default();
        let mut a = NoiseRng::new(7);
        let first = block_on(crate::search::read::read_values(
            a.gumbel::<Flex<f32>>(3, 2, &device),
        ))
        .unwrap();
        let saved = a.clone();
        let second = block_on(crate::search::read::read_values(
            a.gumbel::<Flex<f32>>(3, 2, &device),
        ))
        .unwrap();
        let mut b = NoiseRng::new(7);
        let again = block_on(crate::search::read::read_values(
            b.gumbel::<Flex<f32>>(3, 2, &device),
        ))
        .unwrap();
        assert_eq!(first, again);
        assert_ne!(first, second);
        let json = serde_json::to_string(&saved).unwrap();
        let mut resumed: NoiseRng = serde_json::from_str(&json).unwrap();
        let replay = block_on(crate::search::read::read_values(
            resumed.gumbel::<Flex<f32>>(3, 2, &device),
        ))
        .unwrap();
        assert_eq!(replay, second);
    }

    #[test]
    fn gumbel_moments() {
        // Mean γ ≈ 0.5772, variance π²/6 ≈ 1.645.
        let mut rng = NoiseRng::new(1);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| -(-rng.uniform().ln()).ln()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 0.5772).abs() < 0.01, "{mean}");
        assert!((var - 1.6449).abs() < 0.03, "{var}");
    }
}
