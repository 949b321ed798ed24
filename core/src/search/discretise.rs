//! The end of the search (docs/algorithm.md §6.5): the discrete PEFT configuration.
//! On/off is the pruning mask (after an early stop) or the mask and argmax α;
//! the rank is the fixed one or argmax β. Should the result still exceed the
//! budget — a search that ran out of epochs before its last selection step —
//! the least important chosen modules are dropped until it fits. Whatever the
//! result leaves of the budget is then refilled with the most important
//! modules that are off and still fit (bipeft's choice: the reference stops
//! where its last pruning step lands, which can be a quarter of the budget
//! below it). The result says what was dropped and what was added.

use serde::{Deserialize, Serialize};

use super::arch::ArchSnapshot;
use super::config::SearchMode;
use super::slots::SearchSlots;
use super::state::SelectionState;

/// One module of the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleChoice {
    pub slot: usize,
    pub name: String,
    /// The rank, for a rank-searchable slot.
    pub rank: Option<usize>,
    pub params: u64,
}

/// A discrete architecture within the budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscreteArchitecture {
    /// Per slot: kept.
    pub on: Vec<bool>,
    /// Per ranked row: the chosen candidate index.
    pub rank_choice: Vec<usize>,
    /// The kept modules, in slot order.
    pub modules: Vec<ModuleChoice>,
    pub trainable_params: u64,
    pub budget_params: u64,
    /// Modules the argmax architecture had but the budget did not allow.
    pub trimmed: Vec<String>,
    /// The most important modules that were off (pruned, trimmed or off by
    /// argmax α) and still fit the budget left, added in descending priority.
    #[serde(default)]
    pub refilled: Vec<String>,
}

impl DiscreteArchitecture {
    /// What discretising did beyond reading the state, in words (the trim
    /// to the budget and the refill after it), for a search's summary.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.trimmed.is_empty() {
            notes.push(format!(
                "the search ended above the budget; the least important modules were dropped: {}",
                self.trimmed.join(", ")
            ));
        }
        if !self.refilled.is_empty() {
            let when = if self.trimmed.is_empty() {
                "the search ended below the budget; "
            } else {
                "then "
            };
            notes.push(format!(
                "{when}the most important modules that were off and still fit were added: {}",
                self.refilled.join(", ")
            ));
        }
        notes
    }
}

/// Discretises the search's state. `priority` ranks the modules for trimming
/// (the sensitivities when selection ran; otherwise softmax(α)[on] is used).
pub fn discretise(
    slots: &SearchSlots,
    snapshot: &ArchSnapshot,
    state: &SelectionState,
    stopped_early: bool,
    mode: SearchMode,
    priority: Option<&[f64]>,
    budget_params: u64,
) -> DiscreteArchitecture {
    let rank_choice: Vec<usize> = (0..slots.ranked_len())
        .map(|row| state.fixed_rank[row].unwrap_or_else(|| snapshot.rank_argmax(row)))
        .collect();
    let entangled = mode == SearchMode::NoIter;
    let mut on: Vec<bool> = (0..slots.len())
        .map(|m| {
            if state.pruned[m] {
                return false;
            }
            match slots.ranked_row(m) {
                // In the entangled space rank 0 is "off" and there is no α choice.
                Some(row) if entangled => slots.ranks()[rank_choice[row]] > 0,
                _ => stopped_early || snapshot.argmax_on(m),
            }
        })
        .collect();
    let params = |m: usize| match slots.ranked_row(m) {
        Some(row) => slots.params_at(m, rank_choice[row]),
        None => slots.params_at(m, 0),
    };
    // Shared parts (the prefix trunk) count once, as soon as one member is on.
    let total_of = |on: &[bool]| -> u64 {
        (0..slots.len()).filter(|&m| on[m]).map(params).sum::<u64>()
            + slots.shared_params(on, &rank_choice)
    };
    let mut total = total_of(&on);
    let mut trimmed = Vec::new();
    // Which modules matter most: the sensitivities, or softmax(α)[on].
    let key: Vec<f64> = match priority {
        Some(p) => p.to_vec(),
        None => (0..slots.len())
            .map(|m| snapshot.on_probability(m))
            .collect(),
    };
    if total > budget_params {
        let mut order: Vec<usize> = (0..slots.len()).filter(|&m| on[m]).collect();
        order.sort_by(|&a, &b| key[a].total_cmp(&key[b]));
        for m in order {
            if total <= budget_params {
                break;
            }
            on[m] = false;
            total = total_of(&on);
            trimmed.push(slots.slots()[m].name.clone());
        }
    }
    // Pruning and trimming drop modules whole, which can leave much of the
    // budget unused (a selection step prunes at least one module while the
    // total is over, however far below the budget that takes it; the last
    // step fixes ranks after it pruned, so the end can also be a little
    // over): refill it with the most important modules that fit.
    let mut refilled = Vec::new();
    if total < budget_params {
        // A module whose chosen rank is 0 (the entangled space's "off") has
        // nothing to add.
        let has_weights = |m: usize| match slots.ranked_row(m) {
            Some(row) => slots.ranks()[rank_choice[row]] > 0,
            None => true,
        };
        let mut order: Vec<usize> = (0..slots.len())
            .filter(|&m| !on[m] && has_weights(m))
            .collect();
        order.sort_by(|&a, &b| key[b].total_cmp(&key[a]));
        for m in order {
            on[m] = true;
            let with = total_of(&on);
            if with <= budget_params {
                total = with;
                refilled.push(slots.slots()[m].name.clone());
            } else {
                on[m] = false;
            }
        }
    }
    let modules = (0..slots.len())
        .filter(|&m| on[m])
        .map(|m| ModuleChoice {
            slot: m,
            name: slots.slots()[m].name.clone(),
            rank: slots
                .ranked_row(m)
                .map(|row| slots.ranks()[rank_choice[row]]),
            params: params(m),
        })
        .collect();
    DiscreteArchitecture {
        on,
        rank_choice,
        modules,
        trainable_params: total,
        budget_params,
        trimmed,
        refilled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::slots::{SearchSlot, SharedCost};

    fn slots() -> SearchSlots {
        SearchSlots::new(
            vec![1, 4],
            vec![
                SearchSlot::ranked("a", vec![10, 40]),
                SearchSlot::on_off("b", 6),
                SearchSlot::ranked("c", vec![3, 12]),
            ],
        )
        .unwrap()
    }

    /// α: a on, b off, c on; β: a prefers 4, c prefers 1.
    fn snapshot() -> ArchSnapshot {
        ArchSnapshot::new(
            vec![0.0, 1.0, 1.0, 0.0, 0.0, 2.0],
            vec![0.0, 1.0, 1.0, 0.0],
            2,
        )
    }

    /// Discretises the [`snapshot`] without early stop (on/off by argmax α).
    fn argmax_within(
        slots: &SearchSlots,
        state: &SelectionState,
        priority: Option<&[f64]>,
        budget: u64,
    ) -> DiscreteArchitecture {
        discretise(
            slots,
            &snapshot(),
            state,
            false,
            SearchMode::Iterative,
            priority,
            budget,
        )
    }

    #[test]
    fn early_stop_keeps_the_mask() {
        let slots = slots();
        let mut state = SelectionState::new(&slots, 0);
        state.pruned[2] = true;
        state.fixed_rank[0] = Some(0);
        let d = discretise(
            &slots,
            &snapshot(),
            &state,
            true,
            SearchMode::Iterative,
            None,
            16,
        );
        assert_eq!(d.on, vec![true, true, false]);
        assert_eq!(d.trainable_params, 16);
        assert_eq!(d.modules[0].rank, Some(1));
        assert_eq!(d.modules[1].rank, None);
        assert!(d.trimmed.is_empty());
        assert!(d.refilled.is_empty());
    }

    #[test]
    fn a_search_that_ends_below_the_budget_is_refilled() {
        let slots = slots();
        let mut state = SelectionState::new(&slots, 0);
        state.pruned[2] = true;
        state.fixed_rank[0] = Some(0);
        // a (rank 1, 10) + b (6) = 16 leaves 3 of 19: c at its argmax β
        // (rank 1, 3 params) fits and is added, with a note saying why.
        let d = discretise(
            &slots,
            &snapshot(),
            &state,
            true,
            SearchMode::Iterative,
            None,
            19,
        );
        assert_eq!(d.on, vec![true, true, true]);
        assert_eq!(d.trainable_params, 19);
        assert_eq!(d.refilled, vec!["c".to_string()]);
        assert_eq!(d.modules[2].rank, Some(1));
        assert_eq!(
            d.notes(),
            vec![
                "the search ended below the budget; the most important modules that were off \
                 and still fit were added: c"
                    .to_string()
            ]
        );
        // 18 leaves 2: nothing fits, nothing is added.
        let d = discretise(
            &slots,
            &snapshot(),
            &state,
            true,
            SearchMode::Iterative,
            None,
            18,
        );
        assert!(d.refilled.is_empty());
        assert_eq!(d.trainable_params, 16);
    }

    #[test]
    fn without_early_stop_argmax_alpha_decides_and_budget_trims() {
        let slots = slots();
        let state = SelectionState::new(&slots, 5);
        let d = argmax_within(&slots, &state, None, 43);
        assert_eq!(d.on, vec![true, false, true]);
        assert_eq!(d.trainable_params, 43);
        // Budget 100: b, off by argmax α, is added to the 57 left.
        let d = argmax_within(&slots, &state, None, 100);
        assert_eq!(d.on, vec![true, true, true]);
        assert_eq!(d.refilled, vec!["b".to_string()]);
        assert_eq!(d.trainable_params, 49);
        // Budget 41: drop by priority, least first: c (0.1) goes.
        let d = argmax_within(&slots, &state, Some(&[0.9, 0.5, 0.1]), 41);
        assert_eq!(d.on, vec![true, false, false]);
        assert_eq!(d.trimmed, vec!["c".to_string()]);
        // Nothing that is off fits the 1 left: b (6), c (3).
        assert!(d.refilled.is_empty());
        assert_eq!(d.trainable_params, 40);
        // Priority a lowest: a (40) is trimmed, 3 left; the refill adds b
        // (the most important that is off and fits): 9; a does not fit back.
        let d = argmax_within(&slots, &state, Some(&[0.1, 0.9, 0.5]), 41);
        assert_eq!(d.trimmed, vec!["a".to_string()]);
        assert_eq!(d.refilled, vec!["b".to_string()]);
        assert_eq!(d.on, vec![false, true, true]);
        assert_eq!(d.trainable_params, 9);
    }

    #[test]
    fn entangled_rank_zero_is_off() {
        let slots = slots().with_zero_rank().unwrap();
        let snapshot = ArchSnapshot::new(
            vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
            vec![5.0, 0.0, 1.0, 0.0, 0.0, 5.0],
            3,
        );
        let state = SelectionState::new(&slots, 0);
        let d = discretise(
            &slots,
            &snapshot,
            &state,
            true,
            SearchMode::NoIter,
            None,
            100,
        );
        assert_eq!(d.on, vec![false, true, true]);
        assert_eq!(d.modules[1].rank, Some(4));
        assert_eq!(d.trainable_params, 6 + 12);
    }

    #[test]
    fn shared_parameters_count_once_and_can_force_a_trim() {
        // A trunk shared by a and c: 7 params when the larger chosen
        // candidate is rank 1, 20 when it is rank 4.
        let slots = slots()
            .with_shared(vec![SharedCost {
                name: "trunk".into(),
                members: vec![0, 2],
                params_by_candidate: vec![7, 20],
            }])
            .unwrap();
        let state = SelectionState::new(&slots, 5);
        // a (rank 4, 40) + c (rank 1, 3) + trunk at rank 4 (20) = 63.
        let d = argmax_within(&slots, &state, None, 63);
        assert_eq!(d.trainable_params, 63);
        // Budget 45: without the trunk 43 would fit; with it, c (least
        // priority) goes first, 60 is still over, then a goes too: 0.
        let d = argmax_within(&slots, &state, Some(&[0.9, 0.5, 0.1]), 45);
        assert_eq!(d.trimmed, vec!["c".to_string(), "a".to_string()]);
        // The refill then walks the off modules by priority: a (40 + trunk
        // 20) does not fit, b (6) does, c (3 + trunk at rank 1: 7) does: 16.
        assert_eq!(d.refilled, vec!["b".to_string(), "c".to_string()]);
        assert_eq!(d.on, vec![false, true, true]);
        assert_eq!(d.trainable_params, 16);
        // Budget 60: dropping c alone leaves a + trunk = 60.
        let d = argmax_within(&slots, &state, Some(&[0.9, 0.5, 0.1]), 60);
        assert_eq!(d.on, vec![true, false, false]);
        assert_eq!(d.trainable_params, 60);
        // The entangled space repeats the first count for the new rank 0.
        let zero = slots.with_zero_rank().unwrap();
        let on = [true, false, true];
        assert_eq!(zero.shared_params(&on, &[1, 1]), 7);
        assert_eq!(zero.shared_params(&on, &[2, 0]), 20);
        assert_eq!(zero.shared_params(&[false, true, false], &[2, 2]), 0);
    }
}
