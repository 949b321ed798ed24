//! Module sensitivity (ALGORITHM.md §6.1): how much a module matters to the
//! training and the validation (architecture) loss, from the first-order
//! Taylor scores |θ ⊙ ∇θ L| summed over its parameters and divided by its size,
//! smoothed by exponential moving averages (β1 = β2 = 0.85):
//!
//! ```text
//! s_m = Σ|θ⊙∇θ L_train| / n_m + cos_m · Σ|θ⊙∇θ L_val| / n_m      (tra_val_cos1)
//! Ī_m ← β1 Ī_m + (1−β1) s_m
//! Ū_m ← β2 Ū_m + (1−β2) |s_m − Ī_m|
//! ```
//!
//! The sensitivity is Ī_m (the reference code) or Ī_m · Ū_m (the paper's text).
//! θ is taken where its gradient was taken; the validation gradient is that of
//! the architecture step alone (the reference's `param.grad` there still holds
//! the previous weight step's gradient as well, an accident of when it zeroes).

use burn::tensor::{backend::Backend, Tensor};

use super::config::{Criterion, SelectionConfig, SensitivityForm};
use super::read::read_values;
use super::slots::SearchSlots;
use crate::error::{Error, Result};

/// What the sensitivity needs of one slot's θ ⊙ ∇θ on a training batch (t) and
/// on the following architecture batch (v).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SaliencyPair {
    /// Σ|t|
    pub train_abs: f64,
    /// Σ|v|
    pub val_abs: f64,
    /// t · v
    pub dot: f64,
    /// ‖t‖²
    pub train_sq: f64,
    /// ‖v‖²
    pub val_sq: f64,
}

impl SaliencyPair {
    /// Cosine of t and v as `torch.nn.functional.cosine_similarity` (eps 1e-8):
    /// 0 when either is zero.
    pub fn cosine(&self) -> f64 {
        self.dot / (self.train_sq.sqrt() * self.val_sq.sqrt()).max(1e-8)
    }

    /// The raw score s_m of a module with `params` parameters.
    pub fn score(&self, criterion: Criterion, params: u64) -> f64 {
        let n = params.max(1) as f64;
        let (t, v) = (self.train_abs / n, self.val_abs / n);
        match criterion {
            Criterion::Tra => t,
            Criterion::Val => v,
            Criterion::TraVal => t + v,
            Criterion::TraValCos1 => t + self.cosine() * v,
            Criterion::TraValCos2 => self.cosine() * (t + v),
        }
    }
}

/// The five statistics of every slot as one `[slots, 5]` tensor, so they come
/// back to the host in one read. `train[m]` and `val[m]` are slot m's θ ⊙ ∇θ,
/// flattened over all its parameters.
///
/// # Shapes
/// - train, val: `slots` tensors of `[n_m]` → `[slots, 5]`
pub fn saliency_statistics<B: Backend>(
    train: &[Tensor<B, 1>],
    val: &[Tensor<B, 1>],
) -> Result<Tensor<B, 2>> {
    if train.len() != val.len() || train.is_empty() {
        return Err(Error::InvalidInput(format!(
            "saliency needs one training and one validation vector per slot, got {} and {}",
            train.len(),
            val.len()
        )));
    }
    let rows = train
        .iter()
        .zip(val)
        .map(|(t, v)| {
            Tensor::cat(
                vec![
                    t.clone().abs().sum(),
                    v.clone().abs().sum(),
                    t.clone().mul(v.clone()).sum(),
                    t.clone().mul(t.clone()).sum(),
                    v.clone().mul(v.clone()).sum(),
                ],
                0,
            )
        })
        .collect();
    Ok(Tensor::stack(rows, 0))
}

/// Reads [`saliency_statistics`] back as pairs (one awaited read).
pub async fn saliency_pairs<B: Backend>(
    train: &[Tensor<B, 1>],
    val: &[Tensor<B, 1>],
) -> Result<Vec<SaliencyPair>> {
    let values = read_values(saliency_statistics(train, val)?).await?;
    Ok(pairs_from_rows(&values))
}

/// Pairs from the row-major values of a `[slots, 5]` statistics tensor.
pub fn pairs_from_rows(values: &[f32]) -> Vec<SaliencyPair> {
    values
        .chunks_exact(5)
        .map(|r| SaliencyPair {
            train_abs: r[0] as f64,
            val_abs: r[1] as f64,
            dot: r[2] as f64,
            train_sq: r[3] as f64,
            val_sq: r[4] as f64,
        })
        .collect()
}

/// The smoothed sensitivity of every slot.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SensitivityTracker {
    criterion: Criterion,
    form: SensitivityForm,
    beta_score: f64,
    beta_uncertainty: f64,
    /// Ī per slot.
    score: Vec<f64>,
    /// Ū per slot.
    uncertainty: Vec<f64>,
    updates: usize,
}

impl SensitivityTracker {
    pub fn new(slots: usize, config: &SelectionConfig) -> Self {
        SensitivityTracker {
            criterion: config.criterion,
            form: config.form,
            beta_score: config.ema_score,
            beta_uncertainty: config.ema_uncertainty,
            score: vec![0.0; slots],
            uncertainty: vec![0.0; slots],
            updates: 0,
        }
    }

    /// One update from a training/validation pair; pruned slots keep their values.
    pub fn update(&mut self, slots: &SearchSlots, pairs: &[SaliencyPair], pruned: &[bool]) {
        for (m, pair) in pairs.iter().enumerate() {
            if pruned[m] {
                continue;
            }
            let s = pair.score(self.criterion, slots.supernet_params(m));
            let b1 = self.beta_score;
            self.score[m] = b1 * self.score[m] + (1.0 - b1) * s;
            let b2 = self.beta_uncertainty;
            self.uncertainty[m] = b2 * self.uncertainty[m] + (1.0 - b2) * (s - self.score[m]).abs();
        }
        self.updates += 1;
    }

    /// Number of updates so far.
    pub fn updates(&self) -> usize {
        self.updates
    }

    /// The sensitivities, once there has been at least one update.
    pub fn sensitivities(&self) -> Option<Vec<f64>> {
        if self.updates == 0 {
            return None;
        }
        Some(match self.form {
            SensitivityForm::Smoothed => self.score.clone(),
            SensitivityForm::SmoothedTimesUncertainty => self
                .score
                .iter()
                .zip(&self.uncertainty)
                .map(|(i, u)| i * u)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::slots::SearchSlot;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    type B = Flex<f32>;

    fn vector(values: &[f32]) -> Tensor<B, 1> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [values.len()]),
            &Default::default(),
        )
    }

    #[test]
    fn statistics_of_two_slots() {
        let train = [vector(&[1.0, -2.0]), vector(&[0.0, 0.0, 3.0])];
        let val = [vector(&[2.0, 1.0]), vector(&[0.0, 0.0, 0.0])];
        let pairs = futures_lite::future::block_on(saliency_pairs(&train, &val)).unwrap();
        assert_eq!(
            pairs[0],
            SaliencyPair {
                train_abs: 3.0,
                val_abs: 3.0,
                dot: 0.0,
                train_sq: 5.0,
                val_sq: 5.0
            }
        );
        assert_eq!(pairs[1].cosine(), 0.0);
        assert!(futures_lite::future::block_on(saliency_pairs(&train, &val[..1])).is_err());
    }

    #[test]
    fn criteria_on_hand_numbers() {
        // t = [3, 4], v = -[6, 8]: cos = -1, Σ|t| = 7, Σ|v| = 14; n = 7.
        let p = SaliencyPair {
            train_abs: 7.0,
            val_abs: 14.0,
            dot: -50.0,
            train_sq: 25.0,
            val_sq: 100.0,
        };
        assert!((p.cosine() + 1.0).abs() < 1e-12);
        assert_eq!(p.score(Criterion::Tra, 7), 1.0);
        assert_eq!(p.score(Criterion::Val, 7), 2.0);
        assert_eq!(p.score(Criterion::TraVal, 7), 3.0);
        assert!((p.score(Criterion::TraValCos1, 7) - (1.0 - 2.0)).abs() < 1e-12);
        assert!((p.score(Criterion::TraValCos2, 7) + 3.0).abs() < 1e-12);
    }

    #[test]
    fn moving_averages_on_hand_numbers() {
        let slots = SearchSlots::new(
            vec![1],
            vec![SearchSlot::ranked("a", vec![1]), SearchSlot::on_off("b", 2)],
        )
        .unwrap();
        let config = SelectionConfig::new().with_criterion(Criterion::Tra);
        let mut tracker = SensitivityTracker::new(2, &config);
        assert!(tracker.sensitivities().is_none());
        let pair = |t: f64| SaliencyPair {
            train_abs: t,
            val_abs: 0.0,
            dot: 0.0,
            train_sq: 0.0,
            val_sq: 0.0,
        };
        tracker.update(&slots, &[pair(1.0), pair(4.0)], &[false, false]);
        // s = 1 (a), 2 (b). Ī = .15 s; Ū = .15 |s - Ī| = .15 · .85 s.
        let s = tracker.sensitivities().unwrap();
        assert!((s[0] - 0.15).abs() < 1e-12 && (s[1] - 0.30).abs() < 1e-12);
        tracker.update(&slots, &[pair(2.0), pair(100.0)], &[false, true]);
        // a: Ī = .85·.15 + .15·2 = .4275; b unchanged (pruned).
        let s = tracker.sensitivities().unwrap();
        assert!((s[0] - 0.4275).abs() < 1e-12, "{s:?}");
        assert!((s[1] - 0.30).abs() < 1e-12);
        // Ū_a = .85 · (.15·.85) + .15 · |2 - .4275| = .1083750 + .2358750.
        let paper = SensitivityTracker {
            form: SensitivityForm::SmoothedTimesUncertainty,
            ..tracker.clone()
        };
        let u = 0.85 * 0.15 * 0.85 + 0.15 * (2.0 - 0.4275);
        assert!((paper.sensitivities().unwrap()[0] - 0.4275 * u).abs() < 1e-12);
    }
}
