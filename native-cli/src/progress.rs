//! What long commands tell the user while they run: a progress bar per phase
//! on stderr (steps, what the caller says about the step, ETA), `--quiet` to
//! silence it, and `--log-json FILE` for machines: one JSON object per line,
//! per step and per event, flushed as it happens so a killed run keeps its log.
//!
//! Commands take both options by flattening [`ProgressArgs`]:
//!
//! ```ignore
//! #[command(flatten)]
//! pub progress: ProgressArgs,
//! // …
//! let mut progress = args.progress.reporter()?;
//! progress.phase("retrain", total_steps);
//! progress.step("loss 0.6931", &json!({"loss": 0.6931}))?;
//! progress.event("epoch", &json!({"epoch": 0, "accuracy": 0.91}))?;
//! progress.finish_phase()?;
//! ```
//!
//! On a terminal the bar is indicatif's, redrawn in place, and messages
//! (validation scores, notes) print above it; when stderr is a file or a pipe
//! a plain line is printed every few seconds instead, so logs stay readable.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{Map, Value};

/// `--quiet` and `--log-json FILE`, for any command that reports progress.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ProgressArgs {
    /// No progress output on stderr (errors and the final summary still print).
    #[arg(long)]
    pub quiet: bool,
    /// Also write a machine log to FILE: one JSON object per line, per step
    /// and per event (`{"type": "step" | "event" | "phase", ...}`).
    #[arg(long, value_name = "FILE")]
    pub log_json: Option<PathBuf>,
}

impl ProgressArgs {
    /// A reporter for these options. `--log-json` is appended to, so a resumed
    /// run continues its log.
    pub fn reporter(&self) -> anyhow::Result<Progress> {
        let json = match &self.log_json {
            Some(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("--log-json {}: cannot open", path.display()))?;
                Some(BufWriter::new(file))
            }
            None => None,
        };
        Ok(Progress {
            quiet: self.quiet,
            terminal: std::io::stderr().is_terminal(),
            json,
            phase: None,
            started: Instant::now(),
        })
    }
}

/// A command's closing summary: on stdout, or on stderr where the command
/// runs inside another whose stdout is its own result (`bipeft demo`).
pub fn print_summary(text: &str, to_stderr: bool) {
    if to_stderr {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

/// The running phase: a named bar.
struct Phase {
    name: String,
    total: usize,
    done: usize,
    /// Steps already done when the phase (re)started, e.g. on a resumed run:
    /// they do not count towards the speed.
    offset: usize,
    started: Instant,
    /// On a terminal: indicatif's bar. Elsewhere (a log file, a pipe): a
    /// plain line every few seconds, drawn by [`Phase::line`].
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
}
/// Progress output for one command run.
pub struct Progress {
    quiet: bool,
    terminal: bool,
    json: Option<BufWriter<File>>,
    phase: Option<Phase>,
    started: Instant,
}

// The first interface (`new`, `step`, `done`) stays for commands written
// against it; `search` uses the reporter.
#[allow(dead_code)]
impl Progress {
    /// A human-only reporter (the older interface): `total` steps, one phase.
    pub fn new(total: usize, quiet: bool) -> Self {
        let mut progress = ProgressArgs {
            quiet,
            log_json: None,
        }
        .reporter()
        .expect("no file to open");
        progress.start("run", total, 0);
        progress
    }
}

impl Progress {
    /// Starts a phase of `total` steps (the previous one ends).
    #[allow(dead_code)] // for the other commands; `search` may resume mid-phase
    pub fn phase(&mut self, name: &str, total: usize) {
        self.phase_from(name, total, 0);
    }

    /// Starts a phase of `total` steps of which `done` are already done (a
    /// resumed run).
    pub fn phase_from(&mut self, name: &str, total: usize, done: usize) {
        self.clear_bar();
        self.start(name, total, done);
        let record = serde_json::json!({ "total": total, "done": done });
        // A log error surfaces at the next step; starting a phase cannot fail.
        let _ = self.write_json("phase", &record);
    }

    fn start(&mut self, name: &str, total: usize, done: usize) {
        let bar = (self.terminal && !self.quiet).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:24}] {pos}/{len}  {msg}  {elapsed}, ETA {eta}",
            )
            .expect("a valid template")
            .progress_chars("#>.");
            bar.set_style(style);
            bar.set_prefix(name.to_string());
            bar.set_position(done as u64);
            // Resumed steps do not count towards the speed.
            bar.reset_eta();
            bar
        });
        self.phase = Some(Phase {
            name: name.to_string(),
            total,
            done,
            offset: done,
            started: Instant::now(),
            bar,
            last_line: None,
        });
    }

    /// One step done: `status` for the bar (e.g. `loss 0.69  τ 4.20`),
    /// `record` (a JSON object) for the machine log.
    pub fn step_with<T: Serialize>(&mut self, status: &str, record: &T) -> anyhow::Result<()> {
        if let Some(phase) = self.phase.as_mut() {
            phase.done += 1;
        }
        self.write_json("step", record)?;
        self.draw(status);
        Ok(())
    }

    /// One step done, described by `status` only (no machine record).
    #[allow(dead_code)]
    pub fn step(&mut self, status: &str) {
        if let Some(phase) = self.phase.as_mut() {
            phase.done += 1;
        }
        self.draw(status);
    }

    /// Something happened (`kind`: e.g. `selection`, `checkpoint`): a JSON
    /// line with the record's fields.
    pub fn event<T: Serialize>(&mut self, kind: &str, record: &T) -> anyhow::Result<()> {
        let line = serde_json::json!({ "event": kind });
        let mut merged = to_object(record)?;
        if let Value::Object(head) = line {
            for (k, v) in head {
                merged.entry(k).or_insert(v);
            }
        }
        self.write_json("event", &Value::Object(merged))
    }

    /// A line for the user (not with `--quiet`), printed above the bar.
    pub fn message(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        match self.phase.as_ref().and_then(|p| p.bar.as_ref()) {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    /// Ends the phase: the bar's last state stays on screen.
    pub fn finish_phase(&mut self) -> anyhow::Result<()> {
        if let Some(phase) = &self.phase {
            let (done, seconds) = (phase.done, phase.started.elapsed().as_secs_f64());
            let name = phase.name.clone();
            if let Some(bar) = &phase.bar {
                bar.finish();
            }
            if !self.quiet {
                eprintln!("{name}: {done} steps in {seconds:.1} s");
            }
            self.phase = None;
            let record =
                serde_json::json!({ "phase_done": name, "steps": done, "seconds": seconds });
            self.write_json("phase", &record)?;
        }
        if let Some(json) = self.json.as_mut() {
            json.flush().context("writing --log-json")?;
        }
        Ok(())
    }

    /// The run ended (possibly early); the older interface.
    #[allow(dead_code)]
    pub fn done(&mut self) {
        let _ = self.finish_phase();
    }

    fn write_json<T: Serialize>(&mut self, kind: &str, record: &T) -> anyhow::Result<()> {
        let Some(json) = self.json.as_mut() else {
            return Ok(());
        };
        let mut line = Map::new();
        line.insert("type".into(), kind.into());
        if let Some(phase) = &self.phase {
            line.insert("phase".into(), phase.name.clone().into());
            line.insert("done".into(), phase.done.into());
            line.insert("total".into(), phase.total.into());
        }
        line.insert(
            "elapsed_s".into(),
            Value::from((self.started.elapsed().as_secs_f64() * 1e3).round() / 1e3),
        );
        for (k, v) in to_object(record)? {
            line.insert(k, v);
        }
        serde_json::to_writer(&mut *json, &Value::Object(line)).context("writing --log-json")?;
        json.write_all(b"\n").context("writing --log-json")?;
        // Flushed per line: a killed run keeps every step it logged.
        json.flush().context("writing --log-json")?;
        Ok(())
    }

    fn draw(&mut self, status: &str) {
        if self.quiet {
            return;
        }
        let Some(phase) = self.phase.as_mut() else {
            return;
        };
        if let Some(bar) = &phase.bar {
            bar.set_position(phase.done as u64);
            bar.set_message(status.to_string());
            return;
        }
        // Not a terminal: a line every 5 s, and the last one.
        let now = Instant::now();
        let last = phase.done >= phase.total;
        if !last
            && phase
                .last_line
                .is_some_and(|t| now - t < Duration::from_secs(5))
        {
            return;
        }
        phase.last_line = Some(now);
        eprintln!("{}", phase.line(status));
    }

    /// Ends the current phase's bar before a new phase starts.
    fn clear_bar(&mut self) {
        if let Some(bar) = self.phase.as_ref().and_then(|p| p.bar.as_ref()) {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(json) = self.json.as_mut() {
            let _ = json.flush();
        }
    }
}

impl Phase {
    /// `search [#######.............] 120/800  <status>  1m10s, ETA 6m40s`
    fn line(&self, status: &str) -> String {
        const WIDTH: usize = 24;
        let filled = (WIDTH * self.done.min(self.total))
            .checked_div(self.total)
            .unwrap_or(WIDTH);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '.' })
            .collect();
        let elapsed = self.started.elapsed().as_secs_f64();
        let fresh = self.done.saturating_sub(self.offset);
        let eta = if fresh > 0 {
            let per_step = elapsed / fresh as f64;
            format!(
                ", {:.2} s/step, ETA ≤ {}",
                per_step,
                clock(per_step * self.total.saturating_sub(self.done) as f64)
            )
        } else {
            String::new()
        };
        format!(
            "{} [{bar}] {}/{}  {status}  {}{eta}",
            self.name,
            self.done,
            self.total,
            clock(elapsed)
        )
    }
}

/// `75` → `1m15s`, `4000` → `1h06m`.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn to_object<T: Serialize>(record: &T) -> anyhow::Result<Map<String, Value>> {
    match serde_json::to_value(record).context("a log record")? {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => {
            let mut map = Map::new();
            map.insert("value".into(), other);
            Ok(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_reads_like_a_clock() {
        assert_eq!(clock(0.4), "0s");
        assert_eq!(clock(75.0), "1m15s");
        assert_eq!(clock(4000.0), "1h06m");
    }

    #[test]
    fn bar_fills_with_the_steps() {
        let phase = Phase {
            name: "search".into(),
            total: 8,
            done: 2,
            offset: 0,
            started: Instant::now(),
            bar: None,
            last_line: None,
        };
        let line = phase.line("loss 0.6931");
        assert!(
            line.starts_with("search [######..................] 2/8  loss 0.6931"),
            "{line}"
        );
        assert!(line.contains("ETA"), "{line}");
    }

    #[test]
    fn json_lines_carry_phase_step_and_record() {
        let dir = std::env::temp_dir().join(format!("bipeft-progress-{}", std::process::id()));
        let path = dir.join("log.jsonl");
        let _ = std::fs::remove_dir_all(&dir);
        let args = ProgressArgs {
            quiet: true,
            log_json: Some(path.clone()),
        };
        let mut progress = args.reporter().unwrap();
        progress.phase("search", 2);
        progress
            .step_with("", &serde_json::json!({ "loss": 0.5 }))
            .unwrap();
        progress
            .event("selection", &serde_json::json!({ "pruned": ["a"] }))
            .unwrap();
        progress.finish_phase().unwrap();
        drop(progress);
        let lines: Vec<Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0]["type"], "phase");
        assert_eq!(lines[1]["type"], "step");
        assert_eq!(lines[1]["phase"], "search");
        assert_eq!(lines[1]["done"], 1);
        assert_eq!(lines[1]["loss"], 0.5);
        assert_eq!(lines[2]["event"], "selection");
        assert_eq!(lines[2]["pruned"][0], "a");
        assert_eq!(lines[3]["phase_done"], "search");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
