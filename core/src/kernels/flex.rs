//! Reaching the Flex backend's tensors from backend-generic code: the
//! backend is recognised by its type at run time, so model code keeps its
//! `B: Backend` parameter and no trait bound spreads through the crate.

use std::any::{Any, TypeId};
use std::mem::MaybeUninit;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{unary, Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::{Backend, BackendTypes};
use burn::tensor::{DType, Tensor, TensorData, TensorPrimitive};
use rayon::prelude::*;

/// The primitive of `Autodiff<Flex>`: a `FlexTensor` and its graph node.
pub type TrackedFlexTensor = <Autodiff<Flex> as BackendTypes>::FloatTensorPrimitive;

/// Elements per parallel chunk: large enough to amortise the hand-off.
pub const CHUNK: usize = 1 << 14;

/// A tensor of a generic backend, opened up when that backend is Flex.
pub enum Opened<B: Backend, const D: usize> {
    /// `B` is `Flex` (inference).
    Plain(FlexTensor),
    /// `B` is `Autodiff<Flex>` (training).
    Tracked(TrackedFlexTensor),
    /// Any other backend, or a tensor that is not `f32`.
    Other(Tensor<B, D>),
}

impl<B: Backend, const D: usize> Opened<B, D> {
    /// The tensor again, unchanged: for a kernel that does not take it.
    pub fn into_tensor(self) -> Tensor<B, D> {
        match self {
            Opened::Plain(x) => close(x),
            Opened::Tracked(x) => close(x),
            Opened::Other(x) => x,
        }
    }
}

/// Opens `x` if it lives on `Flex` or `Autodiff<Flex>` and holds `f32`.
pub fn open<B: Backend, const D: usize>(x: Tensor<B, D>) -> Opened<B, D> {
    let plain = TypeId::of::<B>() == TypeId::of::<Flex>();
    let tracked = TypeId::of::<B>() == TypeId::of::<Autodiff<Flex>>();
    if !(plain || tracked) || x.dtype() != DType::F32 {
        return Opened::Other(x);
    }
    let primitive = x.into_primitive().tensor();
    match same_type::<_, FlexTensor>(primitive) {
        Ok(flex) => Opened::Plain(flex),
        Err(primitive) => match same_type::<_, TrackedFlexTensor>(primitive) {
            Ok(tracked) => Opened::Tracked(tracked),
            Err(primitive) => {
                Opened::Other(Tensor::from_primitive(TensorPrimitive::Float(primitive)))
            }
        },
    }
}

/// A kernel's output back as a tensor of `B` (which [`open`] found to be the
/// primitive's backend).
pub fn close<B: Backend, const D: usize, P: 'static>(primitive: P) -> Tensor<B, D> {
    let primitive = same_type::<P, B::FloatTensorPrimitive>(primitive)
        .ok()
        .expect("the primitive belongs to the backend that was opened");
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}

/// The inner `FlexTensor` of an opened tensor that only feeds a kernel as a
/// constant (no gradient flows into it).
pub fn constant<B: Backend, const D: usize>(x: Tensor<B, D>) -> Option<FlexTensor> {
    match open(x) {
        Opened::Plain(flex) => Some(flex),
        Opened::Tracked(tracked) => Some(tracked.primitive),
        Opened::Other(_) => None,
    }
}

/// Moves a value into another type when the two are the same type.
fn same_type<T: 'static, U: 'static>(value: T) -> Result<U, T> {
    let mut slot = Some(value);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
        Some(u) => Ok(u.take().expect("the slot was just filled")),
        None => Err(slot.expect("the slot was just filled")),
    }
}

/// `x` as contiguous `f32` storage (a cheap clone when it already is).
pub fn contiguous_f32(x: &FlexTensor) -> FlexTensor {
    if x.is_contiguous() && x.as_slice::<f32>().is_some() {
        x.clone()
    } else {
        x.to_contiguous()
    }
}

/// The contiguous `f32` values of a tensor made by [`contiguous_f32`].
pub fn values(x: &FlexTensor) -> &[f32] {
    x.as_slice::<f32>().expect("contiguous f32 storage")
}

/// Elements per parallel chunk for a kernel that works on whole rows of
/// `row_len` values: about [`CHUNK`], rounded to whole rows.
pub fn row_chunk(row_len: usize) -> usize {
    row_len * (CHUNK / row_len.max(1)).max(1)
}

/// A new tensor of `shape` whose values `fill` writes, `chunk` elements at a
/// time in parallel; `fill` gets the chunk's offset and its output slice.
pub fn build(
    shape: burn::tensor::Shape,
    chunk: usize,
    fill: impl Fn(usize, &mut [f32]) + Sync,
) -> FlexTensor {
    // Not `vec![0.0; n]`: that zeroes the whole buffer on the calling thread
    // before the parallel fill (a memset the profile showed on the main
    // thread). Each chunk is zeroed by the worker that fills it, while it is
    // in that core's cache.
    let (n, chunk) = (shape.num_elements(), chunk.max(1));
    let mut out: Vec<f32> = Vec::with_capacity(n);
    out.spare_capacity_mut()[..n]
        .par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, o)| {
            o.fill(MaybeUninit::new(0.0));
            // SAFETY: every element of `o` was just initialised, and
            // `MaybeUninit<f32>` has the layout of `f32`.
            let o = unsafe { &mut *(o as *mut [MaybeUninit<f32>] as *mut [f32]) };
            fill(i * chunk, o)
        });
    // SAFETY: the chunks cover `0..n`, and each was initialised above.
    unsafe { out.set_len(n) };
    FlexTensor::from_data(TensorData::new(out, shape))
}

/// The backward of a fused one-input kernel: from what it saved in the
/// forward pass (its input or its output, and any constants) and the incoming
/// gradient, the gradient of its input.
pub type BackwardKernel<S> = fn(saved: &S, grad: &FlexTensor) -> FlexTensor;

/// A fused one-input kernel as one node of the autodiff graph.
#[derive(Debug)]
struct FusedUnary<S> {
    backward: BackwardKernel<S>,
}

impl<S: Clone + Send + std::fmt::Debug + 'static> Backward<Flex, 1> for FusedUnary<S> {
    type State = S;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let saved = ops.state;
        let kernel = self.backward;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| kernel(&saved, &grad));
    }
}

/// `output`, computed from `input`'s values by a fused kernel, as a tracked
/// tensor whose backward is `backward(saved, grad)`; `saved` is kept only
/// when a gradient is needed.
pub fn tracked_unary<S: Clone + Send + std::fmt::Debug + 'static>(
    input: &TrackedFlexTensor,
    output: FlexTensor,
    saved: S,
    backward: BackwardKernel<S>,
) -> TrackedFlexTensor {
    match (FusedUnary { backward })
        .prepare::<NoCheckpointing>([input.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(saved, output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}
