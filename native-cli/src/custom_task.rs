//! The flags that describe the user's own task (`--text-column`,
//! `--label-column`, `--regression`, `--labels`), shared by `bipeft data`
//! and `bipeft search`, and the task they name.

use anyhow::bail;
use bipeft_core::data::{Benchmark, CustomKind, CustomTask, TaskSource};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct CustomTaskArgs {
    /// Your own task: a column (JSONL: field) holding input text; repeat for a pair.
    #[arg(long = "text-column")]
    pub text_columns: Vec<String>,
    /// Your own task: the column holding the label.
    #[arg(long)]
    pub label_column: Option<String>,
    /// Your own task: the label is a number (regression), not a class.
    #[arg(long)]
    pub regression: bool,
    /// Your own task: the classes in order, comma-separated (default: those in the training file).
    #[arg(long, value_delimiter = ',')]
    pub labels: Option<Vec<String>>,
}

impl CustomTaskArgs {
    /// A built-in task by its name, or the user's own task named `task` when
    /// these flags are given (inputs cut to `max_length` tokens, default 128).
    pub fn task_source(&self, task: &str, max_length: Option<usize>) -> anyhow::Result<TaskSource> {
        let custom = !self.text_columns.is_empty() || self.label_column.is_some();
        match (Benchmark::from_name(task), custom) {
            (Ok(task), false) => Ok(TaskSource::Benchmark(task)),
            (Ok(task), true) => bail!(
                "{} is a built-in task; give your own task another name to read it with --text-column / --label-column",
                task.name()
            ),
            (Err(unknown), false) => {
                bail!("{unknown} (for your own data give --text-column and --label-column)")
            }
            (Err(_), true) => {
                let Some(label_column) = self.label_column.clone() else {
                    bail!("your own task needs --label-column");
                };
                if self.text_columns.is_empty() {
                    bail!("your own task needs at least one --text-column");
                }
                let kind = if self.regression {
                    if self.labels.is_some() {
                        bail!("--labels lists classes; it does not go with --regression");
                    }
                    CustomKind::Regression
                } else {
                    CustomKind::Classification {
                        labels: self.labels.clone(),
                    }
                };
                Ok(TaskSource::Custom(CustomTask {
                    name: task.to_string(),
                    text_columns: self.text_columns.clone(),
                    label_column,
                    kind,
                    max_length: max_length.unwrap_or(128),
                }))
            }
        }
    }
}
