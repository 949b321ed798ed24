//! The methods an experiment compares (the paper's Tables 1–3 and §7.3): the
//! BIPEFT search, its ablations, and the hand-made baselines sized to the
//! budget.

use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;
use crate::error::{Error, Result};
use crate::search::{Sampling, SearchMode};

/// How a searching method searches (docs/algorithm.md §4, §7.3's ablations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchVariant {
    pub mode: SearchMode,
    pub sampling: Sampling,
    /// Budget-guided early selection (§6).
    pub early_selection: bool,
}

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

    /// How this method searches; `None` for a hand-made baseline.
    pub fn search_variant(self) -> Option<SearchVariant> {
        let variant = |mode, sampling, early_selection| {
            Some(SearchVariant {
                mode,
                sampling,
                early_selection,
            })
        };
        match self {
            Method::Bipeft => variant(SearchMode::Iterative, Sampling::Gumbel, true),
            Method::NoIter => variant(SearchMode::NoIter, Sampling::Gumbel, true),
            Method::NoGumbel => variant(SearchMode::Iterative, Sampling::Softmax, true),
            Method::BinaryThenDim => variant(SearchMode::BinaryThenDim, Sampling::Gumbel, true),
            Method::DimThenBinary => variant(SearchMode::DimThenBinary, Sampling::Gumbel, true),
            Method::NoEarlySelection => variant(SearchMode::Iterative, Sampling::Gumbel, false),
            _ => None,
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
    fn search_variants() {
        let v = Method::NoEarlySelection.search_variant().unwrap();
        assert_eq!(
            (v.mode, v.sampling, v.early_selection),
            (SearchMode::Iterative, Sampling::Gumbel, false)
        );
        let v = Method::NoGumbel.search_variant().unwrap();
        assert_eq!(
            (v.mode, v.sampling, v.early_selection),
            (SearchMode::Iterative, Sampling::Softmax, true)
        );
        let v = Method::DimThenBinary.search_variant().unwrap();
        assert_eq!(v.mode, SearchMode::DimThenBinary);
        assert_eq!(Method::Bitfit.search_variant(), None);
        assert!(Method::Bitfit.is_baseline() && !Method::NoIter.is_baseline());
    }
}
