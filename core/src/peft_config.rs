//! The discrete PEFT configuration a search ends with: `peft_config.json`.
//!
//! It names the backbone (type, sizes, parameter count), the space that was
//! searched, the budget, and every chosen module as `{name, kind, rank,
//! params}` with the total. A model built from it
//! ([`PeftModel::build`](crate::peft::PeftModel::build)) holds exactly those
//! modules at those ranks, and its trainable parameter count is the file's
//! `trainable_params`. Like Hugging Face AdaLoRA's `rank_pattern`, the result is
//! ordinary data, readable without bipeft.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::peft::PeftOptions;
use crate::space::{shared_parts, BackboneShape, Catalogue, Kind, SharedPart, SpaceDef};

/// The `format` field of every configuration file.
pub const FORMAT: &str = "bipeft-peft-config";
/// The `version` this code writes and reads.
pub const VERSION: u32 = 1;

/// One chosen module.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChosenModule {
    /// The slot's name (the Hugging Face module path of its site).
    pub name: String,
    pub kind: Kind,
    /// The chosen rank (width, length); `null` for on/off kinds.
    pub rank: Option<usize>,
    /// Trainable parameters of the module.
    pub params: u64,
}

/// A discrete PEFT configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeftConfig {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written by this code.
    pub version: u32,
    pub backbone: BackboneShape,
    pub space: SpaceDef,
    #[serde(default)]
    pub options: PeftOptions,
    /// The budget the search was given.
    pub budget_params: u64,
    pub modules: Vec<ChosenModule>,
    /// Parameters several modules share (the prefix trunk), counted once.
    #[serde(default)]
    pub shared: Vec<SharedPart>,
    /// The sum of every module's and shared part's parameters.
    pub trainable_params: u64,
}

impl PeftConfig {
    /// The configuration that turns on `picks` of `catalogue`: each a slot index
    /// with its rank (`None` for on/off slots).
    pub fn from_selection(
        catalogue: &Catalogue,
        budget_params: u64,
        picks: &[(usize, Option<usize>)],
    ) -> Result<PeftConfig> {
        let mut seen = HashSet::new();
        let mut modules = Vec::with_capacity(picks.len());
        for &(slot_index, rank) in picks {
            let slot = catalogue.slots().get(slot_index).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "slot {slot_index} is not in the catalogue ({} slots)",
                    catalogue.slots().len()
                ))
            })?;
            if !seen.insert(slot_index) {
                return Err(Error::InvalidInput(format!(
                    "{} slot `{}` is chosen twice",
                    slot.kind, slot.name
                )));
            }
            let params = slot.params_at(rank).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{} slot `{}`: rank {rank:?} is not one of its candidates {:?}",
                    slot.kind, slot.name, slot.ranks
                ))
            })?;
            modules.push(ChosenModule {
                name: slot.name.clone(),
                kind: slot.kind,
                rank,
                params,
            });
        }
        let shared = shared_of(&modules, &catalogue.shape, &catalogue.options);
        let trainable_params = total(&modules, &shared);
        Ok(PeftConfig {
            format: FORMAT.into(),
            version: VERSION,
            backbone: catalogue.shape.clone(),
            space: catalogue.space.clone(),
            options: catalogue.options.clone(),
            budget_params,
            modules,
            shared,
            trainable_params,
        })
    }

    /// Checks what can be checked without the backbone's site names: format,
    /// version, one entry per module, ranks where the kind has them, the shared
    /// parts, and the totals.
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Error::MalformedConfig {
            file: "peft_config.json".into(),
            message,
        };
        if self.format != FORMAT {
            return Err(bad(format!(
                "format is \"{}\", expected \"{FORMAT}\"",
                self.format
            )));
        }
        if self.version != VERSION {
            return Err(bad(format!(
                "version {} is not supported (this bipeft reads version {VERSION})",
                self.version
            )));
        }
        self.backbone.validate()?;
        self.options.validate()?;
        let mut seen = HashSet::new();
        for m in &self.modules {
            if !seen.insert((m.name.as_str(), m.kind)) {
                return Err(bad(format!("{} module `{}` appears twice", m.kind, m.name)));
            }
            match (m.kind.is_rank_searchable(), m.rank) {
                (true, None) | (true, Some(0)) => {
                    return Err(bad(format!(
                        "{} module `{}` needs a positive rank",
                        m.kind, m.name
                    )))
                }
                (false, Some(_)) => {
                    return Err(bad(format!(
                        "{} module `{}` is on/off; its rank must be null",
                        m.kind, m.name
                    )))
                }
                _ => {}
            }
        }
        let shared = shared_of(&self.modules, &self.backbone, &self.options);
        if shared != self.shared {
            return Err(bad(format!(
                "shared parts {:?} do not match the modules (expected {shared:?})",
                self.shared
            )));
        }
        let sum = total(&self.modules, &self.shared);
        if sum != self.trainable_params {
            return Err(bad(format!(
                "trainable_params is {} but the modules and shared parts add up to {sum}",
                self.trainable_params
            )));
        }
        Ok(())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::InvalidInput(format!("cannot write peft_config.json: {e}")))
    }

    /// Parses and validates JSON text; `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<PeftConfig> {
        let config: PeftConfig =
            serde_json::from_str(text).map_err(|e| Error::MalformedConfig {
                file: file.to_string(),
                message: e.to_string(),
            })?;
        config.validate().map_err(|e| match e {
            Error::MalformedConfig { message, .. } => Error::MalformedConfig {
                file: file.to_string(),
                message,
            },
            other => other,
        })?;
        Ok(config)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_json()? + "\n").map_err(|e| Error::io(path, e))
    }

    pub fn load(path: &Path) -> Result<PeftConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text, &path.display().to_string())
    }
}

/// The shared parts the chosen modules need.
fn shared_of(
    modules: &[ChosenModule],
    shape: &BackboneShape,
    options: &PeftOptions,
) -> Vec<SharedPart> {
    shared_parts(
        modules.iter().map(|m| (m.kind, m.rank.unwrap_or(0))),
        shape.d_model,
        options,
    )
}

fn total(modules: &[ChosenModule], shared: &[SharedPart]) -> u64 {
    modules.iter().map(|m| m.params).sum::<u64>() + shared.iter().map(|p| p.params).sum::<u64>()
}
