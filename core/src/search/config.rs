//! Every knob of the search, with the reference's values as defaults
//! (docs/algorithm.md §3–6). The ablations and the paper-vs-code choices the spec
//! names are selectable here rather than being separate code paths.

use burn::config::Config;
use serde::{Deserialize, Serialize};

/// How the binary (on/off) and dimension (rank) spaces are searched (§4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SearchMode {
    /// BIPEFT: architecture steps alternate between the binary and the
    /// dimension stage after every architecture forward.
    Iterative,
    /// Ablation `no_iter`: one entangled space, rank 0 stands for "off"
    /// (build the slots with [`super::SearchSlots::with_zero_rank`]).
    NoIter,
    /// Ablation: the binary stage for the first half of the epochs, the
    /// dimension stage (with on/off fixed to argmax α) for the second.
    BinaryThenDim,
    /// Ablation: the dimension stage first, then the binary stage.
    DimThenBinary,
}

/// How an architecture sample is drawn from logits (§3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sampling {
    /// Straight-through hard Gumbel-softmax at the epoch's temperature.
    Gumbel,
    /// Ablation `no_gumbel`: the plain softmax of the logits.
    Softmax,
}

/// Which gradients make a module's sensitivity (§6.1). `t` and `v` are the
/// sums of |θ ⊙ ∇θ| on the training and validation (architecture) batch,
/// divided by the module's parameter count; `cos` is the cosine of the two
/// θ ⊙ ∇θ vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Criterion {
    /// `t`
    Tra,
    /// `v`
    Val,
    /// `t + v`
    TraVal,
    /// `t + cos · v` (the reference's default)
    TraValCos1,
    /// `cos · (t + v)`
    TraValCos2,
}

/// What of the two moving averages is the sensitivity (§6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SensitivityForm {
    /// Ī, the smoothed score: what the reference code uses.
    Smoothed,
    /// Ī · Ū, smoothed score times smoothed uncertainty: the paper's text.
    SmoothedTimesUncertainty,
}

/// How a selection step walks the modules in ascending sensitivity (§6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PruneScan {
    /// The reference code: a module that does not fit in what is left of Δ is
    /// skipped and the walk goes on, so smaller (more sensitive) modules may
    /// still be pruned.
    SkipMisfits,
    /// The reading "prune while the pruned total stays ≤ Δ": the walk stops at
    /// the first module that does not fit.
    StopAtMisfit,
}

/// Budget-guided early selection (§6): sensitivity, trigger, module and
/// dimension selection.
#[derive(Config, Debug, PartialEq)]
pub struct SelectionConfig {
    /// Selection is off before this (0-based) epoch; sensitivities are tracked from the start.
    #[config(default = 2)]
    pub prune_begin_epoch: usize,
    /// T at the start: how many selection steps split the way from the
    /// expected size to the budget.
    #[config(default = 100)]
    pub max_prune_steps: usize,
    #[config(default = "Criterion::TraValCos1")]
    pub criterion: Criterion,
    #[config(default = "SensitivityForm::Smoothed")]
    pub form: SensitivityForm,
    #[config(default = "PruneScan::SkipMisfits")]
    pub prune_scan: PruneScan,
    /// β1 of the smoothed score.
    #[config(default = 0.85)]
    pub ema_score: f64,
    /// β2 of the smoothed uncertainty.
    #[config(default = 0.85)]
    pub ema_uncertainty: f64,
    /// How many past greedy selections the trigger compares with.
    #[config(default = 5)]
    pub trigger_window: usize,
    /// Mean cosine at or above which a selection step fires.
    #[config(default = 0.85)]
    pub trigger_threshold: f64,
    /// While more than this many selection steps remain, expected sizes are
    /// weighted by each module's soft "on" probability.
    #[config(default = 10)]
    pub soft_on_steps: usize,
}

/// T fitted to the length of a search (§6.2–6.3): the reference's T = 100
/// assumes a long search (at least 8 weight steps per selection step after
/// selection begins on every task of its run scripts); a shorter one would end
/// its epochs before T reaches 0 and leave the budget-guided selection
/// unfinished. The trigger needs `trigger_window + 1` recorded choices before
/// it first fires; of the weight steps after that, this gives one selection
/// step per [`WEIGHT_STEPS_PER_SELECTION`], at most 100 and at least 1.
pub fn fitted_selection_steps(
    steps_per_epoch: usize,
    epochs: usize,
    prune_begin_epoch: usize,
    trigger_window: usize,
) -> usize {
    let after = steps_per_epoch * epochs.saturating_sub(prune_begin_epoch);
    let warm = after.saturating_sub(trigger_window + 1);
    (warm / WEIGHT_STEPS_PER_SELECTION).clamp(1, 100)
}

/// The first (0-based) epoch of early selection for a search of `epochs`
/// epochs, as the reference's run scripts set it per task: epoch 2 for the
/// long searches of small tasks (15–20 epochs), epoch 1 for the short ones of
/// large tasks (3–5 epochs).
pub fn default_selection_start(epochs: usize) -> usize {
    if epochs >= 10 {
        2
    } else if epochs >= 2 {
        1
    } else {
        // One epoch: the selection has to start in it.
        0
    }
}

/// Weight steps per selection step in [`fitted_selection_steps`].
pub const WEIGHT_STEPS_PER_SELECTION: usize = 2;

/// The whole search: budget, schedule, sampling, optimisers, selection.
#[derive(Config, Debug, PartialEq)]
pub struct SearchConfig {
    /// The parameter budget B: trainable PEFT parameters allowed in the result.
    pub budget_params: u64,
    /// Maximum epochs E (the search may stop early, §6.5).
    #[config(default = 15)]
    pub epochs: usize,
    #[config(default = "SearchMode::Iterative")]
    pub mode: SearchMode,
    #[config(default = "Sampling::Gumbel")]
    pub sampling: Sampling,
    /// Gumbel temperature at epoch 0; it falls linearly towards `tau_end` at epoch E.
    #[config(default = 5.0)]
    pub tau_start: f64,
    #[config(default = 1.0)]
    pub tau_end: f64,
    /// Standard deviation of the architecture logits' initial values.
    #[config(default = 1e-3)]
    pub init_std: f64,
    /// Adam on the architecture logits.
    #[config(default = 0.01)]
    pub arch_lr: f64,
    #[config(default = 0.5)]
    pub arch_beta1: f32,
    #[config(default = 0.999)]
    pub arch_beta2: f32,
    #[config(default = 1e-4)]
    pub arch_weight_decay: f32,
    /// Factor of the Σ L1(softmax(logits), logits) regulariser in the architecture loss.
    #[config(default = 0.01)]
    pub arch_regulariser: f64,
    /// AdamW on the PEFT weights (and head), linearly decayed to 0, no warm-up.
    #[config(default = 3e-4)]
    pub weight_lr: f64,
    #[config(default = 1e-4)]
    pub weight_decay: f32,
    /// Global gradient-norm clipping of the weight step; none when absent.
    #[config(default = "Some(2.0)")]
    pub clip_grad_norm: Option<f64>,
    /// Budget-guided early selection; `None` runs the plain bi-level search.
    #[config(default = "Some(SelectionConfig::new())")]
    pub selection: Option<SelectionConfig>,
    /// Seed of the search's Gumbel noise (drawn on the host, so a seed gives
    /// the same samples on every backend and after a resume).
    #[config(default = 0)]
    pub seed: u64,
}

impl SearchConfig {
    /// Checks what the types cannot: a finite positive schedule and sane factors.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |what: String| Err(crate::Error::InvalidInput(what));
        if self.epochs == 0 {
            return bad("the search needs at least one epoch".into());
        }
        if self.budget_params == 0 {
            return bad("the budget must be at least 1 parameter".into());
        }
        if !(self.tau_start.is_finite() && self.tau_end.is_finite())
            || !(self.tau_start > 0.0 && self.tau_end > 0.0)
        {
            return bad(format!(
                "Gumbel temperatures must be positive, got {} → {}",
                self.tau_start, self.tau_end
            ));
        }
        let positive = |name: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                bad(format!("{name} must be a positive number, got {value}"))
            }
        };
        positive("the weight learning rate", self.weight_lr)?;
        positive("the architecture learning rate", self.arch_lr)?;
        if let Some(clip) = self.clip_grad_norm {
            positive("the gradient clipping norm", clip)?;
        }
        for (name, value) in [
            ("the weight decay", f64::from(self.weight_decay)),
            ("the architecture weight decay", f64::from(self.arch_weight_decay)),
            ("the architecture regulariser", self.arch_regulariser),
            ("the initial logit spread", self.init_std),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return bad(format!("{name} must be a number ≥ 0, got {value}"));
            }
        }
        if let Some(selection) = &self.selection {
            if !(selection.trigger_threshold > 0.0 && selection.trigger_threshold <= 1.0) {
                return bad(format!(
                    "the trigger threshold is a cosine similarity: it must lie in (0, 1], got {}",
                    selection.trigger_threshold
                ));
            }
            if selection.prune_begin_epoch >= self.epochs {
                return bad(format!(
                    "the selection start epoch {} is not before the search's last epoch \
                     ({} epochs, counted from 0): the selection would never run",
                    selection.prune_begin_epoch, self.epochs
                ));
            }
            if selection.max_prune_steps == 0 {
                return bad("max_prune_steps must be at least 1".into());
            }
            if selection.trigger_window == 0 {
                return bad("trigger_window must be at least 1".into());
            }
            for (name, beta) in [
                ("ema_score", selection.ema_score),
                ("ema_uncertainty", selection.ema_uncertainty),
            ] {
                if !(0.0..1.0).contains(&beta) {
                    return bad(format!("{name} must lie in [0, 1), got {beta}"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_reference_values() {
        let config = SearchConfig::new(102_600);
        assert_eq!(config.epochs, 15);
        assert_eq!(config.mode, SearchMode::Iterative);
        assert_eq!(config.arch_lr, 0.01);
        assert_eq!((config.arch_beta1, config.arch_beta2), (0.5, 0.999));
        assert_eq!(config.weight_lr, 3e-4);
        assert_eq!(config.clip_grad_norm, Some(2.0));
        let selection = config.selection.clone().unwrap();
        assert_eq!(selection.max_prune_steps, 100);
        assert_eq!(selection.trigger_threshold, 0.85);
        assert_eq!(selection.criterion, Criterion::TraValCos1);
        assert_eq!(selection.form, SensitivityForm::Smoothed);
        assert_eq!(selection.prune_scan, PruneScan::SkipMisfits);
        config.validate().unwrap();
    }

    #[test]
    fn selection_steps_fit_the_search() {
        // The demo: 16 steps × (5 − 1) epochs = 64; 64 − 6 = 58; 58 / 2 = 29.
        assert_eq!(fitted_selection_steps(16, 5, 1, 5), 29);
        // A long search keeps the reference's 100.
        assert_eq!(fitted_selection_steps(67, 15, 2, 5), 100);
        assert_eq!(default_selection_start(15), 2);
        assert_eq!(default_selection_start(5), 1);
        assert_eq!(default_selection_start(1), 0);
        // Selection starting after the last epoch: still at least 1.
        assert_eq!(fitted_selection_steps(10, 2, 3, 5), 1);
    }

    #[test]
    fn json_round_trip_and_validation() {
        let config = SearchConfig::new(6412)
            .with_mode(SearchMode::NoIter)
            .with_sampling(Sampling::Softmax);
        let json = serde_json::to_string(&config).unwrap();
        let back: SearchConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);
        assert!(SearchConfig::new(1).with_epochs(0).validate().is_err());
        let message = |c: SearchConfig| c.validate().unwrap_err().to_string();
        let base = || SearchConfig::new(1000).with_epochs(5);
        assert!(message(base().with_weight_lr(f64::NAN)).contains("weight learning rate must be a positive number, got NaN"));
        assert!(message(base().with_weight_lr(-1.0)).contains("got -1"));
        assert!(message(base().with_arch_lr(f64::INFINITY)).contains("architecture learning rate"));
        assert!(message(base().with_clip_grad_norm(Some(0.0))).contains("clipping norm"));
        assert!(message(SearchConfig::new(0)).contains("budget"));
        let selection = SelectionConfig::new().with_prune_begin_epoch(1);
        assert!(message(base().with_selection(Some(selection.clone().with_trigger_threshold(5.0))))
            .contains("trigger threshold is a cosine similarity"));
        assert!(message(base().with_selection(Some(selection.clone().with_prune_begin_epoch(5))))
            .contains("selection start epoch 5 is not before"));
        base().with_selection(Some(selection.with_prune_begin_epoch(4))).validate().unwrap();
        let bad =
            SearchConfig::new(1).with_selection(Some(SelectionConfig::new().with_ema_score(1.0)));
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("ema_score"));
    }
}
