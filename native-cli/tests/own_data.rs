//! The user's own data end to end: a two-class CSV task made here, on the
//! tiny BERT, through `search` → `retrain` → `eval` (no task flags: the
//! result keeps its task) → `export`. Predictions name the file and line of
//! their row; the class order is the one trained with, even on a file that
//! lacks a class.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

const POSITIVE: [&str; 5] = ["great", "lovely", "wonderful", "superb", "delightful"];
const NEGATIVE: [&str; 5] = ["awful", "dull", "terrible", "boring", "dreadful"];
const SUBJECTS: [&str; 8] = [
    "the film",
    "this book",
    "the meal",
    "our trip",
    "the show",
    "that song",
    "the hotel",
    "my day",
];

/// One row of the generated task.
struct Row {
    id: String,
    text: String,
    label: &'static str,
}

/// `n` rows alternating `pos` / `neg` (only `pos` when `only_pos`), ids `{prefix}{i}`.
fn rows(prefix: &str, n: usize, only_pos: bool) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let positive = only_pos || i % 2 == 0;
            let words = if positive { POSITIVE } else { NEGATIVE };
            let subject = SUBJECTS[(i / 2) % SUBJECTS.len()];
            let adjective = words[(i / 2 + i / 16) % words.len()];
            // Some texts need quoting: a comma, and a line break inside the field.
            let text = match i % 7 {
                3 => format!("well, {subject} was {adjective}"),
                5 => format!("{subject}\nwas {adjective}"),
                _ => format!("{subject} was {adjective}"),
            };
            Row {
                id: format!("{prefix}{i}"),
                text,
                label: if positive { "pos" } else { "neg" },
            }
        })
        .collect()
}

/// Writes `rows` as a CSV with a header (`id,text,label`), quoting where needed.
fn write_csv(path: &Path, rows: &[Row]) {
    let mut csv = String::from("id,text,label\n");
    for row in rows {
        let text = if row.text.contains([',', '\n', '"']) {
            format!("\"{}\"", row.text.replace('"', "\"\""))
        } else {
            row.text.clone()
        };
        csv.push_str(&format!("{},{text},{}\n", row.id, row.label));
    }
    std::fs::write(path, csv).unwrap();
}

/// A folder with `train.csv` and `dev.csv`.
fn task_folder(dir: &Path, train: &[Row], dev: &[Row]) {
    std::fs::create_dir_all(dir).unwrap();
    write_csv(&dir.join("train.csv"), train);
    write_csv(&dir.join("dev.csv"), dev);
}

/// The JSON lines of a predictions file.
fn predictions(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Checks that every prediction names `csv` and a line of it that starts
/// the row with its label; returns how many rows had each label.
fn check_lines(rows: &[serde_json::Value], csv: &Path, labels: &[(&str, &str)]) -> Vec<u64> {
    let text = std::fs::read_to_string(csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let label_of: BTreeMap<&str, &str> = labels.iter().copied().collect();
    let mut counts = vec![0; 2];
    for row in rows {
        assert_eq!(row["file"].as_str().unwrap(), s(csv), "{row}");
        let line = row["line"].as_u64().unwrap() as usize;
        assert!(line >= 2, "line 1 is the header: {row}");
        let id = lines[line - 1].split(',').next().unwrap();
        let class = match label_of[id] {
            "neg" => 0,
            _ => 1,
        };
        assert_eq!(
            row["label"], class,
            "line {line} ({id}) has another label: {row}"
        );
        counts[class] += 1;
    }
    counts
}

#[test]
fn own_csv_task_searched_retrained_evaluated_and_exported() {
    let dir = temp("own-data");
    let data = dir.join("reviews");
    let (train, dev) = (rows("t", 80, false), rows("d", 40, false));
    task_folder(&data, &train, &dev);
    let model = tiny_bert();
    let columns = [
        "--task",
        "reviews",
        "--text-column",
        "text",
        "--label-column",
        "label",
    ];

    // search
    let run = dir.join("run");
    let mut args = vec![
        "search",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--out",
        s(&run),
    ];
    args.extend(columns);
    args.extend([
        "--space",
        "lora",
        "--budget",
        "2000",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--max-length",
        "16",
        "--selection-start-epoch",
        "1",
        "--quiet",
    ]);
    ok(&args);
    assert!(run.join("peft_config.json").is_file());

    // retrain: the same task flags as search
    let trained = dir.join("trained");
    let mut args = vec![
        "retrain",
        "--config",
        s(&run),
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--out",
        s(&trained),
    ];
    args.extend(columns);
    args.extend([
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--max-length",
        "16",
        "--quiet",
    ]);
    let report = ok(&args);
    assert!(report.starts_with("reviews: best validation"), "{report}");
    for file in ["trained.json", "weights.safetensors", "metrics.json"] {
        assert!(trained.join(file).is_file(), "{file}");
    }
    let manifest = read_json(&trained.join("trained.json"));
    assert_eq!(manifest["task"], "reviews");
    assert_eq!(
        manifest["custom_task"],
        serde_json::json!({
            "name": "reviews",
            "text_columns": ["text"],
            "label_column": "label",
            "kind": {"type": "classification", "labels": ["neg", "pos"]},
            "max_length": 16,
        })
    );
    assert_eq!(read_json(&trained.join("metrics.json"))["task"], "reviews");

    // eval: no task flags; predictions point at their dev.csv rows
    let labels: Vec<(&str, &str)> = dev.iter().map(|r| (r.id.as_str(), r.label)).collect();
    let file = dir.join("predictions.jsonl");
    let printed = ok(&[
        "eval",
        "--trained",
        s(&trained),
        "--data",
        s(&data),
        "--json",
        "--save-predictions",
        s(&file),
    ]);
    let scores: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(scores["task"], "reviews");
    assert_eq!(scores["split"], "test");
    assert_eq!(scores["examples"], 20);
    assert!(scores["scores"]["accuracy"].is_number(), "{scores}");
    let lines = predictions(&file);
    assert_eq!(lines.len(), 20);
    let counts = check_lines(&lines, &data.join("dev.csv"), &labels);
    assert!(
        counts.iter().all(|&n| n > 0),
        "both classes in test: {counts:?}"
    );

    // New data with one class only: the classes are still those trained with.
    let later = dir.join("later");
    let only_pos = rows("p", 12, true);
    task_folder(&later, &only_pos, &only_pos);
    let labels: Vec<(&str, &str)> = only_pos.iter().map(|r| (r.id.as_str(), r.label)).collect();
    let file = dir.join("later.jsonl");
    ok(&[
        "eval",
        "--trained",
        s(&trained),
        "--data",
        s(&later),
        "--save-predictions",
        s(&file),
    ]);
    let counts = check_lines(&predictions(&file), &later.join("dev.csv"), &labels);
    assert_eq!(counts, vec![0, 6]);

    // A task named on the command line must be the trained one.
    let line = error_line(&[
        "eval",
        "--trained",
        s(&trained),
        "--data",
        s(&data),
        "--task",
        "movies",
    ]);
    assert!(
        line.contains("was trained on task reviews, not movies"),
        "{line}"
    );

    // export: both formats; the bipeft one evaluates with no task flags too
    let peft = dir.join("peft");
    let printed = ok(&[
        "export",
        "--trained",
        s(&trained),
        "--format",
        "peft",
        "--out",
        s(&peft),
    ]);
    assert!(
        printed.contains("reviews: head output 0 is neg, 1 is pos"),
        "{printed}"
    );
    assert!(peft.join("adapter_config.json").is_file());
    assert!(peft.join("adapter_model.safetensors").is_file());
    let copy = dir.join("copy");
    ok(&[
        "export",
        "--trained",
        s(&trained),
        "--format",
        "bipeft",
        "--out",
        s(&copy),
    ]);
    assert_eq!(
        read_json(&copy.join("trained.json"))["custom_task"],
        manifest["custom_task"]
    );
    let printed = ok(&["eval", "--trained", s(&copy), "--data", s(&data), "--json"]);
    let again: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(again["scores"], scores["scores"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn own_task_retrains_from_one_file() {
    let dir = temp("own-data-file");
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("reviews.csv");
    write_csv(&csv, &rows("r", 60, false));
    let config = lora_config(&dir.join("run"));
    let trained = dir.join("trained");
    let model = tiny_bert();
    let base = [
        "retrain",
        "--config",
        s(&config),
        "--model",
        s(&model),
        "--task",
        "reviews",
        "--out",
        s(&trained),
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--max-length",
        "16",
        "--quiet",
    ];
    let mut args = base.to_vec();
    args.extend([
        "--data",
        s(&csv),
        "--text-column",
        "text",
        "--label-column",
        "label",
    ]);
    ok(&args);
    assert!(trained.join("metrics.json").is_file());
    let printed = ok(&[
        "eval",
        "--trained",
        s(&trained),
        "--data",
        s(&csv),
        "--json",
    ]);
    let scores: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(scores["task"], "reviews");

    // A resumed run reads the task from its trained.json: no task flags.
    std::fs::remove_file(trained.join("metrics.json")).unwrap();
    ok(&["retrain", "--resume", s(&trained), "--quiet"]);
    assert_eq!(read_json(&trained.join("metrics.json"))["task"], "reviews");

    // Missing flags or files are one clear line.
    let mut args = base.to_vec();
    args.extend(["--data", s(&csv), "--text-column", "text", "--force"]);
    let line = error_line(&args);
    assert!(line.contains("--label-column"), "{line}");
    let missing = dir.join("none.csv");
    let mut args = base.to_vec();
    args.extend([
        "--data",
        s(&missing),
        "--text-column",
        "text",
        "--label-column",
        "label",
        "--force",
    ]);
    let line = error_line(&args);
    assert!(
        line.contains("none.csv: no such directory or file"),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
