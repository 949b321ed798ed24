//! The metrics against scikit-learn / scipy values on fixed vectors
//! (tests/fixtures/metrics/, written by tests/fixtures/generate_metrics.py),
//! degenerate cases included. Tolerance 1e-9.

use bipeft_core::metrics::{
    accuracy, binary_f1, macro_f1, matthews, multirc_scores, pearson, record_scores, spearman,
};
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

fn fixture(name: &str) -> Vec<Value> {
    let path = format!("{}/fixtures/metrics/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let value: Value = serde_json::from_str(&text).unwrap();
    value["cases"].as_array().unwrap().clone()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(name: &str, metric: &str, got: f64, want: &Value) {
    let want = want
        .as_f64()
        .unwrap_or_else(|| panic!("{name}: no {metric}"));
    assert!(
        (got - want).abs() <= TOLERANCE,
        "{name} {metric}: got {got}, sklearn/scipy {want}"
    );
}

#[test]
fn classification_matches_sklearn() {
    let cases = fixture("classification.json");
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (t, p) = (usizes(&case["targets"]), usizes(&case["predictions"]));
        let k = case["num_classes"].as_u64().unwrap() as usize;
        close(
            name,
            "accuracy",
            accuracy(&p, &t).unwrap(),
            &case["accuracy"],
        );
        close(
            name,
            "matthews",
            matthews(&p, &t).unwrap(),
            &case["matthews"],
        );
        close(
            name,
            "macro_f1 (zero_division 0)",
            macro_f1(&p, &t, k, 0.0).unwrap(),
            &case["macro_f1_zero0"],
        );
        close(
            name,
            "macro_f1 (zero_division 1)",
            macro_f1(&p, &t, k, 1.0).unwrap(),
            &case["macro_f1_zero1"],
        );
        if !case["binary_f1"].is_null() {
            close(
                name,
                "binary_f1",
                binary_f1(&p, &t).unwrap(),
                &case["binary_f1"],
            );
        }
    }
}

#[test]
fn correlations_match_scipy_and_constants_are_zero() {
    let mut constants = 0;
    for case in fixture("correlation.json") {
        let name = case["name"].as_str().unwrap();
        let (x, y) = (floats(&case["x"]), floats(&case["y"]));
        close(name, "pearson", pearson(&x, &y).unwrap(), &case["pearson"]);
        close(
            name,
            "spearman",
            spearman(&x, &y).unwrap(),
            &case["spearman"],
        );
        if case["pearson_scipy"].is_null() {
            // scipy: NaN; bipeft: 0 by definition.
            constants += 1;
            assert_eq!(pearson(&x, &y).unwrap(), 0.0);
            assert_eq!(spearman(&x, &y).unwrap(), 0.0);
        }
    }
    assert_eq!(constants, 2);
}

#[test]
fn record_matches_the_official_evaluation() {
    for case in fixture("record.json") {
        let name = case["name"].as_str().unwrap();
        let predictions: Vec<&str> = case["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let answers: Vec<Vec<String>> = case["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                a.as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect()
            })
            .collect();
        let refs: Vec<&[String]> = answers.iter().map(Vec::as_slice).collect();
        let (f1, em) = record_scores(&predictions, &refs).unwrap();
        close(name, "f1", f1, &case["f1"]);
        close(name, "em", em, &case["em"]);
    }
}

#[test]
fn multirc_matches_sklearn_f1_and_grouped_em() {
    for case in fixture("multirc.json") {
        let name = case["name"].as_str().unwrap();
        let groups: Vec<u64> = usizes(&case["groups"])
            .into_iter()
            .map(|g| g as u64)
            .collect();
        let (f1, em) = multirc_scores(
            &usizes(&case["predictions"]),
            &usizes(&case["targets"]),
            &groups,
        )
        .unwrap();
        close(name, "f1", f1, &case["f1"]);
        close(name, "em", em, &case["em"]);
    }
}
