//! LoRA factors in Hugging Face `peft`'s adapter layout, both ways.
//!
//! `save_pretrained` writes `adapter_model.safetensors` with, per LoRA module
//! at module path `m` of the wrapped model:
//!
//! | key                                 | shape       | here (`Lora`)          |
//! |-------------------------------------|-------------|------------------------|
//! | `base_model.model.{m}.lora_A.weight` | `[r, d_in]`  | `a` `[d_in, r]`, transposed |
//! | `base_model.model.{m}.lora_B.weight` | `[d_out, r]` | `b` `[r, d_out]`, transposed |
//!
//! (the adapter's own name is not part of the key). `m` is the site's
//! checkpoint module path, as the backbone's naming function gives it, so a
//! BERT task model's keys read `base_model.model.bert.encoder…`. The scale
//! `lora_alpha / r` lives in `adapter_config.json`, not in these tensors.
//! Checked against peft on the real all-MiniLM-L6-v2 by
//! `tests/tests/peft_vs_hf.rs`.

use burn::module::Param;
use burn::tensor::{backend::Backend, Tensor};

use crate::backbone::Site;
use crate::error::{Error, Result};
use crate::loader::Weights;
use crate::space::Kind;

use super::model::PeftModel;

/// What peft puts in front of every module path of the model it wraps.
pub const HF_LORA_PREFIX: &str = "base_model.model.";

/// One of the two LoRA factors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoraFactor {
    /// peft's `lora_A` (`[r, d_in]`): the down projection.
    A,
    /// peft's `lora_B` (`[d_out, r]`): the up projection.
    B,
}

/// peft's key of a factor of the LoRA module at module path `module`.
pub fn hf_lora_key(module: &str, factor: LoraFactor) -> String {
    let factor = match factor {
        LoraFactor::A => "lora_A",
        LoraFactor::B => "lora_B",
    };
    format!("{HF_LORA_PREFIX}{module}.{factor}.weight")
}

/// Replaces the factors of every LoRA module of `model` by those of a peft
/// adapter (`adapter_model.safetensors` read as [`Weights`]); `naming` is the
/// backbone's site naming function. Each factor keeps its parameter id and
/// whether it requires a gradient, so the model trains on from the loaded values.
///
/// Errors, leaving `model` unchanged: a factor missing from the file
/// ([`Error::MissingTensor`]), a factor of another rank or width
/// ([`Error::ShapeMismatch`], naming the key), and LoRA tensors in the file
/// that no module of the model takes (a module the configuration lacks, or a
/// peft variant such as DoRA's `lora_magnitude_vector`), which would otherwise
/// be silently dropped.
pub fn load_hf_lora<B, F>(model: &mut PeftModel<B>, weights: &Weights, naming: F) -> Result<()>
where
    B: Backend,
    F: Fn(Site) -> String,
{
    let placed = model.placed(Kind::Lora);
    let mut loaded = Vec::with_capacity(placed.len());
    let mut used = std::collections::HashSet::new();
    for &(site, i) in &placed {
        let lora = &model.modules.lora[i];
        let [d_in, rank] = lora.a.dims();
        let d_out = lora.b.dims()[1];
        let device = lora.a.device();
        let module = naming(site);
        let (key_a, key_b) = (
            hf_lora_key(&module, LoraFactor::A),
            hf_lora_key(&module, LoraFactor::B),
        );
        let a = weights.tensor::<B, 2>(&key_a, [rank, d_in], &device)?;
        let b = weights.tensor::<B, 2>(&key_b, [d_out, rank], &device)?;
        loaded.push((i, a.transpose(), b.transpose()));
        used.insert(key_a);
        used.insert(key_b);
    }
    if let Some(extra) = weights
        .names()
        .into_iter()
        .find(|name| name.contains(".lora_") && !used.contains(*name))
    {
        return Err(Error::InvalidInput(format!(
            "adapter tensor `{extra}` belongs to no LoRA module of this configuration \
             ({} LoRA modules, keys `{HF_LORA_PREFIX}<module>.lora_A.weight` / `.lora_B.weight`)",
            placed.len()
        )));
    }
    for (i, a, b) in loaded {
        let lora = &mut model.modules.lora[i];
        lora.a = replaced(&lora.a, a);
        lora.b = replaced(&lora.b, b);
    }
    Ok(())
}

/// The LoRA factors of `model` under peft's keys and in its layout
/// (`lora_A` `[r, d_in]`, `lora_B` `[d_out, r]`), in configuration order, A
/// before B: what `adapter_model.safetensors` holds. Reading them back to the
/// host is the caller's choice (synchronously natively, asynchronously in a browser).
pub fn hf_lora_tensors<B, F>(model: &PeftModel<B>, naming: F) -> Vec<(String, Tensor<B, 2>)>
where
    B: Backend,
    F: Fn(Site) -> String,
{
    let mut tensors = Vec::new();
    for (site, i) in model.placed(Kind::Lora) {
        let lora = &model.modules.lora[i];
        let module = naming(site);
        tensors.push((
            hf_lora_key(&module, LoraFactor::A),
            lora.a.val().transpose(),
        ));
        tensors.push((
            hf_lora_key(&module, LoraFactor::B),
            lora.b.val().transpose(),
        ));
    }
    tensors
}

/// `value` in place of `param`: same id, same gradient requirement.
fn replaced<B: Backend>(param: &Param<Tensor<B, 2>>, value: Tensor<B, 2>) -> Param<Tensor<B, 2>> {
    let require_grad = param.val().is_require_grad();
    Param::initialized(param.id, value.set_require_grad(require_grad))
}
