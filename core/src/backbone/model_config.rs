//! A Hugging Face `config.json` of any supported backbone, dispatched on its
//! `model_type`, and what the search needs from it without weights: the
//! [`BackboneShape`] and the names of its hook sites.

use crate::backbone::bert::{self, BertConfig};
use crate::backbone::t5::{self, T5Config};
use crate::backbone::Site;
use crate::error::{Error, Result};
use crate::space::shape::{BackboneShape, Family};

/// The `model_type`s bipeft reads.
pub const SUPPORTED_MODEL_TYPES: &str = "t5, bert, roberta, xlm-roberta";

/// A parsed backbone configuration.
#[derive(Clone, Debug)]
pub enum BackboneConfig {
    T5(T5Config),
    Bert(BertConfig),
}

/// The largest sizes bipeft accepts in a `config.json`: far above any
/// released model (T5-XXL: d_ff 65,536, 24 layers; vocabularies of 250k), and
/// low enough that parameter counts stay far below 2^64.
const MAX_VOCAB: usize = 1 << 22;
const MAX_WIDTH: usize = 1 << 16;
const MAX_FFN: usize = 1 << 20;
const MAX_LAYERS: usize = 1 << 10;
const MAX_HEADS: usize = 1 << 12;
const MAX_POSITIONS: usize = 1 << 20;

impl BackboneConfig {
    /// Parses `config.json`, choosing the family by `model_type`.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::MalformedConfig {
            file: "config.json".into(),
            message: format!("not valid JSON: {e}"),
        })?;
        let config = match value.get("model_type").and_then(|v| v.as_str()) {
            Some("t5") => BackboneConfig::T5(T5Config::from_value(&value)?),
            Some("bert" | "roberta" | "xlm-roberta") => BackboneConfig::Bert(BertConfig::from_json(text)?),
            Some(other) => {
                return Err(Error::UnknownModelType {
                    found: other.to_string(),
                    supported: SUPPORTED_MODEL_TYPES.into(),
                })
            }
            None => {
                return Err(Error::MalformedConfig {
                    file: "config.json".into(),
                    message: "field `model_type` is missing or not a string".into(),
                })
            }
        };
        config.check_sizes()?;
        Ok(config)
    }

    /// Every size within its bound (the `MAX_` constants) and the widths above 0, before
    /// anything is allocated or counted (the limits keep every parameter
    /// count far from overflowing).
    fn check_sizes(&self) -> Result<()> {
        let sizes: Vec<(&str, usize, usize, usize)> = match self {
            BackboneConfig::Bert(c) => vec![
                ("vocab_size", c.vocab_size, 1, MAX_VOCAB),
                ("hidden_size", c.hidden_size, 1, MAX_WIDTH),
                ("num_hidden_layers", c.num_hidden_layers, 1, MAX_LAYERS),
                ("num_attention_heads", c.num_attention_heads, 1, MAX_HEADS),
                ("intermediate_size", c.intermediate_size, 1, MAX_FFN),
                ("max_position_embeddings", c.max_position_embeddings, 1, MAX_POSITIONS),
                ("type_vocab_size", c.type_vocab_size, 0, 1 << 10),
            ],
            BackboneConfig::T5(c) => vec![
                ("vocab_size", c.vocab_size, 1, MAX_VOCAB),
                ("d_model", c.d_model, 1, MAX_WIDTH),
                ("d_kv", c.d_kv, 1, MAX_WIDTH),
                ("d_ff", c.d_ff, 1, MAX_FFN),
                ("num_layers", c.num_layers, 1, MAX_LAYERS),
                ("num_decoder_layers", c.num_decoder_layers, 1, MAX_LAYERS),
                ("num_heads", c.num_heads, 1, MAX_HEADS),
                ("relative_attention_num_buckets", c.relative_attention_num_buckets, 1, 1 << 12),
            ],
        };
        for (field, value, min, max) in sizes {
            if value < min || value > max {
                return Err(Error::MalformedConfig {
                    file: "config.json".into(),
                    message: format!("`{field}` is {value}; it must lie in {min}..={max}"),
                });
            }
        }
        Ok(())
    }

    /// The `model_type` as Hugging Face writes it.
    pub fn model_type(&self) -> &'static str {
        match self {
            BackboneConfig::T5(_) => "t5",
            BackboneConfig::Bert(c) => match c.kind {
                bert::BertKind::Bert => "bert",
                bert::BertKind::Roberta => "roberta",
            },
        }
    }

    /// Parameters of the backbone (what a budget share is a share of).
    pub fn num_params(&self) -> u64 {
        match self {
            BackboneConfig::T5(c) => c.num_params() as u64,
            BackboneConfig::Bert(c) => (c.param_count() + c.pooler_param_count()) as u64,
        }
    }

    /// Widths and depths for the search-space catalogue.
    pub fn shape(&self) -> BackboneShape {
        match self {
            BackboneConfig::T5(c) => BackboneShape {
                model_type: "t5".into(),
                family: Family::T5,
                d_model: c.d_model,
                d_ff: c.d_ff,
                d_kv: c.d_kv,
                heads: c.num_heads,
                encoder_layers: c.num_layers,
                decoder_layers: c.num_decoder_layers,
                gated_ffn: c.feed_forward().gated,
                linear_biases: false,
                vocab: c.vocab_size,
                backbone_params: self.num_params(),
            },
            BackboneConfig::Bert(c) => BackboneShape {
                model_type: self.model_type().into(),
                family: Family::Encoder,
                d_model: c.hidden_size,
                d_ff: c.intermediate_size,
                d_kv: c.head_size(),
                heads: c.num_attention_heads,
                encoder_layers: c.num_hidden_layers,
                decoder_layers: 0,
                gated_ffn: false,
                linear_biases: true,
                vocab: c.vocab_size,
                backbone_params: self.num_params(),
            },
        }
    }

    /// A naming function for hook sites: Hugging Face module paths as the
    /// checkpoint names them (`key_prefix` is BERT's `bert.` / `roberta.` when
    /// the checkpoint is a task model; "" otherwise, and always "" for T5).
    pub fn site_namer(&self, key_prefix: &str) -> impl Fn(Site) -> String + '_ {
        let prefix = key_prefix.to_string();
        move |site: Site| match self {
            BackboneConfig::T5(c) => t5::site_name(site, c),
            BackboneConfig::Bert(_) => bert::site_name(site, &prefix)
                .unwrap_or_else(|| format!("{prefix}<no {:?} {:?} in a BERT encoder>", site.stack, site.point)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatches_on_model_type() {
        let err = BackboneConfig::from_json(r#"{"model_type": "gpt2"}"#).unwrap_err().to_string();
        assert_eq!(err, "unknown model_type \"gpt2\" in config.json (supported: t5, bert, roberta, xlm-roberta)");
        let err = BackboneConfig::from_json("{").unwrap_err().to_string();
        assert!(err.starts_with("malformed config.json: not valid JSON"), "{err}");
        let err = BackboneConfig::from_json("{}").unwrap_err().to_string();
        assert_eq!(err, "malformed config.json: field `model_type` is missing or not a string");
    }

    #[test]
    fn sizes_out_of_bounds_are_named_before_anything_is_counted() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/web/tiny-bert/config.json");
        let text = std::fs::read_to_string(dir).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        BackboneConfig::from_json(&text).unwrap();
        let with = |field: &str, n: u64| {
            let mut v = value.clone();
            v[field] = n.into();
            BackboneConfig::from_json(&v.to_string()).unwrap_err().to_string()
        };
        let err = with("num_hidden_layers", 1_000_000_000);
        assert_eq!(
            err,
            "malformed config.json: `num_hidden_layers` is 1000000000; it must lie in 1..=1024"
        );
        assert!(with("hidden_size", 1 << 62).contains("`hidden_size` is 4611686018427387904"));
        let err = with("vocab_size", 0);
        assert!(err.contains("vocab_size"), "{err}");
        value["model_type"] = "bert".into();
        assert!(BackboneConfig::from_json(&value.to_string()).is_ok());
    }
}
