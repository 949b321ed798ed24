//! Small tensor helpers the PEFT modules share: row-wise addition and
//! scaling, the `gelu_new` activation, and the reference's initialisers
//! (their 3-d × 2-d matmul is [`crate::flat::matmul3`]).

use burn::module::Param;
use burn::tensor::{backend::Backend, Distribution, Tensor};

/// Adds a `[d]` vector to every position of `[batch, seq, d]`.
pub fn add_row<B: Backend>(x: Tensor<B, 3>, row: Tensor<B, 1>) -> Tensor<B, 3> {
    let d = row.dims()[0];
    x + row.reshape([1, 1, d])
}

/// Multiplies every position of `[batch, seq, d]` by a `[d]` vector.
pub fn mul_row<B: Backend>(x: Tensor<B, 3>, row: Tensor<B, 1>) -> Tensor<B, 3> {
    let d = row.dims()[0];
    x * row.reshape([1, 1, d])
}

/// The tanh approximation of GELU used by the reference's adapters
/// (`transformers`' `gelu_new`): `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
pub fn gelu_new<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    let inner = (x.clone() + x.clone().powi_scalar(3).mul_scalar(0.044715)).mul_scalar(c);
    x.clone().mul_scalar(0.5) * (inner.tanh() + 1.0)
}

/// A trainable tensor drawn uniformly from `[-bound, bound]`.
pub fn uniform<B: Backend, const D: usize>(
    shape: [usize; D],
    bound: f64,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::random(
        shape,
        Distribution::Uniform(-bound, bound),
        device,
    ))
}

/// A trainable tensor drawn from `N(0, std²)`.
pub fn normal<B: Backend, const D: usize>(
    shape: [usize; D],
    std: f64,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::random(
        shape,
        Distribution::Normal(0.0, std),
        device,
    ))
}

/// A trainable tensor of zeros.
pub fn zeros<B: Backend, const D: usize>(
    shape: [usize; D],
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::zeros(shape, device))
}

/// Bound of PyTorch's default `nn.Linear` initialisation
/// (`kaiming_uniform_(a = √5)`, also its bias): `1 / √fan_in`.
pub fn linear_default_bound(fan_in: usize) -> f64 {
    1.0 / (fan_in as f64).sqrt()
}

/// Bound of `xavier_uniform_(gain = √2)` on a matrix with these fans, the
/// reference's "glorot-uniform" for low-rank adapter factors.
pub fn glorot_bound(fan_in: usize, fan_out: usize) -> f64 {
    2f64.sqrt() * (6.0 / (fan_in + fan_out) as f64).sqrt()
}

/// Keeps the first `n` columns of a `[rows, cols]` parameter, as a new parameter.
pub fn first_cols<B: Backend>(p: &Param<Tensor<B, 2>>, n: usize) -> Param<Tensor<B, 2>> {
    let rows = p.dims()[0];
    Param::from_tensor(p.val().slice([0..rows, 0..n]))
}

/// Keeps the first `n` rows of a `[rows, cols]` parameter, as a new parameter.
pub fn first_rows<B: Backend>(p: &Param<Tensor<B, 2>>, n: usize) -> Param<Tensor<B, 2>> {
    let cols = p.dims()[1];
    Param::from_tensor(p.val().slice([0..n, 0..cols]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    type B = Flex<f32>;

    #[test]
    fn gelu_new_matches_transformers() {
        // transformers' NewGELUActivation at -2, -0.5, 0, 1, 3 (computed by hand from the formula).
        let x = Tensor::<B, 1>::from_floats([-2.0, -0.5, 0.0, 1.0, 3.0], &Default::default());
        let y = gelu_new(x).into_data();
        let expected = TensorData::from([-0.045_402_3_f32, -0.154_286, 0.0, 0.841_192, 2.996_363]);
        y.assert_approx_eq::<f32>(&expected, burn::tensor::Tolerance::absolute(1e-5));
    }
}
