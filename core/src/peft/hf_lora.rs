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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::bert::site_name;
    use crate::backbone::Hooks;
    use crate::peft::PeftOptions;
    use crate::peft_config::PeftConfig;
    use crate::space::{presets, BackboneShape, Catalogue, Family};
    use burn::tensor::{Distribution, Tensor};
    use safetensors::{tensor::TensorView, Dtype};

    type B = burn::backend::Flex<f32>;

    fn naming(site: Site) -> String {
        site_name(site, "roberta.").unwrap_or_default()
    }

    /// A two-block encoder, width 8, FFN 12; LoRA on a query (rank 2) and
    /// an FFN output (rank 4).
    fn model() -> PeftModel<B> {
        let shape = BackboneShape {
            model_type: "roberta".into(),
            family: Family::Encoder,
            d_model: 8,
            d_ff: 12,
            d_kv: 4,
            heads: 2,
            encoder_layers: 2,
            decoder_layers: 0,
            gated_ffn: false,
            linear_biases: true,
            vocab: 10,
            backbone_params: 0,
        };
        let catalogue =
            Catalogue::build(&shape, &presets::lora(), &PeftOptions::default(), naming).unwrap();
        let slot = |name: &str| catalogue.find_name(name, Kind::Lora).unwrap();
        let picks = [
            (
                slot("roberta.encoder.layer.0.attention.self.query"),
                Some(1),
            ),
            (slot("roberta.encoder.layer.1.output.dense"), Some(4)),
        ];
        let config = PeftConfig::from_selection(&catalogue, 0, &picks).unwrap();
        PeftModel::build(&config, naming, &Default::default()).unwrap()
    }

    /// What `save_pretrained` would write for these tensors.
    fn file(tensors: Vec<(String, Tensor<B, 2>)>) -> Weights {
        let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .map(|(name, t)| {
                let shape = t.dims().to_vec();
                let values: Vec<f32> = t.into_data().to_vec().unwrap();
                let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name, shape, bytes)
            })
            .collect();
        let views: Vec<(String, TensorView)> = data
            .iter()
            .map(|(name, shape, bytes)| {
                let view = TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap();
                (name.clone(), view)
            })
            .collect();
        let bytes = safetensors::serialize(views, None).unwrap();
        Weights::from_bytes(vec![("adapter_model.safetensors".into(), bytes)]).unwrap()
    }

    fn random(shape: [usize; 2]) -> Tensor<B, 2> {
        Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), &Default::default())
    }

    #[test]
    fn keys_and_shapes_are_peft_s() {
        assert_eq!(
            hf_lora_key("bert.encoder.layer.0.attention.self.query", LoraFactor::B),
            "base_model.model.bert.encoder.layer.0.attention.self.query.lora_B.weight"
        );
        let tensors = hf_lora_tensors(&model(), naming);
        let found: Vec<(&str, Vec<usize>)> = tensors
            .iter()
            .map(|(k, t)| (k.as_str(), t.dims().to_vec()))
            .collect();
        let q = "base_model.model.roberta.encoder.layer.0.attention.self.query";
        let o = "base_model.model.roberta.encoder.layer.1.output.dense";
        assert_eq!(
            found,
            vec![
                (format!("{q}.lora_A.weight").as_str(), vec![1, 8]),
                (format!("{q}.lora_B.weight").as_str(), vec![8, 1]),
                (format!("{o}.lora_A.weight").as_str(), vec![4, 12]),
                (format!("{o}.lora_B.weight").as_str(), vec![8, 4]),
            ]
        );
    }

    #[test]
    fn round_trip_through_a_file() {
        // Factors in peft's layout, as another program would have saved them.
        let theirs: Vec<(String, Tensor<B, 2>)> = hf_lora_tensors(&model(), naming)
            .into_iter()
            .map(|(k, t)| (k, random(t.dims())))
            .collect();
        let mut model = model();
        load_hf_lora(&mut model, &file(theirs.clone()), naming).unwrap();
        for ((key, ours), (file_key, expected)) in
            hf_lora_tensors(&model, naming).into_iter().zip(theirs)
        {
            assert_eq!(key, file_key);
            ours.into_data().assert_eq(&expected.into_data(), true);
        }
        // And the loaded factors are the ones in use: delta = s·(x Aᵀ) Bᵀ in peft's terms.
        let (a, b) = (
            model.modules.lora[0].a.val().transpose(),
            model.modules.lora[0].b.val().transpose(),
        );
        let site = model.placed(Kind::Lora)[0].0;
        let x = Tensor::<B, 3>::random([1, 3, 8], Distribution::Default, &Default::default());
        let y = Tensor::<B, 3>::zeros([1, 3, 8], &Default::default());
        let delta = model.linear(site, &x, y);
        let expected = x
            .reshape([3, 8])
            .matmul(a.transpose())
            .matmul(b.transpose())
            .reshape([1, 3, 8]);
        delta.into_data().assert_approx_eq::<f32>(
            &expected.into_data(),
            burn::tensor::Tolerance::absolute(1e-5),
        );
    }

    #[test]
    fn foreign_and_missing_tensors_are_errors() {
        let mut tensors = hf_lora_tensors(&model(), naming);
        // DoRA's magnitudes: a LoRA variant this model cannot compute.
        tensors.push((
            "base_model.model.roberta.encoder.layer.0.attention.self.query.lora_magnitude_vector"
                .into(),
            random([1, 8]),
        ));
        let mut m = model();
        let e = load_hf_lora(&mut m, &file(tensors.clone()), naming)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lora_magnitude_vector` belongs to no LoRA module"),
            "{e}"
        );

        tensors.truncate(3);
        let e = load_hf_lora(&mut m, &file(tensors), naming).unwrap_err();
        assert!(
            matches!(&e, Error::MissingTensor { name } if name.ends_with("layer.1.output.dense.lora_B.weight")),
            "{e}"
        );
    }
}
