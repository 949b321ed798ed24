//! `bipeft demo` end to end without its downloads: the model and the
//! sentiment set are found in the cache (`BIPEFT_MINILM_DIR` → the tiny BERT
//! fixture, `BIPEFT_CACHE/demo-sentiment` → a tiny SST-2), so the search, the
//! retraining and the final table and scores run in seconds.

mod common;

use std::process::Command;

use common::*;

#[test]
fn demo_searches_retrains_and_prints_the_table_and_scores() {
    let dir = temp("demo");
    let cache = dir.join("cache");
    let data = tiny_sst2("demo", 64, 40);
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::rename(&data, cache.join("demo-sentiment")).unwrap();
    let out = dir.join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_bipeft"))
        .args(["demo", "--quiet", "--out", s(&out)])
        .env("BIPEFT_CACHE", &cache)
        .env("BIPEFT_MINILM_DIR", tiny_bert())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // It says what it chose, then ends with the table and the scores.
    assert!(
        stdout.contains("Chosen to finish in minutes on 2 CPU cores"),
        "{stdout}"
    );
    let result = stdout
        .split("== result ==")
        .nth(1)
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(result.contains("encoder.layer"), "{result}");
    assert!(result.contains("of budget"), "{result}");
    assert!(result.contains("test:       accuracy"), "{result}");
    // The search's and the retrain's own summaries are progress here: on
    // stderr, so stdout holds the introduction and the result only.
    assert!(!stdout.contains("== search =="), "{stdout}");
    assert!(!stdout.contains("wrote "), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("trainable parameters of a budget of"),
        "{stderr}"
    );
    let metrics = read_json(&out.join("trained/metrics.json"));
    assert_eq!(metrics["task"], "sst2");
    assert!(out.join("search/peft_config.json").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}
