//! A search space applied to one backbone shape: the list of slots the
//! supernet holds and the search weighs, computed from the shape alone.

use std::collections::{HashMap, HashSet};

use regex::Regex;
use serde::Serialize;

use crate::backbone::hooks::Site;
use crate::error::{Error, Result};
use crate::peft::PeftOptions;

use super::def::SpaceDef;
use super::kind::Kind;
use super::shape::BackboneShape;
use super::sites::{sites, SiteInfo};
use super::slot::{module_params, shared_parts, SharedPart, Slot};

/// Every site of `shape` with its name, checked so that no two sites where the
/// same kind fits share a name (names, with the kind, identify slots).
pub(crate) fn named_sites<F>(shape: &BackboneShape, naming: F) -> Result<Vec<(SiteInfo, String)>>
where
    F: Fn(Site) -> String,
{
    shape.validate()?;
    let named: Vec<(SiteInfo, String)> = sites(shape)
        .into_iter()
        .map(|info| {
            let name = naming(info.site);
            (info, name)
        })
        .collect();
    for kind in Kind::ALL {
        let mut seen: HashMap<&str, Site> = HashMap::new();
        for (info, name) in named.iter().filter(|(i, _)| kind.fits(i.site.point)) {
            if let Some(first) = seen.insert(name.as_str(), info.site) {
                return Err(Error::InvalidInput(format!(
                    "the naming function gives {first:?} and {:?} the same name `{name}`; \
                     {kind} slots need distinct names",
                    info.site
                )));
            }
        }
    }
    Ok(named)
}

fn validate_ranks(ranks: &[usize], what: &str) -> Result<()> {
    if ranks.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{what}: no candidate ranks (give the rule or the space `ranks`)"
        )));
    }
    if ranks[0] == 0 || ranks.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::InvalidInput(format!(
            "{what}: candidate ranks must be positive and strictly increasing, found {ranks:?}"
        )));
    }
    Ok(())
}

/// The slots of one space on one backbone.
#[derive(Clone, Debug, Serialize)]
pub struct Catalogue {
    pub space: SpaceDef,
    pub shape: BackboneShape,
    pub options: PeftOptions,
    /// In forward order of their sites; at one site in [`Kind::ALL`] order.
    pub slots: Vec<Slot>,
    pub shared: Vec<SharedPart>,
    #[serde(skip)]
    rank_rows: Vec<Option<usize>>,
    #[serde(skip)]
    rank_slots: Vec<usize>,
    #[serde(skip)]
    candidates: usize,
    #[serde(skip)]
    index: HashMap<(Site, Kind), usize>,
}

impl Catalogue {
    /// Applies `space` to `shape`; `naming` gives each site its checkpoint name
    /// (the backbones provide it).
    pub fn build<F>(
        shape: &BackboneShape,
        space: &SpaceDef,
        options: &PeftOptions,
        naming: F,
    ) -> Result<Catalogue>
    where
        F: Fn(Site) -> String,
    {
        options.validate()?;
        let named = named_sites(shape, naming)?;

        // Which rule claims each (site, kind), with its resolved ranks.
        let mut claims: HashMap<(usize, Kind), (usize, Vec<usize>)> = HashMap::new();
        for (r, rule) in space.rules.iter().enumerate() {
            let what = format!("space `{}`, rule {r} ({})", space.name, rule.kind);
            let ranks = if rule.kind.is_rank_searchable() {
                let ranks = if rule.ranks.is_empty() {
                    space.ranks.clone()
                } else {
                    rule.ranks.clone()
                };
                validate_ranks(&ranks, &what)?;
                ranks
            } else if !rule.ranks.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "{what}: {} is on/off and takes no candidate ranks",
                    rule.kind
                )));
            } else {
                Vec::new()
            };
            let patterns = rule
                .targets
                .iter()
                .map(|p| {
                    Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                        Error::InvalidInput(format!("{what}: bad target pattern `{p}`: {e}"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut matched = 0;
            for (s, (info, name)) in named.iter().enumerate() {
                let point = info.site.point;
                if !rule.kind.fits(point)
                    || (!rule.points.is_empty() && !rule.points.contains(&point))
                    || (!patterns.is_empty() && !patterns.iter().any(|p| p.is_match(name)))
                {
                    continue;
                }
                if let Some((other, _)) = claims.insert((s, rule.kind), (r, ranks.clone())) {
                    return Err(Error::InvalidInput(format!(
                        "space `{}`: the {} slot `{name}` is matched by rules {other} and {r}",
                        space.name, rule.kind
                    )));
                }
                matched += 1;
            }
            if matched == 0 {
                let examples: Vec<&str> = named
                    .iter()
                    .filter(|(i, _)| rule.kind.fits(i.site.point))
                    .take(3)
                    .map(|(_, n)| n.as_str())
                    .collect();
                return Err(Error::InvalidInput(format!(
                    "{what} matches no slot of this {} model; {} slots are named like: {}",
                    shape.model_type,
                    rule.kind,
                    examples.join(", ")
                )));
            }
        }

        let mut slots = Vec::new();
        for (s, (info, name)) in named.iter().enumerate() {
            for kind in Kind::ALL {
                let Some((_, ranks)) = claims.get(&(s, kind)) else {
                    continue;
                };
                let width = info.d_in.max(info.d_out);
                if let Some(&rank) = ranks.iter().find(|&&r| kind.is_rank_searchable() && r > width) {
                    return Err(Error::InvalidInput(format!(
                        "space `{}`: rank {rank} of {kind} at {name} exceeds the layer's width {width}",
                        space.name
                    )));
                }
                let params = if kind.is_rank_searchable() {
                    ranks
                        .iter()
                        .map(|&r| module_params(kind, info.d_in, info.d_out, r, options))
                        .collect::<Result<Vec<_>>>()?
                } else {
                    vec![module_params(kind, info.d_in, info.d_out, 0, options)?]
                };
                slots.push(Slot {
                    name: name.clone(),
                    kind,
                    site: info.site,
                    d_in: info.d_in,
                    d_out: info.d_out,
                    ranks: ranks.clone(),
                    params,
                });
            }
        }
        Self::from_slots(space.clone(), shape.clone(), options.clone(), slots)
    }

    /// Indexes `slots` and derives the shared parts; checks that every
    /// rank-searchable slot has the same number of candidates.
    fn from_slots(
        space: SpaceDef,
        shape: BackboneShape,
        options: PeftOptions,
        slots: Vec<Slot>,
    ) -> Result<Catalogue> {
        let mut rank_rows = Vec::with_capacity(slots.len());
        let mut rank_slots = Vec::new();
        let mut candidates: Option<(usize, &Slot)> = None;
        let mut index = HashMap::with_capacity(slots.len());
        for (i, slot) in slots.iter().enumerate() {
            index.insert((slot.site, slot.kind), i);
            if !slot.is_rank_searchable() {
                rank_rows.push(None);
                continue;
            }
            match candidates {
                None => candidates = Some((slot.ranks.len(), slot)),
                Some((k, first)) if k != slot.ranks.len() => {
                    return Err(Error::InvalidInput(format!(
                        "space `{}`: rank-searchable slots need the same number of candidate \
                         ranks (one row of rank weights each): {} `{}` has {:?}, {} `{}` has {:?}",
                        space.name,
                        first.kind,
                        first.name,
                        first.ranks,
                        slot.kind,
                        slot.name,
                        slot.ranks
                    )));
                }
                Some(_) => {}
            }
            rank_rows.push(Some(rank_slots.len()));
            rank_slots.push(i);
        }
        let candidates = candidates.map_or(0, |(k, _)| k);

        let shared = shared_parts(
            slots.iter().map(|s| (s.kind, s.max_rank())),
            shape.d_model,
            &options,
        );
        Ok(Catalogue {
            space,
            shape,
            options,
            slots,
            shared,
            rank_rows,
            rank_slots,
            candidates,
            index,
        })
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Indices of the rank-searchable slots, in the row order of rank weights.
    pub fn rank_slots(&self) -> &[usize] {
        &self.rank_slots
    }

    /// The row of `slot` in rank weights, if it is rank-searchable.
    pub fn rank_row(&self, slot: usize) -> Option<usize> {
        self.rank_rows.get(slot).copied().flatten()
    }

    /// Candidate ranks per rank-searchable slot (the width of rank weights); 0 if none.
    pub fn num_candidates(&self) -> usize {
        self.candidates
    }

    /// The slot of `kind` at `site`.
    pub fn find(&self, site: Site, kind: Kind) -> Option<usize> {
        self.index.get(&(site, kind)).copied()
    }

    /// The slot of `kind` named `name`.
    pub fn find_name(&self, name: &str, kind: Kind) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.kind == kind && s.name == name)
    }

    /// Parameters shared by slots (counted once when any of their slots is on).
    pub fn shared_params(&self) -> u64 {
        self.shared.iter().map(|p| p.params).sum()
    }

    /// Parameters of the full supernet: every slot at its largest rank, and the shared parts.
    pub fn max_params(&self) -> u64 {
        self.slots.iter().map(Slot::max_params).sum::<u64>() + self.shared_params()
    }

    /// Kinds present, in [`Kind::ALL`] order.
    pub fn kinds(&self) -> Vec<Kind> {
        let present: HashSet<Kind> = self.slots.iter().map(|s| s.kind).collect();
        Kind::ALL
            .into_iter()
            .filter(|k| present.contains(k))
            .collect()
    }
}
