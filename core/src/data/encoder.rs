//! The formulation for encoder models (BERT, MiniLM): one text or a text pair
//! (`[CLS] a [SEP] b [SEP]`) and a class index or a real target for a
//! classification / regression head of `LabelSpace::num_outputs` outputs.
//!
//! Tasks with more than two fields put them in a pair like this:
//! COPA `premise What was the cause?` / `choice1 or choice2` (class = which
//! choice); WiC `word: sentence1` / `sentence2`; MultiRC `paragraph` /
//! `question answer`; ReCoRD, one input per candidate entity, `passage` /
//! the query with `@placeholder` replaced by the entity (class 1 when the
//! entity is a gold answer; the best-scored entity of a query is its answer).
//! A user's task with more than two text columns joins the rest into `b`.

use crate::data::example::{Example, Label};
use crate::data::task::{Benchmark, TaskInfo};

/// The target of an encoder's head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EncoderTarget {
    Class(usize),
    Score(f64),
}

/// One input of an encoder model. `choice` numbers the inputs of one example
/// (the candidate entity, for ReCoRD).
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderInput {
    pub text_a: String,
    pub text_b: Option<String>,
    pub target: EncoderTarget,
    pub choice: usize,
}

/// An example's encoder inputs: one, or one per candidate for ReCoRD.
pub fn encoder_inputs(info: &TaskInfo, example: &Example) -> Vec<EncoderInput> {
    let target = match &example.label {
        Label::Class(index) => EncoderTarget::Class(*index),
        Label::Score(score) => EncoderTarget::Score(*score),
        Label::Answers(answers) => return record_inputs(example, answers),
    };
    let t = |name: &str| example.text(name).to_string();
    let (text_a, text_b) = match info.benchmark {
        Some(Benchmark::Copa) => {
            let question = format!("What was the {}?", t("question"));
            (
                format!("{} {question}", t("premise")),
                Some(format!("{} or {}", t("choice1"), t("choice2"))),
            )
        }
        Some(Benchmark::Wic) => (
            format!("{}: {}", t("word"), t("sentence1")),
            Some(t("sentence2")),
        ),
        Some(Benchmark::MultiRc) => (
            t("paragraph"),
            Some(format!("{} {}", t("question"), t("answer"))),
        ),
        _ => {
            let mut texts = example.texts.iter().map(|x| x.text.clone());
            let a = texts.next().unwrap_or_default();
            let rest: Vec<String> = texts.collect();
            (a, (!rest.is_empty()).then(|| rest.join(" ")))
        }
    };
    vec![EncoderInput {
        text_a,
        text_b,
        target,
        choice: 0,
    }]
}

fn record_inputs(example: &Example, answers: &[String]) -> Vec<EncoderInput> {
    let passage = example.text("passage");
    let query = example.text("query");
    example
        .candidates
        .iter()
        .enumerate()
        .map(|(choice, entity)| EncoderInput {
            text_a: passage.to_string(),
            text_b: Some(query.replace("@placeholder", entity)),
            target: EncoderTarget::Class(usize::from(answers.contains(entity))),
            choice,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::example::Text;

    #[test]
    fn pairs_and_singles() {
        let info = TaskInfo::of(Benchmark::Rte);
        let example = Example::new(
            vec![Text::new("sentence1", "A"), Text::new("sentence2", "B")],
            Label::Class(1),
        );
        let inputs = encoder_inputs(&info, &example);
        assert_eq!(inputs[0].text_a, "A");
        assert_eq!(inputs[0].text_b.as_deref(), Some("B"));
        assert_eq!(inputs[0].target, EncoderTarget::Class(1));
        let info = TaskInfo::of(Benchmark::Cola);
        let example = Example::new(vec![Text::new("sentence", "A")], Label::Class(0));
        assert_eq!(encoder_inputs(&info, &example)[0].text_b, None);
    }

    #[test]
    fn record_scores_each_candidate() {
        let info = TaskInfo::of(Benchmark::Record);
        let mut example = Example::new(
            vec![
                Text::new("query", "@placeholder smiled"),
                Text::new("passage", "Anna met Bob."),
            ],
            Label::Answers(vec!["Bob".into()]),
        );
        example.candidates = vec!["Anna".into(), "Bob".into()];
        let inputs = encoder_inputs(&info, &example);
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0].text_b.as_deref(), Some("Anna smiled"));
        assert_eq!(inputs[0].target, EncoderTarget::Class(0));
        assert_eq!(inputs[1].target, EncoderTarget::Class(1));
        assert_eq!(inputs[1].choice, 1);
    }
}
