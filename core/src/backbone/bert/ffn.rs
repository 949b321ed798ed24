//! The position-wise feed-forward sub-layer with its residual and LayerNorm
//! (`BertIntermediate` + `BertOutput` in transformers).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{activation, backend::Backend, Tensor};

use super::config::{Activation, BertConfig};
use super::layer_norm::{BertLayerNorm, BertLayerNormConfig};
use super::linear::init_linear;
use crate::backbone::hooks::{Hooks, Point, Site, Stack};
use crate::flat::linear3;

/// One block's FFN sub-layer.
#[derive(Module, Debug)]
pub struct BertFfn<B: Backend> {
    /// `intermediate.dense`: hidden → intermediate.
    pub intermediate: Linear<B>,
    /// `output.dense`: intermediate → hidden.
    pub output: Linear<B>,
    /// `output.LayerNorm`
    pub norm: BertLayerNorm<B>,
    #[module(skip)]
    pub activation: Activation,
}

impl<B: Backend> BertFfn<B> {
    /// Randomly initialised, as transformers does.
    pub fn init(config: &BertConfig, device: &B::Device) -> Self {
        let (h, i, std) = (
            config.hidden_size,
            config.intermediate_size,
            config.initializer_range,
        );
        BertFfn {
            intermediate: init_linear(h, i, std, device),
            output: init_linear(i, h, std, device),
            norm: BertLayerNormConfig::new(h)
                .with_epsilon(config.layer_norm_eps)
                .init(device),
            activation: config.hidden_act,
        }
    }

    /// # Shapes
    /// - input: `[batch, seq, hidden]` (the attention sub-layer's output)
    /// - output: `[batch, seq, hidden]`
    pub fn forward<H: Hooks<B> + ?Sized>(
        &self,
        input: Tensor<B, 3>,
        layer: usize,
        hooks: &H,
    ) -> Tensor<B, 3> {
        let site = |point| Site::new(Stack::Encoder, layer, point);
        let inner = hooks.linear(
            site(Point::FfnIn),
            &input,
            linear3(&self.intermediate, input.clone()),
        );
        let inner = apply(self.activation, inner);
        let out = hooks.linear(
            site(Point::FfnOut),
            &inner,
            linear3(&self.output, inner.clone()),
        );
        let out = hooks.sublayer(site(Point::FfnSublayer), &input, out);
        self.norm.forward(out + input, site(Point::FfnNorm), hooks)
    }
}

/// transformers' `ACT2FN[hidden_act]`.
fn apply<B: Backend>(act: Activation, x: Tensor<B, 3>) -> Tensor<B, 3> {
    match act {
        Activation::Gelu => crate::kernels::gelu(x),
        Activation::GeluNew => activation::gelu_approximate(x),
        Activation::Relu => activation::relu(x),
    }
}
