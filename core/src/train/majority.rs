//! The floor every method has to clear: the test scores of a predictor that
//! answers every example with the class most frequent in the training split.
//! A result near it has learnt nothing from the task, however its parameters
//! were chosen.

use crate::data::text2text::Prediction;
use crate::data::{Label, LabelSpace, SplitName};
use crate::error::Result;
use crate::metrics::{evaluate, Outcome, Scores};

use super::task::PreparedTask;

/// The scores on `split` of always predicting the training split's most
/// frequent class (the lower index on a tie). `None` where no constant
/// prediction has a score: regression (a correlation with a constant is
/// undefined) and ReCoRD's answer texts.
pub fn majority_class_scores(task: &PreparedTask, split: SplitName) -> Result<Option<Scores>> {
    let LabelSpace::Classes(names) = &task.data.info.labels else {
        return Ok(None);
    };
    let example = |r: &crate::data::ExampleRef| &task.data.examples(r.part)[r.index];
    let mut counts = vec![0usize; names.len()];
    for r in task.split(SplitName::Train)? {
        if let Label::Class(c) = example(r).label {
            if let Some(n) = counts.get_mut(c) {
                *n += 1;
            }
        }
    }
    let majority = majority_class(&counts);
    let outcomes: Vec<Outcome> = task
        .split(split)?
        .iter()
        .map(|r| {
            let e = example(r);
            Outcome {
                prediction: Prediction::Class(majority),
                label: e.label.clone(),
                group: e.group,
            }
        })
        .collect();
    evaluate(&task.data.info, &outcomes).map(Some)
}

/// The index of the largest count, the lowest index on a tie.
fn majority_class(counts: &[usize]) -> usize {
    let mut best = 0;
    for (c, &n) in counts.iter().enumerate() {
        if n > counts[best] {
            best = c;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_frequent_class_and_the_lower_on_a_tie() {
        assert_eq!(majority_class(&[3, 5, 1]), 1);
        assert_eq!(majority_class(&[4, 4]), 0);
        assert_eq!(majority_class(&[0, 0, 2]), 2);
    }
}
