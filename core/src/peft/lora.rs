//! LoRA (Hu et al. 2021), parallel to a frozen linear: `h = W x + s·B(A x)`.
//!
//! A starts Kaiming-uniform (PyTorch's `nn.Linear` default, as the reference's
//! `LoRA_a`), B starts at zero, so a fresh module adds nothing. In the
//! supernet a module is held at its largest candidate rank and rank `r` uses the
//! first `r` rank units; a discrete model holds exactly its rank.
//!
//! burn applies a linear as `x · W` with `W: [d_in, d_out]`; here `a` is
//! `[d_in, rank]` and `b` is `[rank, d_out]`, the transposes of peft's
//! `lora_A.weight` (`[r, in]`) and `lora_B.weight` (`[out, r]`): "the first r
//! rows of A" is the first `r` columns of `a`.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor};

// `Result` stays qualified: burn's `Config` derive expands to code naming the plain `Result`.
use crate::error::Error;

use super::ops::{first_cols, first_rows, linear_default_bound, mul_row, uniform, zeros};
use crate::flat::matmul3;

/// Shape of a LoRA module.
#[derive(Config, Debug)]
pub struct LoraConfig {
    pub d_in: usize,
    pub d_out: usize,
    /// The rank it is held at (the largest candidate in a supernet).
    pub rank: usize,
}

impl LoraConfig {
    /// A: Kaiming-uniform (`±1/√d_in`); B: zero.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Lora<B> {
        Lora {
            a: uniform(
                [self.d_in, self.rank],
                linear_default_bound(self.d_in),
                device,
            ),
            b: zeros([self.rank, self.d_out], device),
        }
    }
}

/// The trainable factors of one LoRA module.
#[derive(Module, Debug)]
pub struct Lora<B: Backend> {
    /// `[d_in, rank]`.
    pub a: Param<Tensor<B, 2>>,
    /// `[rank, d_out]`.
    pub b: Param<Tensor<B, 2>>,
}

impl<B: Backend> Lora<B> {
    pub fn rank(&self) -> usize {
        self.a.dims()[1]
    }

    /// The delta at the module's full rank, times `scale` (`lora_alpha / r`).
    ///
    /// # Shapes
    /// - x: `[batch, seq, d_in]` → `[batch, seq, d_out]`
    pub fn forward(&self, x: Tensor<B, 3>, scale: f64) -> Tensor<B, 3> {
        matmul3(matmul3(x, self.a.val()).mul_scalar(scale), self.b.val())
    }

    /// The delta of a rank mixture: `((x A) ⊙ a ⊙ b) B`, with the per-unit
    /// weights of [`RankMixer::units`](super::RankMixer::units) (`a` carries
    /// the architecture gradient and the scales, `b` is detached).
    ///
    /// # Shapes
    /// - x: `[batch, seq, d_in]`, unit_a, unit_b: `[rank]` → `[batch, seq, d_out]`
    pub fn forward_mixed(
        &self,
        x: Tensor<B, 3>,
        unit_a: Tensor<B, 1>,
        unit_b: Tensor<B, 1>,
    ) -> Tensor<B, 3> {
        let hidden = matmul3(x, self.a.val());
        matmul3(mul_row(hidden, unit_a * unit_b), self.b.val())
    }

    /// A copy holding only the first `rank` units (the reference's `finalized_arch`).
    pub fn truncate(&self, rank: usize) -> crate::Result<Self> {
        if rank == 0 || rank > self.rank() {
            return Err(Error::InvalidInput(format!(
                "cannot cut a rank-{} LoRA module to rank {rank}",
                self.rank()
            )));
        }
        Ok(Lora {
            a: first_cols(&self.a, rank),
            b: first_rows(&self.b, rank),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peft::RankMixer;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{TensorData, Tolerance};

    type B = Flex<f32>;
    type AB = Autodiff<Flex<f32>>;

    /// A = [[1, 0, 2], [0, 1, -1]] (d_in 2, rank 3), B = [[1, 1], [2, 0], [0, 3]] (d_out 2).
    fn hand_made<Bk: Backend>() -> Lora<Bk> {
        let dev = Default::default();
        Lora {
            a: Param::from_tensor(Tensor::from_floats(
                [[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]],
                &dev,
            )),
            b: Param::from_tensor(Tensor::from_floats(
                [[1.0, 1.0], [2.0, 0.0], [0.0, 3.0]],
                &dev,
            )),
        }
    }

    fn x<Bk: Backend>() -> Tensor<Bk, 3> {
        Tensor::from_floats([[[1.0, 2.0]]], &Default::default())
    }

    #[test]
    fn fresh_module_adds_exactly_zero() {
        let lora = LoraConfig::new(6, 5, 8).init::<B>(&Default::default());
        let x = Tensor::<B, 3>::random(
            [2, 3, 6],
            burn::tensor::Distribution::Default,
            &Default::default(),
        );
        let delta = lora.forward(x.clone(), 1.0);
        delta
            .into_data()
            .assert_eq(&TensorData::zeros::<f32, _>([2, 3, 5]), true);
        let (a, b) = RankMixer::new(&[(vec![1, 4, 8], vec![1.0; 3])]).units(
            Tensor::<B, 2>::from_floats([[0.2, 0.3, 0.5]], &Default::default()),
        );
        let mixed = lora.forward_mixed(x, a.reshape([8]), b.reshape([8]));
        mixed
            .into_data()
            .assert_eq(&TensorData::zeros::<f32, _>([2, 3, 5]), true);
    }

    #[test]
    fn rank_r_uses_the_first_r_units() {
        let lora = hand_made::<B>();
        // x A = [1, 2, 0]; rank 1: [1]·B[0] = [1, 1]; rank 2: 1·[1,1] + 2·[2,0] = [5, 1];
        // rank 3: [5, 1] + 0·[0, 3].
        let cases = [(1, [1.0f32, 1.0]), (2, [5.0, 1.0]), (3, [5.0, 1.0])];
        for (rank, expected) in cases {
            let cut = lora.truncate(rank).unwrap();
            cut.forward(x(), 2.0).into_data().assert_eq(
                &TensorData::from([[[2.0 * expected[0], 2.0 * expected[1]]]]),
                true,
            );
            // The same through the mixture with a one-hot weight on that rank.
            let mixer = RankMixer::new(&[(vec![1, 2, 3], vec![2.0; 3])]);
            let mut w = [0.0f32; 3];
            w[rank - 1] = 1.0;
            let (a, b) = mixer.units(Tensor::<B, 2>::from_floats([w], &Default::default()));
            lora.forward_mixed(x(), a.reshape([3]), b.reshape([3]))
                .into_data()
                .assert_eq(
                    &TensorData::from([[[2.0 * expected[0], 2.0 * expected[1]]]]),
                    true,
                );
        }
        assert!(lora.truncate(4).is_err());
    }

    #[test]
    fn architecture_gradient_flows_through_a_only() {
        // Candidates {1, 3}, weights w = [0.25, 0.75] (a leaf that needs grad).
        // Units: a = b = [1, 0.75, 0.75]; delta = Σⱼ (xA)ⱼ·aⱼ·bⱼ·B[j].
        // d sum(delta)/dw₀ through a only = Σⱼ [j<1]·(xA)ⱼ·bⱼ·sum(B[j]) = 1·1·2 = 2,
        // d/dw₁ = Σⱼ<3 (xA)ⱼ·bⱼ·sum(B[j]) = 2 + 2·0.75·2 + 0 = 5.
        // Were b not detached, each would double (4 and 10 + cross terms).
        let lora = hand_made::<AB>();
        let w = Tensor::<AB, 2>::from_floats([[0.25, 0.75]], &Default::default()).require_grad();
        let (a, b) = RankMixer::new(&[(vec![1, 3], vec![1.0, 1.0])]).units(w.clone());
        let delta = lora.forward_mixed(x(), a.reshape([3]), b.reshape([3]));
        let grads = delta.sum().backward();
        let gw = w.grad(&grads).unwrap();
        gw.into_data().assert_approx_eq::<f32>(
            &TensorData::from([[2.0f32, 5.0]]),
            Tolerance::absolute(1e-5),
        );
        // The factors themselves still learn through both paths.
        assert!(lora.b.grad(&grads).is_some() && lora.a.grad(&grads).is_some());
    }
}
