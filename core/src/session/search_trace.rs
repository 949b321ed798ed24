//! `search_trace.json`: what a search did, step by step, in one shape for
//! every writer (the command line, the page) and every reader (the page's
//! inspect view, `bipeft inspect`).

use serde::{Deserialize, Serialize};

use crate::experiment::Method;
use crate::search::{DiscreteArchitecture, SearchConfig, SearchEvent, StepOutcome};
use crate::space::{Catalogue, Kind};

/// The trace's `format` field.
pub const TRACE_FORMAT: &str = "bipeft-search-trace";

/// One weight step of the search: its index and what the search reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: usize,
    #[serde(flatten)]
    pub outcome: StepOutcome,
}

/// A slot of the search space as the trace lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlotInfo {
    pub name: String,
    pub kind: Kind,
    pub ranks: Vec<usize>,
    pub params: Vec<u64>,
}

impl SlotInfo {
    /// Every slot of `catalogue`, in its order.
    pub fn of(catalogue: &Catalogue) -> Vec<SlotInfo> {
        catalogue
            .slots()
            .iter()
            .map(|s| SlotInfo {
                name: s.name.clone(),
                kind: s.kind,
                ranks: s.ranks.clone(),
                params: s.params.clone(),
            })
            .collect()
    }
}

/// A whole search (or a baseline's sizing, which has no steps).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchTrace {
    pub format: String,
    pub model_type: String,
    pub task: String,
    pub space: String,
    /// The method's name ([`Method::name`]: `bipeft`, `no_iter`, …).
    pub mode: String,
    pub seed: u64,
    pub budget_params: u64,
    pub backbone_params: u64,
    /// The search's settings; none for a baseline.
    pub config: Option<SearchConfig>,
    pub slots: Vec<SlotInfo>,
    pub steps: Vec<StepRecord>,
    pub events: Vec<SearchEvent>,
    pub stopped_early: bool,
    /// The discrete architecture the search ended with; none for a baseline.
    pub result: Option<DiscreteArchitecture>,
    /// What the end of the search did and why, in words.
    pub notes: Vec<String>,
    pub trainable_params: u64,
    /// Wall-clock seconds, where the writer can tell (the page cannot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

/// What a baseline's trace says besides its sizing.
pub struct BaselineTrace<'a> {
    pub method: Method,
    pub model_type: &'a str,
    pub task: &'a str,
    pub catalogue: &'a Catalogue,
    pub seed: u64,
    pub budget_params: u64,
    pub backbone_params: u64,
    pub trainable_params: u64,
}

impl SearchTrace {
    /// The trace of a hand-made baseline: no steps, one note on how much of
    /// the budget it uses.
    pub fn of_baseline(b: BaselineTrace<'_>) -> SearchTrace {
        let note = format!(
            "hand-made baseline `{}` sized to the budget: {} of {} parameters ({:.1}%)",
            b.method.name(),
            b.trainable_params,
            b.budget_params,
            100.0 * b.trainable_params as f64 / b.budget_params.max(1) as f64
        );
        SearchTrace {
            format: TRACE_FORMAT.into(),
            model_type: b.model_type.into(),
            task: b.task.into(),
            space: b.catalogue.space.name.clone(),
            mode: b.method.name().into(),
            seed: b.seed,
            budget_params: b.budget_params,
            backbone_params: b.backbone_params,
            config: None,
            slots: SlotInfo::of(b.catalogue),
            steps: Vec::new(),
            events: Vec::new(),
            stopped_early: false,
            result: None,
            notes: vec![note],
            trainable_params: b.trainable_params,
            seconds: None,
        }
    }
}
