//! The batches of one search epoch (docs/algorithm.md §5): the weight half and the
//! architecture half of the training split, each reshuffled every epoch (the
//! reference iterates a fresh pass of a shuffling loader over each half every
//! epoch), with its own seed per half and epoch.

use super::batcher::{plan_batches, BatchOptions, ItemRef};
use super::splits::Splits;
use super::tokenize::TokenizedTask;
use crate::error::{Error, Result};

/// One epoch's batches as item lists: the weight batches, in order, and the
/// architecture batches the loop cycles through (batch i takes
/// `arch[i % arch.len()]`).
#[derive(Clone, Debug)]
pub struct SearchEpochPlan {
    pub weights: Vec<Vec<ItemRef>>,
    pub arch: Vec<Vec<ItemRef>>,
}

impl SearchEpochPlan {
    /// The plan of 0-based `epoch` of a search seeded with `seed`. Fails when
    /// either half gives no batch.
    pub fn new(
        tokenized: &TokenizedTask,
        splits: &Splits,
        batch_size: usize,
        seed: u64,
        epoch: usize,
    ) -> Result<Self> {
        let epoch = epoch as u64;
        let weights = plan_batches(
            tokenized,
            &splits.search_weights,
            &BatchOptions::train(batch_size, seed.wrapping_add(epoch)),
        )?;
        let arch = plan_batches(
            tokenized,
            &splits.search_arch,
            &BatchOptions::train(batch_size, (seed ^ 0xa5a5).wrapping_add(epoch)),
        )?;
        if weights.is_empty() || arch.is_empty() {
            return Err(Error::InvalidInput(format!(
                "the task gives no search data ({} weight / {} architecture examples); give it \
                 more training examples",
                splits.search_weights.len(),
                splits.search_arch.len()
            )));
        }
        Ok(SearchEpochPlan { weights, arch })
    }

    /// The architecture batch that goes with weight batch `i`.
    pub fn arch_for(&self, i: usize) -> &[ItemRef] {
        &self.arch[i % self.arch.len()]
    }
}
