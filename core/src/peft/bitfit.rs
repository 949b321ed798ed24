//! BitFit (Ben Zaken et al. 2022) as the reference places it: a zero-initialised
//! bias added to the output of a frozen linear or of a norm.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use super::ops::{add_row, zeros};

/// Width of a BitFit bias.
#[derive(Config, Debug)]
pub struct BitFitConfig {
    pub d: usize,
}

impl BitFitConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> BitFit<B> {
        BitFit {
            bias: zeros([self.d], device),
        }
    }
}

/// A trainable bias.
#[derive(Module, Debug)]
pub struct BitFit<B: Backend> {
    /// `[d]`.
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> BitFit<B> {
    /// # Shapes
    /// - output: `[batch, seq, d]` → `[batch, seq, d]`
    pub fn forward(&self, output: Tensor<B, 3>) -> Tensor<B, 3> {
        add_row(output, self.bias.val())
    }

    /// The bias weighted by the slot's "on" sample.
    ///
    /// # Shapes
    /// - on: `[1]`
    pub fn forward_gated(&self, output: Tensor<B, 3>, on: Tensor<B, 1>) -> Tensor<B, 3> {
        add_row(output, self.bias.val() * on)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::TensorData;

    type B = Flex<f32>;

    #[test]
    fn zero_at_start_then_adds_its_bias() {
        let dev = Default::default();
        let x = Tensor::<B, 3>::from_floats([[[1.0, 2.0], [3.0, 4.0]]], &dev);
        let fresh = BitFitConfig::new(2).init::<B>(&dev);
        fresh
            .forward(x.clone())
            .into_data()
            .assert_eq(&x.clone().into_data(), true);
        let fit = BitFit::<B> {
            bias: Param::from_tensor(Tensor::from_floats([0.5, -1.0], &dev)),
        };
        fit.forward(x.clone())
            .into_data()
            .assert_eq(&TensorData::from([[[1.5f32, 1.0], [3.5, 3.0]]]), true);
        let half = Tensor::<B, 1>::from_floats([0.5], &dev);
        fit.forward_gated(x, half)
            .into_data()
            .assert_eq(&TensorData::from([[[1.25f32, 1.5], [3.25, 3.5]]]), true);
    }

    #[test]
    fn gate_gradient_is_the_bias_times_positions() {
        type AB = Autodiff<Flex<f32>>;
        let dev = Default::default();
        let fit = BitFit::<AB> {
            bias: Param::from_tensor(Tensor::from_floats([0.5, -1.0], &dev)),
        };
        let on = Tensor::<AB, 1>::from_floats([1.0], &dev).require_grad();
        let x = Tensor::<AB, 3>::zeros([1, 3, 2], &dev);
        let grads = fit.forward_gated(x, on.clone()).sum().backward();
        // Σ over 3 positions of (0.5 - 1.0) = -1.5.
        on.grad(&grads)
            .unwrap()
            .into_data()
            .assert_eq(&TensorData::from([-1.5f32]), true);
    }
}
