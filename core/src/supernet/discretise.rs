//! From the supernet to a discrete model that keeps its weights: every chosen
//! module cut to its configured rank (the reference's `finalized_arch`).
//! BIPEFT retrains from a fresh initialisation
//! ([`PeftModel::build`](crate::peft::PeftModel::build)); this is for
//! evaluating a search result as it stands, and it shows that a supernet under
//! hard gates computes exactly its discrete model.

use burn::tensor::backend::Backend;

use crate::error::{Error, Result};
use crate::peft::{ModuleSpec, PeftModel, PeftModules};
use crate::peft_config::PeftConfig;
use crate::space::Kind;

use super::model::Supernet;

impl<B: Backend> Supernet<B> {
    /// The discrete model of `config` (a configuration of this supernet's
    /// space, backbone and options) holding the supernet's current weights.
    pub fn discretise(&self, config: &PeftConfig) -> Result<PeftModel<B>> {
        config.validate()?;
        let catalogue = self.catalogue();
        if config.backbone != catalogue.shape || config.options != catalogue.options {
            return Err(Error::InvalidInput(
                "the configuration is for another backbone shape or other PEFT options \
                 than this supernet"
                    .into(),
            ));
        }
        let src = &self.modules;
        let placement = &self.layout().placement;
        let mut modules = PeftModules::empty();
        let (mut specs, mut index) = (Vec::new(), Vec::new());
        for m in &config.modules {
            let slot_index = catalogue.find_name(&m.name, m.kind).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{} module `{}` is not a slot of space `{}`",
                    m.kind, m.name, catalogue.space.name
                ))
            })?;
            let slot = &catalogue.slots()[slot_index];
            if slot.params_at(m.rank) != Some(m.params) {
                return Err(Error::InvalidInput(format!(
                    "{} module `{}`: rank {:?} with {} parameters is not a candidate of its slot",
                    m.kind, m.name, m.rank, m.params
                )));
            }
            let i = placement.module[slot_index];
            let rank = m.rank.unwrap_or(0);
            let at = match m.kind {
                Kind::Lora => push(&mut modules.lora, src.lora[i].truncate(rank)?),
                Kind::Adapter => push(&mut modules.adapter, src.adapter[i].truncate(rank)?),
                Kind::BitFit => push(&mut modules.bitfit, src.bitfit[i].clone()),
                Kind::LnFit => push(&mut modules.lnfit, src.lnfit[i].clone()),
                Kind::SerialAdapter => push(
                    &mut modules.serial_adapter,
                    src.serial_adapter[i].truncate(rank)?,
                ),
                Kind::ParallelAdapter => push(
                    &mut modules.parallel_adapter,
                    src.parallel_adapter[i].truncate(rank)?,
                ),
                Kind::Prefix => push(&mut modules.prefix, src.prefix[i].clone()),
            };
            index.push(at);
            specs.push(ModuleSpec {
                kind: m.kind,
                site: slot.site,
                d_in: slot.d_in,
                d_out: slot.d_out,
                rank,
            });
        }
        let longest_prefix = specs
            .iter()
            .filter(|s| s.kind == Kind::Prefix)
            .map(|s| s.rank)
            .max();
        if let (Some(length), Some(trunk)) = (longest_prefix, &src.prefix_trunk) {
            modules.prefix_trunk = Some(trunk.truncate(length)?);
        }
        Ok(PeftModel::from_parts(
            modules,
            &specs,
            index,
            &config.options,
        ))
    }
}

/// Appends and returns the new element's index.
fn push<T>(list: &mut Vec<T>, item: T) -> usize {
    list.push(item);
    list.len() - 1
}
