//! `bipeft search`: the BIPEFT search on a real model and task, writing
//! `RUN_DIR/peft_config.json` (the discrete configuration within the budget)
//! and `RUN_DIR/search_trace.json` (every step, for replay in a browser).
//!
//! The loop is the library's async [`BilevelSearch::step`], driven here by a
//! plain `block_on`: every host read happens inside it, awaited, so the
//! browser drives the very same code on WebGPU.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use bipeft_core::data::{load_task, SplitOptions};
use bipeft_core::experiment::{Budget, Method};
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::search::{Criterion, SearchCheckpoint};
use bipeft_core::session::{
    size_baseline, SearchOptions, SearchSession, SearchSpec, SearchTrace, SelectionOptions,
    StepRecord,
};
use bipeft_core::space::SpaceDef;
use bipeft_core::train::atomic::{write_atomic, write_json_atomic};
use bipeft_core::train::model::Backbone;
use burn::backend::Autodiff;
use burn::prelude::Backend;
use clap::ValueEnum;
use futures_lite::future::block_on;
use serde::{Deserialize, Serialize};

use crate::backend::{with_backend, BackendArgs, BackendRun};
use crate::custom_task::CustomTaskArgs;
use crate::progress::ProgressArgs;

/// `--mode`: the search and its ablations, or a hand-made baseline sized to the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[clap(rename_all = "snake_case")]
pub enum Mode {
    /// BIPEFT: iterative binary/dimension search with early selection.
    Bipeft,
    /// Ablation: one entangled space, rank 0 is "off".
    NoIter,
    /// Ablation: plain softmax instead of Gumbel samples.
    NoGumbel,
    /// Ablation: binary stage first half, dimension stage second half.
    BinaryThenDim,
    /// Ablation: dimension stage first, then binary.
    DimThenBinary,
    /// Baseline: LoRA on every LoRA slot of the space at the largest integer rank that fits.
    UniformLora,
    /// Baseline: LoRA on attention query and value only (Hugging Face PEFT's
    /// default targets) at the largest integer rank that fits.
    LoraQv,
    /// Baseline: BitFit only (as many as fit, in slot order).
    Bitfit,
    /// Baseline: LNFit only.
    Lnfit,
    /// Baseline: low-rank adapters on every adapter slot at the largest integer rank that fits.
    Adapter,
}

impl Mode {
    /// The method this mode runs; `--no-early-selection` turns BIPEFT into
    /// its `no_early_selection` ablation (other ablations keep their name
    /// and run without selection).
    pub fn method(self, no_early_selection: bool) -> Method {
        match self {
            Mode::Bipeft if no_early_selection => Method::NoEarlySelection,
            Mode::Bipeft => Method::Bipeft,
            Mode::NoIter => Method::NoIter,
            Mode::NoGumbel => Method::NoGumbel,
            Mode::BinaryThenDim => Method::BinaryThenDim,
            Mode::DimThenBinary => Method::DimThenBinary,
            Mode::UniformLora => Method::UniformLora,
            Mode::LoraQv => Method::LoraQv,
            Mode::Bitfit => Method::Bitfit,
            Mode::Lnfit => Method::Lnfit,
            Mode::Adapter => Method::Adapter,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[clap(rename_all = "snake_case")]
pub enum CriterionArg {
    Tra,
    Val,
    TraVal,
    TraValCos1,
    TraValCos2,
}

impl CriterionArg {
    fn criterion(self) -> Criterion {
        match self {
            CriterionArg::Tra => Criterion::Tra,
            CriterionArg::Val => Criterion::Val,
            CriterionArg::TraVal => Criterion::TraVal,
            CriterionArg::TraValCos1 => Criterion::TraValCos1,
            CriterionArg::TraValCos2 => Criterion::TraValCos2,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Hugging Face model directory (config.json, safetensors, tokenizer.json).
    #[arg(long, required_unless_present = "resume")]
    pub model: Option<PathBuf>,
    /// GLUE / SuperGLUE task name (e.g. sst2, rte, boolq), or a name for
    /// your own task (with --text-column and --label-column).
    #[arg(long, required_unless_present = "resume")]
    pub task: Option<String>,
    /// Folder holding the task's files as distributed; for your own task a
    /// folder with train.csv|tsv|jsonl (and optionally dev.*), or one file.
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Parameter budget: a count (`102600`) or a share of the backbone (`0.0139%`).
    #[arg(long, required_unless_present = "resume")]
    pub budget: Option<String>,
    /// `s1`, `s2`, `lora`, or a JSON space file.
    #[arg(long, default_value = "s1")]
    pub space: String,
    /// Where to write peft_config.json, search_trace.json and checkpoints.
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Overwrite a finished (or unfinished) run in --out.
    #[arg(long)]
    pub force: bool,
    /// Continue the interrupted search in RUN_DIR from its last checkpoint,
    /// with the options it was started with.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["model", "task", "data", "budget", "out"])]
    pub resume: Option<PathBuf>,
    /// Save a checkpoint every N steps (0: only at the end).
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Maximum search epochs (the search may stop early).
    #[arg(long, default_value_t = 15)]
    pub epochs: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep at most this many training examples (a seeded subset).
    #[arg(long)]
    pub max_train_examples: Option<usize>,
    /// Hold out this many training examples as validation and test on the
    /// whole dev set (the large-set protocol at any task size).
    #[arg(long)]
    pub validation_from_train: Option<usize>,
    /// Truncate inputs to this many tokens (default: the task's, 128 for most).
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Search batch size (64 for S1, 32 for S2 in the reference).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// AdamW learning rate of the PEFT weights and head.
    #[arg(long, default_value_t = 3e-4)]
    pub weight_lr: f64,
    /// Adam learning rate of the architecture logits.
    #[arg(long, default_value_t = 0.01)]
    pub arch_lr: f64,
    /// T: selection steps from the expected size to the budget (default: fitted
    /// to the search's length, one per 2 weight steps after selection begins,
    /// at most the reference's 100).
    #[arg(long)]
    pub max_selection_steps: Option<usize>,
    /// Mean cosine at which a selection step fires.
    #[arg(long, default_value_t = 0.85)]
    pub trigger_threshold: f64,
    /// First (0-based) epoch of early selection (default: 2 for searches of
    /// 10 epochs or more, else 1, as the reference sets it per task).
    #[arg(long)]
    pub selection_start_epoch: Option<usize>,
    /// Candidate ranks for every rank-searchable slot (default: the space's), e.g. `1,4,8`.
    #[arg(long, value_delimiter = ',')]
    pub ranks: Option<Vec<usize>>,
    /// Sensitivity criterion.
    #[arg(long, value_enum, default_value_t = CriterionArg::TraValCos1)]
    pub criterion: CriterionArg,
    #[arg(long, value_enum, default_value_t = Mode::Bipeft)]
    pub mode: Mode,
    /// Run the plain bi-level search without budget-guided early selection.
    #[arg(long)]
    pub no_early_selection: bool,
    #[command(flatten)]
    pub custom: CustomTaskArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let job = resolve(args)?;
    let backend = job.args.backend.clone();
    with_backend(&backend, Search(job))
}

struct Search(Job);

impl BackendRun for Search {
    type Output = ();
    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        search::<Autodiff<B>>(self.0, device)
    }
}

/// A search to run: the options (a resumed run's as it was started) and,
/// when resuming, its checkpoint.
struct Job {
    args: Args,
    model: PathBuf,
    task: String,
    data: PathBuf,
    budget: Budget,
    out: PathBuf,
    /// The command line after `search`, for a later `--resume`.
    argv: Vec<String>,
    cwd: PathBuf,
    resume: Option<(SearchCheckpoint, Driver)>,
}

/// The checkpoint file in a run directory.
const CHECKPOINT: &str = "search_checkpoint.bin";

/// What the command keeps in a checkpoint beside the session's progress.
#[derive(Serialize, Deserialize)]
struct Driver {
    /// The command line the run was started with, and where.
    argv: Vec<String>,
    cwd: PathBuf,
    /// Search time before this process.
    seconds: f64,
}

/// The options as `clap` reads a stored command line.
#[derive(clap::Parser)]
#[command(name = "bipeft search")]
struct StoredCommand {
    #[command(flatten)]
    args: Args,
}

/// The options of the run: from the command line, or for `--resume` from the
/// checkpoint (keeping this command line's progress and checkpoint options).
fn resolve(args: Args) -> anyhow::Result<Job> {
    let cwd = std::env::current_dir().context("no current directory")?;
    let Some(dir) = args.resume.clone() else {
        let argv: Vec<String> = std::env::args()
            .skip_while(|a| a != "search")
            .skip(1)
            .collect();
        let need = |v: Option<String>, name: &str| {
            v.with_context(|| format!("--{name} is required (or --resume RUN_DIR)"))
        };
        let path = |v: Option<PathBuf>, name: &str| {
            v.with_context(|| format!("--{name} is required (or --resume RUN_DIR)"))
        };
        return Ok(Job {
            model: path(args.model.clone(), "model")?,
            task: need(args.task.clone(), "task")?,
            data: path(args.data.clone(), "data")?,
            budget: parse_budget(
                args.budget
                    .as_deref()
                    .context("--budget is required (or --resume RUN_DIR)")?,
            )?,
            out: path(args.out.clone(), "out")?,
            args,
            argv,
            cwd,
            resume: None,
        });
    };
    if dir.join("peft_config.json").exists() {
        bail!(
            "{} holds a finished run (peft_config.json): nothing to resume",
            dir.display()
        );
    }
    let file = dir.join(CHECKPOINT);
    let bytes = std::fs::read(&file).with_context(|| {
        format!(
            "--resume {}: no checkpoint ({CHECKPOINT}) to resume from",
            dir.display()
        )
    })?;
    let checkpoint = SearchCheckpoint::from_bytes(&bytes)
        .with_context(|| format!("reading {}", file.display()))?;
    let driver: Driver = serde_json::from_slice(&checkpoint.driver)
        .with_context(|| format!("{}: the run's own state is damaged", file.display()))?;
    let stored = <StoredCommand as clap::Parser>::try_parse_from(
        std::iter::once("bipeft search".to_string()).chain(driver.argv.iter().cloned()),
    )
    .with_context(|| format!("{}: the stored command line does not parse", file.display()))?
    .args;
    let at = |p: PathBuf| driver.cwd.join(p);
    let mut resumed = stored;
    resumed.progress = args.progress;
    resumed.checkpoint_every = args.checkpoint_every.or(resumed.checkpoint_every);
    if SpaceDef::resolve(&resumed.space).is_err() {
        resumed.space = at(PathBuf::from(&resumed.space)).display().to_string();
    }
    Ok(Job {
        model: at(resumed
            .model
            .clone()
            .context("the stored command line has no --model")?),
        task: resumed
            .task
            .clone()
            .context("the stored command line has no --task")?,
        data: at(resumed
            .data
            .clone()
            .context("the stored command line has no --data")?),
        budget: parse_budget(
            resumed
                .budget
                .as_deref()
                .context("the stored command line has no --budget")?,
        )?,
        out: dir,
        args: resumed,
        argv: driver.argv.clone(),
        cwd: driver.cwd.clone(),
        resume: Some((checkpoint, driver)),
    })
}

/// `--budget`: a count or a share of the backbone, named in the error.
fn parse_budget(text: &str) -> anyhow::Result<Budget> {
    text.parse::<Budget>().map_err(|_| {
        anyhow::anyhow!(
            "--budget {}: {}",
            text.trim(),
            bipeft_core::experiment::budget::BUDGET_FORMS
        )
    })
}

fn check_out_dir(out: &Path, force: bool) -> anyhow::Result<()> {
    bipeft_core::output_dir::check_output_dir(out, "search", &["search_trace.json", CHECKPOINT])?;
    if out.join("peft_config.json").exists() && !force {
        bail!(
            "{} already holds a finished run (peft_config.json); choose another --out or pass --force",
            out.display()
        );
    }
    if out.join(CHECKPOINT).exists() && !force {
        bail!(
            "{} holds an unfinished run ({CHECKPOINT}); continue it with --resume {} or pass --force",
            out.display(),
            out.display()
        );
    }
    Ok(())
}

fn search<B: burn::tensor::backend::AutodiffBackend>(
    mut job: Job,
    device: B::Device,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let resume = job.resume.take();
    let job = job;
    let args = &job.args;
    if resume.is_none() {
        check_out_dir(&job.out, args.force)?;
    }
    if !job.data.exists() {
        bail!("--data {}: no such directory or file", job.data.display());
    }
    let source = args.custom.task_source(&job.task, args.max_length)?;
    let task_name = source.name().to_string();
    let backbone = Backbone::load(&job.model)
        .with_context(|| format!("reading the model in {}", job.model.display()))?;
    let mut space = SpaceDef::resolve(&args.space)?;
    if let Some(ranks) = &args.ranks {
        space.ranks = ranks.clone();
        for rule in &mut space.rules {
            if rule.kind.is_rank_searchable() {
                rule.ranks = ranks.clone();
            }
        }
    }
    let method = args.mode.method(args.no_early_selection);
    if method.is_baseline() {
        return write_baseline(&job, method, &backbone, &space, started);
    }

    let data = load_task(&source, &job.data)
        .with_context(|| format!("reading task {task_name} from {}", job.data.display()))?;
    let spec = SearchSpec {
        backbone,
        data,
        split: SplitOptions {
            seed: args.seed,
            max_train_examples: args.max_train_examples,
            validation_from_train: args.validation_from_train,
        },
        max_length: args.max_length,
        space,
        budget: job.budget,
        method,
        options: SearchOptions {
            epochs: args.epochs,
            batch_size: args.batch_size,
            seed: args.seed,
            weight_lr: args.weight_lr,
            arch_lr: args.arch_lr,
            selection: (!args.no_early_selection).then(|| SelectionOptions {
                start_epoch: args.selection_start_epoch,
                max_steps: args.max_selection_steps,
                trigger_threshold: args.trigger_threshold,
                criterion: args.criterion.criterion(),
            }),
            fixed_length: false,
        },
    };
    let (mut session, driver) = match resume {
        Some((checkpoint, driver)) => (
            SearchSession::<B>::resume(spec, &checkpoint, device).map_err(|e| {
                anyhow::anyhow!(
                    "--resume {}: {e} (data in {}); start it over with --force",
                    job.out.display(),
                    job.data.display()
                )
            })?,
            driver,
        ),
        None => (
            SearchSession::<B>::new(spec, device).with_context(|| format!("task {task_name}"))?,
            Driver {
                argv: job.argv.clone(),
                cwd: job.cwd.clone(),
                seconds: 0.0,
            },
        ),
    };
    let seconds_before = driver.seconds;
    let seconds = || seconds_before + started.elapsed().as_secs_f64();
    let budget = session.budget_params();

    let mut progress = args.progress.reporter()?;
    let catalogue = session.catalogue();
    let selection = session.config().selection.as_ref();
    progress.message(&format!(
        "searching {} slots of space `{}` on {} ({} weight / {} architecture examples, {} steps per epoch), budget {budget}{}{}",
        catalogue.slots().len(),
        catalogue.space.name,
        session.task_name(),
        session.splits().search_weights.len(),
        session.splits().search_arch.len(),
        session.steps_per_epoch(),
        selection.map_or(String::new(), |s| format!(
            ", selection from epoch {} in T = {} steps",
            s.prune_begin_epoch, s.max_prune_steps
        )),
        match session.progress().step {
            0 => String::new(),
            step => format!(", resumed at step {step}"),
        }
    ));
    for note in &session.splits().notes {
        progress.message(&format!("note: {note}"));
    }
    progress.phase_from("search", session.total_steps(), session.progress().step);
    let every = args.checkpoint_every.unwrap_or(0);
    let save = |session: &SearchSession<B>, seconds: f64| -> anyhow::Result<()> {
        let driver = Driver {
            argv: job.argv.clone(),
            cwd: job.cwd.clone(),
            seconds,
        };
        let checkpoint = block_on(session.checkpoint(&driver))?;
        Ok(write_atomic(
            &job.out.join(CHECKPOINT),
            &checkpoint.to_bytes()?,
        )?)
    };
    loop {
        let step = block_on(session.step())?;
        if let Some(record) = &step.record {
            progress.step_with(&progress_line(record, budget), record)?;
        }
        for event in &step.events {
            progress.event("search", event)?;
        }
        if step.finished {
            break;
        }
        let taken = session.progress().step;
        if every > 0 && taken % every == 0 {
            save(&session, seconds())?;
            progress.event("checkpoint", &serde_json::json!({ "step": taken }))?;
        }
    }
    save(&session, seconds())?;
    progress.finish_phase()?;
    let result = block_on(session.finish())?;
    let mut trace = result.trace;
    trace.seconds = Some(seconds());
    write_json_atomic(&job.out.join("search_trace.json"), &trace)?;
    write_json_atomic(&job.out.join("peft_config.json"), &result.config)?;
    print_summary(&result.config, &trace, &job.out);
    Ok(())
}

/// `epoch 2  loss 0.4127  τ 3.21  E/budget 1.40  modules 90  T 37`.
fn progress_line(record: &StepRecord, budget: u64) -> String {
    let o = &record.outcome;
    let loss = o
        .weight_loss
        .map_or("nan".to_string(), |l| format!("{l:.4}"));
    let expected = o.expected_params.map_or(String::new(), |e| {
        format!("  E/budget {:.2}", e / budget as f64)
    });
    let left = o
        .remaining_selection_steps
        .map_or(String::new(), |t| format!("  T {t}"));
    format!(
        "epoch {}  loss {loss}  τ {:.2}{expected}  modules {}{left}",
        o.epoch, o.tau, o.live_modules
    )
}

/// A hand-made baseline: sized to the budget in its own space (every
/// integer rank), written as a search's result with a trace of no steps.
fn write_baseline(
    job: &Job,
    method: Method,
    backbone: &Backbone,
    space: &SpaceDef,
    started: Instant,
) -> anyhow::Result<()> {
    let result = size_baseline(
        backbone,
        space,
        method,
        job.budget,
        &job.task,
        job.args.seed,
    )?;
    let mut trace = result.trace;
    trace.seconds = Some(started.elapsed().as_secs_f64());
    write_json_atomic(&job.out.join("search_trace.json"), &trace)?;
    write_json_atomic(&job.out.join("peft_config.json"), &result.config)?;
    print_summary(&result.config, &trace, &job.out);
    Ok(())
}

fn print_summary(peft: &PeftConfig, trace: &SearchTrace, out: &Path) {
    let (budget, backbone_params) = (trace.budget_params, trace.backbone_params);
    println!(
        "{} modules, {} trainable parameters of a budget of {budget} ({:.4}% of {backbone_params}); {:.1} s{}",
        peft.modules.len(),
        peft.trainable_params,
        100.0 * peft.trainable_params as f64 / backbone_params.max(1) as f64,
        trace.seconds.unwrap_or(0.0),
        if trace.stopped_early { ", stopped early" } else { "" }
    );
    // The same table as `bipeft inspect RUN_DIR`.
    match crate::commands::inspect::Summary::new(peft, None) {
        Ok(summary) => print!("{}", summary.to_text()),
        Err(e) => println!("(no table: {e})"),
    }
    for note in &trace.notes {
        println!("note: {note}");
    }
    println!("wrote {}", out.join("peft_config.json").display());
}
