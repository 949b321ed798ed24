//! Fused kernels for the hottest element-wise and layout operations of the backbones,
//! found by profiling the search step. Each public function is backend
//! generic: on the CPU backend `Flex` (plain or under `Autodiff`, with the
//! `flex` feature) it runs a fused, vectorised, multi-threaded kernel with
//! its own backward; on every other backend it is burn's own operation.

pub mod fast_exp;
#[cfg(feature = "flex")]
mod flex;
pub mod gelu;
pub mod gelu_math;
pub mod heads;
pub mod layer_norm;
pub mod layer_norm_math;
pub mod matmul;
pub mod softmax;
pub mod softmax_math;

pub use gelu::gelu;
pub use heads::{merge_heads, split_heads};
pub use layer_norm::{normalize, scale_shift};
pub use matmul::{linear, matmul};
pub use softmax::masked_softmax;
