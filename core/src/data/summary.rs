//! What a user wants to see before a long search: how many examples of each
//! label a split has, and how long its inputs are in tokens.

use crate::data::example::Label;
use crate::data::load::TaskData;
use crate::data::splits::ExampleRef;
use crate::data::task::LabelSpace;
use crate::data::tokenize::TokenizedTask;

/// The labels of a split.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum LabelSummary {
    /// Examples per class, in class order.
    Classes(Vec<(String, usize)>),
    /// A regression target's range.
    Scores {
        count: usize,
        min: f64,
        mean: f64,
        max: f64,
    },
    /// ReCoRD: queries, and candidate entities per query on average.
    Answers {
        queries: usize,
        mean_candidates: f64,
    },
}

/// Label counts (or score range) of the examples `refs` of `data`.
pub fn label_summary(data: &TaskData, refs: &[ExampleRef]) -> LabelSummary {
    let examples = refs
        .iter()
        .filter_map(|r| data.examples(r.part).get(r.index));
    match &data.info.labels {
        LabelSpace::Classes(names) => {
            let mut counts = vec![0usize; names.len()];
            for example in examples {
                if let Label::Class(i) = example.label {
                    if let Some(c) = counts.get_mut(i) {
                        *c += 1;
                    }
                }
            }
            LabelSummary::Classes(names.iter().cloned().zip(counts).collect())
        }
        LabelSpace::Regression => {
            let scores: Vec<f64> = examples
                .filter_map(|e| match e.label {
                    Label::Score(s) => Some(s),
                    _ => None,
                })
                .collect();
            let count = scores.len();
            let (min, max) = scores
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &s| {
                    (lo.min(s), hi.max(s))
                });
            let mean = if count == 0 {
                0.0
            } else {
                scores.iter().sum::<f64>() / count as f64
            };
            if count == 0 {
                LabelSummary::Scores {
                    count,
                    min: 0.0,
                    mean,
                    max: 0.0,
                }
            } else {
                LabelSummary::Scores {
                    count,
                    min,
                    mean,
                    max,
                }
            }
        }
        LabelSpace::Answers => {
            let candidates: Vec<usize> = examples.map(|e| e.candidates.len()).collect();
            let queries = candidates.len();
            let mean_candidates = if queries == 0 {
                0.0
            } else {
                candidates.iter().sum::<usize>() as f64 / queries as f64
            };
            LabelSummary::Answers {
                queries,
                mean_candidates,
            }
        }
    }
}

/// Token lengths of a split's inputs, before truncation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LengthStats {
    /// Tokenised inputs (more than examples where an example has several).
    pub inputs: usize,
    pub mean: f64,
    pub median: usize,
    pub p95: usize,
    pub max: usize,
    /// Inputs longer than the maximum length, which truncation shortens.
    pub truncated: usize,
}

/// Length statistics of the inputs of `refs` in `tokenized`.
pub fn length_stats(tokenized: &TokenizedTask, refs: &[ExampleRef]) -> LengthStats {
    let mut lengths = Vec::new();
    let mut truncated = 0;
    for r in refs {
        let Some(part) = tokenized.part(r.part) else {
            continue;
        };
        for item in &part.items[part.items_of(r.index)] {
            lengths.push(item.full_length as usize);
            truncated += usize::from(item.truncated());
        }
    }
    lengths.sort_unstable();
    let quantile = |q: f64| -> usize {
        if lengths.is_empty() {
            return 0;
        }
        // Nearest rank: the smallest length with at least q of the inputs at or below it.
        let rank = ((q * lengths.len() as f64).ceil() as usize).clamp(1, lengths.len());
        lengths[rank - 1]
    };
    LengthStats {
        inputs: lengths.len(),
        mean: if lengths.is_empty() {
            0.0
        } else {
            lengths.iter().sum::<usize>() as f64 / lengths.len() as f64
        },
        median: quantile(0.5),
        p95: quantile(0.95),
        max: lengths.last().copied().unwrap_or(0),
        truncated,
    }
}
