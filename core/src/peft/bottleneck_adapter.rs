//! The bottleneck adapter of S2 (AutoPEFT), used two ways at the FFN:
//! serial, `h + adapter(h)` on the FFN's output, and parallel,
//! `h + adapter(x)` on the FFN's input (He et al. 2022). Both are
//! `gelu_new(x D + d) U + u`; the bottleneck width `w` is searched, and width
//! `w` uses the first `w` columns of `D`, entries of `d`, and rows of `U`.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor};

// `Result` stays qualified: burn's `Config` derive expands to code naming the plain `Result`.
use crate::error::Error;

use super::ops::{add_row, first_cols, first_rows, gelu_new, mul_row, normal, zeros};
use super::options::BottleneckInit;
use crate::flat::matmul3;

/// Shape and initialisation of a bottleneck adapter.
#[derive(Config, Debug)]
pub struct BottleneckAdapterConfig {
    pub d_model: usize,
    /// Bottleneck width (the largest candidate in a supernet).
    pub width: usize,
    #[config(default = "BottleneckInit::ZeroUp")]
    pub init: BottleneckInit,
}

impl BottleneckAdapterConfig {
    /// Weights N(0, 0.01) as in the reference (`up` zero under
    /// [`BottleneckInit::ZeroUp`]); biases zero.
    pub fn init<B: Backend>(&self, device: &B::Device) -> BottleneckAdapter<B> {
        let (d, w) = (self.d_model, self.width);
        let up = match self.init {
            BottleneckInit::ZeroUp => zeros([w, d], device),
            BottleneckInit::Normal => normal([w, d], 0.01, device),
        };
        BottleneckAdapter {
            down: normal([d, w], 0.01, device),
            down_bias: zeros([w], device),
            up,
            up_bias: zeros([d], device),
        }
    }
}

/// The adapter's projections.
#[derive(Module, Debug)]
pub struct BottleneckAdapter<B: Backend> {
    /// `[d_model, width]`.
    pub down: Param<Tensor<B, 2>>,
    /// `[width]`.
    pub down_bias: Param<Tensor<B, 1>>,
    /// `[width, d_model]`.
    pub up: Param<Tensor<B, 2>>,
    /// `[d_model]`.
    pub up_bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> BottleneckAdapter<B> {
    pub fn width(&self) -> usize {
        self.down.dims()[1]
    }

    /// What the adapter adds (the caller adds it to the FFN's output).
    ///
    /// # Shapes
    /// - x: `[batch, seq, d_model]` → `[batch, seq, d_model]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let z = add_row(matmul3(x, self.down.val()), self.down_bias.val());
        add_row(matmul3(gelu_new(z), self.up.val()), self.up_bias.val())
    }

    /// A width mixture. As in the reference, the down projection and its bias
    /// take the sample (`unit_a`, with gradient) and the up projection the
    /// detached sample (`unit_b`). The reference adds the up bias whatever the
    /// sample; here it is weighted by the "on" sample, so that "off" adds nothing.
    ///
    /// # Shapes
    /// - unit_a, unit_b: `[width]`, on: `[1]`
    pub fn forward_mixed(
        &self,
        x: Tensor<B, 3>,
        unit_a: Tensor<B, 1>,
        unit_b: Tensor<B, 1>,
        on: Tensor<B, 1>,
    ) -> Tensor<B, 3> {
        let z = mul_row(
            add_row(matmul3(x, self.down.val()), self.down_bias.val()),
            unit_a,
        );
        let hidden = mul_row(gelu_new(z), unit_b);
        add_row(matmul3(hidden, self.up.val()), self.up_bias.val() * on)
    }

    /// A copy holding only the first `width` units.
    pub fn truncate(&self, width: usize) -> crate::Result<Self> {
        if width == 0 || width > self.width() {
            return Err(Error::InvalidInput(format!(
                "cannot cut a width-{} adapter to width {width}",
                self.width()
            )));
        }
        Ok(BottleneckAdapter {
            down: first_cols(&self.down, width),
            down_bias: Param::from_tensor(self.down_bias.val().narrow(0, 0, width)),
            up: first_rows(&self.up, width),
            up_bias: Param::from_tensor(self.up_bias.val()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peft::RankMixer;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Distribution, TensorData, Tolerance};

    type B = Flex<f32>;
    type AB = Autodiff<Flex<f32>>;

    /// d_model 2, width 2.
    fn hand_made<Bk: Backend>() -> BottleneckAdapter<Bk> {
        let dev = Default::default();
        BottleneckAdapter {
            down: Param::from_tensor(Tensor::from_floats([[1.0, 0.0], [1.0, 2.0]], &dev)),
            down_bias: Param::from_tensor(Tensor::from_floats([0.0, -1.0], &dev)),
            up: Param::from_tensor(Tensor::from_floats([[1.0, 2.0], [0.0, 1.0]], &dev)),
            up_bias: Param::from_tensor(Tensor::from_floats([0.5, 0.0], &dev)),
        }
    }

    fn g(x: f64) -> f32 {
        (0.5 * x
            * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh()))
            as f32
    }

    #[test]
    fn fresh_adapter_adds_zero_unless_reference_init() {
        let dev = Default::default();
        let x = Tensor::<B, 3>::random([2, 3, 16], Distribution::Default, &dev);
        let zero_up = BottleneckAdapterConfig::new(16, 8).init::<B>(&dev);
        zero_up
            .forward(x.clone())
            .into_data()
            .assert_eq(&TensorData::zeros::<f32, _>([2, 3, 16]), true);
        let reference = BottleneckAdapterConfig::new(16, 8)
            .with_init(BottleneckInit::Normal)
            .init::<B>(&dev);
        let out = reference.forward(x).abs().max().into_scalar();
        assert!(out > 0.0 && out < 0.01, "reference init output {out}");
    }

    #[test]
    fn hand_computed_output_at_each_width() {
        let adapter = hand_made::<B>();
        let dev = Default::default();
        let x = Tensor::<B, 3>::from_floats([[[1.0, 1.0]]], &dev);
        // z = [1+1, 0+2] + [0, -1] = [2, 1]. Width 2: g(2)·[1, 2] + g(1)·[0, 1] + [0.5, 0].
        // Width 1: g(2)·[1, 2] + [0.5, 0].
        let cases = [
            (2, [g(2.0) + 0.5, 2.0 * g(2.0) + g(1.0)]),
            (1, [g(2.0) + 0.5, 2.0 * g(2.0)]),
        ];
        for (width, expected) in cases {
            adapter
                .truncate(width)
                .unwrap()
                .forward(x.clone())
                .into_data()
                .assert_approx_eq::<f32>(
                    &TensorData::from([[expected]]),
                    Tolerance::absolute(1e-5),
                );
            let mut w = [0.0f32; 2];
            w[width - 1] = 1.0;
            let (a, b) = RankMixer::new(&[(vec![1, 2], vec![1.0, 1.0])])
                .units(Tensor::<B, 2>::from_floats([w], &dev));
            let on = Tensor::<B, 1>::from_floats([1.0], &dev);
            adapter
                .forward_mixed(x.clone(), a.reshape([2]), b.reshape([2]), on)
                .into_data()
                .assert_approx_eq::<f32>(
                    &TensorData::from([[expected]]),
                    Tolerance::absolute(1e-5),
                );
        }
    }

    #[test]
    fn gradient_reaches_the_sample_through_the_down_path() {
        let adapter = hand_made::<AB>();
        let dev = Default::default();
        let x = Tensor::<AB, 3>::from_floats([[[1.0, 1.0]]], &dev);
        let w = Tensor::<AB, 2>::from_floats([[0.0, 1.0]], &dev).require_grad();
        let (a, b) = RankMixer::new(&[(vec![1, 2], vec![1.0, 1.0])]).units(w.clone());
        let on = Tensor::<AB, 1>::from_floats([1.0], &dev);
        let grads = adapter
            .forward_mixed(x, a.reshape([2]), b.reshape([2]), on)
            .sum()
            .backward();
        // Through the down path only (b is detached), at a = b = [1, 1]:
        // d/dw₀ = g'(2)·2·sum(U[0]) = 6·g'(2); d/dw₁ = 6·g'(2) + g'(1)·1·sum(U[1]).
        let dg = |x: f64| {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            let t = (c * (x + 0.044715 * x.powi(3))).tanh();
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x)
        };
        let expected = [(6.0 * dg(2.0)) as f32, (6.0 * dg(2.0) + dg(1.0)) as f32];
        w.grad(&grads)
            .unwrap()
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from([expected]), Tolerance::absolute(1e-4));
    }
}
