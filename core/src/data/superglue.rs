//! Readers for the SuperGLUE tasks' JSONL files as distributed. MultiRC rows
//! (a passage with questions with answers) become one example per answer,
//! grouped by question; ReCoRD rows become one example per query, with the
//! passage's entities as candidates and the gold answers as its label.
//! Texts are cleaned the way the T5 preprocessors clean them (MultiRC markup,
//! ReCoRD `@highlight` lines, WSC span marks), for both formulations.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::data::jsonl::{self, Row};
use crate::data::task::{Benchmark, LabelSpace};
use crate::data::{DataError, Example, Label, Text};

/// Reads one SuperGLUE JSONL file of `task`. `file` names it in error messages.
pub fn read_superglue(task: Benchmark, file: &str, text: &str) -> Result<Vec<Example>, DataError> {
    let rows = jsonl::rows(file, text)?;
    let mut examples = Vec::with_capacity(rows.len());
    for row in &rows {
        match task {
            Benchmark::MultiRc => examples.extend(multirc(row)?),
            Benchmark::Record => examples.extend(record(row)?),
            _ => examples.push(single(task, row)?),
        }
    }
    Ok(examples)
}

/// The tasks with one example per line.
fn single(task: Benchmark, row: &Row) -> Result<Example, DataError> {
    let texts = |keys: &[&str]| -> Result<Vec<Text>, DataError> {
        keys.iter()
            .map(|k| Ok(Text::new(*k, row.str(k)?)))
            .collect()
    };
    let (texts, label) = match task {
        Benchmark::BoolQ => (texts(&["question", "passage"])?, bool_label(row)?),
        Benchmark::Cb | Benchmark::SuperGlueRte => {
            (texts(&["premise", "hypothesis"])?, named_label(task, row)?)
        }
        Benchmark::Copa => (
            texts(&["premise", "question", "choice1", "choice2"])?,
            named_label(task, row)?,
        ),
        Benchmark::Wic => (
            texts(&["sentence1", "sentence2", "word"])?,
            bool_label(row)?,
        ),
        Benchmark::Wsc => (
            vec![Text::new("text", wsc_marked_text(row)?)],
            bool_label(row)?,
        ),
        _ => {
            return Err(DataError::InvalidOption(format!(
                "{} is not a SuperGLUE task read line by line",
                task.name()
            )))
        }
    };
    Ok(Example::new(texts, label))
}

/// `true`/`false` (or `1`/`0`) → class 1/0.
fn bool_label(row: &Row) -> Result<Label, DataError> {
    match row.get("label")? {
        Value::Bool(b) => Ok(Label::Class(usize::from(*b))),
        Value::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
            Ok(Label::Class(n.as_u64().unwrap_or(0) as usize))
        }
        other => Err(row.error(format!("unknown label {other} (expected true or false)"))),
    }
}

/// A class name (`"entailment"`) or a class index (COPA's `0`/`1`).
fn named_label(task: Benchmark, row: &Row) -> Result<Label, DataError> {
    let names = match task.label_space() {
        LabelSpace::Classes(names) => names,
        _ => Vec::new(),
    };
    let value = row.get("label")?;
    let index = match value {
        Value::String(s) => names.iter().position(|n| n == s),
        Value::Number(n) => n.as_u64().map(|i| i as usize).filter(|&i| i < names.len()),
        _ => None,
    };
    index.map(Label::Class).ok_or_else(|| {
        row.error(format!(
            "unknown label {value} (expected one of {} or an index)",
            names.join(", ")
        ))
    })
}

/// T5's WSC input: the noun span between `*`, the pronoun between `#`
/// (`# This # is a * test * sentence .`). Spans are found by word index, as
/// T5's `_mark_span` does; a span that is not at its index leaves the text as
/// it is.
fn wsc_marked_text(row: &Row) -> Result<String, DataError> {
    let text = row.str("text")?;
    let target = row.nested("target")?;
    let span1_index = target.u64("span1_index")? as usize;
    let span2_index = target.u64("span2_index")? as usize;
    let marked = mark_span(text, target.str("span1_text")?, span1_index, '*');
    // The first mark added two words in front of the second span when it came first.
    let shift = if span1_index < span2_index { 2 } else { 0 };
    Ok(mark_span(
        &marked,
        target.str("span2_text")?,
        span2_index + shift,
        '#',
    ))
}

fn mark_span(text: &str, span: &str, word_index: usize, mark: char) -> String {
    let pattern = format!(r"^((?:\S+\s){{{word_index}}})({})", regex::escape(span));
    match Regex::new(&pattern) {
        Ok(re) => re
            .replace(text, format!("${{1}}{mark} ${{2}} {mark}"))
            .into_owned(),
        Err(_) => text.to_string(),
    }
}

/// MultiRC: one example per answer, grouped by the question's `idx`.
fn multirc(row: &Row) -> Result<Vec<Example>, DataError> {
    let passage = row.nested("passage")?;
    let paragraph = remove_markup(passage.str("text")?);
    let mut examples = Vec::new();
    for question in passage.objects("questions")? {
        let group = question.u64("idx")?;
        let question_text = remove_markup(question.str("question")?);
        for answer in question.objects("answers")? {
            let texts = vec![
                Text::new("question", question_text.clone()),
                Text::new("answer", remove_markup(answer.str("text")?)),
                Text::new("paragraph", paragraph.clone()),
            ];
            let mut example = Example::new(texts, bool_label(&answer)?);
            example.group = Some(group);
            examples.push(example);
        }
    }
    Ok(examples)
}

/// T5's MultiRC cleaning: `<br>` becomes a space, `<b>` / `</b>` go.
fn remove_markup(text: &str) -> String {
    text.replace("<br>", " ")
        .replace("<b>", "")
        .replace("</b>", "")
}

/// ReCoRD: one example per query, with texts `query`, `entities` (joined by
/// ", ", as T5 lists them) and `passage`. Entities are the distinct passage
/// spans (`start..=end`, in characters), sorted; answers likewise.
fn record(row: &Row) -> Result<Vec<Example>, DataError> {
    let passage = row.nested("passage")?;
    let raw = passage.str("text")?;
    let chars: Vec<char> = raw.chars().collect();
    let mut entities = BTreeSet::new();
    for entity in passage.objects("entities")? {
        let (start, end) = (entity.u64("start")? as usize, entity.u64("end")? as usize);
        if start > end || end >= chars.len() {
            return Err(row.error(format!(
                "entity span {start}..={end} is outside the passage ({} characters)",
                chars.len()
            )));
        }
        entities.insert(chars[start..=end].iter().collect::<String>());
    }
    let text = record_passage(raw);
    let entity_list = entities.iter().cloned().collect::<Vec<_>>().join(", ");
    let mut examples = Vec::new();
    for qa in row.objects("qas")? {
        let answers: BTreeSet<String> = qa
            .objects("answers")?
            .iter()
            .map(|a| a.str("text").map(str::to_string))
            .collect::<Result<_, _>>()?;
        let mut example = Example::new(
            vec![
                Text::new("query", qa.str("query")?),
                Text::new("entities", entity_list.clone()),
                Text::new("passage", text.clone()),
            ],
            Label::Answers(answers.into_iter().collect()),
        );
        example.group = Some(qa.u64("idx")?);
        example.candidates = entities.iter().cloned().collect();
        examples.push(example);
    }
    Ok(examples)
}

/// T5's ReCoRD passage: a `@highlight` line after end punctuation joins with a
/// space, any other with ". ".
fn record_passage(text: &str) -> String {
    static AFTER_PUNCTUATION: OnceLock<Regex> = OnceLock::new();
    let re = AFTER_PUNCTUATION
        .get_or_init(|| Regex::new(r#"([.?!"'])\n@highlight\n"#).expect("valid regex"));
    re.replace_all(text, "$1 ").replace("\n@highlight\n", ". ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wsc_marks_spans_like_t5() {
        // The example of T5's preprocessor docstring.
        let line = r#"{"text": "This is a test sentence .", "target": {"span1_text": "test", "span1_index": 3, "span2_text": "This", "span2_index": 0}, "idx": 0, "label": false}"#;
        let rows = read_superglue(Benchmark::Wsc, "val.jsonl", line).unwrap();
        assert_eq!(rows[0].text("text"), "# This # is a * test * sentence .");
        assert_eq!(rows[0].label, Label::Class(0));
    }

    #[test]
    fn wsc_second_span_after_first_is_shifted() {
        let line = r#"{"text": "Mark told Pete he lied .", "target": {"span1_text": "Mark", "span1_index": 0, "span2_text": "he", "span2_index": 3}, "idx": 0, "label": true}"#;
        let rows = read_superglue(Benchmark::Wsc, "val.jsonl", line).unwrap();
        assert_eq!(rows[0].text("text"), "* Mark * told Pete # he # lied .");
    }

    #[test]
    fn record_expands_queries_with_entities_and_answers() {
        let line = r#"{"source": "x", "passage": {"text": "Anna met Bob.\n@highlight\nBob smiled", "entities": [{"start": 0, "end": 3}, {"start": 9, "end": 11}, {"start": 25, "end": 27}]}, "qas": [{"query": "@placeholder smiled", "answers": [{"start": 9, "end": 11, "text": "Bob"}], "idx": 7}], "idx": 0}"#;
        let rows = read_superglue(Benchmark::Record, "val.jsonl", line).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].candidates,
            vec!["Anna".to_string(), "Bob".to_string()]
        );
        assert_eq!(rows[0].label, Label::Answers(vec!["Bob".into()]));
        assert_eq!(rows[0].group, Some(7));
        assert_eq!(rows[0].text("passage"), "Anna met Bob. Bob smiled");
        assert_eq!(rows[0].text("entities"), "Anna, Bob");
    }

    #[test]
    fn record_passage_joins_highlights() {
        assert_eq!(record_passage("A\n@highlight\nB"), "A. B");
        assert_eq!(record_passage("A!\n@highlight\nB"), "A! B");
    }

    #[test]
    fn multirc_expands_answers_into_groups() {
        let line = r#"{"idx": 0, "passage": {"text": "P<br>Q <b>Sent 1: </b>x", "questions": [{"question": "Why?", "idx": 5, "answers": [{"text": "No", "idx": 0, "label": 0}, {"text": "Yes", "idx": 1, "label": 1}]}]}}"#;
        let rows = read_superglue(Benchmark::MultiRc, "val.jsonl", line).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].label, Label::Class(1));
        assert_eq!(rows[0].group, Some(5));
        assert_eq!(rows[0].text("paragraph"), "P Q Sent 1: x");
    }

    #[test]
    fn unknown_labels_are_errors_with_lines() {
        let text =
            "{\"premise\": \"a\", \"hypothesis\": \"b\", \"label\": \"maybe\", \"idx\": 0}\n";
        let err = read_superglue(Benchmark::Cb, "train.jsonl", text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "train.jsonl:1: unknown label \"maybe\" (expected one of entailment, contradiction, neutral or an index)"
        );
        let err = read_superglue(
            Benchmark::BoolQ,
            "val.jsonl",
            "{\"question\": \"q\", \"passage\": \"p\", \"label\": 3}",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "val.jsonl:1: unknown label 3 (expected true or false)"
        );
    }
}
