//! Pretrained backbones written on burn: T5 (encoder–decoder) and the BERT family.
//! They load Hugging Face checkpoints and compute what `transformers` computes.

pub mod hooks;

pub use hooks::{Hooks, NoHooks, Point, Site, Stack};
pub mod bert;
pub mod t5;
pub mod model_config;

pub use model_config::{BackboneConfig, SUPPORTED_MODEL_TYPES};
