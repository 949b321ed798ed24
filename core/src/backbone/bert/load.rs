//! Hugging Face checkpoint → [`BertModel`]. The key table:
//!
//! | checkpoint key (after the prefix)                     | shape                 | module                        |
//! |-------------------------------------------------------|-----------------------|-------------------------------|
//! | `embeddings.word_embeddings.weight`                   | `[vocab, h]`          | `embeddings.word`             |
//! | `embeddings.position_embeddings.weight`               | `[max_pos, h]`        | `embeddings.position`         |
//! | `embeddings.token_type_embeddings.weight`             | `[type_vocab, h]`     | `embeddings.token_type`       |
//! | `embeddings.LayerNorm.{weight,bias}` (`gamma,beta`)   | `[h]`                 | `embeddings.norm`             |
//! | `encoder.layer.{i}.attention.self.{query,key,value}.*` | `[h, h]`, `[h]`      | `layers[i].attention.{query,key,value}` |
//! | `encoder.layer.{i}.attention.output.dense.*`          | `[h, h]`, `[h]`       | `layers[i].attention.output`  |
//! | `encoder.layer.{i}.attention.output.LayerNorm.*`      | `[h]`                 | `layers[i].attention.norm`    |
//! | `encoder.layer.{i}.intermediate.dense.*`              | `[i, h]`, `[i]`       | `layers[i].ffn.intermediate`  |
//! | `encoder.layer.{i}.output.dense.*`                    | `[h, i]`, `[h]`       | `layers[i].ffn.output`        |
//! | `encoder.layer.{i}.output.LayerNorm.*`                | `[h]`                 | `layers[i].ffn.norm`          |
//!
//! PyTorch linears store `[out, in]`; burn's `Linear` holds `[in, out]`, so
//! every linear weight is transposed here. Ignored: `embeddings.position_ids`
//! (a buffer that old checkpoints saved), `pooler.*` and `classifier.*` (read
//! by the head, see `head.rs`), and pre-training heads (`cls.*`, `lm_head.*`).
//!
//! The prefix ("", "bert.", "roberta.") is found from where the word embeddings
//! sit, and kept in the model for its site names.

use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::tensor::{backend::Backend, Tensor, TensorData};

use super::attention::BertAttention;
use super::config::BertConfig;
use super::embeddings::{roberta_pad, BertEmbeddings};
use super::ffn::BertFfn;
use super::layer::BertLayer;
use super::layer_norm::BertLayerNorm;
use super::model::BertModel;
use crate::error::{Error, Result};
use crate::loader::Weights;

const WORD_EMBEDDINGS: &str = "embeddings.word_embeddings.weight";

impl<B: Backend> BertModel<B> {
    /// Builds the encoder from a checkpoint's tensors. Missing tensors and wrong
    /// shapes are [`Error::MissingTensor`] / [`Error::ShapeMismatch`] naming the
    /// full checkpoint key.
    pub fn from_weights(
        config: &BertConfig,
        weights: &Weights,
        device: &B::Device,
    ) -> Result<Self> {
        config.validate()?;
        let prefix = detect_prefix(weights)?;
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let p = prefix.as_str();

        let embeddings = BertEmbeddings {
            word: load_embedding(
                weights,
                &format!("{p}{WORD_EMBEDDINGS}"),
                config.vocab_size,
                h,
                device,
            )?,
            position: load_embedding(
                weights,
                &format!("{p}embeddings.position_embeddings.weight"),
                config.max_position_embeddings,
                h,
                device,
            )?,
            token_type: load_embedding(
                weights,
                &format!("{p}embeddings.token_type_embeddings.weight"),
                config.type_vocab_size,
                h,
                device,
            )?,
            norm: load_layer_norm(
                weights,
                &format!("{p}embeddings.LayerNorm"),
                h,
                config.layer_norm_eps,
                device,
            )?,
            roberta_pad: roberta_pad(config),
        };

        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            let block = format!("{p}encoder.layer.{index}");
            let norm = |name: &str| {
                load_layer_norm(
                    weights,
                    &format!("{block}.{name}"),
                    h,
                    config.layer_norm_eps,
                    device,
                )
            };
            let linear = |name: &str, d_in, d_out| {
                load_linear(weights, &format!("{block}.{name}"), d_in, d_out, device)
            };
            layers.push(BertLayer {
                attention: BertAttention {
                    query: linear("attention.self.query", h, h)?,
                    key: linear("attention.self.key", h, h)?,
                    value: linear("attention.self.value", h, h)?,
                    output: linear("attention.output.dense", h, h)?,
                    norm: norm("attention.output.LayerNorm")?,
                    num_heads: config.num_attention_heads,
                },
                ffn: BertFfn {
                    intermediate: linear("intermediate.dense", h, i)?,
                    output: linear("output.dense", i, h)?,
                    norm: norm("output.LayerNorm")?,
                    activation: config.hidden_act,
                },
            });
        }

        Ok(BertModel {
            embeddings,
            layers,
            config: config.clone(),
            prefix,
        })
    }
}

/// The prefix in front of the backbone's keys: "" for a saved `BertModel`,
/// "bert." / "roberta." for task models. Where several keys end in the word
/// embeddings' name, the shortest prefix wins (the backbone's own, not a
/// nested copy).
pub fn detect_prefix(weights: &Weights) -> Result<String> {
    weights
        .names()
        .into_iter()
        .filter_map(|name| name.strip_suffix(WORD_EMBEDDINGS))
        .filter(|prefix| prefix.is_empty() || prefix.ends_with('.'))
        .min_by_key(|prefix| prefix.len())
        .map(str::to_string)
        .ok_or_else(|| Error::MissingTensor {
            name: WORD_EMBEDDINGS.into(),
        })
}

/// A PyTorch `nn.Linear` stored as `{name}.weight` `[d_out, d_in]` and
/// `{name}.bias` `[d_out]`, as a burn `Linear` (`[d_in, d_out]`).
pub(crate) fn load_linear<B: Backend>(
    weights: &Weights,
    name: &str,
    d_in: usize,
    d_out: usize,
    device: &B::Device,
) -> Result<Linear<B>> {
    let stored = weights.data(&format!("{name}.weight"), &[d_out, d_in])?;
    let weight = Tensor::from_data(transpose(stored, d_out, d_in)?, device);
    let bias = weights.tensor::<B, 1>(&format!("{name}.bias"), [d_out], device)?;
    Ok(Linear {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(bias)),
    })
}

/// `[rows, cols]` row-major → `[cols, rows]` row-major, on the host: the
/// weight then sits contiguous in burn's layout on every backend.
fn transpose(data: TensorData, rows: usize, cols: usize) -> Result<TensorData> {
    let values: Vec<f32> = data
        .to_vec()
        .map_err(|e| Error::TensorRead(format!("{e:?}")))?;
    let mut out = vec![0.0f32; values.len()];
    for (r, row) in values.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    Ok(TensorData::new(out, [cols, rows]))
}

fn load_embedding<B: Backend>(
    weights: &Weights,
    name: &str,
    rows: usize,
    width: usize,
    device: &B::Device,
) -> Result<Embedding<B>> {
    Ok(Embedding {
        weight: Param::from_tensor(weights.tensor::<B, 2>(name, [rows, width], device)?),
    })
}

/// `{name}.weight` / `{name}.bias`, or the `gamma` / `beta` of checkpoints
/// converted from the original TensorFlow BERT.
fn load_layer_norm<B: Backend>(
    weights: &Weights,
    name: &str,
    width: usize,
    epsilon: f64,
    device: &B::Device,
) -> Result<BertLayerNorm<B>> {
    let pick = |new: &str, old: &str| {
        let new_name = format!("{name}.{new}");
        let old_name = format!("{name}.{old}");
        let key = if !weights.contains(&new_name) && weights.contains(&old_name) {
            old_name
        } else {
            new_name
        };
        weights.tensor::<B, 1>(&key, [width], device)
    };
    Ok(BertLayerNorm {
        weight: Param::from_tensor(pick("weight", "gamma")?),
        bias: Param::from_tensor(pick("bias", "beta")?),
        epsilon,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::hooks::NoHooks;
    use burn::tensor::{Int, Tolerance};
    use safetensors::{tensor::TensorView, Dtype};

    type B = burn::backend::Flex<f32>;

    fn config() -> BertConfig {
        BertConfig::from_json(
            r#"{"model_type": "bert", "vocab_size": 20, "hidden_size": 8, "num_hidden_layers": 2,
                "num_attention_heads": 2, "intermediate_size": 12, "max_position_embeddings": 10,
                "initializer_range": 0.5}"#,
        )
        .unwrap()
    }

    fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().to_vec().unwrap()
    }

    /// The model's tensors under transformers' names, linears back in `[out, in]`,
    /// LayerNorms named `gamma`/`beta` as old checkpoints do.
    fn export(model: &BertModel<B>, prefix: &str) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        fn entry<const D: usize>(name: String, t: Tensor<B, D>) -> (String, Vec<usize>, Vec<f32>) {
            (name, t.dims().to_vec(), values(t))
        }
        let e = &model.embeddings;
        let mut out = vec![
            entry(
                format!("{prefix}embeddings.word_embeddings.weight"),
                e.word.weight.val(),
            ),
            entry(
                format!("{prefix}embeddings.position_embeddings.weight"),
                e.position.weight.val(),
            ),
            entry(
                format!("{prefix}embeddings.token_type_embeddings.weight"),
                e.token_type.weight.val(),
            ),
        ];
        let mut norms = vec![(format!("{prefix}embeddings.LayerNorm"), e.norm.clone())];
        let mut linears = Vec::new();
        for (i, layer) in model.layers.iter().enumerate() {
            let b = format!("{prefix}encoder.layer.{i}");
            let a = &layer.attention;
            linears.push((format!("{b}.attention.self.query"), a.query.clone()));
            linears.push((format!("{b}.attention.self.key"), a.key.clone()));
            linears.push((format!("{b}.attention.self.value"), a.value.clone()));
            linears.push((format!("{b}.attention.output.dense"), a.output.clone()));
            linears.push((
                format!("{b}.intermediate.dense"),
                layer.ffn.intermediate.clone(),
            ));
            linears.push((format!("{b}.output.dense"), layer.ffn.output.clone()));
            norms.push((format!("{b}.attention.output.LayerNorm"), a.norm.clone()));
            norms.push((format!("{b}.output.LayerNorm"), layer.ffn.norm.clone()));
        }
        for (name, linear) in linears {
            out.push(entry(
                format!("{name}.weight"),
                linear.weight.val().transpose(),
            ));
            out.push(entry(format!("{name}.bias"), linear.bias.unwrap().val()));
        }
        for (name, norm) in norms {
            // Non-trivial values, so that a swapped gamma / beta would show.
            out.push(entry(format!("{name}.gamma"), norm.weight.val() + 0.5));
            out.push(entry(format!("{name}.beta"), norm.bias.val() - 0.25));
        }
        out
    }

    fn checkpoint(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Weights {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .iter()
            .map(|(n, s, v)| {
                (
                    n.clone(),
                    s.clone(),
                    v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                )
            })
            .collect();
        let views: Vec<(String, TensorView)> = bytes
            .iter()
            .map(|(n, s, b)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
                )
            })
            .collect();
        let file = safetensors::serialize(views, None).unwrap();
        Weights::from_bytes(vec![("model.safetensors".into(), file)]).unwrap()
    }

    #[test]
    fn round_trips_through_a_checkpoint_with_gamma_beta_and_a_prefix() {
        let device = Default::default();
        let config = config();
        let mut model = config.init::<B>(&device);
        let weights = checkpoint(&export(&model, "bert."));
        let loaded = BertModel::<B>::from_weights(&config, &weights, &device).unwrap();
        assert_eq!(loaded.prefix, "bert.");

        // The exported LayerNorms were shifted; shift the original the same way.
        let shift = |n: &mut BertLayerNorm<B>| {
            n.weight = Param::from_tensor(n.weight.val() + 0.5);
            n.bias = Param::from_tensor(n.bias.val() - 0.25);
        };
        shift(&mut model.embeddings.norm);
        for layer in &mut model.layers {
            shift(&mut layer.attention.norm);
            shift(&mut layer.ffn.norm);
        }

        let ids = Tensor::<B, 2, Int>::from_ints([[1, 5, 7, 19, 2], [1, 3, 2, 0, 0]], &device);
        let types = Tensor::<B, 2, Int>::from_ints([[0, 0, 0, 1, 1], [0, 1, 1, 0, 0]], &device);
        let mask = Tensor::<B, 2, Int>::from_ints([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], &device);
        let expected = model.forward(ids.clone(), types.clone(), mask.clone(), &NoHooks);
        let found = loaded.forward(ids, types, mask, &NoHooks);
        found
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-6));
    }

    #[test]
    fn missing_and_misshaped_tensors_are_named() {
        let device = Default::default();
        let config = config();
        let model = config.init::<B>(&device);
        let full = export(&model, "");

        let without: Vec<_> = full
            .iter()
            .filter(|(n, _, _)| n != "encoder.layer.1.intermediate.dense.bias")
            .cloned()
            .collect();
        let err =
            BertModel::<B>::from_weights(&config, &checkpoint(&without), &device).unwrap_err();
        assert!(
            matches!(err, Error::MissingTensor { ref name } if name == "encoder.layer.1.intermediate.dense.bias"),
            "{err:?}"
        );

        // A checkpoint of another width than config.json says.
        let mut wider = config.clone();
        wider.hidden_size = 10;
        let err = BertModel::<B>::from_weights(&wider, &checkpoint(&full), &device).unwrap_err();
        assert!(
            matches!(err, Error::ShapeMismatch { ref name, ref expected, ref found }
                if name == "embeddings.word_embeddings.weight" && expected == &[20, 10] && found == &[20, 8]),
            "{err:?}"
        );

        let no_embeddings: Vec<_> = full
            .iter()
            .filter(|(n, _, _)| !n.contains("word_embeddings"))
            .cloned()
            .collect();
        let err = BertModel::<B>::from_weights(&config, &checkpoint(&no_embeddings), &device)
            .unwrap_err();
        assert!(matches!(err, Error::MissingTensor { .. }), "{err:?}");
    }

    #[test]
    fn transposes_row_major() {
        let data = TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]);
        let t = transpose(data, 2, 3).unwrap();
        assert_eq!(t.shape.to_vec(), vec![3, 2]);
        assert_eq!(
            t.to_vec::<f32>().unwrap(),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }
}
