//! The supernet: one PEFT module per slot of a catalogue, each held at its
//! largest candidate rank, all added to the frozen backbone through
//! [`Hooks`](crate::backbone::Hooks) and weighted per forward pass by
//! [`Gates`].

use std::sync::Arc;

use burn::module::Module;
use burn::tensor::backend::Backend;

use crate::error::Result;
use crate::peft::{ModuleSpec, PeftModules, Placement, RankMixer};
use crate::space::Catalogue;


/// What the supernet knows about its slots besides their weights.
#[derive(Clone)]
pub(crate) struct Layout {
    pub catalogue: Arc<Catalogue>,
    /// Entry `i` is slot `i`.
    pub placement: Placement,
    /// One row per rank-searchable slot, in catalogue rank-row order.
    pub mixer: RankMixer,
}

impl std::fmt::Debug for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Layout(space `{}`, {} slots)",
            self.catalogue.space.name,
            self.catalogue.slots().len()
        )
    }
}

/// All PEFT modules of a search space. Its parameters are the search's
/// trainable weights; the architecture logits and the backbone live elsewhere.
#[derive(Module, Debug)]
pub struct Supernet<B: Backend> {
    pub modules: PeftModules<B>,
    layout: Layout,
}

impl<B: Backend> Supernet<B> {
    /// Fresh modules for every slot of `catalogue`, at their largest ranks.
    pub fn new(catalogue: &Catalogue, device: &B::Device) -> Result<Self> {
        let specs: Vec<ModuleSpec> = catalogue
            .slots()
            .iter()
            .map(|s| ModuleSpec {
                kind: s.kind,
                site: s.site,
                d_in: s.d_in,
                d_out: s.d_out,
                rank: s.max_rank(),
            })
            .collect();
        let (modules, index) =
            PeftModules::init(&specs, &catalogue.shape, &catalogue.options, device)?;
        let options = &catalogue.options;
        let rows: Vec<(Vec<usize>, Vec<f64>)> = catalogue
            .rank_slots()
            .iter()
            .map(|&i| {
                let slot = &catalogue.slots()[i];
                let scales = slot
                    .ranks
                    .iter()
                    .map(|&r| options.delta_scale(slot.kind, r))
                    .collect();
                (slot.ranks.clone(), scales)
            })
            .collect();
        Ok(Supernet {
            modules,
            layout: Layout {
                catalogue: Arc::new(catalogue.clone()),
                placement: Placement::new(&specs, index),
                mixer: RankMixer::new(&rows),
            },
        })
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.layout.catalogue
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }
}
