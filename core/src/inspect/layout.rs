//! A configuration laid over every slot of the space it was chosen from:
//! per slot its layer, position, candidates and what was kept; per kind the
//! modules kept and their parameters. `bipeft inspect` prints it as a table
//! and the page draws it as a heat map.
//!
//! A configuration lists only the modules it keeps. The view needs the
//! pruned slots too, so the catalogue is rebuilt from the file's backbone
//! shape and space definition with the core's own catalogue code — the same
//! slots, names and parameter counts the search saw.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::naming::naming_for;
use crate::backbone::{BackboneConfig, Point, Stack};
use crate::error::{Error, Result};
use crate::peft::PeftOptions;
use crate::peft_config::{ChosenModule, PeftConfig};
use crate::space::{presets, BackboneShape, Catalogue, Kind, SharedPart};

/// One slot of the space, with what the configuration chose for it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlotView {
    pub name: String,
    pub kind: Kind,
    pub stack: Stack,
    pub layer: usize,
    pub point: Point,
    /// Candidate ranks (empty for on/off kinds).
    pub ranks: Vec<usize>,
    /// Parameters at each candidate rank (one entry for on/off kinds).
    pub params: Vec<u64>,
    /// Whether the configuration keeps a module here.
    pub on: bool,
    /// The chosen rank of a kept rank-searchable module.
    pub rank: Option<usize>,
    /// Parameters of the kept module (0 when pruned).
    pub chosen_params: u64,
}

/// One kind's share of the result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindView {
    pub kind: Kind,
    pub rank_searchable: bool,
    /// Slots of this kind in the space.
    pub slots: usize,
    /// Modules of this kind the configuration keeps.
    pub kept: usize,
    /// Their parameters.
    pub params: u64,
    /// Every slot of the kind on at its largest rank.
    pub max_params: u64,
}

/// A configuration laid over its space.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inspection {
    pub space: String,
    pub backbone: BackboneShape,
    pub budget_params: u64,
    pub trainable_params: u64,
    /// The full supernet: every slot on at its largest rank, and the shared parts.
    pub supernet_params: u64,
    /// Every candidate rank of the space, increasing.
    pub ranks: Vec<usize>,
    /// In forward order (encoder, then decoder).
    pub slots: Vec<SlotView>,
    pub kinds: Vec<KindView>,
    /// Parameters several modules share (the prefix trunk), as the file has them.
    pub shared: Vec<SharedPart>,
}

/// Reads, checks and lays out a `peft_config.json`.
pub fn inspect_config(config_json: &str) -> Result<Inspection> {
    inspect(&PeftConfig::from_json(config_json, "peft_config.json")?)
}

/// Checks and lays out a configuration.
pub fn inspect(config: &PeftConfig) -> Result<Inspection> {
    let catalogue = catalogue_of(config)?;
    Ok(lay_out(
        &catalogue,
        &config.modules,
        config.budget_params,
        &config.shared,
    ))
}

/// Every slot of `space` (a preset's name) on the backbone of a Hugging Face
/// `config.json`, nothing kept yet: what a search of that space starts from.
pub fn preview_space(model_config_json: &str, space: &str) -> Result<Inspection> {
    let model = BackboneConfig::from_json(model_config_json)?;
    let space = presets::preset(space)?;
    let catalogue = Catalogue::build(
        &model.shape(),
        &space,
        &PeftOptions::default(),
        model.site_namer(""),
    )?;
    Ok(lay_out(&catalogue, &[], 0, &[]))
}

/// The catalogue the configuration was chosen from; every kept module must be
/// one of its slots, at one of that slot's candidate ranks.
pub fn catalogue_of(config: &PeftConfig) -> Result<Catalogue> {
    let naming = naming_for(&config.backbone, &config.modules)?;
    let catalogue = Catalogue::build(&config.backbone, &config.space, &config.options, naming)?;
    for module in &config.modules {
        let index = catalogue
            .find_name(&module.name, module.kind)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "peft_config.json keeps a {} module `{}`, but space `{}` on this {} backbone \
                     has no such slot",
                    module.kind, module.name, config.space.name, config.backbone.model_type
                ))
            })?;
        let slot = &catalogue.slots()[index];
        if slot.params_at(module.rank) != Some(module.params) {
            return Err(Error::InvalidInput(format!(
                "peft_config.json: {} module `{}` at rank {:?} has {} parameters, but its slot \
                 (candidate ranks {:?}) gives {:?}",
                module.kind,
                module.name,
                module.rank,
                module.params,
                slot.ranks,
                slot.params_at(module.rank)
            )));
        }
    }
    Ok(catalogue)
}

/// Every slot of `catalogue`, nothing kept, against `budget_params`: where a
/// search starts.
pub fn lay_out_space(catalogue: &Catalogue, budget_params: u64) -> Inspection {
    lay_out(catalogue, &[], budget_params, &[])
}

fn lay_out(
    catalogue: &Catalogue,
    modules: &[ChosenModule],
    budget_params: u64,
    shared: &[SharedPart],
) -> Inspection {
    let chosen: HashMap<(&str, Kind), (Option<usize>, u64)> = modules
        .iter()
        .map(|m| ((m.name.as_str(), m.kind), (m.rank, m.params)))
        .collect();
    let slots: Vec<SlotView> = catalogue
        .slots()
        .iter()
        .map(|slot| {
            let pick = chosen.get(&(slot.name.as_str(), slot.kind));
            SlotView {
                name: slot.name.clone(),
                kind: slot.kind,
                stack: slot.site.stack,
                layer: slot.site.layer,
                point: slot.site.point,
                ranks: slot.ranks.clone(),
                params: slot.params.clone(),
                on: pick.is_some(),
                rank: pick.and_then(|&(rank, _)| rank),
                chosen_params: pick.map_or(0, |&(_, params)| params),
            }
        })
        .collect();
    let shared_of = |parts: &[SharedPart], kind: Kind| -> u64 {
        parts
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.params)
            .sum()
    };
    let kinds = catalogue
        .kinds()
        .into_iter()
        .map(|kind| {
            let of_kind = || slots.iter().filter(move |s| s.kind == kind);
            KindView {
                kind,
                rank_searchable: kind.is_rank_searchable(),
                slots: of_kind().count(),
                kept: of_kind().filter(|s| s.on).count(),
                params: of_kind().map(|s| s.chosen_params).sum::<u64>() + shared_of(shared, kind),
                max_params: of_kind()
                    .map(|s| s.params.iter().copied().max().unwrap_or(0))
                    .sum::<u64>()
                    + shared_of(&catalogue.shared, kind),
            }
        })
        .collect();
    let ranks: BTreeSet<usize> = slots.iter().flat_map(|s| s.ranks.iter().copied()).collect();
    let trainable_params = slots.iter().map(|s| s.chosen_params).sum::<u64>()
        + shared.iter().map(|p| p.params).sum::<u64>();
    Inspection {
        space: catalogue.space.name.clone(),
        backbone: catalogue.shape.clone(),
        budget_params,
        trainable_params,
        supernet_params: catalogue.max_params(),
        ranks: ranks.into_iter().collect(),
        slots,
        kinds,
        shared: shared.to_vec(),
    }
}

/// `encoder.layer.3.attention.self.query` → (`encoder.layer`, 3,
/// `attention.self.query`): a module path's stack, layer and place in the
/// block; `None` for modules outside the layers (`embeddings.LayerNorm`).
pub fn split_at_layer(name: &str) -> Option<(String, usize, String)> {
    let parts: Vec<&str> = name.split('.').collect();
    let i = parts.iter().position(|p| p.parse::<usize>().is_ok())?;
    let layer = parts[i].parse().ok()?;
    Some((parts[..i].join("."), layer, parts[i + 1..].join(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_layer() {
        assert_eq!(
            split_at_layer("encoder.layer.3.attention.self.query"),
            Some(("encoder.layer".into(), 3, "attention.self.query".into()))
        );
        assert_eq!(
            split_at_layer("decoder.block.0.layer.1.EncDecAttention"),
            Some(("decoder.block".into(), 0, "layer.1.EncDecAttention".into()))
        );
        assert_eq!(split_at_layer("embeddings.LayerNorm"), None);
    }
}
