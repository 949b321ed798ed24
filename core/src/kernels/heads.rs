//! Attention's change of layout between `[batch, seq, heads·d]` and
//! `[batch, heads, seq, d]`: burn's reshape and `swap_dims` on every backend;
//! on `Flex` (plain and under `Autodiff`), the copy either way is one parallel
//! pass of `d`-long runs.
//!
//! Why: the split is a view, but its backward, and the merge after the
//! attention, make the tensor contiguous again, which burn-flex does by an
//! element-by-element walk of the strides on one thread. Profiling the search
//! step on all-MiniLM-L6-v2 put those copies at about 6% of its CPU time.

use burn::tensor::{backend::Backend, Tensor};

/// `[batch, seq, heads·d]` → `[batch, heads, seq, d]` (a view where the
/// backend allows it).
pub fn split_heads<B: Backend>(x: Tensor<B, 3>, heads: usize) -> Tensor<B, 4> {
    let [batch, seq, width] = x.dims();
    assert_eq!(
        width % heads,
        0,
        "split_heads: {width} is not a multiple of {heads} heads"
    );
    #[cfg(feature = "flex")]
    let x = match super::flex::open(x) {
        super::flex::Opened::Tracked(x) => {
            return super::flex::close(flex::split_tracked(x, heads));
        }
        x => x.into_tensor(),
    };
    x.reshape([batch, seq, heads, width / heads])
        .swap_dims(1, 2)
}

/// `[batch, heads, seq, d]` → `[batch, seq, heads·d]`, contiguous.
pub fn merge_heads<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 3> {
    let [batch, heads, seq, d] = x.dims();
    #[cfg(feature = "flex")]
    let x = match super::flex::open(x) {
        super::flex::Opened::Plain(x) => return super::flex::close(flex::merge(&x)),
        super::flex::Opened::Tracked(x) => return super::flex::close(flex::merge_tracked(x)),
        super::flex::Opened::Other(x) => x,
    };
    x.swap_dims(1, 2).reshape([batch, seq, heads * d])
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{unary, Backward, Ops, OpsKind};
    use burn::backend::flex::FlexTensor;
    use burn::backend::Flex;
    use burn::tensor::{Shape, TensorMetadata};

    use crate::kernels::flex::{build, TrackedFlexTensor, CHUNK};

    /// `[batch, heads, seq, d]` with any strides → contiguous
    /// `[batch, seq, heads·d]`, whole output rows per parallel chunk.
    pub fn merge(x: &FlexTensor) -> FlexTensor {
        let shape = x.shape();
        let (batch, heads, seq, d) = (shape[0], shape[1], shape[2], shape[3]);
        let layout = x.layout();
        let s = layout.strides();
        let (s_b, s_h, s_l, s_d) = (s[0], s[1], s[2], s[3]);
        let start = layout.start_offset() as isize;
        let src: &[f32] = x.storage::<f32>();
        let width = heads * d;
        let rows_per_chunk = (CHUNK / width.max(1)).max(1);
        build(
            Shape::new([batch, seq, width]),
            rows_per_chunk * width,
            |at, out| {
                for (i, row) in out.chunks_exact_mut(width).enumerate() {
                    let r = at / width + i;
                    let (b, l) = (r / seq, r % seq);
                    for (h, run) in row.chunks_exact_mut(d).enumerate() {
                        let base = start + b as isize * s_b + h as isize * s_h + l as isize * s_l;
                        if s_d == 1 {
                            let base = base as usize;
                            run.copy_from_slice(&src[base..base + d]);
                        } else {
                            for (j, v) in run.iter_mut().enumerate() {
                                *v = src[(base + j as isize * s_d) as usize];
                            }
                        }
                    }
                }
            },
        )
    }

    /// The split as a view; its gradient is merged back by [`merge`].
    pub fn split_tracked(x: TrackedFlexTensor, heads: usize) -> TrackedFlexTensor {
        let shape = x.primitive.shape();
        let (batch, seq, width) = (shape[0], shape[1], shape[2]);
        let view = x
            .primitive
            .reshape(Shape::new([batch, seq, heads, width / heads]))
            .transpose(1, 2);
        match Split
            .prepare::<NoCheckpointing>([x.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((), view),
            OpsKind::UnTracked(prep) => prep.finish(view),
        }
    }

    /// The merge as one copy; its gradient is split back as a view.
    pub fn merge_tracked(x: TrackedFlexTensor) -> TrackedFlexTensor {
        let heads = x.primitive.shape()[1];
        let merged = merge(&x.primitive);
        match Merge
            .prepare::<NoCheckpointing>([x.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(heads, merged),
            OpsKind::UnTracked(prep) => prep.finish(merged),
        }
    }

    #[derive(Debug)]
    struct Split;

    impl Backward<Flex, 1> for Split {
        type State = ();

        fn backward(self, ops: Ops<(), 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            unary::<Flex, _>(ops.parents, ops.node, grads, |grad| merge(&grad));
        }
    }

    #[derive(Debug)]
    struct Merge;

    impl Backward<Flex, 1> for Merge {
        /// The number of heads.
        type State = usize;

        fn backward(self, ops: Ops<usize, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            let heads = ops.state;
            unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
                let shape = grad.shape();
                let (batch, seq, width) = (shape[0], shape[1], shape[2]);
                grad.reshape(Shape::new([batch, seq, heads, width / heads]))
                    .transpose(1, 2)
            });
        }
    }
}
