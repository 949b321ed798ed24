//! The low-rank adapter of S1 (Compacter-style, as in S3Delta and the BIPEFT
//! reference): after a sub-layer, `h + up(gelu_new(down(h)))` with a
//! bottleneck of `d / 32`, where `down` and `up` are each a product of two
//! rank-`r` factors plus a bias. The rank `r` is searched.
//!
//! Initialisation follows the reference's "glorot-uniform" (`xavier_uniform_`,
//! gain √2): the left factor is Glorot (zero with the `zero_init` option); the
//! right factor is Glorot when the layer narrows (`down`) and zero when it widens
//! (`up`); biases are zero. So a fresh adapter adds exactly zero.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor};

// `Result` stays qualified: burn's `Config` derive expands to code naming the plain `Result`.
use crate::error::Error;

use super::ops::{
    add_row, first_cols, first_rows, gelu_new, glorot_bound, mul_row, uniform, zeros,
};
use crate::flat::matmul3;

/// Shape of one factorised linear.
#[derive(Config, Debug)]
pub struct LowRankLinearConfig {
    pub d_in: usize,
    pub d_out: usize,
    pub rank: usize,
    /// Start the left factor at zero.
    #[config(default = false)]
    pub zero_init: bool,
}

impl LowRankLinearConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> LowRankLinear<B> {
        let (d_in, d_out, r) = (self.d_in, self.d_out, self.rank);
        let left = if self.zero_init {
            zeros([d_in, r], device)
        } else {
            uniform([d_in, r], glorot_bound(r, d_in), device)
        };
        // The reference zeroes the right factor of a widening layer, so that the
        // adapter's output (the widening `up`) starts at exactly zero.
        let right = if d_in > d_out {
            uniform([r, d_out], glorot_bound(d_out, r), device)
        } else {
            zeros([r, d_out], device)
        };
        LowRankLinear {
            left,
            right,
            bias: zeros([d_out], device),
        }
    }
}

/// `x · (L R) + bias` with `L: [d_in, rank]`, `R: [rank, d_out]`.
#[derive(Module, Debug)]
pub struct LowRankLinear<B: Backend> {
    pub left: Param<Tensor<B, 2>>,
    pub right: Param<Tensor<B, 2>>,
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> LowRankLinear<B> {
    pub fn rank(&self) -> usize {
        self.left.dims()[1]
    }

    /// # Shapes
    /// - x: `[batch, seq, d_in]` → `[batch, seq, d_out]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        add_row(
            matmul3(matmul3(x, self.left.val()), self.right.val()),
            self.bias.val(),
        )
    }

    /// A rank mixture: `((x L) ⊙ a ⊙ b) R + on·bias` (the reference scales the
    /// bias by the "on" sample).
    ///
    /// # Shapes
    /// - unit_a, unit_b: `[rank]`, on: `[1]`
    pub fn forward_mixed(
        &self,
        x: Tensor<B, 3>,
        unit_a: Tensor<B, 1>,
        unit_b: Tensor<B, 1>,
        on: Tensor<B, 1>,
    ) -> Tensor<B, 3> {
        let hidden = mul_row(matmul3(x, self.left.val()), unit_a * unit_b);
        add_row(matmul3(hidden, self.right.val()), self.bias.val() * on)
    }

    fn truncate(&self, rank: usize) -> Self {
        LowRankLinear {
            left: first_cols(&self.left, rank),
            right: first_rows(&self.right, rank),
            bias: Param::from_tensor(self.bias.val()),
        }
    }
}

/// Shape of a low-rank adapter.
#[derive(Config, Debug)]
pub struct LowRankAdapterConfig {
    /// Hidden width of the sub-layer it follows.
    pub d_model: usize,
    /// Bottleneck width (`d_model / 32` in the reference).
    pub bottleneck: usize,
    /// Inner rank of both factorised linears (the largest candidate in a supernet).
    pub rank: usize,
    #[config(default = false)]
    pub zero_init: bool,
}

impl LowRankAdapterConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> LowRankAdapter<B> {
        let linear = |d_in, d_out| {
            LowRankLinearConfig::new(d_in, d_out, self.rank)
                .with_zero_init(self.zero_init)
                .init(device)
        };
        LowRankAdapter {
            down: linear(self.d_model, self.bottleneck),
            up: linear(self.bottleneck, self.d_model),
        }
    }
}

/// The adapter's two factorised linears.
#[derive(Module, Debug)]
pub struct LowRankAdapter<B: Backend> {
    pub down: LowRankLinear<B>,
    pub up: LowRankLinear<B>,
}

impl<B: Backend> LowRankAdapter<B> {
    pub fn rank(&self) -> usize {
        self.down.rank()
    }

    /// What the adapter adds to `h` (the caller adds the residual).
    ///
    /// # Shapes
    /// - h: `[batch, seq, d_model]` → `[batch, seq, d_model]`
    pub fn forward(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        self.up.forward(gelu_new(self.down.forward(h)))
    }

    /// What a rank mixture adds; both linears share the sample.
    pub fn forward_mixed(
        &self,
        h: Tensor<B, 3>,
        unit_a: Tensor<B, 1>,
        unit_b: Tensor<B, 1>,
        on: Tensor<B, 1>,
    ) -> Tensor<B, 3> {
        let z = self
            .down
            .forward_mixed(h, unit_a.clone(), unit_b.clone(), on.clone());
        self.up.forward_mixed(gelu_new(z), unit_a, unit_b, on)
    }

    /// A copy holding only the first `rank` units of every factor.
    pub fn truncate(&self, rank: usize) -> crate::Result<Self> {
        if rank == 0 || rank > self.rank() {
            return Err(Error::InvalidInput(format!(
                "cannot cut a rank-{} adapter to rank {rank}",
                self.rank()
            )));
        }
        Ok(LowRankAdapter {
            down: self.down.truncate(rank),
            up: self.up.truncate(rank),
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

    fn p2<Bk: Backend, const N: usize, const M: usize>(v: [[f32; M]; N]) -> Param<Tensor<Bk, 2>> {
        Param::from_tensor(Tensor::from_floats(v, &Default::default()))
    }

    fn p1<Bk: Backend, const N: usize>(v: [f32; N]) -> Param<Tensor<Bk, 1>> {
        Param::from_tensor(Tensor::from_floats(v, &Default::default()))
    }

    /// d_model 2, bottleneck 1, rank 2.
    fn hand_made<Bk: Backend>() -> LowRankAdapter<Bk> {
        LowRankAdapter {
            down: LowRankLinear {
                left: p2([[1.0, 0.0], [0.0, 1.0]]),
                right: p2([[1.0], [-1.0]]),
                bias: p1([0.5]),
            },
            up: LowRankLinear {
                left: p2([[2.0, 1.0]]),
                right: p2([[1.0, 0.0], [0.0, 3.0]]),
                bias: p1([0.0, 1.0]),
            },
        }
    }

    #[test]
    fn fresh_adapter_adds_exactly_zero() {
        let dev = Default::default();
        for zero_init in [false, true] {
            let adapter = LowRankAdapterConfig::new(64, 2, 8)
                .with_zero_init(zero_init)
                .init::<B>(&dev);
            let h = Tensor::<B, 3>::random([2, 3, 64], Distribution::Default, &dev);
            adapter
                .forward(h)
                .into_data()
                .assert_eq(&TensorData::zeros::<f32, _>([2, 3, 64]), true);
        }
    }

    #[test]
    fn hand_computed_output_at_each_rank() {
        let adapter = hand_made::<B>();
        let h = Tensor::<B, 3>::from_floats([[[2.0, 1.0]]], &Default::default());
        let g = |x: f64| {
            0.5 * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
        };
        // Rank 2: down = [2, 1]·L·R + 0.5 = 2 - 1 + 0.5 = 1.5; up = g(1.5)·[2, 1]·R + [0, 1] = g·[2, 3] + [0, 1].
        // Rank 1: down = 2·1 + 0.5 = 2.5; up = g(2.5)·[2]·R[0] + [0, 1] = [2g, 1].
        let (g2, g1) = (g(1.5) as f32, g(2.5) as f32);
        let cases = [(2, [2.0 * g2, 3.0 * g2 + 1.0]), (1, [2.0 * g1, 1.0])];
        for (rank, expected) in cases {
            let out = adapter.truncate(rank).unwrap().forward(h.clone());
            out.into_data().assert_approx_eq::<f32>(
                &TensorData::from([[expected]]),
                Tolerance::absolute(1e-5),
            );
            let mut w = [0.0f32; 2];
            w[rank - 1] = 1.0;
            let (a, b) = RankMixer::new(&[(vec![1, 2], vec![1.0, 1.0])])
                .units(Tensor::<B, 2>::from_floats([w], &Default::default()));
            let on = Tensor::<B, 1>::from_floats([1.0], &Default::default());
            let mixed = adapter.forward_mixed(h.clone(), a.reshape([2]), b.reshape([2]), on);
            mixed.into_data().assert_approx_eq::<f32>(
                &TensorData::from([[expected]]),
                Tolerance::absolute(1e-5),
            );
        }
    }

    #[test]
    fn gradient_reaches_the_on_gate_and_rank_weights() {
        let adapter = hand_made::<AB>();
        let dev = Default::default();
        let h = Tensor::<AB, 3>::from_floats([[[2.0, 1.0]]], &dev);
        let w = Tensor::<AB, 2>::from_floats([[0.0, 1.0]], &dev).require_grad();
        let on = Tensor::<AB, 1>::from_floats([1.0], &dev).require_grad();
        let (a, b) = RankMixer::new(&[(vec![1, 2], vec![1.0, 1.0])])
            .units(w.clone() * on.clone().reshape([1, 1]));
        let out = adapter.forward_mixed(h, a.reshape([2]), b.reshape([2]), on.clone());
        let grads = out.sum().backward();
        let g_on = on
            .grad(&grads)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap()[0];
        let g_w = w.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
        assert!(g_on.abs() > 1e-3, "on gate gradient {g_on}");
        assert!(
            g_w.iter().all(|g| g.abs() > 1e-3),
            "rank weight gradients {g_w:?}"
        );
    }
}
