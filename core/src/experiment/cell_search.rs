//! What a cell asks of a search: its [`SearchSpec`], from the plan's search
//! settings, the cell's seed and data sizes, and the model and data read by
//! the caller (files on the command line, bytes elsewhere).

use super::cell::Cell;
use crate::data::{SplitOptions, TaskData};
use crate::error::Result;
use crate::session::{SearchOptions, SearchSpec, SelectionOptions};
use crate::space::SpaceDef;
use crate::train::model::Backbone;

impl Cell {
    /// The search (or, for a baseline, the sizing) of this cell. Settings
    /// the plan leaves unset keep `bipeft search`'s defaults.
    pub fn search_spec(&self, backbone: Backbone, data: TaskData) -> Result<SearchSpec> {
        let s = &self.search;
        let defaults = SearchOptions::default();
        let selection = SelectionOptions::default();
        Ok(SearchSpec {
            backbone,
            data,
            split: SplitOptions {
                seed: self.seed,
                max_train_examples: self.max_train_examples,
                validation_from_train: self.validation_from_train,
            },
            max_length: self.max_length,
            space: SpaceDef::resolve(&s.space)?,
            budget: self.budget,
            method: self.method,
            options: SearchOptions {
                epochs: s.epochs,
                batch_size: s.batch_size,
                seed: self.seed,
                weight_lr: s.weight_lr.unwrap_or(defaults.weight_lr),
                arch_lr: s.arch_lr.unwrap_or(defaults.arch_lr),
                selection: Some(SelectionOptions {
                    start_epoch: s.selection_start_epoch,
                    max_steps: s.max_selection_steps,
                    trigger_threshold: s.trigger_threshold.unwrap_or(selection.trigger_threshold),
                    ..selection
                }),
                fixed_length: false,
            },
        })
    }
}
