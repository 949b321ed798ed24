//! Drawing architecture samples from logits (docs/algorithm.md §3): the
//! straight-through hard Gumbel-softmax of Jang et al. (2017) as in
//! `torch.nn.functional.gumbel_softmax(hard=True)`, its temperature schedule,
//! and a one-hot argmax that never reads a tensor on the host (a host read
//! panics on WebGPU, and `Tensor::one_hot` does one).

use burn::tensor::{activation::softmax, backend::Backend, Distribution, Int, Tensor};

/// Gumbel temperature at a 0-based `epoch` of `epochs`: linear from `start`
/// towards `end`, updated once per epoch. With 5 → 1 this is the reference's
/// `τ = 5 − 4·epoch/E` (so the last epoch runs at `1 + 4/E`, not exactly 1).
pub fn temperature(epoch: usize, epochs: usize, start: f64, end: f64) -> f64 {
    start - (start - end) * epoch as f64 / epochs.max(1) as f64
}

/// One-hot rows marking each row's largest entry (the first one on ties).
/// Not differentiable: use it for fixed choices.
///
/// # Shapes
/// - x: `[rows, k]` → `[rows, k]`
pub fn one_hot_argmax<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let [rows, k] = x.dims();
    let device = x.device();
    let index = x.argmax(1).expand([rows, k]);
    let classes = Tensor::<B, 1, Int>::arange(0..k as i64, &device)
        .reshape([1, k])
        .expand([rows, k]);
    classes.equal(index).float()
}

/// Straight-through hard Gumbel-softmax over each row: the forward value is a
/// one-hot row, the gradient that of `softmax((logits + g) / τ)`.
///
/// # Shapes
/// - logits: `[rows, k]` → `[rows, k]`
pub fn hard_gumbel_softmax<B: Backend>(logits: Tensor<B, 2>, tau: f64) -> Tensor<B, 2> {
    // Uniform on (1e-10, 1): the lower bound keeps -log(-log u) finite.
    let uniform = Tensor::<B, 2>::random(
        logits.shape(),
        Distribution::Uniform(1e-10, 1.0),
        &logits.device(),
    );
    let gumbel = uniform.log().neg().log().neg();
    hard_gumbel_softmax_with_noise(logits, gumbel, tau)
}

/// [`hard_gumbel_softmax`] with given Gumbel noise, so it can be checked
/// against PyTorch on the same draw.
///
/// # Shapes
/// - logits, gumbel: `[rows, k]` → `[rows, k]`
pub fn hard_gumbel_softmax_with_noise<B: Backend>(
    logits: Tensor<B, 2>,
    gumbel: Tensor<B, 2>,
    tau: f64,
) -> Tensor<B, 2> {
    let soft = softmax(logits.add(gumbel).div_scalar(tau), 1);
    let hard = one_hot_argmax(soft.clone().detach());
    // Same arithmetic as PyTorch: hard - soft.detach() + soft.
    hard.sub(soft.clone().detach()).add(soft)
}

/// The relaxed sample of the `no_gumbel` ablation: plain `softmax(logits)`.
///
/// # Shapes
/// - logits: `[rows, k]` → `[rows, k]`
pub fn relaxed<B: Backend>(logits: Tensor<B, 2>) -> Tensor<B, 2> {
    softmax(logits, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::TensorData;

    type B = Flex<f32>;
    type AB = Autodiff<B>;

    fn rows(t: Tensor<impl Backend, 2>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().unwrap()
    }

    #[test]
    fn temperature_falls_linearly_from_five() {
        assert_eq!(temperature(0, 15, 5.0, 1.0), 5.0);
        assert!((temperature(5, 20, 5.0, 1.0) - 4.0).abs() < 1e-12);
        assert!((temperature(19, 20, 5.0, 1.0) - 1.2).abs() < 1e-12);
        assert_eq!(temperature(20, 20, 5.0, 1.0), 1.0);
    }

    #[test]
    fn one_hot_marks_the_first_maximum() {
        let device = Default::default();
        let x = Tensor::<B, 2>::from_data(
            TensorData::new(vec![0.1f32, 0.7, 0.2, 3.0, -1.0, 3.0], [2, 3]),
            &device,
        );
        assert_eq!(rows(one_hot_argmax(x)), vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn straight_through_value_and_gradient() {
        // logits [0, ln 3], no noise, τ = 1: soft = [1/4, 3/4], hard = [0, 1].
        let device = Default::default();
        let logits =
            Tensor::<AB, 2>::from_data(TensorData::new(vec![0.0f32, 3f32.ln()], [1, 2]), &device)
                .require_grad();
        let noise = Tensor::<AB, 2>::zeros([1, 2], &device);
        let y = hard_gumbel_softmax_with_noise(logits.clone(), noise, 1.0);
        let values = rows(y.clone());
        assert!((values[0] - 0.0).abs() < 1e-6 && (values[1] - 1.0).abs() < 1e-6);
        // d/dlogits of y · [1, 0]: soft0 · ([1, 0] - soft) = [3/16, -3/16].
        let weight =
            Tensor::<AB, 2>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &device);
        let grads = y.mul(weight).sum().backward();
        let grad = rows(logits.grad(&grads).unwrap());
        assert!((grad[0] - 3.0 / 16.0).abs() < 1e-6, "{grad:?}");
        assert!((grad[1] + 3.0 / 16.0).abs() < 1e-6, "{grad:?}");
    }

    #[test]
    fn temperature_sharpens_the_relaxation() {
        // The relaxation is softmax(logits / τ), so its gradient carries 1/τ.
        let device = Default::default();
        let logits = Tensor::<AB, 2>::from_data(
            TensorData::new(vec![0.0f32, 2.0 * 3f32.ln()], [1, 2]),
            &device,
        )
        .require_grad();
        let noise = Tensor::<AB, 2>::zeros([1, 2], &device);
        let y = hard_gumbel_softmax_with_noise(logits.clone(), noise, 2.0);
        let weight =
            Tensor::<AB, 2>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &device);
        let grads = y.mul(weight).sum().backward();
        let grad = rows(logits.grad(&grads).unwrap());
        // soft = softmax([0, ln 3]) = [1/4, 3/4]; gradient (3/16) / τ.
        assert!((grad[0] - 3.0 / 32.0).abs() < 1e-6, "{grad:?}");
    }

    #[test]
    fn random_samples_are_one_hot_and_follow_the_logits() {
        let device = Default::default();
        // Row 0 strongly prefers index 2, row 1 index 0.
        let logits = Tensor::<B, 2>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 8.0, 8.0, 0.0, 0.0], [2, 3]),
            &device,
        );
        let mut hits = [0usize; 2];
        for _ in 0..50 {
            let y = rows(hard_gumbel_softmax(logits.clone(), 1.0));
            for row in 0..2 {
                let r = &y[row * 3..row * 3 + 3];
                assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                assert!(r.iter().all(|v| v.abs() < 1e-5 || (v - 1.0).abs() < 1e-5));
            }
            hits[0] += (y[2] > 0.5) as usize;
            hits[1] += (y[3] > 0.5) as usize;
        }
        // P(argmax = preferred) = e^8 / (e^8 + 2) > 0.999 per draw.
        assert!(hits[0] >= 48 && hits[1] >= 48, "{hits:?}");
    }
}
