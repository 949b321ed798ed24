//! `bipeft eval`: scores and predictions of a trained result, one JSON line
//! per example in split order; the accuracy recomputed from the lines is the
//! one printed. Bad input: a missing data directory, a result of another task.

mod common;

use common::*;

#[test]
fn predictions_are_json_lines_in_split_order() {
    let dir = temp("eval");
    let config = lora_config(&dir.join("run"));
    let data = tiny_sst2("eval", 48, 40);
    let out = dir.join("trained");
    retrain(
        &config,
        &data,
        &out,
        &["--epochs", "1", "--batch-size", "16"],
    );

    let file = dir.join("predictions.jsonl");
    let line = ok(&[
        "eval",
        "--trained",
        s(&out),
        "--data",
        s(&data),
        "--split",
        "validation",
        "--save-predictions",
        s(&file),
        "--json",
        "--batch-size",
        "3",
    ]);
    let scores: serde_json::Value = serde_json::from_str(&line).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 20);
    assert_eq!(scores["examples"], 20);
    let mut correct = 0;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["index"], i, "split order");
        let logits: Vec<f64> = row["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(logits.len(), 2);
        let argmax = usize::from(logits[1] > logits[0]);
        assert_eq!(row["prediction"], argmax, "{row}");
        let label = row["label"].as_u64().unwrap() as usize;
        assert!(label < 2);
        correct += usize::from(argmax == label);
    }
    let accuracy = scores["scores"]["accuracy"].as_f64().unwrap();
    assert!(
        (accuracy - correct as f64 / 20.0).abs() < 1e-12,
        "{accuracy} vs {correct}/20"
    );

    // Batch size does not change the predictions (padding is masked).
    let again = dir.join("again.jsonl");
    ok(&[
        "eval",
        "--trained",
        s(&out),
        "--data",
        s(&data),
        "--split",
        "validation",
        "--save-predictions",
        s(&again),
        "--batch-size",
        "16",
    ]);
    let other: Vec<serde_json::Value> = std::fs::read_to_string(&again)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (a, b) in rows.iter().zip(&other) {
        assert_eq!(a["prediction"], b["prediction"]);
        for (x, y) in a["logits"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["logits"].as_array().unwrap())
        {
            assert!((x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-4);
        }
    }

    // Bad input.
    let line = error_line(&["eval", "--trained", s(&out), "--data", s(&dir.join("none"))]);
    assert!(line.contains("none: no such directory"), "{line}");
    let line = error_line(&[
        "eval",
        "--trained",
        s(&out),
        "--data",
        s(&data),
        "--task",
        "cola",
    ]);
    assert!(
        line.contains("was trained on task sst2, not cola"),
        "{line}"
    );
    let line = error_line(&["eval", "--trained", s(&dir), "--data", s(&data)]);
    assert!(line.contains("not a trained result"), "{line}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}
