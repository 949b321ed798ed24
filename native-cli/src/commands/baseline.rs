//! Hand-made configurations sized to a budget, for comparison with the search
//! (`bipeft search --mode uniform_lora|bitfit|lnfit|adapter`): one kind of
//! module on every slot of that kind, at the largest rank that fits.

use anyhow::bail;
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::space::{Catalogue, Kind};

use super::search::Mode;

/// The module kind of a baseline mode; `None` for the search modes.
pub fn kind_of(mode: Mode) -> Option<Kind> {
    match mode {
        Mode::UniformLora => Some(Kind::Lora),
        Mode::Adapter => Some(Kind::Adapter),
        Mode::Bitfit => Some(Kind::BitFit),
        Mode::Lnfit => Some(Kind::LnFit),
        _ => None,
    }
}

/// Every slot of `kind` at the largest common rank whose total fits `budget`;
/// when not even the smallest rank fits on every slot, as many slots (in
/// forward order) as fit at the smallest rank.
pub fn sized(catalogue: &Catalogue, kind: Kind, budget: u64) -> anyhow::Result<PeftConfig> {
    let slots: Vec<usize> = (0..catalogue.slots().len())
        .filter(|&i| catalogue.slots()[i].kind == kind)
        .collect();
    if slots.is_empty() {
        bail!(
            "space `{}` has no {kind} slot on this model; choose a space with {kind} modules",
            catalogue.space.name
        );
    }
    let ranks = catalogue.slots()[slots[0]].ranks.clone();
    let build =
        |picks: &[(usize, Option<usize>)]| PeftConfig::from_selection(catalogue, budget, picks);
    if ranks.is_empty() {
        return Ok(build(&greedy(catalogue, &slots, None, budget))?);
    }
    for &rank in ranks.iter().rev() {
        let picks: Vec<(usize, Option<usize>)> = slots.iter().map(|&s| (s, Some(rank))).collect();
        let config = build(&picks)?;
        if config.trainable_params <= budget {
            return Ok(config);
        }
    }
    Ok(build(&greedy(catalogue, &slots, Some(ranks[0]), budget))?)
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
