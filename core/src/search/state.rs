//! What budget-guided selection has decided so far (docs/algorithm.md §6): which
//! slots are pruned, which ranks are fixed, and how many selection steps (T)
//! remain. Samples, expected sizes and the discrete result all read it.

use serde::{Deserialize, Serialize};

use super::slots::SearchSlots;

/// The selection decisions, per slot and per ranked row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectionState {
    /// Per slot: pruned for good (its sample is multiplied by 0).
    pub pruned: Vec<bool>,
    /// Per ranked row: the candidate index the rank was fixed to.
    pub fixed_rank: Vec<Option<usize>>,
    /// T: selection steps left before the search stops.
    pub remaining_steps: usize,
}

impl SelectionState {
    /// Nothing pruned or fixed, `max_steps` selection steps to go.
    pub fn new(slots: &SearchSlots, max_steps: usize) -> Self {
        SelectionState {
            pruned: vec![false; slots.len()],
            fixed_rank: vec![None; slots.ranked_len()],
            remaining_steps: max_steps,
        }
    }

    /// Whether a ranked row's rank no longer moves: fixed, or its slot pruned
    /// (the reference counts pruned modules as fixed).
    pub fn is_settled(&self, slots: &SearchSlots, row: usize) -> bool {
        self.fixed_rank[row].is_some() || self.pruned[slots.ranked_slot(row)]
    }

    /// 1.0 for live slots, 0.0 for pruned ones.
    pub fn live_mask(&self) -> Vec<f32> {
        self.pruned
            .iter()
            .map(|&p| if p { 0.0 } else { 1.0 })
            .collect()
    }

    /// Number of slots still live.
    pub fn live_count(&self) -> usize {
        self.pruned.iter().filter(|&&p| !p).count()
    }
}
