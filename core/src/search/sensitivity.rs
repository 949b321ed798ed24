//! Module sensitivity (docs/algorithm.md §6.1): how much a module matters to the
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
//!
//! cos_m is, as in the reference code, the **mean over the module's parameter
//! tensors** (LoRA A and B, each adapter factor and bias) of the cosine of that
//! tensor's training and validation θ ⊙ ∇θ; a tensor whose product is all zero
//! (LoRA B at the start) contributes a cosine of 0 and still counts in the mean.
//! The training term is taken after the weight step: the updated θ times the
//! clipped gradient (what the reference's `param * param.grad` holds after
//! `optimizer.step()`). The validation term is θ ⊙ ∇θ L_val of the
//! architecture step alone (the reference's `param.grad` there still holds the
//! previous weight step's gradient as well, an accident of when it zeroes).

use burn::tensor::{backend::Backend, Tensor};

use super::config::{Criterion, SelectionConfig, SensitivityForm};
use super::read::read_values;
use super::slots::SearchSlots;
use crate::error::{Error, Result};

/// θ ⊙ ∇θ of one slot: one flattened tensor per parameter tensor of the
/// module, in a fixed order (the same for the training and validation sides).
pub type SlotSaliency<B> = Vec<Tensor<B, 1>>;

/// What the sensitivity needs of one parameter tensor's θ ⊙ ∇θ on a training
/// batch (t) and on the architecture batch before it (v).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorStatistics {
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

impl TensorStatistics {
    /// Cosine of t and v as `torch.nn.functional.cosine_similarity(t, v, dim=0)`
    /// (eps 1e-8): 0 when either is zero.
    pub fn cosine(&self) -> f64 {
        self.dot / (self.train_sq.sqrt().max(1e-8) * self.val_sq.sqrt().max(1e-8))
    }
}

/// What the sensitivity needs of one slot: its Σ|θ⊙∇θ| on both sides and the
/// mean of its tensors' cosines.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SaliencyPair {
    /// Σ|t| over all the slot's parameters.
    pub train_abs: f64,
    /// Σ|v| over all the slot's parameters.
    pub val_abs: f64,
    /// cos_m: the mean over the slot's parameter tensors of cos(t, v).
    pub cosine: f64,
}

impl SaliencyPair {
    /// The pair of a slot from its tensors' statistics.
    pub fn from_tensors(tensors: &[TensorStatistics]) -> Self {
        let n = tensors.len().max(1) as f64;
        SaliencyPair {
            train_abs: tensors.iter().map(|t| t.train_abs).sum(),
            val_abs: tensors.iter().map(|t| t.val_abs).sum(),
            cosine: tensors.iter().map(TensorStatistics::cosine).sum::<f64>() / n,
        }
    }

    /// The raw score s_m of a module with `params` parameters.
    pub fn score(&self, criterion: Criterion, params: u64) -> f64 {
        let n = params.max(1) as f64;
        let (t, v) = (self.train_abs / n, self.val_abs / n);
        match criterion {
            Criterion::Tra => t,
            Criterion::Val => v,
            Criterion::TraVal => t + v,
            Criterion::TraValCos1 => t + self.cosine * v,
            Criterion::TraValCos2 => self.cosine * (t + v),
        }
    }
}

/// The five statistics of every parameter tensor of every slot as one
/// `[tensors, 5]` tensor (slot by slot, in slot order), so they come back to
/// the host in one read; [`pairs_from_rows`] folds them back into slots.
///
/// # Shapes
/// - train, val: per slot, its tensors' `[n]` → `[Σ tensors, 5]`
pub fn saliency_statistics<B: Backend>(
    train: &[SlotSaliency<B>],
    val: &[SlotSaliency<B>],
) -> Result<Tensor<B, 2>> {
    let shapes_match = train.len() == val.len()
        && train
            .iter()
            .zip(val)
            .all(|(t, v)| t.len() == v.len() && !t.is_empty());
    if !shapes_match || train.is_empty() {
        return Err(Error::InvalidInput(format!(
            "saliency needs the same parameter tensors on the training and the validation side \
             for every slot, got {} and {} slots",
            train.len(),
            val.len()
        )));
    }
    let rows = train
        .iter()
        .zip(val)
        .flat_map(|(ts, vs)| ts.iter().zip(vs))
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

/// The number of parameter tensors of each slot, as [`pairs_from_rows`] needs it.
pub fn tensor_counts<B: Backend>(saliency: &[SlotSaliency<B>]) -> Vec<usize> {
    saliency.iter().map(Vec::len).collect()
}

/// Reads [`saliency_statistics`] back as pairs (one awaited read).
pub async fn saliency_pairs<B: Backend>(
    train: &[SlotSaliency<B>],
    val: &[SlotSaliency<B>],
) -> Result<Vec<SaliencyPair>> {
    let values = read_values(saliency_statistics(train, val)?).await?;
    Ok(pairs_from_rows(&values, &tensor_counts(train)))
}

/// Pairs from the row-major values of a `[tensors, 5]` statistics tensor,
/// `counts[m]` rows for slot m.
pub fn pairs_from_rows(values: &[f32], counts: &[usize]) -> Vec<SaliencyPair> {
    let rows: Vec<TensorStatistics> = values
        .chunks_exact(5)
        .map(|r| TensorStatistics {
            train_abs: r[0] as f64,
            val_abs: r[1] as f64,
            dot: r[2] as f64,
            train_sq: r[3] as f64,
            val_sq: r[4] as f64,
        })
        .collect();
    let mut start = 0;
    counts
        .iter()
        .map(|&n| {
            let end = (start + n).min(rows.len());
            let pair = SaliencyPair::from_tensors(&rows[start..end]);
            start = end;
            pair
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
    fn cosine_is_the_mean_over_parameter_tensors() {
        // Slot 0 has two tensors: A with t = [1, -2], v = [2, 1] (cos 0) and
        // B with t = [3, 4], v = [6, 8] (cos 1): cos_0 = (0 + 1) / 2 = 0.5,
        // whereas the cosine of the concatenations would be
        // (0 + 50) / (√30 · √105) ≈ 0.8909.
        // Slot 1: one tensor whose training product is all zero (LoRA B at the
        // start): cos 0. Slot 2: A with cos −1 and an all-zero B: mean −0.5.
        let train = [
            vec![vector(&[1.0, -2.0]), vector(&[3.0, 4.0])],
            vec![vector(&[0.0, 0.0, 0.0])],
            vec![vector(&[1.0, 1.0]), vector(&[0.0])],
        ];
        let val = [
            vec![vector(&[2.0, 1.0]), vector(&[6.0, 8.0])],
            vec![vector(&[0.0, 0.0, 3.0])],
            vec![vector(&[-2.0, -2.0]), vector(&[5.0])],
        ];
        let pairs = futures_lite::future::block_on(saliency_pairs(&train, &val)).unwrap();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[0].train_abs, 3.0 + 7.0);
        assert_eq!(pairs[0].val_abs, 3.0 + 14.0);
        assert!((pairs[0].cosine - 0.5).abs() < 1e-7, "{:?}", pairs[0]);
        assert_eq!(pairs[1].cosine, 0.0);
        assert_eq!(pairs[1].val_abs, 3.0);
        assert!((pairs[2].cosine + 0.5).abs() < 1e-7, "{:?}", pairs[2]);
        // Mismatched sides are refused.
        assert!(futures_lite::future::block_on(saliency_pairs(&train, &val[..1])).is_err());
        let short = [val[0].clone(), val[1].clone(), vec![vector(&[1.0, 1.0])]];
        assert!(futures_lite::future::block_on(saliency_pairs(&train, &short)).is_err());
    }

    #[test]
    fn criteria_on_hand_numbers() {
        // Σ|t| = 7, Σ|v| = 14, cos = −1; n = 7.
        let p = SaliencyPair {
            train_abs: 7.0,
            val_abs: 14.0,
            cosine: -1.0,
        };
        assert_eq!(p.score(Criterion::Tra, 7), 1.0);
        assert_eq!(p.score(Criterion::Val, 7), 2.0);
        assert_eq!(p.score(Criterion::TraVal, 7), 3.0);
        assert!((p.score(Criterion::TraValCos1, 7) - (1.0 - 2.0)).abs() < 1e-12);
        assert!((p.score(Criterion::TraValCos2, 7) + 3.0).abs() < 1e-12);
        // t = [3, 4], v = −[6, 8] as one tensor: cos −1.
        let t = TensorStatistics {
            train_abs: 7.0,
            val_abs: 14.0,
            dot: -50.0,
            train_sq: 25.0,
            val_sq: 100.0,
        };
        assert!((t.cosine() + 1.0).abs() < 1e-12);
        assert_eq!(SaliencyPair::from_tensors(&[t]).cosine, t.cosine());
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
            cosine: 0.0,
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
