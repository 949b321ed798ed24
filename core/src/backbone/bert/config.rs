//! The BERT-family `config.json`, read the way `transformers` reads it: missing
//! fields take `BertConfig` / `RobertaConfig`'s defaults, and a field of the wrong
//! type or an unsupported value is an error that names the field.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Which member of the family: it decides the position ids and checkpoint prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BertKind {
    /// `model_type` "bert" (BERT, MiniLM and other BERT-shaped encoders).
    Bert,
    /// `model_type` "roberta" or "xlm-roberta": position ids start at
    /// `pad_token_id + 1` and skip padding.
    Roberta,
}

impl BertKind {
    /// The attribute name `transformers` gives the backbone inside task models
    /// (`BertForSequenceClassification.bert`), which prefixes their checkpoint keys.
    pub fn base_model_prefix(self) -> &'static str {
        match self {
            BertKind::Bert => "bert",
            BertKind::Roberta => "roberta",
        }
    }
}

/// The FFN activation (`hidden_act`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Activation {
    /// "gelu": the exact, erf-based GELU.
    Gelu,
    /// "gelu_new" (also "gelu_pytorch_tanh", the same formula): the tanh approximation.
    GeluNew,
    /// "relu".
    Relu,
}

/// Shape and options of a BERT-family encoder.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BertConfig {
    pub kind: BertKind,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: Activation,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    /// Needed by RoBERTa's position ids; BERT only passes it on.
    pub pad_token_id: Option<usize>,
    /// Standard deviation of freshly initialised weights (heads, random models).
    pub initializer_range: f64,
    /// Labels of a task model (`id2label`'s size, else `num_labels`), when the
    /// config names them.
    pub num_labels: Option<usize>,
}

/// `model_type` values accepted, for error messages.
const SUPPORTED: &str = "bert, roberta, xlm-roberta";
const FILE: &str = "config.json";

fn malformed(message: String) -> Error {
    Error::MalformedConfig {
        file: FILE.into(),
        message,
    }
}

/// An optional non-negative integer field.
fn opt_usize(map: &Map<String, Value>, field: &str) -> Result<Option<usize>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                malformed(format!(
                    "field `{field}` must be a non-negative integer, found {v}"
                ))
            }),
    }
}

fn usize_or(map: &Map<String, Value>, field: &str, default: usize) -> Result<usize> {
    Ok(opt_usize(map, field)?.unwrap_or(default))
}

fn f64_or(map: &Map<String, Value>, field: &str, default: f64) -> Result<f64> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .ok_or_else(|| malformed(format!("field `{field}` must be a number, found {v}"))),
    }
}

fn str_or<'a>(map: &'a Map<String, Value>, field: &str, default: &'a str) -> Result<&'a str> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_str()
            .ok_or_else(|| malformed(format!("field `{field}` must be a string, found {v}"))),
    }
}

impl BertConfig {
    /// Parses a Hugging Face `config.json`.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| malformed(format!("not valid JSON: {e}")))?;
        let map = value
            .as_object()
            .ok_or_else(|| malformed("the top level must be a JSON object".into()))?;

        let model_type = match map.get("model_type") {
            Some(Value::String(s)) => s.as_str(),
            Some(v) => {
                return Err(malformed(format!(
                    "field `model_type` must be a string, found {v}"
                )))
            }
            None => return Err(malformed("field `model_type` is missing".into())),
        };
        let kind = match model_type {
            "bert" => BertKind::Bert,
            "roberta" | "xlm-roberta" => BertKind::Roberta,
            other => {
                return Err(Error::UnknownModelType {
                    found: other.into(),
                    supported: SUPPORTED.into(),
                })
            }
        };
        // The defaults of transformers' BertConfig / RobertaConfig.
        let (default_vocab, default_pad) = match kind {
            BertKind::Bert => (30522, Some(0)),
            BertKind::Roberta => (50265, Some(1)),
        };

        let hidden_act = match str_or(map, "hidden_act", "gelu")? {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluNew,
            "relu" => Activation::Relu,
            other => {
                return Err(malformed(format!(
                    "field `hidden_act` is \"{other}\"; supported: gelu, gelu_new, gelu_pytorch_tanh, relu"
                )))
            }
        };
        // Relative position embeddings were dropped from transformers' BERT; only
        // the absolute ones exist in checkpoints bipeft can load.
        let position_type = str_or(map, "position_embedding_type", "absolute")?;
        if position_type != "absolute" {
            return Err(malformed(format!(
                "field `position_embedding_type` is \"{position_type}\"; only \"absolute\" is supported"
            )));
        }
        if map.get("is_decoder").and_then(Value::as_bool) == Some(true) {
            return Err(malformed(
                "field `is_decoder` is true; only encoder (bidirectional) models are supported"
                    .into(),
            ));
        }
        let pad_token_id = match map.get("pad_token_id") {
            // An explicit null means "no padding token", unlike a missing field.
            Some(Value::Null) => None,
            None => default_pad,
            Some(_) => opt_usize(map, "pad_token_id")?,
        };
        let num_labels = match map.get("id2label") {
            Some(Value::Object(labels)) => Some(labels.len()),
            Some(Value::Null) | None => opt_usize(map, "num_labels")?,
            Some(v) => {
                return Err(malformed(format!(
                    "field `id2label` must be an object, found {v}"
                )))
            }
        };

        let config = BertConfig {
            kind,
            vocab_size: usize_or(map, "vocab_size", default_vocab)?,
            hidden_size: usize_or(map, "hidden_size", 768)?,
            num_hidden_layers: usize_or(map, "num_hidden_layers", 12)?,
            num_attention_heads: usize_or(map, "num_attention_heads", 12)?,
            intermediate_size: usize_or(map, "intermediate_size", 3072)?,
            hidden_act,
            max_position_embeddings: usize_or(map, "max_position_embeddings", 512)?,
            type_vocab_size: usize_or(map, "type_vocab_size", 2)?,
            layer_norm_eps: f64_or(map, "layer_norm_eps", 1e-12)?,
            pad_token_id,
            initializer_range: f64_or(map, "initializer_range", 0.02)?,
            num_labels,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the relations between fields that a forward pass relies on.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(malformed(format!("field `{field}` must be positive")));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(malformed(format!(
                "field `hidden_size` ({}) must be a multiple of `num_attention_heads` ({})",
                self.hidden_size, self.num_attention_heads
            )));
        }
        if self.layer_norm_eps <= 0.0 || !self.layer_norm_eps.is_finite() {
            return Err(malformed(format!(
                "field `layer_norm_eps` must be positive, found {}",
                self.layer_norm_eps
            )));
        }
        if self.kind == BertKind::Roberta {
            let pad = self.pad_token_id.ok_or_else(|| {
                malformed("field `pad_token_id` is required for RoBERTa models".into())
            })?;
            if pad + 2 > self.max_position_embeddings {
                return Err(malformed(format!(
                    "field `max_position_embeddings` ({}) leaves no positions after `pad_token_id` ({pad})",
                    self.max_position_embeddings
                )));
            }
        }
        if let Some(pad) = self.pad_token_id {
            if pad >= self.vocab_size {
                return Err(malformed(format!(
                    "field `pad_token_id` ({pad}) is outside the vocabulary (`vocab_size` {})",
                    self.vocab_size
                )));
            }
        }
        Ok(())
    }

    /// Size of one attention head.
    pub fn head_size(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The longest sequence the position embeddings cover. RoBERTa spends the
    /// first `pad_token_id + 1` positions on padding, so it has fewer.
    pub fn max_sequence_length(&self) -> usize {
        match (self.kind, self.pad_token_id) {
            (BertKind::Roberta, Some(pad)) => self.max_position_embeddings.saturating_sub(pad + 1),
            _ => self.max_position_embeddings,
        }
    }

    /// Parameters of the encoder as [`super::BertModel`] holds it: embeddings and
    /// blocks, without the pooler (see [`Self::pooler_param_count`]).
    pub fn param_count(&self) -> usize {
        let h = self.hidden_size;
        let i = self.intermediate_size;
        let norm = 2 * h;
        let embeddings =
            (self.vocab_size + self.max_position_embeddings + self.type_vocab_size) * h + norm;
        let attention = 4 * (h * h + h) + norm;
        let ffn = (h * i + i) + (i * h + h) + norm;
        embeddings + self.num_hidden_layers * (attention + ffn)
    }

    /// Parameters of the `[CLS]` pooler (dense `hidden → hidden`).
    pub fn pooler_param_count(&self) -> usize {
        self.hidden_size * self.hidden_size + self.hidden_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINILM: &str = r#"{
      "architectures": ["BertModel"], "hidden_act": "gelu", "hidden_size": 384,
      "intermediate_size": 1536, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
      "model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 6,
      "pad_token_id": 0, "position_embedding_type": "absolute", "type_vocab_size": 2,
      "vocab_size": 30522 }"#;

    #[test]
    fn reads_minilm_and_counts_its_parameters() {
        let c = BertConfig::from_json(MINILM).unwrap();
        assert_eq!(c.kind, BertKind::Bert);
        assert_eq!(c.head_size(), 32);
        assert_eq!(c.hidden_act, Activation::Gelu);
        assert_eq!(c.num_labels, None);
        // all-MiniLM-L6-v2 has 22,713,216 parameters with its pooler.
        assert_eq!(c.param_count() + c.pooler_param_count(), 22_713_216);
    }

    #[test]
    fn missing_fields_take_the_model_types_defaults() {
        let bert = BertConfig::from_json(r#"{"model_type": "bert"}"#).unwrap();
        assert_eq!(
            (
                bert.vocab_size,
                bert.hidden_size,
                bert.pad_token_id,
                bert.layer_norm_eps
            ),
            (30522, 768, Some(0), 1e-12)
        );
        let roberta = BertConfig::from_json(r#"{"model_type": "roberta"}"#).unwrap();
        assert_eq!((roberta.vocab_size, roberta.pad_token_id), (50265, Some(1)));
        assert_eq!(roberta.max_sequence_length(), 510);
        let labels = BertConfig::from_json(
            r#"{"model_type": "bert", "id2label": {"0": "neg", "1": "pos"}, "num_labels": 5}"#,
        )
        .unwrap();
        assert_eq!(labels.num_labels, Some(2));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                r#"{"model_type": "bert", "hidden_size": "big"}"#,
                "`hidden_size`",
            ),
            (
                r#"{"model_type": "bert", "hidden_act": "swish"}"#,
                "`hidden_act`",
            ),
            (
                r#"{"model_type": "bert", "hidden_size": 100, "num_attention_heads": 3}"#,
                "`hidden_size`",
            ),
            (
                r#"{"model_type": "bert", "layer_norm_eps": "tiny"}"#,
                "`layer_norm_eps`",
            ),
            (
                r#"{"model_type": "bert", "position_embedding_type": "relative_key"}"#,
                "`position_embedding_type`",
            ),
            (
                r#"{"model_type": "bert", "is_decoder": true}"#,
                "`is_decoder`",
            ),
            (
                r#"{"model_type": "roberta", "pad_token_id": null}"#,
                "`pad_token_id`",
            ),
            (r#"{"hidden_size": 8}"#, "`model_type`"),
        ];
        for (json, field) in cases {
            let err = BertConfig::from_json(json).unwrap_err();
            assert!(
                matches!(err, Error::MalformedConfig { .. }),
                "{json}: {err:?}"
            );
            assert!(err.to_string().contains(field), "{json}: {err}");
        }
        let err = BertConfig::from_json(r#"{"model_type": "t5"}"#).unwrap_err();
        assert!(
            matches!(err, Error::UnknownModelType { ref found, .. } if found == "t5"),
            "{err:?}"
        );
        let err = BertConfig::from_json("[1, 2]").unwrap_err();
        assert!(matches!(err, Error::MalformedConfig { .. }), "{err:?}");
    }
}
