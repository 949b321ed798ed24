//! The supernet of a search space (docs/algorithm.md §2–3): every slot's PEFT
//! module at its largest rank, added to the frozen backbone through its hooks
//! and weighted on each forward pass by [`Gates`] — an "on" weight per slot and
//! a weight per candidate rank — that the search samples from its
//! architecture logits.
//!
//! ```text
//! let catalogue = Catalogue::build(&shape, &presets::s1(), &options, |s| backbone.site_name(s))?;
//! let supernet = Supernet::<B>::new(&catalogue, &device)?;
//! let gates = Gates::all_on(&catalogue, &device);
//! let logits = backbone.forward(batch, &supernet.hooks(&gates)?);
//! ```

mod discretise;
pub mod gates;
pub mod hooks;
pub mod model;

pub use gates::Gates;
pub use hooks::SupernetHooks;
pub use model::Supernet;
