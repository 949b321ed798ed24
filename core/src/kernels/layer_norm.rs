//! LayerNorm for the backbones, in its two halves: the normalisation
//! `(x − μ)/√(σ² + ε)` (which LN-tuning hooks need on its own) and the
//! per-feature scale and shift. burn's operations on every backend; on
//! `Flex` (plain and under `Autodiff`) one fused, multi-threaded kernel per
//! half with its own backward (see [`super::layer_norm_math`]).
//!
//! Why: burn-flex runs each of the eight or so element-wise operations of a
//! composed LayerNorm (mean, centre, square, mean, add, root, divide, scale,
//! shift) and each of their backwards as its own pass over the tensor, on
//! one thread, while the second core waits: a per-thread profile of the
//! search step (`perf`) put a fifth of the process's CPU time on the main
//! thread, most of it such passes. The fused normalisation also keeps only
//! its input for the backward, where the composed one keeps several
//! intermediates.

use burn::tensor::{backend::Backend, Tensor};

/// `(x − mean) / √(var + epsilon)` over the last axis, with the biased
/// variance (as `torch.nn.LayerNorm`).
pub fn normalize<B: Backend, const D: usize>(x: Tensor<B, D>, epsilon: f64) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    let x = match super::flex::open(x) {
        super::flex::Opened::Plain(x) => return super::flex::close(flex::normalize(&x, epsilon)),
        super::flex::Opened::Tracked(x) => {
            return super::flex::close(flex::normalize_tracked(x, epsilon))
        }
        super::flex::Opened::Other(x) => x,
    };
    let (var, mean) = x.clone().var_mean_bias(D - 1);
    (x - mean) / (var + epsilon).sqrt()
}

/// `x · scale + shift` over the last axis.
///
/// # Shapes
/// - x: `[..., d]`
/// - scale, shift: `[d]`
///
/// On `Flex` the fused kernel is taken when `scale` and `shift` are
/// constants (frozen, as a backbone's norms are during PEFT); when either
/// is trained, burn's operations give them their gradients.
pub fn scale_shift<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    scale: Tensor<B, 1>,
    shift: Tensor<B, 1>,
) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    let x = {
        use super::flex::{close, constant, open, Opened};
        let d = x.dims()[D - 1];
        let frozen = !scale.is_require_grad() && !shift.is_require_grad();
        if frozen && scale.dims() == [d] && shift.dims() == [d] {
            match (open(x), constant(scale.clone()), constant(shift.clone())) {
                (Opened::Plain(x), Some(s), Some(b)) => {
                    return close(flex::scale_shift(&x, &s, &b))
                }
                (Opened::Tracked(x), Some(s), Some(b)) => {
                    return close(flex::scale_shift_tracked(x, s, b))
                }
                (x, _, _) => x.into_tensor(),
            }
        } else {
            x
        }
    };
    x * scale.unsqueeze::<D>() + shift.unsqueeze::<D>()
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::FlexTensor;
    use burn::tensor::TensorMetadata;

    use crate::kernels::flex::{
        build, contiguous_f32, row_chunk, tracked_unary, values, TrackedFlexTensor,
    };
    use crate::kernels::layer_norm_math::{
        normalize_backward_rows, normalize_rows, scale_rows, scale_shift_rows,
    };

    /// What the normalisation's backward recomputes its statistics from.
    #[derive(Clone, Debug)]
    struct SavedInput {
        x: FlexTensor,
        epsilon: f32,
    }

    fn row_len(x: &FlexTensor) -> usize {
        let shape = x.shape();
        shape[shape.num_dims() - 1]
    }

    pub fn normalize(x: &FlexTensor, epsilon: f64) -> FlexTensor {
        let x = contiguous_f32(x);
        let (input, d) = (values(&x), row_len(&x));
        build(x.shape(), row_chunk(d), |at, out| {
            normalize_rows(&input[at..at + out.len()], d, epsilon as f32, out)
        })
    }

    fn normalize_backward(saved: &SavedInput, grad: &FlexTensor) -> FlexTensor {
        let (x, grad) = (contiguous_f32(&saved.x), contiguous_f32(grad));
        let (input, incoming, d) = (values(&x), values(&grad), row_len(&x));
        build(x.shape(), row_chunk(d), |at, out| {
            let range = at..at + out.len();
            normalize_backward_rows(
                &input[range.clone()],
                &incoming[range],
                d,
                saved.epsilon,
                out,
            )
        })
    }

    /// Saves the input alone: the backward recomputes the row statistics.
    pub fn normalize_tracked(x: TrackedFlexTensor, epsilon: f64) -> TrackedFlexTensor {
        let output = normalize(&x.primitive, epsilon);
        let saved = SavedInput {
            x: x.primitive.clone(),
            epsilon: epsilon as f32,
        };
        tracked_unary(&x, output, saved, normalize_backward)
    }

    pub fn scale_shift(x: &FlexTensor, scale: &FlexTensor, shift: &FlexTensor) -> FlexTensor {
        let (x, scale, shift) = (
            contiguous_f32(x),
            contiguous_f32(scale),
            contiguous_f32(shift),
        );
        let (input, s, b) = (values(&x), values(&scale), values(&shift));
        build(x.shape(), row_chunk(s.len()), |at, out| {
            scale_shift_rows(&input[at..at + out.len()], s, b, out)
        })
    }

    fn scale_backward(scale: &FlexTensor, grad: &FlexTensor) -> FlexTensor {
        let (scale, grad) = (contiguous_f32(scale), contiguous_f32(grad));
        let (s, incoming) = (values(&scale), values(&grad));
        build(grad.shape(), row_chunk(s.len()), |at, out| {
            scale_rows(&incoming[at..at + out.len()], s, out)
        })
    }

    /// Saves the scale alone (the gradient into `x` is `∂y·scale`).
    pub fn scale_shift_tracked(
        x: TrackedFlexTensor,
        scale: FlexTensor,
        shift: FlexTensor,
    ) -> TrackedFlexTensor {
        let output = scale_shift(&x.primitive, &scale, &shift);
        tracked_unary(&x, output, scale, scale_backward)
    }
}
