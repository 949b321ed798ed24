//! Products over the last axis of `[batch, seq, d]`, computed as one 2-d
//! matmul of `[batch·seq, d]`.
//!
//! Why: burn's `Linear` (and `matmul` of a 3-d tensor by a 2-d one) broadcast
//! the weight over the batch, and a CPU backend then runs one small
//! `[seq, d_in] × [d_in, d_out]` product per example, packing the same weight
//! again for each of them. Flattened, the backend runs one large product and
//! packs the weight once; autodiff's backward is flattened the same way. The
//! products are [`crate::kernels::matmul`] and [`crate::kernels::linear`].

use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor};

use crate::kernels::{linear as fused_linear, matmul};

/// `x · w` over the last axis.
///
/// # Shapes
/// - x: `[batch, seq, d_in]`, w: `[d_in, d_out]` → `[batch, seq, d_out]`
pub fn matmul3<B: Backend>(x: Tensor<B, 3>, w: Tensor<B, 2>) -> Tensor<B, 3> {
    let [batch, seq, d_in] = x.dims();
    let d_out = w.dims()[1];
    matmul(x.reshape([batch * seq, d_in]), w).reshape([batch, seq, d_out])
}

/// `linear` applied at every position: the same values as `linear.forward(x)`.
///
/// # Shapes
/// - x: `[batch, seq, d_in]` → `[batch, seq, d_out]`
pub fn linear3<B: Backend>(linear: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [batch, seq, d_in] = x.dims();
    let out = fused_linear(
        x.reshape([batch * seq, d_in]),
        linear.weight.val(),
        linear.bias.as_ref().map(|b| b.val()),
    );
    let d_out = out.dims()[1];
    out.reshape([batch, seq, d_out])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::module::Param;
    use burn::tensor::{Distribution, TensorData, Tolerance};

    type B = Autodiff<Flex>;

    #[test]
    fn matmul3_is_a_batched_linear() {
        let dev = Default::default();
        let x = Tensor::<Flex, 3>::from_floats([[[1.0, 2.0], [3.0, 4.0]]], &dev);
        let w = Tensor::<Flex, 2>::from_floats([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], &dev);
        let y = matmul3(x, w).into_data();
        y.assert_eq(
            &TensorData::from([[[1.0f32, 2.0, 3.0], [3.0, 4.0, 7.0]]]),
            true,
        );
    }

    #[test]
    fn linear3_gives_burns_linear_and_its_gradients() {
        let dev = Default::default();
        let random = |shape: Vec<usize>| {
            Tensor::<B, 1>::random(
                [shape.iter().product::<usize>()],
                Distribution::Default,
                &dev,
            )
        };
        let linear = Linear::<B> {
            weight: Param::from_tensor(random(vec![5, 3]).reshape([5, 3])),
            bias: Some(Param::from_tensor(random(vec![3]))),
        };
        let x = random(vec![4, 2, 5]).reshape([4, 2, 5]).require_grad();
        let flat = linear3(&linear, x.clone());
        let batched = linear.forward(x.clone());
        let close =
            |a: TensorData, b: TensorData| a.assert_approx_eq::<f32>(&b, Tolerance::default());
        close(flat.to_data(), batched.to_data());
        // Weighted so that every output position has its own gradient.
        let weights = random(vec![4, 2, 3]).reshape([4, 2, 3]);
        let g_flat = (flat * weights.clone()).sum().backward();
        let g_batched = (batched * weights).sum().backward();
        close(
            x.grad(&g_flat).unwrap().into_data(),
            x.grad(&g_batched).unwrap().into_data(),
        );
        let weight = &linear.weight;
        close(
            weight.grad(&g_flat).unwrap().into_data(),
            weight.grad(&g_batched).unwrap().into_data(),
        );
        let bias = linear.bias.as_ref().unwrap();
        close(
            bias.grad(&g_flat).unwrap().into_data(),
            bias.grad(&g_batched).unwrap().into_data(),
        );
    }
}
