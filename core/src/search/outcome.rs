//! How a search ended, in words a user reads (docs/algorithm.md §6.5): whether the
//! budget-guided selection ran to its end (T reached 0), and, when the result
//! uses less than 90% of its budget, why.

use super::trace::SearchEvent;

/// What the summary of a search says about its selection and its size.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectionOutcome {
    /// Early selection was on.
    pub selection_on: bool,
    /// T reached 0 (the search stopped there).
    pub finished: bool,
    /// T left at the end (with selection on).
    pub remaining_steps: Option<usize>,
    /// Selection steps taken.
    pub selection_steps: usize,
    /// The weight step at which T reached 0 (the search stopped there).
    pub stopped_at: Option<usize>,
    pub trainable_params: u64,
    pub budget_params: u64,
}

/// Below this share of the budget the summary says why.
pub const LOW_BUDGET_SHARE: f64 = 0.9;

impl SelectionOutcome {
    /// The outcome of a search that recorded `events`; `remaining_steps` is T
    /// at its end, `None` when selection was off.
    pub fn of(
        events: &[SearchEvent],
        stopped_early: bool,
        remaining_steps: Option<usize>,
        trainable_params: u64,
        budget_params: u64,
    ) -> Self {
        SelectionOutcome {
            selection_on: remaining_steps.is_some(),
            finished: stopped_early,
            remaining_steps,
            selection_steps: events
                .iter()
                .filter(|e| matches!(e, SearchEvent::Selection { .. }))
                .count(),
            stopped_at: events.iter().find_map(|e| match e {
                SearchEvent::Stopped { weight_step, .. } => Some(*weight_step),
                _ => None,
            }),
            trainable_params,
            budget_params,
        }
    }

    /// The share of the budget the result uses.
    pub fn budget_share(&self) -> f64 {
        self.trainable_params as f64 / self.budget_params.max(1) as f64
    }

    /// One line on the selection, and one more when the result uses less
    /// than 90% of its budget.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let share = 100.0 * self.budget_share();
        if !self.selection_on {
            lines.push(
                "budget-guided selection was off: on/off and ranks are the logits' argmax".into(),
            );
        } else if self.finished {
            lines.push(format!(
                "budget-guided selection ran to its end: T reached 0 after {} selection steps{}",
                self.selection_steps,
                self.stopped_at
                    .map_or(String::new(), |w| format!(", at weight step {w}"))
            ));
        } else {
            lines.push(format!(
                "budget-guided selection did not finish: {} of its steps were left when the epochs ran \
                 out ({} taken); give the search more epochs (--epochs) or fewer steps \
                 (--max-selection-steps)",
                self.remaining_steps.unwrap_or(0),
                self.selection_steps
            ));
        }
        if self.budget_share() < LOW_BUDGET_SHARE {
            let why = if !self.selection_on {
                "without selection the logits' own choice decides the size"
            } else if !self.finished {
                "the selection stopped before it brought the expected size to the budget"
            } else {
                "the last selection steps pruned past the budget (a module is pruned whole)"
            };
            lines.push(format!("the result uses {share:.1}% of its budget: {why}"));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(selection_on: bool, finished: bool, trainable_params: u64) -> SelectionOutcome {
        SelectionOutcome {
            selection_on,
            finished,
            remaining_steps: Some(if finished { 0 } else { 7 }),
            selection_steps: 22,
            stopped_at: finished.then_some(40),
            trainable_params,
            budget_params: 1000,
        }
    }

    #[test]
    fn says_how_the_selection_ended_and_why_the_budget_is_not_used() {
        let done = outcome(true, true, 950).lines();
        assert_eq!(done.len(), 1);
        assert!(
            done[0].contains("ran to its end")
                && done[0].contains("after 22 selection steps, at weight step 40"),
            "{done:?}"
        );
        let short = outcome(true, false, 550).lines();
        assert!(
            short[0].contains("did not finish: 7 of its steps"),
            "{short:?}"
        );
        assert!(short[1].contains("55.0% of its budget") && short[1].contains("stopped before"));
        let off = outcome(false, false, 400).lines();
        assert!(
            off[0].contains("off") && off[1].contains("40.0%"),
            "{off:?}"
        );
    }
}
