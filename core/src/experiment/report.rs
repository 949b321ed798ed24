//! The experiment's report: `results.json` (every cell and every group) and
//! `results.md` (a table per model and task: mean ± std over seeds per budget
//! and method, parameters used, search and retrain time; then where BIPEFT
//! stands against the other methods, stated from the numbers).

use std::fmt::Write as _;

use serde::Serialize;

use super::budget::Budget;
use super::method::Method;
use super::paired::{paired_differences, PairedDifference, MAX_SEEDS_TO_SEPARATE};
use super::plan::Plan;
use super::record::CellRecord;
use super::summary::{search_time_per_method, summarise, Group, Stat};

/// The `format` field of `results.json`.
pub const RESULTS_FORMAT: &str = "bipeft-experiment-results";

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub name: Option<String>,
    /// The command that regenerates this report.
    pub command: String,
    pub cells_total: usize,
    pub cells_done: usize,
    pub plan: Plan,
    pub groups: Vec<Group>,
    pub search_seconds_per_method: Vec<MethodTime>,
    /// BIPEFT − each other method, paired by seed, with 95% intervals.
    pub paired_differences: Vec<PairedDifference>,
    pub cells: Vec<CellRecord>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MethodTime {
    pub method: Method,
    pub search_seconds: Stat,
}

impl Report {
    /// The report of `records` (finished cells of `plan`, in plan order).
    pub fn new(plan: &Plan, records: Vec<CellRecord>, command: String) -> Report {
        let groups = summarise(plan, &records);
        let times = search_time_per_method(plan, &records)
            .into_iter()
            .map(|(method, search_seconds)| MethodTime {
                method,
                search_seconds,
            })
            .collect();
        Report {
            format: RESULTS_FORMAT,
            name: plan.name.clone(),
            command,
            cells_total: plan.cells().len(),
            cells_done: records.len(),
            plan: plan.clone(),
            groups,
            search_seconds_per_method: times,
            paired_differences: paired_differences(&records),
            cells: records,
        }
    }

    /// `results.md`.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let title = self.name.as_deref().unwrap_or("bipeft experiment");
        let _ = writeln!(md, "# {title}\n");
        let _ = writeln!(
            md,
            "{} of {} cells finished. Scores are on each task's test split, × 100, mean ± sample \
             standard deviation over seeds; `params` is the mean number of trainable PEFT \
             parameters (the task head is not counted); times are wall-clock seconds per cell.\n",
            self.cells_done, self.cells_total
        );
        let mut builds: Vec<&str> = self
            .cells
            .iter()
            .map(|c| c.computed_with.as_deref().unwrap_or("an unnamed build"))
            .collect();
        builds.sort_unstable();
        builds.dedup();
        if !builds.is_empty() {
            let _ = writeln!(
                md,
                "Cells computed with bipeft {} (search version {}, baselines {}).\n",
                builds.join(", "),
                super::cell::SEARCH_VERSION,
                super::cell::BASELINE_VERSION
            );
        }
        let _ = writeln!(md, "Regenerate:\n\n```sh\n{}\n```\n", self.command);
        let mut keys: Vec<(&str, &str)> = Vec::new();
        for g in &self.groups {
            if !keys.contains(&(&g.model, &g.task)) {
                keys.push((&g.model, &g.task));
            }
        }
        for (model, task) in &keys {
            let rows: Vec<&Group> = self
                .groups
                .iter()
                .filter(|g| g.model == *model && g.task == *task)
                .collect();
            let _ = writeln!(md, "## {model} · {task} ({})\n", rows[0].metric);
            if let Some(floor) = self.majority_score(model, task) {
                let _ = writeln!(
                    md,
                    "Always predicting the training set's most frequent class scores {:.2} on \
                     this test set: a method near it has learnt nothing.\n",
                    100.0 * floor
                );
            } else if matches!(rows[0].metric.as_str(), "pearson" | "spearman") {
                let _ = writeln!(
                    md,
                    "A constant prediction (the training mean) has no correlation with the labels: \
                     the floor is 0.\n"
                );
            }
            let _ = writeln!(
                md,
                "| budget | method | score | seeds | params | of budget | search s | retrain s |"
            );
            let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
            for g in &rows {
                let best = best_at(&rows, g);
                let score = format!("{:.2} ± {:.2}", 100.0 * g.score.mean, 100.0 * g.score.std);
                let score = if best { format!("**{score}**") } else { score };
                let _ = writeln!(
                    md,
                    "| {} ({}) | {} | {score} | {} | {:.0} | {:.1}% | {:.1} | {:.1} |",
                    g.budget,
                    g.budget_params,
                    g.method,
                    g.seeds.len(),
                    g.trainable_params.mean,
                    100.0 * g.trainable_params.mean / g.budget_params.max(1) as f64,
                    g.search_seconds.mean,
                    g.retrain_seconds.mean
                );
            }
            let _ = writeln!(md);
        }
        if !self.search_seconds_per_method.is_empty() {
            let _ = writeln!(md, "## Search time per method\n");
            let _ = writeln!(md, "| method | search s (mean ± std over cells) |");
            let _ = writeln!(md, "|---|---|");
            for t in &self.search_seconds_per_method {
                let _ = writeln!(
                    md,
                    "| {} | {:.1} ± {:.1} |",
                    t.method, t.search_seconds.mean, t.search_seconds.std
                );
            }
            let _ = writeln!(md);
            if let Some(line) = self.early_selection_saving() {
                let _ = writeln!(md, "{line}\n");
            }
        }
        if !self.paired_differences.is_empty() {
            let _ = writeln!(md, "## BIPEFT − method, paired by seed\n");
            let _ = writeln!(
                md,
                "Per model, task and budget: the mean over seeds of score(BIPEFT) − score(method) \
                 (× 100), its sample standard deviation, and a 95% confidence interval of the mean \
                 (Student's t). *separated* marks an interval that excludes 0. *seeds to \
                 separate*: how many seeds the interval would need to exclude 0 if the mean and \
                 the standard deviation stayed as measured (a planning figure; > {MAX_SEEDS_TO_SEPARATE} \
                 means the gap is too small for this spread).\n"
            );
            let _ = writeln!(
                md,
                "| model · task | budget | method | seeds | mean | std | 95% CI | | seeds to separate |"
            );
            let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
            for d in &self.paired_differences {
                let ci = d.ci95.map_or("—".to_string(), |(lo, hi)| {
                    format!("[{:.2}, {:.2}]", 100.0 * lo, 100.0 * hi)
                });
                let needed = match (d.ci95, d.seeds_to_separate) {
                    (None, _) => "—".to_string(),
                    (Some(_), Some(n)) => n.to_string(),
                    (Some(_), None) => format!("> {MAX_SEEDS_TO_SEPARATE}"),
                };
                let _ = writeln!(
                    md,
                    "| {} · {} | {} | {} | {} | {:+.2} | {:.2} | {ci} | {} | {needed} |",
                    d.model,
                    d.task,
                    d.budget,
                    d.method,
                    d.seeds.len(),
                    100.0 * d.mean,
                    100.0 * d.std,
                    if d.separates() { "separated" } else { "" }
                );
            }
            let _ = writeln!(md);
        }
        let standing = self.bipeft_standing();
        if !standing.is_empty() {
            let _ = writeln!(md, "## Where BIPEFT stands\n");
            for line in standing {
                let _ = writeln!(md, "- {line}");
            }
            let _ = writeln!(md);
        }
        md
    }

    /// The mean over this task's cells of the majority-class test score.
    pub fn majority_score(&self, model: &str, task: &str) -> Option<f64> {
        let floors: Vec<f64> = self
            .cells
            .iter()
            .filter(|c| c.model == model && c.task == task)
            .filter_map(|c| c.majority_score)
            .collect();
        (!floors.is_empty()).then(|| floors.iter().sum::<f64>() / floors.len() as f64)
    }

    /// The paper's claim for early selection, measured: BIPEFT's search time
    /// against the same search without early selection, over the cells
    /// (model, task, budget, seed) that have both.
    pub fn early_selection_saving(&self) -> Option<String> {
        let key = |c: &CellRecord| (c.model.clone(), c.task.clone(), c.budget.label(), c.seed);
        let mut ratios = Vec::new();
        for with in self.cells.iter().filter(|c| c.method == Method::Bipeft) {
            if let Some(without) = self
                .cells
                .iter()
                .find(|c| c.method == Method::NoEarlySelection && key(c) == key(with))
            {
                if without.search_seconds > 0.0 {
                    ratios.push(with.search_seconds / without.search_seconds);
                }
            }
        }
        let stat = Stat::of(&ratios)?;
        let spread = if ratios.len() > 1 {
            format!(" ± {:.0}%", 100.0 * stat.std)
        } else {
            String::new()
        };
        Some(format!(
            "Early selection: BIPEFT's search took {:.0}%{spread} of the time of the same search \
             without early selection ({} paired cell{}; wall-clock, so a busy machine blurs it).",
            100.0 * stat.mean,
            ratios.len(),
            if ratios.len() == 1 { "" } else { "s" }
        ))
    }

    /// One sentence per model × task × budget that has BIPEFT and another
    /// method: its rank by mean score, and the gap to the best other method
    /// in units of the larger of the two standard deviations.
    pub fn bipeft_standing(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for g in self.groups.iter().filter(|g| g.method == Method::Bipeft) {
            let peers: Vec<&Group> = self
                .groups
                .iter()
                .filter(|o| o.model == g.model && o.task == g.task && o.budget == g.budget)
                .collect();
            let Some(rival) = peers
                .iter()
                .filter(|o| o.method != Method::Bipeft)
                .max_by(|a, b| a.score.mean.total_cmp(&b.score.mean))
            else {
                continue;
            };
            let rank = 1 + peers.iter().filter(|o| o.score.mean > g.score.mean).count();
            let gap = 100.0 * (g.score.mean - rival.score.mean);
            let spread = 100.0 * g.score.std.max(rival.score.std);
            let verdict = if gap.abs() <= spread {
                "within one standard deviation of"
            } else if gap > 0.0 {
                "ahead of"
            } else {
                "behind"
            };
            let mut line = format!(
                "{} · {} · budget {}: BIPEFT ranks {rank} of {} ({:.2}); the best other method, {}, \
                 scores {:.2}; BIPEFT is {verdict} it ({gap:+.2}).",
                g.model,
                g.task,
                g.budget,
                peers.len(),
                100.0 * g.score.mean,
                rival.method,
                100.0 * rival.score.mean
            );
            line.push_str(&self.paired_verdict(&g.model, &g.task, g.budget));
            lines.push(line);
        }
        lines
    }

    /// What the paired 95% intervals of one model × task × budget say, as a
    /// sentence to follow its standing: which methods BIPEFT is separated from
    /// (ahead or behind), and which it is not, with the range of seeds those
    /// would need at the measured spread. Empty when no interval exists yet.
    fn paired_verdict(&self, model: &str, task: &str, budget: Budget) -> String {
        let diffs: Vec<&PairedDifference> = self
            .paired_differences
            .iter()
            .filter(|d| d.model == model && d.task == task && d.budget == budget)
            .filter(|d| d.ci95.is_some())
            .collect();
        if diffs.is_empty() {
            return String::new();
        }
        let names = |keep: &dyn Fn(&PairedDifference) -> bool| -> Vec<String> {
            diffs
                .iter()
                .filter(|d| keep(d))
                .map(|d| d.method.to_string())
                .collect()
        };
        let ahead = names(&|d| d.separates() && d.mean > 0.0);
        let behind = names(&|d| d.separates() && d.mean < 0.0);
        let open = names(&|d| !d.separates());
        let mut parts = Vec::new();
        if !ahead.is_empty() {
            parts.push(format!("ahead of {}", ahead.join(", ")));
        }
        if !behind.is_empty() {
            parts.push(format!("behind {}", behind.join(", ")));
        }
        let (fewest, most) = diffs.iter().fold((usize::MAX, 0), |(lo, hi), d| {
            (lo.min(d.seeds.len()), hi.max(d.seeds.len()))
        });
        let seeds = if fewest == most {
            most.to_string()
        } else {
            format!("{fewest}–{most}")
        };
        let mut sentence = if parts.is_empty() {
            format!(" Paired over {seeds} seeds, no 95% interval excludes 0")
        } else {
            format!(
                " Paired over {seeds} seeds, the 95% intervals put BIPEFT {}",
                parts.join(" and ")
            )
        };
        if open.is_empty() {
            sentence.push('.');
        } else {
            // Seeds each open gap needs; `None` (past the limit) sorts last.
            let needs: Vec<Option<usize>> = diffs
                .iter()
                .filter(|d| !d.separates())
                .map(|d| d.seeds_to_separate)
                .collect();
            let fewest = needs.iter().flatten().min().copied();
            let most = needs
                .iter()
                .try_fold(0usize, |most, n| n.map(|n| most.max(n)));
            let beyond = format!("more than {MAX_SEEDS_TO_SEPARATE}");
            let needed = match (fewest, most) {
                (Some(a), Some(b)) if a == b => format!("{a} seeds"),
                (Some(a), Some(b)) => format!("{a} to {b} seeds"),
                (Some(a), None) => format!("{a} to {beyond} seeds"),
                (None, _) => format!("{beyond} seeds"),
            };
            let needed = format!("{needed} at this spread");
            let joiner = if parts.is_empty() { ":" } else { ";" };
            sentence.push_str(&format!(
                "{joiner} not separated from {} (separating them would take {needed}).",
                open.join(", ")
            ));
        }
        sentence
    }
}

/// Whether `g` has the highest mean score among the rows of its budget.
fn best_at(rows: &[&Group], g: &Group) -> bool {
    rows.iter()
        .filter(|o| o.budget == g.budget)
        .all(|o| o.score.mean <= g.score.mean)
}

#[cfg(test)]
mod tests {
    use super::super::summary::tests::{plan, record};
    use super::*;

    #[test]
    fn markdown_has_a_row_per_group_and_marks_the_best() {
        let plan = plan();
        let records: Vec<CellRecord> = plan.cells().iter().map(record).collect();
        let report = Report::new(
            &plan,
            records,
            "bipeft experiment --plan p.toml --out o".into(),
        );
        assert_eq!((report.cells_done, report.cells_total), (12, 12));
        let md = report.to_markdown();
        assert!(md.starts_with("# demo\n"), "{md}");
        assert!(md.contains("12 of 12 cells finished"));
        assert!(md.contains("bipeft experiment --plan p.toml --out o"));
        assert!(md.contains("## tiny · sst2 (accuracy)"), "{md}");
        assert!(
            md.contains(
                "| 0.1% (22700) | bipeft | **80.00 ± 1.00** | 3 | 20002 | 88.1% | 60.0 | 30.0 |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| 1% (227000) | bitfit | 75.00 ± 1.00 | 3 | 200002 | 88.1% | 0.5 | 30.0 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("most frequent class scores 50.00 on this test set"),
            "{md}"
        );
        assert!(md.contains("| bitfit | 0.5 ± 0.0 |"), "{md}");
        let standing = report.bipeft_standing();
        assert_eq!(standing.len(), 2);
        assert!(
            standing[0].contains("BIPEFT ranks 1 of 2 (80.00)"),
            "{}",
            standing[0]
        );
        assert!(
            standing[0].contains("ahead of it (+10.00)"),
            "{}",
            standing[0]
        );
        // Every seed 10 points apart: the interval is a point, away from 0.
        assert!(
            standing[0]
                .ends_with("Paired over 3 seeds, the 95% intervals put BIPEFT ahead of bitfit."),
            "{}",
            standing[0]
        );
        assert!(md.contains("| separated | 2 |"), "{md}");
    }

    #[test]
    fn a_close_race_is_called_one() {
        let plan = plan();
        let mut records: Vec<CellRecord> = plan.cells().iter().map(record).collect();
        for r in &mut records {
            if r.method == Method::Bitfit {
                r.score += 0.105 + 0.02 * (r.seed as f64 - 2.0);
            }
        }
        let report = Report::new(&plan, records, String::new());
        let standing = report.bipeft_standing();
        assert!(standing[0].contains("ranks 2 of 2"), "{}", standing[0]);
        assert!(
            standing[0].contains("within one standard deviation"),
            "{}",
            standing[0]
        );
        // BIPEFT − bitfit over seeds 1–3: +1.5, −0.5, −2.5 points (mean −0.5,
        // std 2.0); scipy: t.ppf(0.975, n−1)·0.02/√n < 0.005 first at n = 64.
        assert!(
            standing[0].ends_with(
                "Paired over 3 seeds, no 95% interval excludes 0: not separated from bitfit \
                 (separating them would take 64 seeds at this spread)."
            ),
            "{}",
            standing[0]
        );
        assert_eq!(
            report.early_selection_saving(),
            None,
            "no no_early_selection cells"
        );
        // A second open gap with twice the spread: scipy puts it at 249
        // seeds, so the sentence gives the range.
        let mut records: Vec<CellRecord> = plan.cells().iter().map(record).collect();
        let noisier: Vec<CellRecord> = records
            .iter()
            .filter(|r| r.method == Method::Bitfit)
            .map(|r| CellRecord {
                method: Method::UniformLora,
                score: r.score + 0.105 + 0.04 * (r.seed as f64 - 2.0),
                ..r.clone()
            })
            .collect();
        for r in &mut records {
            if r.method == Method::Bitfit {
                r.score += 0.105 + 0.02 * (r.seed as f64 - 2.0);
            }
        }
        records.extend(noisier);
        let standing = Report::new(&plan, records, String::new()).bipeft_standing();
        assert!(
            standing[0].ends_with("(separating them would take 64 to 249 seeds at this spread)."),
            "{}",
            standing[0]
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["format"], RESULTS_FORMAT);
        assert_eq!(json["groups"].as_array().unwrap().len(), 4);
        assert_eq!(json["cells"].as_array().unwrap().len(), 12);
    }

    #[test]
    fn the_paired_verdict_names_the_range_of_seeds() {
        let plan = plan();
        let mut records: Vec<CellRecord> = plan.cells().iter().map(record).collect();
        // A second baseline with seeds 1 and 2 only, 10 points below BIPEFT.
        let partial: Vec<CellRecord> = records
            .iter()
            .filter(|r| r.method == Method::Bitfit && r.seed < 3)
            .map(|r| CellRecord {
                method: Method::UniformLora,
                ..r.clone()
            })
            .collect();
        records.extend(partial);
        let report = Report::new(&plan, records, String::new());
        let standing = report.bipeft_standing();
        assert!(
            standing[0].ends_with(
                "Paired over 2–3 seeds, the 95% intervals put BIPEFT ahead of bitfit, uniform_lora."
            ),
            "{}",
            standing[0]
        );
    }

    #[test]
    fn early_selection_time_is_paired_by_cell() {
        let plan = plan();
        let mut records: Vec<CellRecord> = plan.cells().iter().map(record).collect();
        let mut without: Vec<CellRecord> = records
            .iter()
            .filter(|r| r.method == Method::Bipeft)
            .cloned()
            .collect();
        // Seeds 1, 2, 3 at both budgets: BIPEFT takes 60 s, without early
        // selection 120, 80 and 60 s → ratios 0.5, 0.75, 1.0 twice over.
        for r in &mut without {
            r.method = Method::NoEarlySelection;
            r.search_seconds = [120.0, 80.0, 60.0][(r.seed - 1) as usize];
        }
        records.extend(without);
        let report = Report::new(&plan, records, String::new());
        let line = report.early_selection_saving().unwrap();
        // mean 0.75, sample std of [0.5, 0.75, 1, 0.5, 0.75, 1] = 0.2236.
        assert!(line.contains("took 75% ± 22% of the time"), "{line}");
        assert!(line.contains("(6 paired cells;"), "{line}");
    }
}
