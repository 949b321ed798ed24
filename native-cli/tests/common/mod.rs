//! Helpers of the CLI's integration tests: the tiny
//! BERT fixture (2 layers of width 32, a real WordPiece tokenizer), a tiny
//! SST-2 cut from the repository's files, configurations made with the
//! library, and running the `bipeft` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bipeft_core::backbone::BackboneConfig;
use bipeft_core::loader::read_config_json;
use bipeft_core::peft::PeftOptions;
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::space::{Catalogue, Kind, SpaceDef};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn tiny_bert() -> PathBuf {
    root().join("tests/fixtures/web/tiny-bert")
}

pub fn tiny_t5() -> PathBuf {
    root().join("tests/fixtures/t5/tiny-t5-tok")
}

/// all-MiniLM-L6-v2: `$BIPEFT_MINILM_DIR`, else `~/.cache/bipeft/all-MiniLM-L6-v2`.
pub fn minilm() -> PathBuf {
    std::env::var_os("BIPEFT_MINILM_DIR")
        .map(Into::into)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/bipeft/all-MiniLM-L6-v2")
        })
}

/// A fresh, empty-for-now folder under the system's temp dir.
pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bipeft-wf-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// SST-2 cut to `train` training and `dev` dev examples (the small-set
/// protocol then splits dev 50/50 into validation and test).
pub fn tiny_sst2(name: &str, train: usize, dev: usize) -> PathBuf {
    let source = root().join("../shared/data/glue/SST-2");
    let dir = temp(&format!("{name}-sst2"));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, n) in [("train.tsv", train), ("dev.tsv", dev)] {
        let text = std::fs::read_to_string(source.join(file)).unwrap();
        let lines: Vec<&str> = text.lines().take(n + 1).collect();
        std::fs::write(dir.join(file), lines.join("\n") + "\n").unwrap();
    }
    dir
}

/// A configuration on `model` of `space` with the slots `pick` chooses (and
/// their rank), written to `dir/peft_config.json`.
pub fn config_with(
    model: &Path,
    space: &str,
    dir: &Path,
    pick: impl Fn(&str, Kind) -> Option<Option<usize>>,
) -> PathBuf {
    let config = BackboneConfig::from_json(&read_config_json(model).unwrap()).unwrap();
    let catalogue = Catalogue::build(
        &config.shape(),
        &SpaceDef::resolve(space).unwrap(),
        &PeftOptions::default(),
        config.site_namer(""),
    )
    .unwrap();
    let picks: Vec<(usize, Option<usize>)> = catalogue
        .slots()
        .iter()
        .enumerate()
        .filter_map(|(i, s)| pick(&s.name, s.kind).map(|rank| (i, rank)))
        .collect();
    let peft = PeftConfig::from_selection(&catalogue, 1_000_000, &picks).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("peft_config.json");
    peft.save(&path).unwrap();
    path
}

/// LoRA of rank 4 on every query and value, rank 1 on the FFN input: what
/// PEFT's LoRA expresses completely.
pub fn lora_config(dir: &Path) -> PathBuf {
    config_with(&tiny_bert(), "lora", dir, |name, _| {
        if name.ends_with("query") || name.ends_with("value") {
            Some(Some(4))
        } else if name.ends_with("intermediate.dense") {
            Some(Some(1))
        } else {
            None
        }
    })
}

/// S1 with LoRA, BitFit, LNFit and a low-rank adapter.
pub fn mixed_config(dir: &Path) -> PathBuf {
    config_with(&tiny_bert(), "s1", dir, |name, kind| match kind {
        Kind::Lora if name.ends_with("layer.0.attention.self.query") => Some(Some(8)),
        Kind::BitFit if name.ends_with("output.dense") => Some(None),
        Kind::LnFit if name.contains("layer.1.") => Some(None),
        Kind::Adapter if name.ends_with("layer.1.output") => Some(Some(1)),
        _ => None,
    })
}

pub fn bipeft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bipeft"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `bipeft` and requires success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = bipeft(args);
    assert!(
        out.status.success(),
        "bipeft {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `bipeft`, requires failure with one `error: ` line, returns it.
pub fn error_line(args: &[&str]) -> String {
    let out = bipeft(args);
    assert!(!out.status.success(), "bipeft {args:?} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `bipeft retrain` of `config` on the tiny BERT and `data` into `out`, with `extra` options.
pub fn retrain(config: &Path, data: &Path, out: &Path, extra: &[&str]) -> String {
    let model = tiny_bert();
    let mut args = vec![
        "retrain",
        "--config",
        s(config),
        "--model",
        s(&model),
        "--task",
        "sst2",
        "--data",
        s(data),
        "--out",
        s(out),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    ok(&args)
}
