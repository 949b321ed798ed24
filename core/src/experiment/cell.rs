//! The cells of a plan: one model × task × seed × budget × method each, with
//! every setting resolved. A cell's [`Cell::fingerprint`] covers everything
//! that changes its numbers (not where files live), so a stored result is
//! reused only for the cell that made it.

use std::path::PathBuf;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::budget::Budget;
use super::method::Method;
use super::plan::{Plan, RetrainSettings, SearchSettings};

/// One unit of work: search (unless a baseline) + retrain + test score.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub model: String,
    pub model_path: PathBuf,
    pub task: String,
    pub data: PathBuf,
    pub budget: Budget,
    pub method: Method,
    pub seed: u64,
    pub max_train_examples: Option<usize>,
    pub max_length: Option<usize>,
    pub max_eval_examples: Option<usize>,
    pub validation_from_train: Option<usize>,
    /// The plan's search settings with the task's epochs.
    pub search: SearchSettings,
    /// The plan's retrain settings with the task's epochs.
    pub retrain: RetrainSettings,
}

/// The version of the search a cell's result comes from, in its fingerprint
/// and its record: 2 is the search as the reference runs it (issue 14), 3
/// adds the refill of a result that ends below its budget. A stored cell of
/// an older search is recomputed, not reused.
pub const SEARCH_VERSION: u32 = 3;

/// The version a baseline's cell carries: baselines do not search, so a new
/// search leaves their results as they are.
pub const BASELINE_VERSION: u32 = 2;

/// The version of the code that computes `method`'s cells.
pub fn version_of(method: Method) -> u32 {
    if method.searches() {
        SEARCH_VERSION
    } else {
        BASELINE_VERSION
    }
}

/// What the fingerprint hashes.
#[derive(Serialize)]
struct Key<'a> {
    version: u32,
    model: &'a str,
    task: &'a str,
    budget: String,
    method: Method,
    seed: u64,
    max_train_examples: Option<usize>,
    max_length: Option<usize>,
    max_eval_examples: Option<usize>,
    /// Left out when unset, so that cells of plans written before it keep their fingerprints.
    #[serde(skip_serializing_if = "Option::is_none")]
    validation_from_train: Option<usize>,
    /// Baselines do not search: only the space matters to them.
    search: Option<&'a SearchSettings>,
    space: &'a str,
    retrain: &'a RetrainSettings,
}

impl Cell {
    /// `model/task/budget/method/seedN`, for people.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}/seed{}",
            self.model, self.task, self.budget, self.method, self.seed
        )
    }

    /// The id made safe as one file name.
    pub fn file_stem(&self) -> String {
        format!(
            "{}__{}__{}__{}__seed{}",
            self.model,
            self.task,
            self.budget.file_label(),
            self.method,
            self.seed
        )
    }

    /// SHA-256 (hex) of every setting that changes the cell's result.
    pub fn fingerprint(&self) -> String {
        let key = Key {
            version: version_of(self.method),
            model: &self.model,
            task: &self.task,
            budget: self.budget.label(),
            method: self.method,
            seed: self.seed,
            max_train_examples: self.max_train_examples,
            max_length: self.max_length,
            max_eval_examples: self.max_eval_examples,
            validation_from_train: self.validation_from_train,
            search: self.method.searches().then_some(&self.search),
            space: &self.search.space,
            retrain: &self.retrain,
        };
        let json = serde_json::to_vec(&key).expect("plain data serialises");
        Sha256::digest(&json)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl Plan {
    /// Every cell, seeds outermost, then models, tasks, budgets and methods:
    /// a run stopped half-way has whole seeds of every method on every task
    /// to compare.
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells = Vec::new();
        for &seed in &self.seeds {
            for model in &self.models {
                for task in &self.tasks {
                    let mut search = self.search.clone();
                    search.epochs = task.search_epochs.unwrap_or(search.epochs);
                    let mut retrain = self.retrain.clone();
                    retrain.epochs = task.retrain_epochs.unwrap_or(retrain.epochs);
                    retrain.learning_rate = task.learning_rate.or(retrain.learning_rate);
                    retrain.baseline_learning_rate =
                        task.baseline_learning_rate.or(retrain.baseline_learning_rate);
                    for &budget in &self.budgets {
                        for &method in &self.methods {
                            cells.push(Cell {
                                model: model.name.clone(),
                                model_path: model.path.clone(),
                                task: task.name.clone(),
                                data: task.data.clone(),
                                budget,
                                method,
                                seed,
                                max_train_examples: task.max_train_examples,
                                max_length: task.max_length,
                                max_eval_examples: task.max_eval_examples,
                                validation_from_train: task.validation_from_train,
                                search: search.clone(),
                                retrain: retrain.clone(),
                            });
                        }
                    }
                }
            }
        }
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::PlanFormat;
    use super::*;
    use std::collections::HashSet;
    use std::path::Path;

    fn plan() -> Plan {
        let text = r#"
budgets = ["0.1%", 5000]
methods = ["bipeft", "bitfit", "no_early_selection"]
seeds = [1, 2]
[[models]]
name = "tiny"
path = "m"
[[tasks]]
name = "sst2"
data = "d1"
search_epochs = 1
[[tasks]]
name = "rte"
data = "d2"
retrain_epochs = 5
learning_rate = 0.001
[retrain]
learning_rate = 0.0003
baseline_learning_rate = 0.003
"#;
        Plan::parse(text, PlanFormat::Toml, "p.toml", Path::new("/p")).unwrap()
    }

    #[test]
    fn crosses_everything_in_order_with_task_settings() {
        let cells = plan().cells();
        assert_eq!(cells.len(), 2 * 2 * 2 * 3);
        assert_eq!(cells[0].id(), "tiny/sst2/0.1%/bipeft/seed1");
        assert_eq!(cells[1].id(), "tiny/sst2/0.1%/bitfit/seed1");
        assert_eq!(cells[3].id(), "tiny/sst2/5000/bipeft/seed1");
        // Seeds outermost: seed 1 of every task before seed 2 of any.
        assert_eq!(cells[6].id(), "tiny/rte/0.1%/bipeft/seed1");
        assert_eq!(cells[12].id(), "tiny/sst2/0.1%/bipeft/seed2");
        assert_eq!(cells[0].file_stem(), "tiny__sst2__0.1pct__bipeft__seed1");
        assert_eq!(cells[0].search.epochs, 1);
        assert_eq!(cells[0].retrain.epochs, 3);
        let rte = cells.iter().find(|c| c.task == "rte").unwrap();
        assert_eq!((rte.search.epochs, rte.retrain.epochs), (2, 5));
        // A task's own rate replaces the plan's; the rate it does not set is the plan's.
        assert_eq!(
            (rte.retrain.learning_rate, rte.retrain.baseline_learning_rate),
            (Some(1e-3), Some(3e-3))
        );
        assert_eq!(cells[0].retrain.learning_rate, Some(3e-4));
        assert_eq!(rte.data, PathBuf::from("/p/d2"));
        let stems: HashSet<String> = cells.iter().map(Cell::file_stem).collect();
        assert_eq!(stems.len(), cells.len());
    }

    #[test]
    fn fingerprints_follow_the_settings_that_matter() {
        let cells = plan().cells();
        let prints: HashSet<String> = cells.iter().map(Cell::fingerprint).collect();
        assert_eq!(prints.len(), cells.len());
        let a = cells[0].clone();
        assert_eq!(a.fingerprint().len(), 64);
        let mut moved = a.clone();
        moved.model_path = PathBuf::from("/elsewhere");
        moved.data = PathBuf::from("/elsewhere/data");
        assert_eq!(moved.fingerprint(), a.fingerprint());
        let mut longer = a.clone();
        longer.search.epochs += 1;
        assert_ne!(longer.fingerprint(), a.fingerprint());
        let mut held_out = a.clone();
        held_out.validation_from_train = Some(1000);
        assert_ne!(held_out.fingerprint(), a.fingerprint());
        // A baseline does not search: search settings other than the space do not touch it.
        let b = cells[1].clone();
        assert_eq!(b.method, Method::Bitfit);
        let mut b2 = b.clone();
        b2.search.epochs += 1;
        assert_eq!(b2.fingerprint(), b.fingerprint());
        b2.search.space = "s2".into();
        assert_ne!(b2.fingerprint(), b.fingerprint());
        b2 = b.clone();
        b2.retrain.batch_size = 8;
        assert_ne!(b2.fingerprint(), b.fingerprint());
    }
}
