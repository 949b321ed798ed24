//! Attention's `softmax(scores + mask_bias)` over the keys: burn's add and
//! softmax on every backend, one fused kernel with its own backward on
//! `Flex` (see [`super::softmax_math`]). Profiling the MiniLM search step
//! put the broadcast add and the unfused softmax (forward and backward) at
//! about a tenth of the CPU time.

use burn::tensor::{activation::softmax, backend::Backend, Tensor};

/// `softmax(scores + mask_bias, 3)`.
///
/// # Shapes
/// - scores: `[batch, heads, queries, keys]`
/// - mask_bias: `[batch, 1, 1, keys]`, a constant (no gradient flows into it)
pub fn masked_softmax<B: Backend>(scores: Tensor<B, 4>, mask_bias: Tensor<B, 4>) -> Tensor<B, 4> {
    #[cfg(feature = "flex")]
    let (scores, mask_bias) = {
        let [batch, heads, queries, keys] = scores.dims();
        if mask_bias.dims() == [batch, 1, 1, keys] {
            use super::flex::{close, constant, open, Opened};
            let bias = constant(mask_bias.clone());
            let rows_per_bias = heads * queries;
            match (open(scores), bias) {
                (Opened::Plain(s), Some(m)) => return close(flex::forward(&s, &m, rows_per_bias)),
                (Opened::Tracked(s), Some(m)) => return close(flex::tracked(s, m, rows_per_bias)),
                (s, _) => (s.into_tensor(), mask_bias),
            }
        } else {
            (scores, mask_bias)
        }
    };
    softmax(scores + mask_bias, 3)
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::FlexTensor;
    use burn::tensor::TensorMetadata;

    use crate::kernels::flex::{
        build, contiguous_f32, row_chunk, tracked_unary, values, TrackedFlexTensor,
    };
    use crate::kernels::softmax_math::{masked_softmax_rows, softmax_backward_rows};

    pub fn forward(scores: &FlexTensor, bias: &FlexTensor, rows_per_bias: usize) -> FlexTensor {
        let (scores, bias) = (contiguous_f32(scores), contiguous_f32(bias));
        let (s, m) = (values(&scores), values(&bias));
        let shape = scores.shape();
        let row_len = shape[3];
        build(shape, row_chunk(row_len), |at, out| {
            masked_softmax_rows(
                &s[at..at + out.len()],
                m,
                row_len,
                rows_per_bias,
                at / row_len,
                out,
            )
        })
    }

    /// From the saved output.
    fn backward(y: &FlexTensor, grad: &FlexTensor) -> FlexTensor {
        let (y, grad) = (contiguous_f32(y), contiguous_f32(grad));
        let (probs, incoming) = (values(&y), values(&grad));
        let shape = y.shape();
        let row_len = shape[3];
        build(shape, row_chunk(row_len), |at, out| {
            let range = at..at + out.len();
            softmax_backward_rows(&probs[range.clone()], &incoming[range], row_len, out)
        })
    }

    /// The output is all the backward needs, so it is what is saved.
    pub fn tracked(
        scores: TrackedFlexTensor,
        bias: FlexTensor,
        rows_per_bias: usize,
    ) -> TrackedFlexTensor {
        let output = forward(&scores.primitive, &bias, rows_per_bias);
        tracked_unary(&scores, output.clone(), output, backward)
    }
}
