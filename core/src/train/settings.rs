//! What a retraining run is told (docs/algorithm.md §7): AdamW at 3e-4 with linear
//! decay and no warm-up, batch 32, the search's weight decay and clipping,
//! and how often its state is saved.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Settings of one retraining run. They are saved with its checkpoint, and a
/// resumed run must be given the same ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub epochs: usize,
    /// AdamW's base learning rate; it decays linearly to 0 over all steps.
    pub lr: f64,
    pub batch_size: usize,
    /// Batch size of validation and test passes (no gradients: larger is fine).
    pub eval_batch_size: usize,
    /// AdamW's decoupled weight decay (the search's 1e-4).
    pub weight_decay: f64,
    /// Global gradient-norm clipping, as the search does.
    pub clip_norm: f64,
    /// Seeds the fresh modules, the head and the batch order.
    pub seed: u64,
    /// Truncate inputs to this many tokens (default: the task's).
    pub max_length: Option<usize>,
    /// Train on a seeded subset of at most this many examples.
    pub max_train_examples: Option<usize>,
    /// Hold out this many training examples as validation and test on the
    /// whole dev set ([`crate::data::SplitOptions::validation_from_train`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_from_train: Option<usize>,
    /// Score at most the first this many validation / test examples.
    pub max_eval_examples: Option<usize>,
    /// Save the full training state every this many steps (and at every
    /// epoch's end); 0 saves only at epoch ends.
    pub checkpoint_every: usize,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            epochs: 3,
            lr: 3e-4,
            batch_size: 32,
            eval_batch_size: 64,
            weight_decay: 1e-4,
            clip_norm: 2.0,
            seed: 42,
            max_length: None,
            max_train_examples: None,
            validation_from_train: None,
            max_eval_examples: None,
            checkpoint_every: 100,
        }
    }
}

impl TrainSettings {
    /// Rejects settings that cannot train: no epochs, empty batches, a
    /// learning rate that is not a positive number.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidInput(what));
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return bad("batch sizes must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!(
                "learning rate {} is not a positive number",
                self.lr
            ));
        }
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return bad(format!(
                "clip norm {} is not a positive number",
                self.clip_norm
            ));
        }
        if self.max_length == Some(0) || self.max_train_examples == Some(0) {
            return bad("max length and max train examples must be at least 1".into());
        }
        if self.max_eval_examples == Some(0) {
            return bad("max eval examples must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_papers_and_bad_values_are_named() {
        let s = TrainSettings::default();
        assert_eq!((s.lr, s.batch_size, s.clip_norm), (3e-4, 32, 2.0));
        s.validate().unwrap();
        let e = TrainSettings {
            lr: -1.0,
            ..s.clone()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("learning rate -1"), "{e}");
        let e = TrainSettings { epochs: 0, ..s }.validate().unwrap_err();
        assert!(e.to_string().contains("epochs"), "{e}");
    }
}
