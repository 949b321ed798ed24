//! An experiment plan: which models, tasks, budgets, methods and seeds to
//! cross, and the search / retrain settings of every cell. Read from TOML or
//! JSON (by the file's extension); relative paths are relative to the plan
//! file's folder, and `~/` is the user's home, so a committed plan runs the
//! same from any working directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::budget::Budget;
use super::method::Method;
use crate::data::Benchmark;
use crate::error::{Error, Result};

/// A model of the plan: a short name for tables and file names, and its
/// Hugging Face directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub name: String,
    pub path: PathBuf,
}

/// A task of the plan and its per-task sizes (which keep a plan within a
/// machine's time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskEntry {
    /// A GLUE / SuperGLUE task name (`sst2`, `superglue-copa`, …).
    pub name: String,
    /// The folder holding the task's files as distributed.
    pub data: PathBuf,
    /// Keep at most this many training examples (a seeded subset).
    #[serde(default)]
    pub max_train_examples: Option<usize>,
    /// Truncate inputs to this many tokens.
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Search epochs for this task (default: the plan's `[search] epochs`).
    #[serde(default)]
    pub search_epochs: Option<usize>,
    /// Retrain epochs for this task (default: the plan's `[retrain] epochs`).
    #[serde(default)]
    pub retrain_epochs: Option<usize>,
    /// Score at most this many test examples (a seeded subset; default all).
    #[serde(default)]
    pub max_eval_examples: Option<usize>,
    /// Hold out this many training examples as validation and test on the
    /// whole dev set (default: the task's protocol, which halves a small
    /// task's dev set into validation and test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_from_train: Option<usize>,
    /// The searched methods' retrain learning rate on this task (default:
    /// the plan's `[retrain] learning_rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    /// The baselines' retrain learning rate on this task (default: the
    /// plan's `[retrain] baseline_learning_rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_learning_rate: Option<f64>,
}

/// Search settings shared by every searched cell. Unset options keep
/// `bipeft search`'s defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    /// `s1`, `s2`, `lora`, or a JSON space file.
    #[serde(default = "default_space")]
    pub space: String,
    #[serde(default = "default_search_epochs")]
    pub epochs: usize,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default)]
    pub weight_lr: Option<f64>,
    #[serde(default)]
    pub arch_lr: Option<f64>,
    /// First (0-based) epoch of early selection; short searches need 0.
    #[serde(default)]
    pub selection_start_epoch: Option<usize>,
    #[serde(default)]
    pub max_selection_steps: Option<usize>,
    #[serde(default)]
    pub trigger_threshold: Option<f64>,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            space: default_space(),
            epochs: default_search_epochs(),
            batch_size: default_batch_size(),
            weight_lr: None,
            arch_lr: None,
            selection_start_epoch: None,
            max_selection_steps: None,
            trigger_threshold: None,
        }
    }
}

/// Retrain settings shared by every cell. Unset options keep the retrain's
/// defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainSettings {
    #[serde(default = "default_retrain_epochs")]
    pub epochs: usize,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default)]
    pub learning_rate: Option<f64>,
    /// The hand-made baselines' learning rate, when it differs from the
    /// searched methods' (each family's own tuned rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_learning_rate: Option<f64>,
}

impl Default for RetrainSettings {
    fn default() -> Self {
        RetrainSettings {
            epochs: default_retrain_epochs(),
            batch_size: default_batch_size(),
            learning_rate: None,
            baseline_learning_rate: None,
        }
    }
}

fn default_space() -> String {
    "s1".into()
}
fn default_search_epochs() -> usize {
    2
}
fn default_retrain_epochs() -> usize {
    3
}
fn default_batch_size() -> usize {
    32
}

/// A whole plan, as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// A title for the report.
    #[serde(default)]
    pub name: Option<String>,
    pub budgets: Vec<Budget>,
    pub methods: Vec<Method>,
    pub seeds: Vec<u64>,
    pub models: Vec<ModelEntry>,
    pub tasks: Vec<TaskEntry>,
    #[serde(default)]
    pub search: SearchSettings,
    #[serde(default)]
    pub retrain: RetrainSettings,
}

/// The plan file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    Toml,
    Json,
}

impl Plan {
    /// Reads, checks and resolves the plan in `path` (`.toml` or `.json`).
    pub fn from_file(path: &Path) -> Result<Plan> {
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => PlanFormat::Toml,
            Some("json") => PlanFormat::Json,
            _ => {
                return Err(Error::InvalidInput(format!(
                    "plan {}: give a .toml or .json file",
                    path.display()
                )))
            }
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Plan::parse(&text, format, &path.display().to_string(), base)
    }

    /// Parses `text`, checks it, and resolves its paths against `base`
    /// (`file` names the source in errors).
    pub fn parse(text: &str, format: PlanFormat, file: &str, base: &Path) -> Result<Plan> {
        let malformed = |message: String| Error::MalformedConfig {
            file: file.to_string(),
            message,
        };
        let mut plan: Plan = match format {
            PlanFormat::Toml => {
                toml::from_str(text).map_err(|e| malformed(toml_message(&e, text)))?
            }
            PlanFormat::Json => serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?,
        };
        plan.check().map_err(malformed)?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        for model in &mut plan.models {
            model.path = resolve(&model.path, base, home.as_deref());
        }
        for task in &mut plan.tasks {
            task.data = resolve(&task.data, base, home.as_deref());
        }
        Ok(plan)
    }

    fn check(&self) -> std::result::Result<(), String> {
        for (what, empty) in [
            ("budgets", self.budgets.is_empty()),
            ("methods", self.methods.is_empty()),
            ("seeds", self.seeds.is_empty()),
            ("models", self.models.is_empty()),
            ("tasks", self.tasks.is_empty()),
        ] {
            if empty {
                return Err(format!("`{what}` is empty; a plan needs at least one"));
            }
        }
        unique("budget", self.budgets.iter().map(Budget::label))?;
        unique("method", self.methods.iter().map(|m| m.name().to_string()))?;
        unique("seed", self.seeds.iter().map(u64::to_string))?;
        unique("model", self.models.iter().map(|m| m.name.clone()))?;
        unique("task", self.tasks.iter().map(|t| t.name.clone()))?;
        for model in &self.models {
            if model.name.is_empty() || !model.name.chars().all(is_name_char) {
                return Err(format!(
                    "model name `{}`: use letters, digits, `-`, `_` or `.` (it names files)",
                    model.name
                ));
            }
        }
        for task in &self.tasks {
            Benchmark::from_name(&task.name).map_err(|e| e.to_string())?;
            for (what, value) in [
                ("max_train_examples", task.max_train_examples),
                ("max_length", task.max_length),
                ("search_epochs", task.search_epochs),
                ("retrain_epochs", task.retrain_epochs),
                ("max_eval_examples", task.max_eval_examples),
            ] {
                if value == Some(0) {
                    return Err(format!("task {}: {what} must be positive", task.name));
                }
            }
        }
        for (what, value) in [
            ("search.epochs", self.search.epochs),
            ("search.batch_size", self.search.batch_size),
            ("retrain.epochs", self.retrain.epochs),
            ("retrain.batch_size", self.retrain.batch_size),
        ] {
            if value == 0 {
                return Err(format!("{what} must be positive"));
            }
        }
        for (what, value) in [
            ("search.weight_lr", self.search.weight_lr),
            ("search.arch_lr", self.search.arch_lr),
            ("retrain.learning_rate", self.retrain.learning_rate),
            (
                "retrain.baseline_learning_rate",
                self.retrain.baseline_learning_rate,
            ),
        ] {
            if value.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
                return Err(format!("{what} must be a positive number"));
            }
        }
        Ok(())
    }
}

/// toml's error as one line (its `Display` draws the source over several):
/// the message and where it is.
fn toml_message(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim().replace('\n', "; ");
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn unique(what: &str, names: impl Iterator<Item = String>) -> std::result::Result<(), String> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name.clone()) {
            return Err(format!("{what} `{name}` is listed twice"));
        }
    }
    Ok(())
}

/// `~/x` → `$HOME/x`; a relative path → under `base`; an absolute path as is.
fn resolve(path: &Path, base: &Path, home: Option<&Path>) -> PathBuf {
    if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), home) {
        return home.join(rest);
    }
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
name = "small"
budgets = ["0.1%", 5000]
methods = ["bipeft", "uniform_lora"]
seeds = [1, 2]

[[models]]
name = "tiny"
path = "models/tiny"

[[tasks]]
name = "sst2"
data = "/data/SST-2"
max_train_examples = 64
search_epochs = 1

[search]
space = "lora"
selection_start_epoch = 0

[retrain]
epochs = 2
"#;

    fn parse(text: &str) -> Result<Plan> {
        Plan::parse(text, PlanFormat::Toml, "plan.toml", Path::new("/plans"))
    }

    #[test]
    fn reads_a_toml_plan_with_defaults_and_resolved_paths() {
        let plan = parse(PLAN).unwrap();
        assert_eq!(plan.name.as_deref(), Some("small"));
        assert_eq!(
            plan.budgets,
            vec![Budget::Percent(0.1), Budget::Count(5000)]
        );
        assert_eq!(plan.methods, vec![Method::Bipeft, Method::UniformLora]);
        assert_eq!(plan.models[0].path, PathBuf::from("/plans/models/tiny"));
        assert_eq!(plan.tasks[0].data, PathBuf::from("/data/SST-2"));
        assert_eq!(plan.tasks[0].max_length, None);
        assert_eq!(plan.search.space, "lora");
        assert_eq!(plan.search.batch_size, 32);
        assert_eq!(plan.search.selection_start_epoch, Some(0));
        assert_eq!(plan.retrain.epochs, 2);
    }

    #[test]
    fn json_plans_read_the_same() {
        let toml_plan = parse(PLAN).unwrap();
        let json = serde_json::to_string(&toml_plan).unwrap();
        let json_plan = Plan::parse(&json, PlanFormat::Json, "p.json", Path::new("/x")).unwrap();
        assert_eq!(json_plan, toml_plan);
    }

    #[test]
    fn home_is_expanded() {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let got = resolve(Path::new("~/m"), Path::new("/b"), home.as_deref());
        if let Some(home) = home {
            assert_eq!(got, home.join("m"));
        }
        assert_eq!(
            resolve(Path::new("~/m"), Path::new("/b"), Some(Path::new("/h"))),
            PathBuf::from("/h/m")
        );
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn bad_plans_are_refused_with_the_reason() {
        let unknown_method = PLAN.replace("\"uniform_lora\"", "\"lora\"");
        assert!(error_of(&unknown_method).contains("lora"));
        let twice = PLAN.replace("seeds = [1, 2]", "seeds = [1, 1]");
        assert!(error_of(&twice).contains("seed `1` is listed twice"));
        let no_seeds = PLAN.replace("seeds = [1, 2]", "seeds = []");
        assert!(error_of(&no_seeds).contains("`seeds` is empty"));
        let task = PLAN.replace("name = \"sst2\"", "name = \"sst3\"");
        assert!(error_of(&task).contains("sst3"));
        let budget = PLAN.replace("\"0.1%\"", "\"lots\"");
        assert!(error_of(&budget).contains("lots"));
        let typo = PLAN.replace("max_train_examples", "max_train_exmples");
        assert!(error_of(&typo).contains("max_train_exmples"));
        let zero = PLAN.replace("search_epochs = 1", "search_epochs = 0");
        assert!(error_of(&zero).contains("search_epochs must be positive"));
        let name = PLAN.replace("name = \"tiny\"", "name = \"a/b\"");
        assert!(error_of(&name).contains("model name `a/b`"));
        assert!(error_of("budgets = [").starts_with("malformed plan.toml: line 1"));
        for bad in [unknown_method, typo, "budgets = [".to_string()] {
            assert_eq!(error_of(&bad).lines().count(), 1, "{}", error_of(&bad));
        }
    }

    #[test]
    fn the_extension_picks_the_format() {
        let err = Plan::from_file(Path::new("plan.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(".toml or .json"), "{err}");
        let err = Plan::from_file(Path::new("/no/such/plan.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such/plan.toml"), "{err}");
    }
}
