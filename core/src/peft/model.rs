//! A discrete PEFT model: the modules of a [`PeftConfig`], each built at
//! exactly its rank and always on, added to a frozen backbone through its
//! [`Hooks`]. This is what retraining trains.

use std::collections::HashMap;

use burn::module::Module;
use burn::tensor::{backend::Backend, Tensor};

use crate::backbone::{Hooks, Site};
use crate::error::{Error, Result};
use crate::peft_config::PeftConfig;
use crate::space::catalogue::named_sites;
use crate::space::{module_params, Kind};

use super::modules::{ModuleSpec, PeftModules, Placement};
use super::PeftOptions;

/// The trainable modules of one configuration.
#[derive(Module, Debug)]
pub struct PeftModel<B: Backend> {
    pub modules: PeftModules<B>,
    placement: Placement,
    /// Per configured module: its rank (0 for on/off kinds).
    ranks: Vec<usize>,
    /// Per configured module: LoRA's `lora_alpha / r` (1 for other kinds).
    scales: Vec<f64>,
}

impl<B: Backend> PeftModel<B> {
    /// Builds fresh modules for `config`; `naming` is the backbone's site
    /// naming function, which turns the configuration's names back into sites.
    /// Every module's parameter count is checked against the file.
    pub fn build<F>(config: &PeftConfig, naming: F, device: &B::Device) -> Result<Self>
    where
        F: Fn(Site) -> String,
    {
        config.validate()?;
        let named = named_sites(&config.backbone, naming)?;
        let mut by_name = HashMap::new();
        for (info, name) in &named {
            for kind in Kind::ALL {
                if kind.fits(info.site.point) {
                    by_name.insert((name.as_str(), kind), *info);
                }
            }
        }
        let mut specs = Vec::with_capacity(config.modules.len());
        for m in &config.modules {
            let info = by_name.get(&(m.name.as_str(), m.kind)).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{} module `{}` names no site of this {} model where {} fits",
                    m.kind, m.name, config.backbone.model_type, m.kind
                ))
            })?;
            let rank = m.rank.unwrap_or(0);
            let params = module_params(m.kind, info.d_in, info.d_out, rank, &config.options)?;
            if params != m.params {
                return Err(Error::InvalidInput(format!(
                    "{} module `{}` at rank {rank} has {params} parameters, the configuration says {}",
                    m.kind, m.name, m.params
                )));
            }
            specs.push(ModuleSpec {
                kind: m.kind,
                site: info.site,
                d_in: info.d_in,
                d_out: info.d_out,
                rank,
            });
        }
        let (modules, index) =
            PeftModules::init(&specs, &config.backbone, &config.options, device)?;
        Ok(Self::from_parts(modules, &specs, index, &config.options))
    }

    /// Assembles a model from modules placed by `specs` (`index`: each spec's
    /// module within its kind's list).
    pub(crate) fn from_parts(
        modules: PeftModules<B>,
        specs: &[ModuleSpec],
        index: Vec<usize>,
        options: &PeftOptions,
    ) -> Self {
        PeftModel {
            modules,
            placement: Placement::new(specs, index),
            ranks: specs.iter().map(|s| s.rank).collect(),
            scales: specs
                .iter()
                .map(|s| options.delta_scale(s.kind, s.rank))
                .collect(),
        }
    }

    /// Where the modules of `kind` sit: each one's site and its index in
    /// the kind's list (`modules.lora[i]`, …), in configuration order.
    pub fn placed(&self, kind: Kind) -> Vec<(Site, usize)> {
        self.placement
            .entries()
            .into_iter()
            .filter(|&(_, k, _)| k == kind)
            .map(|(site, _, entry)| (site, self.placement.module[entry]))
            .collect()
    }

    fn module(&self, site: Site, kind: Kind) -> Option<(usize, usize)> {
        self.placement
            .get(site, kind)
            .map(|entry| (entry, self.placement.module[entry]))
    }
}

impl<B: Backend> Hooks<B> for PeftModel<B> {
    fn linear(&self, site: Site, input: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        let mut out = output;
        if let Some((entry, i)) = self.module(site, Kind::Lora) {
            out = out + self.modules.lora[i].forward(input.clone(), self.scales[entry]);
        }
        if let Some((_, i)) = self.module(site, Kind::BitFit) {
            out = self.modules.bitfit[i].forward(out);
        }
        out
    }

    fn norm(&self, site: Site, normalized: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        let mut out = output;
        if let Some((_, i)) = self.module(site, Kind::LnFit) {
            out = self.modules.lnfit[i].forward(normalized.clone(), out);
        }
        if let Some((_, i)) = self.module(site, Kind::BitFit) {
            out = self.modules.bitfit[i].forward(out);
        }
        out
    }

    /// The reference's order: the low-rank adapter on the sub-layer's output,
    /// then the serial adapter on that, and the parallel adapter on the
    /// sub-layer's input, all residual.
    fn sublayer(&self, site: Site, input: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        let mut out = output;
        if let Some((_, i)) = self.module(site, Kind::Adapter) {
            out = out.clone() + self.modules.adapter[i].forward(out);
        }
        let serial = self
            .module(site, Kind::SerialAdapter)
            .map(|(_, i)| self.modules.serial_adapter[i].forward(out.clone()));
        if let Some(delta) = serial {
            out = out + delta;
        }
        if let Some((_, i)) = self.module(site, Kind::ParallelAdapter) {
            out = out + self.modules.parallel_adapter[i].forward(input.clone());
        }
        out
    }

    fn attention(&self, site: Site, query: &Tensor<B, 4>, context: Tensor<B, 4>) -> Tensor<B, 4> {
        match (self.module(site, Kind::Prefix), &self.modules.prefix_trunk) {
            (Some((entry, i)), Some(trunk)) => self.modules.prefix[i].forward(
                trunk.forward(),
                query.clone(),
                context,
                self.ranks[entry],
            ),
            _ => context,
        }
    }
}
