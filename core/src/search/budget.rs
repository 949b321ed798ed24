//! Expected trainable parameters (docs/algorithm.md §6.3): how big the supernet's
//! current architecture distribution is, in total (E, compared with the
//! budget B) and per module (what each module counts as when the trigger fills
//! the budget and when selection prunes).

use super::arch::ArchSnapshot;
use super::slots::{SearchSlots, SlotCost};
use super::state::SelectionState;

/// Converts a budget given as a percentage of the backbone into parameters
/// (the paper's 0.0139 % of T5-large ≈ 102.6k). Rounds down, so the budget is
/// never exceeded by rounding.
pub fn budget_from_percent(percent: f64, backbone_params: u64) -> u64 {
    (percent / 100.0 * backbone_params as f64).floor() as u64
}

/// E and the per-module counts.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    /// E: the expected trainable parameter count of the search's current state.
    pub total: f64,
    /// Per slot: a rank-searchable slot's expected size (its per-rank counts
    /// weighted by its rank distribution, times its soft "on" probability while
    /// `soft_on` holds); an on/off slot's full size.
    pub module_counts: Vec<f64>,
}

/// Computes E and the per-module counts.
///
/// - The rank distribution is one-hot at the fixed rank once fixed, else softmax(β).
/// - Pruned slots count 0 towards E.
/// - `soft_on` (more than 10 selection steps remain, by default) weights every
///   live slot by softmax(α)[on]; afterwards live slots count in full.
/// - `entangled` (`no_iter`): rank-searchable slots have no binary choice,
///   their "off" is the rank-0 candidate.
pub fn expected_params(
    slots: &SearchSlots,
    snapshot: &ArchSnapshot,
    state: &SelectionState,
    soft_on: bool,
    entangled: bool,
) -> Expectation {
    let mut total = 0.0;
    let mut module_counts = Vec::with_capacity(slots.len());
    for (slot, info) in slots.slots().iter().enumerate() {
        let on = if soft_on {
            snapshot.on_probability(slot)
        } else {
            1.0
        };
        let live = if state.pruned[slot] { 0.0 } else { 1.0 };
        match &info.cost {
            SlotCost::PerRank(counts) => {
                let row = slots.ranked_row(slot).expect("ranked slot has a row");
                let mix: f64 = match state.fixed_rank[row] {
                    Some(c) => counts[c] as f64,
                    None => snapshot
                        .rank_probabilities(row)
                        .iter()
                        .zip(counts)
                        .map(|(p, &n)| p * n as f64)
                        .sum(),
                };
                let on = if entangled { 1.0 } else { on };
                let expected = mix * on * live;
                total += expected;
                module_counts.push(expected);
            }
            SlotCost::Fixed(n) => {
                total += *n as f64 * on * live;
                module_counts.push(*n as f64);
            }
        }
    }
    Expectation {
        total,
        module_counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::slots::SearchSlot;

    fn slots() -> SearchSlots {
        SearchSlots::new(
            vec![1, 4, 8],
            vec![
                SearchSlot::ranked("a", vec![10, 40, 80]),
                SearchSlot::on_off("b", 6),
                SearchSlot::ranked("c", vec![3, 12, 24]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn percent_budget() {
        // 0.0139 % of T5-large's 737.67M parameters.
        assert_eq!(budget_from_percent(0.0139, 737_668_096), 102_535);
        assert_eq!(budget_from_percent(50.0, 7), 3);
    }

    #[test]
    fn hand_computed_expectation() {
        // α: slot a on-prob 3/4, b 1/2, c 1/4. β: row 0 uniform, row 1 [0, ln 2, ln 5] → [1/8, 2/8, 5/8].
        let snapshot = ArchSnapshot::new(
            vec![0.0, 3f32.ln(), 0.0, 0.0, 3f32.ln(), 0.0],
            vec![0.0, 0.0, 0.0, 0.0, 2f32.ln(), 5f32.ln()],
            3,
        );
        let slots = slots();
        let state = SelectionState::new(&slots, 100);
        let soft = expected_params(&slots, &snapshot, &state, true, false);
        let a = (10.0 + 40.0 + 80.0) / 3.0 * 0.75;
        let c = (3.0 / 8.0 + 12.0 * 2.0 / 8.0 + 24.0 * 5.0 / 8.0) * 0.25;
        let b = 6.0 * 0.5;
        assert!((soft.total - (a + b + c)).abs() < 1e-5, "{soft:?}");
        assert!((soft.module_counts[0] - a).abs() < 1e-5);
        assert_eq!(soft.module_counts[1], 6.0);
        assert!((soft.module_counts[2] - c).abs() < 1e-5);

        // Late in the search: no on-probability; slot a fixed at rank 4, c pruned.
        let mut state = state;
        state.fixed_rank[0] = Some(1);
        state.pruned[2] = true;
        let hard = expected_params(&slots, &snapshot, &state, false, false);
        assert!((hard.total - (40.0 + 6.0)).abs() < 1e-9, "{hard:?}");
        assert_eq!(hard.module_counts[2], 0.0);

        // no_iter: ranked slots ignore α even while soft.
        let entangled = expected_params(&slots, &snapshot, &state, true, true);
        assert!(
            (entangled.total - (40.0 + 3.0)).abs() < 1e-5,
            "{entangled:?}"
        );
    }
}
