//! One cell: the search (`bipeft search` in a child process of this same
//! binary, so a cell sees exactly what a user running the search sees, and
//! its time is the search's whole cost), then the retrain and test score.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use bipeft_core::experiment::{Cell, CellOutcome, CellRecord};
use bipeft_core::peft_config::PeftConfig;
use clap::ValueEnum;

use super::store::Store;
use crate::backend::BackendArgs;

/// What the search step left behind.
pub struct Searched {
    pub peft: PeftConfig,
    pub seconds: f64,
    pub notes: Vec<String>,
}

/// Runs `cell` from scratch in its fresh work folder.
pub fn run(cell: &Cell, store: &Store, backend: &BackendArgs) -> anyhow::Result<CellRecord> {
    let work = store.fresh_work_dir(cell)?;
    let computed = search(cell, &work.join("search"), backend).and_then(|searched| {
        let retrained =
            super::retrain::retrain(cell, &searched.peft, &work.join("retrain"), backend)?;
        Ok((searched, retrained))
    });
    // A failed cell leaves nothing behind: its next attempt starts afresh anyway.
    let (searched, retrained) = computed.inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&work);
    })?;
    let mut notes = searched.notes;
    notes.extend(retrained.notes);
    Ok(CellRecord::new(
        cell,
        CellOutcome {
            budget_params: searched.peft.budget_params,
            metric: retrained.metric,
            score: retrained.score,
            scores: retrained.scores,
            trainable_params: searched.peft.trainable_params,
            modules: searched.peft.modules.len(),
            search_seconds: searched.seconds,
            retrain_seconds: retrained.seconds,
            notes,
            majority_score: retrained.majority_score,
        },
    ))
}

/// The `bipeft search` arguments of `cell`.
pub fn search_args(cell: &Cell, out: &Path, backend: &BackendArgs) -> Vec<String> {
    let s = &cell.search;
    let (mode, no_early_selection) = cell.method.search_mode();
    let mut args: Vec<String> = vec!["search".into()];
    let mut push = |flag: &str, value: String| {
        args.push(flag.into());
        args.push(value);
    };
    push("--model", cell.model_path.display().to_string());
    push("--task", cell.task.clone());
    push("--data", cell.data.display().to_string());
    push("--budget", cell.budget.label());
    push("--space", s.space.clone());
    push("--epochs", s.epochs.to_string());
    push("--seed", cell.seed.to_string());
    push("--batch-size", s.batch_size.to_string());
    push("--mode", mode.to_string());
    push("--out", out.display().to_string());
    push("--backend", backend_name(backend));
    push("--device", backend.device.clone());
    if let Some(n) = cell.max_train_examples {
        push("--max-train-examples", n.to_string());
    }
    if let Some(n) = cell.max_length {
        push("--max-length", n.to_string());
    }
    if let Some(n) = cell.validation_from_train {
        push("--validation-from-train", n.to_string());
    }
    if let Some(v) = s.weight_lr {
        push("--weight-lr", v.to_string());
    }
    if let Some(v) = s.arch_lr {
        push("--arch-lr", v.to_string());
    }
    if let Some(v) = s.selection_start_epoch {
        push("--selection-start-epoch", v.to_string());
    }
    if let Some(v) = s.max_selection_steps {
        push("--max-selection-steps", v.to_string());
    }
    if let Some(v) = s.trigger_threshold {
        push("--trigger-threshold", v.to_string());
    }
    if no_early_selection {
        args.push("--no-early-selection".into());
    }
    args.push("--quiet".into());
    args.push("--force".into());
    args
}

fn backend_name(backend: &BackendArgs) -> String {
    backend
        .backend
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_else(|| "flex".into())
}

/// Runs the search of `cell` into `out` and reads its configuration back.
pub fn search(cell: &Cell, out: &Path, backend: &BackendArgs) -> anyhow::Result<Searched> {
    let exe = std::env::current_exe().context("cannot find the bipeft binary to run the search")?;
    let started = Instant::now();
    let mut command = Command::new(&exe);
    command.args(search_args(cell, out, backend));
    dies_with_parent(&mut command);
    let output = command
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "the search failed ({}): {}",
            output.status,
            failure_line(&stderr)
        );
    }
    let peft_config_path = out.join("peft_config.json");
    let peft = PeftConfig::load(&peft_config_path)
        .with_context(|| format!("reading {}", peft_config_path.display()))?;
    let notes = search_notes(&out.join("search_trace.json"));
    Ok(Searched {
        peft,
        seconds,
        notes,
    })
}

/// A search child outlives a killed experiment otherwise (SIGKILL reaches
/// only the parent): on Linux the kernel kills it when its parent dies.
#[cfg(target_os = "linux")]
fn dies_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and calls only
    // prctl, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn dies_with_parent(_command: &mut Command) {}

/// What a failed search said: its `error:` line, or where it panicked and
/// why (a panic's last line is only the backtrace hint), else its last line.
fn failure_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let Some(at) = lines
        .iter()
        .rposition(|l| l.starts_with("error") || l.contains("panicked at"))
    else {
        return lines.last().unwrap_or(&"no message").to_string();
    };
    match lines.get(at + 1) {
        Some(why) if lines[at].contains("panicked at") => format!("{} {why}", lines[at]),
        _ => lines[at].to_string(),
    }
}

/// The trace's notes (how the early selection ended, the trim to the budget
/// and the refill after it), if it has any.
fn search_notes(trace: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(trace) else {
        return Vec::new();
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    value["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(|s| format!("search: {s}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendKind;
    use bipeft_core::experiment::{Plan, PlanFormat};

    #[test]
    fn a_failed_search_is_named_by_its_error_or_its_panic() {
        let panic = "\nthread 'main' panicked at core/src/x.rs:3:5:\nindex out of bounds\n\
                     note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            failure_line(panic),
            "thread 'main' panicked at core/src/x.rs:3:5: index out of bounds"
        );
        assert_eq!(
            failure_line("progress\nerror: --budget `150%`: give …\n"),
            "error: --budget `150%`: give …"
        );
        assert_eq!(failure_line("last words\n"), "last words");
        assert_eq!(failure_line(""), "no message");
    }

    #[test]
    fn search_arguments_follow_the_cell() {
        let text = r#"
budgets = ["0.5%"]
methods = ["no_early_selection", "bitfit"]
seeds = [3]
[[models]]
name = "m"
path = "/models/m"
[[tasks]]
name = "rte"
data = "/data/RTE"
max_length = 48
validation_from_train = 100
search_epochs = 1
[search]
space = "lora"
selection_start_epoch = 0
"#;
        let cells = Plan::parse(text, PlanFormat::Toml, "p.toml", Path::new("/"))
            .unwrap()
            .cells();
        let backend = BackendArgs {
            backend: BackendKind::Flex,
            device: "cpu".into(),
        };
        let args = search_args(&cells[0], Path::new("/w/search"), &backend).join(" ");
        assert_eq!(
            args,
            "search --model /models/m --task rte --data /data/RTE --budget 0.5% --space lora \
             --epochs 1 --seed 3 --batch-size 32 --mode bipeft --out /w/search --backend flex \
             --device cpu --max-length 48 --validation-from-train 100 --selection-start-epoch 0 --no-early-selection --quiet --force"
        );
        let args = search_args(&cells[1], Path::new("/w"), &backend).join(" ");
        assert!(
            args.contains("--mode bitfit") && !args.contains("--no-early-selection"),
            "{args}"
        );
    }
}
