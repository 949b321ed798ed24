//! The two optimisers of the bi-level search (docs/algorithm.md §5) set up as
//! PyTorch sets them up in the reference, plus what burn does differently by
//! default: PyTorch's epsilon (1e-8, burn's default is 1e-5), clipping by the
//! global norm over all parameters (`torch.nn.utils.clip_grad_norm_`; burn's
//! own clipping is per tensor), and the linear decay without warm-up.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams};
use burn::tensor::{backend::AutodiffBackend, Tensor};

use super::config::SearchConfig;

/// PyTorch's default Adam/AdamW epsilon.
const TORCH_EPSILON: f32 = 1e-8;

/// Adam on the architecture logits: `Adam(lr, betas=(0.5, 0.999), weight_decay=1e-4)`
/// with L2 decay added to the gradient, as `torch.optim.Adam`.
pub fn arch_optimizer(config: &SearchConfig) -> AdamConfig {
    AdamConfig::new()
        .with_beta_1(config.arch_beta1)
        .with_beta_2(config.arch_beta2)
        .with_epsilon(TORCH_EPSILON)
        .with_weight_decay(Some(WeightDecayConfig::new(config.arch_weight_decay)))
}

/// AdamW on the PEFT weights with decoupled weight decay, as `torch.optim.AdamW`.
pub fn weight_optimizer(config: &SearchConfig) -> AdamWConfig {
    AdamWConfig::new()
        .with_epsilon(TORCH_EPSILON)
        .with_weight_decay(config.weight_decay)
}

/// The learning rate at weight step `step` of `total`: linear decay to 0.
pub fn linear_decay(base: f64, step: usize, total: usize) -> f64 {
    base * (1.0 - step as f64 / total.max(1) as f64).max(0.0)
}

/// Scales the gradients of `module`'s parameters so that their global L2 norm
/// is at most `max_norm`, as `clip_grad_norm_` does (factor
/// `max_norm / (norm + 1e-6)` when below 1). Computed on the device: no read.
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) {
    let mut squares = SquaredNorms::<B> {
        grads,
        parts: Vec::new(),
    };
    module.visit(&mut squares);
    if squares.parts.is_empty() {
        return;
    }
    let norm = Tensor::cat(squares.parts, 0).sum().sqrt();
    let factor = norm
        .add_scalar(1e-6)
        .recip()
        .mul_scalar(max_norm)
        .clamp_max(1.0);
    module.visit(&mut Scale::<B> { grads, factor });
}

/// Collects Σ g² of every parameter that has a gradient.
struct SquaredNorms<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    parts: Vec<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorms<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            self.parts.push(g.clone().mul(g).sum());
        }
    }
}

/// Multiplies every gradient by a `[1]` factor.
struct Scale<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    factor: Tensor<B::InnerBackend, 1>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            let factor = self.factor.clone().reshape([1; D]);
            self.grads.register(param.id, g.mul(factor));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::module::Module;
    use burn::tensor::TensorData;

    type B = Autodiff<Flex<f32>>;

    #[derive(Module, Debug)]
    struct Two<B: burn::tensor::backend::Backend> {
        a: Param<Tensor<B, 1>>,
        b: Param<Tensor<B, 2>>,
    }

    fn two() -> Two<B> {
        let device = Default::default();
        Two {
            a: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, 1.0], [2]),
                &device,
            )),
            b: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32; 4], [2, 2]),
                &device,
            )),
        }
    }

    /// Gradients [3, 0] for a and [[0, 4], [0, 0]] for b: global norm 5.
    fn grads(model: &Two<B>) -> GradientsParams {
        let device = Default::default();
        let wa = Tensor::<B, 1>::from_data(TensorData::new(vec![3.0f32, 0.0], [2]), &device);
        let wb = Tensor::<B, 2>::from_data(
            TensorData::new(vec![0.0f32, 4.0, 0.0, 0.0], [2, 2]),
            &device,
        );
        let loss = model.a.val().mul(wa).sum().add(model.b.val().mul(wb).sum());
        GradientsParams::from_grads(loss.backward(), model)
    }

    #[test]
    fn clips_by_the_global_norm() {
        let model = two();
        let mut g = grads(&model);
        clip_global_norm(&model, &mut g, 2.0);
        let ga = g
            .get::<Flex<f32>, 1>(model.a.id)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let gb = g
            .get::<Flex<f32>, 2>(model.b.id)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let f = 2.0 / (5.0 + 1e-6);
        assert!((ga[0] - 3.0 * f as f32).abs() < 1e-6, "{ga:?}");
        assert!((gb[1] - 4.0 * f as f32).abs() < 1e-6, "{gb:?}");
        // Under the limit nothing changes.
        let mut g = grads(&model);
        clip_global_norm(&model, &mut g, 10.0);
        let ga = g
            .get::<Flex<f32>, 1>(model.a.id)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(ga, vec![3.0, 0.0]);
    }

    #[test]
    fn linear_decay_reaches_zero() {
        assert_eq!(linear_decay(3e-4, 0, 10), 3e-4);
        assert!((linear_decay(3e-4, 5, 10) - 1.5e-4).abs() < 1e-15);
        assert_eq!(linear_decay(3e-4, 12, 10), 0.0);
    }
}
