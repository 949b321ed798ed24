//! What a search run did, step by step, for progress output and `--json`
//! reports: per-epoch losses and temperatures, every selection step with the
//! names of what it pruned and fixed, and where it stopped.

use serde::{Deserialize, Serialize};

use super::selector::SelectionStep;

/// One event of a search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SearchEvent {
    /// A selection step fired (§6.3–6.4).
    Selection {
        epoch: usize,
        weight_step: usize,
        step: SelectionStep,
        pruned_names: Vec<String>,
        fixed_names: Vec<String>,
    },
    /// A batch with a non-finite loss was skipped.
    SkippedBatch {
        epoch: usize,
        weight_step: usize,
        architecture: bool,
    },
    /// An epoch ended.
    Epoch(EpochReport),
    /// The last selection step was taken: the search stops early.
    Stopped { epoch: usize, weight_step: usize },
}

/// Summary of one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub tau: f64,
    /// Mean task loss of the weight steps taken.
    pub weight_loss: f64,
    /// Mean task loss of the architecture steps taken.
    pub arch_loss: f64,
    pub weight_steps: usize,
    /// Expected trainable parameters at the end of the epoch (with selection on).
    pub expected_params: Option<f64>,
    /// Selection steps left (T).
    pub remaining_steps: Option<usize>,
}
