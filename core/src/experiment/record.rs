//! A finished cell's result, as stored in `OUT/cells/<cell>.json`: the
//! score on the test split, what the configuration cost, and how long the
//! search and the retrain took.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::budget::Budget;
use super::cell::Cell;
use super::method::Method;

/// The `format` field of a cell file.
pub const CELL_FORMAT: &str = "bipeft-experiment-cell";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// Always [`CELL_FORMAT`].
    pub format: String,
    pub id: String,
    /// [`Cell::fingerprint`] of the cell that made this result.
    pub fingerprint: String,
    pub model: String,
    pub task: String,
    pub budget: Budget,
    /// The budget in parameters, as the search resolved it on the backbone.
    pub budget_params: u64,
    pub method: Method,
    pub seed: u64,
    /// The task's main metric (the first of its metrics).
    pub metric: String,
    /// The main metric's value on the test split, a fraction.
    pub score: f64,
    /// Every metric of the task on the test split.
    pub scores: BTreeMap<String, f64>,
    /// Trainable parameters of the PEFT modules (the head is not counted).
    pub trainable_params: u64,
    pub modules: usize,
    /// Wall-clock seconds of the search (of sizing, for a baseline).
    pub search_seconds: f64,
    /// Wall-clock seconds of retraining and scoring.
    pub retrain_seconds: f64,
    #[serde(default)]
    pub notes: Vec<String>,
    /// [`super::cell::version_of`] its method when this result was made
    /// (1 for records written before it was kept).
    #[serde(default = "first_search_version")]
    pub search_version: u32,
    /// The bipeft build that computed the cell (the commit its source was built from), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computed_with: Option<String>,
    /// The main metric on the test split of always predicting the training
    /// split's most frequent class (none for regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub majority_score: Option<f64>,
}

fn first_search_version() -> u32 {
    1
}

/// What running a cell measured; [`CellRecord::new`] adds the cell's identity.
#[derive(Clone, Debug, PartialEq)]
pub struct CellOutcome {
    pub budget_params: u64,
    pub metric: String,
    pub score: f64,
    pub scores: BTreeMap<String, f64>,
    pub trainable_params: u64,
    pub modules: usize,
    pub search_seconds: f64,
    pub retrain_seconds: f64,
    pub notes: Vec<String>,
    pub majority_score: Option<f64>,
}

impl CellRecord {
    pub fn new(cell: &Cell, outcome: CellOutcome) -> CellRecord {
        CellRecord {
            format: CELL_FORMAT.into(),
            id: cell.id(),
            fingerprint: cell.fingerprint(),
            model: cell.model.clone(),
            task: cell.task.clone(),
            budget: cell.budget,
            budget_params: outcome.budget_params,
            method: cell.method,
            seed: cell.seed,
            metric: outcome.metric,
            score: outcome.score,
            scores: outcome.scores,
            trainable_params: outcome.trainable_params,
            modules: outcome.modules,
            search_seconds: outcome.search_seconds,
            retrain_seconds: outcome.retrain_seconds,
            notes: outcome.notes,
            search_version: super::cell::version_of(cell.method),
            computed_with: option_env!("BIPEFT_BUILD").map(str::to_string),
            majority_score: outcome.majority_score,
        }
    }

    /// Whether this record comes from an older search than this build's.
    pub fn is_from_older_search(&self) -> bool {
        self.search_version < super::cell::version_of(self.method)
    }

    /// Whether this record is the result of `cell` as it is now planned.
    pub fn is_of(&self, cell: &Cell) -> bool {
        self.format == CELL_FORMAT && self.id == cell.id() && self.fingerprint == cell.fingerprint()
    }
}
