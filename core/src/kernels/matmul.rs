//! Matrix products: burn's `matmul` and `linear` on every backend; on `Flex`
//! (plain and under `Autodiff`), `gemm` called directly, with the bias of a
//! linear folded into the product and a backward of its own.
//!
//! Why: burn-flex allocates each product's output zeroed and then copies it
//! into a second, aligned allocation (`Bytes::from_bytes_vec`); the fresh
//! pages of that copy, the copy and the zeroing were about 15% of a LoRA
//! step's CPU time on all-MiniLM-L6-v2 (`perf`), and a linear's bias took one
//! more pass over the output. Here the output is written once, by `gemm`,
//! onto rows that already hold the bias.

use burn::tensor::{backend::Backend, Tensor};

/// `lhs · rhs` over the last two axes; any leading (batch) axes must be equal
/// on both sides (no broadcasting on the fused path; other shapes take burn's).
///
/// # Shapes
/// - lhs: `[..., m, k]`, rhs: `[..., k, n]` → `[..., m, n]`
pub fn matmul<B: Backend, const D: usize>(lhs: Tensor<B, D>, rhs: Tensor<B, D>) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    let (lhs, rhs) = {
        use super::flex::{close, open, Opened};
        let (l, r) = (lhs.dims(), rhs.dims());
        let fused = D >= 2 && l[..D - 2] == r[..D - 2] && l[D - 1] == r[D - 2];
        match (fused, open(lhs), open(rhs)) {
            (true, Opened::Plain(a), Opened::Plain(b)) => {
                return close(flex::product(&a, &b, None));
            }
            (true, Opened::Tracked(a), Opened::Tracked(b)) => {
                return close(flex::matmul_tracked(a, b));
            }
            (_, a, b) => (a.into_tensor(), b.into_tensor()),
        }
    };
    lhs.matmul(rhs)
}

/// `x · weight + bias`, as burn's `linear` (weight `[d_in, d_out]`).
///
/// # Shapes
/// - x: `[rows, d_in]`, weight: `[d_in, d_out]`, bias: `[d_out]` → `[rows, d_out]`
pub fn linear<B: Backend>(
    x: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 2> {
    #[cfg(feature = "flex")]
    let (x, weight, bias) = {
        use super::flex::{close, open, Opened};
        let fits = x.dims()[1] == weight.dims()[0]
            && bias
                .as_ref()
                .is_none_or(|b| b.dims()[0] == weight.dims()[1]);
        let bias = bias.map(open);
        match (fits, open(x), open(weight), bias) {
            (true, Opened::Plain(x), Opened::Plain(w), None) => {
                return close(flex::product(&x, &w, None));
            }
            (true, Opened::Plain(x), Opened::Plain(w), Some(Opened::Plain(b))) => {
                return close(flex::product(&x, &w, Some(&b)));
            }
            (true, Opened::Tracked(x), Opened::Tracked(w), None) => {
                return close(flex::matmul_tracked(x, w));
            }
            (true, Opened::Tracked(x), Opened::Tracked(w), Some(Opened::Tracked(b))) => {
                return close(flex::linear_tracked(x, w, b));
            }
            (_, x, w, b) => (x.into_tensor(), w.into_tensor(), b.map(|b| b.into_tensor())),
        }
    };
    burn::tensor::module::linear(x, weight, bias)
}

#[cfg(feature = "flex")]
mod flex {
    use std::mem::MaybeUninit;

    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{binary, Backward, Ops, OpsKind};
    use burn::backend::flex::FlexTensor;
    use burn::backend::Flex;
    use burn::tensor::{Shape, TensorData, TensorMetadata};
    use rayon::prelude::*;

    use crate::kernels::flex::{contiguous_f32, values, TrackedFlexTensor};

    /// Products of at least this many multiply-adds run on every core,
    /// split by gemm.
    const PARALLEL_WORK: usize = 192 * 192 * 192;

    /// Smaller products of at least this many multiply-adds in all are
    /// still split over the cores: batches one per task, a single tall
    /// product by blocks of at least [`SPLIT_ROWS`] rows.
    const SPLIT_WORK: usize = 1 << 19;
    const SPLIT_ROWS: usize = 128;

    /// One operand's matrices: where each batch's matrix starts and its
    /// row and column strides, in elements of its storage.
    struct Matrices<'a> {
        data: &'a [f32],
        starts: Vec<isize>,
        row_stride: isize,
        col_stride: isize,
    }

    impl<'a> Matrices<'a> {
        fn of(x: &'a FlexTensor) -> Self {
            let layout = x.layout();
            let shape = x.shape();
            let strides = layout.strides();
            let d = shape.num_dims();
            let mut starts = vec![layout.start_offset() as isize];
            for axis in 0..d - 2 {
                starts = starts
                    .iter()
                    .flat_map(|&s| (0..shape[axis]).map(move |i| s + i as isize * strides[axis]))
                    .collect();
            }
            Matrices {
                data: x.storage::<f32>(),
                starts,
                row_stride: strides[d - 2],
                col_stride: strides[d - 1],
            }
        }
    }

    /// `lhs · rhs (+ bias on every row)` over the last two axes, batch by
    /// batch, into a new contiguous tensor.
    pub fn product(lhs: &FlexTensor, rhs: &FlexTensor, bias: Option<&FlexTensor>) -> FlexTensor {
        let (ls, rs) = (lhs.shape(), rhs.shape());
        let d = ls.num_dims();
        let (m, k, n) = (ls[d - 2], ls[d - 1], rs[d - 1]);
        let mut dims: Vec<usize> = (0..d - 2).map(|a| ls[a]).collect();
        dims.extend([m, n]);
        let (a, b) = (Matrices::of(lhs), Matrices::of(rhs));
        let batches = a.starts.len();
        let size = m * n;
        let bias = bias.map(contiguous_f32);
        let bias_row = bias.as_ref().map(values);

        let mut out: Vec<MaybeUninit<f32>> = Vec::with_capacity(batches * size);
        // SAFETY: MaybeUninit needs no initialisation; every element is
        // written below before the vector is read as f32.
        unsafe { out.set_len(batches * size) };
        // Rows `row0..` of batch `index` into `dst` (whole rows of `n`).
        let rows_into =
            |index: usize, row0: usize, dst: &mut [MaybeUninit<f32>], parallel: bool| {
                if let Some(row) = bias_row {
                    for r in dst.chunks_exact_mut(n.max(1)) {
                        for (o, &v) in r.iter_mut().zip(row) {
                            o.write(v);
                        }
                    }
                } else if k == 0 {
                    dst.iter_mut().for_each(|o| {
                        o.write(0.0);
                    });
                }
                let rows = dst.len() / n.max(1);
                if k == 0 || rows == 0 || n == 0 {
                    return;
                }
                let parallelism = if parallel {
                    gemm::Parallelism::Rayon(0)
                } else {
                    gemm::Parallelism::None
                };
                let lhs_start = a.starts[index] + row0 as isize * a.row_stride;
                // SAFETY: the operands' starts and strides come from their own
                // layouts and the rows asked for lie within `m`, so every element
                // gemm reads lies in their storage; dst is `rows × n` row-major.
                // With `read_dst` false gemm only writes dst.
                unsafe {
                    gemm::gemm(
                        rows,
                        n,
                        k,
                        dst.as_mut_ptr() as *mut f32,
                        1,
                        n as isize,
                        bias_row.is_some(),
                        a.data.as_ptr().offset(lhs_start),
                        a.col_stride,
                        a.row_stride,
                        b.data.as_ptr().offset(b.starts[index]),
                        b.col_stride,
                        b.row_stride,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        parallelism,
                    );
                }
            };
        let work = m * n * k;
        if work >= PARALLEL_WORK {
            // Large products: gemm splits each one over the cores.
            for (index, dst) in out.chunks_mut(size.max(1)).enumerate().take(batches) {
                rows_into(index, 0, dst, true);
            }
        } else if batches > 1 && batches * work >= SPLIT_WORK {
            // Many small products (attention's, per head): one per task.
            out.par_chunks_mut(size.max(1))
                .enumerate()
                .for_each(|(index, dst)| rows_into(index, 0, dst, false));
        } else if batches == 1 && work >= SPLIT_WORK && m >= 2 * SPLIT_ROWS {
            // A tall, thin product (LoRA's rank-r factors): blocks of rows,
            // one per task; gemm would keep it on one core.
            let block = m
                .div_ceil(rayon::current_num_threads().max(1))
                .max(SPLIT_ROWS);
            out.par_chunks_mut(block * n)
                .enumerate()
                .for_each(|(i, dst)| rows_into(0, i * block, dst, false));
        } else {
            for (index, dst) in out.chunks_mut(size.max(1)).enumerate().take(batches) {
                rows_into(index, 0, dst, false);
            }
        }
        // SAFETY: every element was written (by the bias, the zero fill or gemm).
        let out: Vec<f32> = unsafe {
            let mut out = std::mem::ManuallyDrop::new(out);
            Vec::from_raw_parts(out.as_mut_ptr() as *mut f32, out.len(), out.capacity())
        };
        FlexTensor::from_data(TensorData::new(out, Shape::from(dims)))
    }

    /// `x` with its last two axes swapped (a view).
    fn transposed(x: &FlexTensor) -> FlexTensor {
        let d = x.shape().num_dims();
        x.transpose(d - 2, d - 1)
    }

    /// Column sums of a `[rows, n]` gradient: a bias's gradient.
    fn column_sums(grad: &FlexTensor) -> FlexTensor {
        let grad = contiguous_f32(grad);
        let shape = grad.shape();
        let n = shape[shape.num_dims() - 1];
        let mut sums = vec![0f32; n];
        for row in values(&grad).chunks_exact(n.max(1)) {
            for (s, &g) in sums.iter_mut().zip(row) {
                *s += g;
            }
        }
        FlexTensor::from_data(TensorData::new(sums, Shape::new([n])))
    }

    pub fn matmul_tracked(lhs: TrackedFlexTensor, rhs: TrackedFlexTensor) -> TrackedFlexTensor {
        let out = product(&lhs.primitive, &rhs.primitive, None);
        let (lhs_needs, rhs_needs) = (lhs.is_tracked(), rhs.is_tracked());
        match Matmul
            .prepare::<NoCheckpointing>([lhs.node.clone(), rhs.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(
                (
                    rhs_needs.then(|| lhs.primitive.clone()),
                    lhs_needs.then(|| rhs.primitive.clone()),
                ),
                out,
            ),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    /// Keeps the operand each gradient needs: `lhs` for ∂rhs, `rhs` for ∂lhs.
    #[derive(Debug)]
    struct Matmul;

    impl Backward<Flex, 2> for Matmul {
        type State = (Option<FlexTensor>, Option<FlexTensor>);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            let (lhs, rhs) = ops.state;
            binary::<Flex, _, _>(
                ops.parents,
                ops.node,
                grads,
                |grad| product(&grad, &transposed(&rhs.expect("rhs kept for ∂lhs")), None),
                |grad| product(&transposed(&lhs.expect("lhs kept for ∂rhs")), &grad, None),
            );
        }
    }

    pub fn linear_tracked(
        x: TrackedFlexTensor,
        weight: TrackedFlexTensor,
        bias: TrackedFlexTensor,
    ) -> TrackedFlexTensor {
        let out = product(&x.primitive, &weight.primitive, Some(&bias.primitive));
        let (x_needs, weight_needs) = (x.is_tracked(), weight.is_tracked());
        match Linear
            .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone(), bias.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(
                (
                    weight_needs.then(|| x.primitive.clone()),
                    x_needs.then(|| weight.primitive.clone()),
                ),
                out,
            ),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    /// Keeps `x` for ∂weight and `weight` for ∂x; ∂bias needs neither.
    #[derive(Debug)]
    struct Linear;

    impl Backward<Flex, 3> for Linear {
        type State = (Option<FlexTensor>, Option<FlexTensor>);

        fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            let (x, weight) = ops.state;
            let [x_node, weight_node, bias_node] = ops.parents;
            let grad = grads.consume::<Flex>(&ops.node);
            if let Some(node) = weight_node {
                let x = x.as_ref().expect("x kept for ∂weight");
                grads.register::<Flex>(node.id, product(&transposed(x), &grad, None));
            }
            if let Some(node) = bias_node {
                grads.register::<Flex>(node.id, column_sums(&grad));
            }
            if let Some(node) = x_node {
                let weight = weight.as_ref().expect("weight kept for ∂x");
                grads.register::<Flex>(node.id, product(&grad, &transposed(weight), None));
            }
        }
    }
}
