//! What `bipeft search` is asked to run: the options of a new run, or of a
//! resumed one as it was started (its stored command line and checkpoint),
//! and the run folder's checks.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bipeft_core::experiment::Budget;
use bipeft_core::search::SearchCheckpoint;
use bipeft_core::space::SpaceDef;
use serde::{Deserialize, Serialize};

use super::args::Args;

/// A search to run: the options (a resumed run's as it was started) and,
/// when resuming, its checkpoint.
pub(super) struct Job {
    pub(super) args: Args,
    pub(super) model: PathBuf,
    pub(super) task: String,
    pub(super) data: PathBuf,
    pub(super) budget: Budget,
    pub(super) out: PathBuf,
    /// The command line after `search`, for a later `--resume`.
    pub(super) argv: Vec<String>,
    pub(super) cwd: PathBuf,
    pub(super) resume: Option<(SearchCheckpoint, Driver)>,
}

/// The checkpoint file in a run directory.
pub(super) const CHECKPOINT: &str = "search_checkpoint.bin";

/// What the command keeps in a checkpoint beside the session's progress.
#[derive(Serialize, Deserialize)]
pub(super) struct Driver {
    /// The command line the run was started with, and where.
    pub(super) argv: Vec<String>,
    pub(super) cwd: PathBuf,
    /// Search time before this process.
    pub(super) seconds: f64,
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
pub(super) fn resolve(args: Args) -> anyhow::Result<Job> {
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

pub(super) fn check_out_dir(out: &Path, force: bool) -> anyhow::Result<()> {
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
