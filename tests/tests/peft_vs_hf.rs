//! A discrete LoRA-only configuration on the real all-MiniLM-L6-v2, with
//! non-zero LoRA factors read from adapters that Hugging Face `peft` saved,
//! against the hidden states peft computes with them (to 1e-4).
//!
//! Fixtures (`tests/fixtures/peft_lora/`, from its `generate.py`): one set of
//! seeded random factors, ranks 1–8 over six layers and every linear kind,
//! saved by `save_pretrained` twice — `alpha/` (`lora_alpha` 16 with a
//! `rank_pattern`: bipeft's `LoraScaling::Alpha`) and `unit/` (an
//! `alpha_pattern` with `lora_alpha = r` everywhere: `LoraScaling::Unit`) —
//! and `outputs.safetensors` with the last hidden states of the bare model and
//! of each adapter for the batch in `reference.json`.
//!
//! The ranks, scaling and target modules are read from each
//! `adapter_config.json` as peft wrote it, the factors through
//! [`load_hf_lora`]; [`hf_lora_tensors`] must give back the file's tensors
//! bit for bit, under the same keys. Needs the real model, as `minilm.rs` does.
//!
//! A third adapter, `task/`, sits on the small random sequence classifier
//! `tests/fixtures/bert/bert_cls3`, whose checkpoint keys (and so peft's
//! `base_model.model.bert.…` keys) carry the `bert.` prefix, with short
//! targets and suffix rank patterns and a saved classifier beside the LoRA factors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bipeft_core::backbone::bert::{detect_prefix, BertConfig, BertModel};
use bipeft_core::backbone::{BackboneConfig, Hooks, NoHooks, Site};
use bipeft_core::loader::{ModelFiles, TextTokenizer, Weights};
use bipeft_core::peft::{
    hf_lora_key, hf_lora_tensors, load_hf_lora, LoraFactor, LoraScaling, PeftModel, PeftOptions,
};
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::space::{presets, Catalogue, Kind};
use bipeft_core::Error;
use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use serde_json::Value;

type B = burn::backend::Flex<f32>;

const TOLERANCE: f32 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/peft_lora")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn read_safetensors(path: &Path) -> Weights {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Weights::from_bytes(vec![(path.display().to_string(), bytes)]).unwrap()
}

fn max_abs_diff(found: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(found.len(), expected.len(), "lengths differ");
    found
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

fn floats<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

/// A BERT-family encoder with its `config.json` dispatch, checkpoint key
/// prefix and tokenizer (if the directory has one).
struct Encoder {
    model: BertModel<B>,
    backbone: BackboneConfig,
    prefix: String,
    tokenizer: Option<TextTokenizer>,
}

impl Encoder {
    fn load(dir: &Path) -> Self {
        let files = ModelFiles::from_dir(dir).unwrap();
        let config = BertConfig::from_json(&files.config_json).unwrap();
        let model = BertModel::<B>::from_weights(&config, &files.weights, &Default::default())
            .unwrap()
            .no_grad();
        Encoder {
            model,
            backbone: BackboneConfig::from_json(&files.config_json).unwrap(),
            prefix: detect_prefix(&files.weights).unwrap(),
            tokenizer: files.tokenizer.clone(),
        }
    }

    fn minilm() -> Self {
        let minilm = Self::load(&bipeft_tests::minilm_dir());
        assert_eq!(minilm.prefix, "", "all-MiniLM-L6-v2 is a bare BertModel");
        minilm
    }

    fn naming(&self) -> impl Fn(Site) -> String + '_ {
        self.backbone.site_namer(&self.prefix)
    }

    /// The LoRA space over every linear of the backbone, with candidate ranks `ranks`.
    fn catalogue(&self, scaling: LoraScaling, ranks: &[usize]) -> Catalogue {
        let mut space = presets::lora();
        space.ranks = ranks.to_vec();
        let options = PeftOptions {
            lora_scaling: scaling,
            ..PeftOptions::default()
        };
        Catalogue::build(&self.backbone.shape(), &space, &options, self.naming()).unwrap()
    }
}

/// The padded batch of a `reference.json` (`input_ids`, `token_type_ids`,
/// `attention_mask` as nested lists).
struct Batch {
    ids: Tensor<B, 2, Int>,
    types: Tensor<B, 2, Int>,
    mask: Tensor<B, 2, Int>,
    shape: [usize; 3],
}

/// The last hidden state of `batch` through `hooks`, flattened.
fn hidden<H: Hooks<B>>(model: &BertModel<B>, batch: &Batch, hooks: &H) -> Vec<f32> {
    floats(model.forward(
        batch.ids.clone(),
        batch.types.clone(),
        batch.mask.clone(),
        hooks,
    ))
}

fn int_matrix(v: &Value) -> (Vec<i64>, [usize; 2]) {
    let rows: Vec<Vec<i64>> = serde_json::from_value(v.clone()).unwrap();
    let shape = [rows.len(), rows[0].len()];
    (rows.into_iter().flatten().collect(), shape)
}

fn batch(reference: &Value, encoder: &Encoder) -> Batch {
    let device = Default::default();
    let tensor = |key: &str| {
        let (data, shape) = int_matrix(&reference[key]);
        Tensor::<B, 2, Int>::from_data(TensorData::new(data, shape), &device)
    };
    let (ids, [rows, seq]) = int_matrix(&reference["input_ids"]);
    let (mask, _) = int_matrix(&reference["attention_mask"]);
    // Our tokenizer gives transformers' ids (the unpadded part of each row).
    if let (Some(tokenizer), Some(sentences)) =
        (&encoder.tokenizer, reference["sentences"].as_array())
    {
        for (r, sentence) in sentences.iter().enumerate() {
            let ours = tokenizer.encode(sentence.as_str().unwrap()).unwrap();
            let theirs: Vec<u32> = (0..seq)
                .filter(|&t| mask[r * seq + t] == 1)
                .map(|t| ids[r * seq + t] as u32)
                .collect();
            assert_eq!(ours, theirs, "token ids of sentence {r}");
        }
    }
    Batch {
        ids: tensor("input_ids"),
        types: tensor("token_type_ids"),
        mask: tensor("attention_mask"),
        shape: [rows, seq, encoder.model.config.hidden_size],
    }
}

/// peft's matching of a target or pattern key against a module path: equal,
/// or a suffix starting after a dot.
fn peft_matches(name: &str, key: &str) -> bool {
    name == key || name.ends_with(&format!(".{key}"))
}

/// What `adapter_config.json` says about each LoRA module: its rank and its
/// `lora_alpha`, with `rank_pattern` / `alpha_pattern` applied as peft does.
#[derive(Debug)]
struct HfLora {
    modules: BTreeMap<String, (usize, f64)>,
}

impl HfLora {
    /// The targets select among the LoRA slots of `catalogue`.
    fn read(dir: &Path, catalogue: &Catalogue) -> Self {
        let config = read_json(&dir.join("adapter_config.json"));
        assert_eq!(config["peft_type"], "LORA");
        // Variants bipeft's LoRA does not compute.
        for off in ["use_dora", "use_rslora", "fan_in_fan_out"] {
            assert_eq!(config[off], false, "{off}");
        }
        assert_eq!(config["bias"], "none");
        let r = config["r"].as_u64().unwrap() as usize;
        let alpha = config["lora_alpha"].as_f64().unwrap();
        let pattern = |key: &str, name: &str| -> Option<f64> {
            config[key]
                .as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| peft_matches(name, k))
                .map(|(_, v)| v.as_f64().unwrap())
        };
        let targets: Vec<&str> = config["target_modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let modules = catalogue
            .slots()
            .iter()
            .filter(|s| s.kind == Kind::Lora && targets.iter().any(|t| peft_matches(&s.name, t)))
            .map(|s| {
                let rank = pattern("rank_pattern", &s.name).map_or(r, |v| v as usize);
                let alpha = pattern("alpha_pattern", &s.name).unwrap_or(alpha);
                (s.name.clone(), (rank, alpha))
            })
            .collect();
        HfLora { modules }
    }

    /// The one bipeft scaling that gives every module peft's `lora_alpha / r`.
    fn scaling(&self) -> LoraScaling {
        if self.modules.values().all(|&(r, a)| a == r as f64) {
            return LoraScaling::Unit;
        }
        let alphas: BTreeSet<u64> = self.modules.values().map(|&(_, a)| a.to_bits()).collect();
        assert_eq!(
            alphas.len(),
            1,
            "per-module lora_alpha that is neither r nor one value: {self:?}"
        );
        LoraScaling::Alpha {
            alpha: self.modules.values().next().unwrap().1,
        }
    }

    fn ranks(&self) -> BTreeSet<usize> {
        self.modules.values().map(|&(r, _)| r).collect()
    }
}

/// The configuration choosing exactly peft's modules at peft's ranks,
/// through a `peft_config.json` round trip.
fn config_of(catalogue: &Catalogue, hf: &HfLora) -> PeftConfig {
    let picks: Vec<(usize, Option<usize>)> = hf
        .modules
        .iter()
        .map(|(name, &(rank, _))| {
            let slot = catalogue
                .find_name(name, Kind::Lora)
                .unwrap_or_else(|| panic!("peft targets `{name}`, which is no LoRA slot"));
            (slot, Some(rank))
        })
        .collect();
    let config = PeftConfig::from_selection(catalogue, 0, &picks).unwrap();
    PeftConfig::from_json(&config.to_json().unwrap(), "peft_config.json").unwrap()
}

/// Builds the discrete model of the adapter in `dir` (its modules, ranks and
/// scaling as `adapter_config.json` gives them), loads its factors, and
/// checks it: the hidden states against peft's `expected`, far from `base`,
/// and the factors back under peft's keys, bit for bit. Returns the largest
/// difference from peft and from `base`.
fn check_adapter(
    encoder: &Encoder,
    batch: &Batch,
    dir: &Path,
    ranks: &[usize],
    expected: &[f32],
    base: &[f32],
) -> (f32, f32) {
    let what = dir.file_name().unwrap().to_string_lossy();
    // The targets select among the LoRA slots; the scaling is then the file's.
    let hf = HfLora::read(dir, &encoder.catalogue(LoraScaling::Unit, ranks));
    let catalogue = encoder.catalogue(hf.scaling(), ranks);
    let config = config_of(&catalogue, &hf);
    let adapter = read_safetensors(&dir.join("adapter_model.safetensors"));
    let lora_keys: BTreeSet<String> = adapter
        .names()
        .into_iter()
        .filter(|k| k.contains(".lora_"))
        .map(str::to_string)
        .collect();
    assert_eq!(lora_keys.len(), 2 * hf.modules.len(), "{what}: {hf:?}");
    let mut peft = PeftModel::<B>::build(&config, encoder.naming(), &Default::default()).unwrap();
    // The trainable parameters are exactly the file's LoRA factors.
    let file_params: usize = lora_keys
        .iter()
        .map(|k| adapter.shape(k).unwrap().iter().product::<usize>())
        .sum();
    assert_eq!(peft.num_params(), file_params, "{what}");
    assert_eq!(config.trainable_params, file_params as u64, "{what}");
    load_hf_lora(&mut peft, &adapter, encoder.naming()).unwrap();

    let found = hidden(&encoder.model, batch, &peft);
    let diff = max_abs_diff(&found, expected);
    let moved = max_abs_diff(&found, base);
    println!(
        "{what}: {} LoRA modules, ranks {:?}, {:?}: max |hidden - peft| = {diff:.3e}; \
         the adapter moves hidden states by up to {moved:.3}",
        hf.modules.len(),
        hf.ranks(),
        hf.scaling()
    );
    assert!(diff <= TOLERANCE, "{what}: {diff}");
    // The adapter is far from the identity, so the comparison means something.
    assert!(
        moved > 0.5,
        "{what}: the adapter changes almost nothing ({moved})"
    );

    // The other way: our factors under peft's keys and shapes, bit for bit.
    let exported = hf_lora_tensors(&peft, encoder.naming());
    let keys: BTreeSet<String> = exported.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, lora_keys, "{what}");
    for (key, tensor) in exported {
        let shape = tensor.dims().to_vec();
        let ours: Vec<f32> = tensor.into_data().to_vec().unwrap();
        let theirs: Vec<f32> = adapter.data(&key, &shape).unwrap().to_vec().unwrap();
        assert!(
            ours.iter()
                .zip(&theirs)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{key} differs"
        );
    }
    (diff, moved)
}

#[test]
fn lora_from_peft_adapters_matches_peft_on_minilm() {
    let minilm = Encoder::minilm();
    let reference = read_json(&fixtures().join("reference.json"));
    let outputs = read_safetensors(&fixtures().join("outputs.safetensors"));
    let batch = batch(&reference, &minilm);
    let expected =
        |name: &str| -> Vec<f32> { outputs.data(name, &batch.shape).unwrap().to_vec().unwrap() };
    let base = hidden(&minilm.model, &batch, &NoHooks);
    let base_diff = max_abs_diff(&base, &expected("base"));
    println!("bare MiniLM: max |hidden - transformers| = {base_diff:.3e}");
    assert!(base_diff <= TOLERANCE, "bare model: {base_diff}");

    for (name, scaling) in [
        ("alpha", LoraScaling::Alpha { alpha: 16.0 }),
        ("unit", LoraScaling::Unit),
    ] {
        let dir = fixtures().join(name);
        let catalogue = minilm.catalogue(LoraScaling::Unit, &[1, 2, 4, 8]);
        let hf = HfLora::read(&dir, &catalogue);
        assert_eq!(hf.scaling(), scaling, "{name}");
        assert!(hf.ranks().len() >= 4 && hf.modules.len() >= 10, "{hf:?}");
        check_adapter(&minilm, &batch, &dir, &[1, 2, 4, 8], &expected(name), &base);
    }
}

#[test]
fn lora_of_a_task_model_is_keyed_under_its_prefix() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bert/bert_cls3");
    let encoder = Encoder::load(&dir);
    assert_eq!(encoder.prefix, "bert.");
    let reference = read_json(&dir.join("reference.json"));
    let batch = batch(&reference, &encoder);
    let base = hidden(&encoder.model, &batch, &NoHooks);
    let transformers: Vec<f32> =
        serde_json::from_value::<Vec<Vec<Vec<f32>>>>(reference["last_hidden_state"].clone())
            .unwrap()
            .into_iter()
            .flatten()
            .flatten()
            .collect();
    assert!(max_abs_diff(&base, &transformers) <= TOLERANCE);
    let outputs = read_safetensors(&fixtures().join("outputs.safetensors"));
    let expected: Vec<f32> = outputs
        .data("task", &batch.shape)
        .unwrap()
        .to_vec()
        .unwrap();

    let task = fixtures().join("task");
    let hf = HfLora::read(&task, &encoder.catalogue(LoraScaling::Unit, &[1, 2, 4]));
    // Short targets and suffix patterns, resolved as peft resolves them.
    let expected_modules: BTreeMap<String, (usize, f64)> = [
        ("bert.encoder.layer.0.attention.self.query", 4),
        ("bert.encoder.layer.0.attention.self.value", 4),
        ("bert.encoder.layer.0.intermediate.dense", 1),
        ("bert.encoder.layer.1.attention.self.query", 2),
        ("bert.encoder.layer.1.attention.self.value", 4),
        ("bert.encoder.layer.1.intermediate.dense", 1),
    ]
    .into_iter()
    .map(|(name, r)| (name.to_string(), (r, 8.0)))
    .collect();
    assert_eq!(hf.modules, expected_modules);
    // The classifier peft saved beside the factors (`modules_to_save`) is not ours to load.
    let adapter = read_safetensors(&task.join("adapter_model.safetensors"));
    assert!(adapter.contains("base_model.model.classifier.weight"));
    check_adapter(&encoder, &batch, &task, &[1, 2, 4], &expected, &base);
}

#[test]
fn mismatched_adapters_are_clear_errors_and_change_nothing() {
    let minilm = Encoder::minilm();
    let dir = fixtures().join("alpha");
    let hf = HfLora::read(&dir, &minilm.catalogue(LoraScaling::Unit, &[1, 2, 4, 8]));
    let adapter = read_safetensors(&dir.join("adapter_model.safetensors"));
    let catalogue = minilm.catalogue(hf.scaling(), &[1, 2, 4, 8]);
    let device = Default::default();

    // A configuration without one of the adapter's modules: the file has
    // tensors nobody takes.
    let mut fewer = HfLora {
        modules: hf.modules.clone(),
    };
    let dropped = fewer.modules.keys().next().unwrap().clone();
    fewer.modules.remove(&dropped);
    let mut peft =
        PeftModel::<B>::build(&config_of(&catalogue, &fewer), minilm.naming(), &device).unwrap();
    let before = floats(peft.modules.lora[0].a.val());
    let e = load_hf_lora(&mut peft, &adapter, minilm.naming())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "adapter tensor `{}`",
            hf_lora_key(&dropped, LoraFactor::A)
        )) && e.contains("belongs to no LoRA module of this configuration"),
        "{e}"
    );
    assert_eq!(
        floats(peft.modules.lora[0].a.val()),
        before,
        "model changed"
    );

    // Another rank for one module: a shape error naming the key.
    let mut other_rank = HfLora {
        modules: hf.modules.clone(),
    };
    let (name, (rank, _)) = other_rank
        .modules
        .iter_mut()
        .find(|(_, (r, _))| *r != 8)
        .unwrap();
    let (name, old) = (name.clone(), *rank);
    *rank = 8;
    let mut peft = PeftModel::<B>::build(
        &config_of(&catalogue, &other_rank),
        minilm.naming(),
        &device,
    )
    .unwrap();
    let err = load_hf_lora(&mut peft, &adapter, minilm.naming()).unwrap_err();
    match &err {
        Error::ShapeMismatch {
            name: key,
            expected,
            found,
        } => {
            assert_eq!(key, &hf_lora_key(&name, LoraFactor::A));
            assert_eq!(expected, &vec![8, 384]);
            assert_eq!(found, &vec![old, 384]);
        }
        other => panic!("expected a shape mismatch, got {other}"),
    }

    // A configuration with a module the adapter lacks.
    let mut more = HfLora {
        modules: hf.modules.clone(),
    };
    let extra = "encoder.layer.3.attention.self.key".to_string();
    assert!(!more.modules.contains_key(&extra));
    more.modules.insert(extra.clone(), (4, 16.0));
    let mut peft =
        PeftModel::<B>::build(&config_of(&catalogue, &more), minilm.naming(), &device).unwrap();
    let e = load_hf_lora(&mut peft, &adapter, minilm.naming())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "tensor `{}` is missing from the checkpoint",
            hf_lora_key(&extra, LoraFactor::A)
        )
    );
}
