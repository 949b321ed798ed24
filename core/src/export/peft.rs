//! A trained result as a Hugging Face `peft` LoRA adapter directory, the
//! format users' tools read (`PeftModel.from_pretrained(base, DIR)`):
//!
//! - `adapter_config.json`: `peft_type` LORA, every LoRA module by its full
//!   module path in `target_modules`, its rank in `rank_pattern` and its
//!   `lora_alpha` in `alpha_pattern` (bipeft's scale `alpha(r) / r` is then
//!   peft's), `modules_to_save` for the task head;
//! - `adapter_model.safetensors`: `base_model.model.<path>.lora_A.weight`
//!   `[r, in]` and `lora_B.weight` `[out, r]` (via [`hf_lora_tensors`]), and
//!   the head under its transformers names.
//!
//! Module paths are those of the model transformers builds for the task:
//! `AutoModelForSequenceClassification` puts a BERT encoder under `bert.`
//! (a RoBERTa one under `roberta.`) with the pooler in `bert.pooler` and a
//! `classifier` linear, whatever prefix the training checkpoint had; T5 is
//! `T5ForConditionalGeneration` and has no head to save.
//!
//! Modules that LoRA cannot express (BitFit, LNFit, adapters, prefixes) are
//! never dropped: they go to `bipeft_modules.safetensors` beside the
//! adapter, named `<module path>.<kind>.<tensor>`, and the directory's
//! `README.md` says so first.

use std::collections::BTreeMap;
use std::path::Path;

use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor};
use burn_store::ModuleSnapshot;
use safetensors::{tensor::TensorView, Dtype};
use serde_json::{json, Value};

use crate::backbone::bert::{BertHead, BertHeadConfig};
use crate::backbone::{BackboneConfig, Site};
use crate::error::{Error, Result};
use crate::loader::read_config_json;
use crate::peft::{hf_lora_tensors, PeftModel, HF_LORA_PREFIX};
use crate::space::Kind;
use crate::train::atomic::write_atomic;
use crate::train::trained::{load_trainable, Trained, WEIGHTS_FILE};
use crate::train::Trainable;

pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";
pub const ADAPTER_WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// Non-LoRA modules, in bipeft's naming.
pub const EXTRA_WEIGHTS_FILE: &str = "bipeft_modules.safetensors";

/// What an export wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct PeftExport {
    pub lora_modules: usize,
    /// `modules_to_save`.
    pub head_modules: Vec<String>,
    /// Modules outside LoRA, by kind: count.
    pub other_modules: BTreeMap<String, usize>,
    pub files: Vec<String>,
}

/// Exports the result in `trained_dir` to `out`. `model_dir` holds the
/// backbone's `config.json` (default: the one it was trained over);
/// `base_model` is written as `base_model_name_or_path` (default: that
/// directory).
pub fn export_peft<B: Backend>(
    trained_dir: &Path,
    model_dir: Option<&Path>,
    base_model: Option<&str>,
    out: &Path,
    device: &B::Device,
) -> Result<PeftExport> {
    let trained = Trained::read(trained_dir)?;
    let manifest = &trained.manifest;
    let model_dir = model_dir.map_or_else(
        || Path::new(&manifest.model_dir).to_path_buf(),
        Path::to_path_buf,
    );
    let config = BackboneConfig::from_json(&read_config_json(&model_dir)?)?;
    if config.shape() != trained.peft.backbone {
        return Err(Error::InvalidInput(format!(
            "{} is not the model the result was trained on ({} with {} layers of width {})",
            model_dir.display(),
            trained.peft.backbone.model_type,
            trained.peft.backbone.encoder_layers + trained.peft.backbone.decoder_layers,
            trained.peft.backbone.d_model
        )));
    }
    let trainable = skeleton::<B>(&trained, &config, device)?;
    let trainable = load_trainable(trainable, trained.weights.clone(), WEIGHTS_FILE)?;

    // Module paths in the task model transformers builds.
    let hf_prefix = match &config {
        BackboneConfig::Bert(_) => format!("{}.", config.model_type()),
        BackboneConfig::T5(_) => String::new(),
    };
    let hf_naming = config.site_namer(&hf_prefix);
    let mut tensors: Vec<(String, Tensor<B, 2>)> = hf_lora_tensors(&trainable.peft, &hf_naming);
    let mut vectors: Vec<(String, Tensor<B, 1>)> = Vec::new();
    let head_modules = match (&trainable.head, &config) {
        (Some(head), BackboneConfig::Bert(_)) => {
            head_tensors(head, config.model_type(), &mut tensors, &mut vectors)
        }
        _ => Vec::new(),
    };

    let placed = trainable.peft.placed(Kind::Lora);
    let mut rank_pattern = BTreeMap::new();
    let mut alpha_pattern = BTreeMap::new();
    let mut targets = Vec::new();
    for &(site, i) in &placed {
        let name = hf_naming(site);
        let rank = trainable.peft.modules.lora[i].rank();
        rank_pattern.insert(name.clone(), rank);
        alpha_pattern.insert(name.clone(), trained.peft.options.lora_scaling.alpha(rank));
        targets.push(name);
    }
    targets.sort();
    // The most common rank is the default `r`; every module is in the patterns anyway.
    let default_rank = most_common(rank_pattern.values().copied()).unwrap_or(8);
    let is_t5 = matches!(config, BackboneConfig::T5(_));
    let adapter_config = json!({
        "peft_type": "LORA",
        "task_type": if is_t5 { "SEQ_2_SEQ_LM" } else { "SEQ_CLS" },
        "base_model_name_or_path": base_model.map_or_else(|| model_dir.display().to_string(), str::to_string),
        "r": default_rank,
        "lora_alpha": trained.peft.options.lora_scaling.alpha(default_rank),
        "target_modules": targets,
        "rank_pattern": rank_pattern,
        "alpha_pattern": alpha_pattern,
        "modules_to_save": if head_modules.is_empty() { Value::Null } else { json!(head_modules) },
        "lora_dropout": 0.0,
        "bias": "none",
        "fan_in_fan_out": false,
        "init_lora_weights": true,
        "use_rslora": false,
        "use_dora": false,
        "inference_mode": true,
        "revision": null,
    });

    let mut files = vec![
        ADAPTER_CONFIG_FILE.to_string(),
        ADAPTER_WEIGHTS_FILE.to_string(),
    ];
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut host = Vec::new();
    for (name, t) in tensors {
        host.push(to_host(name, t.dims().to_vec(), t.into_data())?);
    }
    for (name, t) in vectors {
        host.push(to_host(name, t.dims().to_vec(), t.into_data())?);
    }
    write_atomic(&out.join(ADAPTER_WEIGHTS_FILE), &serialize(host)?)?;
    let text = serde_json::to_string_pretty(&adapter_config)
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
    write_atomic(&out.join(ADAPTER_CONFIG_FILE), (text + "\n").as_bytes())?;

    let (extra, other_modules) = other_tensors(&trainable.peft, &hf_naming)?;
    if !extra.is_empty() {
        write_atomic(&out.join(EXTRA_WEIGHTS_FILE), &serialize(extra)?)?;
        files.push(EXTRA_WEIGHTS_FILE.into());
    }
    let readme = readme(
        placed.len(),
        &other_modules,
        &head_modules,
        manifest.head_outputs,
        is_t5,
    );
    write_atomic(&out.join("README.md"), readme.as_bytes())?;
    files.push("README.md".into());
    Ok(PeftExport {
        lora_modules: placed.len(),
        head_modules,
        other_modules,
        files,
    })
}

/// Fresh modules of the trained result's shape, for its weights to be loaded into.
fn skeleton<B: Backend>(
    trained: &Trained,
    config: &BackboneConfig,
    device: &B::Device,
) -> Result<Trainable<B>> {
    let peft = PeftModel::build(
        &trained.peft,
        config.site_namer(&trained.manifest.key_prefix),
        device,
    )?;
    let head = (trained.manifest.head_outputs > 0).then(|| {
        BertHeadConfig::new(trained.peft.backbone.d_model, trained.manifest.head_outputs)
            .init(device)
    });
    Ok(Trainable { peft, head })
}

/// The head's linears under transformers' names (weights `[out, in]`), and
/// what `modules_to_save` lists.
fn head_tensors<B: Backend>(
    head: &BertHead<B>,
    model_type: &str,
    matrices: &mut Vec<(String, Tensor<B, 2>)>,
    vectors: &mut Vec<(String, Tensor<B, 1>)>,
) -> Vec<String> {
    let mut linear = |name: String, l: &Linear<B>| {
        matrices.push((
            format!("{HF_LORA_PREFIX}{name}.weight"),
            l.weight.val().transpose(),
        ));
        if let Some(bias) = &l.bias {
            vectors.push((format!("{HF_LORA_PREFIX}{name}.bias"), bias.val()));
        }
    };
    if model_type == "bert" {
        // BertForSequenceClassification: `bert.pooler.dense` + `classifier`.
        if let Some(pooler) = &head.pooler {
            linear("bert.pooler.dense".into(), pooler);
        }
        linear("classifier".into(), &head.classifier);
        vec!["classifier".into(), "pooler".into()]
    } else {
        // RobertaForSequenceClassification: `classifier.dense` + `classifier.out_proj`.
        if let Some(dense) = &head.pooler {
            linear("classifier.dense".into(), dense);
        }
        linear("classifier.out_proj".into(), &head.classifier);
        vec!["classifier".into()]
    }
}

/// Every non-LoRA module's tensors as `<module path>.<kind>.<tensor>`.
fn other_tensors<B: Backend>(
    peft: &PeftModel<B>,
    naming: &dyn Fn(Site) -> String,
) -> Result<(Vec<HostTensor>, BTreeMap<String, usize>)> {
    let mut out = Vec::new();
    let mut counts = BTreeMap::new();
    let m = &peft.modules;
    for kind in Kind::ALL.into_iter().filter(|&k| k != Kind::Lora) {
        for (site, i) in peft.placed(kind) {
            let snapshots = match kind {
                Kind::Adapter => m.adapter[i].collect(None, None, false),
                Kind::BitFit => m.bitfit[i].collect(None, None, false),
                Kind::LnFit => m.lnfit[i].collect(None, None, false),
                Kind::SerialAdapter => m.serial_adapter[i].collect(None, None, false),
                Kind::ParallelAdapter => m.parallel_adapter[i].collect(None, None, false),
                Kind::Prefix => m.prefix[i].collect(None, None, false),
                Kind::Lora => unreachable!("filtered out above"),
            };
            let prefix = format!("{}.{kind}", naming(site));
            append_snapshots(&prefix, snapshots, &mut out)?;
            *counts.entry(kind.to_string()).or_default() += 1;
        }
    }
    if let Some(trunk) = &m.prefix_trunk {
        append_snapshots("prefix_trunk", trunk.collect(None, None, false), &mut out)?;
    }
    Ok((out, counts))
}

fn append_snapshots(
    prefix: &str,
    snapshots: Vec<burn_store::TensorSnapshot>,
    out: &mut Vec<HostTensor>,
) -> Result<()> {
    for snapshot in snapshots {
        let data = snapshot
            .to_data()
            .map_err(|e| Error::TensorRead(format!("{e:?}")))?;
        let shape = data.shape.to_vec();
        out.push(to_host(
            format!("{prefix}.{}", snapshot.full_path()),
            shape,
            data,
        )?);
    }
    Ok(())
}

/// A tensor read back as little-endian f32 bytes.
struct HostTensor {
    name: String,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn to_host(name: String, shape: Vec<usize>, data: burn::tensor::TensorData) -> Result<HostTensor> {
    let values: Vec<f32> = data
        .convert::<f32>()
        .to_vec()
        .map_err(|e| Error::TensorRead(format!("{e:?}")))?;
    Ok(HostTensor {
        name,
        shape,
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    })
}

fn serialize(tensors: Vec<HostTensor>) -> Result<Vec<u8>> {
    let views = tensors
        .iter()
        .map(|t| {
            TensorView::new(Dtype::F32, t.shape.clone(), &t.bytes)
                .map(|view| (t.name.clone(), view))
                .map_err(|e| Error::InvalidInput(format!("tensor {}: {e}", t.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| Error::InvalidInput(e.to_string()))
}

fn most_common(values: impl Iterator<Item = usize>) -> Option<usize> {
    let mut counts = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_insert(0usize) += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(v, n)| (n, v))
        .map(|(v, _)| v)
}

fn readme(
    lora: usize,
    other: &BTreeMap<String, usize>,
    head: &[String],
    head_outputs: usize,
    is_t5: bool,
) -> String {
    let mut text = String::from("# A bipeft result as a Hugging Face PEFT LoRA adapter\n\n");
    if !other.is_empty() {
        let list: Vec<String> = other.iter().map(|(k, n)| format!("{n} {k}")).collect();
        text.push_str(&format!(
            "**NOTE: this configuration also has modules that PEFT's LoRA cannot express ({}).** \
             They are NOT in adapter_model.safetensors: PEFT alone computes a different model. \
             They are in `{EXTRA_WEIGHTS_FILE}`, named `<module path>.<kind>.<tensor>`; \
             `bipeft export --format bipeft` keeps the whole result.\n\n",
            list.join(", ")
        ));
    }
    text.push_str(&format!(
        "{lora} LoRA modules (`target_modules`, ranks in `rank_pattern`).\n"
    ));
    if is_t5 {
        text.push_str(
            "\nLoad it with\n\n```python\nfrom transformers import T5ForConditionalGeneration\nfrom peft import PeftModel\n\
             base = T5ForConditionalGeneration.from_pretrained(BASE)\nmodel = PeftModel.from_pretrained(base, THIS_DIR)\n```\n",
        );
    } else {
        text.push_str(&format!(
            "The task head ({}) is in `modules_to_save`.\n\nLoad it with\n\n```python\n\
             from transformers import AutoModelForSequenceClassification\nfrom peft import PeftModel\n\
             base = AutoModelForSequenceClassification.from_pretrained(BASE, num_labels={head_outputs})\n\
             model = PeftModel.from_pretrained(base, THIS_DIR)\n```\n",
            head.join(" + ")
        ));
    }
    text
}
