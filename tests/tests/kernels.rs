//! The fused kernels against burn's own operations on the Flex backend:
//! GELU (`bipeft_core::kernels::gelu` vs `activation::gelu`, libm's `erff`)
//! attention's masked softmax (`masked_softmax` vs add + `softmax`), and the
//! split into heads and the merge back (`split_heads`, `merge_heads` vs
//! reshape + `swap_dims`), the products (`matmul`, `linear` vs burn's), and
//! LayerNorm's halves (`normalize`, `scale_shift` vs burn's composition):
//! values, gradients under autodiff, strided inputs, NaN propagation.

use bipeft_core::kernels::{
    gelu, linear, masked_softmax, matmul, merge_heads, normalize, scale_shift, split_heads,
};
use burn::backend::{Autodiff, Flex};
use burn::tensor::{activation, Distribution, ElementConversion, Tensor, TensorData, Tolerance};

type B = Flex;
type AD = Autodiff<Flex>;

fn max_abs_diff<const D: usize, Bk: burn::tensor::backend::Backend>(
    a: Tensor<Bk, D>,
    b: Tensor<Bk, D>,
) -> f32 {
    (a - b).abs().max().into_scalar().elem()
}

#[test]
fn fused_gelu_matches_burn_and_is_the_path_taken() {
    let device = Default::default();
    let x = Tensor::<B, 3>::random([4, 33, 257], Distribution::Normal(0.0, 3.0), &device);
    let fused = gelu(x.clone());
    let reference = activation::gelu(x);
    let diff = max_abs_diff(fused.clone(), reference.clone());
    assert!(diff < 2e-6, "max |fused − burn| = {diff}");
    // The kernel is an approximation of erf, not libm's: some bits differ, so
    // equality here would mean the fused path was not taken.
    let fused: Vec<f32> = fused.into_data().to_vec().unwrap();
    let reference: Vec<f32> = reference.into_data().to_vec().unwrap();
    assert!(fused
        .iter()
        .zip(&reference)
        .any(|(a, b)| a.to_bits() != b.to_bits()));
}

#[test]
fn fused_gelu_reads_strided_inputs() {
    let device = Default::default();
    let x = Tensor::<B, 3>::random([3, 5, 7], Distribution::Normal(0.0, 2.0), &device);
    let strided = x.clone().swap_dims(0, 2);
    let expected = gelu(x).swap_dims(0, 2);
    gelu(strided)
        .into_data()
        .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-7));
}

#[test]
fn fused_gelu_gradient_matches_burn() {
    let device = Default::default();
    let x = Tensor::<AD, 2>::random([64, 300], Distribution::Normal(0.0, 2.5), &device);
    let w = Tensor::<AD, 2>::random([64, 300], Distribution::Normal(0.0, 1.0), &device);

    let leaf = x.clone().require_grad();
    let grads = (gelu(leaf.clone()) * w.clone()).sum().backward();
    let fused = leaf.grad(&grads).unwrap();

    let leaf = x.require_grad();
    let grads = (activation::gelu(leaf.clone()) * w).sum().backward();
    let reference = leaf.grad(&grads).unwrap();

    let diff = max_abs_diff(fused, reference);
    assert!(diff < 2e-6, "max |∂fused − ∂burn| = {diff}");
}

#[test]
fn fused_gelu_keeps_nan() {
    let device = Default::default();
    let x = Tensor::<B, 1>::from_floats([f32::NAN, 1.0, -1.0], &device);
    let y: Vec<f32> = gelu(x).into_data().to_vec().unwrap();
    assert!(y[0].is_nan());
    assert!((y[1] - 0.841_344_7).abs() < 1e-6 && (y[2] + 0.158_655_3).abs() < 1e-6);
}

/// A `[batch, 1, 1, keys]` bias masking the last `masked[b]` keys of sequence `b`.
fn mask_bias<Bk: burn::tensor::backend::Backend>(keys: usize, masked: &[usize]) -> Tensor<Bk, 4> {
    let values: Vec<f32> = masked
        .iter()
        .flat_map(|&m| (0..keys).map(move |j| if j + m >= keys { -1e4 } else { 0.0 }))
        .collect();
    Tensor::from_data(
        TensorData::new(values, [masked.len(), 1, 1, keys]),
        &Default::default(),
    )
}

#[test]
fn masked_softmax_matches_add_then_softmax() {
    let device = Default::default();
    let scores = Tensor::<B, 4>::random([3, 4, 5, 7], Distribution::Normal(0.0, 4.0), &device);
    let bias = mask_bias::<B>(7, &[0, 2, 6]);
    let fused = masked_softmax(scores.clone(), bias.clone());
    let reference = activation::softmax(scores + bias, 3);
    let diff = max_abs_diff(fused, reference);
    assert!(diff < 1e-6, "max |fused − burn| = {diff}");
}

#[test]
fn masked_softmax_gradient_matches_burn() {
    let device = Default::default();
    let scores = Tensor::<AD, 4>::random([2, 3, 6, 6], Distribution::Normal(0.0, 2.0), &device);
    let w = Tensor::<AD, 4>::random([2, 3, 6, 6], Distribution::Normal(0.0, 1.0), &device);
    let bias = mask_bias::<AD>(6, &[1, 3]);

    let leaf = scores.clone().require_grad();
    let grads = (masked_softmax(leaf.clone(), bias.clone()) * w.clone())
        .sum()
        .backward();
    let fused = leaf.grad(&grads).unwrap();

    let leaf = scores.require_grad();
    let grads = (activation::softmax(leaf.clone() + bias, 3) * w)
        .sum()
        .backward();
    let reference = leaf.grad(&grads).unwrap();

    let diff = max_abs_diff(fused, reference);
    assert!(diff < 1e-6, "max |∂fused − ∂burn| = {diff}");
}

#[test]
fn masked_softmax_reads_strided_scores_and_broadcasts_only_its_shape() {
    let device = Default::default();
    let scores = Tensor::<B, 4>::random([2, 5, 3, 4], Distribution::Normal(0.0, 1.0), &device);
    let bias = mask_bias::<B>(4, &[1, 0]);
    // Strided: heads and queries swapped back into place by the view.
    let strided = scores.clone().swap_dims(1, 2).swap_dims(1, 2);
    let expected = activation::softmax(scores.clone() + bias.clone(), 3);
    masked_softmax(strided, bias)
        .into_data()
        .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-6));
    // A bias of another shape takes burn's path and still broadcasts.
    let per_query = Tensor::<B, 4>::random([2, 1, 3, 4], Distribution::Normal(0.0, 1.0), &device);
    let expected = activation::softmax(scores.clone() + per_query.clone(), 3);
    masked_softmax(scores, per_query)
        .into_data()
        .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-6));
}

#[test]
fn heads_split_and_merge_as_burns_reshape_and_swap() {
    let device = Default::default();
    let x = Tensor::<B, 3>::random([3, 5, 12], Distribution::Normal(0.0, 1.0), &device);
    let split = split_heads(x.clone(), 4);
    assert_eq!(split.dims(), [3, 4, 5, 3]);
    split.clone().into_data().assert_eq(
        &x.clone().reshape([3, 5, 4, 3]).swap_dims(1, 2).into_data(),
        true,
    );
    // Merged from the view, and from a contiguous copy: the input again.
    merge_heads(split.clone())
        .into_data()
        .assert_eq(&x.clone().into_data(), true);
    let contiguous = Tensor::<B, 4>::from_data(split.into_data(), &device);
    merge_heads(contiguous)
        .into_data()
        .assert_eq(&x.into_data(), true);
    // Runs that are not contiguous (d strided): swapped seq and d.
    let odd = Tensor::<B, 4>::random([2, 3, 4, 5], Distribution::Normal(0.0, 1.0), &device);
    let strided = odd.clone().swap_dims(2, 3);
    let expected = strided.clone().swap_dims(1, 2).reshape([2, 5, 12]);
    merge_heads(strided)
        .into_data()
        .assert_eq(&expected.into_data(), true);
}

#[test]
fn heads_gradients_match_burn() {
    let device = Default::default();
    let x = Tensor::<AD, 3>::random([2, 6, 8], Distribution::Normal(0.0, 1.0), &device);
    let w = Tensor::<AD, 4>::random([2, 2, 6, 4], Distribution::Normal(0.0, 1.0), &device);
    let v = Tensor::<AD, 3>::random([2, 6, 8], Distribution::Normal(0.0, 1.0), &device);
    // A product through the split, and one through a merge of the split
    // heads scaled by w (so that the gradient of each element differs).
    let loss = |x: Tensor<AD, 3>, ours: bool| {
        let split = if ours {
            split_heads(x, 2)
        } else {
            x.reshape([2, 6, 2, 4]).swap_dims(1, 2)
        };
        let scaled = split.clone() * w.clone();
        let merged = if ours {
            merge_heads(scaled)
        } else {
            scaled.swap_dims(1, 2).reshape([2, 6, 8])
        };
        (split * w.clone()).sum() + (merged * v.clone()).sum()
    };
    let leaf = x.clone().require_grad();
    let fused = leaf.grad(&loss(leaf.clone(), true).backward()).unwrap();
    let leaf = x.require_grad();
    let reference = leaf.grad(&loss(leaf.clone(), false).backward()).unwrap();
    let diff = max_abs_diff(fused, reference);
    assert!(diff < 1e-6, "max |∂fused − ∂burn| = {diff}");
}

fn normal<Bk: burn::tensor::backend::Backend, const D: usize>(shape: [usize; D]) -> Tensor<Bk, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
}

#[test]
fn matmul_matches_burn_on_plain_strided_and_batched_operands() {
    let a = normal::<B, 2>([37, 19]);
    let b = normal::<B, 2>([19, 23]);
    let close = |x: Tensor<B, 2>, y: Tensor<B, 2>| {
        x.into_data()
            .assert_approx_eq::<f32>(&y.into_data(), Tolerance::absolute(1e-5))
    };
    close(matmul(a.clone(), b.clone()), a.clone().matmul(b.clone()));
    // Transposed views on both sides.
    let at = normal::<B, 2>([19, 37]).transpose();
    let bt = normal::<B, 2>([23, 19]).transpose();
    close(matmul(at.clone(), bt.clone()), at.matmul(bt));
    // Large enough to run on every core.
    let big_a = normal::<B, 2>([300, 200]);
    let big_b = normal::<B, 2>([200, 250]);
    big_a
        .clone()
        .matmul(big_b.clone())
        .into_data()
        .assert_approx_eq::<f32>(&matmul(big_a, big_b).into_data(), Tolerance::absolute(1e-4));
    // Batched, as attention calls it: q · kᵀ with k a swapped view.
    let q = normal::<B, 4>([2, 3, 5, 4]);
    let k = normal::<B, 4>([2, 3, 5, 4]).swap_dims(2, 3);
    matmul(q.clone(), k.clone())
        .into_data()
        .assert_approx_eq::<f32>(&q.matmul(k).into_data(), Tolerance::absolute(1e-5));
    // Tall and thin (LoRA's factors), split into blocks of rows: plain and
    // with a transposed left side, whose rows are not contiguous.
    let tall = normal::<B, 2>([1500, 64]);
    let thin = normal::<B, 2>([64, 8]);
    close(
        matmul(tall.clone(), thin.clone()),
        tall.matmul(thin.clone()),
    );
    let tall_t = normal::<B, 2>([64, 1500]).transpose();
    close(matmul(tall_t.clone(), thin.clone()), tall_t.matmul(thin));
    // An empty inner axis gives zeros.
    let empty = matmul(normal::<B, 2>([3, 0]), normal::<B, 2>([0, 2]));
    empty
        .into_data()
        .assert_eq(&TensorData::from([[0f32; 2]; 3]), true);
    // A broadcast batch takes burn's path, with burn's answer.
    let w = normal::<B, 3>([1, 4, 2]);
    let x = normal::<B, 3>([3, 5, 4]);
    matmul(x.clone(), w.clone())
        .into_data()
        .assert_approx_eq::<f32>(&x.matmul(w).into_data(), Tolerance::absolute(1e-5));
}

#[test]
fn matmul_gradients_match_burn() {
    for batched in [false, true] {
        let (a, b, w) = if batched {
            (
                normal::<AD, 4>([2, 3, 6, 5]),
                normal::<AD, 4>([2, 3, 5, 4]),
                normal::<AD, 4>([2, 3, 6, 4]),
            )
        } else {
            (
                normal::<AD, 4>([1, 1, 6, 5]),
                normal::<AD, 4>([1, 1, 5, 4]),
                normal::<AD, 4>([1, 1, 6, 4]),
            )
        };
        let run = |fused: bool| {
            let (a, b) = (a.clone().require_grad(), b.clone().require_grad());
            let c = if fused {
                matmul(a.clone(), b.clone())
            } else {
                a.clone().matmul(b.clone())
            };
            let grads = (c * w.clone()).sum().backward();
            (a.grad(&grads).unwrap(), b.grad(&grads).unwrap())
        };
        let ((da, db), (ra, rb)) = (run(true), run(false));
        assert!(max_abs_diff(da, ra) < 1e-5);
        assert!(max_abs_diff(db, rb) < 1e-5);
    }
}

#[test]
fn linear_matches_burn_with_and_without_bias_and_its_gradients() {
    let x = normal::<AD, 2>([33, 7]);
    let weight = normal::<AD, 2>([7, 5]);
    let bias = normal::<AD, 1>([5]);
    let out_w = normal::<AD, 2>([33, 5]);
    for with_bias in [true, false] {
        let run = |fused: bool| {
            let (x, weight) = (x.clone().require_grad(), weight.clone().require_grad());
            let bias = with_bias.then(|| bias.clone().require_grad());
            let y = if fused {
                linear(x.clone(), weight.clone(), bias.clone())
            } else {
                burn::tensor::module::linear(x.clone(), weight.clone(), bias.clone())
            };
            let grads = (y.clone() * out_w.clone()).sum().backward();
            (
                y.inner(),
                x.grad(&grads).unwrap(),
                weight.grad(&grads).unwrap(),
                bias.map(|b| b.grad(&grads).unwrap()),
            )
        };
        let (y, dx, dw, db) = run(true);
        let (ry, rdx, rdw, rdb) = run(false);
        assert!(max_abs_diff(y, ry) < 1e-5);
        assert!(max_abs_diff(dx, rdx) < 1e-5);
        assert!(max_abs_diff(dw, rdw) < 1e-5);
        if let (Some(db), Some(rdb)) = (db, rdb) {
            assert!(max_abs_diff(db, rdb) < 1e-5);
        }
    }
    // Tall and thin with a bias: the bias lands on every block of rows.
    let tall = normal::<B, 2>([1500, 64]);
    let thin = normal::<B, 2>([64, 8]);
    let row = normal::<B, 1>([8]);
    let fused = linear(tall.clone(), thin.clone(), Some(row.clone()));
    assert!(max_abs_diff(fused, burn::tensor::module::linear(tall, thin, Some(row))) < 1e-4);
    // Frozen weight and bias (as in the backbone): only x gets a gradient.
    let leaf = x.clone().require_grad();
    let grads = (linear(leaf.clone(), weight.clone(), Some(bias.clone())) * out_w.clone())
        .sum()
        .backward();
    let reference = out_w.inner().matmul(weight.clone().inner().transpose());
    assert!(max_abs_diff(leaf.grad(&grads).unwrap(), reference) < 1e-5);
    assert!(weight.grad(&grads).is_none());
    // Inference (no autodiff): the same values.
    let plain = linear(
        x.clone().inner(),
        weight.clone().inner(),
        Some(bias.clone().inner()),
    );
    let expected = burn::tensor::module::linear(x.inner(), weight.inner(), Some(bias.inner()));
    assert!(max_abs_diff(plain, expected) < 1e-5);
}

/// LayerNorm composed of burn's operations, as the backbone wrote it before
/// the fused kernels.
fn composed_layer_norm<Bk: burn::tensor::backend::Backend>(
    x: Tensor<Bk, 3>,
    scale: Tensor<Bk, 1>,
    shift: Tensor<Bk, 1>,
    epsilon: f64,
) -> (Tensor<Bk, 3>, Tensor<Bk, 3>) {
    let (var, mean) = x.clone().var_mean_bias(2);
    let normalized = (x - mean) / (var + epsilon).sqrt();
    let output = normalized.clone() * scale.unsqueeze::<3>() + shift.unsqueeze::<3>();
    (normalized, output)
}

#[test]
fn layer_norm_matches_burns_composition_on_plain_and_strided_inputs() {
    // Rows of 384 (MiniLM) and of 19 (a tail beyond the 8-lane sums), with
    // an offset and a spread unlike N(0, 1).
    for d in [384, 19] {
        let x = normal::<B, 3>([3, 7, d]).mul_scalar(4.0).add_scalar(2.5);
        let scale = normal::<B, 1>([d]);
        let shift = normal::<B, 1>([d]);
        let (n_ref, y_ref) = composed_layer_norm(x.clone(), scale.clone(), shift.clone(), 1e-12);
        let n = normalize(x.clone(), 1e-12);
        let y = scale_shift(n.clone(), scale.clone(), shift.clone());
        assert!(max_abs_diff(n, n_ref) < 2e-5);
        assert!(max_abs_diff(y, y_ref) < 2e-5);
    }
    // A strided view (rows not contiguous).
    let x = normal::<B, 3>([5, 6, 8]).swap_dims(1, 2);
    let (n_ref, _) = composed_layer_norm(x.clone(), normal::<B, 1>([6]), normal::<B, 1>([6]), 1e-5);
    assert!(max_abs_diff(normalize(x, 1e-5), n_ref) < 2e-5);
}

#[test]
fn layer_norm_gradients_match_burns_composition() {
    let d = 384;
    let x = normal::<AD, 3>([4, 9, d]).mul_scalar(3.0).add_scalar(-1.0);
    let weight = normal::<AD, 3>([4, 9, d]);
    let (scale, shift) = (normal::<AD, 1>([d]), normal::<AD, 1>([d]));

    // Frozen scale and shift (the backbone during PEFT): both fused kernels.
    // The loss reads the normalised value too, as LN-tuning does.
    let loss = |n: Tensor<AD, 3>, y: Tensor<AD, 3>| {
        (y * weight.clone()).sum() + n.powf_scalar(2.0).sum().mul_scalar(0.1)
    };
    let leaf = x.clone().require_grad();
    let n = normalize(leaf.clone(), 1e-12);
    let y = scale_shift(n.clone(), scale.clone(), shift.clone());
    let fused = leaf.grad(&loss(n, y).backward()).unwrap();
    let leaf = x.clone().require_grad();
    let (n, y) = composed_layer_norm(leaf.clone(), scale.clone(), shift.clone(), 1e-12);
    let reference = leaf.grad(&loss(n, y).backward()).unwrap();
    let diff = max_abs_diff(fused, reference);
    assert!(diff < 1e-4, "max |∂fused − ∂burn| = {diff}");

    // A trained scale and shift get their gradients (burn's operations).
    let (scale, shift) = (scale.require_grad(), shift.require_grad());
    let leaf = x.clone().require_grad();
    let n = normalize(leaf.clone(), 1e-12);
    let grads = loss(n.clone(), scale_shift(n, scale.clone(), shift.clone())).backward();
    let (ds, db) = (scale.grad(&grads).unwrap(), shift.grad(&grads).unwrap());
    let leaf = x.require_grad();
    let (n, y) = composed_layer_norm(leaf, scale.clone(), shift.clone(), 1e-12);
    let grads = loss(n, y).backward();
    assert!(max_abs_diff(ds, scale.grad(&grads).unwrap()) < 1e-3);
    assert!(max_abs_diff(db, shift.grad(&grads).unwrap()) < 1e-3);
}
