//! The architecture sample one supernet forward pass is weighted by.
//!
//! The search (docs/algorithm.md §3–4) builds these tensors from its logits, soft
//! or straight-through hard, so gradients flow back to the logits; pruning
//! masks and fixed ranks (§6) are applied on top as constants.

use burn::tensor::{backend::Backend, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::peft_config::PeftConfig;
use crate::space::Catalogue;

/// Per-slot gates for one forward pass.
#[derive(Clone, Debug)]
pub struct Gates<B: Backend> {
    /// `[slots]`: the "on" component of each slot's {off, on} sample, in
    /// catalogue order. 1 is fully on, 0 off.
    pub on: Tensor<B, 1>,
    /// `[rank slots, candidates]`: each rank-searchable slot's weights over
    /// its candidate ranks, rows in [`Catalogue::rank_slots`] order. `None`:
    /// every such slot at its largest candidate.
    pub rank_weights: Option<Tensor<B, 2>>,
}

impl<B: Backend> Gates<B> {
    pub fn new(on: Tensor<B, 1>, rank_weights: Option<Tensor<B, 2>>) -> Self {
        Gates { on, rank_weights }
    }

    /// Every slot on at its largest rank: the full supernet.
    pub fn all_on(catalogue: &Catalogue, device: &B::Device) -> Self {
        Gates {
            on: Tensor::ones([catalogue.slots().len()], device),
            rank_weights: None,
        }
    }

    /// Hard gates for a discrete configuration: its modules on at their ranks,
    /// every other slot off.
    pub fn from_config(
        catalogue: &Catalogue,
        config: &PeftConfig,
        device: &B::Device,
    ) -> Result<Self> {
        let slots = catalogue.slots().len();
        let (rows, k) = (catalogue.rank_slots().len(), catalogue.num_candidates());
        let mut on = vec![0f32; slots];
        // Slots that stay off keep a valid one-hot row; their "on" of 0 silences them.
        let mut weights = largest_one_hot(rows, k);
        for m in &config.modules {
            let slot = catalogue.find_name(&m.name, m.kind).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{} module `{}` is not a slot of space `{}`",
                    m.kind, m.name, catalogue.space.name
                ))
            })?;
            on[slot] = 1.0;
            if let Some(row) = catalogue.rank_row(slot) {
                let ranks = &catalogue.slots()[slot].ranks;
                let choice = m
                    .rank
                    .and_then(|r| ranks.iter().position(|&c| c == r))
                    .ok_or_else(|| {
                        Error::InvalidInput(format!(
                            "{} module `{}`: rank {:?} is not one of {ranks:?}",
                            m.kind, m.name, m.rank
                        ))
                    })?;
                weights[row * k..(row + 1) * k].fill(0.0);
                weights[row * k + choice] = 1.0;
            }
        }
        let rank_weights =
            (rows > 0).then(|| Tensor::from_data(TensorData::new(weights, [rows, k]), device));
        Ok(Gates {
            on: Tensor::from_data(TensorData::new(on, [slots]), device),
            rank_weights,
        })
    }

    /// Multiplies each slot's "on" by its pruning mask (`false` = pruned).
    pub fn masked(self, mask: &[bool]) -> Result<Self> {
        let slots = self.on.dims()[0];
        if mask.len() != slots {
            return Err(Error::InvalidInput(format!(
                "pruning mask has {} entries for {slots} slots",
                mask.len()
            )));
        }
        let values: Vec<f32> = mask
            .iter()
            .map(|&keep| if keep { 1.0 } else { 0.0 })
            .collect();
        let mask = Tensor::from_data(TensorData::new(values, [slots]), &self.on.device());
        Ok(Gates {
            on: self.on * mask,
            ..self
        })
    }

    /// Replaces the rank weights of fixed slots by a constant one-hot on the
    /// fixed candidate (`fixed[row]` is a candidate index; rows in
    /// [`Catalogue::rank_slots`] order). Unfixed rows keep their sample.
    pub fn with_fixed_ranks(self, catalogue: &Catalogue, fixed: &[Option<usize>]) -> Result<Self> {
        let (rows, k) = (catalogue.rank_slots().len(), catalogue.num_candidates());
        if fixed.len() != rows {
            return Err(Error::InvalidInput(format!(
                "fixed ranks have {} entries for {rows} rank-searchable slots",
                fixed.len()
            )));
        }
        if let Some(c) = fixed.iter().flatten().find(|&&c| c >= k) {
            return Err(Error::InvalidInput(format!(
                "fixed rank index {c} is out of range ({k} candidates)"
            )));
        }
        if rows == 0 {
            return Ok(self);
        }
        let device = self.on.device();
        let weights = match self.rank_weights {
            Some(w) => w,
            None => Tensor::from_data(
                TensorData::new(largest_one_hot(rows, k), [rows, k]),
                &device,
            ),
        };
        let mut keep = vec![1f32; rows * k];
        let mut one_hot = vec![0f32; rows * k];
        for (row, choice) in fixed.iter().enumerate() {
            if let Some(c) = choice {
                keep[row * k..(row + 1) * k].fill(0.0);
                one_hot[row * k + c] = 1.0;
            }
        }
        let keep = Tensor::from_data(TensorData::new(keep, [rows, k]), &device);
        let one_hot = Tensor::from_data(TensorData::new(one_hot, [rows, k]), &device);
        Ok(Gates {
            rank_weights: Some(weights * keep + one_hot),
            ..self
        })
    }
}

/// `[rows, k]` row-major weights with all mass on the last (largest) candidate.
pub(crate) fn largest_one_hot(rows: usize, k: usize) -> Vec<f32> {
    let mut weights = vec![0f32; rows * k];
    for row in 0..rows {
        weights[row * k + k - 1] = 1.0;
    }
    weights
}
