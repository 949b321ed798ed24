//! `bipeft model-check` from the outside: real output on fixtures, and one clear
//! error line (no panic) for each kind of bad model directory.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(path)
}

fn bipeft(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bipeft")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A scratch copy of a fixture model directory with a tokenizer beside it.
fn scratch_copy(name: &str, from: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bipeft-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture(from)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    std::fs::copy(fixture("t5/tiny-t5-tok/tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    dir
}

#[test]
fn t5_json_has_teacher_forced_logits() {
    let dir = fixture("t5/tiny-t5-tok");
    let (ok, stdout, stderr) = bipeft(&[
        "model-check", "--model", dir.to_str().unwrap(), "--text", "sst2 sentence: a fine film", "--target", "positive", "--json",
    ]);
    assert!(ok, "{stderr}");
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["model_type"], "t5");
    assert_eq!(out["output"], "decoder_logits");
    let shape: Vec<usize> = serde_json::from_value(out["shape"].clone()).unwrap();
    // `positive` is one piece plus `</s>`.
    assert_eq!(shape, vec![2, 32128]);
    assert_eq!(out["values"].as_array().unwrap().len(), 2 * 32128);
    assert_eq!(out["token_ids"].as_array().unwrap().last().unwrap(), 1, "ends with </s>");
}

#[test]
fn malformed_config_is_one_line() {
    let dir = scratch_copy("cfg", "bert/bert_gelu_2h");
    std::fs::write(dir.join("config.json"), r#"{"model_type": "bert", "hidden_size": "big"}"#).unwrap();
    let (ok, _, stderr) = bipeft(&["model-check", "--model", dir.to_str().unwrap(), "--text", "hi"]);
    assert!(!ok);
    assert_eq!(stderr.trim(), "error: malformed config.json: field `hidden_size` must be a non-negative integer, found \"big\"");
}

#[test]
fn wrong_tensor_shape_names_the_tensor() {
    let dir = scratch_copy("shape", "bert/bert_gelu_2h");
    let path = dir.join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + header_len].to_vec()).unwrap();
    let key = "\"encoder.layer.0.intermediate.dense.weight\":{\"dtype\":\"F32\",\"shape\":[64,32]";
    assert!(header.contains(key));
    let swapped = header.replace(key, &key.replace("[64,32]", "[32,64]"));
    bytes[8..8 + header_len].copy_from_slice(swapped.as_bytes());
    std::fs::write(&path, bytes).unwrap();
    let (ok, _, stderr) = bipeft(&["model-check", "--model", dir.to_str().unwrap(), "--text", "hi"]);
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        "error: tensor `encoder.layer.0.intermediate.dense.weight` has shape [32, 64], expected [64, 32]"
    );
}

#[test]
fn missing_tokenizer_is_one_line() {
    let dir = scratch_copy("tok", "bert/bert_gelu_2h");
    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();
    let (ok, _, stderr) = bipeft(&["model-check", "--model", dir.to_str().unwrap(), "--text", "hi"]);
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: missing file ") && stderr.contains("tokenizer.json"), "{stderr}");
}
