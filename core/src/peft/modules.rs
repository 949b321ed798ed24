//! The trainable modules of a supernet or of a discrete PEFT model, one list
//! per kind, and where each one sits.

use std::collections::HashMap;

use burn::module::Module;
use burn::tensor::backend::Backend;

use crate::backbone::Site;
use crate::error::{Error, Result};
use crate::space::{BackboneShape, Kind};

use super::{
    BitFit, BitFitConfig, BottleneckAdapter, BottleneckAdapterConfig, LnFit, LnFitConfig, Lora,
    LoraConfig, LowRankAdapter, LowRankAdapterConfig, PeftOptions, PrefixLayer, PrefixLayerConfig,
    PrefixTrunk, PrefixTrunkConfig,
};

/// One module to create: its kind, site, widths and rank (0 for on/off kinds).
#[derive(Clone, Debug, PartialEq)]
pub struct ModuleSpec {
    pub kind: Kind,
    pub site: Site,
    pub d_in: usize,
    pub d_out: usize,
    pub rank: usize,
}

/// Every trainable PEFT parameter, by kind. The frozen backbone lives elsewhere,
/// so these (and a task head) are all an optimiser ever sees.
#[derive(Module, Debug)]
pub struct PeftModules<B: Backend> {
    pub lora: Vec<Lora<B>>,
    pub adapter: Vec<LowRankAdapter<B>>,
    pub bitfit: Vec<BitFit<B>>,
    pub lnfit: Vec<LnFit<B>>,
    pub serial_adapter: Vec<BottleneckAdapter<B>>,
    pub parallel_adapter: Vec<BottleneckAdapter<B>>,
    pub prefix: Vec<PrefixLayer<B>>,
    /// Present when any prefix layer is; as long as the longest prefix.
    pub prefix_trunk: Option<PrefixTrunk<B>>,
}

impl<B: Backend> PeftModules<B> {
    /// No modules.
    pub fn empty() -> Self {
        PeftModules {
            lora: Vec::new(),
            adapter: Vec::new(),
            bitfit: Vec::new(),
            lnfit: Vec::new(),
            serial_adapter: Vec::new(),
            parallel_adapter: Vec::new(),
            prefix: Vec::new(),
            prefix_trunk: None,
        }
    }

    /// Creates one freshly initialised module per spec; returns the index of
    /// each within its kind's list.
    pub fn init(
        specs: &[ModuleSpec],
        shape: &BackboneShape,
        options: &PeftOptions,
        device: &B::Device,
    ) -> Result<(Self, Vec<usize>)> {
        let mut m = PeftModules::empty();
        let mut index = Vec::with_capacity(specs.len());
        let mut prefix_length = 0;
        for spec in specs {
            let needs_rank = spec.kind.is_rank_searchable();
            if needs_rank != (spec.rank > 0) {
                return Err(Error::InvalidInput(format!(
                    "{} module at {:?}: rank {} ({})",
                    spec.kind,
                    spec.site,
                    spec.rank,
                    if needs_rank {
                        "needs a positive rank"
                    } else {
                        "is on/off and takes none"
                    }
                )));
            }
            let at = match spec.kind {
                Kind::Lora => {
                    m.lora
                        .push(LoraConfig::new(spec.d_in, spec.d_out, spec.rank).init(device));
                    m.lora.len()
                }
                Kind::Adapter => {
                    let bottleneck = options.adapter_bottleneck(spec.d_out)?;
                    m.adapter.push(
                        LowRankAdapterConfig::new(spec.d_out, bottleneck, spec.rank)
                            .with_zero_init(options.adapter_zero_init)
                            .init(device),
                    );
                    m.adapter.len()
                }
                Kind::BitFit => {
                    m.bitfit.push(BitFitConfig::new(spec.d_out).init(device));
                    m.bitfit.len()
                }
                Kind::LnFit => {
                    m.lnfit.push(LnFitConfig::new(spec.d_out).init(device));
                    m.lnfit.len()
                }
                Kind::SerialAdapter | Kind::ParallelAdapter => {
                    let adapter = BottleneckAdapterConfig::new(spec.d_out, spec.rank)
                        .with_init(options.bottleneck_init)
                        .init(device);
                    let list = if spec.kind == Kind::SerialAdapter {
                        &mut m.serial_adapter
                    } else {
                        &mut m.parallel_adapter
                    };
                    list.push(adapter);
                    list.len()
                }
                Kind::Prefix => {
                    prefix_length = prefix_length.max(spec.rank);
                    m.prefix.push(
                        PrefixLayerConfig::new(shape.heads, shape.d_kv)
                            .with_bottleneck(options.prefix_bottleneck)
                            .init(device),
                    );
                    m.prefix.len()
                }
            };
            index.push(at - 1);
        }
        if prefix_length > 0 {
            m.prefix_trunk = Some(
                PrefixTrunkConfig::new(shape.d_model, prefix_length)
                    .with_bottleneck(options.prefix_bottleneck)
                    .init(device),
            );
        }
        Ok((m, index))
    }
}

/// Where the modules of a [`PeftModules`] sit: `(site, kind)` → entry, with
/// each entry's module index within its kind's list. Built once; the hooks
/// look sites up here on every call.
#[derive(Clone)]
pub struct Placement {
    /// Per entry (a slot or a configured module): the index in its kind's list.
    pub module: Vec<usize>,
    index: HashMap<(Site, Kind), usize>,
}

impl Placement {
    pub fn new(specs: &[ModuleSpec], module: Vec<usize>) -> Self {
        let index = specs
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.site, s.kind), i))
            .collect();
        Placement { module, index }
    }

    /// The entry of `kind` at `site`.
    pub fn get(&self, site: Site, kind: Kind) -> Option<usize> {
        self.index.get(&(site, kind)).copied()
    }

    /// Every entry as `(site, kind, entry)`, in entry order.
    pub fn entries(&self) -> Vec<(Site, Kind, usize)> {
        let mut entries: Vec<(Site, Kind, usize)> = self
            .index
            .iter()
            .map(|(&(site, kind), &entry)| (site, kind, entry))
            .collect();
        entries.sort_by_key(|&(_, _, entry)| entry);
        entries
    }
}

impl std::fmt::Debug for Placement {
    // A placement holds hundreds of entries; printing them all would drown a
    // module's display.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Placement({} modules)", self.module.len())
    }
}
