//! What `bipeft space` prints: slot counts per kind, parameter totals per
//! candidate rank, and the size of the full supernet against the backbone.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::catalogue::Catalogue;
use super::kind::Kind;
use super::slot::Slot;

/// Parameters of a group of rank-searchable slots if each took `rank`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankTotal {
    pub rank: usize,
    /// Slots that have `rank` among their candidates.
    pub slots: usize,
    pub params: u64,
}

/// One kind's slots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindSummary {
    pub kind: Kind,
    pub slots: usize,
    pub rank_searchable: bool,
    /// Totals at each candidate rank (empty for on/off kinds).
    pub per_rank: Vec<RankTotal>,
    /// Every slot of the kind on, at its largest rank.
    pub max_params: u64,
}

/// A space on one backbone, in numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpaceSummary {
    pub space: String,
    pub model_type: String,
    pub backbone_params: u64,
    pub slots: usize,
    pub rank_searchable: usize,
    pub on_off: usize,
    pub kinds: Vec<KindSummary>,
    /// All rank-searchable slots together at each candidate rank.
    pub per_rank: Vec<RankTotal>,
    /// All on/off slots on.
    pub on_off_params: u64,
    /// Parameters shared by several slots (the prefix trunk).
    pub shared_params: u64,
    /// The full supernet: every slot on at its largest rank, and the shared parts.
    pub max_params: u64,
    /// `max_params / backbone_params` (0 when the backbone size is unknown).
    pub max_share: f64,
}

fn per_rank<'a>(slots: impl Iterator<Item = &'a Slot> + Clone) -> Vec<RankTotal> {
    let ranks: BTreeSet<usize> = slots
        .clone()
        .flat_map(|s| s.ranks.iter().copied())
        .collect();
    ranks
        .into_iter()
        .map(|rank| {
            let (n, params) = slots
                .clone()
                .filter_map(|s| s.params_at(Some(rank)))
                .fold((0, 0), |(n, p), x| (n + 1, p + x));
            RankTotal {
                rank,
                slots: n,
                params,
            }
        })
        .collect()
}

impl SpaceSummary {
    pub fn new(catalogue: &Catalogue) -> Self {
        let slots = catalogue.slots();
        let kinds = catalogue
            .kinds()
            .into_iter()
            .map(|kind| {
                let of_kind = slots.iter().filter(move |s| s.kind == kind);
                KindSummary {
                    kind,
                    slots: of_kind.clone().count(),
                    rank_searchable: kind.is_rank_searchable(),
                    per_rank: per_rank(of_kind.clone()),
                    max_params: of_kind.map(Slot::max_params).sum(),
                }
            })
            .collect();
        let rank_searchable = slots.iter().filter(|s| s.is_rank_searchable()).count();
        let max_params = catalogue.max_params();
        let backbone_params = catalogue.shape.backbone_params;
        SpaceSummary {
            space: catalogue.space.name.clone(),
            model_type: catalogue.shape.model_type.clone(),
            backbone_params,
            slots: slots.len(),
            rank_searchable,
            on_off: slots.len() - rank_searchable,
            kinds,
            per_rank: per_rank(slots.iter().filter(|s| s.is_rank_searchable())),
            on_off_params: slots
                .iter()
                .filter(|s| !s.is_rank_searchable())
                .map(Slot::max_params)
                .sum(),
            shared_params: catalogue.shared_params(),
            max_params,
            max_share: if backbone_params == 0 {
                0.0
            } else {
                max_params as f64 / backbone_params as f64
            },
        }
    }

    /// A human-readable report, one table of kinds and the totals.
    pub fn to_text(&self) -> String {
        let ranks: Vec<usize> = self.per_rank.iter().map(|t| t.rank).collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "space `{}` on {} ({} backbone parameters)",
            self.space,
            self.model_type,
            thousands(self.backbone_params)
        );
        let _ = writeln!(
            out,
            "{} slots: {} rank-searchable, {} on/off",
            self.slots, self.rank_searchable, self.on_off
        );
        let _ = writeln!(out);
        let mut header = format!("{:<18}{:>7}", "kind", "slots");
        for r in &ranks {
            header += &format!("{:>14}", format!("rank {r}"));
        }
        header += &format!("{:>14}", "on / max");
        let _ = writeln!(out, "{header}");
        for k in &self.kinds {
            let mut line = format!("{:<18}{:>7}", k.kind.as_str(), k.slots);
            for r in &ranks {
                let cell = k
                    .per_rank
                    .iter()
                    .find(|t| t.rank == *r)
                    .map(|t| thousands(t.params))
                    .unwrap_or_default();
                line += &format!("{cell:>14}");
            }
            line += &format!("{:>14}", thousands(k.max_params));
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out);
        for t in &self.per_rank {
            let _ = writeln!(
                out,
                "rank {:<3} all {} rank-searchable slots: {} parameters",
                t.rank,
                t.slots,
                thousands(t.params)
            );
        }
        if self.on_off > 0 {
            let _ = writeln!(
                out,
                "on/off slots, all on: {} parameters",
                thousands(self.on_off_params)
            );
        }
        if self.shared_params > 0 {
            let _ = writeln!(
                out,
                "shared (prefix trunk): {} parameters",
                thousands(self.shared_params)
            );
        }
        let share = if self.backbone_params == 0 {
            String::from("backbone size unknown")
        } else {
            format!("{:.4}% of the backbone", 100.0 * self.max_share)
        };
        let _ = writeln!(
            out,
            "full supernet (every slot at its largest rank): {} parameters, {share}",
            thousands(self.max_params)
        );
        out
    }
}

impl std::fmt::Display for SpaceSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(737_668_096), "737,668,096");
    }
}
