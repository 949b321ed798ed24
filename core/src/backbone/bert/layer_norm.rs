//! BERT's post-sub-layer LayerNorm (`torch.nn.LayerNorm` over the hidden size,
//! biased variance, learned scale and shift). Written out rather than taken from
//! `burn::nn::LayerNorm` because PEFT hooks (LN-tuning) need the normalised
//! value before the learned scale.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use crate::backbone::hooks::{Hooks, Site};
use crate::kernels;

/// Shape and epsilon of a [`BertLayerNorm`].
#[derive(Config, Debug)]
pub struct BertLayerNormConfig {
    pub d_model: usize,
    /// `layer_norm_eps` of config.json.
    #[config(default = 1e-12)]
    pub epsilon: f64,
}

/// `y = (x - mean) / sqrt(var + eps) * weight + bias` over the last dimension.
#[derive(Module, Debug)]
pub struct BertLayerNorm<B: Backend> {
    /// `gamma` in old checkpoints. `[d_model]`, initialised to ones.
    pub weight: Param<Tensor<B, 1>>,
    /// `beta` in old checkpoints. `[d_model]`, initialised to zeros.
    pub bias: Param<Tensor<B, 1>>,
    pub epsilon: f64,
}

impl BertLayerNormConfig {
    /// The identity-initialised norm (ones, zeros), as `transformers` creates it.
    pub fn init<B: Backend>(&self, device: &B::Device) -> BertLayerNorm<B> {
        BertLayerNorm {
            weight: Param::from_tensor(Tensor::ones([self.d_model], device)),
            bias: Param::from_tensor(Tensor::zeros([self.d_model], device)),
            epsilon: self.epsilon,
        }
    }
}

impl<B: Backend> BertLayerNorm<B> {
    /// Normalises `input` and calls `hooks.norm(site, normalised, output)`.
    ///
    /// # Shapes
    /// - input: `[batch, seq, d_model]`
    /// - output: `[batch, seq, d_model]`
    pub fn forward<H: Hooks<B> + ?Sized>(
        &self,
        input: Tensor<B, 3>,
        site: Site,
        hooks: &H,
    ) -> Tensor<B, 3> {
        let normalized = kernels::normalize(input, self.epsilon);
        let output = kernels::scale_shift(normalized.clone(), self.weight.val(), self.bias.val());
        hooks.norm(site, &normalized, output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::hooks::{NoHooks, Point, Stack};
    use burn::tensor::{TensorData, Tolerance};

    type B = burn::backend::Flex<f32>;

    #[test]
    fn matches_hand_computed_values() {
        let device = Default::default();
        let mut norm = BertLayerNormConfig::new(3)
            .with_epsilon(1e-5)
            .init::<B>(&device);
        norm.weight = Param::from_tensor(Tensor::from_floats([1.0, 2.0, 0.5], &device));
        norm.bias = Param::from_tensor(Tensor::from_floats([0.0, 1.0, -1.0], &device));
        let x = Tensor::<B, 3>::from_floats([[[1.0, 2.0, 3.0]]], &device);
        let site = Site::new(Stack::Encoder, 0, Point::EmbeddingNorm);
        let y = norm.forward(x, site, &NoHooks);
        // mean 2, biased var 2/3: normalised = [-1, 0, 1] / sqrt(2/3 + 1e-5).
        let s = 1.0 / (2.0f32 / 3.0 + 1e-5).sqrt();
        y.into_data().assert_approx_eq::<f32>(
            &TensorData::from([[[-s, 1.0, 0.5 * s - 1.0]]]),
            Tolerance::absolute(1e-6),
        );
    }
}
