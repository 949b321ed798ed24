//! The search's view of a search space: for every module slot, whether its rank
//! is searched and how many parameters it costs (docs/algorithm.md §2, "parameter
//! counts"). Nothing else of a slot (kind, site, shapes) matters to the search,
//! so any catalogue — S1, S2, a user's space — reduces to this list.
//!
//! Order is part of the contract: the architecture logits, the samples handed to
//! the supernet and every per-slot vector of the search follow the slot order
//! given here, and rank-searchable slots get "ranked rows" in the same order.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What one slot costs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotCost {
    /// A rank-searchable ("matrix") module: its parameter count at each candidate
    /// rank, in the order of [`SearchSlots::ranks`].
    PerRank(Vec<u64>),
    /// An on/off ("vector") module such as BitFit or LNFit.
    Fixed(u64),
}

/// One slot as the search sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchSlot {
    /// The slot's stable name (the catalogue's, e.g. `encoder.block.3.layer.0.SelfAttention.q`
    /// plus its kind); only used in reports and the discrete result.
    pub name: String,
    pub cost: SlotCost,
}

impl SearchSlot {
    pub fn ranked(name: impl Into<String>, params_per_rank: Vec<u64>) -> Self {
        SearchSlot {
            name: name.into(),
            cost: SlotCost::PerRank(params_per_rank),
        }
    }

    pub fn on_off(name: impl Into<String>, params: u64) -> Self {
        SearchSlot {
            name: name.into(),
            cost: SlotCost::Fixed(params),
        }
    }
}

/// Parameters that several slots share, present once as soon as one of them
/// is on (the prefix trunk of S2). Its count depends on the largest candidate
/// index chosen among its members that are on; on/off members count as
/// candidate 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedCost {
    pub name: String,
    /// The slots that need it.
    pub members: Vec<usize>,
    /// Its count when the largest chosen candidate index of its members is `c`.
    pub params_by_candidate: Vec<u64>,
}

/// All slots of a search, with the candidate ranks they share. Serialises as
/// `{"ranks": [...], "slots": [...]}` and is checked again when read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SlotList", into = "SlotList")]
pub struct SearchSlots {
    ranks: Vec<usize>,
    slots: Vec<SearchSlot>,
    /// For every slot, its row among the rank-searchable slots.
    ranked_row: Vec<Option<usize>>,
    /// For every ranked row, its slot.
    ranked_slot: Vec<usize>,
    /// Parameters shared by groups of slots.
    shared: Vec<SharedCost>,
}

/// The serialised form of [`SearchSlots`]: the indexes are derived, not stored.
#[derive(Clone, Serialize, Deserialize)]
struct SlotList {
    ranks: Vec<usize>,
    slots: Vec<SearchSlot>,
    #[serde(default)]
    shared: Vec<SharedCost>,
}

impl TryFrom<SlotList> for SearchSlots {
    type Error = Error;
    fn try_from(list: SlotList) -> Result<Self> {
        SearchSlots::new(list.ranks, list.slots)?.with_shared(list.shared)
    }
}

impl From<SearchSlots> for SlotList {
    fn from(slots: SearchSlots) -> Self {
        SlotList {
            ranks: slots.ranks,
            slots: slots.slots,
            shared: slots.shared,
        }
    }
}

impl SearchSlots {
    /// Checks and indexes a slot list. The candidate ranks must be strictly
    /// increasing, every rank-searchable slot must give one count per rank, and
    /// the space needs at least one rank-searchable slot (the dimension logits
    /// would otherwise be an empty tensor, which not every burn backend accepts).
    pub fn new(ranks: Vec<usize>, slots: Vec<SearchSlot>) -> Result<Self> {
        if ranks.is_empty() {
            return Err(Error::InvalidInput(
                "a search needs at least one candidate rank".into(),
            ));
        }
        if ranks.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::InvalidInput(format!(
                "candidate ranks must be strictly increasing, got {ranks:?}"
            )));
        }
        let mut ranked_row = Vec::with_capacity(slots.len());
        let mut ranked_slot = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (index, slot) in slots.iter().enumerate() {
            if !seen.insert(slot.name.as_str()) {
                return Err(Error::InvalidInput(format!(
                    "slot name `{}` appears twice in the search space",
                    slot.name
                )));
            }
            match &slot.cost {
                SlotCost::PerRank(counts) => {
                    if counts.len() != ranks.len() {
                        return Err(Error::InvalidInput(format!(
                            "slot `{}` gives {} parameter counts for {} candidate ranks {ranks:?}",
                            slot.name,
                            counts.len(),
                            ranks.len()
                        )));
                    }
                    ranked_row.push(Some(ranked_slot.len()));
                    ranked_slot.push(index);
                }
                SlotCost::Fixed(_) => ranked_row.push(None),
            }
        }
        if ranked_slot.is_empty() {
            return Err(Error::InvalidInput(
                "the search space has no rank-searchable slot".into(),
            ));
        }
        Ok(SearchSlots {
            ranks,
            slots,
            ranked_row,
            ranked_slot,
            shared: Vec::new(),
        })
    }

    /// The same slots with parameters shared by groups of them: checked to
    /// name existing slots and to give one count per candidate.
    pub fn with_shared(mut self, shared: Vec<SharedCost>) -> Result<Self> {
        for part in &shared {
            if let Some(&bad) = part.members.iter().find(|&&m| m >= self.slots.len()) {
                return Err(Error::InvalidInput(format!(
                    "shared part `{}` names slot {bad}, but there are {} slots",
                    part.name,
                    self.slots.len()
                )));
            }
            if part.params_by_candidate.len() != self.ranks.len() {
                return Err(Error::InvalidInput(format!(
                    "shared part `{}` gives {} parameter counts for {} candidate ranks",
                    part.name,
                    part.params_by_candidate.len(),
                    self.ranks.len()
                )));
            }
        }
        self.shared = shared;
        Ok(self)
    }

    /// The shared parameters a selection needs: `on` per slot, the chosen
    /// candidate index per ranked row.
    pub fn shared_params(&self, on: &[bool], rank_choice: &[usize]) -> u64 {
        self.shared
            .iter()
            .filter_map(|part| {
                part.members
                    .iter()
                    .filter(|&&m| on[m])
                    .map(|&m| self.ranked_row[m].map_or(0, |row| rank_choice[row]))
                    .max()
                    .map(|c| part.params_by_candidate[c])
            })
            .sum()
    }

    /// The same slots with rank 0 (zero parameters) prepended to the candidates:
    /// the single entangled space of the `no_iter` ablation (docs/algorithm.md §4),
    /// where "off" is just the smallest rank.
    pub fn with_zero_rank(&self) -> Result<Self> {
        if self.ranks[0] == 0 {
            return Err(Error::InvalidInput(
                "candidate ranks already contain rank 0".into(),
            ));
        }
        let ranks = std::iter::once(0)
            .chain(self.ranks.iter().copied())
            .collect();
        let slots = self
            .slots
            .iter()
            .map(|slot| match &slot.cost {
                SlotCost::PerRank(counts) => SearchSlot::ranked(
                    slot.name.clone(),
                    std::iter::once(0).chain(counts.iter().copied()).collect(),
                ),
                SlotCost::Fixed(_) => slot.clone(),
            })
            .collect();
        // Candidate 0 is now "off" for ranked members; on/off members still
        // count as the first candidate, so the first count is repeated.
        let shared = self
            .shared
            .iter()
            .map(|part| SharedCost {
                params_by_candidate: std::iter::once(part.params_by_candidate[0])
                    .chain(part.params_by_candidate.iter().copied())
                    .collect(),
                ..part.clone()
            })
            .collect();
        SearchSlots::new(ranks, slots)?.with_shared(shared)
    }

    /// The candidate ranks.
    pub fn ranks(&self) -> &[usize] {
        &self.ranks
    }

    /// Number of candidate ranks.
    pub fn candidates(&self) -> usize {
        self.ranks.len()
    }

    /// All slots, in order.
    pub fn slots(&self) -> &[SearchSlot] {
        &self.slots
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Always false: [`SearchSlots::new`] refuses empty spaces.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Number of rank-searchable slots (rows of the dimension logits).
    pub fn ranked_len(&self) -> usize {
        self.ranked_slot.len()
    }

    /// The ranked row of a slot, if its rank is searched.
    pub fn ranked_row(&self, slot: usize) -> Option<usize> {
        self.ranked_row[slot]
    }

    /// The slot behind a ranked row.
    pub fn ranked_slot(&self, row: usize) -> usize {
        self.ranked_slot[row]
    }

    /// The slot's parameter count at a candidate index (ignored for on/off slots).
    pub fn params_at(&self, slot: usize, candidate: usize) -> u64 {
        match &self.slots[slot].cost {
            SlotCost::PerRank(counts) => counts[candidate],
            SlotCost::Fixed(n) => *n,
        }
    }

    /// What the slot holds in the supernet: its count at the largest candidate
    /// rank (or its fixed count). The sensitivity divides by this (§6.1's n_m).
    pub fn supernet_params(&self, slot: usize) -> u64 {
        match &self.slots[slot].cost {
            SlotCost::PerRank(counts) => counts.iter().copied().max().unwrap_or(0),
            SlotCost::Fixed(n) => *n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SearchSlots {
        SearchSlots::new(
            vec![1, 4, 8],
            vec![
                SearchSlot::ranked("q.lora", vec![10, 40, 80]),
                SearchSlot::on_off("q.bitfit", 5),
                SearchSlot::ranked("ffn.adapter", vec![7, 19, 35]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn rows_follow_slot_order() {
        let slots = small();
        assert_eq!(slots.len(), 3);
        assert_eq!(slots.ranked_len(), 2);
        assert_eq!(slots.ranked_row(0), Some(0));
        assert_eq!(slots.ranked_row(1), None);
        assert_eq!(slots.ranked_row(2), Some(1));
        assert_eq!(slots.ranked_slot(1), 2);
        assert_eq!(slots.supernet_params(0), 80);
        assert_eq!(slots.supernet_params(1), 5);
        assert_eq!(slots.params_at(2, 1), 19);
    }

    #[test]
    fn zero_rank_is_prepended() {
        let slots = small().with_zero_rank().unwrap();
        assert_eq!(slots.ranks(), &[0, 1, 4, 8]);
        assert_eq!(slots.params_at(0, 0), 0);
        assert_eq!(slots.params_at(0, 3), 80);
        assert_eq!(slots.params_at(1, 0), 5);
        assert!(slots.with_zero_rank().is_err());
    }

    #[test]
    fn bad_spaces_are_refused() {
        let err = SearchSlots::new(vec![1, 4], vec![SearchSlot::ranked("a", vec![1, 2, 3])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("slot `a` gives 3 parameter counts"), "{err}");
        assert!(SearchSlots::new(vec![4, 1], vec![SearchSlot::ranked("a", vec![1, 2])]).is_err());
        assert!(SearchSlots::new(vec![1], vec![SearchSlot::on_off("a", 3)]).is_err());
        let dup = SearchSlots::new(
            vec![1],
            vec![SearchSlot::ranked("a", vec![1]), SearchSlot::on_off("a", 1)],
        )
        .unwrap_err()
        .to_string();
        assert!(dup.contains("appears twice"), "{dup}");
    }

    #[test]
    fn serde_round_trip_keeps_indexes() {
        let slots = small();
        let json = serde_json::to_string(&slots).unwrap();
        assert!(!json.contains("ranked_row"), "{json}");
        let back: SearchSlots = serde_json::from_str(&json).unwrap();
        assert_eq!(back, slots);
        let bad = r#"{"ranks":[1,4],"slots":[{"name":"a","cost":{"PerRank":[1]}}]}"#;
        assert!(serde_json::from_str::<SearchSlots>(bad).is_err());
    }
}
