//! The selection trigger (docs/algorithm.md §6.2): once selection has begun, after
//! every weight step the budget is filled greedily with the most sensitive live
//! modules; when that choice has stopped changing — its mean cosine similarity
//! with the previous few choices reaches a threshold — a selection step fires.
//!
//! As in the reference code, the fill walks **all** modules: the live ones in
//! descending sensitivity, then the pruned ones (the reference sorts them last
//! by giving them a sensitivity 999 lower), and marks every one that still
//! fits. The sizes are the selector's (see [`super::selector`]): maximum-rank
//! sizes until the first selection step, then the expected sizes of the last
//! selection step, in which a pruned rank-searchable module counts 0 — so it is
//! always marked, which makes successive choices look more alike as pruning
//! goes on.

use std::collections::VecDeque;

/// Fills `budget` with modules in descending sensitivity, live ones before
/// pruned ones: a module is taken when it still fits (with its size in
/// `counts`), and the fill stops as soon as the budget is used up. Ties keep
/// slot order. Returns the 0/1 choice per slot.
pub fn greedy_fill(sensitivity: &[f64], counts: &[f64], pruned: &[bool], budget: f64) -> Vec<bool> {
    let mut order: Vec<usize> = (0..sensitivity.len()).collect();
    order.sort_by(|&a, &b| {
        pruned[a]
            .cmp(&pruned[b])
            .then(sensitivity[b].total_cmp(&sensitivity[a]))
    });
    let mut chosen = vec![false; sensitivity.len()];
    let mut used = 0.0;
    for m in order {
        if used + counts[m] <= budget {
            chosen[m] = true;
            used += counts[m];
        }
        if used >= budget {
            break;
        }
    }
    chosen
}

/// Cosine similarity of two 0/1 choices; NaN when either is empty (as NumPy's
/// 0/0), which never reaches a threshold.
fn cosine(a: &[bool], b: &[bool]) -> f64 {
    let dot = a.iter().zip(b).filter(|(x, y)| **x && **y).count() as f64;
    let na = a.iter().filter(|x| **x).count() as f64;
    let nb = b.iter().filter(|x| **x).count() as f64;
    dot / (na.sqrt() * nb.sqrt())
}

/// What one observation of the trigger found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TriggerCheck {
    /// Mean cosine with the previous choices, once enough were recorded.
    pub mean_cosine: Option<f64>,
    pub fired: bool,
}

/// The history of greedy choices and the firing rule.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Trigger {
    window: usize,
    threshold: f64,
    history: VecDeque<Vec<bool>>,
}

impl Trigger {
    /// Compares with the last `window` choices (5) against `threshold` (0.85).
    pub fn new(window: usize, threshold: f64) -> Self {
        Trigger {
            window,
            threshold,
            history: VecDeque::with_capacity(window + 1),
        }
    }

    /// Records a choice. Fires when more than `window` choices were recorded
    /// before it and its mean cosine with the last `window` of them reaches the
    /// threshold. The history is kept across firings, as in the reference, so
    /// a stable choice keeps firing step after step.
    pub fn observe(&mut self, choice: Vec<bool>) -> TriggerCheck {
        let check = if self.history.len() > self.window {
            let start = self.history.len() - self.window;
            let mean = self
                .history
                .range(start..)
                .map(|past| cosine(&choice, past))
                .sum::<f64>()
                / self.window as f64;
            TriggerCheck {
                mean_cosine: Some(mean),
                fired: mean >= self.threshold,
            }
        } else {
            TriggerCheck {
                mean_cosine: None,
                fired: false,
            }
        };
        self.history.push_back(choice);
        // Only the last `window` are ever compared, but the count matters until
        // it first exceeds the window: keep one more.
        if self.history.len() > self.window + 1 {
            self.history.pop_front();
        }
        check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_fill_skips_what_does_not_fit() {
        // Sensitivity order: 2, 0, 3, 1. Budget 10: take 2 (6), 0 (5) does not
        // fit, 3 (4) fits → 10, stop.
        let chosen = greedy_fill(
            &[0.5, 0.1, 0.9, 0.3],
            &[5.0, 1.0, 6.0, 4.0],
            &[false; 4],
            10.0,
        );
        assert_eq!(chosen, vec![false, false, true, true]);
        // Slot 2 pruned: it comes last whatever its sensitivity. Live order
        // 0 (5), 3 (4) → 9, 1 (1) → 10, stop before slot 2.
        let chosen = greedy_fill(
            &[0.5, 0.1, 0.9, 0.3],
            &[5.0, 1.0, 6.0, 4.0],
            &[false, false, true, false],
            10.0,
        );
        assert_eq!(chosen, vec![true, true, false, true]);
        // A pruned rank-searchable slot counts 0 (its refreshed size): it is
        // marked after the live ones, although the budget is full (0 fits).
        // Live: 0 (5) → 5, 3 (4) → 9, 1 (1) → 10 = budget: the fill stops.
        // With budget 9.5: 0, 3 → 9; 1 does not fit; 2 (0) fits → marked.
        let chosen = greedy_fill(
            &[0.5, 0.1, 0.9, 0.3],
            &[5.0, 1.0, 0.0, 4.0],
            &[false, false, true, false],
            9.5,
        );
        assert_eq!(chosen, vec![true, false, true, true]);
        // A pruned on/off slot keeps its size and is marked only if it fits.
        let chosen = greedy_fill(
            &[0.5, 0.1, 0.9, 0.3],
            &[5.0, 1.0, 6.0, 4.0],
            &[false, false, true, false],
            9.5,
        );
        assert_eq!(chosen, vec![true, false, false, true]);
    }

    #[test]
    fn fires_on_the_seventh_stable_choice() {
        let mut trigger = Trigger::new(5, 0.85);
        let stable = vec![true, true, false, false];
        for _ in 0..6 {
            let check = trigger.observe(stable.clone());
            assert!(!check.fired && check.mean_cosine.is_none());
        }
        let check = trigger.observe(stable.clone());
        assert!(check.fired);
        assert!((check.mean_cosine.unwrap() - 1.0).abs() < 1e-12);
        // Still stable: fires again.
        assert!(trigger.observe(stable).fired);
    }

    #[test]
    fn changing_choices_do_not_fire() {
        let mut trigger = Trigger::new(5, 0.85);
        let a = vec![true, true, false, false];
        let b = vec![true, false, true, false];
        for i in 0..6 {
            trigger.observe(if i % 2 == 0 { a.clone() } else { b.clone() });
        }
        // History (last five): b a b a b; cos(a, a) = 1, cos(a, b) = 1/2.
        let check = trigger.observe(a);
        let mean = (0.5 + 1.0 + 0.5 + 1.0 + 0.5) / 5.0;
        assert!((check.mean_cosine.unwrap() - mean).abs() < 1e-12);
        assert!(!check.fired);
        // An empty choice gives NaN and never fires.
        assert!(!trigger.observe(vec![false; 4]).fired);
    }
}
