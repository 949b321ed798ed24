//! A task ready for retraining: read from the user's folder, split by the
//! S3Delta protocol (ALGORITHM.md §7) and tokenised for the model.

use std::path::Path;

use crate::backbone::BackboneConfig;
use crate::data::{
    load_task, tokenize_task, ExampleRef, Formulation, SplitName, SplitOptions, Splits, TaskData,
    TaskSource, TokenizeOptions, TokenizedTask,
};
use crate::error::{Error, Result};
use crate::loader::TextTokenizer;

use super::settings::TrainSettings;

/// The task's data, splits and tokens.
pub struct PreparedTask {
    pub data: TaskData,
    pub splits: Splits,
    pub tokenized: TokenizedTask,
    /// Validation and test are cut to this many examples (settings).
    pub max_eval_examples: Option<usize>,
}

impl PreparedTask {
    /// Reads `source` from `dir` and tokenises it for the `model` backbone.
    /// Inputs are cut to what the model's position embeddings cover (a note
    /// says so when that is shorter than the task's length).
    pub fn load(
        source: &TaskSource,
        dir: &Path,
        tokenizer: &TextTokenizer,
        model: &BackboneConfig,
        settings: &TrainSettings,
    ) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::MissingFile {
                path: dir.to_path_buf(),
                hint: "the data directory does not exist".into(),
            });
        }
        let data = load_task(source, dir)?;
        let mut splits = Splits::new(
            &data,
            &SplitOptions {
                seed: settings.seed,
                max_train_examples: settings.max_train_examples,
            },
        )?;
        let mut options =
            TokenizeOptions::new(&data.info, Formulation::for_model_type(model.model_type()));
        if let Some(max) = settings.max_length {
            options.max_length = max;
        }
        if let BackboneConfig::Bert(c) = model {
            let positions = c.max_sequence_length();
            if options.max_length > positions {
                splits.notes.push(format!(
                    "inputs are cut to {positions} tokens, the longest the model's position embeddings cover"
                ));
                options.max_length = positions;
            }
        }
        let tokenized = tokenize_task(&data, tokenizer, &options)?;
        Ok(PreparedTask {
            data,
            splits,
            tokenized,
            max_eval_examples: settings.max_eval_examples,
        })
    }

    /// [`Self::load`] with the tokenizer and config of `backbone`.
    pub fn for_backbone(
        source: &TaskSource,
        dir: &Path,
        backbone: &super::model::Backbone,
        settings: &TrainSettings,
    ) -> Result<Self> {
        let tokenizer = backbone.files.require_tokenizer()?;
        Self::load(source, dir, tokenizer, &backbone.config, settings)
    }

    /// The examples of `split` that are scored: evaluation splits are cut
    /// to `max_eval_examples`. An empty split is an error naming it.
    pub fn split(&self, split: SplitName) -> Result<&[ExampleRef]> {
        let all = self.splits.get(split);
        let n = match split {
            SplitName::Validation | SplitName::Test | SplitName::TestMismatched => self
                .max_eval_examples
                .map_or(all.len(), |m| m.min(all.len())),
            _ => all.len(),
        };
        if n == 0 {
            return Err(Error::InvalidInput(format!(
                "task {} has no {} examples",
                self.data.info.name,
                split.name()
            )));
        }
        Ok(&all[..n])
    }
}
