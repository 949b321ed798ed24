//! The PEFT modules (docs/algorithm.md §2), generic over the burn backend.
//!
//! Each module has a plain `forward` (a discrete model: fixed rank, always on)
//! and a `forward_mixed` / `forward_gated` that weighs it by an architecture
//! sample (the supernet): an "on" weight and, for rank-searchable kinds, per
//! rank-unit weights from a [`RankMixer`]. Every module starts as the identity
//! (zero B, bias, scale or gate), so adding any of them leaves the backbone's
//! output unchanged until it trains.

pub mod bitfit;
pub mod bottleneck_adapter;
pub mod hf_lora;
pub mod lnfit;
pub mod lora;
pub mod low_rank_adapter;
pub mod model;
pub mod modules;
pub mod ops;
pub mod options;
pub mod prefix;
pub mod rank_mix;

pub use bitfit::{BitFit, BitFitConfig};
pub use bottleneck_adapter::{BottleneckAdapter, BottleneckAdapterConfig};
pub use hf_lora::{hf_lora_key, hf_lora_tensors, load_hf_lora, LoraFactor, HF_LORA_PREFIX};
pub use lnfit::{LnFit, LnFitConfig};
pub use lora::{Lora, LoraConfig};
pub use low_rank_adapter::{
    LowRankAdapter, LowRankAdapterConfig, LowRankLinear, LowRankLinearConfig,
};
pub use model::PeftModel;
pub use modules::{ModuleSpec, PeftModules, Placement};
pub use options::{BottleneckInit, LoraScaling, PeftOptions};
pub use prefix::{PrefixLayer, PrefixLayerConfig, PrefixTrunk, PrefixTrunkConfig};
pub use rank_mix::RankMixer;
