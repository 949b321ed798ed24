//! Adaptive binary module selection (ALGORITHM.md §6.3): each selection step
//! removes a share Δ = (E − B) / T of the distance between the expected size E
//! and the budget B, pruning the least sensitive live modules.
//!
//! As in the reference code, a module that does not fit is skipped, not a
//! stop: the visit goes on and may still take smaller, more sensitive modules
//! that fit in what is left of Δ.

/// Chooses the modules to prune for a step of `delta` parameters. Live modules
/// are visited in ascending sensitivity (ties in slot order); one is taken when
/// the pruned total still fits within `delta`, and the least sensitive one is
/// taken regardless when `delta > 0` and nothing fitted before it; the visit
/// stops once the total exceeds `delta`. `counts` are the modules' expected
/// sizes. Returns slot indices in the order they were taken.
pub fn modules_to_prune(
    sensitivity: &[f64],
    counts: &[f64],
    pruned: &[bool],
    delta: f64,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sensitivity.len()).filter(|&m| !pruned[m]).collect();
    order.sort_by(|&a, &b| sensitivity[a].total_cmp(&sensitivity[b]));
    let mut taken = Vec::new();
    let mut total = 0.0;
    for m in order {
        if total + counts[m] <= delta || (delta > 0.0 && taken.is_empty()) {
            taken.push(m);
            total += counts[m];
        }
        if total > delta {
            break;
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_least_sensitive_within_delta() {
        // Ascending: 3 (c 2), 1 (c 5), 0 (c 1), 2 (c 9). Δ = 4: take 3 → 2, 1 does
        // not fit, 0 → 3, 2 does not fit.
        let taken = modules_to_prune(
            &[0.4, 0.2, 0.9, 0.1],
            &[1.0, 5.0, 9.0, 2.0],
            &[false; 4],
            4.0,
        );
        assert_eq!(taken, vec![3, 0]);
    }

    #[test]
    fn takes_at_least_one_when_over_budget() {
        // The least sensitive module is bigger than Δ: pruned anyway, then stop.
        let taken = modules_to_prune(&[0.1, 0.5], &[10.0, 1.0], &[false; 2], 3.0);
        assert_eq!(taken, vec![0]);
    }

    #[test]
    fn nothing_when_under_budget_and_skips_pruned() {
        assert!(modules_to_prune(&[0.1, 0.5], &[10.0, 1.0], &[false; 2], -4.0).is_empty());
        let taken = modules_to_prune(
            &[0.1, 0.5, 0.3],
            &[1.0, 1.0, 1.0],
            &[true, false, false],
            1.0,
        );
        assert_eq!(taken, vec![2]);
    }
}
