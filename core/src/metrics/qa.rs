//! The grouped metrics of ReCoRD and MultiRC, as the SuperGLUE evaluation
//! (and T5's `squad` / `multirc` metrics) define them.
//!
//! - ReCoRD: each query's predicted answer is normalised like SQuAD (lower
//!   case, punctuation and articles removed, white space collapsed) and scored
//!   against its best-matching gold answer: exact match, and token-level F1.
//!   Both are averaged over queries.
//! - MultiRC: F1 over all answer options (class 1 = "this answer is right"),
//!   and exact match per question (every option of it right), averaged over
//!   questions.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

use crate::error::Result;
use crate::metrics::classification::{binary_f1, check_lengths};

/// SQuAD's answer normalisation: lower case, ASCII punctuation removed, the
/// words a / an / the removed, white space collapsed.
pub fn normalize_answer(text: &str) -> String {
    static ARTICLES: OnceLock<Regex> = OnceLock::new();
    let articles = ARTICLES.get_or_init(|| Regex::new(r"\b(a|an|the)\b").expect("valid regex"));
    let lowered: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    articles
        .replace_all(&lowered, " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Token F1 of two normalised answers (bags of words).
pub fn token_f1(prediction: &str, target: &str) -> f64 {
    let predicted: Vec<&str> = prediction.split_whitespace().collect();
    let gold: Vec<&str> = target.split_whitespace().collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for word in &gold {
        *counts.entry(word).or_default() += 1;
    }
    let mut same = 0usize;
    for word in &predicted {
        if let Some(c) = counts.get_mut(word) {
            if *c > 0 {
                *c -= 1;
                same += 1;
            }
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / predicted.len() as f64;
    let recall = same as f64 / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// ReCoRD `(f1, exact_match)` of one prediction per query, each against the
/// best of its gold answers.
pub fn record_scores(predictions: &[&str], answers: &[&[String]]) -> Result<(f64, f64)> {
    check_lengths(predictions.len(), answers.len())?;
    let (mut f1, mut em) = (0.0, 0.0);
    for (prediction, gold) in predictions.iter().zip(answers) {
        let prediction = normalize_answer(prediction);
        let gold: Vec<String> = gold.iter().map(|g| normalize_answer(g)).collect();
        em += if gold.contains(&prediction) { 1.0 } else { 0.0 };
        f1 += gold
            .iter()
            .map(|g| token_f1(&prediction, g))
            .fold(0.0, f64::max);
    }
    let n = predictions.len() as f64;
    Ok((f1 / n, em / n))
}

/// MultiRC `(f1, exact_match)`: predictions and targets per answer option
/// (0/1; anything else is wrong), `groups` the option's question.
pub fn multirc_scores(
    predictions: &[usize],
    targets: &[usize],
    groups: &[u64],
) -> Result<(f64, f64)> {
    check_lengths(predictions.len(), targets.len())?;
    check_lengths(groups.len(), targets.len())?;
    let f1 = binary_f1(predictions, targets)?;
    let mut all_right: Vec<(u64, bool)> = Vec::new();
    let mut position: HashMap<u64, usize> = HashMap::new();
    for ((&p, &t), &g) in predictions.iter().zip(targets).zip(groups) {
        let at = *position.entry(g).or_insert_with(|| {
            all_right.push((g, true));
            all_right.len() - 1
        });
        all_right[at].1 &= p == t;
    }
    let em = all_right.iter().filter(|(_, right)| *right).count() as f64 / all_right.len() as f64;
    Ok((f1, em))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_like_squad() {
        assert_eq!(normalize_answer("The  Eiffel-Tower!"), "eiffeltower");
        assert_eq!(normalize_answer("a cat, an owl"), "cat owl");
    }

    #[test]
    fn record_takes_the_best_answer() {
        let gold = vec!["Barack Obama".to_string(), "Obama".to_string()];
        let (f1, em) = record_scores(&["obama"], &[&gold]).unwrap();
        assert_eq!((f1, em), (1.0, 1.0));
        let (f1, em) = record_scores(&["President Obama"], &[&gold]).unwrap();
        assert!((f1 - 2.0 / 3.0).abs() < 1e-12, "{f1}");
        assert_eq!(em, 0.0);
    }

    #[test]
    fn multirc_groups() {
        // Question 1 all right, question 2 one wrong.
        let (f1, em) = multirc_scores(&[1, 0, 1, 1], &[1, 0, 1, 0], &[1, 1, 2, 2]).unwrap();
        assert_eq!(em, 0.5);
        assert!((f1 - 0.8).abs() < 1e-12);
    }
}
