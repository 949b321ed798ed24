//! The full state of a retraining run, saved every N steps and at every
//! epoch's end so that a killed run resumes where it was: the trainable
//! weights, AdamW's moments, the best validation weights so far, and where
//! the run stands (epoch, batch within it, step, elapsed time, history).
//!
//! The batch order of an epoch is a pure function of the seed and the epoch
//! (see [`super::retrain`]), so "RNG state" is the seed in the settings plus
//! the position; the backend's RNG is only used for the fresh weights, which
//! a resume replaces.
//!
//! One file, `checkpoint.bin`, written atomically in the encoding of every
//! bipeft checkpoint ([`crate::checkpoint_file`]): the state, the trainable
//! record, the optimiser record (both burn records in named MessagePack), and
//! the best record (empty before the first validation).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::peft_config::PeftConfig;

use super::atomic::write_atomic;
use super::settings::TrainSettings;

const FORMAT: &str = "bipeft-retrain-checkpoint";
/// 2: the shared checkpoint encoding (1 was a file of length-prefixed sections).
const VERSION: u32 = 2;
/// How version 1 files began, to name them in the error.
const VERSION_1_MAGIC: &[u8] = b"BIPEFT-RETRAIN-CHECKPOINT 1\n";

/// One validation pass at an epoch's end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub step: usize,
    /// Mean training loss over the epoch's applied batches.
    pub train_loss: Option<f64>,
    pub validation: std::collections::BTreeMap<String, f64>,
}

/// Where a run stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumeState {
    pub task: String,
    /// The model and data folders of the run, as given (a resume may reuse them).
    pub model_dir: String,
    pub data_dir: String,
    pub settings: TrainSettings,
    pub peft: PeftConfig,
    /// The epoch in progress (== epochs when training is over).
    pub epoch: usize,
    /// Batches of that epoch already trained on.
    pub batch: usize,
    /// Steps taken over the whole run.
    pub step: usize,
    /// Batches whose loss was not finite and were skipped.
    pub skipped: usize,
    /// Sum and count of the epoch's losses so far.
    pub epoch_loss: (f64, usize),
    /// Seconds spent before this checkpoint, over all sessions.
    pub seconds: f64,
    /// Index into `history` of the best validation so far.
    pub best: Option<usize>,
    pub history: Vec<EpochRecord>,
}

/// A saved state with its records.
#[derive(Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    pub state: ResumeState,
    pub trainable: Vec<u8>,
    pub optimizer: Vec<u8>,
    /// Empty before the first validation.
    pub best: Vec<u8>,
}

/// The checkpoint as stored: its format and version first.
#[derive(Serialize, Deserialize)]
struct Stored<C> {
    format: String,
    version: u32,
    #[serde(flatten)]
    checkpoint: C,
}

impl Checkpoint {
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        crate::checkpoint_file::encode(&Stored {
            format: FORMAT.into(),
            version: VERSION,
            checkpoint: self,
        })
    }

    /// Parses a checkpoint; `file` names it in errors.
    pub fn from_bytes(bytes: &[u8], file: &str) -> Result<Self> {
        if bytes.starts_with(VERSION_1_MAGIC) {
            return Err(Error::MalformedConfig {
                file: file.to_string(),
                message:
                    "a retrain checkpoint of an older bipeft: start the retrain over with --force"
                        .into(),
            });
        }
        let stored: Stored<Checkpoint> = crate::checkpoint_file::decode(
            bytes,
            FORMAT,
            VERSION,
            &format!("a bipeft retrain checkpoint ({file})"),
        )?;
        Ok(stored.checkpoint)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{presets, BackboneShape, Catalogue, Family};

    fn config() -> PeftConfig {
        let shape = BackboneShape {
            model_type: "bert".into(),
            family: Family::Encoder,
            d_model: 8,
            d_ff: 12,
            d_kv: 4,
            heads: 2,
            encoder_layers: 1,
            decoder_layers: 0,
            gated_ffn: false,
            linear_biases: true,
            vocab: 10,
            backbone_params: 100,
        };
        let naming = |s| crate::backbone::bert::site_name(s, "").unwrap_or_default();
        let catalogue =
            Catalogue::build(&shape, &presets::lora(), &Default::default(), naming).unwrap();
        PeftConfig::from_selection(&catalogue, 100, &[(0, Some(1))]).unwrap()
    }

    #[test]
    fn round_trips_and_rejects_damage() {
        let checkpoint = Checkpoint {
            state: ResumeState {
                task: "sst2".into(),
                model_dir: "m".into(),
                data_dir: "d".into(),
                settings: TrainSettings::default(),
                peft: config(),
                epoch: 1,
                batch: 3,
                step: 9,
                skipped: 0,
                epoch_loss: (1.5, 3),
                seconds: 2.5,
                best: None,
                history: Vec::new(),
            },
            trainable: vec![1, 2, 3],
            optimizer: vec![4; 10],
            best: Vec::new(),
        };
        let bytes = checkpoint.to_bytes().unwrap();
        let back = Checkpoint::from_bytes(&bytes, "c").unwrap();
        assert_eq!(back.state, checkpoint.state);
        assert_eq!(
            (back.trainable, back.optimizer, back.best),
            (vec![1, 2, 3], vec![4; 10], vec![])
        );
        let e = Checkpoint::from_bytes(&bytes[..bytes.len() - 1], "c").unwrap_err();
        assert!(e.to_string().contains("damaged"), "{e}");
        let e = Checkpoint::from_bytes(VERSION_1_MAGIC, "c").unwrap_err();
        assert!(e.to_string().contains("an older bipeft"), "{e}");
        let e = Checkpoint::from_bytes(b"{}", "c").unwrap_err();
        assert!(
            e.to_string().contains("not a bipeft retrain checkpoint"),
            "{e}"
        );
    }
}
