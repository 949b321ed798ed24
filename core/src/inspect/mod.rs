//! What a configuration holds, laid out for people: every slot of its space
//! with what was kept, by layer and by kind ([`Inspection`]), read the same
//! by `bipeft inspect`, a search's summary and the page.

pub mod layout;
pub mod naming;

pub use layout::{
    catalogue_of, inspect, inspect_config, lay_out_space, preview_space, split_at_layer,
    Inspection, KindView, SlotView,
};
pub use naming::naming_for;
