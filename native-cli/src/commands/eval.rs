//! `bipeft eval`: scores a trained result on the validation or test split of
//! its task and, with `--save-predictions`, writes one JSON line per example
//! in split order: `{"index", "logits", "prediction", "label"}`, and for the
//! user's own task the `"file"` and `"line"` the example was read from.
//!
//! The task is the one the result was trained on (`trained.json` keeps a
//! custom task's columns and classes), so no task flags are needed.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use bipeft_core::data::{SplitName, TaskSource};
use bipeft_core::train::{evaluate, EvalSpec, Evaluation, Trained, TrainedManifest};
use burn::prelude::Backend;
use clap::ValueEnum;

use bipeft_core::train::atomic::write_atomic;
use crate::backend::{with_backend, BackendArgs, BackendRun};
use crate::commands::retrain::check_data;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Split {
    Validation,
    Test,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A trained result (`bipeft retrain --out`, or `bipeft export --format bipeft`).
    #[arg(long)]
    pub trained: PathBuf,
    /// Hugging Face model directory (default: the one it was trained over).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Task name, checked against the one it was trained on (not needed:
    /// the result knows its task, your own task's columns and classes included).
    #[arg(long)]
    pub task: Option<String>,
    /// Folder holding the task's files as distributed; for your own task a
    /// folder with train.csv|tsv|jsonl (and optionally dev.*), or one file.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, value_enum, default_value_t = Split::Test)]
    pub split: Split,
    /// Write the predictions as JSON lines to this file.
    #[arg(long)]
    pub save_predictions: Option<PathBuf>,
    /// Batch size of the evaluation passes [default: the retrain's evaluation batch size].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Print the scores as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let manifest = Trained::read(&args.trained)
        .with_context(|| format!("--trained {}", args.trained.display()))?
        .manifest;
    let task = trained_task(&args, &manifest)?;
    check_data(&args.data, &task)?;
    let task_name = manifest.task.clone();
    let spec = EvalSpec {
        trained: args.trained.clone(),
        model_dir: args
            .model
            .clone()
            .unwrap_or_else(|| PathBuf::from(&manifest.model_dir)),
        task,
        data_dir: args.data.clone(),
        split: match args.split {
            Split::Validation => SplitName::Validation,
            Split::Test => SplitName::Test,
        },
        batch_size: args.batch_size,
    };
    let evaluation = with_backend(&args.backend, Eval(spec))?;
    if let Some(path) = &args.save_predictions {
        write_predictions(path, &evaluation)?;
    }
    let scores = evaluation.scores.to_map();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "task": task_name,
                "split": evaluation.split.name(),
                "examples": evaluation.predictions.len(),
                "scores": scores,
            }))?
        );
    } else {
        let list: Vec<String> = scores.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
        println!(
            "{task_name} {} ({} examples): {}",
            evaluation.split.name(),
            evaluation.predictions.len(),
            list.join(", ")
        );
    }
    Ok(())
}

/// The task the result was trained on; a `--task` naming another is an error.
fn trained_task(args: &Args, manifest: &TrainedManifest) -> anyhow::Result<TaskSource> {
    if let Some(task) = args.task.as_deref().filter(|&t| t != manifest.task) {
        bail!(
            "the result in {} was trained on task {}, not {task}",
            args.trained.display(),
            manifest.task
        );
    }
    Ok(manifest.task_source()?)
}

fn write_predictions(path: &std::path::Path, evaluation: &Evaluation) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    for record in &evaluation.predictions {
        serde_json::to_writer(&mut lines, record)?;
        lines.write_all(b"\n")?;
    }
    Ok(write_atomic(path, &lines)?)
}

struct Eval(EvalSpec);

impl BackendRun for Eval {
    type Output = Evaluation;
    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Evaluation> {
        Ok(evaluate::<B>(&self.0, &device)?)
    }
}
