//! Taking a trained result elsewhere: a Hugging Face `peft` adapter
//! directory ([`peft`]) or bipeft's own complete format ([`native`]), which
//! `bipeft eval` and the library read back.

pub mod native;
pub mod peft;

pub use native::export_bipeft;
pub use peft::{export_peft, PeftExport};
