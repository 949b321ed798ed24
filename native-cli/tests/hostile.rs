//! Hostile input, as a new user gives it by mistake: every case ends in one
//! clear error line (exit status 1) naming what is wrong — no panic, no
//! result file — or, where the input can be made to work, in a run that says
//! what it changed. The catalogue grows with each case mended.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// `bipeft search` on the tiny BERT and a tiny SST-2, with `extra` options.
fn search_args<'a>(
    model: &'a Path,
    data: &'a Path,
    out: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "search",
        "--model",
        s(model),
        "--task",
        "sst2",
        "--data",
        s(data),
        "--out",
        s(out),
        "--space",
        "lora",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--quiet",
    ];
    // Defaults for what `extra` does not set.
    for (flag, value) in [("--budget", "2000"), ("--max-length", "16")] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    args
}

/// `bipeft retrain` of `config` on `model` and a tiny SST-2, with `extra` options.
fn retrain_args<'a>(
    config: &'a Path,
    model: &'a Path,
    data: &'a Path,
    out: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "retrain",
        "--config",
        s(config),
        "--model",
        s(model),
        "--task",
        "sst2",
        "--data",
        s(data),
        "--out",
        s(out),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    args
}

/// A plan of one tiny-BERT cell per method over `data` (seed 1, budget
/// 2000), with `search` lines added to its `[search]` table.
fn tiny_plan(dir: &Path, data: &Path, method: &str, search_epochs: usize, search: &str) -> PathBuf {
    let plan = dir.join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            r#"budgets = [2000]
methods = ["{method}"]
seeds = [1]
[[models]]
name = "tiny"
path = "{}"
[[tasks]]
name = "sst2"
data = "{}"
max_length = 16
search_epochs = {search_epochs}
[search]
space = "lora"
batch_size = 8
{search}
"#,
            tiny_bert().display(),
            data.display()
        ),
    )
    .unwrap();
    plan
}

/// Runs a search that must fail with one error line holding `words`, and
/// leave no configuration behind.
fn search_fails(model: &Path, data: &Path, out: &Path, extra: &[&str], words: &str) {
    let line = error_line(&search_args(model, data, out, extra));
    assert!(line.contains(words), "{extra:?}: {line}");
    assert!(!line.contains("panicked"), "{line}");
    assert!(
        !out.join("peft_config.json").exists(),
        "{extra:?} wrote a result"
    );
}

/// A copy of the tiny BERT in `dir`, changed by `edit` (file name, bytes).
fn model_copy(dir: &Path, edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        let bytes = std::fs::read(tiny_bert().join(file)).unwrap();
        std::fs::write(dir.join(file), edit(file, bytes)).unwrap();
    }
    dir.to_path_buf()
}

/// `bytes` (a safetensors file) with every value of the F32 tensor `name` NaN.
fn with_nan_tensor(bytes: Vec<u8>, name: &str) -> Vec<u8> {
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let entry = &header[name];
    assert_eq!(entry["dtype"], "F32", "{name}");
    let (start, end) = (
        entry["data_offsets"][0].as_u64().unwrap() as usize,
        entry["data_offsets"][1].as_u64().unwrap() as usize,
    );
    let mut bytes = bytes;
    let data = 8 + header_len;
    for chunk in bytes[data + start..data + end].chunks_mut(4) {
        chunk.copy_from_slice(&f32::NAN.to_le_bytes());
    }
    bytes
}

#[test]
fn search_options_out_of_range_are_named() {
    let dir = temp("hostile-options");
    let data = tiny_sst2("hostile-options", 64, 20);
    let model = tiny_bert();
    let out = dir.join("out");
    for (extra, words) in [
        (
            &["--weight-lr", "NaN"][..],
            "weight learning rate must be a positive number, got NaN",
        ),
        (
            &["--weight-lr=-1"][..],
            "weight learning rate must be a positive number, got -1",
        ),
        (
            &["--arch-lr", "inf"][..],
            "architecture learning rate must be a positive number",
        ),
        (
            &["--trigger-threshold", "5"][..],
            "trigger threshold is a cosine similarity",
        ),
        (
            &["--selection-start-epoch", "1000"][..],
            "selection start epoch 1000 is not before the search's last epoch",
        ),
        (&["--budget", "150%"][..], "up to 100%"),
        (&["--max-length", "0"][..], "max length 0"),
    ] {
        search_fails(&model, &data, &out, extra, words);
    }
    // Nothing was written, not even the output folder.
    assert!(!dir.exists());

    // An output that is a file is refused before any work, by search and retrain.
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, "mine").unwrap();
    let line = error_line(&search_args(&model, &data, &file, &[]));
    assert!(line.contains("is a file, not a folder"), "{line}");
    let config = lora_config(&dir.join("run"));
    let line = error_line(&retrain_args(&config, &model, &data, &file, &[]));
    assert!(line.contains("is a file, not a folder"), "{line}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn inputs_longer_than_the_positions_are_cut_with_a_note() {
    // The tiny BERT has 64 positions; 100 tokens used to index past them.
    let dir = temp("hostile-positions");
    let data = tiny_sst2("hostile-positions", 64, 20);
    let model = tiny_bert();
    let out = dir.join("out");
    let mut args = search_args(&model, &data, &out, &["--max-length", "100"]);
    args.retain(|a| *a != "--quiet");
    let output = bipeft(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(
            "inputs are cut to 64 tokens, the longest the model's position embeddings cover"
        ),
        "{stderr}"
    );
    assert!(out.join("peft_config.json").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn a_tokenizer_of_another_model_is_named() {
    // The word "the" moved past the model's 512 embedding rows.
    let dir = temp("hostile-vocab");
    let data = tiny_sst2("hostile-vocab", 64, 20);
    let model = model_copy(&dir.join("model"), |file, bytes| {
        if file != "tokenizer.json" {
            return bytes;
        }
        let mut tokenizer: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        tokenizer["model"]["vocab"]["the"] = 700.into();
        serde_json::to_vec(&tokenizer).unwrap()
    });
    let out = dir.join("out");
    search_fails(
        &model,
        &data,
        &out,
        &[],
        "the tokenizer gives token id 700, but the model's config.json has vocab_size 512",
    );
    // Retraining prepares its data the same way.
    let config = lora_config(&dir.join("run"));
    let line = error_line(&retrain_args(
        &config,
        &model,
        &data,
        &dir.join("trained"),
        &[],
    ));
    assert!(line.contains("does not belong to this model"), "{line}");
    assert!(!dir.join("trained/metrics.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn a_search_on_nan_weights_stops_with_an_error() {
    let dir = temp("hostile-nan");
    let data = tiny_sst2("hostile-nan", 64, 20);
    let model = model_copy(&dir.join("model"), |file, bytes| {
        if file == "model.safetensors" {
            with_nan_tensor(bytes, "embeddings.LayerNorm.weight")
        } else {
            bytes
        }
    });
    let out = dir.join("out");
    search_fails(
        &model,
        &data,
        &out,
        &[],
        "the search's loss was not a finite number for 10 batches in a row",
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn nan_weights_stop_retrain_and_eval() {
    let dir = temp("hostile-nan-train");
    let data = tiny_sst2("hostile-nan-train", 64, 20);
    let nan_model = model_copy(&dir.join("model"), |file, bytes| {
        if file == "model.safetensors" {
            with_nan_tensor(bytes, "embeddings.LayerNorm.weight")
        } else {
            bytes
        }
    });
    let config = lora_config(&dir.join("run"));
    let (nan_out, sound_out) = (dir.join("nan"), dir.join("sound"));
    let one_epoch = ["--epochs", "1", "--batch-size", "16"];
    // Every batch skipped: the retrain fails rather than report a score.
    let line = error_line(&retrain_args(
        &config, &nan_model, &data, &nan_out, &one_epoch,
    ));
    assert!(
        line.contains("every batch of epoch 0 had a loss that is not a finite number"),
        "{line}"
    );
    assert!(!dir.join("nan/metrics.json").exists());

    // A sound result scored over broken weights: eval refuses to score it.
    let model = tiny_bert();
    ok(&retrain_args(
        &config, &model, &data, &sound_out, &one_epoch,
    ));
    let line = error_line(&[
        "eval",
        "--trained",
        s(&dir.join("sound")),
        "--model",
        s(&nan_model),
        "--data",
        s(&data),
    ]);
    assert!(
        line.contains("outputs on the test split are not finite numbers"),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn a_failed_search_in_an_experiment_says_why_and_leaves_no_work_folder() {
    let dir = temp("hostile-experiment");
    std::fs::create_dir_all(&dir).unwrap();
    let data = tiny_sst2("hostile-experiment", 64, 20);
    let plan = tiny_plan(&dir, &data, "bipeft", 2, "trigger_threshold = 5.0");
    let out = dir.join("out");
    let line = error_line(&[
        "experiment",
        "--plan",
        s(&plan),
        "--out",
        s(&out),
        "--quiet",
    ]);
    assert!(line.contains("the search failed"), "{line}");
    assert!(
        line.contains("trigger threshold is a cosine similarity"),
        "{line}"
    );
    let work = out.join("work");
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn a_folder_of_something_else_is_never_written_into() {
    let dir = temp("hostile-theirs");
    let data = tiny_sst2("hostile-theirs", 64, 20);
    let model = tiny_bert();
    // A finished search's folder: retrain --out it, even with --force, is refused.
    let searched = dir.join("searched");
    ok(&search_args(&model, &data, &searched, &[]));
    let before = std::fs::read(searched.join("peft_config.json")).unwrap();
    let line = error_line(&retrain_args(
        &searched,
        &model,
        &data,
        &searched,
        &["--force"],
    ));
    assert!(
        line.contains("holds files that `bipeft retrain` did not write"),
        "{line}"
    );
    assert_eq!(
        std::fs::read(searched.join("peft_config.json")).unwrap(),
        before
    );

    // The user's own folder: a search into it is refused, with or without --force.
    let theirs = dir.join("theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::write(theirs.join("README.md"), "my notes").unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let line = error_line(&search_args(&model, &data, &theirs, extra));
        assert!(
            line.contains("holds files that `bipeft search` did not write (README.md)"),
            "{line}"
        );
    }
    // Nor is an export written into it (an export writes a README.md of its own).
    let trained = dir.join("trained");
    ok(&retrain_args(
        &searched,
        &model,
        &data,
        &trained,
        &["--epochs", "1"],
    ));
    for format in ["peft", "bipeft"] {
        let line = error_line(&[
            "export",
            "--trained",
            s(&trained),
            "--format",
            format,
            "--out",
            s(&theirs),
            "--force",
        ]);
        assert!(
            line.contains("holds files that `bipeft export` did not write (README.md)"),
            "{line}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(theirs.join("README.md")).unwrap(),
        "my notes"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn a_result_trained_over_a_relative_model_path_is_found_from_anywhere() {
    let dir = temp("hostile-relative");
    std::fs::create_dir_all(&dir).unwrap();
    let data = tiny_sst2("hostile-relative", 64, 20);
    let config = lora_config(&dir.join("run"));
    let trained = dir.join("trained");
    let run_in = |cwd: &Path, args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_bipeft"))
            .current_dir(cwd)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    // The model given relative to the repository root.
    let relative = Path::new("tests/fixtures/web/tiny-bert");
    run_in(
        &root(),
        &retrain_args(&config, relative, &data, &trained, &["--epochs", "1"]),
    );
    let manifest = read_json(&trained.join("trained.json"));
    assert!(
        Path::new(manifest["model_dir"].as_str().unwrap()).is_absolute(),
        "{manifest}"
    );
    // eval from another folder, without --model.
    run_in(
        &dir,
        &["eval", "--trained", s(&trained), "--data", s(&data)],
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn mistaken_files_and_lists_are_understood_or_named() {
    let dir = temp("hostile-mistakes");
    let data = tiny_sst2("hostile-mistakes", 64, 20);
    // `inspect` given the search's trace instead of its folder or configuration.
    let searched = dir.join("searched");
    ok(&search_args(&tiny_bert(), &data, &searched, &[]));
    let from_trace = ok(&["inspect", s(&searched.join("search_trace.json"))]);
    assert_eq!(from_trace, ok(&["inspect", s(&searched)]));

    // A label listed twice would make a phantom class.
    let csv = dir.join("reviews.csv");
    std::fs::write(&csv, "text,label\nfine,0\nbad,1\ngood,0\nawful,1\n").unwrap();
    let line = error_line(&[
        "data",
        "--task",
        "reviews",
        "--data",
        s(&csv),
        "--text-column",
        "text",
        "--label-column",
        "label",
        "--labels",
        "0,0,1",
    ]);
    assert!(line.contains("label `0` is listed twice"), "{line}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn weights_of_another_configuration_are_named_in_one_line() {
    let dir = temp("hostile-weights");
    let data = tiny_sst2("hostile-weights", 64, 20);
    let train = |config: &Path, out: &Path| {
        retrain(config, &data, out, &["--epochs", "1", "--batch-size", "16"]);
    };
    // The same modules at rank 8 instead of 4 on query and value.
    let wider = config_with(&tiny_bert(), "lora", &dir.join("wider"), |name, _| {
        if name.ends_with("query") || name.ends_with("value") {
            Some(Some(8))
        } else if name.ends_with("intermediate.dense") {
            Some(Some(1))
        } else {
            None
        }
    });
    train(&lora_config(&dir.join("run")), &dir.join("a"));
    train(&wider, &dir.join("b"));
    std::fs::copy(
        dir.join("b/weights.safetensors"),
        dir.join("a/weights.safetensors"),
    )
    .unwrap();
    let line = error_line(&["eval", "--trained", s(&dir.join("a")), "--data", s(&data)]);
    assert!(
        line.contains("has shape [8, 32], expected [4, 32]")
            || line.contains("has shape [32, 8], expected [32, 4]"),
        "{line}"
    );
    assert!(
        line.contains("the weights are not of this configuration"),
        "{line}"
    );
    assert!(!line.contains("Shape {"), "{line}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn a_model_config_of_absurd_size_is_refused_before_anything_is_allocated() {
    let dir = temp("hostile-huge");
    let data = tiny_sst2("hostile-huge", 64, 20);
    let model = model_copy(&dir.join("model"), |file, bytes| {
        if file != "config.json" {
            return bytes;
        }
        let mut config: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        config["num_hidden_layers"] = 1_000_000_000u64.into();
        serde_json::to_vec(&config).unwrap()
    });
    for args in [
        vec!["space", "--model", s(&model)],
        vec!["model-check", "--model", s(&model), "--text", "a fine film"],
    ] {
        let line = error_line(&args);
        assert!(line.contains("num_hidden_layers"), "{args:?}: {line}");
    }
    search_fails(&model, &data, &dir.join("out"), &[], "num_hidden_layers");
    // A width that overflows a parameter count.
    let wide = model_copy(&dir.join("wide"), |file, bytes| {
        if file != "config.json" {
            return bytes;
        }
        let mut config: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        config["hidden_size"] = (1u64 << 62).into();
        serde_json::to_vec(&config).unwrap()
    });
    let line = error_line(&["space", "--model", s(&wide)]);
    assert!(line.contains("hidden_size"), "{line}");
    // A space whose ranks exceed the layers' width.
    let space = dir.join("space.json");
    std::fs::write(
        &space,
        r#"{"name": "huge", "ranks": [100000000],
            "rules": [{"kind": "lora", "targets": [".*query"]}]}"#,
    )
    .unwrap();
    let line = error_line(&["space", "--model", s(&tiny_bert()), "--space", s(&space)]);
    assert!(line.contains("100000000"), "{line}");
    assert!(!line.contains("panicked"), "{line}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

/// `bytes` (a safetensors file) rewritten without tensor `name`.
fn without_tensor(bytes: Vec<u8>, name: &str) -> Vec<u8> {
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let data = &bytes[8 + header_len..];
    assert!(header.contains_key(name), "{name}");
    let mut kept: Vec<(String, serde_json::Value)> = header
        .into_iter()
        .filter(|(key, _)| key != name && key != "__metadata__")
        .collect();
    let offsets = |v: &serde_json::Value| {
        let o = &v["data_offsets"];
        (
            o[0].as_u64().unwrap() as usize,
            o[1].as_u64().unwrap() as usize,
        )
    };
    kept.sort_by_key(|(_, v)| offsets(v).0);
    let (mut new_header, mut new_data) = (serde_json::Map::new(), Vec::new());
    for (key, mut entry) in kept {
        let (start, end) = offsets(&entry);
        let at = new_data.len();
        new_data.extend_from_slice(&data[start..end]);
        entry["data_offsets"] = serde_json::json!([at, new_data.len()]);
        new_header.insert(key, entry);
    }
    let mut text = serde_json::to_vec(&new_header).unwrap();
    // The data starts at an 8-byte boundary.
    while (8 + text.len()) % 8 != 0 {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(new_data);
    out
}

#[test]
fn a_missing_tensor_is_named_in_one_line() {
    let dir = temp("hostile-missing");
    let data = tiny_sst2("hostile-missing", 64, 20);
    let tensor = "encoder.layer.1.attention.self.query.weight";
    let model = model_copy(&dir.join("model"), |file, bytes| {
        if file == "model.safetensors" {
            without_tensor(bytes, tensor)
        } else {
            bytes
        }
    });
    search_fails(&model, &data, &dir.join("out"), &[], tensor);
    let line = error_line(&retrain_args(
        &lora_config(&dir.join("run")),
        &model,
        &data,
        &dir.join("trained"),
        &[],
    ));
    assert!(line.contains(tensor), "{line}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn eval_with_a_tokenizer_that_no_longer_fits_its_model_is_named() {
    let dir = temp("hostile-eval-vocab");
    let data = tiny_sst2("hostile-eval-vocab", 64, 20);
    let model = model_copy(&dir.join("model"), |_, bytes| bytes);
    let trained = dir.join("trained");
    let config = lora_config(&dir.join("run"));
    ok(&retrain_args(
        &config,
        &model,
        &data,
        &trained,
        &["--epochs", "1"],
    ));
    // The model folder's tokenizer is swapped for one of a larger vocabulary.
    let path = model.join("tokenizer.json");
    let mut tokenizer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    tokenizer["model"]["vocab"]["the"] = 700.into();
    std::fs::write(&path, serde_json::to_vec(&tokenizer).unwrap()).unwrap();
    let line = error_line(&["eval", "--trained", s(&trained), "--data", s(&data)]);
    assert!(line.contains("does not belong to this model"), "{line}");
    assert!(!line.contains("panicked"), "{line}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}
