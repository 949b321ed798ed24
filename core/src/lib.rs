//! bipeft-core: the BIPEFT search (Chang et al., Findings of EMNLP 2024) on burn,
//! generic over the backend: backbones, PEFT modules, search spaces, data, metrics.

pub mod backbone;
pub mod baseline;
pub mod checkpoint_file;
pub mod data;
pub mod error;
pub mod inspect;
pub mod experiment;
pub mod kernels;
pub mod export;
pub mod flat;
pub mod loader;
pub mod metrics;
pub mod output_dir;
pub mod peft;
pub mod peft_config;
pub mod search;
pub mod session;
pub mod space;
pub mod supernet;
pub mod task_model;
pub mod train;


pub use error::{Error, Result};
