//! A trained result on disk (`TRAINED_DIR`, also `bipeft export --format
//! bipeft`): everything needed to rebuild the model over its backbone.
//!
//! | file | what |
//! |---|---|
//! | `peft_config.json` | the configuration that was trained |
//! | `trained.json` | task, head size, settings, the best validation ([`TrainedManifest`]) |
//! | `weights.safetensors` | the best validation weights of the PEFT modules and the head, under burn's module paths (`peft.modules.lora.0.a`, `head.classifier.weight`, …) |
//! | `metrics.json` | the run's report (written last: a finished run has it) |
//! | `checkpoint.bin` | the full training state, for `--resume` |

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::backend::Backend;
use burn_store::{ApplyError, ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};

use crate::data::{Benchmark, CustomTask, LabelSpace, TaskSource};
use crate::error::{Error, Result};
use crate::peft_config::PeftConfig;

use super::atomic::{write_atomic, write_json_atomic};
use super::model::{Backbone, RetrainModel, Trainable};
use super::settings::TrainSettings;

pub const CONFIG_FILE: &str = "peft_config.json";
pub const MANIFEST_FILE: &str = "trained.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const METRICS_FILE: &str = "metrics.json";
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";

/// The `format` of `trained.json`.
pub const TRAINED_FORMAT: &str = "bipeft-trained";

/// `trained.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainedManifest {
    pub format: String,
    pub version: u32,
    /// The task's name (`sst2`, …, or the user's own task's).
    pub task: String,
    /// The user's own task as it was trained: its files' columns, its kind
    /// with the classes in the order the head's outputs follow, its length.
    /// Absent for a built-in task (which `task` names) and in results written
    /// before bipeft stored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_task: Option<CustomTask>,
    /// The backbone's `model_type`.
    pub model_type: String,
    /// The model directory it was trained over, made absolute (an export's
    /// `base_model_name_or_path` unless told otherwise).
    pub model_dir: String,
    /// Checkpoint key prefix of the backbone it was trained on ("" or `bert.`).
    pub key_prefix: String,
    /// Outputs of the head (classes, 1 for regression); 0 for T5.
    pub head_outputs: usize,
    pub settings: TrainSettings,
    /// Epoch (0-based) and step of the saved weights.
    pub best_epoch: usize,
    pub best_step: usize,
    pub validation: BTreeMap<String, f64>,
    /// Parameters of the PEFT modules (what the budget counts).
    pub peft_params: u64,
    /// Parameters of the head (pooler + classifier), trained too.
    pub head_params: u64,
}

impl TrainedManifest {
    /// Reads `dir/trained.json`; a folder without one is named as not a result.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        if !path.is_file() {
            return Err(Error::MissingFile {
                path,
                hint: "not a trained result (run `bipeft retrain` first)".into(),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let malformed = |message: String| Error::MalformedConfig {
            file: path.display().to_string(),
            message,
        };
        let manifest: TrainedManifest =
            serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        if manifest.format != TRAINED_FORMAT {
            return Err(malformed(format!(
                "format is \"{}\", expected \"{TRAINED_FORMAT}\"",
                manifest.format
            )));
        }
        Ok(manifest)
    }

    /// The task the result was trained on: the stored definition of the
    /// user's own task, else the built-in task `task` names.
    pub fn task_source(&self) -> Result<TaskSource> {
        if let Some(custom) = &self.custom_task {
            return Ok(TaskSource::Custom(custom.clone()));
        }
        match Benchmark::from_name(&self.task) {
            Ok(task) => Ok(TaskSource::Benchmark(task)),
            Err(_) => Err(Error::InvalidInput(format!(
                "the result names task {} but does not store its columns and labels \
                 (trained before bipeft kept them); retrain it",
                self.task
            ))),
        }
    }
}

/// What `trained.json` keeps of `source` ([`TrainedManifest::custom_task`]):
/// a custom task with its classes fixed to `labels`, the ones it was trained
/// with; nothing for a built-in task.
pub fn custom_definition(source: &TaskSource, labels: &LabelSpace) -> Option<CustomTask> {
    match source {
        TaskSource::Benchmark(_) => None,
        TaskSource::Custom(task) => Some(task.with_classes(labels)),
    }
}

/// The weights of `trainable` as safetensors bytes.
pub fn trainable_bytes<B: Backend>(trainable: &Trainable<B>) -> Result<Vec<u8>> {
    let mut store = SafetensorsStore::from_bytes(None);
    trainable
        .save_into(&mut store)
        .map_err(|e| Error::InvalidInput(format!("cannot write the weights: {e}")))?;
    store
        .get_bytes()
        .map_err(|e| Error::InvalidInput(format!("cannot write the weights: {e}")))
}

/// `trainable` with the weights of `bytes` (from [`trainable_bytes`]); every
/// tensor must be there with its shape, and nothing else.
pub fn load_trainable<B: Backend>(
    mut trainable: Trainable<B>,
    bytes: Vec<u8>,
    file: &str,
) -> Result<Trainable<B>> {
    let bad = |message: String| Error::Safetensors {
        file: file.to_string(),
        message,
    };
    // The checks below name the first problem in one line; the store's own
    // would print every tensor it found wanting.
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .validate(false)
        .allow_partial(true);
    let result = trainable
        .load_from(&mut store)
        .map_err(|e| bad(e.to_string()))?;
    if let Some(e) = result.errors.first() {
        let message = match e {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => format!(
                "tensor `{path}` has shape {:?}, expected {:?}: the weights are not of this configuration",
                found.as_slice(),
                expected.as_slice()
            ),
            other => other.to_string(),
        };
        return Err(bad(message));
    }
    if let Some((path, _)) = result.missing.first() {
        return Err(bad(format!(
            "tensor `{path}` is missing: the weights are not of this configuration"
        )));
    }
    if let Some(path) = result.unused.first() {
        return Err(bad(format!(
            "tensor `{path}` belongs to no module of this configuration"
        )));
    }
    Ok(trainable)
}

/// Outputs of the head a task needs on `backbone` (0 for T5, which has none).
pub fn head_outputs(backbone: &Backbone, labels: &LabelSpace) -> usize {
    match backbone.config {
        crate::backbone::BackboneConfig::T5(_) => 0,
        crate::backbone::BackboneConfig::Bert(_) => labels.num_outputs(),
    }
}

/// A trained result read back.
pub struct Trained {
    pub manifest: TrainedManifest,
    pub peft: PeftConfig,
    pub weights: Vec<u8>,
}

impl Trained {
    /// Reads `dir`; a folder without a finished result is named as such.
    pub fn read(dir: &Path) -> Result<Self> {
        let manifest = TrainedManifest::read(dir)?;
        let peft = PeftConfig::load(&dir.join(CONFIG_FILE))?;
        let weights_path = dir.join(WEIGHTS_FILE);
        let weights = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        Ok(Trained {
            manifest,
            peft,
            weights,
        })
    }

    /// Writes the three files that make a result (not metrics or checkpoint).
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_atomic(&dir.join(WEIGHTS_FILE), &self.weights)?;
        write_atomic(
            &dir.join(CONFIG_FILE),
            (self.peft.to_json()? + "\n").as_bytes(),
        )?;
        write_json_atomic(&dir.join(MANIFEST_FILE), &self.manifest)
    }

    /// The trained model over `backbone`, for a task whose labels are `labels`.
    pub fn model<B: Backend>(
        &self,
        backbone: &Backbone,
        labels: &LabelSpace,
        device: &B::Device,
    ) -> Result<RetrainModel<B>> {
        if backbone.config.model_type() != self.manifest.model_type {
            return Err(Error::InvalidInput(format!(
                "the result was trained on a {} model, not a {}",
                self.manifest.model_type,
                backbone.config.model_type()
            )));
        }
        let outputs = head_outputs(backbone, labels);
        if outputs != self.manifest.head_outputs {
            return Err(Error::InvalidInput(format!(
                "the result's head has {} outputs, the task needs {outputs}",
                self.manifest.head_outputs
            )));
        }
        let mut model = RetrainModel::new(backbone, &self.peft, labels, device)?;
        model.trainable = load_trainable(model.trainable, self.weights.clone(), WEIGHTS_FILE)?;
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::CustomKind;

    fn manifest(task: &str) -> TrainedManifest {
        TrainedManifest {
            format: TRAINED_FORMAT.into(),
            version: 1,
            task: task.into(),
            custom_task: None,
            model_type: "bert".into(),
            model_dir: "/models/bert".into(),
            key_prefix: String::new(),
            head_outputs: 2,
            settings: TrainSettings::default(),
            best_epoch: 0,
            best_step: 0,
            validation: BTreeMap::new(),
            peft_params: 0,
            head_params: 0,
        }
    }

    #[test]
    fn results_without_a_stored_task_read_as_their_built_in_task() {
        let old = serde_json::to_value(manifest("sst2")).unwrap();
        assert!(old.get("custom_task").is_none(), "{old}");
        let read: TrainedManifest = serde_json::from_value(old).unwrap();
        assert_eq!(
            read.task_source().unwrap(),
            TaskSource::Benchmark(Benchmark::Sst2)
        );
        let e = manifest("reviews").task_source().unwrap_err();
        assert!(e.to_string().contains("does not store its columns"), "{e}");
    }

    #[test]
    fn a_custom_task_is_stored_with_the_classes_it_was_trained_with() {
        let task = CustomTask {
            name: "reviews".into(),
            text_columns: vec!["text".into()],
            label_column: "label".into(),
            kind: CustomKind::Classification { labels: None },
            max_length: 64,
        };
        let labels = LabelSpace::Classes(vec!["neg".into(), "pos".into()]);
        let stored = custom_definition(&TaskSource::Custom(task), &labels).unwrap();
        let mut m = manifest("reviews");
        m.custom_task = Some(stored.clone());
        let read: TrainedManifest =
            serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(read.task_source().unwrap(), TaskSource::Custom(stored));
        assert!(custom_definition(&TaskSource::Benchmark(Benchmark::Rte), &labels).is_none());
    }
}
