//! Cells grouped over seeds: per model, task, budget and method the mean and
//! sample standard deviation of the score, and the mean parameters used,
//! search time and retrain time. The report's tables and plots read these.

use serde::Serialize;

use super::budget::Budget;
use super::method::Method;
use super::plan::Plan;
use super::record::CellRecord;

/// Mean and sample standard deviation (0 for a single value).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
}

impl Stat {
    pub fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = if values.len() < 2 {
            0.0
        } else {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        };
        Some(Stat { mean, std })
    }
}

/// One model × task × budget × method over its finished seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    pub model: String,
    pub task: String,
    pub budget: Budget,
    /// The budget in parameters (the largest the cells report; they agree).
    pub budget_params: u64,
    pub method: Method,
    pub metric: String,
    pub seeds: Vec<u64>,
    pub score: Stat,
    pub trainable_params: Stat,
    pub search_seconds: Stat,
    pub retrain_seconds: Stat,
}

/// Groups `records` in the plan's order (models, tasks, budgets, methods);
/// combinations without a finished cell are left out.
pub fn summarise(plan: &Plan, records: &[CellRecord]) -> Vec<Group> {
    let mut groups = Vec::new();
    for model in &plan.models {
        for task in &plan.tasks {
            for budget in &plan.budgets {
                for &method in &plan.methods {
                    let mut cells: Vec<&CellRecord> = records
                        .iter()
                        .filter(|r| {
                            r.model == model.name
                                && r.task == task.name
                                && r.budget == *budget
                                && r.method == method
                        })
                        .collect();
                    if cells.is_empty() {
                        continue;
                    }
                    cells.sort_by_key(|r| r.seed);
                    let stat = |f: &dyn Fn(&CellRecord) -> f64| {
                        let values: Vec<f64> = cells.iter().map(|r| f(r)).collect();
                        Stat::of(&values).expect("non-empty")
                    };
                    groups.push(Group {
                        model: model.name.clone(),
                        task: task.name.clone(),
                        budget: *budget,
                        budget_params: cells.iter().map(|r| r.budget_params).max().unwrap_or(0),
                        method,
                        metric: cells[0].metric.clone(),
                        seeds: cells.iter().map(|r| r.seed).collect(),
                        score: stat(&|r| r.score),
                        trainable_params: stat(&|r| r.trainable_params as f64),
                        search_seconds: stat(&|r| r.search_seconds),
                        retrain_seconds: stat(&|r| r.retrain_seconds),
                    });
                }
            }
        }
    }
    groups
}

/// Mean search seconds per method over every finished cell, in plan order.
pub fn search_time_per_method(plan: &Plan, records: &[CellRecord]) -> Vec<(Method, Stat)> {
    plan.methods
        .iter()
        .filter_map(|&m| {
            let values: Vec<f64> = records
                .iter()
                .filter(|r| r.method == m)
                .map(|r| r.search_seconds)
                .collect();
            Stat::of(&values).map(|s| (m, s))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::cell::Cell;
    use super::super::plan::PlanFormat;
    use super::super::record::{CellOutcome, CellRecord};
    use super::*;
    use std::path::Path;

    pub(crate) fn plan() -> Plan {
        let text = r#"
name = "demo"
budgets = ["0.1%", "1%"]
methods = ["bipeft", "bitfit"]
seeds = [1, 2, 3]
[[models]]
name = "tiny"
path = "m"
[[tasks]]
name = "sst2"
data = "d"
"#;
        Plan::parse(text, PlanFormat::Toml, "p.toml", Path::new("/p")).unwrap()
    }

    /// A record for `cell` whose score depends on method, budget and seed.
    pub(crate) fn record(cell: &Cell) -> CellRecord {
        let big = matches!(cell.budget, Budget::Percent(p) if p >= 1.0);
        let base = match cell.method {
            Method::Bipeft => 0.80,
            _ => 0.70,
        } + if big { 0.05 } else { 0.0 };
        let score = base + 0.01 * (cell.seed as f64 - 2.0);
        CellRecord::new(
            cell,
            CellOutcome {
                budget_params: if big { 227_000 } else { 22_700 },
                metric: "accuracy".into(),
                score,
                scores: [("accuracy".to_string(), score)].into_iter().collect(),
                trainable_params: if big { 200_000 } else { 20_000 } + cell.seed,
                modules: 3,
                search_seconds: if cell.method.searches() { 60.0 } else { 0.5 },
                retrain_seconds: 30.0,
                notes: vec![],
                majority_score: Some(0.5),
            },
        )
    }

    #[test]
    fn stats() {
        let s = Stat::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.mean, 2.0);
        assert!((s.std - 1.0).abs() < 1e-12);
        assert_eq!(
            Stat::of(&[4.0]).unwrap(),
            Stat {
                mean: 4.0,
                std: 0.0
            }
        );
        assert!(Stat::of(&[]).is_none());
    }

    #[test]
    fn groups_over_seeds_in_plan_order() {
        let plan = plan();
        let records: Vec<CellRecord> = plan.cells().iter().map(record).collect();
        let groups = summarise(&plan, &records);
        assert_eq!(groups.len(), 4);
        let labels: Vec<String> = groups
            .iter()
            .map(|g| format!("{}/{}", g.budget, g.method))
            .collect();
        assert_eq!(
            labels,
            ["0.1%/bipeft", "0.1%/bitfit", "1%/bipeft", "1%/bitfit"]
        );
        let g = &groups[0];
        assert_eq!(g.seeds, vec![1, 2, 3]);
        assert!((g.score.mean - 0.80).abs() < 1e-12);
        assert!((g.score.std - 0.01).abs() < 1e-12);
        assert_eq!(g.budget_params, 22_700);
        assert_eq!(g.trainable_params.mean, 20_002.0);

        // Missing seeds shrink the group; missing combinations vanish.
        let some: Vec<CellRecord> = records
            .into_iter()
            .filter(|r| r.seed == 1 && r.method == Method::Bipeft)
            .collect();
        let groups = summarise(&plan, &some);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].seeds, vec![1]);
        assert_eq!(groups[0].score.std, 0.0);
    }

    #[test]
    fn search_time_per_method_in_plan_order() {
        let plan = plan();
        let records: Vec<CellRecord> = plan.cells().iter().map(record).collect();
        let times = search_time_per_method(&plan, &records);
        assert_eq!(times.len(), 2);
        assert_eq!(times[0].0, Method::Bipeft);
        assert_eq!(times[0].1.mean, 60.0);
        assert_eq!(times[1].1.mean, 0.5);
    }
}
