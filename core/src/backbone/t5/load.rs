//! Hugging Face T5 checkpoint → [`T5Model`].
//!
//! Key table (`{s}` = `encoder` | `decoder`, `{f}` = FFN sub-layer index:
//! 1 in the encoder, 2 in the decoder):
//!
//! | checkpoint key                                              | module field                                          |
//! |-------------------------------------------------------------|-------------------------------------------------------|
//! | `shared.weight` `[vocab, d]`                                | `shared.weight` (also the tied LM head)               |
//! | `encoder.embed_tokens.weight`, `decoder.embed_tokens.weight`| read only when `shared.weight` is absent              |
//! | `{s}.block.{i}.layer.0.SelfAttention.{q,k,v}.weight` `[h·d_kv, d]` | `{s}.block[i].self_attention.{q,k,v}` ᵀ        |
//! | `{s}.block.{i}.layer.0.SelfAttention.o.weight` `[d, h·d_kv]`| `{s}.block[i].self_attention.o` ᵀ                     |
//! | `{s}.block.0.layer.0.SelfAttention.relative_attention_bias.weight` `[buckets, h]` | `{s}.block[0].self_attention.relative_attention_bias.embedding` |
//! | `{s}.block.{i}.layer.0.layer_norm.weight` `[d]`             | `{s}.block[i].self_attention_norm`                    |
//! | `decoder.block.{i}.layer.1.EncDecAttention.{q,k,v,o}.weight`| `decoder.block[i].cross_attention.{q,k,v,o}` ᵀ        |
//! | `decoder.block.{i}.layer.1.layer_norm.weight`               | `decoder.block[i].cross_attention_norm`               |
//! | `{s}.block.{i}.layer.{f}.DenseReluDense.wi.weight` `[d_ff, d]` (or `wi_0`) | `{s}.block[i].ffn.wi` ᵀ               |
//! | `{s}.block.{i}.layer.{f}.DenseReluDense.wi_1.weight` (gated) | `{s}.block[i].ffn.wi_1` ᵀ                            |
//! | `{s}.block.{i}.layer.{f}.DenseReluDense.wo.weight` `[d, d_ff]` | `{s}.block[i].ffn.wo` ᵀ                            |
//! | `{s}.block.{i}.layer.{f}.layer_norm.weight`                 | `{s}.block[i].ffn_norm`                               |
//! | `{s}.final_layer_norm.weight`                               | `{s}.final_layer_norm`                                |
//! | `lm_head.weight` `[vocab, d]`                               | `lm_head` ᵀ, when present                             |
//!
//! ᵀ: PyTorch stores a linear as `[out, in]`, burn as `[in, out]`.
//!
//! `lm_head.weight`: a checkpoint that has it gets its own head (transformers 5
//! unties whenever both keys hold different values, whatever the config says);
//! without it the head is `shared.weight` — an error only when the config
//! says the head is untied (`tie_word_embeddings: false`).
//!
//! Other keys (e.g. the unused `decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight`
//! of old checkpoints) are ignored.

use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::tensor::backend::Backend;

use super::attention::T5Attention;
use super::block::T5Block;
use super::config::T5Config;
use super::ffn::T5Ffn;
use super::model::T5Model;
use super::norm::T5LayerNorm;
use super::position_bias::RelativePositionBias;
use super::stack::T5Stack;
use crate::backbone::Stack;
use crate::error::{Error, Result};
use crate::loader::{ModelFiles, Weights};

/// Reads named tensors onto one device, checking their shapes.
struct Reader<'a, B: Backend> {
    weights: &'a Weights,
    config: &'a T5Config,
    device: &'a B::Device,
}

impl<B: Backend> Reader<'_, B> {
    /// A bias-free linear from a PyTorch `[out, in]` weight.
    fn linear(&self, name: &str, d_in: usize, d_out: usize) -> Result<Linear<B>> {
        let weight = self
            .weights
            .tensor::<B, 2>(name, [d_out, d_in], self.device)?;
        Ok(Linear {
            weight: Param::from_tensor(weight.transpose()),
            bias: None,
        })
    }

    fn norm(&self, name: &str) -> Result<T5LayerNorm<B>> {
        let d = self.config.d_model;
        Ok(T5LayerNorm {
            weight: Param::from_tensor(self.weights.tensor::<B, 1>(name, [d], self.device)?),
            epsilon: self.config.layer_norm_epsilon,
        })
    }

    fn embedding(&self, name: &str, rows: usize, width: usize) -> Result<Embedding<B>> {
        Ok(Embedding {
            weight: Param::from_tensor(self.weights.tensor::<B, 2>(
                name,
                [rows, width],
                self.device,
            )?),
        })
    }

    fn attention(&self, prefix: &str, relative_bias: Option<bool>) -> Result<T5Attention<B>> {
        let c = self.config;
        let (d, inner) = (c.d_model, c.inner_dim());
        let relative_attention_bias = match relative_bias {
            Some(bidirectional) => Some(RelativePositionBias {
                embedding: self.embedding(
                    &format!("{prefix}.relative_attention_bias.weight"),
                    c.relative_attention_num_buckets,
                    c.num_heads,
                )?,
                num_buckets: c.relative_attention_num_buckets,
                max_distance: c.relative_attention_max_distance,
                bidirectional,
            }),
            None => None,
        };
        Ok(T5Attention {
            q: self.linear(&format!("{prefix}.q.weight"), d, inner)?,
            k: self.linear(&format!("{prefix}.k.weight"), d, inner)?,
            v: self.linear(&format!("{prefix}.v.weight"), d, inner)?,
            o: self.linear(&format!("{prefix}.o.weight"), inner, d)?,
            relative_attention_bias,
            num_heads: c.num_heads,
            d_kv: c.d_kv,
        })
    }

    fn ffn(&self, prefix: &str) -> Result<T5Ffn<B>> {
        let c = self.config;
        let feed_forward = c.feed_forward();
        let (d, d_ff) = (c.d_model, c.d_ff);
        let (wi, wi_1) = if feed_forward.gated {
            (
                self.linear(&format!("{prefix}.wi_0.weight"), d, d_ff)?,
                Some(self.linear(&format!("{prefix}.wi_1.weight"), d, d_ff)?),
            )
        } else {
            (self.linear(&format!("{prefix}.wi.weight"), d, d_ff)?, None)
        };
        Ok(T5Ffn {
            wi,
            wi_1,
            wo: self.linear(&format!("{prefix}.wo.weight"), d_ff, d)?,
            activation: feed_forward.activation,
        })
    }

    fn block(&self, stack: Stack, index: usize) -> Result<T5Block<B>> {
        let is_decoder = stack == Stack::Decoder;
        let prefix = format!(
            "{}.block.{index}",
            if is_decoder { "decoder" } else { "encoder" }
        );
        let ffn_layer = if is_decoder { 2 } else { 1 };
        let (cross_attention, cross_attention_norm) = if is_decoder {
            (
                Some(self.attention(&format!("{prefix}.layer.1.EncDecAttention"), None)?),
                Some(self.norm(&format!("{prefix}.layer.1.layer_norm.weight"))?),
            )
        } else {
            (None, None)
        };
        Ok(T5Block {
            self_attention: self.attention(
                &format!("{prefix}.layer.0.SelfAttention"),
                (index == 0).then_some(!is_decoder),
            )?,
            self_attention_norm: self.norm(&format!("{prefix}.layer.0.layer_norm.weight"))?,
            cross_attention,
            cross_attention_norm,
            ffn: self.ffn(&format!("{prefix}.layer.{ffn_layer}.DenseReluDense"))?,
            ffn_norm: self.norm(&format!("{prefix}.layer.{ffn_layer}.layer_norm.weight"))?,
        })
    }

    fn stack(&self, stack: Stack) -> Result<T5Stack<B>> {
        let name = if stack == Stack::Decoder {
            "decoder"
        } else {
            "encoder"
        };
        let block = (0..self.config.num_blocks(stack))
            .map(|index| self.block(stack, index))
            .collect::<Result<Vec<_>>>()?;
        Ok(T5Stack {
            block,
            final_layer_norm: self.norm(&format!("{name}.final_layer_norm.weight"))?,
            stack,
        })
    }

    fn shared(&self) -> Result<Embedding<B>> {
        let (vocab, d) = (self.config.vocab_size, self.config.d_model);
        // Some exports keep only the per-stack copies of the tied embedding.
        let name = [
            "shared.weight",
            "encoder.embed_tokens.weight",
            "decoder.embed_tokens.weight",
        ]
        .into_iter()
        .find(|name| self.weights.contains(name))
        .unwrap_or("shared.weight");
        self.embedding(name, vocab, d)
    }

    fn lm_head(&self) -> Result<Option<Linear<B>>> {
        let (vocab, d) = (self.config.vocab_size, self.config.d_model);
        if self.weights.contains("lm_head.weight") {
            return Ok(Some(self.linear("lm_head.weight", d, vocab)?));
        }
        if self.config.has_untied_lm_head() {
            return Err(Error::MissingTensor {
                name: "lm_head.weight".into(),
            });
        }
        Ok(None)
    }
}

impl<B: Backend> T5Model<B> {
    /// Builds the model from a checkpoint's tensors (any of f32 / f16 / bf16,
    /// computed in f32). Missing or mis-shaped tensors give
    /// [`Error::MissingTensor`] / [`Error::ShapeMismatch`] naming the key.
    pub fn from_weights(config: &T5Config, weights: &Weights, device: &B::Device) -> Result<Self> {
        config.validate()?;
        let reader = Reader::<B> {
            weights,
            config,
            device,
        };
        Ok(T5Model {
            shared: reader.shared()?,
            encoder: reader.stack(Stack::Encoder)?,
            decoder: reader.stack(Stack::Decoder)?,
            lm_head: reader.lm_head()?,
            config: config.clone(),
        })
    }

    /// Parses `config.json` and loads the checkpoint of a model directory's files.
    pub fn from_files(files: &ModelFiles, device: &B::Device) -> Result<Self> {
        let config = T5Config::from_json(&files.config_json)?;
        Self::from_weights(&config, &files.weights, device)
    }
}
