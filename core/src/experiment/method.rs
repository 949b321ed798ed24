//! The methods an experiment compares (the paper's Tables 1–3 and §7.3): the
//! BIPEFT search, its ablations, and the hand-made baselines sized to the
//! budget.

use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;
use crate::error::{Error, Result};

/// One method of a plan, named as in the plan file (`snake_case`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// BIPEFT: iterative binary/dimension search with early selection.
    Bipeft,
    /// Ablation: one entangled space, rank 0 is "off".
    NoIter,
    /// Ablation: plain softmax instead of Gumbel samples.
    NoGumbel,
    /// Ablation: binary stage first, dimension stage second.
    BinaryThenDim,
    /// Ablation: dimension stage first, binary stage second.
    DimThenBinary,
    /// Ablation: the bi-level search without budget-guided early selection.
    NoEarlySelection,
    /// Baseline: LoRA on every LoRA slot at the largest integer rank that fits.
    UniformLora,
    /// Baseline: LoRA on attention query and value only (Hugging Face PEFT's
    /// default targets), at the largest integer rank that fits.
    LoraQv,
    /// Baseline: BitFit.
    Bitfit,
    /// Baseline: LNFit.
    Lnfit,
    /// Baseline: low-rank adapters on every adapter slot at the largest rank that fits.
    Adapter,
}

impl Method {
    pub const ALL: [Method; 11] = [
        Method::Bipeft,
        Method::NoIter,
        Method::NoGumbel,
        Method::BinaryThenDim,
        Method::DimThenBinary,
        Method::NoEarlySelection,
        Method::UniformLora,
        Method::LoraQv,
        Method::Bitfit,
        Method::Lnfit,
        Method::Adapter,
    ];

    /// The plan-file name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Bipeft => "bipeft",
            Method::NoIter => "no_iter",
            Method::NoGumbel => "no_gumbel",
            Method::BinaryThenDim => "binary_then_dim",
            Method::DimThenBinary => "dim_then_binary",
            Method::NoEarlySelection => "no_early_selection",
            Method::UniformLora => "uniform_lora",
            Method::LoraQv => "lora_qv",
            Method::Bitfit => "bitfit",
            Method::Lnfit => "lnfit",
            Method::Adapter => "adapter",
        }
    }

    pub fn from_name(name: &str) -> Result<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "unknown method `{name}` (known: {})",
                    Method::ALL.map(Method::name).join(", ")
                ))
            })
    }

    /// Whether the configuration comes from a search (rather than being sized by hand).
    pub fn searches(self) -> bool {
        !self.is_baseline()
    }

    pub fn is_baseline(self) -> bool {
        self.baseline().is_some()
    }

    /// The hand-made baseline this method is, if it is one.
    pub fn baseline(self) -> Option<Baseline> {
        match self {
            Method::UniformLora => Some(Baseline::UniformLora),
            Method::LoraQv => Some(Baseline::LoraQv),
            Method::Bitfit => Some(Baseline::Bitfit),
            Method::Lnfit => Some(Baseline::Lnfit),
            Method::Adapter => Some(Baseline::Adapter),
            _ => None,
        }
    }

    /// `bipeft search --mode` for this method, and whether it adds
    /// `--no-early-selection` (that ablation is BIPEFT with selection off).
    pub fn search_mode(self) -> (&'static str, bool) {
        match self {
            Method::NoEarlySelection => ("bipeft", true),
            other => (other.name(), false),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for m in Method::ALL {
            assert_eq!(Method::from_name(m.name()).unwrap(), m);
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.name())
            );
        }
        let err = Method::from_name("lora").unwrap_err().to_string();
        assert!(
            err.contains("unknown method `lora`") && err.contains("uniform_lora"),
            "{err}"
        );
    }

    #[test]
    fn search_modes() {
        assert_eq!(Method::NoEarlySelection.search_mode(), ("bipeft", true));
        assert_eq!(
            Method::DimThenBinary.search_mode(),
            ("dim_then_binary", false)
        );
        assert!(Method::Bitfit.is_baseline() && !Method::NoIter.is_baseline());
    }
}
