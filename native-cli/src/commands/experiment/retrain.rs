//! A cell's retrain and test score: the library's retrain
//! (`bipeft_core::train::retrain`) of the searched configuration, in this
//! process, on the backend the experiment was given. Its time covers
//! everything a user's `bipeft retrain` would do: loading, training, the
//! validation pass of every epoch and the test pass.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use bipeft_core::data::{Benchmark, TaskSource};
use bipeft_core::experiment::Cell;
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::train::{retrain as retrain_spec, RetrainSpec, TrainSettings};
use burn::backend::Autodiff;
use burn::prelude::Backend;

use crate::backend::{with_backend, BackendArgs, BackendRun};

/// What the retrain measured.
pub struct Retrained {
    pub metric: String,
    /// The main metric on the test split.
    pub score: f64,
    pub scores: BTreeMap<String, f64>,
    pub seconds: f64,
    pub notes: Vec<String>,
    /// The main metric of always predicting the most frequent class, on test.
    pub majority_score: Option<f64>,
}

/// The retrain settings of `cell`: the plan's, with the cell's seed and data sizes.
pub fn settings(cell: &Cell) -> TrainSettings {
    let defaults = TrainSettings::default();
    TrainSettings {
        epochs: cell.retrain.epochs,
        lr: cell
            .method
            .is_baseline()
            .then_some(cell.retrain.baseline_learning_rate)
            .flatten()
            .or(cell.retrain.learning_rate)
            .unwrap_or(defaults.lr),
        batch_size: cell.retrain.batch_size,
        seed: cell.seed,
        max_length: cell.max_length,
        max_train_examples: cell.max_train_examples,
        max_eval_examples: cell.max_eval_examples,
        validation_from_train: cell.validation_from_train,
        // A killed cell is recomputed whole: checkpoints only at epoch ends.
        checkpoint_every: 0,
        ..defaults
    }
}

pub fn retrain(
    cell: &Cell,
    peft: &PeftConfig,
    out: &Path,
    backend: &BackendArgs,
) -> anyhow::Result<Retrained> {
    let task = Benchmark::from_name(&cell.task)?;
    let spec = RetrainSpec {
        peft: peft.clone(),
        model_dir: cell.model_path.clone(),
        task: TaskSource::Benchmark(task),
        data_dir: cell.data.clone(),
        out: out.to_path_buf(),
        settings: settings(cell),
        resume: false,
        force: true,
    };
    with_backend(backend, Work { spec })
}

struct Work {
    spec: RetrainSpec,
}

impl BackendRun for Work {
    type Output = Retrained;
    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Retrained> {
        let started = Instant::now();
        let report = retrain_spec::<Autodiff<B>>(&self.spec, &device, &mut |_| {})
            .with_context(|| format!("retraining into {}", self.spec.out.display()))?;
        let seconds = started.elapsed().as_secs_f64();
        let score = *report
            .test
            .get(&report.metric)
            .with_context(|| format!("the retrain reported no test {}", report.metric))?;
        let mut notes: Vec<String> = report.notes.iter().map(|n| format!("data: {n}")).collect();
        if report.skipped_batches > 0 {
            notes.push(format!(
                "retrain: {} batches with a NaN loss were skipped",
                report.skipped_batches
            ));
        }
        let majority_score = report
            .majority_test
            .as_ref()
            .and_then(|m| m.get(&report.metric).copied());
        Ok(Retrained {
            majority_score,
            metric: report.metric,
            score,
            scores: report.test,
            seconds,
            notes,
        })
    }
}
