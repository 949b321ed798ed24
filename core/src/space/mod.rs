//! Search spaces as data (docs/algorithm.md §2).
//!
//! A [`SpaceDef`] says which kinds of PEFT module may go where, with which
//! candidate ranks: the presets [`s1`](presets::s1), [`s2`](presets::s2) and
//! [`lora`](presets::lora), or a user's JSON file. Applied to a
//! [`BackboneShape`] and a naming function, it gives a [`Catalogue`]: every
//! slot with its checkpoint name, [`Site`](crate::backbone::Site), kind,
//! candidate ranks and parameter count at each rank — from the model config
//! alone, no weights.

pub mod catalogue;
pub mod def;
pub mod kind;
pub mod presets;
pub mod shape;
pub mod sites;
pub mod slot;
pub mod summary;
mod user;

pub use catalogue::Catalogue;
pub use def::{Rule, SpaceDef};
pub use kind::Kind;
pub use shape::{BackboneShape, Family};
pub use sites::{sites, SiteInfo};
pub use slot::{module_params, prefix_trunk_params, shared_parts, SharedPart, Slot, PREFIX_TRUNK};
pub use summary::{KindSummary, RankTotal, SpaceSummary};
