//! A task ready for retraining: read from the user's folder, split by the
//! S3Delta protocol (docs/algorithm.md §7) and tokenised for the model.

use std::path::Path;

use crate::backbone::BackboneConfig;
use crate::data::{
    load_task, tokenize_task, EncodedTarget, ExampleRef, Formulation, SplitName, SplitOptions,
    Splits, TaskData, TaskSource, TokenizeOptions, TokenizedTask,
};
use crate::error::{Error, Result};
use crate::loader::TextTokenizer;

use super::settings::TrainSettings;

/// The shortest input length a task is tokenised to (a model's special tokens).
pub const MIN_LENGTH: usize = 2;

/// Every token id (inputs and T5 targets) is a row of the model's embeddings.
fn check_vocabulary(tokenized: &TokenizedTask, vocab: usize) -> Result<()> {
    let ids = tokenized.parts.iter().flat_map(|p| &p.items).flat_map(|item| {
        let targets: &[u32] = match &item.target {
            EncodedTarget::Tokens(t) => t,
            _ => &[],
        };
        item.input_ids.iter().chain(targets)
    });
    match ids.max() {
        Some(&id) if id as usize >= vocab => Err(Error::InvalidInput(format!(
            "the tokenizer gives token id {id}, but the model's config.json has vocab_size {vocab}: \
             the tokenizer does not belong to this model"
        ))),
        _ => Ok(()),
    }
}

/// The task's data, splits and tokens.
pub struct PreparedTask {
    pub data: TaskData,
    pub splits: Splits,
    pub tokenized: TokenizedTask,
    /// Validation and test are cut to this many examples (settings).
    pub max_eval_examples: Option<usize>,
}

impl PreparedTask {
    /// Reads `source` from `dir` and tokenises it for the `model` backbone
    /// ([`Self::from_data`] with the settings' split and lengths).
    pub fn load(
        source: &TaskSource,
        dir: &Path,
        tokenizer: &TextTokenizer,
        model: &BackboneConfig,
        settings: &TrainSettings,
    ) -> Result<Self> {
        // A folder, or (the user's own task) a single training file.
        if !dir.exists() {
            return Err(Error::MissingFile {
                path: dir.to_path_buf(),
                hint: "the data directory does not exist".into(),
            });
        }
        let data = load_task(source, dir)?;
        Self::from_data(
            data,
            &SplitOptions {
                seed: settings.seed,
                max_train_examples: settings.max_train_examples,
                validation_from_train: settings.validation_from_train,
            },
            tokenizer,
            model,
            settings.max_length,
            settings.max_eval_examples,
        )
    }

    /// Splits `data` and tokenises it for the `model` backbone: what a search
    /// (from the command line or the page) and a retrain both start from.
    /// Inputs are cut to what the model's position embeddings cover (a note
    /// says so when that is shorter than the task's length); a tokenizer whose
    /// ids the model's embeddings do not cover is an error.
    pub fn from_data(
        data: TaskData,
        split: &SplitOptions,
        tokenizer: &TextTokenizer,
        model: &BackboneConfig,
        max_length: Option<usize>,
        max_eval_examples: Option<usize>,
    ) -> Result<Self> {
        let mut splits = Splits::new(&data, split)?;
        let mut options =
            TokenizeOptions::new(&data.info, Formulation::for_model_type(model.model_type()));
        if let Some(max) = max_length {
            if max < MIN_LENGTH {
                return Err(Error::InvalidInput(format!(
                    "max length {max}: an input needs at least {MIN_LENGTH} tokens (its special tokens)"
                )));
            }
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
        check_vocabulary(&tokenized, model.shape().vocab)?;
        Ok(PreparedTask {
            data,
            splits,
            tokenized,
            max_eval_examples,
        })
    }

    /// SHA-256 (hex) of what training sees: the training split's examples
    /// and their tokens and targets. A run resumed on data that changed under
    /// it would continue at a step of another plan; this tells it apart.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(self.data.info.name.as_bytes());
        for r in &self.splits.train {
            hash.update(format!("{:?}:{}", r.part, r.index).as_bytes());
            let Some(part) = self.tokenized.part(r.part) else {
                continue;
            };
            for item in &part.items[part.items_of(r.index)] {
                for id in item.input_ids.iter().chain(&item.type_ids) {
                    hash.update(id.to_le_bytes());
                }
                hash.update(format!("{:?}", item.target).as_bytes());
            }
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
