//! Task metrics: the functions (checked against scikit-learn / scipy on fixed
//! vectors, `tests/fixtures/metrics/`) and [`evaluate`], which scores a task's
//! predictions with the paper's metrics for that task.
//!
//! Values are fractions in [0, 1] (the reference reports them × 100).

pub mod classification;
pub mod correlation;
pub mod metric;
pub mod qa;

pub use classification::{accuracy, binary_f1, macro_f1, matthews};
pub use correlation::{average_ranks, pearson, spearman};
pub use metric::Metric;
pub use qa::{multirc_scores, normalize_answer, record_scores, token_f1};

use crate::data::task::LabelSpace;
use crate::data::text2text::Prediction;
use crate::data::{Label, TaskInfo};
use crate::error::{Error, Result};

/// A task's scores, in the order of its metrics (the first picks checkpoints).
#[derive(Debug, Clone, PartialEq)]
pub struct Scores(pub Vec<(Metric, f64)>);

impl Scores {
    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.0.iter().find(|(m, _)| *m == metric).map(|(_, v)| *v)
    }

    /// The first metric's value.
    pub fn main(&self) -> Option<f64> {
        self.0.first().map(|(_, v)| *v)
    }

    /// Metric names to values.
    pub fn to_map(&self) -> std::collections::BTreeMap<String, f64> {
        self.0
            .iter()
            .map(|(m, v)| (m.name().to_string(), *v))
            .collect()
    }
}

/// One scored example: the model's prediction, the gold label and the
/// example's group (MultiRC question, ReCoRD query).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub prediction: Prediction,
    pub label: Label,
    pub group: Option<u64>,
}

/// A regression prediction that is no number scores as this, the reference's
/// `string_to_float` default: outside STS-B's 0..5, so it is always wrong.
pub const INVALID_SCORE: f64 = -1.0;

/// Scores `outcomes` with the task's metrics. An invalid prediction is
/// always wrong: for two classes it counts as the other class (as the
/// reference's `f1_score_with_invalid` does), for more as a class of its own;
/// for regression as [`INVALID_SCORE`]. ReCoRD takes one outcome per query
/// (later outcomes of a query already seen are ignored).
pub fn evaluate(info: &TaskInfo, outcomes: &[Outcome]) -> Result<Scores> {
    if outcomes.is_empty() {
        return Err(Error::InvalidInput("no predictions to score".into()));
    }
    let mismatch = |o: &Outcome| {
        Error::InvalidInput(format!(
            "task {} cannot score prediction {:?} against label {:?}",
            info.name, o.prediction, o.label
        ))
    };
    let mut values = Vec::with_capacity(info.metrics.len());
    match &info.labels {
        LabelSpace::Classes(names) => {
            let classes = names.len();
            let mut predictions = Vec::with_capacity(outcomes.len());
            let mut targets = Vec::with_capacity(outcomes.len());
            for o in outcomes {
                let Label::Class(target) = o.label else {
                    return Err(mismatch(o));
                };
                let predicted = match o.prediction {
                    Prediction::Class(c) if c < classes => c,
                    Prediction::Class(_) | Prediction::Invalid if classes == 2 => 1 - target.min(1),
                    Prediction::Class(_) | Prediction::Invalid => classes,
                    _ => return Err(mismatch(o)),
                };
                predictions.push(predicted);
                targets.push(target);
            }
            let groups: Vec<u64> = outcomes.iter().map(|o| o.group.unwrap_or(0)).collect();
            for &metric in &info.metrics {
                let value = match metric {
                    Metric::Accuracy | Metric::ExactMatch => accuracy(&predictions, &targets)?,
                    Metric::F1 => binary_f1(&predictions, &targets)?,
                    Metric::MacroF1 => macro_f1(&predictions, &targets, classes, 0.0)?,
                    Metric::Matthews => matthews(&predictions, &targets)?,
                    Metric::MultiRcF1 => multirc_scores(&predictions, &targets, &groups)?.0,
                    Metric::MultiRcExactMatch => multirc_scores(&predictions, &targets, &groups)?.1,
                    other => return Err(unsupported(info, other)),
                };
                values.push((metric, value));
            }
        }
        LabelSpace::Regression => {
            let mut predictions = Vec::with_capacity(outcomes.len());
            let mut targets = Vec::with_capacity(outcomes.len());
            for o in outcomes {
                let Label::Score(target) = o.label else {
                    return Err(mismatch(o));
                };
                predictions.push(match o.prediction {
                    Prediction::Score(s) => s,
                    Prediction::Invalid => INVALID_SCORE,
                    _ => return Err(mismatch(o)),
                });
                targets.push(target);
            }
            for &metric in &info.metrics {
                let value = match metric {
                    Metric::Pearson => pearson(&predictions, &targets)?,
                    Metric::Spearman => spearman(&predictions, &targets)?,
                    other => return Err(unsupported(info, other)),
                };
                values.push((metric, value));
            }
        }
        LabelSpace::Answers => {
            let mut seen = std::collections::HashSet::new();
            let mut predictions = Vec::new();
            let mut answers: Vec<&[String]> = Vec::new();
            for o in outcomes {
                let Label::Answers(gold) = &o.label else {
                    return Err(mismatch(o));
                };
                if let Some(group) = o.group {
                    if !seen.insert(group) {
                        continue;
                    }
                }
                predictions.push(match &o.prediction {
                    Prediction::Text(t) => t.as_str(),
                    Prediction::Invalid => "",
                    _ => return Err(mismatch(o)),
                });
                answers.push(gold);
            }
            let (f1, em) = record_scores(&predictions, &answers)?;
            for &metric in &info.metrics {
                let value = match metric {
                    Metric::RecordF1 => f1,
                    Metric::RecordExactMatch | Metric::ExactMatch => em,
                    other => return Err(unsupported(info, other)),
                };
                values.push((metric, value));
            }
        }
    }
    Ok(Scores(values))
}

fn unsupported(info: &TaskInfo, metric: Metric) -> Error {
    Error::InvalidInput(format!(
        "metric {} does not apply to task {}",
        metric.name(),
        info.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Benchmark;

    fn outcome(prediction: Prediction, label: Label) -> Outcome {
        Outcome {
            prediction,
            label,
            group: None,
        }
    }

    #[test]
    fn invalid_predictions_are_wrong() {
        let info = TaskInfo::of(Benchmark::Mrpc);
        let outcomes = vec![
            outcome(Prediction::Invalid, Label::Class(1)),
            outcome(Prediction::Invalid, Label::Class(0)),
            outcome(Prediction::Class(1), Label::Class(1)),
        ];
        let scores = evaluate(&info, &outcomes).unwrap();
        // As predictions [0, 1, 1] against [1, 0, 1]: tp 1, fp 1, fn 1.
        assert_eq!(scores.get(Metric::F1), Some(0.5));
        assert_eq!(scores.get(Metric::Accuracy), Some(1.0 / 3.0));
        let cb = TaskInfo::of(Benchmark::Cb);
        let scores = evaluate(&cb, &[outcome(Prediction::Invalid, Label::Class(2))]).unwrap();
        assert_eq!(scores.get(Metric::Accuracy), Some(0.0));
    }

    #[test]
    fn record_scores_each_query_once() {
        let info = TaskInfo::of(Benchmark::Record);
        let gold = Label::Answers(vec!["Bob".into(), "Bobby".into()]);
        let mut outcomes = vec![
            outcome(Prediction::Text("Bob".into()), gold.clone()),
            outcome(Prediction::Text("Anna".into()), gold),
        ];
        outcomes[0].group = Some(3);
        outcomes[1].group = Some(3);
        let scores = evaluate(&info, &outcomes).unwrap();
        assert_eq!(scores.to_map()["record_em"], 1.0);
    }

    #[test]
    fn mismatched_kinds_are_errors() {
        let info = TaskInfo::of(Benchmark::Stsb);
        assert!(evaluate(&info, &[outcome(Prediction::Class(1), Label::Score(1.0))]).is_err());
        assert!(evaluate(&info, &[]).is_err());
    }
}
