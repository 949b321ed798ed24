//! Adaptive binary module selection (docs/algorithm.md §6.3): each selection step
//! removes a share Δ = (E − B) / T of the distance between the expected size E
//! and the budget B, pruning the least sensitive live modules.
//!
//! In the reference code a module that does not fit is skipped, not a stop:
//! the walk goes on and may still take smaller, more sensitive modules that
//! fit in what is left of Δ. docs/algorithm.md's wording ("while the pruned total
//! stays ≤ Δ") also reads as stopping there; [`PruneScan`] selects either.

use super::config::PruneScan;

/// Chooses the modules to prune for a step of `delta` parameters. Live modules
/// are visited in ascending sensitivity (ties in slot order); one is taken when
/// the pruned total still fits within `delta`, and the first one visited is
/// taken regardless when `delta > 0`; the walk stops once the total exceeds
/// `delta` (or, with [`PruneScan::StopAtMisfit`], at the first module that does
/// not fit). `counts` are the modules' expected sizes. Returns slot indices in
/// the order they were taken.
pub fn modules_to_prune(
    sensitivity: &[f64],
    counts: &[f64],
    pruned: &[bool],
    delta: f64,
    scan: PruneScan,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sensitivity.len()).filter(|&m| !pruned[m]).collect();
    order.sort_by(|&a, &b| sensitivity[a].total_cmp(&sensitivity[b]));
    let mut taken = Vec::new();
    let mut total = 0.0;
    for m in order {
        if total + counts[m] <= delta || (delta > 0.0 && taken.is_empty()) {
            taken.push(m);
            total += counts[m];
        } else if scan == PruneScan::StopAtMisfit {
            break;
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
        let (sens, counts) = ([0.4, 0.2, 0.9, 0.1], [1.0, 5.0, 9.0, 2.0]);
        let taken = modules_to_prune(&sens, &counts, &[false; 4], 4.0, PruneScan::SkipMisfits);
        assert_eq!(taken, vec![3, 0]);
        // Stopping at module 1, which does not fit, spares module 0.
        let taken = modules_to_prune(&sens, &counts, &[false; 4], 4.0, PruneScan::StopAtMisfit);
        assert_eq!(taken, vec![3]);
    }

    #[test]
    fn takes_at_least_one_when_over_budget() {
        // The least sensitive module is bigger than Δ: pruned anyway, then stop.
        for scan in [PruneScan::SkipMisfits, PruneScan::StopAtMisfit] {
            let taken = modules_to_prune(&[0.1, 0.5], &[10.0, 1.0], &[false; 2], 3.0, scan);
            assert_eq!(taken, vec![0]);
        }
    }

    #[test]
    fn nothing_when_under_budget_and_skips_pruned() {
        let skip = PruneScan::SkipMisfits;
        assert!(modules_to_prune(&[0.1, 0.5], &[10.0, 1.0], &[false; 2], -4.0, skip).is_empty());
        let pruned = [true, false, false];
        let taken = modules_to_prune(&[0.1, 0.5, 0.3], &[1.0; 3], &pruned, 1.0, skip);
        assert_eq!(taken, vec![2]);
    }
}
