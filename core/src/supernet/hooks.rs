//! The supernet's side of a backbone forward pass: at every hook site, add
//! the slot modules there, each weighted by its gates.

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::backbone::{Hooks, Site};
use crate::error::{Error, Result};
use crate::space::Kind;

use super::gates::{largest_one_hot, Gates};
use super::model::Supernet;

impl<B: Backend> Supernet<B> {
    /// A light view that implements [`Hooks`](crate::backbone::Hooks) for one
    /// forward pass weighted by `gates`. The per-slot rank mixtures are
    /// computed here, once, for all slots.
    pub fn hooks(&self, gates: &Gates<B>) -> Result<SupernetHooks<'_, B>> {
        let catalogue = self.catalogue();
        let slots = catalogue.slots().len();
        let (rows, k) = (catalogue.rank_slots().len(), catalogue.num_candidates());
        if gates.on.dims() != [slots] {
            return Err(Error::InvalidInput(format!(
                "gates: `on` has shape {:?}, the space has {slots} slots",
                gates.on.dims()
            )));
        }
        if let Some(w) = &gates.rank_weights {
            if w.dims() != [rows, k] {
                return Err(Error::InvalidInput(format!(
                    "gates: rank weights have shape {:?}, expected [{rows}, {k}]",
                    w.dims()
                )));
            }
        }
        let on = gates.on.clone();
        let device = on.device();
        let mixture = (rows > 0).then(|| {
            let weights = gates.rank_weights.clone().unwrap_or_else(|| {
                Tensor::from_data(
                    TensorData::new(largest_one_hot(rows, k), [rows, k]),
                    &device,
                )
            });
            let rank_slots: Vec<i64> = catalogue.rank_slots().iter().map(|&i| i as i64).collect();
            let index =
                Tensor::<B, 1, Int>::from_data(TensorData::new(rank_slots, [rows]), &device);
            // A slot's weight on candidate k is "on" times the rank sample.
            let weights = weights * on.clone().select(0, index).reshape([rows, 1]);
            let (unit_a, unit_b) = self.layout().mixer.units(weights.clone());
            (weights, unit_a, unit_b)
        });
        let trunk = self.modules.prefix_trunk.as_ref().map(|t| t.forward());
        Ok(SupernetHooks::new(self, on, mixture, trunk))
    }
}

/// A [`Supernet`] with the gates of one forward pass (see [`Supernet::hooks`]).
pub struct SupernetHooks<'a, B: Backend> {
    net: &'a Supernet<B>,
    /// `[slots]`.
    on: Tensor<B, 1>,
    /// Per rank-searchable slot: candidate weights `[rows, k]` (on × rank
    /// sample) and the per-unit weights `a`, `b` (`[rows, width]`).
    mixture: Option<(Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 2>)>,
    /// The prefix trunk's output, `[length, bottleneck]`.
    trunk: Option<Tensor<B, 2>>,
}

/// What one rank-searchable slot's module is weighted by.
struct Mix<B: Backend> {
    /// `[k]`.
    weights: Tensor<B, 1>,
    /// `[max rank]` each.
    unit_a: Tensor<B, 1>,
    unit_b: Tensor<B, 1>,
    /// `[1]`.
    on: Tensor<B, 1>,
}

impl<'a, B: Backend> SupernetHooks<'a, B> {
    pub(crate) fn new(
        net: &'a Supernet<B>,
        on: Tensor<B, 1>,
        mixture: Option<(Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 2>)>,
        trunk: Option<Tensor<B, 2>>,
    ) -> Self {
        SupernetHooks {
            net,
            on,
            mixture,
            trunk,
        }
    }

    /// The slot of `kind` at `site` and its module's index in its kind's list.
    fn slot(&self, site: Site, kind: Kind) -> Option<(usize, usize)> {
        let placement = &self.net.layout().placement;
        placement
            .get(site, kind)
            .map(|slot| (slot, placement.module[slot]))
    }

    fn on(&self, slot: usize) -> Tensor<B, 1> {
        self.on.clone().narrow(0, slot, 1)
    }

    fn mix(&self, slot: usize) -> Mix<B> {
        let layout = self.net.layout();
        let row = layout
            .catalogue
            .rank_row(slot)
            .expect("a rank-searchable slot has a rank row");
        let (weights, unit_a, unit_b) = self
            .mixture
            .as_ref()
            .expect("a space with rank-searchable slots has a mixture");
        let rank = layout.catalogue.slots()[slot].max_rank();
        let k = weights.dims()[1];
        let unit = |u: &Tensor<B, 2>| u.clone().slice([row..row + 1, 0..rank]).reshape([rank]);
        Mix {
            weights: weights.clone().slice([row..row + 1, 0..k]).reshape([k]),
            unit_a: unit(unit_a),
            unit_b: unit(unit_b),
            on: self.on(slot),
        }
    }
}

impl<B: Backend> Hooks<B> for SupernetHooks<'_, B> {
    fn linear(&self, site: Site, input: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        let modules = &self.net.modules;
        let mut out = output;
        if let Some((slot, i)) = self.slot(site, Kind::Lora) {
            let mix = self.mix(slot);
            out = out + modules.lora[i].forward_mixed(input.clone(), mix.unit_a, mix.unit_b);
        }
        if let Some((slot, i)) = self.slot(site, Kind::BitFit) {
            out = modules.bitfit[i].forward_gated(out, self.on(slot));
        }
        out
    }

    fn norm(&self, site: Site, normalized: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        let modules = &self.net.modules;
        let mut out = output;
        if let Some((slot, i)) = self.slot(site, Kind::LnFit) {
            out = modules.lnfit[i].forward_gated(normalized.clone(), out, self.on(slot));
        }
        if let Some((slot, i)) = self.slot(site, Kind::BitFit) {
            out = modules.bitfit[i].forward_gated(out, self.on(slot));
        }
        out
    }

    /// Same order as the discrete model: low-rank adapter, then serial
    /// adapter on its result, parallel adapter on the sub-layer's input.
    fn sublayer(&self, site: Site, input: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        let modules = &self.net.modules;
        let mut out = output;
        if let Some((slot, i)) = self.slot(site, Kind::Adapter) {
            let mix = self.mix(slot);
            let delta =
                modules.adapter[i].forward_mixed(out.clone(), mix.unit_a, mix.unit_b, mix.on);
            out = out + delta;
        }
        let serial = self.slot(site, Kind::SerialAdapter).map(|(slot, i)| {
            let mix = self.mix(slot);
            modules.serial_adapter[i].forward_mixed(out.clone(), mix.unit_a, mix.unit_b, mix.on)
        });
        if let Some(delta) = serial {
            out = out + delta;
        }
        if let Some((slot, i)) = self.slot(site, Kind::ParallelAdapter) {
            let mix = self.mix(slot);
            out = out
                + modules.parallel_adapter[i].forward_mixed(
                    input.clone(),
                    mix.unit_a,
                    mix.unit_b,
                    mix.on,
                );
        }
        out
    }

    fn attention(&self, site: Site, query: &Tensor<B, 4>, context: Tensor<B, 4>) -> Tensor<B, 4> {
        let (Some((slot, i)), Some(trunk)) = (self.slot(site, Kind::Prefix), &self.trunk) else {
            return context;
        };
        let lengths = &self.net.catalogue().slots()[slot].ranks;
        let mix = self.mix(slot);
        self.net.modules.prefix[i].forward_mixed(
            trunk.clone(),
            query.clone(),
            context,
            lengths,
            mix.weights,
        )
    }
}
