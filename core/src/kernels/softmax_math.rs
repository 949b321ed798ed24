//! Softmax over rows of `scores + bias` and its backward, on `f32` slices.
//!
//! Attention adds one bias row (0 for tokens, a large negative number for
//! padding) to every query row of a sequence, then normalises each row:
//! `yⱼ = e^(vⱼ − max v) / Σₖ e^(vₖ − max v)` with `v = s + m`. The backward of
//! a softmax is `∂sⱼ = yⱼ·(∂yⱼ − Σₖ ∂yₖ·yₖ)`. A NaN anywhere in a row makes
//! the whole row NaN, as the unfused operations do.

use super::fast_exp::exp_nonpositive;

/// Rows of `scores` (`row_len` values each, the first of them row number
/// `first_row`) plus their bias row, normalised into `out`. Every
/// `rows_per_bias` consecutive rows share one row of `bias`.
pub fn masked_softmax_rows(
    scores: &[f32],
    bias: &[f32],
    row_len: usize,
    rows_per_bias: usize,
    first_row: usize,
    out: &mut [f32],
) {
    assert_eq!(scores.len(), out.len(), "softmax: scores and output lengths differ");
    for (i, (row, out)) in scores
        .chunks_exact(row_len)
        .zip(out.chunks_exact_mut(row_len))
        .enumerate()
    {
        let b = (first_row + i) / rows_per_bias;
        let bias = &bias[b * row_len..(b + 1) * row_len];
        let mut max = f32::NEG_INFINITY;
        for ((o, &s), &m) in out.iter_mut().zip(row).zip(bias) {
            *o = s + m;
            max = if *o > max { *o } else { max };
        }
        let mut sum = 0f32;
        for o in out.iter_mut() {
            *o = exp_nonpositive(*o - max);
            sum += *o;
        }
        let inv = 1.0 / sum;
        for o in out.iter_mut() {
            *o *= inv;
        }
    }
}

/// `out = y ⊙ (dy − Σ dy⊙y)` per row of `row_len` values.
pub fn softmax_backward_rows(y: &[f32], dy: &[f32], row_len: usize, out: &mut [f32]) {
    assert_eq!(y.len(), dy.len(), "softmax backward: output and gradient lengths differ");
    assert_eq!(y.len(), out.len(), "softmax backward: output lengths differ");
    for ((y, dy), out) in y
        .chunks_exact(row_len)
        .zip(dy.chunks_exact(row_len))
        .zip(out.chunks_exact_mut(row_len))
    {
        let dot: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
        for ((o, &a), &g) in out.iter_mut().zip(y).zip(dy) {
            *o = a * (g - dot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_to_one_and_match_the_definition() {
        // Two sequences of 3 keys, two query rows each; the second sequence
        // masks its last key.
        let scores = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.5, -0.5, 9.0, 1.0, 1.0, 1.0];
        let bias = [0.0, 0.0, 0.0, 0.0, 0.0, -1e4];
        let mut y = [0f32; 12];
        masked_softmax_rows(&scores, &bias, 3, 2, 0, &mut y);
        // Hand-computed: softmax(1,2,3) = (0.0900306, 0.2447285, 0.6652410).
        let expected = [0.090_030_6, 0.244_728_5, 0.665_241, 1. / 3., 1. / 3., 1. / 3.];
        for (a, b) in y[..6].iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // softmax(0.5, −0.5) = (0.7310586, 0.2689414); the masked key gets 0.
        assert!((y[6] - 0.731_058_6).abs() < 1e-6 && (y[7] - 0.268_941_4).abs() < 1e-6);
        assert_eq!(y[8], 0.0);
        assert!((y[9] - 0.5).abs() < 1e-6 && y[11] == 0.0);
    }

    #[test]
    fn offset_rows_pick_their_own_bias() {
        let bias = [0.0, 0.0, 0.0, -1e4];
        let mut y = [0f32; 2];
        masked_softmax_rows(&[1.0, 1.0], &bias, 2, 2, 3, &mut y);
        assert_eq!(y, [1.0, 0.0]);
    }

    #[test]
    fn backward_matches_the_jacobian() {
        // y = softmax(1, 2, 3); J = diag(y) − y yᵀ; ∂s = Jᵀ ∂y.
        let mut y = [0f32; 3];
        masked_softmax_rows(&[1.0, 2.0, 3.0], &[0.0; 3], 3, 1, 0, &mut y);
        let dy = [0.3f32, -1.0, 2.0];
        let mut ds = [0f32; 3];
        softmax_backward_rows(&y, &dy, 3, &mut ds);
        for j in 0..3 {
            let by_jacobian: f32 = (0..3)
                .map(|k| (if j == k { y[j] } else { 0.0 } - y[j] * y[k]) * dy[k])
                .sum();
            assert!((ds[j] - by_jacobian).abs() < 1e-6);
        }
    }

    #[test]
    fn nan_spreads_over_its_row_only() {
        let mut y = [0f32; 4];
        masked_softmax_rows(&[f32::NAN, 1.0, 1.0, 1.0], &[0.0; 2], 2, 2, 0, &mut y);
        assert!(y[0].is_nan() && y[1].is_nan());
        assert_eq!(&y[2..], &[0.5, 0.5]);
    }
}
