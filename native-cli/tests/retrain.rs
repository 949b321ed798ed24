//! `bipeft retrain` on the tiny BERT fixture and a tiny SST-2: the result's
//! files and report, the scores `bipeft eval` gives back, bad input (each one
//! clear error line), and a run killed with SIGKILL then resumed, which must
//! end exactly as the same run uninterrupted.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn retrains_and_reports_scores_that_eval_reproduces() {
    let dir = temp("retrain");
    let config = lora_config(&dir.join("run"));
    let data = tiny_sst2("retrain", 64, 40);
    let out = dir.join("trained");
    let stdout = retrain(
        &config,
        &data,
        &out,
        &["--epochs", "2", "--batch-size", "16"],
    );
    assert!(stdout.contains("best validation accuracy"), "{stdout}");

    let metrics = read_json(&out.join("metrics.json"));
    assert_eq!(metrics["task"], "sst2");
    assert_eq!(metrics["steps"], 8, "2 epochs of 64 / 16 batches");
    assert_eq!(metrics["train_examples"], 64);
    assert_eq!(metrics["validation_examples"], 20);
    assert_eq!(metrics["test_examples"], 20);
    assert_eq!(metrics["history"].as_array().unwrap().len(), 2);
    let peft = read_json(&config);
    assert_eq!(metrics["peft_params"], peft["trainable_params"]);
    // Head: pooler 32×32 + 32 and classifier 32×2 + 2.
    assert_eq!(metrics["head_params"], 32 * 32 + 32 + 32 * 2 + 2);
    for file in [
        "peft_config.json",
        "trained.json",
        "weights.safetensors",
        "checkpoint.bin",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let test_accuracy = metrics["test"]["accuracy"].as_f64().unwrap();
    let best_epoch = metrics["best_epoch"].as_u64().unwrap() as usize;
    assert_eq!(
        metrics["validation"], metrics["history"][best_epoch]["validation"],
        "the kept weights are the best epoch's"
    );

    // eval reads the result back and gives the report's scores.
    let line = ok(&[
        "eval",
        "--trained",
        s(&out),
        "--model",
        s(&tiny_bert()),
        "--data",
        s(&data),
        "--json",
    ]);
    let eval: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(eval["split"], "test");
    assert_eq!(eval["scores"]["accuracy"].as_f64().unwrap(), test_accuracy);

    // The majority-class floor, by hand: the most frequent label of the 64
    // training rows (all of them train: the small-set protocol), and the share
    // of the test examples carrying it (their gold labels from eval's lines).
    let train = std::fs::read_to_string(data.join("train.tsv")).unwrap();
    let ones = train.lines().skip(1).filter(|l| l.ends_with("\t1")).count();
    let majority = if ones > 64 - ones { 1 } else { 0 };
    let predictions = dir.join("test.jsonl");
    ok(&[
        "eval",
        "--trained",
        s(&out),
        "--data",
        s(&data),
        "--save-predictions",
        s(&predictions),
    ]);
    let labels: Vec<i64> = std::fs::read_to_string(&predictions)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["label"].as_i64().unwrap())
        .collect();
    assert_eq!(labels.len(), 20);
    let expected = labels.iter().filter(|&&l| l == majority).count() as f64 / 20.0;
    assert_eq!(metrics["majority_test"]["accuracy"].as_f64().unwrap(), expected);
    assert!(stdout.contains("most frequent class"), "{stdout}");
    let line = ok(&[
        "eval",
        "--trained",
        s(&out),
        "--data",
        s(&data),
        "--split",
        "validation",
        "--json",
    ]);
    let eval: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(eval["scores"], metrics["validation"]);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn bad_input_gives_one_clear_line() {
    let dir = temp("retrain-bad");
    let data = tiny_sst2("retrain-bad", 32, 20);
    let model = tiny_bert();

    // A configuration searched on another model.
    let t5_config = config_with(&tiny_t5(), "lora", &dir.join("t5"), |name, _| {
        name.ends_with("SelfAttention.q").then_some(Some(1))
    });
    let line = error_line(&[
        "retrain",
        "--config",
        s(&t5_config),
        "--model",
        s(&model),
        "--task",
        "sst2",
        "--data",
        s(&data),
        "--out",
        s(&dir.join("a")),
    ]);
    assert!(
        line.contains("the configuration is for another model"),
        "{line}"
    );
    assert!(!dir.join("a/metrics.json").exists());

    // A missing data directory.
    let config = lora_config(&dir.join("run"));
    let line = error_line(&[
        "retrain",
        "--config",
        s(&config),
        "--model",
        s(&model),
        "--task",
        "sst2",
        "--data",
        s(&dir.join("no/such/data")),
        "--out",
        s(&dir.join("b")),
    ]);
    assert!(line.contains("no/such/data: no such directory"), "{line}");

    // A missing configuration.
    let line = error_line(&[
        "retrain",
        "--config",
        s(&dir.join("nothing")),
        "--model",
        s(&model),
        "--task",
        "sst2",
        "--data",
        s(&data),
        "--out",
        s(&dir.join("c")),
    ]);
    assert!(line.contains("no peft_config.json there"), "{line}");

    // An output directory that holds a finished run: refused, then --force.
    let out = dir.join("done");
    retrain(
        &config,
        &data,
        &out,
        &["--epochs", "1", "--batch-size", "16"],
    );
    let line = error_line(&[
        "retrain",
        "--config",
        s(&config),
        "--model",
        s(&model),
        "--task",
        "sst2",
        "--data",
        s(&data),
        "--out",
        s(&out),
    ]);
    assert!(line.contains("already holds a finished run"), "{line}");
    assert!(line.contains("--force"), "{line}");
    retrain(
        &config,
        &data,
        &out,
        &["--epochs", "1", "--batch-size", "16", "--force"],
    );
    // Resuming a finished run is refused too.
    let line = error_line(&["retrain", "--resume", s(&out)]);
    assert!(
        line.contains("holds a finished run: nothing to resume"),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

/// The checkpoint's step, if one is there and readable.
fn checkpoint_step(dir: &std::path::Path) -> Option<usize> {
    let checkpoint = bipeft_core::train::Checkpoint::load(&dir.join("checkpoint.bin")).ok()?;
    Some(checkpoint.state.step)
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_same_result() {
    let dir = temp("resume");
    let config = lora_config(&dir.join("run"));
    let data = tiny_sst2("resume", 96, 40);
    let settings = [
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--checkpoint-every",
        "2",
        "--lr",
        "3e-3",
    ];

    // The same run without interruption.
    let whole = dir.join("whole");
    retrain(&config, &data, &whole, &settings);

    // Killed once a mid-epoch checkpoint is on disk.
    let killed = dir.join("killed");
    let model = tiny_bert();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bipeft"))
        .args([
            "retrain",
            "--config",
            s(&config),
            "--model",
            s(&model),
            "--task",
            "sst2",
            "--data",
            s(&data),
            "--out",
            s(&killed),
            "--quiet",
        ])
        .args(settings)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while checkpoint_step(&killed).is_none_or(|step| step < 4) {
        assert!(Instant::now() < deadline, "no checkpoint after 120 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(
        !killed.join("metrics.json").exists(),
        "killed before the end"
    );
    let at = checkpoint_step(&killed).unwrap();
    assert!(at < 36, "killed at step {at} of 36");

    // Starting over without --resume or --force is refused.
    let line = error_line(&[
        "retrain",
        "--config",
        s(&config),
        "--model",
        s(&model),
        "--task",
        "sst2",
        "--data",
        s(&data),
        "--out",
        s(&killed),
    ]);
    assert!(line.contains("already holds a started run"), "{line}");

    let stdout = ok(&["retrain", "--resume", s(&killed), "--quiet"]);
    assert!(stdout.contains("best validation"), "{stdout}");
    let (a, b) = (
        read_json(&whole.join("metrics.json")),
        read_json(&killed.join("metrics.json")),
    );
    assert_eq!(b["steps"], 36);
    for key in ["history", "validation", "test", "best_epoch"] {
        assert_eq!(
            a[key], b[key],
            "{key} differs after the resume from step {at}"
        );
    }
    let weights = |d: &std::path::Path| {
        let bytes = std::fs::read(d.join("weights.safetensors")).unwrap();
        bipeft_core::loader::Weights::from_bytes(vec![("w".into(), bytes)]).unwrap()
    };
    let (a, b) = (weights(&whole), weights(&killed));
    assert_eq!(a.names(), b.names());
    for name in a.names() {
        let shape = a.shape(name).unwrap().to_vec();
        assert_eq!(
            a.data(name, &shape).unwrap(),
            b.data(name, &shape).unwrap(),
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn t5_retrains_text_to_text_and_scores_generated_labels() {
    let dir = temp("retrain-t5");
    let config = config_with(&tiny_t5(), "lora", &dir.join("run"), |name, _| {
        (name.ends_with("SelfAttention.q") || name.ends_with("SelfAttention.v")).then_some(Some(4))
    });
    let data = tiny_sst2("retrain-t5", 32, 20);
    let out = dir.join("trained");
    let model = tiny_t5();
    ok(&[
        "retrain",
        "--config",
        s(&config),
        "--model",
        s(&model),
        "--task",
        "sst2",
        "--data",
        s(&data),
        "--out",
        s(&out),
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--quiet",
    ]);
    let metrics = read_json(&out.join("metrics.json"));
    assert_eq!(metrics["head_params"], 0, "T5 has no head");
    let accuracy = metrics["test"]["accuracy"].as_f64().unwrap();
    let file = dir.join("predictions.jsonl");
    ok(&[
        "eval",
        "--trained",
        s(&out),
        "--data",
        s(&data),
        "--save-predictions",
        s(&file),
    ]);
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 10);
    let correct = rows
        .iter()
        .filter(|r| r["prediction"] == r["label"])
        .count();
    assert!((accuracy - correct as f64 / 10.0).abs() < 1e-12);
    assert!(rows.iter().all(|r| r["logits"].is_null()));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}
