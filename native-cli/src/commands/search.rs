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
use bipeft_core::backbone::{bert, BackboneConfig};
use bipeft_core::baseline::Baseline;
use bipeft_core::data::{collate, load_task, SearchEpochPlan, SplitOptions};
use bipeft_core::loader::ModelFiles;
use bipeft_core::peft::PeftOptions;
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::search::{
    default_selection_start, fitted_selection_steps, BilevelSearch, Criterion, DiscreteArchitecture, SearchCheckpoint,
    SearchConfig, SearchEvent, SearchMode, SelectionConfig, SelectionOutcome, StepOutcome,
};
use bipeft_core::space::{Catalogue, Kind, SpaceDef};
use bipeft_core::task_model::{peft_config_in_budget, search_slots, TaskModel};
use bipeft_core::train::PreparedTask;
use burn::backend::Autodiff;
use burn::prelude::Backend;
use clap::ValueEnum;
use futures_lite::future::block_on;
use serde::{Deserialize, Serialize};

use bipeft_core::train::atomic::{write_atomic, write_json_atomic};
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
    /// The hand-made baseline of core's [`Baseline`] this mode sizes to the
    /// budget; `None` for the search and its ablations.
    pub fn baseline(self) -> Option<Baseline> {
        match self {
            Mode::UniformLora => Some(Baseline::UniformLora),
            Mode::LoraQv => Some(Baseline::LoraQv),
            Mode::Adapter => Some(Baseline::Adapter),
            Mode::Bitfit => Some(Baseline::Bitfit),
            Mode::Lnfit => Some(Baseline::Lnfit),
            _ => None,
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

/// One iteration of the trace: its index and what the search reported.
#[derive(Serialize, Deserialize)]
struct StepRecord {
    step: usize,
    #[serde(flatten)]
    outcome: StepOutcome,
}

#[derive(Serialize)]
struct SlotInfo<'a> {
    name: &'a str,
    kind: Kind,
    ranks: &'a [usize],
    params: &'a [u64],
}

#[derive(Serialize)]
struct Trace<'a> {
    format: &'static str,
    model_type: &'a str,
    task: &'a str,
    space: &'a str,
    mode: String,
    seed: u64,
    budget_params: u64,
    backbone_params: u64,
    config: Option<&'a SearchConfig>,
    slots: Vec<SlotInfo<'a>>,
    steps: Vec<StepRecord>,
    events: &'a [SearchEvent],
    stopped_early: bool,
    result: Option<&'a DiscreteArchitecture>,
    /// What the greedy fill/trim at the end did, if anything.
    notes: Vec<String>,
    trainable_params: u64,
    seconds: f64,
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
    budget: String,
    out: PathBuf,
    /// The command line after `search`, for a later `--resume`.
    argv: Vec<String>,
    cwd: PathBuf,
    resume: Option<(SearchCheckpoint, Driver)>,
}

/// The checkpoint file in a run directory.
const CHECKPOINT: &str = "search_checkpoint.bin";

/// What the command keeps in a checkpoint besides the search itself.
#[derive(Serialize, Deserialize)]
struct Driver {
    /// The command line the run was started with, and where.
    argv: Vec<String>,
    cwd: PathBuf,
    /// The next weight batch: epoch and index in that epoch's plan.
    epoch: usize,
    batch: usize,
    /// Steps taken, and the trace so far.
    step: usize,
    steps: Vec<StepRecord>,
    events_seen: usize,
    /// Search time before this process.
    seconds: f64,
    /// [`PreparedTask::fingerprint`] of the data the run started on (absent
    /// in checkpoints written before it was kept).
    #[serde(default)]
    data_fingerprint: Option<String>,
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
            budget: need(args.budget.clone(), "budget")?,
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
        budget: resumed
            .budget
            .clone()
            .context("the stored command line has no --budget")?,
        out: dir,
        args: resumed,
        argv: driver.argv.clone(),
        cwd: driver.cwd.clone(),
        resume: Some((checkpoint, driver)),
    })
}

/// A built-in task by name, or the user's own from the column options
/// (the same options as `bipeft data`).
/// Parses `--budget`: a count or a percentage of the backbone's parameters.
pub fn parse_budget(text: &str, backbone_params: u64) -> anyhow::Result<u64> {
    use bipeft_core::experiment::budget::{Budget, BUDGET_FORMS};
    let budget = Budget::parse(text)
        .map_err(|_| anyhow::anyhow!("--budget {}: {BUDGET_FORMS}", text.trim()))?;
    Ok(budget.resolve(backbone_params))
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
    let files = ModelFiles::from_dir(&job.model)
        .with_context(|| format!("reading the model in {}", job.model.display()))?;
    let config = BackboneConfig::from_json(&files.config_json)?;
    let prefix = match &config {
        BackboneConfig::Bert(_) => bert::detect_prefix(&files.weights)?,
        BackboneConfig::T5(_) => String::new(),
    };
    let mut space = SpaceDef::resolve(&args.space)?;
    if let Some(ranks) = &args.ranks {
        space.ranks = ranks.clone();
        for rule in &mut space.rules {
            if rule.kind.is_rank_searchable() {
                rule.ranks = ranks.clone();
            }
        }
    }
    let shape = config.shape();
    let options = PeftOptions::default();
    let baseline = args.mode.baseline();
    // A baseline is sized in its own space (every integer rank), the search in --space.
    let sized_space = match baseline {
        Some(b) => b.space(&space, &shape, &options)?,
        None => space,
    };
    let catalogue = Catalogue::build(&shape, &sized_space, &options, config.site_namer(&prefix))?;
    let backbone_params = config.num_params();
    let budget = parse_budget(&job.budget, backbone_params)?;
    let smallest = catalogue
        .slots()
        .iter()
        .filter_map(|s| s.params.iter().copied().min())
        .min()
        .unwrap_or(0);
    if budget < smallest {
        bail!(
            "budget of {budget} parameters is below the smallest module of space `{}` ({smallest} parameters)",
            catalogue.space.name
        );
    }

    if let Some(baseline) = baseline {
        let config = baseline.size(&catalogue, budget)?;
        return finish_baseline(&job, &config, budget, backbone_params, &catalogue, started);
    }

    // Data: the search halves of the training split, tokenised for the model.
    let tokenizer = files.require_tokenizer()?;
    let data = load_task(&source, &job.data)
        .with_context(|| format!("reading task {task_name} from {}", job.data.display()))?;
    let prepared = PreparedTask::from_data(
        data,
        &SplitOptions {
            seed: args.seed,
            max_train_examples: args.max_train_examples,
            validation_from_train: args.validation_from_train,
        },
        tokenizer,
        &config,
        args.max_length,
        None,
    )
    .with_context(|| format!("task {task_name}"))?;
    let data_fingerprint = prepared.fingerprint();
    if let Some((_, driver)) = &resume {
        if driver
            .data_fingerprint
            .as_ref()
            .is_some_and(|f| *f != data_fingerprint)
        {
            bail!(
                "the training data in {} changed since this search started: resuming would continue \
                 another search; start it over with --force",
                job.data.display()
            );
        }
    }
    let PreparedTask {
        data,
        splits,
        tokenized,
        ..
    } = prepared;
    let steps_per_epoch = SearchEpochPlan::new(&tokenized, &splits, args.batch_size, args.seed, 0)
        .with_context(|| format!("task {task_name}"))?
        .weights
        .len();

    let mode = match args.mode {
        Mode::NoIter => SearchMode::NoIter,
        Mode::BinaryThenDim => SearchMode::BinaryThenDim,
        Mode::DimThenBinary => SearchMode::DimThenBinary,
        _ => SearchMode::Iterative,
    };
    let zero_rank = mode == SearchMode::NoIter;
    let slots = search_slots(&catalogue, zero_rank)?;
    let selection_start = args
        .selection_start_epoch
        .unwrap_or_else(|| default_selection_start(args.epochs));
    let selection = (!args.no_early_selection).then(|| {
        let defaults = SelectionConfig::new();
        let steps = args.max_selection_steps.unwrap_or_else(|| {
            fitted_selection_steps(
                steps_per_epoch,
                args.epochs,
                selection_start,
                defaults.trigger_window,
            )
        });
        defaults
            .with_prune_begin_epoch(selection_start)
            .with_max_prune_steps(steps)
            .with_trigger_threshold(args.trigger_threshold)
            .with_criterion(match args.criterion {
                CriterionArg::Tra => Criterion::Tra,
                CriterionArg::Val => Criterion::Val,
                CriterionArg::TraVal => Criterion::TraVal,
                CriterionArg::TraValCos1 => Criterion::TraValCos1,
                CriterionArg::TraValCos2 => Criterion::TraValCos2,
            })
    });
    let search_config = SearchConfig::new(budget)
        .with_epochs(args.epochs)
        .with_mode(mode)
        .with_sampling(if args.mode == Mode::NoGumbel {
            bipeft_core::search::Sampling::Softmax
        } else {
            bipeft_core::search::Sampling::Gumbel
        })
        .with_weight_lr(args.weight_lr)
        .with_arch_lr(args.arch_lr)
        .with_selection(selection.clone())
        .with_seed(args.seed);

    B::seed(&device, args.seed);
    let model = TaskModel::<B>::new(
        &config,
        &files.weights,
        &catalogue,
        &data.info.labels,
        zero_rank,
        &device,
    )?;
    let (mut search, mut driver) = match resume {
        Some((checkpoint, driver)) => (
            BilevelSearch::resume(
                model,
                slots.clone(),
                search_config.clone(),
                &checkpoint,
                &device,
            )
            .context("the checkpoint does not fit this run")?,
            driver,
        ),
        None => (
            BilevelSearch::new(
                model,
                slots.clone(),
                search_config.clone(),
                steps_per_epoch,
                &device,
            )?,
            Driver {
                argv: job.argv.clone(),
                cwd: job.cwd.clone(),
                epoch: 0,
                batch: 0,
                step: 0,
                steps: Vec::new(),
                events_seen: 0,
                seconds: 0.0,
                data_fingerprint: Some(data_fingerprint),
            },
        ),
    };
    let seconds_before = driver.seconds;

    let total_steps = args.epochs * steps_per_epoch;
    let mut progress = args.progress.reporter()?;
    progress.message(&format!(
        "searching {} slots of space `{}` on {} ({} weight / {} architecture examples, {} steps per epoch), budget {budget}{}{}",
        catalogue.slots().len(),
        catalogue.space.name,
        task_name,
        splits.search_weights.len(),
        splits.search_arch.len(),
        steps_per_epoch,
        selection.as_ref().map_or(String::new(), |s| format!(
            ", selection from epoch {} in T = {} steps",
            s.prune_begin_epoch, s.max_prune_steps
        )),
        if driver.step > 0 {
            format!(", resumed at step {}", driver.step)
        } else {
            String::new()
        }
    ));
    for note in &splits.notes {
        progress.message(&format!("note: {note}"));
    }
    progress.phase_from("search", total_steps, driver.step);
    let every = args.checkpoint_every.unwrap_or(0);
    let (start_epoch, start_batch) = (driver.epoch, driver.batch);
    'epochs: for epoch in start_epoch..args.epochs {
        let plan = SearchEpochPlan::new(&tokenized, &splits, args.batch_size, args.seed, epoch)?;
        let first = if epoch == start_epoch { start_batch } else { 0 };
        for (i, items) in plan.weights.iter().enumerate().skip(first) {
            if search.stopped_early() {
                break 'epochs;
            }
            let batch = collate(&tokenized, items)?.to_tensors::<B>(&device);
            let arch_batch = collate(&tokenized, plan.arch_for(i))?.to_tensors::<B>(&device);
            let outcome = block_on(search.step(&arch_batch, &batch, epoch))?;
            let record = StepRecord {
                step: driver.step,
                outcome,
            };
            progress.step_with(&record.progress_line(budget), &record)?;
            for event in &search.events()[driver.events_seen..] {
                progress.event("search", event)?;
            }
            driver.events_seen = search.events().len();
            driver.steps.push(record);
            driver.step += 1;
            (driver.epoch, driver.batch) = (epoch, i + 1);
            if every > 0 && driver.step % every == 0 {
                driver.seconds = seconds_before + started.elapsed().as_secs_f64();
                save_checkpoint(&search, &driver, &job.out)?;
                progress.event("checkpoint", &serde_json::json!({ "step": driver.step }))?;
            }
        }
    }
    driver.seconds = seconds_before + started.elapsed().as_secs_f64();
    save_checkpoint(&search, &driver, &job.out)?;
    progress.finish_phase()?;
    let stopped_early = search.stopped_early();
    let remaining_steps = search.state().remaining_steps;
    let events = search.events().to_vec();
    let (_, _, arch) = block_on(search.finish())?;
    let peft = peft_config_in_budget(&catalogue, &arch, zero_rank)?;
    let mut notes = SelectionOutcome::of(
        &events,
        stopped_early,
        selection.is_some().then_some(remaining_steps),
        peft.trainable_params,
        budget,
    )
    .lines();
    notes.extend(arch.notes());

    let seconds = seconds_before + started.elapsed().as_secs_f64();
    let steps = driver.steps;
    let mode_name = format!("{:?}", args.mode).to_lowercase();
    let trace = Trace {
        format: "bipeft-search-trace",
        model_type: config.model_type(),
        task: &task_name,
        space: &catalogue.space.name,
        mode: mode_name,
        seed: args.seed,
        budget_params: budget,
        backbone_params,
        config: Some(&search_config),
        slots: slot_infos(&catalogue),
        steps,
        events: &events,
        stopped_early,
        result: Some(&arch),
        notes: notes.clone(),
        trainable_params: peft.trainable_params,
        seconds,
    };
    write_json_atomic(&job.out.join("search_trace.json"), &trace)?;
    write_json_atomic(&job.out.join("peft_config.json"), &peft)?;
    print_summary(
        &peft,
        budget,
        backbone_params,
        seconds,
        stopped_early,
        &notes,
        &job.out,
    );
    Ok(())
}

/// Writes the search and the run's own state to `RUN_DIR/search_checkpoint.bin`,
/// atomically: a run killed while writing keeps the previous checkpoint.
fn save_checkpoint<B: burn::tensor::backend::AutodiffBackend>(
    search: &BilevelSearch<B, TaskModel<B>>,
    driver: &Driver,
    out: &Path,
) -> anyhow::Result<()> {
    let mut checkpoint = block_on(search.checkpoint())?;
    checkpoint.driver = serde_json::to_vec(driver)?;
    Ok(write_atomic(&out.join(CHECKPOINT), &checkpoint.to_bytes()?)?)
}

fn slot_infos(catalogue: &Catalogue) -> Vec<SlotInfo<'_>> {
    catalogue
        .slots()
        .iter()
        .map(|s| SlotInfo {
            name: &s.name,
            kind: s.kind,
            ranks: &s.ranks,
            params: &s.params,
        })
        .collect()
}

impl StepRecord {
    fn progress_line(&self, budget: u64) -> String {
        let o = &self.outcome;
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
}

fn finish_baseline(
    job: &Job,
    peft: &PeftConfig,
    budget: u64,
    backbone_params: u64,
    catalogue: &Catalogue,
    started: Instant,
) -> anyhow::Result<()> {
    let args = &job.args;
    let seconds = started.elapsed().as_secs_f64();
    let name = args.mode.baseline().map_or("?", |b| b.name());
    let notes = vec![format!(
        "hand-made baseline `{name}` sized to the budget: {} of {budget} parameters ({:.1}%)",
        peft.trainable_params,
        100.0 * peft.trainable_params as f64 / budget.max(1) as f64
    )];
    let trace = Trace {
        format: "bipeft-search-trace",
        model_type: &peft.backbone.model_type,
        task: &job.task,
        space: &catalogue.space.name,
        mode: format!("{:?}", args.mode).to_lowercase(),
        seed: args.seed,
        budget_params: budget,
        backbone_params,
        config: None,
        slots: slot_infos(catalogue),
        steps: Vec::new(),
        events: &[],
        stopped_early: false,
        result: None,
        notes: notes.clone(),
        trainable_params: peft.trainable_params,
        seconds,
    };
    write_json_atomic(&job.out.join("search_trace.json"), &trace)?;
    write_json_atomic(&job.out.join("peft_config.json"), peft)?;
    print_summary(
        peft,
        budget,
        backbone_params,
        seconds,
        false,
        &notes,
        &job.out,
    );
    Ok(())
}

fn print_summary(
    peft: &PeftConfig,
    budget: u64,
    backbone_params: u64,
    seconds: f64,
    stopped_early: bool,
    notes: &[String],
    out: &Path,
) {
    println!(
        "{} modules, {} trainable parameters of a budget of {budget} ({:.4}% of {backbone_params}); {:.1} s{}",
        peft.modules.len(),
        peft.trainable_params,
        100.0 * peft.trainable_params as f64 / backbone_params.max(1) as f64,
        seconds,
        if stopped_early { ", stopped early" } else { "" }
    );
    let mut per_kind: std::collections::BTreeMap<String, (usize, u64)> = Default::default();
    let mut per_layer: std::collections::BTreeMap<String, usize> = Default::default();
    for m in &peft.modules {
        let e = per_kind.entry(m.kind.to_string()).or_default();
        e.0 += 1;
        e.1 += m.params;
        *per_layer.entry(layer_of(&m.name)).or_default() += 1;
    }
    println!("per kind:");
    for (kind, (n, params)) in &per_kind {
        println!("  {kind:<18} {n:>4} modules {params:>10} parameters");
    }
    println!("per layer:");
    for (layer, n) in &per_layer {
        println!("  {layer:<30} {n:>4} modules");
    }
    for note in notes {
        println!("note: {note}");
    }
    println!("wrote {}", out.join("peft_config.json").display());
}

/// `encoder.layer.3.attention.self.query` → `encoder.layer.3`.
fn layer_of(name: &str) -> String {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.iter().position(|p| p.parse::<usize>().is_ok()) {
        Some(i) => parts[..=i].join("."),
        None => name.to_string(),
    }
}
