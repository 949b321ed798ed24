//! Readers for the GLUE tasks' TSV files as `download_glue_data.py` writes
//! them. Each task says which columns hold its texts and its label, and how
//! the label is written (an index, a class name or a score).

use crate::data::task::{Benchmark, LabelSpace};
use crate::data::tsv::Tsv;
use crate::data::{DataError, Example, Label, Text};

/// How a GLUE file writes its label.
enum LabelColumn {
    /// `0` / `1`: the class index.
    Index(&'static str),
    /// The class name (`entailment`).
    Name(&'static str),
    /// A real number (STS-B).
    Score(&'static str),
}

/// Where a GLUE task keeps its texts: `(column, field name)` pairs. The field
/// names are the ones of the T5 source (`sentence1:`), which for MNLI are not
/// the column names.
struct Layout {
    texts: &'static [(&'static str, &'static str)],
    label: LabelColumn,
}

fn layout(task: Benchmark) -> Option<Layout> {
    use LabelColumn::*;
    let (texts, label): (&'static [(&str, &str)], LabelColumn) = match task {
        Benchmark::Sst2 => (&[("sentence", "sentence")], Index("label")),
        Benchmark::Mrpc => (
            &[("#1 String", "sentence1"), ("#2 String", "sentence2")],
            Index("Quality"),
        ),
        Benchmark::Stsb => (
            &[("sentence1", "sentence1"), ("sentence2", "sentence2")],
            Score("score"),
        ),
        Benchmark::Qqp => (
            &[("question1", "question1"), ("question2", "question2")],
            Index("is_duplicate"),
        ),
        Benchmark::Mnli => (
            &[("sentence1", "premise"), ("sentence2", "hypothesis")],
            Name("gold_label"),
        ),
        Benchmark::Qnli => (
            &[("question", "question"), ("sentence", "sentence")],
            Name("label"),
        ),
        Benchmark::Rte => (
            &[("sentence1", "sentence1"), ("sentence2", "sentence2")],
            Name("label"),
        ),
        Benchmark::Wnli => (
            &[("sentence1", "sentence1"), ("sentence2", "sentence2")],
            Index("label"),
        ),
        // CoLA has no header; `read_cola` reads it by position.
        Benchmark::Cola => (&[("sentence", "sentence")], Index("label")),
        _ => return None,
    };
    Some(Layout { texts, label })
}

/// Reads one GLUE TSV file of `task`. `file` names it in error messages.
pub fn read_glue(task: Benchmark, file: &str, text: &str) -> Result<Vec<Example>, DataError> {
    let layout = layout(task).ok_or_else(|| {
        DataError::InvalidOption(format!(
            "{} is a SuperGLUE task; its files are JSONL",
            task.name()
        ))
    })?;
    let (tsv, text_columns, label_column) = if task == Benchmark::Cola {
        // source, label, original judgement, sentence
        (
            Tsv::without_header(file, text, 4)?,
            vec![("sentence", 3)],
            1,
        )
    } else {
        let tsv = Tsv::with_header(file, text)?;
        let text_columns = layout
            .texts
            .iter()
            .map(|(column, name)| Ok((*name, tsv.column(column)?)))
            .collect::<Result<Vec<_>, DataError>>()?;
        let label_name = match layout.label {
            LabelColumn::Index(c) | LabelColumn::Name(c) | LabelColumn::Score(c) => c,
        };
        let label_column = tsv.column(label_name)?;
        (tsv, text_columns, label_column)
    };
    let labels = task.label_space();
    tsv.rows()
        .iter()
        .map(|(line, fields)| {
            let texts = text_columns
                .iter()
                .map(|(name, column)| Text::new(*name, fields[*column]))
                .collect();
            let label = parse_label(&layout.label, &labels, fields[label_column])
                .map_err(|message| DataError::row(file, *line, message))?;
            Ok(Example::new(texts, label))
        })
        .collect()
}

fn parse_label(column: &LabelColumn, labels: &LabelSpace, value: &str) -> Result<Label, String> {
    let names = match labels {
        LabelSpace::Classes(names) => names.as_slice(),
        _ => &[],
    };
    match column {
        LabelColumn::Index(_) => match value.parse::<usize>() {
            Ok(index) if index < names.len() => Ok(Label::Class(index)),
            _ => Err(format!(
                "unknown label \"{value}\" (expected 0..{})",
                names.len().saturating_sub(1)
            )),
        },
        LabelColumn::Name(_) => names
            .iter()
            .position(|n| n == value)
            .map(Label::Class)
            .ok_or_else(|| {
                format!(
                    "unknown label \"{value}\" (expected one of {})",
                    names.join(", ")
                )
            }),
        LabelColumn::Score(_) => match value.parse::<f64>() {
            Ok(score) if score.is_finite() => Ok(Label::Score(score)),
            _ => Err(format!("bad number \"{value}\" in the score column")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cola_has_no_header() {
        let text = "gj04\t1\t\tThe sailors rode the breeze.\ngj04\t0\t*\tThe more.";
        let rows = read_glue(Benchmark::Cola, "train.tsv", text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].text("sentence"), "The sailors rode the breeze.");
        assert_eq!(rows[1].label, Label::Class(0));
    }

    #[test]
    fn mnli_reads_gold_label_by_name() {
        let text =
            "index\tsentence1\tsentence2\tlabel1\tgold_label\n0\tA.\tB.\tneutral\tcontradiction\n";
        let rows = read_glue(Benchmark::Mnli, "dev_matched.tsv", text).unwrap();
        assert_eq!(rows[0].label, Label::Class(2));
        assert_eq!(rows[0].text("premise"), "A.");
        assert_eq!(rows[0].text("hypothesis"), "B.");
    }

    #[test]
    fn bad_labels_and_numbers_name_the_line() {
        let err = read_glue(
            Benchmark::Sst2,
            "train.tsv",
            "sentence\tlabel\nok\t1\nbad\t2\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "train.tsv:3: unknown label \"2\" (expected 0..1)"
        );
        let err = read_glue(
            Benchmark::Qnli,
            "dev.tsv",
            "index\tquestion\tsentence\tlabel\n0\tq\ts\tyes\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dev.tsv:2: unknown label \"yes\" (expected one of entailment, not_entailment)"
        );
        let stsb = "index\tsentence1\tsentence2\tscore\n0\ta\tb\tfive\n";
        let err = read_glue(Benchmark::Stsb, "dev.tsv", stsb).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dev.tsv:2: bad number \"five\" in the score column"
        );
    }

    #[test]
    fn missing_column_is_named() {
        let err = read_glue(Benchmark::Rte, "dev.tsv", "index\tsentence1\tlabel\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dev.tsv: no column \"sentence2\" (columns: index, sentence1, label)"
        );
    }
}
