//! The BIPEFT search (Chang et al., Findings of EMNLP 2024; docs/algorithm.md §3–6):
//! architecture logits and their samples, the iterative binary/dimension
//! stages, the bi-level optimisation, and budget-guided early selection
//! (sensitivity, trigger, module selection, dimension selection), ending in a
//! discrete configuration within the parameter budget.
//!
//! The search knows a search space only as [`SearchSlots`] (per slot: rank
//! searchable or on/off, and its parameter count per rank) and drives any
//! model through [`SearchModel`]: a loss under an [`ArchSample`], and each
//! slot's θ ⊙ ∇θ. Everything host-side (§6) is plain Rust on snapshots. The
//! loop's few host reads are all awaited ([`read`]), so the very same
//! [`BilevelSearch::step`] runs natively (under any `block_on`) and on WebGPU.

pub mod arch;
pub mod bilevel;
pub mod budget;
pub mod checkpoint;
pub mod config;
pub mod dimension_selection;
pub mod discretise;
pub mod gumbel;
pub mod module_selection;
pub mod noise;
pub mod optim;
pub mod outcome;
pub mod read;
pub mod sample;
pub mod saliency;
pub mod selector;
pub mod sensitivity;
pub mod slots;
pub mod stage;
pub mod state;
pub mod trace;
pub mod trigger;

pub use arch::{ArchLogits, ArchLogitsConfig, ArchSnapshot};
pub use bilevel::{BilevelSearch, SearchModel, StepOutcome, MAX_SKIPPED_IN_A_ROW};
pub use budget::{budget_from_percent, expected_params, Expectation};
pub use checkpoint::SearchCheckpoint;
pub use config::{
    default_selection_start, fitted_selection_steps, Criterion, PruneScan, Sampling, SearchConfig, SearchMode, SelectionConfig, SensitivityForm,
};
pub use discretise::{DiscreteArchitecture, ModuleChoice};
pub use outcome::SelectionOutcome;
pub use sample::{ArchSample, SampleSpec};
pub use selector::{BudgetSelector, SelectionStep, StepReport};
pub use saliency::{copy_gradients, module_saliency};
pub use sensitivity::{SaliencyPair, SlotSaliency};
pub use slots::{SearchSlot, SearchSlots, SharedCost, SlotCost};
pub use stage::{Stage, StageClock};
pub use state::SelectionState;
pub use trace::{EpochReport, SearchEvent};
