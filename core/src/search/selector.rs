//! Budget-guided early selection as one state machine (docs/algorithm.md §6): what
//! happens after every weight step — sensitivity update, dimension window,
//! trigger, and on a trigger the module and dimension selection — in the
//! reference's order. Host-side only: it reads snapshots and statistics that
//! the caller brings back from the device.

use serde::{Deserialize, Serialize};

use super::arch::ArchSnapshot;
use super::budget::{expected_params, Expectation};
use super::config::SelectionConfig;
use super::dimension_selection::{fix_stable_ranks, DimensionStep, RankWindow};
use super::module_selection::modules_to_prune;
use super::sensitivity::{SaliencyPair, SensitivityTracker};
use super::slots::SearchSlots;
use super::state::SelectionState;
use super::trigger::{greedy_fill, Trigger};

/// One selection step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectionStep {
    /// T before the step.
    pub remaining_before: usize,
    /// E at the step.
    pub expected_params: f64,
    /// Δ = (E − B) / T.
    pub delta: f64,
    /// Slots pruned, in the order they were taken.
    pub pruned: Vec<usize>,
    /// The dimension step, when the window had at least two snapshots.
    pub dimension: Option<DimensionStep>,
}

/// What the selector did after one weight step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepReport {
    /// Mean cosine of the trigger's check, when one was made.
    pub trigger_cosine: Option<f64>,
    pub selection: Option<SelectionStep>,
    /// T reached 0: the search stops here.
    pub finished: bool,
}

/// Sensitivities, trigger history, dimension window and decisions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BudgetSelector {
    config: SelectionConfig,
    budget: f64,
    entangled: bool,
    state: SelectionState,
    sensitivity: SensitivityTracker,
    trigger: Trigger,
    window: RankWindow,
    /// The sizes the trigger's greedy fill counts (§6.2): maximum-rank sizes
    /// until the first selection step, then each selection step's per-module
    /// expected sizes (a pruned rank-searchable module 0, an on/off module its
    /// full size), as the reference refreshes them only there.
    #[serde(default)]
    fill_counts: Vec<f64>,
}

impl BudgetSelector {
    /// `entangled` is the `no_iter` ablation (no binary choice for
    /// rank-searchable slots).
    pub fn new(
        slots: &SearchSlots,
        config: SelectionConfig,
        budget_params: u64,
        entangled: bool,
    ) -> Self {
        BudgetSelector {
            state: SelectionState::new(slots, config.max_prune_steps),
            sensitivity: SensitivityTracker::new(slots.len(), &config),
            trigger: Trigger::new(config.trigger_window, config.trigger_threshold),
            window: RankWindow::new(),
            fill_counts: max_rank_sizes(slots),
            budget: budget_params as f64,
            entangled,
            config,
        }
    }

    /// The decisions so far.
    pub fn state(&self) -> &SelectionState {
        &self.state
    }

    /// The current sensitivities (after the first update).
    pub fn sensitivities(&self) -> Option<Vec<f64>> {
        self.sensitivity.sensitivities()
    }

    /// Whether all selection steps are spent (the search stops early).
    pub fn finished(&self) -> bool {
        self.state.remaining_steps == 0
    }

    /// E and the per-module counts under the current state.
    pub fn expectation(&self, slots: &SearchSlots, snapshot: &ArchSnapshot) -> Expectation {
        let soft_on = self.state.remaining_steps > self.config.soft_on_steps;
        expected_params(slots, snapshot, &self.state, soft_on, self.entangled)
    }

    /// Bookkeeping after a weight step at a 0-based `epoch`. `snapshot` holds
    /// the logits now; `saliency` pairs this step's θ ⊙ ∇θ with that of the
    /// architecture step before it (absent when there was none).
    pub fn after_weight_step(
        &mut self,
        slots: &SearchSlots,
        epoch: usize,
        snapshot: &ArchSnapshot,
        saliency: Option<&[SaliencyPair]>,
    ) -> StepReport {
        let mut report = StepReport::default();
        if self.finished() {
            report.finished = true;
            return report;
        }
        if let Some(pairs) = saliency {
            self.sensitivity.update(slots, pairs, &self.state.pruned);
        }
        if epoch < self.config.prune_begin_epoch {
            return report;
        }
        self.window.record(snapshot.all_rank_logits());
        let Some(sensitivity) = self.sensitivity.sensitivities() else {
            return report;
        };
        if self.fill_counts.len() != slots.len() {
            // A checkpoint from before the sizes were kept.
            self.fill_counts = max_rank_sizes(slots);
        }
        let choice = greedy_fill(
            &sensitivity,
            &self.fill_counts,
            &self.state.pruned,
            self.budget,
        );
        let check = self.trigger.observe(choice);
        report.trigger_cosine = check.mean_cosine;
        if !check.fired {
            return report;
        }
        let expectation = self.expectation(slots, snapshot);
        self.fill_counts = expectation.module_counts.clone();

        let remaining_before = self.state.remaining_steps;
        let delta = (expectation.total - self.budget) / remaining_before as f64;
        self.state.remaining_steps -= 1;
        let pruned = modules_to_prune(
            &sensitivity,
            &expectation.module_counts,
            &self.state.pruned,
            delta,
            self.config.prune_scan,
        );
        for &m in &pruned {
            self.state.pruned[m] = true;
        }
        let remaining = self.state.remaining_steps;
        let dimension = fix_stable_ranks(&mut self.window, slots, &mut self.state, remaining);
        report.selection = Some(SelectionStep {
            remaining_before,
            expected_params: expectation.total,
            delta,
            pruned,
            dimension,
        });
        report.finished = self.finished();
        report
    }
}

/// Every slot's size at its largest rank (an on/off slot's full size).
fn max_rank_sizes(slots: &SearchSlots) -> Vec<f64> {
    (0..slots.len())
        .map(|m| slots.supernet_params(m) as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::config::Criterion;
    use crate::search::slots::SearchSlot;

    /// Four LoRA-like slots (ranks 1, 2: 10 and 20 params) and two biases of 5.
    fn slots() -> SearchSlots {
        let mut list: Vec<SearchSlot> = (0..4)
            .map(|i| SearchSlot::ranked(format!("lora{i}"), vec![10, 20]))
            .collect();
        list.push(SearchSlot::on_off("bias0", 5));
        list.push(SearchSlot::on_off("bias1", 5));
        SearchSlots::new(vec![1, 2], list).unwrap()
    }

    fn pair(train_abs: f64) -> SaliencyPair {
        SaliencyPair {
            train_abs,
            val_abs: 0.0,
            cosine: 0.0,
        }
    }

    #[test]
    fn runs_to_the_budget_and_stops() {
        let slots = slots();
        let config = SelectionConfig::new()
            .with_prune_begin_epoch(1)
            .with_max_prune_steps(3)
            .with_criterion(Criterion::Tra);
        let mut selector = BudgetSelector::new(&slots, config, 45, false);
        // α all zero (its on-probability is unused: T = 3 never exceeds the
        // default 10 soft steps); β prefers rank 2 everywhere.
        let snapshot = ArchSnapshot::new(
            vec![0.0; 12],
            vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
            2,
        );
        // Stable scores: per parameter 5, 4, 3, 2 for the LoRAs (÷ 20), 1 and 6 for the biases (÷ 5).
        let pairs: Vec<SaliencyPair> = [100.0, 80.0, 60.0, 40.0, 5.0, 30.0]
            .into_iter()
            .map(pair)
            .collect();
        // Epoch 0: sensitivities only.
        let r = selector.after_weight_step(&slots, 0, &snapshot, Some(&pairs));
        assert!(r.trigger_cosine.is_none() && r.selection.is_none());
        let mut steps = Vec::new();
        for _ in 0..20 {
            let r = selector.after_weight_step(&slots, 1, &snapshot, Some(&pairs));
            if let Some(step) = r.selection {
                steps.push(step);
            }
            if r.finished {
                break;
            }
        }
        assert!(selector.finished());
        assert_eq!(steps.len(), 3);
        // E = 4 · (10 e^0 + 20 e^1)/(1 + e) + 10 (biases, no on-probability).
        let e = std::f64::consts::E;
        let lora = (10.0 + 20.0 * e) / (1.0 + e);
        let first = &steps[0];
        assert!((first.expected_params - (4.0 * lora + 10.0)).abs() < 1e-9);
        assert!((first.delta - (4.0 * lora + 10.0 - 45.0) / 3.0).abs() < 1e-9);
        // Ascending sensitivity: bias0 (1), lora3 … lora0 (2 … 5), bias1 (6). Δ ≈ 11.4
        // takes bias0 (5); no LoRA (≈ 17.3) fits; bias1 (5) still fits and is
        // taken although it is the most sensitive: the reference visits every
        // module until the total exceeds Δ.
        assert_eq!(first.pruned, vec![4, 5]);
        // The window had 7 snapshots of an unmoving β: g = 1, floor(1 · 4 / 2) = 2 rows fixed.
        let dim = first.dimension.as_ref().unwrap();
        assert_eq!(dim.fixed.len(), 2);
        // Whatever was pruned, the final expectation respects the budget.
        let end = selector.expectation(&slots, &snapshot);
        assert!(end.total <= 45.0 + 1e-9, "{end:?} {steps:?}");
        // Every rank is settled at the end.
        assert!((0..4).all(|row| selector.state().is_settled(&slots, row)));
        // A finished selector does nothing more.
        assert!(
            selector
                .after_weight_step(&slots, 1, &snapshot, Some(&pairs))
                .finished
        );
    }
}
