//! Checkpoint names of a backbone's hook sites, from what a
//! `peft_config.json` records: the backbone's shape and the kept modules.
//!
//! Slot names are the checkpoint's module paths, which the core's backbones
//! give from a model config. A configuration file keeps only the shape, so
//! this rebuilds what naming needs from it: for T5 a config with the shape's
//! sizes (only the gated FFN changes a name), for a BERT-family encoder the
//! checkpoint's key prefix (`bert.`, `roberta.` or none), which every kept
//! module's name carries.

use crate::backbone::t5::T5Config;
use crate::backbone::{bert, t5, Site};
use crate::error::{Error, Result};
use crate::peft_config::ChosenModule;
use crate::space::{BackboneShape, Family};

/// Where a BERT-family module path leaves the checkpoint's prefix.
const ENCODER_ROOTS: [&str; 2] = ["encoder.layer.", "embeddings."];

/// The naming function the catalogue of the search that kept `modules` used.
pub fn naming_for(
    shape: &BackboneShape,
    modules: &[ChosenModule],
) -> Result<Box<dyn Fn(Site) -> String>> {
    match shape.family {
        Family::T5 => {
            let config = t5_config(shape)?;
            Ok(Box::new(move |site: Site| t5::site_name(site, &config)))
        }
        Family::Encoder => {
            let prefix = encoder_prefix(modules)?;
            Ok(Box::new(move |site: Site| {
                // The catalogue only asks for sites an encoder has; the
                // fallback keeps a stray site visible instead of panicking.
                bert::site_name(site, &prefix).unwrap_or_else(|| {
                    format!(
                        "{prefix}<no {:?} {:?} in a BERT encoder>",
                        site.stack, site.point
                    )
                })
            }))
        }
    }
}

/// A T5 config with `shape`'s sizes, read by the core's own parser.
fn t5_config(shape: &BackboneShape) -> Result<T5Config> {
    let value = serde_json::json!({
        "model_type": "t5",
        "vocab_size": shape.vocab.max(1),
        "d_model": shape.d_model,
        "d_kv": shape.d_kv,
        "d_ff": shape.d_ff,
        "num_layers": shape.encoder_layers,
        "num_decoder_layers": shape.decoder_layers,
        "num_heads": shape.heads,
        "feed_forward_proj": if shape.gated_ffn { "gated-gelu" } else { "relu" },
    });
    T5Config::from_value(&value)
}

/// The prefix before `encoder.layer.` / `embeddings.` that every module name
/// shares ("" when nothing is kept).
fn encoder_prefix(modules: &[ChosenModule]) -> Result<String> {
    let prefix_of = |name: &str| {
        ENCODER_ROOTS
            .iter()
            .filter_map(|root| name.find(root))
            .min()
            .map(|at| name[..at].to_string())
    };
    let Some(first) = modules.first() else {
        return Ok(String::new());
    };
    let prefix = prefix_of(&first.name).ok_or_else(|| {
        Error::InvalidInput(format!(
            "module `{}` is not a BERT-family module path (expected `…encoder.layer.N.…` or \
             `…embeddings.LayerNorm`)",
            first.name
        ))
    })?;
    if let Some(other) = modules
        .iter()
        .find(|m| prefix_of(&m.name).as_deref() != Some(prefix.as_str()))
    {
        return Err(Error::InvalidInput(format!(
            "modules `{}` and `{}` do not share a checkpoint prefix",
            first.name, other.name
        )));
    }
    Ok(prefix)
}
