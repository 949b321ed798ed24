//! LayerNorm's normalisation and its backward, and a per-feature scale and
//! shift, on `f32` rows, written so the compiler can vectorise them.
//!
//! Per row of `d` values: `μ = Σx/d`, `σ² = Σ(x − μ)²/d` (biased, two passes,
//! as `torch.nn.LayerNorm`), `r = 1/√(σ² + ε)`, `n = (x − μ)·r`. The backward
//! of the normalisation is `∂x = r·(∂n − mean(∂n) − n·mean(∂n⊙n))`, with `n`
//! and `r` recomputed from the saved `x`. A NaN anywhere in a row makes the
//! whole row NaN, as the unfused operations do.

/// Lanes of the partial sums: eight independent accumulators let the
/// compiler keep them in one vector register (a plain `.sum()` of `f32`
/// must add in order and does not vectorise).
const LANES: usize = 8;

/// `Σ f(i)` over `0..len`, in [`LANES`] partial sums.
#[inline(always)]
fn lane_sum(len: usize, f: impl Fn(usize) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let whole = len - len % LANES;
    for start in (0..whole).step_by(LANES) {
        for (lane, a) in acc.iter_mut().enumerate() {
            *a += f(start + lane);
        }
    }
    let tail: f32 = (whole..len).map(&f).sum();
    acc.iter().sum::<f32>() + tail
}

/// The mean and `1/√(σ² + ε)` of one row.
#[inline(always)]
fn row_stats(row: &[f32], epsilon: f32) -> (f32, f32) {
    let d = row.len() as f32;
    let mean = lane_sum(row.len(), |i| row[i]) / d;
    let var = lane_sum(row.len(), |i| {
        let c = row[i] - mean;
        c * c
    }) / d;
    (mean, 1.0 / (var + epsilon).sqrt())
}

/// `out = (x − μ)/√(σ² + ε)` per row of `row_len` values.
pub fn normalize_rows(x: &[f32], row_len: usize, epsilon: f32, out: &mut [f32]) {
    assert_eq!(
        x.len(),
        out.len(),
        "layer norm: input and output lengths differ"
    );
    for (row, out) in x.chunks_exact(row_len).zip(out.chunks_exact_mut(row_len)) {
        let (mean, rstd) = row_stats(row, epsilon);
        for (o, &v) in out.iter_mut().zip(row) {
            *o = (v - mean) * rstd;
        }
    }
}

/// `out = ∂x` of [`normalize_rows`] at the input `x`, given `dn = ∂n`.
pub fn normalize_backward_rows(
    x: &[f32],
    dn: &[f32],
    row_len: usize,
    epsilon: f32,
    out: &mut [f32],
) {
    assert_eq!(
        x.len(),
        dn.len(),
        "layer norm backward: input and gradient lengths differ"
    );
    assert_eq!(
        x.len(),
        out.len(),
        "layer norm backward: output lengths differ"
    );
    let d = row_len as f32;
    for ((row, dn), out) in x
        .chunks_exact(row_len)
        .zip(dn.chunks_exact(row_len))
        .zip(out.chunks_exact_mut(row_len))
    {
        let (mean, rstd) = row_stats(row, epsilon);
        let mean_dn = lane_sum(row_len, |i| dn[i]) / d;
        let mean_dn_n = lane_sum(row_len, |i| dn[i] * (row[i] - mean) * rstd) / d;
        for ((o, &v), &g) in out.iter_mut().zip(row).zip(dn) {
            let n = (v - mean) * rstd;
            *o = rstd * (g - mean_dn - n * mean_dn_n);
        }
    }
}

/// `out = x·scale + shift` per row (`scale`, `shift`: one value per column).
pub fn scale_shift_rows(x: &[f32], scale: &[f32], shift: &[f32], out: &mut [f32]) {
    let row_len = scale.len();
    assert_eq!(shift.len(), row_len, "scale and shift lengths differ");
    assert_eq!(
        x.len(),
        out.len(),
        "scale-shift: input and output lengths differ"
    );
    for (row, out) in x.chunks_exact(row_len).zip(out.chunks_exact_mut(row_len)) {
        for (((o, &v), &s), &b) in out.iter_mut().zip(row).zip(scale).zip(shift) {
            *o = v * s + b;
        }
    }
}

/// `out = dy·scale` per row: the backward of [`scale_shift_rows`] into `x`.
pub fn scale_rows(dy: &[f32], scale: &[f32], out: &mut [f32]) {
    let row_len = scale.len();
    assert_eq!(
        dy.len(),
        out.len(),
        "scale: input and output lengths differ"
    );
    for (row, out) in dy.chunks_exact(row_len).zip(out.chunks_exact_mut(row_len)) {
        for ((o, &g), &s) in out.iter_mut().zip(row).zip(scale) {
            *o = g * s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_a_row_by_hand() {
        // mean 2, biased var 2/3: n = [−1, 0, 1] / √(2/3 + ε).
        let mut out = [0f32; 6];
        normalize_rows(&[1.0, 2.0, 3.0, 4.0, 4.0, 4.0], 3, 1e-5, &mut out);
        let s = 1.0 / (2.0f32 / 3.0 + 1e-5).sqrt();
        for (got, want) in out.iter().zip([-s, 0.0, s, 0.0, 0.0, 0.0]) {
            assert!((got - want).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn the_backward_is_the_finite_difference() {
        // 19 values: a tail beyond the 8-lane sums.
        let x: Vec<f32> = (0..19).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.3).collect();
        let w: Vec<f32> = (0..19).map(|i| ((i * 5 % 13) as f32 - 6.0) * 0.1).collect();
        let loss = |x: &[f32]| -> f64 {
            let mut n = vec![0f32; x.len()];
            normalize_rows(x, x.len(), 1e-5, &mut n);
            n.iter().zip(&w).map(|(a, b)| (a * b) as f64).sum()
        };
        let mut grad = vec![0f32; 19];
        normalize_backward_rows(&x, &w, 19, 1e-5, &mut grad);
        for i in 0..19 {
            let h = 1e-2f32;
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += h;
            down[i] -= h;
            let numeric = (loss(&up) - loss(&down)) / (2.0 * h as f64);
            assert!(
                (numeric - grad[i] as f64).abs() < 2e-3,
                "{i}: {numeric} vs {}",
                grad[i]
            );
        }
    }

    #[test]
    fn a_nan_spoils_only_its_row() {
        let mut out = [0f32; 4];
        normalize_rows(&[f32::NAN, 1.0, 1.0, 3.0], 2, 1e-5, &mut out);
        assert!(out[0].is_nan() && out[1].is_nan());
        assert!((out[2] + 1.0).abs() < 1e-4 && (out[3] - 1.0).abs() < 1e-4);
    }

    #[test]
    fn scales_and_shifts_by_column() {
        let mut out = [0f32; 4];
        scale_shift_rows(&[1.0, 2.0, 3.0, 4.0], &[2.0, -1.0], &[0.5, 0.0], &mut out);
        assert_eq!(out, [2.5, -2.0, 6.5, -4.0]);
        scale_rows(&[1.0, 2.0, 3.0, 4.0], &[2.0, -1.0], &mut out);
        assert_eq!(out, [2.0, -2.0, 6.0, -4.0]);
    }
}
