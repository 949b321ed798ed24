//! `T5Config`: a Hugging Face T5 `config.json`, read field by field so that bad
//! input names the field it is about.
//!
//! Defaults are those of `transformers`' `T5Config`
//! (`models/t5/configuration_t5.py`, transformers 5.24), except that the sizes
//! (`vocab_size`, `d_model`, `d_kv`, `d_ff`, `num_layers`, `num_heads`) are
//! required: a `config.json` without them is not a T5 checkpoint's, and
//! silently building t5-small shapes would only fail later with puzzling shape
//! errors.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The non-linearity of the feed-forward block, by its `transformers` name
/// (`ACT2FN` in `activations.py`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// `relu` (original T5).
    Relu,
    /// `gelu`: the exact, erf-based GELU.
    Gelu,
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation
    /// (T5 v1.1 / FLAN use it through `"gated-gelu"`).
    GeluTanh,
    /// `silu` / `swish`.
    Silu,
    /// `quick_gelu`: `x · sigmoid(1.702 x)`.
    QuickGelu,
    /// `tanh`.
    Tanh,
    /// `sigmoid`.
    Sigmoid,
    /// `relu6`.
    Relu6,
    /// `linear`: the identity.
    Linear,
}

impl Activation {
    /// The activation `transformers` looks up under `name`.
    pub fn from_hf_name(name: &str) -> Option<Self> {
        Some(match name {
            "relu" => Activation::Relu,
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "silu" | "swish" => Activation::Silu,
            "quick_gelu" => Activation::QuickGelu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "relu6" => Activation::Relu6,
            "linear" => Activation::Linear,
            _ => return None,
        })
    }
}

/// The feed-forward block a `feed_forward_proj` string asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedForward {
    /// `true` for `"gated-…"`: `wo(act(wi_0 x) · wi_1 x)`; else `wo(act(wi x))`.
    pub gated: bool,
    pub activation: Activation,
}

impl FeedForward {
    /// Parses `feed_forward_proj` as `transformers` does: `"{act}"` or
    /// `"gated-{act}"`, where `"gated-gelu"` means `gelu_new` for backward
    /// compatibility (so plain `"gelu"` is the exact GELU).
    pub fn parse(feed_forward_proj: &str) -> Option<Self> {
        let parts: Vec<&str> = feed_forward_proj.split('-').collect();
        let (gated, name) = match parts.as_slice() {
            [name] => (false, *name),
            ["gated", name] => (true, *name),
            _ => return None,
        };
        let activation = if feed_forward_proj == "gated-gelu" {
            Activation::GeluTanh
        } else {
            Activation::from_hf_name(name)?
        };
        Some(FeedForward { gated, activation })
    }
}

/// A T5 (original, v1.1, FLAN, mT5) configuration, as in `config.json`.
///
/// Serialising it writes a `config.json` that `transformers` reads back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct T5Config {
    pub vocab_size: usize,
    pub d_model: usize,
    /// Width of one attention head (`num_heads · d_kv` need not equal `d_model`).
    pub d_kv: usize,
    pub d_ff: usize,
    /// Encoder blocks.
    pub num_layers: usize,
    /// Decoder blocks (`num_layers` when absent).
    pub num_decoder_layers: usize,
    pub num_heads: usize,
    pub relative_attention_num_buckets: usize,
    pub relative_attention_max_distance: usize,
    pub layer_norm_epsilon: f64,
    /// `"relu"`, `"gated-gelu"`, … as written; [`T5Config::feed_forward`] parses it.
    pub feed_forward_proj: String,
    /// Whether the LM head reuses `shared.weight` when the checkpoint has no
    /// `lm_head.weight`.
    pub tie_word_embeddings: bool,
    /// Whether the decoder output is multiplied by `d_model^-0.5` before the LM
    /// head (original T5). transformers 5 writes this key; older configs imply
    /// it from `tie_word_embeddings` (tied ⇒ scaled), as transformers does.
    pub scale_decoder_outputs: bool,
    /// The first decoder input (T5 uses the pad token).
    pub decoder_start_token_id: u32,
    pub pad_token_id: u32,
    /// Ids that end a generated sequence (`eos_token_id`, an int or a list).
    pub eos_token_id: Vec<u32>,
}

/// The file name used in this module's error messages.
const FILE: &str = "config.json";

fn malformed(message: String) -> Error {
    Error::MalformedConfig {
        file: FILE.into(),
        message,
    }
}

/// Reads the fields of one JSON object, naming the field in every error.
struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl Fields<'_> {
    /// The value of `name`, treating JSON `null` as absent (transformers writes
    /// `null` for unset optional fields).
    fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn usize(&self, name: &str, default: Option<usize>) -> Result<usize> {
        match self.get(name) {
            None => default.ok_or_else(|| malformed(format!("missing required field `{name}`"))),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    malformed(format!(
                        "field `{name}` must be a non-negative integer, found {v}"
                    ))
                }),
        }
    }

    fn positive(&self, name: &str, default: Option<usize>) -> Result<usize> {
        let n = self.usize(name, default)?;
        if n == 0 {
            return Err(malformed(format!(
                "field `{name}` must be at least 1, found 0"
            )));
        }
        Ok(n)
    }

    fn token_id(&self, name: &str, default: u32) -> Result<u32> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| malformed(format!("field `{name}` must be a token id, found {v}"))),
        }
    }

    fn f64(&self, name: &str, default: f64) -> Result<f64> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| malformed(format!("field `{name}` must be a number, found {v}"))),
        }
    }

    fn bool(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).ok_or_else(|| {
                malformed(format!("field `{name}` must be true or false, found {v}"))
            }),
        }
    }

    fn string(&self, name: &str, default: &str) -> Result<String> {
        match self.get(name) {
            None => Ok(default.to_string()),
            Some(v) => v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| malformed(format!("field `{name}` must be a string, found {v}"))),
        }
    }

    /// `eos_token_id`: an int or a list of ints (transformers allows both).
    fn token_ids(&self, name: &str, default: u32) -> Result<Vec<u32>> {
        let bad = |v: &Value| {
            malformed(format!(
                "field `{name}` must be a token id or a list of them, found {v}"
            ))
        };
        match self.get(name) {
            None => Ok(vec![default]),
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|item| {
                    item.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| bad(item))
                })
                .collect(),
            Some(v) => Ok(vec![v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad(v))?]),
        }
    }
}

impl T5Config {
    /// Parses the text of a Hugging Face T5 `config.json`.
    ///
    /// Bad input gives [`Error::MalformedConfig`] naming the field; a
    /// `model_type` other than `t5` / `mt5` gives [`Error::UnknownModelType`].
    pub fn from_json(text: &str) -> Result<Self> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| malformed(format!("not valid JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// As [`T5Config::from_json`], from parsed JSON.
    pub fn from_value(value: &Value) -> Result<Self> {
        let map = value
            .as_object()
            .ok_or_else(|| malformed("expected a JSON object".into()))?;
        let f = Fields { map };

        if let Some(model_type) = f.get("model_type") {
            let model_type = model_type.as_str().ok_or_else(|| {
                malformed(format!(
                    "field `model_type` must be a string, found {model_type}"
                ))
            })?;
            if model_type != "t5" && model_type != "mt5" {
                return Err(Error::UnknownModelType {
                    found: model_type.to_string(),
                    supported: "t5, mt5".into(),
                });
            }
        }

        let num_layers = f.positive("num_layers", None)?;
        let tie_word_embeddings = f.bool("tie_word_embeddings")?.unwrap_or(true);
        let pad_token_id = f.token_id("pad_token_id", 0)?;
        let config = T5Config {
            vocab_size: f.positive("vocab_size", None)?,
            d_model: f.positive("d_model", None)?,
            d_kv: f.positive("d_kv", None)?,
            d_ff: f.positive("d_ff", None)?,
            num_layers,
            num_decoder_layers: f.positive("num_decoder_layers", Some(num_layers))?,
            num_heads: f.positive("num_heads", None)?,
            relative_attention_num_buckets: f.usize("relative_attention_num_buckets", Some(32))?,
            relative_attention_max_distance: f
                .usize("relative_attention_max_distance", Some(128))?,
            layer_norm_epsilon: f.f64("layer_norm_epsilon", 1e-6)?,
            feed_forward_proj: f.string("feed_forward_proj", "relu")?,
            tie_word_embeddings,
            // transformers: `scale_decoder_outputs = tie_word_embeddings is not False`,
            // overridden by the key itself where a transformers 5 config has it.
            scale_decoder_outputs: f
                .bool("scale_decoder_outputs")?
                .unwrap_or(tie_word_embeddings),
            // transformers 5 refuses to shift labels without it; T5 checkpoints
            // all start decoding with the pad token, so that is the fallback.
            decoder_start_token_id: f.token_id("decoder_start_token_id", pad_token_id)?,
            pad_token_id,
            eos_token_id: f.token_ids("eos_token_id", 1)?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks what the model code relies on; [`T5Config::from_json`] calls it.
    pub fn validate(&self) -> Result<()> {
        for (name, n) in [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("d_kv", self.d_kv),
            ("d_ff", self.d_ff),
            ("num_layers", self.num_layers),
            ("num_decoder_layers", self.num_decoder_layers),
            ("num_heads", self.num_heads),
        ] {
            if n == 0 {
                return Err(malformed(format!(
                    "field `{name}` must be at least 1, found 0"
                )));
            }
        }
        if FeedForward::parse(&self.feed_forward_proj).is_none() {
            return Err(malformed(format!(
                "field `feed_forward_proj` must be \"{{act}}\" or \"gated-{{act}}\" with a known \
                 activation (relu, gelu, gelu_new, silu, …), found \"{}\"",
                self.feed_forward_proj
            )));
        }
        // The bucket function divides by num_buckets/4 (bidirectional) and takes
        // log(max_distance / max_exact): both must be positive.
        let buckets = self.relative_attention_num_buckets;
        if buckets < 4 {
            return Err(malformed(format!(
                "field `relative_attention_num_buckets` must be at least 4, found {buckets}"
            )));
        }
        if self.relative_attention_max_distance <= buckets / 2 {
            return Err(malformed(format!(
                "field `relative_attention_max_distance` must exceed relative_attention_num_buckets / 2 \
                 ({}), found {}",
                buckets / 2,
                self.relative_attention_max_distance
            )));
        }
        if !(self.layer_norm_epsilon.is_finite() && self.layer_norm_epsilon > 0.0) {
            return Err(malformed(format!(
                "field `layer_norm_epsilon` must be a positive number, found {}",
                self.layer_norm_epsilon
            )));
        }
        if self.eos_token_id.is_empty() {
            return Err(malformed(
                "field `eos_token_id` must name at least one token".into(),
            ));
        }
        let vocab = self.vocab_size as u64;
        let ids = [
            ("pad_token_id", self.pad_token_id),
            ("decoder_start_token_id", self.decoder_start_token_id),
        ]
        .into_iter()
        .chain(self.eos_token_id.iter().map(|&id| ("eos_token_id", id)));
        for (name, id) in ids {
            if u64::from(id) >= vocab {
                return Err(malformed(format!(
                    "field `{name}` is {id}, outside the vocabulary of {vocab} tokens"
                )));
            }
        }
        Ok(())
    }

    /// The feed-forward block (`feed_forward_proj` parsed; valid after `validate`).
    pub fn feed_forward(&self) -> FeedForward {
        FeedForward::parse(&self.feed_forward_proj).unwrap_or(FeedForward {
            gated: false,
            activation: Activation::Relu,
        })
    }

    /// Width of the concatenated attention heads (`num_heads · d_kv`).
    pub fn inner_dim(&self) -> usize {
        self.num_heads * self.d_kv
    }

    /// Number of blocks of a stack.
    pub fn num_blocks(&self, stack: crate::backbone::Stack) -> usize {
        match stack {
            crate::backbone::Stack::Encoder => self.num_layers,
            crate::backbone::Stack::Decoder => self.num_decoder_layers,
        }
    }

    /// Whether a model built from this config alone has its own `lm_head`.
    /// (A checkpoint with an `lm_head.weight` gets one anyway: see `load.rs`.)
    pub fn has_untied_lm_head(&self) -> bool {
        !self.tie_word_embeddings
    }

    /// The backbone's parameter count: `shared`, both stacks, and `lm_head`
    /// when untied — what `sum(p.numel() for p in model.parameters())` gives
    /// for `T5ForConditionalGeneration` (737,668,096 for T5-large).
    pub fn num_params(&self) -> usize {
        let d = self.d_model;
        let attention = 4 * d * self.inner_dim();
        let ffn = if self.feed_forward().gated { 3 } else { 2 } * d * self.d_ff;
        let encoder_block = attention + d + ffn + d;
        let decoder_block = encoder_block + attention + d;
        let relative_bias = self.relative_attention_num_buckets * self.num_heads;
        let encoder = self.num_layers * encoder_block + relative_bias + d;
        let decoder = self.num_decoder_layers * decoder_block + relative_bias + d;
        let embeddings = self.vocab_size * d;
        let lm_head = if self.has_untied_lm_head() {
            embeddings
        } else {
            0
        };
        embeddings + encoder + decoder + lm_head
    }

    /// The config as `config.json` text (transformers reads it back).
    pub fn to_json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("model_type".into(), "t5".into());
            map.insert("is_encoder_decoder".into(), true.into());
            map.insert(
                "architectures".into(),
                serde_json::json!(["T5ForConditionalGeneration"]),
            );
        }
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

impl TryFrom<Value> for T5Config {
    type Error = Error;

    fn try_from(value: Value) -> Result<Self> {
        Self::from_value(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"{
        "model_type": "t5", "vocab_size": 100, "d_model": 8, "d_kv": 4, "d_ff": 16,
        "num_layers": 2, "num_heads": 2
    }"#;

    fn message(err: Error) -> String {
        match err {
            Error::MalformedConfig { message, .. } => message,
            other => panic!("expected MalformedConfig, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_transformers() {
        let c = T5Config::from_json(SMALL).unwrap();
        assert_eq!(c.num_decoder_layers, 2);
        assert_eq!(c.relative_attention_num_buckets, 32);
        assert_eq!(c.relative_attention_max_distance, 128);
        assert_eq!(c.layer_norm_epsilon, 1e-6);
        assert_eq!(c.feed_forward_proj, "relu");
        assert!(c.tie_word_embeddings && c.scale_decoder_outputs);
        assert_eq!((c.decoder_start_token_id, c.pad_token_id), (0, 0));
        assert_eq!(c.eos_token_id, vec![1]);
    }

    #[test]
    fn untied_configs_are_not_scaled_unless_they_say_so() {
        let flan = SMALL.replace(
            "\"num_heads\": 2",
            "\"num_heads\": 2, \"tie_word_embeddings\": false",
        );
        let c = T5Config::from_json(&flan).unwrap();
        assert!(!c.tie_word_embeddings && !c.scale_decoder_outputs);
        // What transformers 5 writes for a FLAN model it saved.
        let t5v5 = SMALL.replace(
            "\"num_heads\": 2",
            "\"num_heads\": 2, \"tie_word_embeddings\": true, \"scale_decoder_outputs\": false",
        );
        let c = T5Config::from_json(&t5v5).unwrap();
        assert!(c.tie_word_embeddings && !c.scale_decoder_outputs);
    }

    #[test]
    fn feed_forward_proj_as_transformers_reads_it() {
        let parse = |s: &str| FeedForward::parse(s);
        assert_eq!(
            parse("relu"),
            Some(FeedForward {
                gated: false,
                activation: Activation::Relu
            })
        );
        assert_eq!(
            parse("gated-gelu"),
            Some(FeedForward {
                gated: true,
                activation: Activation::GeluTanh
            })
        );
        assert_eq!(
            parse("gelu"),
            Some(FeedForward {
                gated: false,
                activation: Activation::Gelu
            })
        );
        assert_eq!(
            parse("gated-relu"),
            Some(FeedForward {
                gated: true,
                activation: Activation::Relu
            })
        );
        assert_eq!(
            parse("gated-silu"),
            Some(FeedForward {
                gated: true,
                activation: Activation::Silu
            })
        );
        assert_eq!(
            parse("gated-gelu_new"),
            Some(FeedForward {
                gated: true,
                activation: Activation::GeluTanh
            })
        );
        assert_eq!(
            parse("gelu_new"),
            Some(FeedForward {
                gated: false,
                activation: Activation::GeluTanh
            })
        );
        assert_eq!(parse("double-gelu"), None);
        assert_eq!(parse("gated-gelu-x"), None);
        assert_eq!(parse("gated-elephant"), None);
    }

    #[test]
    fn eos_may_be_a_list() {
        let text = SMALL.replace(
            "\"num_heads\": 2",
            "\"num_heads\": 2, \"eos_token_id\": [1, 5]",
        );
        assert_eq!(T5Config::from_json(&text).unwrap().eos_token_id, vec![1, 5]);
    }

    #[test]
    fn bad_input_names_the_field() {
        let missing = SMALL.replace("\"d_model\": 8,", "");
        assert_eq!(
            message(T5Config::from_json(&missing).unwrap_err()),
            "missing required field `d_model`"
        );
        let wrong_type = SMALL.replace("\"d_ff\": 16", "\"d_ff\": \"wide\"");
        let m = message(T5Config::from_json(&wrong_type).unwrap_err());
        assert!(m.contains("`d_ff`") && m.contains("\"wide\""), "{m}");
        let zero = SMALL.replace("\"num_heads\": 2", "\"num_heads\": 0");
        assert!(message(T5Config::from_json(&zero).unwrap_err()).contains("`num_heads`"));
        let act = SMALL.replace(
            "\"num_heads\": 2",
            "\"num_heads\": 2, \"feed_forward_proj\": \"gated-foo\"",
        );
        assert!(message(T5Config::from_json(&act).unwrap_err()).contains("`feed_forward_proj`"));
        let eps = SMALL.replace(
            "\"num_heads\": 2",
            "\"num_heads\": 2, \"layer_norm_epsilon\": -1",
        );
        assert!(message(T5Config::from_json(&eps).unwrap_err()).contains("`layer_norm_epsilon`"));
        let pad = SMALL.replace(
            "\"num_heads\": 2",
            "\"num_heads\": 2, \"pad_token_id\": 100",
        );
        assert!(message(T5Config::from_json(&pad).unwrap_err()).contains("`pad_token_id`"));
        let buckets = SMALL.replace(
            "\"num_heads\": 2",
            "\"num_heads\": 2, \"relative_attention_num_buckets\": 2",
        );
        assert!(message(T5Config::from_json(&buckets).unwrap_err())
            .contains("relative_attention_num_buckets"));
        assert!(message(T5Config::from_json("[1, 2]").unwrap_err()).contains("JSON object"));
        assert!(message(T5Config::from_json("{").unwrap_err()).contains("not valid JSON"));
    }

    #[test]
    fn other_model_types_are_refused() {
        let bert = SMALL.replace("\"t5\"", "\"bert\"");
        assert!(matches!(
            T5Config::from_json(&bert),
            Err(Error::UnknownModelType { .. })
        ));
    }

    #[test]
    fn t5_large_parameter_count() {
        let large = r#"{"vocab_size": 32128, "d_model": 1024, "d_kv": 64, "d_ff": 4096,
            "num_layers": 24, "num_heads": 16}"#;
        assert_eq!(
            T5Config::from_json(large).unwrap().num_params(),
            737_668_096
        );
    }

    #[test]
    fn serde_round_trip() {
        let c = T5Config::from_json(SMALL).unwrap();
        let back = T5Config::from_json(&c.to_json()).unwrap();
        assert_eq!(c, back);
        let via_serde: T5Config = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(c, via_serde);
    }
}
