//! The text-to-text formulation T5 is trained with: a source string
//! `"<task> <field>: <text> <field>: <text>"` and a target string, the label
//! word (`sst2 sentence: it 's a charming journey .` → `positive`). This is the
//! T5 convention that the reference code (`examples_seq2seq/data_processors/
//! tasks.py` of the BIPEFT code, from Compacter) follows for its prefixes and
//! fields. Differences, by choice:
//! - label words: T5's words by default; the reference writes class indices
//!   (`"0"`, `"1"`), selectable as [`LabelWords::Indices`];
//! - STS-B targets are rounded to the nearest 0.2 (the reference's docstring;
//!   its expression `round((x * 5) / 5, 1)` rounds to 0.1);
//! - MNLI's field is `hypothesis:` (the reference drops the colon) and COPA
//!   lists its `question:` (cause / effect), as T5 does;
//! - ReCoRD's source is `superglue-record query: … entities: … passage: …`.

use crate::data::example::{Example, Label};
use crate::data::task::{Benchmark, LabelSpace, TaskInfo};

/// How class labels are written as targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum LabelWords {
    /// T5's words: `positive`, `not_entailment`, `True`.
    #[default]
    Names,
    /// The class index as text, as the reference code writes it.
    Indices,
}

/// One source / target pair. `choice` numbers the pairs of one example
/// (ReCoRD has one pair per gold answer).
#[derive(Debug, Clone, PartialEq)]
pub struct TextPair {
    pub source: String,
    pub target: String,
    pub choice: usize,
}

/// A generated text read back as a label.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    Class(usize),
    Score(f64),
    /// ReCoRD: the answer text.
    Text(String),
    /// Not a label of the task: always counted as wrong.
    Invalid,
}

/// The source string of an example.
pub fn source(info: &TaskInfo, example: &Example) -> String {
    let mut source = info.name.clone();
    for text in &example.texts {
        source.push(' ');
        source.push_str(&text.name);
        source.push_str(": ");
        source.push_str(&text.text);
    }
    source
}

/// The target of a class index or score.
pub fn target_of(info: &TaskInfo, words: LabelWords, label: &Label) -> String {
    match label {
        Label::Class(index) => match (&info.labels, words) {
            (LabelSpace::Classes(names), LabelWords::Names) => names
                .get(*index)
                .cloned()
                .unwrap_or_else(|| index.to_string()),
            _ => index.to_string(),
        },
        Label::Score(score) if info.benchmark == Some(Benchmark::Stsb) => format_stsb(*score),
        Label::Score(score) => score.to_string(),
        Label::Answers(answers) => answers.first().cloned().unwrap_or_default(),
    }
}

/// An example's pairs: one, or one per gold answer for ReCoRD (one with an
/// empty target when there is none).
pub fn text_pairs(info: &TaskInfo, words: LabelWords, example: &Example) -> Vec<TextPair> {
    let source = source(info, example);
    match &example.label {
        Label::Answers(answers) if answers.len() > 1 => answers
            .iter()
            .enumerate()
            .map(|(choice, answer)| TextPair {
                source: source.clone(),
                target: answer.clone(),
                choice,
            })
            .collect(),
        label => vec![TextPair {
            target: target_of(info, words, label),
            source,
            choice: 0,
        }],
    }
}

/// STS-B's score rounded to the nearest 0.2 and written with one decimal
/// (`3.8`), making it a 26-way choice; ties round to even, like T5's `tf.round`.
pub fn format_stsb(score: f64) -> String {
    format!("{:.1}", (score * 5.0).round_ties_even() / 5.0)
}

/// Reads a generated text as a label. Surrounding white space is ignored; a
/// text that is no label of the task (or no number, for regression) is
/// [`Prediction::Invalid`].
pub fn parse_prediction(info: &TaskInfo, words: LabelWords, text: &str) -> Prediction {
    let text = text.trim();
    match &info.labels {
        LabelSpace::Classes(names) => {
            let index = match words {
                LabelWords::Names => names.iter().position(|n| n == text),
                LabelWords::Indices => text.parse::<usize>().ok().filter(|&i| i < names.len()),
            };
            index.map(Prediction::Class).unwrap_or(Prediction::Invalid)
        }
        LabelSpace::Regression => match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Prediction::Score(value),
            _ => Prediction::Invalid,
        },
        LabelSpace::Answers => Prediction::Text(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::example::Text;

    fn sst2() -> TaskInfo {
        TaskInfo::of(Benchmark::Sst2)
    }

    #[test]
    fn sst2_source_and_target() {
        let example = Example::new(
            vec![Text::new("sentence", "a charming journey")],
            Label::Class(1),
        );
        let pairs = text_pairs(&sst2(), LabelWords::Names, &example);
        assert_eq!(pairs[0].source, "sst2 sentence: a charming journey");
        assert_eq!(pairs[0].target, "positive");
        let pairs = text_pairs(&sst2(), LabelWords::Indices, &example);
        assert_eq!(pairs[0].target, "1");
    }

    #[test]
    fn stsb_rounds_to_a_fifth() {
        assert_eq!(format_stsb(3.8), "3.8");
        assert_eq!(format_stsb(4.75), "4.8");
        assert_eq!(format_stsb(2.5), "2.4"); // 12.5 rounds to even 12
        assert_eq!(format_stsb(0.0), "0.0");
        assert_eq!(format_stsb(5.0), "5.0");
        assert_eq!(format_stsb(1.3), "1.2");
    }

    #[test]
    fn parsing_generated_text() {
        let info = sst2();
        assert_eq!(
            parse_prediction(&info, LabelWords::Names, " positive "),
            Prediction::Class(1)
        );
        assert_eq!(
            parse_prediction(&info, LabelWords::Names, "Positive"),
            Prediction::Invalid
        );
        assert_eq!(
            parse_prediction(&info, LabelWords::Names, "1"),
            Prediction::Invalid
        );
        assert_eq!(
            parse_prediction(&info, LabelWords::Indices, "1"),
            Prediction::Class(1)
        );
        assert_eq!(
            parse_prediction(&info, LabelWords::Indices, "2"),
            Prediction::Invalid
        );
        let stsb = TaskInfo::of(Benchmark::Stsb);
        assert_eq!(
            parse_prediction(&stsb, LabelWords::Names, "3.4"),
            Prediction::Score(3.4)
        );
        assert_eq!(
            parse_prediction(&stsb, LabelWords::Names, "three"),
            Prediction::Invalid
        );
    }

    #[test]
    fn record_has_one_pair_per_answer() {
        let info = TaskInfo::of(Benchmark::Record);
        let example = Example::new(
            vec![
                Text::new("query", "@placeholder smiled"),
                Text::new("passage", "Bob smiled"),
            ],
            Label::Answers(vec!["Bob".into(), "Bobby".into()]),
        );
        let pairs = text_pairs(&info, LabelWords::Names, &example);
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[1].target, "Bobby");
        assert_eq!(pairs[1].choice, 1);
        assert_eq!(
            pairs[0].source,
            "superglue-record query: @placeholder smiled passage: Bob smiled"
        );
    }
}
