//! `bipeft experiment --plan FILE --out DIR`: every cell of a plan (search
//! unless a baseline, retrain, test score), each stored in `DIR/cells/` as it
//! finishes; a rerun skips finished cells. `--shard I/N` computes only that
//! shard's cells, and a cell being computed is locked, so several runs (a job
//! array) can share one `DIR`. After every cell the report in `DIR` is
//! rewritten from every finished cell there: `results.json`, `results.md` and
//! the SVG plots.

mod lock;
mod plots;
mod retrain;
mod run_cell;
mod store;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use bipeft_core::experiment::{Cell, CellRecord, Plan, Report, Shard};

use bipeft_core::train::atomic::write_atomic;
use crate::backend::BackendArgs;
use store::Store;

#[derive(clap::Args)]
pub struct Args {
    /// The plan: a TOML or JSON file (models, tasks, budgets, methods, seeds).
    #[arg(long)]
    pub plan: PathBuf,
    /// Where cells and the report go; a rerun with the same --out resumes.
    #[arg(long)]
    pub out: PathBuf,
    /// Compute at most this many cells in this run, then write the report and stop.
    #[arg(long)]
    pub max_cells: Option<usize>,
    /// Only rewrite the report from the finished cells; compute nothing.
    #[arg(long)]
    pub report_only: bool,
    /// Compute only shard I of N of the cells (0 <= I < N; a fixed
    /// assignment by each cell's key), for a job array sharing one --out.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// No per-cell progress lines.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = Plan::from_file(&args.plan)
        .with_context(|| format!("reading the plan {}", args.plan.display()))?;
    let cells = plan.cells();
    let store = Store::new(&args.out);
    let command = regenerate_command(&args);
    let finished: Vec<Option<CellRecord>> = cells
        .iter()
        .map(|c| store.load(c))
        .collect::<anyhow::Result<_>>()?;
    let done_before = finished.iter().filter(|r| r.is_some()).count();
    let to_run: Vec<usize> = (0..cells.len())
        .filter(|&i| finished[i].is_none())
        .filter(|&i| args.shard.is_none_or(|s| s.contains(&cells[i])))
        .collect();
    if !args.report_only && !to_run.is_empty() {
        check_inputs(&plan)?;
    }
    let say = |line: String| {
        if !args.quiet {
            eprintln!("{line}");
        }
    };
    say(format!(
        "{} cells in the plan, {done_before} already finished in {}{}",
        cells.len(),
        args.out.display(),
        args.shard.map_or(String::new(), |s| format!(
            "; shard {s}: {} to compute",
            to_run.len()
        ))
    ));
    if !args.report_only {
        let limit = args.max_cells.unwrap_or(usize::MAX);
        let started = Instant::now();
        let mut computed = 0usize;
        for &i in to_run.iter() {
            if computed == limit {
                break;
            }
            let cell = &cells[i];
            // Another run sharing --out may have finished or taken it meanwhile.
            if store.load(cell)?.is_some() {
                continue;
            }
            let Some(claim) = lock::claim(&store.lock_file(cell))? else {
                say(format!("{}: being computed by another run; skipped", cell.id()));
                continue;
            };
            let done = finished_count(&cells, &store)?;
            say(format!("[{}/{}] {} ...", done + 1, cells.len(), cell.id()));
            let record = run_cell::run(cell, &store, &args.backend)
                .with_context(|| format!("cell {}", cell.id()))?;
            store.save(cell, &record)?;
            drop(claim);
            computed += 1;
            say(format!(
                "[{}/{}] {}: {} {:.2}, {} params, search {:.1} s, retrain {:.1} s; {}",
                done + 1,
                cells.len(),
                cell.id(),
                record.metric,
                100.0 * record.score,
                record.trainable_params,
                record.search_seconds,
                record.retrain_seconds,
                eta(started, computed, to_run.len().min(limit) - computed)
            ));
            write_report(&plan, &cells, &store, &command)?;
        }
    }
    write_report(&plan, &cells, &store, &command)?;
    let done = finished_count(&cells, &store)?;
    say(format!(
        "{done}/{} cells finished; report in {}",
        cells.len(),
        args.out.join("results.md").display()
    ));
    Ok(())
}

/// The time left at the mean pace of the cells computed in this run.
fn eta(started: Instant, computed: usize, left: usize) -> String {
    let per_cell = started.elapsed().as_secs_f64() / computed.max(1) as f64;
    let seconds = per_cell * left as f64;
    if left == 0 {
        "no cells left in this run".into()
    } else if seconds >= 90.0 {
        format!("{left} cells left, about {:.0} min", seconds / 60.0)
    } else {
        format!("{left} cells left, about {seconds:.0} s")
    }
}

/// Every model folder and data folder exists, before hours of work start.
fn check_inputs(plan: &Plan) -> anyhow::Result<()> {
    for model in &plan.models {
        if !model.path.join("config.json").is_file() {
            bail!(
                "model `{}`: {} holds no config.json",
                model.name,
                model.path.display()
            );
        }
    }
    for task in &plan.tasks {
        if !task.data.is_dir() {
            bail!("task {}: no data folder {}", task.name, task.data.display());
        }
    }
    Ok(())
}

fn regenerate_command(args: &Args) -> String {
    format!(
        "cargo run --release -p bipeft-cli -- experiment --plan {} --out {}",
        args.plan.display(),
        args.out.display()
    )
}

/// Cells of the plan finished in the store, by any run.
fn finished_count(cells: &[Cell], store: &Store) -> anyhow::Result<usize> {
    let mut done = 0;
    for cell in cells {
        done += usize::from(store.load(cell)?.is_some());
    }
    Ok(done)
}

/// The report of every cell finished in the store (by this run or another
/// sharing it), in plan order.
fn write_report(plan: &Plan, cells: &[Cell], store: &Store, command: &str) -> anyhow::Result<()> {
    let mut records: Vec<CellRecord> = Vec::new();
    for cell in cells {
        records.extend(store.load(cell)?);
    }
    let report = Report::new(plan, records, command.to_string());
    let out = store.root();
    bipeft_core::train::atomic::write_json_atomic(&out.join("results.json"), &report)?;
    write_atomic(&out.join("results.md"), report.to_markdown().as_bytes())?;
    plots::score_vs_budget(&report.groups, out)?;
    plots::search_time(
        &report.search_seconds_per_method,
        &out.join("search_time.svg"),
    )?;
    Ok(())
}
