//! `bipeft export`: the PEFT adapter directory of a trained result (config
//! fields, peft's key names and `[r, in]` / `[out, r]` shapes, the values
//! transposed from the trained weights, the head in `modules_to_save`), the
//! non-LoRA modules kept beside it with a note, and the bipeft format read
//! back by `bipeft eval`.
//!
//! With `BIPEFT_PEER_TESTS=1` (and Python with torch, transformers and peft:
//! `/work/pyenv/bin/python` or `python3`), `peft_adapter_matches_python_peft`
//! trains LoRA on the real all-MiniLM-L6-v2, exports it, and has
//! `tests/peer/peft_export_vs_bipeft.py` load it with `PeftModel.from_pretrained`
//! and compare its logits with `bipeft eval`'s to 1e-4.

mod common;

use std::path::Path;

use bipeft_core::loader::Weights;
use common::*;

fn safetensors(path: &Path) -> Weights {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Weights::from_bytes(vec![(path.display().to_string(), bytes)]).unwrap()
}

fn values(w: &Weights, name: &str) -> (Vec<usize>, Vec<f32>) {
    let shape = w
        .shape(name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
        .to_vec();
    (
        shape.clone(),
        w.data(name, &shape).unwrap().to_vec().unwrap(),
    )
}

fn transpose(shape: &[usize], v: &[f32]) -> Vec<f32> {
    let (rows, cols) = (shape[0], shape[1]);
    (0..cols)
        .flat_map(|c| (0..rows).map(move |r| v[r * cols + c]))
        .collect()
}

#[test]
fn lora_result_exports_as_a_peft_adapter() {
    let dir = temp("export");
    let config = lora_config(&dir.join("run"));
    let data = tiny_sst2("export", 48, 20);
    let trained = dir.join("trained");
    retrain(
        &config,
        &data,
        &trained,
        &["--epochs", "1", "--batch-size", "16", "--lr", "1e-2"],
    );
    let out = dir.join("adapter");
    let stdout = ok(&[
        "export",
        "--trained",
        s(&trained),
        "--format",
        "peft",
        "--out",
        s(&out),
    ]);
    assert!(stdout.contains("6 LoRA modules"), "{stdout}");
    assert!(!stdout.contains("note:"), "{stdout}");

    let cfg = read_json(&out.join("adapter_config.json"));
    assert_eq!(cfg["peft_type"], "LORA");
    assert_eq!(cfg["task_type"], "SEQ_CLS");
    // The model directory as trained.json keeps it: absolute.
    let model_dir = tiny_bert().canonicalize().unwrap();
    assert_eq!(cfg["base_model_name_or_path"], s(&model_dir));
    assert_eq!(
        cfg["modules_to_save"],
        serde_json::json!(["classifier", "pooler"])
    );
    let q0 = "bert.encoder.layer.0.attention.self.query";
    let ffn1 = "bert.encoder.layer.1.intermediate.dense";
    assert_eq!(cfg["target_modules"].as_array().unwrap().len(), 6);
    assert!(cfg["target_modules"]
        .as_array()
        .unwrap()
        .contains(&q0.into()));
    assert_eq!(cfg["rank_pattern"][q0], 4);
    assert_eq!(cfg["rank_pattern"][ffn1], 1);
    // bipeft's unit scale: lora_alpha = r for every module.
    assert_eq!(cfg["alpha_pattern"][q0], 4.0);
    assert_eq!(cfg["alpha_pattern"][ffn1], 1.0);

    let adapter = safetensors(&out.join("adapter_model.safetensors"));
    let ours = safetensors(&trained.join("weights.safetensors"));
    let (shape_a, a) = values(&adapter, &format!("base_model.model.{q0}.lora_A.weight"));
    let (shape_b, b) = values(&adapter, &format!("base_model.model.{q0}.lora_B.weight"));
    assert_eq!(
        (shape_a.as_slice(), shape_b.as_slice()),
        (&[4, 32][..], &[32, 4][..])
    );
    let (ffn_a, _) = values(&adapter, &format!("base_model.model.{ffn1}.lora_A.weight"));
    let (ffn_b, _) = values(&adapter, &format!("base_model.model.{ffn1}.lora_B.weight"));
    assert_eq!((ffn_a, ffn_b), (vec![1, 32], vec![64, 1]));
    // The first LoRA module of the configuration is layer 0's query.
    let (our_a_shape, our_a) = values(&ours, "peft.modules.lora.0.a");
    let (our_b_shape, our_b) = values(&ours, "peft.modules.lora.0.b");
    assert_eq!(a, transpose(&our_a_shape, &our_a));
    assert_eq!(b, transpose(&our_b_shape, &our_b));
    assert!(b.iter().any(|&v| v != 0.0), "B trained away from zero");
    let (cls_shape, cls) = values(&adapter, "base_model.model.classifier.weight");
    assert_eq!(cls_shape, vec![2, 32]);
    let (our_cls_shape, our_cls) = values(&ours, "head.classifier.weight");
    assert_eq!(cls, transpose(&our_cls_shape, &our_cls));
    for key in [
        "classifier.bias",
        "bert.pooler.dense.weight",
        "bert.pooler.dense.bias",
    ] {
        assert!(
            adapter.contains(&format!("base_model.model.{key}")),
            "{key}"
        );
    }
    assert_eq!(adapter.names().len(), 12 + 4);

    // An existing export is refused without --force.
    let line = error_line(&[
        "export",
        "--trained",
        s(&trained),
        "--format",
        "peft",
        "--out",
        s(&out),
    ]);
    assert!(line.contains("already holds an export"), "{line}");
    ok(&[
        "export",
        "--trained",
        s(&trained),
        "--format",
        "peft",
        "--out",
        s(&out),
        "--force",
    ]);

    // bipeft's own format is read back by eval with the same scores.
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
    let a = ok(&[
        "eval",
        "--trained",
        s(&trained),
        "--data",
        s(&data),
        "--json",
    ]);
    let b = ok(&["eval", "--trained", s(&copy), "--data", s(&data), "--json"]);
    assert_eq!(a, b);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn modules_peft_cannot_express_are_kept_beside_it_with_a_note() {
    let dir = temp("export-mixed");
    let config = mixed_config(&dir.join("run"));
    let data = tiny_sst2("export-mixed", 32, 20);
    let trained = dir.join("trained");
    retrain(
        &config,
        &data,
        &trained,
        &["--epochs", "1", "--batch-size", "16"],
    );
    let out = dir.join("adapter");
    let stdout = ok(&[
        "export",
        "--trained",
        s(&trained),
        "--format",
        "peft",
        "--out",
        s(&out),
    ]);
    assert!(stdout.contains("1 LoRA modules"), "{stdout}");
    assert!(
        stdout.contains("note: 1 adapter, 4 bitfit, 2 lnfit cannot be expressed"),
        "{stdout}"
    );
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.starts_with("# A bipeft result"), "{readme}");
    assert!(readme.contains("**NOTE:"), "{readme}");
    let extra = safetensors(&out.join("bipeft_modules.safetensors"));
    let names = extra.names();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("bert.encoder.layer.0.output.dense.bitfit.")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("bert.encoder.layer.1.output.adapter.")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.contains(".lnfit.")), "{names:?}");
    // Their parameters are all there: the configuration's count, less LoRA's.
    let peft = read_json(&config);
    let lora: u64 = peft["modules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "lora")
        .map(|m| m["params"].as_u64().unwrap())
        .sum();
    let stored: usize = names
        .iter()
        .map(|n| extra.shape(n).unwrap().iter().product::<usize>())
        .sum();
    assert_eq!(
        stored as u64,
        peft["trainable_params"].as_u64().unwrap() - lora
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}

fn python() -> String {
    if let Ok(p) = std::env::var("BIPEFT_PYTHON") {
        return p;
    }
    let venv = "/work/pyenv/bin/python";
    if Path::new(venv).is_file() {
        venv.into()
    } else {
        "python3".into()
    }
}

/// Opt-in (`BIPEFT_PEER_TESTS=1`): Hugging Face peft reads the export and
/// computes bipeft's logits.
#[test]
fn peft_adapter_matches_python_peft() {
    if std::env::var("BIPEFT_PEER_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set BIPEFT_PEER_TESTS=1 (needs Python with torch, transformers, peft)");
        return;
    }
    let dir = temp("peer");
    let model = minilm();
    let data = tiny_sst2("peer", 64, 48);
    // LoRA at mixed ranks on every kind of linear, trained hard enough to matter.
    let config = config_with(&model, "lora", &dir.join("run"), |name, _| {
        let layer: usize = name.split('.').nth(2)?.parse().ok()?;
        Some(Some([1, 4, 8][(layer + name.len()) % 3]))
    });
    let trained = dir.join("trained");
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
        s(&trained),
        "--epochs",
        "1",
        "--lr",
        "1e-2",
        "--quiet",
    ]);
    let predictions = dir.join("predictions.jsonl");
    ok(&[
        "eval",
        "--trained",
        s(&trained),
        "--data",
        s(&data),
        "--split",
        "validation",
        "--save-predictions",
        s(&predictions),
    ]);
    let adapter = dir.join("adapter");
    ok(&[
        "export",
        "--trained",
        s(&trained),
        "--format",
        "peft",
        "--out",
        s(&adapter),
    ]);

    // The validation split's sentences in split order, as bipeft reads them.
    let task = bipeft_core::data::TaskSource::Benchmark(bipeft_core::data::Benchmark::Sst2);
    let loaded = bipeft_core::data::load_task(&task, &data).unwrap();
    let splits = bipeft_core::data::Splits::new(&loaded, &Default::default()).unwrap();
    let sentences: Vec<String> = splits
        .validation
        .iter()
        .map(|r| loaded.examples(r.part)[r.index].texts[0].text.clone())
        .collect();
    let inputs = dir.join("sentences.json");
    std::fs::write(&inputs, serde_json::to_string(&sentences).unwrap()).unwrap();

    let script = root().join("tests/peer/peft_export_vs_bipeft.py");
    let out = std::process::Command::new(python())
        .arg(&script)
        .args([&model, &adapter, &inputs, &predictions])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the peft comparison failed");
    assert!(stdout.contains("max abs diff"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
}
