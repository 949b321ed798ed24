//! The metrics a task can be scored with, by name (the task definitions name
//! theirs; [`super::evaluate`] computes them).

/// A metric a task is scored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Accuracy,
    /// Binary F1 of class 1.
    F1,
    /// Unweighted mean of per-class F1 (`zero_division=0`).
    MacroF1,
    Matthews,
    Pearson,
    Spearman,
    /// Exact string match of the predicted text.
    ExactMatch,
    MultiRcF1,
    MultiRcExactMatch,
    RecordF1,
    RecordExactMatch,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::F1 => "f1",
            Metric::MacroF1 => "macro_f1",
            Metric::Matthews => "matthews",
            Metric::Pearson => "pearson",
            Metric::Spearman => "spearman",
            Metric::ExactMatch => "exact_match",
            Metric::MultiRcF1 => "multirc_f1",
            Metric::MultiRcExactMatch => "multirc_em",
            Metric::RecordF1 => "record_f1",
            Metric::RecordExactMatch => "record_em",
        }
    }
}
