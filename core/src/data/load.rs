//! A task's files read into examples: from text (what the browser has) or from
//! the folder the user names, holding the files as distributed (`train.tsv` +
//! `dev.tsv`, `train.jsonl` + `val.jsonl`, MNLI's `dev_matched.tsv` /
//! `dev_mismatched.tsv`; a user's `train.csv` + optional `dev.csv` / `test.csv`).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::data::custom::{CustomTask, LARGE_TRAIN_ROWS};
use crate::data::glue::read_glue;
use crate::data::superglue::read_superglue;
use crate::data::task::{Benchmark, FileFormat, LabelSpace, Part, Protocol, TaskInfo};
use crate::data::{DataError, Example};
use crate::error::{Error, Result};

/// Which task to read: a built-in one or the user's own.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskSource {
    Benchmark(Benchmark),
    Custom(CustomTask),
}

impl TaskSource {
    pub fn name(&self) -> &str {
        match self {
            TaskSource::Benchmark(task) => task.name(),
            TaskSource::Custom(task) => &task.name,
        }
    }
}

/// One file's examples.
#[derive(Debug, Clone)]
pub struct PartData {
    pub part: Part,
    /// The file as the user named it (for messages and reports).
    pub file: String,
    /// SHA-256 of the file's bytes, hex: part of the tokenised-data cache key.
    pub sha256: String,
    pub examples: Vec<Example>,
    /// The line of the file each example was read from (1-based, in the
    /// order of `examples`), so predictions can be joined back to the file;
    /// empty where the reader keeps no lines (the built-in tasks).
    pub lines: Vec<usize>,
}

impl PartData {
    /// The line of the file example `index` was read from, where known.
    pub fn line(&self, index: usize) -> Option<usize> {
        self.lines.get(index).copied()
    }
}

/// A task's examples, by part.
#[derive(Debug, Clone)]
pub struct TaskData {
    pub info: TaskInfo,
    pub parts: Vec<PartData>,
}

impl TaskData {
    pub fn part(&self, part: Part) -> Option<&PartData> {
        self.parts.iter().find(|p| p.part == part)
    }

    /// The examples of `part`, empty when the task has no such file.
    pub fn examples(&self, part: Part) -> &[Example] {
        self.part(part)
            .map(|p| p.examples.as_slice())
            .unwrap_or(&[])
    }

    /// Builds a task from files already read: `(part, file name, bytes)`. The
    /// file name is only for messages; a custom task's format comes from its
    /// extension.
    pub fn from_files(source: &TaskSource, files: Vec<(Part, String, Vec<u8>)>) -> Result<Self> {
        let mut texts = Vec::with_capacity(files.len());
        for (part, file, bytes) in files {
            let sha256 = hex_sha256(&bytes);
            let text = utf8_text(&file, bytes)?;
            texts.push((part, file, sha256, text));
        }
        match source {
            TaskSource::Benchmark(task) => {
                let parts = texts
                    .into_iter()
                    .map(|(part, file, sha256, text)| {
                        let examples = read_benchmark_text(*task, &file, &text)?;
                        Ok(PartData {
                            part,
                            file,
                            sha256,
                            examples,
                            lines: Vec::new(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(TaskData {
                    info: TaskInfo::of(*task),
                    parts,
                })
            }
            TaskSource::Custom(task) => custom_task_data(task, texts),
        }
    }
}

/// Reads one GLUE / SuperGLUE file's text.
pub fn read_benchmark_text(task: Benchmark, file: &str, text: &str) -> Result<Vec<Example>> {
    let examples = match task.format() {
        FileFormat::Jsonl => read_superglue(task, file, text)?,
        _ => read_glue(task, file, text)?,
    };
    Ok(examples)
}

fn custom_task_data(
    task: &CustomTask,
    texts: Vec<(Part, String, String, String)>,
) -> Result<TaskData> {
    task.validate()?;
    let mut read = Vec::with_capacity(texts.len());
    for (part, file, sha256, text) in texts {
        let format = format_of(&file)?;
        let rows = task.read_rows(format, &file, &text)?;
        read.push((part, file, sha256, rows));
    }
    let train = read
        .iter()
        .find(|(part, ..)| *part == Part::Train)
        .ok_or_else(|| {
            DataError::InvalidOption(format!("custom task {} has no training file", task.name))
        })?;
    let class_names = task.class_names(&train.3)?;
    let train_rows = train.3.len();
    let has = |wanted: Part| read.iter().any(|(part, ..)| *part == wanted);
    let protocol = match (has(Part::Dev), has(Part::Test)) {
        (true, true) => Protocol::Given,
        (true, false) if train_rows >= LARGE_TRAIN_ROWS => Protocol::Large,
        (true, false) => Protocol::Small,
        (false, _) => Protocol::TrainOnly,
    };
    let labels = if class_names.is_empty() {
        LabelSpace::Regression
    } else {
        LabelSpace::Classes(class_names.clone())
    };
    let parts = read
        .into_iter()
        .map(|(part, file, sha256, rows)| {
            let lines = rows.iter().map(|row| row.line).collect();
            let examples = task.examples(&file, rows, &class_names)?;
            Ok(PartData {
                part,
                file,
                sha256,
                examples,
                lines,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TaskData {
        info: task.info(labels, protocol),
        parts,
    })
}

/// A user file's format from its extension.
pub fn format_of(file: &str) -> Result<FileFormat> {
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        Ok(FileFormat::Csv)
    } else if lower.ends_with(".tsv") || lower.ends_with(".txt") {
        Ok(FileFormat::Tsv)
    } else if lower.ends_with(".jsonl") || lower.ends_with(".json") {
        Ok(FileFormat::Jsonl)
    } else {
        Err(DataError::InvalidOption(format!(
            "{file}: cannot tell the format from the extension (use .csv, .tsv or .jsonl)"
        ))
        .into())
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads a task from the folder `dir` holding its files as distributed.
/// Every part the task needs must be there; a missing one is an error naming
/// its path. A custom task reads `train.<ext>` and, where present,
/// `dev.<ext>` (or `val` / `validation`) and `test.<ext>`; `dir` may also be
/// a single training file.
pub fn load_task(source: &TaskSource, dir: &Path) -> Result<TaskData> {
    let files = match source {
        TaskSource::Benchmark(task) => task
            .parts()
            .iter()
            .map(|&part| {
                let path = benchmark_path(*task, dir, part)?;
                let (file, bytes) = read_file(&path)?;
                Ok((part, file, bytes))
            })
            .collect::<Result<Vec<_>>>()?,
        TaskSource::Custom(_) => custom_files(dir)?
            .into_iter()
            .map(|(part, path)| {
                let (file, bytes) = read_file(&path)?;
                Ok((part, file, bytes))
            })
            .collect::<Result<Vec<_>>>()?,
    };
    TaskData::from_files(source, files)
}

/// Reads one part of a built-in task (for copies that have only some files).
pub fn load_part(task: Benchmark, dir: &Path, part: Part) -> Result<Vec<Example>> {
    let path = benchmark_path(task, dir, part)?;
    let (file, bytes) = read_file(&path)?;
    let text = utf8_text(&file, bytes)?;
    read_benchmark_text(task, &file, &text)
}

/// A file's bytes as text, or an error naming the file and the first bad byte.
fn utf8_text(file: &str, bytes: Vec<u8>) -> std::result::Result<String, DataError> {
    String::from_utf8(bytes).map_err(|e| DataError::MalformedFile {
        file: file.to_string(),
        message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
    })
}

fn benchmark_path(task: Benchmark, dir: &Path, part: Part) -> Result<PathBuf> {
    let name = task.file_name(part).ok_or_else(|| {
        DataError::InvalidOption(format!("{} has no {} file", task.name(), part.name()))
    })?;
    let path = dir.join(name);
    if !path.is_file() {
        let expected: Vec<&str> = task
            .parts()
            .iter()
            .filter_map(|&p| task.file_name(p))
            .collect();
        return Err(DataError::MissingFile {
            path,
            hint: format!(
                "{} needs {} in the data folder, as distributed",
                task.name(),
                expected.join(" and ")
            ),
        }
        .into());
    }
    Ok(path)
}

/// A custom task's files: `(part, path)`.
fn custom_files(dir: &Path) -> Result<Vec<(Part, PathBuf)>> {
    if dir.is_file() {
        return Ok(vec![(Part::Train, dir.to_path_buf())]);
    }
    let find = |stems: &[&str]| -> Option<PathBuf> {
        stems.iter().find_map(|stem| {
            ["csv", "tsv", "jsonl"]
                .iter()
                .map(|ext| dir.join(format!("{stem}.{ext}")))
                .find(|p| p.is_file())
        })
    };
    let train = find(&["train"]).ok_or_else(|| DataError::MissingFile {
        path: dir.join("train.csv"),
        hint: "a custom task needs train.csv, train.tsv or train.jsonl in its data folder (or a file path)".into(),
    })?;
    let mut files = vec![(Part::Train, train)];
    if let Some(dev) = find(&["dev", "val", "validation"]) {
        files.push((Part::Dev, dev));
    }
    if let Some(test) = find(&["test"]) {
        files.push((Part::Test, test));
    }
    Ok(files)
}

fn read_file(path: &Path) -> Result<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok((path.display().to_string(), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::CustomKind;

    #[test]
    fn custom_examples_keep_the_line_they_start_on() {
        let source = TaskSource::Custom(CustomTask {
            name: "reviews".into(),
            text_columns: vec!["text".into()],
            label_column: "label".into(),
            kind: CustomKind::Classification { labels: None },
            max_length: 32,
        });
        let csv = "text,label\n\"two\nlines\",pos\nshort,neg\n";
        let files = vec![(Part::Train, "train.csv".into(), csv.as_bytes().to_vec())];
        let data = TaskData::from_files(&source, files).unwrap();
        let part = data.part(Part::Train).unwrap();
        assert_eq!(part.lines, vec![2, 4]);
        assert_eq!(part.line(1), Some(4));
        assert_eq!(part.line(2), None);
    }
}
