//! Hand-made configurations sized to a budget: what a user picks without a
//! search, given the same budget as the search (`bipeft search --mode
//! uniform_lora|lora_qv|bitfit|lnfit|adapter`, and the baselines of an
//! experiment). Each puts one kind of module on every slot it names and takes
//! the largest rank that fits. A hand-made LoRA takes any integer rank, not
//! only the search's candidates {1, 4, 8}, so a baseline is sized in its own
//! space: its slots with every rank from 1 up to the largest the module can
//! use (the hidden width for LoRA, the bottleneck width for a low-rank
//! adapter). That uses the budget as fully as the baseline's form allows.

use serde::{Deserialize, Serialize};

use crate::backbone::Point;
use crate::error::{Error, Result};
use crate::peft::PeftOptions;
use crate::peft_config::PeftConfig;
use crate::space::{BackboneShape, Catalogue, Kind, Rule, SpaceDef};

/// A hand-made baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// LoRA on every LoRA slot of the search space, one common rank.
    UniformLora,
    /// LoRA on the attention query and value only (the targets Hugging Face
    /// PEFT picks by default for BERT and T5), one common rank.
    LoraQv,
    /// BitFit on every BitFit slot of the search space (as many as fit).
    Bitfit,
    /// LNFit on every LNFit slot of the search space (as many as fit).
    Lnfit,
    /// Low-rank adapters on every adapter slot of the search space, one common rank.
    Adapter,
}

impl Baseline {
    /// The kind of module the baseline uses.
    pub fn kind(self) -> Kind {
        match self {
            Baseline::UniformLora | Baseline::LoraQv => Kind::Lora,
            Baseline::Bitfit => Kind::BitFit,
            Baseline::Lnfit => Kind::LnFit,
            Baseline::Adapter => Kind::Adapter,
        }
    }

    /// The space the baseline is sized in: its slots (the search space's
    /// slots of its kind, or query and value for [`Baseline::LoraQv`]) with
    /// every integer rank up to the largest the module can use.
    pub fn space(
        self,
        search_space: &SpaceDef,
        shape: &BackboneShape,
        options: &PeftOptions,
    ) -> Result<SpaceDef> {
        let kind = self.kind();
        let ranks: Vec<usize> = match kind {
            Kind::Lora => (1..=shape.d_model).collect(),
            Kind::Adapter => {
                (1..=(shape.d_model / options.adapter_reduction.max(1)).max(1)).collect()
            }
            _ => Vec::new(),
        };
        let rules: Vec<Rule> = match self {
            Baseline::LoraQv => vec![Rule::at(Kind::Lora, &[Point::Query, Point::Value])],
            _ => search_space
                .rules
                .iter()
                .filter(|r| r.kind == kind)
                .cloned()
                .collect(),
        };
        if rules.is_empty() {
            return Err(Error::InvalidInput(format!(
                "space `{}` has no {kind} slot; choose a space with {kind} modules for the {} baseline",
                search_space.name,
                self.name()
            )));
        }
        let rules = rules
            .into_iter()
            .map(|mut rule| {
                rule.ranks = ranks.clone();
                rule
            })
            .collect();
        Ok(SpaceDef {
            name: format!("{}-{}", search_space.name, self.name()),
            ranks: if ranks.is_empty() { vec![1] } else { ranks },
            rules,
        })
    }

    /// The plan-file and `--mode` name.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::UniformLora => "uniform_lora",
            Baseline::LoraQv => "lora_qv",
            Baseline::Bitfit => "bitfit",
            Baseline::Lnfit => "lnfit",
            Baseline::Adapter => "adapter",
        }
    }

    /// The configuration within `budget` on `catalogue` (built from
    /// [`Baseline::space`]): every slot of the kind at the largest common rank
    /// whose total fits; when not even rank 1 fits on every slot, as many
    /// slots (in forward order) as fit at the smallest rank.
    pub fn size(self, catalogue: &Catalogue, budget: u64) -> Result<PeftConfig> {
        let kind = self.kind();
        let slots: Vec<usize> = (0..catalogue.slots().len())
            .filter(|&i| catalogue.slots()[i].kind == kind)
            .collect();
        if slots.is_empty() {
            return Err(Error::InvalidInput(format!(
                "space `{}` has no {kind} slot on this model",
                catalogue.space.name
            )));
        }
        let ranks = catalogue.slots()[slots[0]].ranks.clone();
        let build =
            |picks: &[(usize, Option<usize>)]| PeftConfig::from_selection(catalogue, budget, picks);
        if ranks.is_empty() {
            return build(&greedy(catalogue, &slots, None, budget));
        }
        // The total grows with the rank: the largest rank that fits.
        let total = |rank: usize| -> u64 {
            slots
                .iter()
                .map(|&s| {
                    catalogue.slots()[s]
                        .params_at(Some(rank))
                        .unwrap_or(u64::MAX)
                })
                .fold(0u64, u64::saturating_add)
        };
        match ranks.iter().rev().find(|&&r| total(r) <= budget) {
            Some(&rank) => {
                let picks: Vec<(usize, Option<usize>)> =
                    slots.iter().map(|&s| (s, Some(rank))).collect();
                build(&picks)
            }
            None => build(&greedy(catalogue, &slots, Some(ranks[0]), budget)),
        }
    }
}

fn greedy(
    catalogue: &Catalogue,
    slots: &[usize],
    rank: Option<usize>,
    budget: u64,
) -> Vec<(usize, Option<usize>)> {
    let mut total = 0;
    let mut picks = Vec::new();
    for &s in slots {
        let params = catalogue.slots()[s].params_at(rank).unwrap_or(u64::MAX);
        if total + params <= budget {
            total += params;
            picks.push((s, rank));
        }
    }
    picks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{presets, Family};

    /// A MiniLM-shaped encoder: 6 layers, d 384, d_ff 1536, biased linears.
    fn shape() -> BackboneShape {
        BackboneShape {
            model_type: "bert".into(),
            family: Family::Encoder,
            d_model: 384,
            d_ff: 1536,
            d_kv: 32,
            heads: 12,
            encoder_layers: 6,
            decoder_layers: 0,
            gated_ffn: false,
            linear_biases: true,
            vocab: 30522,
            backbone_params: 22_713_216,
        }
    }

    fn sized(baseline: Baseline, budget: u64) -> PeftConfig {
        let options = PeftOptions::default();
        let space = baseline.space(&presets::s1(), &shape(), &options).unwrap();
        let catalogue = Catalogue::build(&shape(), &space, &options, |s| format!("{s:?}")).unwrap();
        baseline.size(&catalogue, budget).unwrap()
    }

    #[test]
    fn lora_takes_the_largest_integer_rank_that_fits() {
        // S1's LoRA slots per layer: q, k, v, o (384 → 384: 768 r) and the FFN's
        // in (384 → 1536) and out (1536 → 384): 1920 r each; 6 layers:
        // 6 · (4 · 768 + 2 · 1920) r = 41,472 r. 0.5% of MiniLM = 113,566:
        // rank 2 (82,944); rank 3 would be 124,416.
        let config = sized(Baseline::UniformLora, 113_566);
        assert_eq!(config.modules.len(), 36);
        assert!(config.modules.iter().all(|m| m.rank == Some(2)));
        assert_eq!(config.trainable_params, 82_944);
        // Query and value only: 6 · 2 · 768 r = 9,216 r → rank 12 (110,592).
        let config = sized(Baseline::LoraQv, 113_566);
        assert_eq!(config.modules.len(), 12);
        assert!(config.modules.iter().all(|m| m.rank == Some(12)));
        assert_eq!(config.trainable_params, 110_592);
    }

    #[test]
    fn a_space_without_the_kind_is_refused() {
        let err = Baseline::UniformLora
            .space(&presets::s2(), &shape(), &PeftOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no lora slot"), "{err}");
    }
}
