//! LN-tuning as the reference does it (its `T5LayerNormParalleyLayer`): a
//! zero-initialised scale times the normalised input, added beside a norm's
//! output. The backbone hands over the normalised input before its own learned
//! scale (T5: `x / rms(x)`; BERT: `(x - mean) / std`).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use super::ops::{mul_row, zeros};

/// Width of an LNFit scale.
#[derive(Config, Debug)]
pub struct LnFitConfig {
    pub d: usize,
}

impl LnFitConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> LnFit<B> {
        LnFit {
            scale: zeros([self.d], device),
        }
    }
}

/// A trainable scale beside a norm.
#[derive(Module, Debug)]
pub struct LnFit<B: Backend> {
    /// `[d]`.
    pub scale: Param<Tensor<B, 1>>,
}

impl<B: Backend> LnFit<B> {
    /// `output + scale ⊙ normalized`.
    ///
    /// # Shapes
    /// - normalized, output: `[batch, seq, d]` → `[batch, seq, d]`
    pub fn forward(&self, normalized: Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        output + mul_row(normalized, self.scale.val())
    }

    /// The scale weighted by the slot's "on" sample (`on: [1]`).
    pub fn forward_gated(
        &self,
        normalized: Tensor<B, 3>,
        output: Tensor<B, 3>,
        on: Tensor<B, 1>,
    ) -> Tensor<B, 3> {
        output + mul_row(normalized, self.scale.val() * on)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::TensorData;

    type B = Flex<f32>;

    #[test]
    fn zero_at_start_then_scales_the_normalised_input() {
        let dev = Default::default();
        let normalized = Tensor::<B, 3>::from_floats([[[1.0, -1.0]]], &dev);
        let output = Tensor::<B, 3>::from_floats([[[2.0, 3.0]]], &dev);
        let fresh = LnFitConfig::new(2).init::<B>(&dev);
        fresh
            .forward(normalized.clone(), output.clone())
            .into_data()
            .assert_eq(&output.clone().into_data(), true);
        let fit = LnFit::<B> {
            scale: Param::from_tensor(Tensor::from_floats([0.5, 2.0], &dev)),
        };
        fit.forward(normalized.clone(), output.clone())
            .into_data()
            .assert_eq(&TensorData::from([[[2.5f32, 1.0]]]), true);
        let off = Tensor::<B, 1>::from_floats([0.0], &dev);
        fit.forward_gated(normalized, output.clone(), off)
            .into_data()
            .assert_eq(&output.into_data(), true);
    }

    #[test]
    fn gate_gradient() {
        type AB = Autodiff<Flex<f32>>;
        let dev = Default::default();
        let fit = LnFit::<AB> {
            scale: Param::from_tensor(Tensor::from_floats([0.5, 2.0], &dev)),
        };
        let on = Tensor::<AB, 1>::from_floats([1.0], &dev).require_grad();
        let normalized = Tensor::<AB, 3>::from_floats([[[1.0, -1.0], [2.0, 1.0]]], &dev);
        let grads = fit
            .forward_gated(normalized, Tensor::zeros([1, 2, 2], &dev), on.clone())
            .sum()
            .backward();
        // 0.5·1 + 2·(-1) + 0.5·2 + 2·1 = 1.5.
        on.grad(&grads)
            .unwrap()
            .into_data()
            .assert_eq(&TensorData::from([1.5f32]), true);
    }
}
