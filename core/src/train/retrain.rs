//! Retraining a discrete configuration (docs/algorithm.md §7): fresh modules over
//! the frozen backbone, AdamW on the full training split with linear decay
//! and the search's global-norm clipping, a validation pass at every epoch's
//! end keeping the best weights, then the test score of those weights.
//!
//! Epoch `e` visits the training split in the order `plan_batches` gives for
//! seed `seed + e`, so a run's position (epoch, batch) and its seed fix the
//! remaining data order: a resumed run continues exactly where the
//! checkpoint was taken.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ElementConversion;
use serde::{Deserialize, Serialize};

use crate::data::{collate, plan_batches, BatchOptions, SplitName, TaskSource};
use crate::error::{Error, Result};
use crate::peft_config::PeftConfig;
use crate::search::optim::{clip_global_norm, linear_decay};

use super::atomic::write_json_atomic;
use super::checkpoint::{Checkpoint, EpochRecord, ResumeState};
use super::evaluate::evaluate_split;
use super::majority::majority_class_scores;
use super::model::{Backbone, RetrainModel, Trainable};
use super::settings::TrainSettings;
use super::task::PreparedTask;
use super::trained::{
    custom_definition, head_outputs, trainable_bytes, Trained, TrainedManifest, CHECKPOINT_FILE,
    CONFIG_FILE, MANIFEST_FILE, METRICS_FILE, TRAINED_FORMAT, WEIGHTS_FILE,
};

/// PyTorch's AdamW epsilon (burn's default is 1e-5), as the search uses.
const TORCH_EPSILON: f32 = 1e-8;

/// What to retrain, on what, and where to write it.
#[derive(Clone, Debug)]
pub struct RetrainSpec {
    pub peft: PeftConfig,
    pub model_dir: PathBuf,
    pub task: TaskSource,
    pub data_dir: PathBuf,
    /// The trained result's folder (see [`super::trained`]).
    pub out: PathBuf,
    pub settings: TrainSettings,
    /// Continue from `out/checkpoint.bin`.
    pub resume: bool,
    /// Start over even if `out` holds a run.
    pub force: bool,
}

/// `metrics.json`: what a finished run reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetrainReport {
    pub task: String,
    /// The main metric's name (the first of the task's metrics).
    pub metric: String,
    pub best_validation: f64,
    pub best_epoch: usize,
    pub validation: BTreeMap<String, f64>,
    pub test: BTreeMap<String, f64>,
    pub train_examples: usize,
    pub validation_examples: usize,
    pub test_examples: usize,
    pub steps: usize,
    pub skipped_batches: usize,
    pub seconds: f64,
    pub peft_params: u64,
    pub head_params: u64,
    pub history: Vec<EpochRecord>,
    /// What the data protocol did that a reader should know.
    pub notes: Vec<String>,
    /// The test scores of always predicting the training split's most
    /// frequent class ([`majority_class_scores`]): the floor a result has to
    /// clear. Absent for regression and ReCoRD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub majority_test: Option<BTreeMap<String, f64>>,
}

/// Progress of a run, for a progress bar.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainEvent {
    Started {
        train_examples: usize,
        steps_per_epoch: usize,
        total_steps: usize,
        /// The step a resumed run continues from.
        resumed_at: Option<usize>,
    },
    Step {
        epoch: usize,
        step: usize,
        total_steps: usize,
        loss: f64,
        lr: f64,
    },
    Validated {
        epoch: usize,
        score: f64,
        best: bool,
    },
    Checkpoint {
        step: usize,
    },
}

/// Retrains `spec`, writing the result and its checkpoints into `spec.out`.
pub fn retrain<B: AutodiffBackend>(
    spec: &RetrainSpec,
    device: &B::Device,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<RetrainReport> {
    let settings = &spec.settings;
    settings.validate()?;
    let checkpoint_path = spec.out.join(CHECKPOINT_FILE);
    let resumed = check_out_dir(spec)?;

    let backbone = Backbone::load_for(&spec.model_dir, &spec.peft)?;
    let task = PreparedTask::for_backbone(&spec.task, &spec.data_dir, &backbone, settings)?;
    let tokenizer = backbone.files.require_tokenizer()?;
    let info = &task.data.info;
    let metric = info
        .metrics
        .first()
        .ok_or_else(|| Error::InvalidInput(format!("task {} has no metric", info.name)))?
        .name()
        .to_string();

    B::seed(device, settings.seed);
    let mut model = RetrainModel::<B>::new(&backbone, &spec.peft, &info.labels, device)?;
    let mut optim = AdamWConfig::new()
        .with_epsilon(TORCH_EPSILON)
        .with_weight_decay(settings.weight_decay as f32)
        .init::<B, Trainable<B>>();
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
    let record_error = |e: burn::record::RecorderError| Error::MalformedConfig {
        file: checkpoint_path.display().to_string(),
        message: e.to_string(),
    };

    let train_split = task.split(SplitName::Train)?.to_vec();
    let plan_of = |epoch: usize| {
        plan_batches(
            &task.tokenized,
            &train_split,
            &BatchOptions::train(
                settings.batch_size,
                settings.seed.wrapping_add(epoch as u64),
            ),
        )
    };
    let steps_per_epoch = plan_of(0)?.len();
    let total_steps = steps_per_epoch * settings.epochs;

    let (mut state, mut best_bytes) = match resumed {
        Some(checkpoint) => {
            let s = &checkpoint.state;
            if s.settings != *settings || s.peft != spec.peft || s.task != info.name {
                return Err(Error::InvalidInput(format!(
                    "the checkpoint in {} was made for another run (task, configuration or settings differ); \
                     resume with the same ones, or start over with --force",
                    spec.out.display()
                )));
            }
            let trainable = recorder
                .load(checkpoint.trainable, device)
                .map_err(record_error)?;
            model.trainable = model.trainable.load_record(trainable);
            let optimizer = recorder
                .load(checkpoint.optimizer, device)
                .map_err(record_error)?;
            optim = optim.load_record(optimizer);
            (checkpoint.state, checkpoint.best)
        }
        None => (
            ResumeState {
                task: info.name.clone(),
                model_dir: spec.model_dir.display().to_string(),
                data_dir: spec.data_dir.display().to_string(),
                settings: settings.clone(),
                peft: spec.peft.clone(),
                epoch: 0,
                batch: 0,
                step: 0,
                skipped: 0,
                epoch_loss: (0.0, 0),
                seconds: 0.0,
                best: None,
                history: Vec::new(),
            },
            Vec::new(),
        ),
    };
    on_event(&TrainEvent::Started {
        train_examples: train_split.len(),
        steps_per_epoch,
        total_steps,
        resumed_at: (state.step > 0).then_some(state.step),
    });
    let peft_params = spec.peft.trainable_params;
    let head_params = model
        .trainable
        .head
        .as_ref()
        .map_or(0, |h| h.num_params() as u64);
    // Absolute, so that `eval` and `export` find the model from any folder.
    let model_dir = std::fs::canonicalize(&spec.model_dir)
        .unwrap_or_else(|_| spec.model_dir.clone())
        .display()
        .to_string();
    let manifest = |state: &ResumeState| {
        let best = state.best.map(|i| &state.history[i]);
        TrainedManifest {
            format: TRAINED_FORMAT.into(),
            version: 1,
            task: info.name.clone(),
            custom_task: custom_definition(&spec.task, &info.labels),
            model_type: backbone.config.model_type().into(),
            model_dir: model_dir.clone(),
            key_prefix: backbone.prefix.clone(),
            head_outputs: head_outputs(&backbone, &info.labels),
            settings: settings.clone(),
            best_epoch: best.map_or(0, |b| b.epoch),
            best_step: best.map_or(0, |b| b.step),
            validation: best.map(|b| b.validation.clone()).unwrap_or_default(),
            peft_params,
            head_params,
        }
    };
    let session = Instant::now();
    // `state.seconds` is the time of earlier sessions; a save adds this one's.
    let save = |state: &ResumeState,
                model: &RetrainModel<B>,
                optim: &dyn OptimRecord<B>,
                best: &[u8]|
     -> Result<()> {
        let mut state = state.clone();
        state.seconds += session.elapsed().as_secs_f64();
        Checkpoint {
            state,
            trainable: recorder
                .record(model.trainable.clone().into_record(), ())
                .map_err(record_error)?,
            optimizer: optim.record_bytes(&recorder).map_err(record_error)?,
            best: best.to_vec(),
        }
        .save(&checkpoint_path)
    };

    while state.epoch < settings.epochs {
        let epoch = state.epoch;
        let plan = plan_of(epoch)?;
        for (i, items) in plan.iter().enumerate().skip(state.batch) {
            let batch = collate(&task.tokenized, items)?.to_tensors::<B>(device);
            let loss = model.loss(&batch)?;
            let value = f64::from(loss.clone().into_scalar().elem::<f32>());
            let lr = linear_decay(settings.lr, state.step, total_steps);
            if value.is_finite() {
                let mut grads = loss.backward();
                let mut params = GradientsParams::from_module(&mut grads, &model.trainable);
                clip_global_norm(&model.trainable, &mut params, settings.clip_norm);
                model.trainable = optim.step(lr, model.trainable, params);
                state.epoch_loss.0 += value;
                state.epoch_loss.1 += 1;
            } else {
                // As in the search: a batch whose loss is NaN is skipped, not applied.
                state.skipped += 1;
            }
            state.step += 1;
            state.batch = i + 1;
            on_event(&TrainEvent::Step {
                epoch,
                step: state.step,
                total_steps,
                loss: value,
                lr,
            });
            let due = settings.checkpoint_every > 0 && state.step % settings.checkpoint_every == 0;
            if due && state.batch < plan.len() {
                save(&state, &model, &optim, &best_bytes)?;
                on_event(&TrainEvent::Checkpoint { step: state.step });
            }
        }

        if state.epoch_loss.1 == 0 {
            return Err(Error::InvalidInput(format!(
                "every batch of epoch {epoch} had a loss that is not a finite number: the model's \
                 weights or the learning rate ({}) make training diverge; no result was kept from this epoch",
                settings.lr
            )));
        }
        let valid = model.valid();
        let evaluation = evaluate_split(
            &valid,
            &task,
            tokenizer,
            SplitName::Validation,
            settings.eval_batch_size,
            device,
        )?;
        let score = evaluation.scores.main().unwrap_or(f64::NEG_INFINITY);
        let (sum, count) = state.epoch_loss;
        state.history.push(EpochRecord {
            epoch,
            step: state.step,
            train_loss: (count > 0).then(|| sum / count as f64),
            validation: evaluation.scores.to_map(),
        });
        let is_best = state
            .best
            .is_none_or(|b| keeps_later(score, state.history[b].validation[&metric]));
        if is_best {
            state.best = Some(state.history.len() - 1);
            best_bytes = recorder
                .record(model.trainable.clone().into_record(), ())
                .map_err(record_error)?;
            // The best weights are usable at once, even if the run is killed later.
            Trained {
                manifest: manifest(&state),
                peft: spec.peft.clone(),
                weights: trainable_bytes(&valid.trainable)?,
            }
            .write(&spec.out)?;
        }
        on_event(&TrainEvent::Validated {
            epoch,
            score,
            best: is_best,
        });
        state.epoch += 1;
        state.batch = 0;
        state.epoch_loss = (0.0, 0);
        save(&state, &model, &optim, &best_bytes)?;
        on_event(&TrainEvent::Checkpoint { step: state.step });
    }

    // The test score of the best validation weights.
    let best_index = state
        .best
        .ok_or_else(|| Error::InvalidInput("no validation pass was made".into()))?;
    let best_record = recorder.load(best_bytes, device).map_err(record_error)?;
    let mut best_model = model;
    best_model.trainable = best_model.trainable.load_record(best_record);
    let valid = best_model.valid();
    let test = evaluate_split(
        &valid,
        &task,
        tokenizer,
        SplitName::Test,
        settings.eval_batch_size,
        device,
    )?;
    let best = &state.history[best_index];
    let report = RetrainReport {
        task: info.name.clone(),
        metric: metric.clone(),
        best_validation: best.validation[&metric],
        best_epoch: best.epoch,
        validation: best.validation.clone(),
        test: test.scores.to_map(),
        train_examples: train_split.len(),
        validation_examples: task.split(SplitName::Validation)?.len(),
        test_examples: test.predictions.len(),
        steps: state.step,
        skipped_batches: state.skipped,
        seconds: state.seconds + session.elapsed().as_secs_f64(),
        peft_params,
        head_params,
        history: state.history.clone(),
        notes: task.splits.notes.clone(),
        majority_test: majority_class_scores(&task, SplitName::Test)?.map(|s| s.to_map()),
    };
    write_json_atomic(&spec.out.join(METRICS_FILE), &report)?;
    Ok(report)
}

/// The optimiser's record as bytes (a trait object keeps the closure above simple).
trait OptimRecord<B: AutodiffBackend> {
    fn record_bytes(
        &self,
        recorder: &NamedMpkBytesRecorder<FullPrecisionSettings>,
    ) -> std::result::Result<Vec<u8>, burn::record::RecorderError>;
}

impl<B: AutodiffBackend, O: Optimizer<Trainable<B>, B>> OptimRecord<B> for O {
    fn record_bytes(
        &self,
        recorder: &NamedMpkBytesRecorder<FullPrecisionSettings>,
    ) -> std::result::Result<Vec<u8>, burn::record::RecorderError> {
        Recorder::<B>::record(recorder, self.to_record(), ())
    }
}

/// Checks `spec.out` against what the run is asked to do, and returns the
/// checkpoint to resume from.
fn check_out_dir(spec: &RetrainSpec) -> Result<Option<Checkpoint>> {
    let out = &spec.out;
    crate::output_dir::check_output_dir(
        out,
        "retrain",
        &[MANIFEST_FILE, METRICS_FILE, CHECKPOINT_FILE],
    )?;
    let finished = out.join(METRICS_FILE).exists();
    let checkpoint = out.join(CHECKPOINT_FILE);
    if spec.resume {
        if finished {
            return Err(Error::InvalidInput(format!(
                "{} holds a finished run: nothing to resume",
                out.display()
            )));
        }
        if !checkpoint.is_file() {
            return Err(Error::MissingFile {
                path: checkpoint,
                hint: "no checkpoint to resume from".into(),
            });
        }
        return Checkpoint::load(&checkpoint).map(Some);
    }
    if (finished || checkpoint.exists()) && !spec.force {
        return Err(Error::InvalidInput(format!(
            "{} already holds a {} run; choose another output directory, {}or pass --force",
            out.display(),
            if finished { "finished" } else { "started" },
            if finished {
                ""
            } else {
                "resume it with --resume, "
            }
        )));
    }
    // Nothing of the old run may pass for the new one's.
    for file in [
        METRICS_FILE,
        CHECKPOINT_FILE,
        MANIFEST_FILE,
        WEIGHTS_FILE,
        CONFIG_FILE,
    ] {
        let path = out.join(file);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(None)
}

/// Whether an epoch's validation `score` replaces the best so far: on a tie
/// the later epoch is kept, as the reference keeps it (it saves on `>=`).
fn keeps_later(score: f64, best: f64) -> bool {
    score >= best
}

#[cfg(test)]
mod best_epoch_tests {
    use super::keeps_later;

    #[test]
    fn a_tie_keeps_the_later_epoch() {
        assert!(keeps_later(0.75, 0.75));
        assert!(keeps_later(0.8, 0.75));
        assert!(!keeps_later(0.7, 0.75));
        assert!(!keeps_later(f64::NAN, 0.75));
    }
}
