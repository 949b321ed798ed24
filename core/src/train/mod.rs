//! Retraining and evaluating a searched configuration (docs/algorithm.md §7):
//! exactly the configured modules, freshly initialised over the frozen
//! backbone, trained with AdamW and linear decay, the best validation
//! weights kept and scored on the test split; with checkpoints to resume a
//! killed run. Plain library functions, so that other front ends (the
//! experiment runner) call what the CLI calls.

pub mod atomic;
pub mod checkpoint;
pub mod evaluate;
pub mod majority;
pub mod model;
pub mod retrain;
pub mod settings;
pub mod task;
pub mod trained;

pub use checkpoint::{Checkpoint, EpochRecord, ResumeState};
pub use evaluate::{evaluate, evaluate_split, EvalSpec, Evaluation, PredictionRecord};
pub use majority::majority_class_scores;
pub use model::{Backbone, RetrainModel, Trainable};
pub use retrain::{retrain, RetrainReport, RetrainSpec, TrainEvent};
pub use settings::TrainSettings;
pub use task::PreparedTask;
pub use trained::{Trained, TrainedManifest};
