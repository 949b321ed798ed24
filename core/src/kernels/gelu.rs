//! `gelu` for the backbones: burn's operation on every backend, except on
//! the CPU backend `Flex` (plain and under `Autodiff`), where a fused,
//! vectorised, multi-threaded kernel replaces it.
//!
//! Why: profiling the search step on all-MiniLM-L6-v2 (`perf`, batch
//! 32 × 64) put a fifth of the CPU time in burn-flex's GELU and its
//! backward, which call `libm::erff` one element at a time on one thread.
//! The fused kernel ([`super::gelu_math`]) computes the same function to
//! within 10⁻⁶.

use burn::tensor::{activation, backend::Backend, Tensor};

/// The exact (erf) GELU, `x·Φ(x)`.
pub fn gelu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    let x = match super::flex::open(x) {
        super::flex::Opened::Plain(x) => return super::flex::close(flex::forward(&x)),
        super::flex::Opened::Tracked(x) => return super::flex::close(flex::tracked(x)),
        super::flex::Opened::Other(x) => x,
    };
    activation::gelu(x)
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::FlexTensor;
    use burn::tensor::TensorMetadata;

    use crate::kernels::flex::{
        build, contiguous_f32, tracked_unary, values, TrackedFlexTensor, CHUNK,
    };
    use crate::kernels::gelu_math::{gelu_backward_into, gelu_into};

    pub fn forward(x: &FlexTensor) -> FlexTensor {
        let x = contiguous_f32(x);
        let input = values(&x);
        build(x.shape(), CHUNK, |at, out| {
            gelu_into(&input[at..at + out.len()], out)
        })
    }

    /// From the saved input.
    fn backward(x: &FlexTensor, grad: &FlexTensor) -> FlexTensor {
        let (x, grad) = (contiguous_f32(x), contiguous_f32(grad));
        let (input, incoming) = (values(&x), values(&grad));
        build(x.shape(), CHUNK, |at, out| {
            let range = at..at + out.len();
            gelu_backward_into(&input[range.clone()], &incoming[range], out)
        })
    }

    pub fn tracked(x: TrackedFlexTensor) -> TrackedFlexTensor {
        let output = forward(&x.primitive);
        tracked_unary(&x, output, x.primitive.clone(), backward)
    }
}
