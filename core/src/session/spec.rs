//! What a search is asked to do: the backbone, the task's data, the space,
//! the budget, the method and its options. Everything here is already read
//! (from files or bytes), so a spec is the same on the command line and in
//! the page.

use crate::data::{SplitOptions, TaskData};
use crate::error::{Error, Result};
use crate::experiment::{Budget, Method};
use crate::search::Criterion;
use crate::space::{Catalogue, SpaceDef};
use crate::train::model::Backbone;

/// A search to run.
pub struct SearchSpec {
    pub backbone: Backbone,
    pub data: TaskData,
    pub split: SplitOptions,
    /// Truncate inputs to this many tokens (default: the task's).
    pub max_length: Option<usize>,
    pub space: SpaceDef,
    pub budget: Budget,
    /// The search or one of its ablations (a baseline does not search).
    pub method: Method,
    pub options: SearchOptions,
}

/// The search's own options (docs/algorithm.md §5–6), with the command
/// line's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchOptions {
    /// Maximum search epochs (the search may stop early).
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// AdamW learning rate of the PEFT weights and head.
    pub weight_lr: f64,
    /// Adam learning rate of the architecture logits.
    pub arch_lr: f64,
    /// Budget-guided early selection; `None` runs the plain bi-level search
    /// (as does the method `no_early_selection`).
    pub selection: Option<SelectionOptions>,
    /// Pad every batch to the maximum length: one input shape for every
    /// step, so a GPU backend compiles its kernels once (the page sets it on
    /// WebGPU). The padding is masked out, so the losses are the same.
    pub fixed_length: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            epochs: 15,
            batch_size: 64,
            seed: 42,
            weight_lr: 3e-4,
            arch_lr: 0.01,
            selection: Some(SelectionOptions::default()),
            fixed_length: false,
        }
    }
}

/// Early selection's options (docs/algorithm.md §6).
#[derive(Clone, Debug, PartialEq)]
pub struct SelectionOptions {
    /// First (0-based) epoch of selection; default from the search's length
    /// ([`crate::search::default_selection_start`]).
    pub start_epoch: Option<usize>,
    /// T; default fitted to the search's length
    /// ([`crate::search::fitted_selection_steps`]).
    pub max_steps: Option<usize>,
    /// Mean cosine at which a selection step fires.
    pub trigger_threshold: f64,
    pub criterion: Criterion,
}

impl Default for SelectionOptions {
    fn default() -> Self {
        SelectionOptions {
            start_epoch: None,
            max_steps: None,
            trigger_threshold: 0.85,
            criterion: Criterion::TraValCos1,
        }
    }
}

/// A budget below the smallest module of the catalogue leaves nothing to
/// choose: an error naming both.
pub fn check_budget_fits(catalogue: &Catalogue, budget_params: u64) -> Result<()> {
    let smallest = catalogue
        .slots()
        .iter()
        .filter_map(|s| s.params.iter().copied().min())
        .min()
        .unwrap_or(0);
    if budget_params < smallest {
        return Err(Error::InvalidInput(format!(
            "a budget of {budget_params} parameters is below the smallest module of space `{}` \
             ({smallest} parameters)",
            catalogue.space.name
        )));
    }
    Ok(())
}
