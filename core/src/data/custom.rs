//! The user's own task: a CSV, TSV or JSONL file with named columns, some of
//! them texts, one of them the label. Classification labels are read from the
//! data (or listed by the user); regression labels must be numbers.
//!
//! CSV and TSV files need a header line and may quote fields the usual way
//! (`"a, b"`, `""` for a quote), as spreadsheet tools and pandas write them.

use serde::{Deserialize, Serialize};

use crate::data::task::{FileFormat, LabelSpace, Protocol, TaskInfo};
use crate::data::{DataError, Example, Label, Text};
use crate::metrics::Metric;

/// Whether the user's labels are classes or numbers. In JSON (a trained
/// result's `trained.json`): `{"type": "classification", "labels": [..]}` or
/// `{"type": "regression"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CustomKind {
    /// Classes; `labels` fixes their order (index 0 first). Without it the
    /// distinct values of the training file are used, sorted (as numbers when
    /// every value is an integer).
    Classification {
        #[serde(default)]
        labels: Option<Vec<String>>,
    },
    Regression,
}

/// How to read a user's task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomTask {
    /// Name on reports; also the T5 prefix.
    pub name: String,
    /// The columns (JSONL: fields) holding the input texts, in order.
    pub text_columns: Vec<String>,
    pub label_column: String,
    pub kind: CustomKind,
    /// Maximum source length in tokens.
    pub max_length: usize,
}

/// A row of a user's file before its label is resolved.
#[derive(Debug, Clone)]
pub struct CustomRow {
    pub line: usize,
    pub texts: Vec<String>,
    pub label: String,
}

/// Training files at least this large hold out validation from train (the
/// large-set protocol); smaller ones split their dev file.
pub const LARGE_TRAIN_ROWS: usize = 10_000;

impl CustomTask {
    pub fn validate(&self) -> Result<(), DataError> {
        if self.text_columns.is_empty() {
            return Err(DataError::InvalidOption(
                "a custom task needs at least one text column".into(),
            ));
        }
        if self.name.trim().is_empty() {
            return Err(DataError::InvalidOption(
                "a custom task needs a name".into(),
            ));
        }
        if let CustomKind::Classification {
            labels: Some(labels),
        } = &self.kind
        {
            if labels.len() < 2 {
                return Err(DataError::InvalidOption(
                    "a classification task needs at least two labels".into(),
                ));
            }
            for (i, label) in labels.iter().enumerate() {
                if labels[..i].contains(label) {
                    return Err(DataError::InvalidOption(format!(
                        "label `{label}` is listed twice in the labels {labels:?}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// This task with its classes fixed to those of `labels` (the ones a
    /// model was trained with), so that a class index means the same in any
    /// file read later, even one that lacks a class. Regression is unchanged.
    pub fn with_classes(&self, labels: &LabelSpace) -> CustomTask {
        let mut task = self.clone();
        if let (CustomKind::Classification { .. }, LabelSpace::Classes(names)) =
            (&self.kind, labels)
        {
            task.kind = CustomKind::Classification {
                labels: Some(names.clone()),
            };
        }
        task
    }

    /// The task as the rest of bipeft sees it, once its class names are known.
    pub fn info(&self, labels: LabelSpace, protocol: Protocol) -> TaskInfo {
        let metrics = match labels {
            LabelSpace::Regression => vec![Metric::Pearson, Metric::Spearman],
            LabelSpace::Classes(ref names) if names.len() == 2 => {
                vec![Metric::Accuracy, Metric::F1]
            }
            _ => vec![Metric::Accuracy, Metric::MacroF1],
        };
        TaskInfo {
            name: self.name.clone(),
            benchmark: None,
            labels,
            protocol,
            max_length: self.max_length,
            metrics,
        }
    }

    /// Reads the rows of one file (`file` names it in errors).
    pub fn read_rows(
        &self,
        format: FileFormat,
        file: &str,
        text: &str,
    ) -> Result<Vec<CustomRow>, DataError> {
        match format {
            FileFormat::Csv => self.read_delimited(b',', file, text),
            FileFormat::Tsv => self.read_delimited(b'\t', file, text),
            FileFormat::Jsonl => self.read_jsonl(file, text),
        }
    }

    fn read_delimited(
        &self,
        delimiter: u8,
        file: &str,
        text: &str,
    ) -> Result<Vec<CustomRow>, DataError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .from_reader(text.as_bytes());
        let csv_error = |e: csv::Error| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => {
                    format!("expected {expected_len} columns, found {len}")
                }
                _ => e.to_string(),
            };
            DataError::row(file, line, message)
        };
        let header: Vec<String> = reader
            .headers()
            .map_err(csv_error)?
            .iter()
            .map(str::to_string)
            .collect();
        let column = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| DataError::missing_column(file, name, &header))
        };
        let text_columns = self
            .text_columns
            .iter()
            .map(|c| column(c))
            .collect::<Result<Vec<_>, _>>()?;
        let label_column = column(&self.label_column)?;
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(csv_error)?;
            let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
            let field = |i: usize| record.get(i).unwrap_or("").to_string();
            rows.push(CustomRow {
                line,
                texts: text_columns.iter().map(|&i| field(i)).collect(),
                label: field(label_column).trim().to_string(),
            });
        }
        Ok(rows)
    }

    fn read_jsonl(&self, file: &str, text: &str) -> Result<Vec<CustomRow>, DataError> {
        let rows = crate::data::jsonl::rows(file, text)?;
        rows.iter()
            .map(|row| {
                let texts = self
                    .text_columns
                    .iter()
                    .map(|c| {
                        scalar_text(row.get(c)?)
                            .ok_or_else(|| row.error(format!("field \"{c}\" is not text")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let label = scalar_text(row.get(&self.label_column)?).ok_or_else(|| {
                    row.error(format!(
                        "label field \"{}\" is not a scalar",
                        self.label_column
                    ))
                })?;
                Ok(CustomRow {
                    line: row.line,
                    texts,
                    label,
                })
            })
            .collect()
    }

    /// The class names: the user's list, or the sorted distinct labels of `train`.
    pub fn class_names(&self, train: &[CustomRow]) -> Result<Vec<String>, DataError> {
        let labels = match &self.kind {
            CustomKind::Classification {
                labels: Some(labels),
            } => return Ok(labels.clone()),
            CustomKind::Classification { labels: None } => {
                let mut labels: Vec<String> = train.iter().map(|r| r.label.clone()).collect();
                labels.sort();
                labels.dedup();
                if labels.iter().all(|l| l.parse::<i64>().is_ok()) {
                    labels.sort_by_key(|l| l.parse::<i64>().unwrap_or(0));
                }
                labels
            }
            CustomKind::Regression => return Ok(Vec::new()),
        };
        if labels.len() < 2 {
            return Err(DataError::InvalidOption(format!(
                "the training file has {} distinct label(s) ({}); classification needs at least two",
                labels.len(),
                labels.join(", ")
            )));
        }
        Ok(labels)
    }

    /// Examples from rows, labels resolved against `class_names` (empty for regression).
    pub fn examples(
        &self,
        file: &str,
        rows: Vec<CustomRow>,
        class_names: &[String],
    ) -> Result<Vec<Example>, DataError> {
        rows.into_iter()
            .map(|row| {
                let label = match self.kind {
                    CustomKind::Regression => match row.label.parse::<f64>() {
                        Ok(v) if v.is_finite() => Label::Score(v),
                        _ => {
                            return Err(DataError::row(
                                file,
                                row.line,
                                format!("bad number \"{}\" in the label column", row.label),
                            ))
                        }
                    },
                    CustomKind::Classification { .. } => {
                        match class_names.iter().position(|n| *n == row.label) {
                            Some(i) => Label::Class(i),
                            None => {
                                return Err(DataError::row(
                                    file,
                                    row.line,
                                    format!(
                                        "unknown label \"{}\" (labels: {})",
                                        row.label,
                                        class_names.join(", ")
                                    ),
                                ))
                            }
                        }
                    }
                };
                let texts = self
                    .text_columns
                    .iter()
                    .zip(row.texts)
                    .map(|(name, text)| Text::new(name.clone(), text))
                    .collect();
                Ok(Example::new(texts, label))
            })
            .collect()
    }
}

/// A JSON scalar as text: strings as they are, numbers and booleans as written.
fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(kind: CustomKind) -> CustomTask {
        CustomTask {
            name: "reviews".into(),
            text_columns: vec!["title".into(), "body".into()],
            label_column: "stars".into(),
            kind,
            max_length: 128,
        }
    }

    #[test]
    fn csv_with_quotes_and_numeric_labels() {
        let t = task(CustomKind::Classification { labels: None });
        let text =
            "title,body,stars\n\"Good, really\",\"He said \"\"wow\"\"\",10\nBad,meh,2\nOk,fine,2\n";
        let rows = t.read_rows(FileFormat::Csv, "train.csv", text).unwrap();
        assert_eq!(
            rows[0].texts,
            vec!["Good, really".to_string(), "He said \"wow\"".to_string()]
        );
        let names = t.class_names(&rows).unwrap();
        assert_eq!(names, vec!["2".to_string(), "10".to_string()]);
        let examples = t.examples("train.csv", rows, &names).unwrap();
        assert_eq!(examples[0].label, Label::Class(1));
        assert_eq!(examples[0].text("title"), "Good, really");
    }

    #[test]
    fn errors_name_file_line_and_columns() {
        let t = task(CustomKind::Regression);
        let err = t
            .read_rows(FileFormat::Csv, "d.csv", "title,text,stars\na,b,1\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "d.csv: no column \"body\" (columns: title, text, stars)"
        );
        let err = t
            .read_rows(
                FileFormat::Tsv,
                "d.tsv",
                "title\tbody\tstars\na\tb\t1\nc\td\n",
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "d.tsv:3: expected 3 columns, found 2");
        let rows = t
            .read_rows(
                FileFormat::Tsv,
                "d.tsv",
                "title\tbody\tstars\na\tb\t1.5\nc\td\tx\n",
            )
            .unwrap();
        let err = t.examples("d.tsv", rows, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "d.tsv:3: bad number \"x\" in the label column"
        );
    }

    #[test]
    fn jsonl_and_unknown_labels() {
        let t = task(CustomKind::Classification {
            labels: Some(vec!["neg".into(), "pos".into()]),
        });
        let text = "{\"title\": \"a\", \"body\": \"b\", \"stars\": \"pos\"}\n{\"title\": \"a\", \"body\": \"b\", \"stars\": \"meh\"}\n";
        let rows = t.read_rows(FileFormat::Jsonl, "dev.jsonl", text).unwrap();
        let names = t.class_names(&rows).unwrap();
        let err = t.examples("dev.jsonl", rows, &names).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dev.jsonl:2: unknown label \"meh\" (labels: neg, pos)"
        );
        let err = t
            .read_rows(FileFormat::Jsonl, "dev.jsonl", "{\"title\": \"a\"}")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dev.jsonl:1: no field \"body\" (fields: title)"
        );
    }

    #[test]
    fn a_trained_task_keeps_its_classes_in_json() {
        let t = task(CustomKind::Classification { labels: None });
        let fixed = t.with_classes(&LabelSpace::Classes(vec!["2".into(), "10".into()]));
        let json = serde_json::to_value(&fixed).unwrap();
        assert_eq!(
            json["kind"],
            serde_json::json!({"type": "classification", "labels": ["2", "10"]})
        );
        let back: CustomTask = serde_json::from_value(json).unwrap();
        assert_eq!(back, fixed);
        // A later file without class "2" keeps "10" at index 1.
        let rows = back
            .read_rows(FileFormat::Csv, "later.csv", "title,body,stars\na,b,10\n")
            .unwrap();
        let names = back.class_names(&rows).unwrap();
        let examples = back.examples("later.csv", rows, &names).unwrap();
        assert_eq!(examples[0].label, Label::Class(1));

        let r = task(CustomKind::Regression);
        assert_eq!(r.with_classes(&LabelSpace::Regression), r);
        assert_eq!(
            serde_json::to_value(&r.kind).unwrap(),
            serde_json::json!({"type": "regression"})
        );
    }

    #[test]
    fn one_class_is_not_classification() {
        let t = task(CustomKind::Classification { labels: None });
        let rows = t
            .read_rows(FileFormat::Csv, "t.csv", "title,body,stars\na,b,1\n")
            .unwrap();
        assert!(t.class_names(&rows).is_err());
    }
}
