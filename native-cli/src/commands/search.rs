//! `bipeft search`: the BIPEFT search on a real model and task, writing
//! `RUN_DIR/peft_config.json` (the discrete configuration within the budget)
//! and `RUN_DIR/search_trace.json` (every step, for replay in a browser).
//!
//! The loop is the library's async [`BilevelSearch::step`], driven here by a
//! plain `block_on`: every host read happens inside it, awaited, so the
//! browser drives the very same code on WebGPU.

mod args;
mod job;

pub use args::Args;

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use bipeft_core::data::{load_task, SplitOptions};
use bipeft_core::experiment::Method;
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::session::{
    size_baseline, SearchOptions, SearchSession, SearchSpec, SearchTrace, SelectionOptions,
    StepRecord,
};
use bipeft_core::space::SpaceDef;
use bipeft_core::train::atomic::{write_atomic, write_json_atomic};
use bipeft_core::train::model::Backbone;
use burn::backend::Autodiff;
use burn::prelude::Backend;
use futures_lite::future::block_on;

use crate::backend::{with_backend, BackendRun};
use job::{check_out_dir, resolve, Driver, Job, CHECKPOINT};

/// Weight steps between checkpoints unless `--checkpoint-every` says otherwise.
const DEFAULT_CHECKPOINT_EVERY: usize = 50;

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
    let source = args.custom.task_source(&job.task, args.max_length)?;
    crate::commands::retrain::check_data(&job.data, &source)?;
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
    let every = args.checkpoint_every.unwrap_or(DEFAULT_CHECKPOINT_EVERY);
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
    print_summary(&result.config, &trace, &job.out, job.args.summary_to_stderr);
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
    print_summary(&result.config, &trace, &job.out, job.args.summary_to_stderr);
    Ok(())
}

fn print_summary(peft: &PeftConfig, trace: &SearchTrace, out: &Path, to_stderr: bool) {
    use std::fmt::Write as _;
    let mut t = String::new();
    let (budget, backbone_params) = (trace.budget_params, trace.backbone_params);
    let _ = writeln!(
        t,
        "{} modules, {} trainable parameters of a budget of {budget} ({:.4}% of {backbone_params}); {:.1} s{}",
        peft.modules.len(),
        peft.trainable_params,
        100.0 * peft.trainable_params as f64 / backbone_params.max(1) as f64,
        trace.seconds.unwrap_or(0.0),
        if trace.stopped_early { ", stopped early" } else { "" }
    );
    // The same table as `bipeft inspect RUN_DIR`.
    match crate::commands::inspect::Summary::new(peft, None) {
        Ok(summary) => t.push_str(&summary.to_text()),
        Err(e) => {
            let _ = writeln!(t, "(no table: {e})");
        }
    }
    for note in &trace.notes {
        let _ = writeln!(t, "note: {note}");
    }
    let _ = writeln!(t, "wrote {}", out.join("peft_config.json").display());
    crate::progress::print_summary(&t, to_stderr);
}
