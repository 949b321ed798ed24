//! Options of the PEFT modules that change their sizes or their initialisation.
//! They travel inside `peft_config.json`, so a retrained model is built the way
//! the searched one was.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::space::Kind;

/// How a LoRA delta is scaled.
///
/// The BIPEFT reference adds `B(Ax)` unscaled at every rank (its LoRA layers
/// have no `lora_alpha`), which is [`LoraScaling::Unit`], the default. Hugging
/// Face `peft` scales by `lora_alpha / r`; [`LoraScaling::Alpha`] does that with
/// one `lora_alpha` for every rank. A discrete model always applies exactly
/// `alpha(r) / r` (so `Unit` is `lora_alpha = r`, which an export writes per
/// module); the supernet applies each candidate rank's own factor to that
/// rank's share of the mixture.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum LoraScaling {
    /// Scale 1 at every rank (the BIPEFT reference).
    #[default]
    Unit,
    /// `peft`'s `lora_alpha / r`.
    Alpha { alpha: f64 },
}

impl LoraScaling {
    /// `lora_alpha` of a module of rank `rank`.
    pub fn alpha(self, rank: usize) -> f64 {
        match self {
            LoraScaling::Unit => rank as f64,
            LoraScaling::Alpha { alpha } => alpha,
        }
    }

    /// The factor on the delta of a module of rank `rank`: `lora_alpha / r`.
    pub fn scale(self, rank: usize) -> f64 {
        self.alpha(rank) / rank as f64
    }
}

/// How the serial and parallel adapters of S2 start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BottleneckInit {
    /// Down projection N(0, 0.01), up projection zero, biases zero: the adapter
    /// starts as the identity, like LoRA's zero `B` (the default, so that a
    /// fresh supernet computes exactly the bare backbone).
    #[default]
    ZeroUp,
    /// Both projections N(0, 0.01), biases zero: the reference's
    /// initialisation (docs/algorithm.md §2, S2); the adapter's first output is small
    /// but not zero.
    Normal,
}

/// Sizes and initialisation choices of the PEFT modules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeftOptions {
    #[serde(default)]
    pub lora_scaling: LoraScaling,
    /// Low-rank adapter bottleneck = `d_model / adapter_reduction` (32 in the reference).
    #[serde(default = "default_adapter_reduction")]
    pub adapter_reduction: usize,
    /// Start the low-rank adapter's left factors at zero (the reference's
    /// `--zero_lr_adapter`, set by its S1 scripts). With it the up projection is
    /// a product of two zero matrices, so only the adapter's output bias learns
    /// at first; off by default.
    #[serde(default)]
    pub adapter_zero_init: bool,
    #[serde(default)]
    pub bottleneck_init: BottleneckInit,
    /// Width of the prefix MLP's hidden layer (2 in the reference, 1 with its `--small_prefix`).
    #[serde(default = "default_prefix_bottleneck")]
    pub prefix_bottleneck: usize,
}

fn default_adapter_reduction() -> usize {
    32
}

fn default_prefix_bottleneck() -> usize {
    2
}

impl Default for PeftOptions {
    fn default() -> Self {
        PeftOptions {
            lora_scaling: LoraScaling::default(),
            adapter_reduction: default_adapter_reduction(),
            adapter_zero_init: false,
            bottleneck_init: BottleneckInit::default(),
            prefix_bottleneck: default_prefix_bottleneck(),
        }
    }
}

impl PeftOptions {
    /// Checks the sizes; names the option that is unusable.
    pub fn validate(&self) -> Result<()> {
        if self.adapter_reduction == 0 {
            return Err(Error::InvalidInput(
                "adapter_reduction must be positive".into(),
            ));
        }
        if self.prefix_bottleneck == 0 {
            return Err(Error::InvalidInput(
                "prefix_bottleneck must be positive".into(),
            ));
        }
        if let LoraScaling::Alpha { alpha } = self.lora_scaling {
            if !(alpha.is_finite() && alpha > 0.0) {
                return Err(Error::InvalidInput(format!(
                    "lora_alpha must be a positive number, found {alpha}"
                )));
            }
        }
        Ok(())
    }

    /// The factor on a module's delta: LoRA's `lora_alpha / r`, 1 for every other kind.
    pub fn delta_scale(&self, kind: Kind, rank: usize) -> f64 {
        if kind == Kind::Lora {
            self.lora_scaling.scale(rank)
        } else {
            1.0
        }
    }

    /// The low-rank adapter's bottleneck width at model width `d`.
    pub fn adapter_bottleneck(&self, d: usize) -> Result<usize> {
        let b = d / self.adapter_reduction.max(1);
        if b == 0 {
            return Err(Error::InvalidInput(format!(
                "width {d} is too small for adapter_reduction {}: the adapter bottleneck would be 0",
                self.adapter_reduction
            )));
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lora_scaling() {
        assert_eq!(LoraScaling::Unit.scale(8), 1.0);
        assert_eq!(LoraScaling::Unit.alpha(4), 4.0);
        assert_eq!(LoraScaling::Alpha { alpha: 16.0 }.scale(4), 4.0);
        let json = serde_json::to_string(&LoraScaling::Alpha { alpha: 16.0 }).unwrap();
        assert_eq!(json, r#"{"mode":"alpha","alpha":16.0}"#);
    }

    #[test]
    fn defaults_from_empty_json() {
        let o: PeftOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(o, PeftOptions::default());
        assert_eq!(o.adapter_bottleneck(1024).unwrap(), 32);
        assert!(o.adapter_bottleneck(16).is_err());
    }
}
