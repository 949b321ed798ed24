//! `bipeft search` errors: each a single clear line, exit status 1, nothing
//! written. Runs on the tiny T5 fixture and the repository's SST-2 files; the
//! checks happen before any training.

mod common;

use std::path::PathBuf;
use std::process::Command;
use common::{root, tiny_t5};

fn sst2() -> PathBuf {
    root().join("../shared/data/glue/SST-2")
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bipeft-search-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `bipeft search` with `extra` and returns (status ok, stderr).
fn search(out: &PathBuf, budget: &str, data: &PathBuf, extra: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bipeft"))
        .arg("search")
        .arg("--model")
        .arg(tiny_t5())
        // The `lora` space: the tiny model is too narrow for default adapters.
        .args([
            "--task", "sst2", "--space", "lora", "--budget", budget, "--quiet",
        ])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn one_error_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0]
}

#[test]
fn budget_below_the_smallest_module_is_refused() {
    let out = out_dir("small");
    let (ok, stderr) = search(&out, "1", &sst2(), &[]);
    assert!(!ok);
    let line = one_error_line(&stderr);
    assert!(line.contains("below the smallest module"), "{line}");
    assert!(!out.exists());
}

#[test]
fn bad_budget_text_is_refused() {
    let out = out_dir("text");
    let (ok, stderr) = search(&out, "lots", &sst2(), &[]);
    assert!(!ok);
    assert!(
        one_error_line(&stderr).contains("--budget lots"),
        "{stderr}"
    );
}

#[test]
fn missing_data_directory_is_refused() {
    let out = out_dir("nodata");
    let (ok, stderr) = search(&out, "1000", &root().join("no/such/dir"), &[]);
    assert!(!ok);
    assert!(
        one_error_line(&stderr).contains("no such directory"),
        "{stderr}"
    );
}

#[test]
fn finished_run_is_not_overwritten_without_force() {
    let out = out_dir("finished");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("peft_config.json"), "{}").unwrap();
    std::fs::write(out.join("search_trace.json"), "{}").unwrap();
    let (ok, stderr) = search(&out, "1000", &sst2(), &[]);
    assert!(!ok);
    assert!(one_error_line(&stderr).contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(out.join("peft_config.json")).unwrap(),
        "{}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn baseline_writes_a_config_within_budget() {
    let out = out_dir("baseline");
    let (ok, stderr) = search(&out, "2000", &sst2(), &["--mode", "uniform_lora"]);
    assert!(ok, "{stderr}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("peft_config.json")).unwrap())
            .unwrap();
    let trainable = config["trainable_params"].as_u64().unwrap();
    assert!(trainable > 0 && trainable <= 2000, "{config}");
    assert!(out.join("search_trace.json").is_file());
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn custom_csv_task_is_searched() {
    let dir = out_dir("custom");
    std::fs::create_dir_all(&dir).unwrap();
    // 80 SST-2 sentences as the user's own CSV, with a quoted comma.
    let source = std::fs::read_to_string(sst2().join("train.tsv")).unwrap();
    let mut csv = String::from("review,stars\n");
    for line in source.lines().skip(1).take(80) {
        let (text, label) = line.rsplit_once('\t').unwrap();
        let stars = if label == "1" { "good" } else { "bad" };
        csv.push_str(&format!(
            "\"{}, really\",{stars}\n",
            text.replace('"', "\"\"")
        ));
    }
    let data = dir.join("reviews.csv");
    std::fs::write(&data, csv).unwrap();
    let out = dir.join("run");
    let output = Command::new(env!("CARGO_BIN_EXE_bipeft"))
        .arg("search")
        .arg("--model")
        .arg(tiny_t5())
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .args([
            "--task",
            "reviews",
            "--text-column",
            "review",
            "--label-column",
            "stars",
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
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("search_trace.json")).unwrap())
            .unwrap();
    assert_eq!(trace["task"], "reviews");
    assert!(!trace["steps"].as_array().unwrap().is_empty());
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("peft_config.json")).unwrap())
            .unwrap();
    assert!(
        config["trainable_params"].as_u64().unwrap() <= 2000,
        "{config}"
    );

    // Half the options is one clear line.
    let output = Command::new(env!("CARGO_BIN_EXE_bipeft"))
        .arg("search")
        .arg("--model")
        .arg(tiny_t5())
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(dir.join("bad"))
        .args([
            "--task",
            "reviews",
            "--text-column",
            "review",
            "--budget",
            "2000",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        one_error_line(&stderr).contains("--label-column"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
