//! T5's feed-forward block (`DenseReluDense`): `wo(act(wi x))` in the original
//! T5 (`T5DenseActDense`), `wo(act(wi_0 x) · wi_1 x)` in v1.1 / FLAN
//! (`T5DenseGatedActDense`). No biases.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation;
use burn::tensor::{backend::Backend, Tensor};

use super::config::{Activation, FeedForward};
use crate::backbone::{Hooks, Point, Site, Stack};
use crate::flat::linear3;

/// Shape and kind of a [`T5Ffn`].
#[derive(Config, Debug)]
pub struct T5FfnConfig {
    pub d_model: usize,
    pub d_ff: usize,
    pub feed_forward: FeedForward,
}

impl T5FfnConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> T5Ffn<B> {
        let linear = |d_in, d_out| LinearConfig::new(d_in, d_out).with_bias(false).init(device);
        T5Ffn {
            wi: linear(self.d_model, self.d_ff),
            wi_1: self
                .feed_forward
                .gated
                .then(|| linear(self.d_model, self.d_ff)),
            wo: linear(self.d_ff, self.d_model),
            activation: self.feed_forward.activation,
        }
    }
}

/// The FFN's linears: `wi` (`wi_0` when gated), the gate `wi_1`, and `wo`.
#[derive(Module, Debug)]
pub struct T5Ffn<B: Backend> {
    /// `wi` or `wi_0`: `[d_model, d_ff]`
    pub wi: Linear<B>,
    /// `wi_1`, the linear (un-activated) branch of a gated FFN: `[d_model, d_ff]`
    pub wi_1: Option<Linear<B>>,
    /// `[d_ff, d_model]`
    pub wo: Linear<B>,
    #[module(skip)]
    pub activation: Activation,
}

impl<B: Backend> T5Ffn<B> {
    /// # Shapes
    /// - input: `[batch, seq, d_model]`
    /// - output: `[batch, seq, d_model]`
    pub fn forward<H: Hooks<B>>(
        &self,
        input: Tensor<B, 3>,
        stack: Stack,
        layer: usize,
        hooks: &H,
    ) -> Tensor<B, 3> {
        let site = |point| Site::new(stack, layer, point);
        let hidden = hooks.linear(site(Point::FfnIn), &input, linear3(&self.wi, input.clone()));
        let mut hidden = apply(self.activation, hidden);
        if let Some(wi_1) = &self.wi_1 {
            let gate = hooks.linear(site(Point::FfnGate), &input, linear3(wi_1, input.clone()));
            hidden = hidden * gate;
        }
        hooks.linear(
            site(Point::FfnOut),
            &hidden,
            linear3(&self.wo, hidden.clone()),
        )
    }
}

/// The activation, element-wise.
pub fn apply<B: Backend, const D: usize>(activation: Activation, x: Tensor<B, D>) -> Tensor<B, D> {
    match activation {
        Activation::Relu => activation::relu(x),
        Activation::Gelu => crate::kernels::gelu(x),
        Activation::GeluTanh => activation::gelu_approximate(x),
        Activation::Silu => activation::silu(x),
        Activation::QuickGelu => x.clone() * activation::sigmoid(x * 1.702),
        Activation::Tanh => activation::tanh(x),
        Activation::Sigmoid => activation::sigmoid(x),
        Activation::Relu6 => x.clamp(0.0, 6.0),
        Activation::Linear => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type B = burn::backend::Flex<f32>;

    #[test]
    fn activations_match_their_formulas() {
        let device = Default::default();
        let xs = [-3.0f32, -0.5, 0.0, 0.7, 2.0, 7.0];
        let x = Tensor::<B, 1>::from_floats(xs, &device);
        let get = |a| apply(a, x.clone()).into_data().to_vec::<f32>().unwrap();
        let erf_gelu = |v: f32| {
            // Maclaurin series of erf in f64: exact enough for |x| < 4.
            let z = f64::from(v) / std::f64::consts::SQRT_2;
            let mut sum = 0.0f64;
            let mut term = z;
            for n in 0..60 {
                sum += term / (2 * n + 1) as f64;
                term *= -z * z / (n + 1) as f64;
            }
            let erf = 2.0 / std::f64::consts::PI.sqrt() * sum;
            (0.5 * f64::from(v) * (1.0 + erf)) as f32
        };
        let tanh_gelu = |v: f32| {
            let c = (2.0f32 / std::f32::consts::PI).sqrt();
            0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh())
        };
        for (i, &v) in xs.iter().enumerate() {
            let gelu = if v.abs() < 4.0 {
                erf_gelu(v)
            } else {
                v.max(0.0)
            };
            assert!((get(Activation::Gelu)[i] - gelu).abs() < 1e-5, "gelu({v})");
            assert!(
                (get(Activation::GeluTanh)[i] - tanh_gelu(v)).abs() < 1e-5,
                "gelu_new({v})"
            );
            assert_eq!(get(Activation::Relu)[i], v.max(0.0));
            assert_eq!(get(Activation::Relu6)[i], v.clamp(0.0, 6.0));
            let silu = v / (1.0 + (-v).exp());
            assert!((get(Activation::Silu)[i] - silu).abs() < 1e-5, "silu({v})");
            let quick = v / (1.0 + (-1.702 * v).exp());
            assert!(
                (get(Activation::QuickGelu)[i] - quick).abs() < 1e-5,
                "quick_gelu({v})"
            );
        }
    }
}
