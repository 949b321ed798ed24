//! `bipeft retrain`: trains exactly the modules of a `peft_config.json`,
//! freshly initialised, on the full training split; keeps the best
//! validation weights and reports their test scores (`TRAINED_DIR/metrics.json`).
//! `--resume TRAINED_DIR` continues a killed run from its checkpoint.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bipeft_core::data::{Benchmark, TaskSource};
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::train::trained::MANIFEST_FILE;
use bipeft_core::train::{
    retrain, Checkpoint, RetrainReport, RetrainSpec, TrainEvent, TrainSettings, TrainedManifest,
};
use burn::backend::Autodiff;
use burn::prelude::Backend;

use crate::backend::{with_backend, BackendArgs, BackendRun};
use crate::custom_task::CustomTaskArgs;
use crate::progress::Progress;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The configuration: a peft_config.json, or a folder holding one (a search's RUN_DIR).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Hugging Face model directory (config.json, safetensors, tokenizer.json).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// GLUE / SuperGLUE task name (e.g. sst2, rte, boolq), or a name for
    /// your own task (with --text-column and --label-column).
    #[arg(long)]
    pub task: Option<String>,
    /// Folder holding the task's files as distributed; for your own task a
    /// folder with train.csv|tsv|jsonl (and optionally dev.*), or one file.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where to write the trained result.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the killed run in this folder (its settings, model, task and data are reused).
    #[arg(long, conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Start over in a folder that holds a run.
    #[arg(long)]
    pub force: bool,
    /// Training epochs over the whole training split [default: 3].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// AdamW learning rate (linear decay to 0) [default: 3e-4].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Training batch size [default: 32].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Batch size of the validation and test passes [default: 64].
    #[arg(long)]
    pub eval_batch_size: Option<usize>,
    /// Seed of the fresh PEFT weights, the data split and the batch order [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Truncate inputs to this many tokens (default: the task's).
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Train on a seeded subset of at most this many examples.
    #[arg(long)]
    pub max_train_examples: Option<usize>,
    /// Hold out this many training examples as validation and test on the
    /// whole dev set (the large-set protocol at any task size).
    #[arg(long)]
    pub validation_from_train: Option<usize>,
    /// Score at most this many validation / test examples.
    #[arg(long)]
    pub max_eval_examples: Option<usize>,
    /// Save the full training state every this many steps (0: at epoch ends only).
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
    // Boxed: keeps `Args` small in the command enum.
    #[command(flatten)]
    pub custom: Box<CustomTaskArgs>,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Print the closing summary on stderr (for `bipeft demo`, whose stdout is its result).
    #[arg(long, hide = true)]
    pub summary_to_stderr: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let spec = spec_of(&args)?;
    let report = with_backend(
        &args.backend,
        Retrain {
            spec: spec.clone(),
            quiet: args.quiet,
        },
    )?;
    crate::progress::print_summary(&report_text(&report, &spec.out), args.summary_to_stderr);
    Ok(())
}

/// The run the arguments describe; a resumed one takes what it lacks from its checkpoint.
pub fn spec_of(args: &Args) -> anyhow::Result<RetrainSpec> {
    let saved = match &args.resume {
        Some(dir) => Some(
            Checkpoint::load(&dir.join(bipeft_core::train::trained::CHECKPOINT_FILE))
                .with_context(|| format!("cannot resume {}", dir.display()))?
                .state,
        ),
        None => None,
    };
    let required =
        |value: &Option<PathBuf>, saved: Option<&str>, flag: &str| -> anyhow::Result<PathBuf> {
            value
                .clone()
                .or_else(|| saved.map(PathBuf::from))
                .with_context(|| format!("{flag} is required"))
        };
    let out = match (&args.resume, &args.out) {
        (Some(dir), _) => dir.clone(),
        (None, Some(out)) => out.clone(),
        (None, None) => bail!("--out is required (or --resume DIR)"),
    };
    let peft = match (&args.config, &saved) {
        (Some(path), _) => read_config(path)?,
        (None, Some(state)) => state.peft.clone(),
        (None, None) => bail!("--config is required"),
    };
    let task_name = args
        .task
        .clone()
        .or_else(|| saved.as_ref().map(|s| s.task.clone()))
        .context("--task is required")?;
    let defaults = saved
        .as_ref()
        .map_or_else(TrainSettings::default, |s| s.settings.clone());
    let settings = TrainSettings {
        epochs: args.epochs.unwrap_or(defaults.epochs),
        lr: args.lr.unwrap_or(defaults.lr),
        batch_size: args.batch_size.unwrap_or(defaults.batch_size),
        eval_batch_size: args.eval_batch_size.unwrap_or(defaults.eval_batch_size),
        seed: args.seed.unwrap_or(defaults.seed),
        max_length: args.max_length.or(defaults.max_length),
        max_train_examples: args.max_train_examples.or(defaults.max_train_examples),
        validation_from_train: args
            .validation_from_train
            .or(defaults.validation_from_train),
        max_eval_examples: args.max_eval_examples.or(defaults.max_eval_examples),
        checkpoint_every: args.checkpoint_every.unwrap_or(defaults.checkpoint_every),
        ..defaults
    };
    let task = task_of(args, &task_name, settings.max_length)?;
    let model_dir = required(
        &args.model,
        saved.as_ref().map(|s| s.model_dir.as_str()),
        "--model",
    )?;
    let data_dir = required(
        &args.data,
        saved.as_ref().map(|s| s.data_dir.as_str()),
        "--data",
    )?;
    check_data(&data_dir, &task)?;
    Ok(RetrainSpec {
        peft,
        model_dir,
        task,
        data_dir,
        out,
        settings,
        resume: args.resume.is_some(),
        force: args.force,
    })
}

/// The task to train: a built-in one, or the user's own from the flags. A
/// resumed run of the user's own task given without them reads the
/// definition its `trained.json` keeps.
fn task_of(args: &Args, name: &str, max_length: Option<usize>) -> anyhow::Result<TaskSource> {
    let flags = !args.custom.text_columns.is_empty() || args.custom.label_column.is_some();
    match (&args.resume, flags, Benchmark::from_name(name)) {
        (Some(dir), false, Err(_)) => stored_task(dir, name),
        _ => args.custom.task_source(name, max_length),
    }
}

/// The user's own task `name` as the run in `dir` stored it.
fn stored_task(dir: &Path, name: &str) -> anyhow::Result<TaskSource> {
    let missing = || {
        anyhow::anyhow!(
            "--resume {}: the run keeps no definition of your own task {name} yet (its {MANIFEST_FILE} \
             comes with the first epoch); give its --text-column and --label-column again",
            dir.display()
        )
    };
    if !dir.join(MANIFEST_FILE).is_file() {
        return Err(missing());
    }
    let manifest = TrainedManifest::read(dir)?;
    match manifest.custom_task {
        Some(task) => Ok(TaskSource::Custom(task)),
        None => Err(missing()),
    }
}

/// `--data` exists: a folder, or for the user's own task also a file.
pub fn check_data(data: &Path, task: &TaskSource) -> anyhow::Result<()> {
    match task {
        TaskSource::Benchmark(_) if !data.is_dir() => {
            bail!("--data {}: no such directory", data.display())
        }
        TaskSource::Custom(_) if !data.exists() => {
            bail!("--data {}: no such directory or file", data.display())
        }
        _ => Ok(()),
    }
}

/// A peft_config.json, or the one inside a folder.
pub fn read_config(path: &Path) -> anyhow::Result<PeftConfig> {
    let file = if path.is_dir() {
        path.join("peft_config.json")
    } else {
        path.to_path_buf()
    };
    if !file.is_file() {
        bail!("--config {}: no peft_config.json there", path.display());
    }
    Ok(PeftConfig::load(&file)?)
}

struct Retrain {
    spec: RetrainSpec,
    quiet: bool,
}

impl BackendRun for Retrain {
    type Output = RetrainReport;
    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<RetrainReport> {
        let quiet = self.quiet;
        let mut progress: Option<Progress> = None;
        let mut on_event = |event: &TrainEvent| match *event {
            TrainEvent::Started {
                train_examples,
                steps_per_epoch,
                total_steps,
                resumed_at,
            } => {
                if !quiet {
                    eprintln!(
                        "retraining on {train_examples} examples: {} epochs of {steps_per_epoch} steps{}",
                        self.spec.settings.epochs,
                        resumed_at.map_or(String::new(), |s| format!(", resuming at step {s}"))
                    );
                }
                progress = Some(Progress::new(total_steps - resumed_at.unwrap_or(0), quiet));
            }
            TrainEvent::Step {
                epoch,
                step,
                total_steps,
                loss,
                lr,
            } => {
                if let Some(p) = progress.as_mut() {
                    p.step(&format!(
                        "epoch {epoch} step {step}/{total_steps}  loss {loss:.4}  lr {lr:.2e}"
                    ));
                }
            }
            TrainEvent::Validated { epoch, score, best } => {
                let line = format!(
                    "epoch {epoch}: validation {score:.4}{}",
                    if best { " (best so far, saved)" } else { "" }
                );
                // Printed above the bar, not over it.
                match progress.as_mut() {
                    Some(p) => p.message(&line),
                    None if !quiet => eprintln!("{line}"),
                    None => {}
                }
            }
            TrainEvent::Checkpoint { .. } => {}
        };
        let report = retrain::<Autodiff<B>>(&self.spec, &device, &mut on_event)?;
        if let Some(p) = progress.as_mut() {
            p.done();
        }
        Ok(report)
    }
}

/// The scores as text: what `retrain` prints when it ends.
pub fn report_text(report: &RetrainReport, out: &Path) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let scores = |map: &std::collections::BTreeMap<String, f64>| {
        map.iter()
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        t,
        "{}: best validation {} {:.4} (epoch {}); {} steps in {:.1} s, {} PEFT + {} head parameters",
        report.task,
        report.metric,
        report.best_validation,
        report.best_epoch,
        report.steps,
        report.seconds,
        report.peft_params,
        report.head_params
    );
    let _ = writeln!(
        t,
        "  validation ({} examples): {}",
        report.validation_examples,
        scores(&report.validation)
    );
    let _ = writeln!(
        t,
        "  test       ({} examples): {}",
        report.test_examples,
        scores(&report.test)
    );
    if let Some(majority) = &report.majority_test {
        let _ = writeln!(
            t,
            "  always the training set's most frequent class, on test: {}",
            scores(majority)
        );
    }
    for note in &report.notes {
        let _ = writeln!(t, "note: {note}");
    }
    let _ = writeln!(t, "wrote {}", out.join("metrics.json").display());
    t
}
