//! T5's layer norm: RMS normalisation with a learned scale, no mean subtraction
//! and no bias (`T5LayerNorm` in transformers' `modeling_t5.py`).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use crate::backbone::{Hooks, Site};

/// Shape and epsilon of a [`T5LayerNorm`].
#[derive(Config, Debug)]
pub struct T5LayerNormConfig {
    pub d_model: usize,
    #[config(default = 1e-6)]
    pub epsilon: f64,
}

impl T5LayerNormConfig {
    /// A norm with unit scale (what a fresh T5 has).
    pub fn init<B: Backend>(&self, device: &B::Device) -> T5LayerNorm<B> {
        T5LayerNorm {
            weight: Param::from_tensor(Tensor::ones([self.d_model], device)),
            epsilon: self.epsilon,
        }
    }
}

/// `weight · x / sqrt(mean(x²) + ε)`.
#[derive(Module, Debug)]
pub struct T5LayerNorm<B: Backend> {
    /// The learned scale (`layer_norm.weight`). `[d_model]`
    pub weight: Param<Tensor<B, 1>>,
    pub epsilon: f64,
}

impl<B: Backend> T5LayerNorm<B> {
    /// Normalises and scales, calling `hooks.norm` with the normalised value
    /// (before the scale) and the output.
    ///
    /// # Shapes
    /// - input: `[batch, seq, d_model]`
    /// - output: `[batch, seq, d_model]`
    pub fn forward<H: Hooks<B>>(&self, input: Tensor<B, 3>, site: Site, hooks: &H) -> Tensor<B, 3> {
        let normalized = self.normalize(input);
        let output = normalized.clone() * self.weight.val().unsqueeze::<3>();
        hooks.norm(site, &normalized, output)
    }

    /// `x / sqrt(mean(x²) + ε)` over the last dimension.
    pub fn normalize(&self, input: Tensor<B, 3>) -> Tensor<B, 3> {
        let variance = input.clone().powi_scalar(2).mean_dim(2);
        input * (variance + self.epsilon).sqrt().recip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::{NoHooks, Point, Stack};
    use burn::tensor::TensorData;

    type B = burn::backend::Flex<f32>;

    #[test]
    fn rms_without_mean_and_with_scale() {
        let device = Default::default();
        let mut norm = T5LayerNormConfig::new(2)
            .with_epsilon(0.0)
            .init::<B>(&device);
        norm.weight = Param::from_tensor(Tensor::from_floats([2.0, -1.0], &device));
        // rms of [3, 4] is sqrt(12.5); the mean (3.5) is NOT subtracted.
        let x = Tensor::<B, 3>::from_floats([[[3.0, 4.0]]], &device);
        let site = Site::new(Stack::Encoder, 0, Point::AttnNorm);
        let out = norm.forward(x, site, &NoHooks).into_data();
        let r = 12.5f32.sqrt();
        out.assert_approx_eq::<f32>(
            &TensorData::from([[[2.0 * 3.0 / r, -4.0 / r]]]),
            burn::tensor::Tolerance::absolute(1e-6),
        );
    }
}
