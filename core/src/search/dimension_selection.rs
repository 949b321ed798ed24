//! Adaptive dimension selection with the Dimension Stability Indicator
//! (docs/algorithm.md §6.4). Between two selection steps the dimension logits β are
//! recorded after every weight step (a window); a selection step then fixes the
//! ranks of the modules whose rank distribution has moved least, and how many
//! it fixes grows with how stable the argmax ranks are overall.
//!
//! The window keeps running statistics (Welford) instead of every snapshot:
//! DSI needs only each logit's standard deviation and the first and last
//! distributions.

use super::arch::{argmax_host, softmax_host};
use super::slots::SearchSlots;
use super::state::SelectionState;

/// β over the steps since the last selection step.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct RankWindow {
    count: usize,
    mean: Vec<f64>,
    /// Σ (x − mean)² per logit.
    m2: Vec<f64>,
    first: Vec<f32>,
    last: Vec<f32>,
}

impl RankWindow {
    pub fn new() -> Self {
        RankWindow::default()
    }

    /// Records β (row-major `[ranked, candidates]`).
    pub fn record(&mut self, rank_logits: &[f32]) {
        if self.count == 0 {
            self.mean = vec![0.0; rank_logits.len()];
            self.m2 = vec![0.0; rank_logits.len()];
            self.first = rank_logits.to_vec();
        }
        self.count += 1;
        let n = self.count as f64;
        for (i, &x) in rank_logits.iter().enumerate() {
            let x = x as f64;
            let delta = x - self.mean[i];
            self.mean[i] += delta / n;
            self.m2[i] += delta * (x - self.mean[i]);
        }
        self.last = rank_logits.to_vec();
    }

    /// Number of recorded snapshots.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Starts a new window.
    pub fn clear(&mut self) {
        *self = RankWindow::default();
    }

    /// DSI per ranked row: the mean over candidates of each logit's standard
    /// deviation over the window (unbiased, as `torch.std`), times
    /// KL(p_last ‖ p_first) of the softmax distributions. Needs two snapshots.
    pub fn dsi(&self, candidates: usize) -> Vec<f64> {
        let denominator = (self.count.max(2) - 1) as f64;
        self.m2
            .chunks_exact(candidates)
            .zip(self.first.chunks_exact(candidates))
            .zip(self.last.chunks_exact(candidates))
            .map(|((m2, first), last)| {
                let spread =
                    m2.iter().map(|v| (v / denominator).sqrt()).sum::<f64>() / candidates as f64;
                let (p, q) = (softmax_host(last), softmax_host(first));
                let kl: f64 = p
                    .iter()
                    .zip(&q)
                    .filter(|(pi, _)| **pi > 0.0)
                    .map(|(pi, qi)| pi * (pi.ln() - qi.ln()))
                    .sum();
                spread * kl
            })
            .collect()
    }

    /// Global stability g: the cosine similarity of the argmax-rank index
    /// vectors at the window's first and last step (as the reference computes
    /// it, on candidate indices). 1 when undefined (all argmaxes at index 0).
    pub fn global_stability(&self, candidates: usize) -> f64 {
        let start: Vec<f64> = self
            .first
            .chunks_exact(candidates)
            .map(|r| argmax_host(r) as f64)
            .collect();
        let end: Vec<f64> = self
            .last
            .chunks_exact(candidates)
            .map(|r| argmax_host(r) as f64)
            .collect();
        let dot: f64 = start.iter().zip(&end).map(|(a, b)| a * b).sum();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let g = dot / (norm(&start) * norm(&end));
        if g.is_nan() {
            1.0
        } else {
            g
        }
    }

    /// The last recorded β.
    pub fn last(&self) -> &[f32] {
        &self.last
    }
}

/// One rank fixed by a selection step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FixedRank {
    pub row: usize,
    /// Index into the candidate ranks.
    pub candidate: usize,
}

/// What a dimension selection step decided.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DimensionStep {
    pub global_stability: f64,
    /// Unsettled rows before the step (neither fixed nor pruned).
    pub unsettled: usize,
    pub fixed: Vec<FixedRank>,
}

/// Fixes ranks after a selection step that left `remaining` steps (T after its
/// decrement): floor(g · unsettled / T) rows, all of them once T ≤ 1, chosen by
/// smallest DSI (ties in row order) and fixed at their last argmax. Pruned rows
/// count as settled. Returns `None`, leaving the window as it is, when fewer
/// than two snapshots were recorded; otherwise applies the choice to `state`
/// and clears the window.
pub fn fix_stable_ranks(
    window: &mut RankWindow,
    slots: &SearchSlots,
    state: &mut SelectionState,
    remaining: usize,
) -> Option<DimensionStep> {
    if window.len() < 2 {
        return None;
    }
    let k = slots.candidates();
    let g = window.global_stability(k);
    let unsettled: Vec<usize> = (0..slots.ranked_len())
        .filter(|&row| !state.is_settled(slots, row))
        .collect();
    let count = if remaining <= 1 {
        unsettled.len()
    } else {
        ((g * unsettled.len() as f64) / remaining as f64).floor() as usize
    };
    let dsi = window.dsi(k);
    let mut order = unsettled.clone();
    order.sort_by(|&a, &b| dsi[a].total_cmp(&dsi[b]));
    let fixed: Vec<FixedRank> = order
        .into_iter()
        .take(count)
        .map(|row| FixedRank {
            row,
            candidate: argmax_host(&window.last()[row * k..(row + 1) * k]),
        })
        .collect();
    for f in &fixed {
        state.fixed_rank[f.row] = Some(f.candidate);
    }
    window.clear();
    Some(DimensionStep {
        global_stability: g,
        unsettled: unsettled.len(),
        fixed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::slots::SearchSlot;

    #[test]
    fn welford_matches_two_pass_std() {
        let mut w = RankWindow::new();
        let snaps = [[1.0f32, 2.0], [3.0, 2.0], [8.0, 2.0]];
        for s in &snaps {
            w.record(s);
        }
        // Logit 0: values 1, 3, 8 → mean 4, unbiased var (9 + 1 + 16)/2 = 13.
        // Logit 1 constant: std 0. KL(softmax[8,2] ‖ softmax[1,2]).
        let p = softmax_host(&[8.0, 2.0]);
        let q = softmax_host(&[1.0, 2.0]);
        let kl = p[0] * (p[0] / q[0]).ln() + p[1] * (p[1] / q[1]).ln();
        let dsi = w.dsi(2);
        assert!(
            (dsi[0] - (13f64.sqrt() / 2.0) * kl).abs() < 1e-12,
            "{dsi:?}"
        );
    }

    #[test]
    fn global_stability_on_indices() {
        let mut w = RankWindow::new();
        // Rows' argmax: first [2, 1], last [2, 2] → cos = (4 + 2) / (√5 · √8).
        w.record(&[0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        w.record(&[0.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
        let g = w.global_stability(3);
        assert!((g - 6.0 / (5f64.sqrt() * 8f64.sqrt())).abs() < 1e-12);
        let mut z = RankWindow::new();
        z.record(&[1.0, 0.0]);
        z.record(&[1.0, 0.0]);
        assert_eq!(z.global_stability(2), 1.0);
    }

    fn three_rows() -> SearchSlots {
        SearchSlots::new(
            vec![1, 4],
            (0..3)
                .map(|i| SearchSlot::ranked(format!("m{i}"), vec![2, 8]))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn fixes_the_most_stable_rows() {
        let slots = three_rows();
        let mut state = SelectionState::new(&slots, 2);
        let mut w = RankWindow::new();
        // All argmax index 1 throughout: g = 1. Row 0 moves a lot, row 1 a
        // little, row 2 not at all (DSI 0).
        w.record(&[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
        w.record(&[-3.0, 4.0, 0.0, 1.5, 0.0, 1.0]);
        // T = 2, 3 unsettled: floor(1 · 3 / 2) = 1 row, the one with DSI 0.
        let step = fix_stable_ranks(&mut w, &slots, &mut state, 2).unwrap();
        assert_eq!(
            step.fixed,
            vec![FixedRank {
                row: 2,
                candidate: 1
            }]
        );
        assert_eq!(state.fixed_rank, vec![None, None, Some(1)]);
        assert!(w.is_empty());
        // Fewer than two snapshots: nothing happens, the window stays.
        w.record(&[0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
        assert!(fix_stable_ranks(&mut w, &slots, &mut state, 1).is_none());
        assert_eq!(w.len(), 1);
        // T = 1: all unsettled rows are fixed; a pruned row counts as settled.
        state.pruned[0] = true;
        w.record(&[0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
        let step = fix_stable_ranks(&mut w, &slots, &mut state, 1).unwrap();
        assert_eq!(step.unsettled, 1);
        assert_eq!(
            step.fixed,
            vec![FixedRank {
                row: 1,
                candidate: 0
            }]
        );
    }
}
