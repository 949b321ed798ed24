//! `eʸ` for `y ≤ 0` on `f32`, in straight-line code the compiler can
//! vectorise: Cody–Waite range reduction `y = k·ln 2 + r`, Cephes' degree-6
//! polynomial for `eʳ`, and `2ᵏ` written into the exponent bits. Relative
//! error a few `f32` ulps; NaN stays NaN. Used by the fused kernels, whose
//! exponents are never positive (`−x²/2`, `x − max`).

/// `eʸ` for `y ≤ 0` (inputs below −87 give 0).
#[inline(always)]
pub fn exp_nonpositive(y: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let nan = y.is_nan();
    let underflow = y < -87.0;
    let y = y.max(-87.0).min(0.0);
    // Round to nearest by the 1.5·2²³ trick (`round()` is a libm call on
    // baseline x86-64 and would stop the loop from vectorising).
    const ROUNDER: f32 = 12_582_912.0;
    let k = (y * LOG2_E + ROUNDER) - ROUNDER;
    let r = y - k * LN2_HI - k * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5.000_000_1e-1;
    let er = p * r * r + r + 1.0;
    // 2ᵏ through the exponent bits; k ∈ [−126, 0] after the clamp.
    let two_k = f32::from_bits(((k as i32 + 127) as u32) << 23);
    let value = if underflow { 0.0 } else { er * two_k };
    if nan {
        f32::NAN
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_to_a_few_ulps() {
        let mut worst = 0f64;
        for i in 0..87_000 {
            let y = -(i as f32) * 1e-3;
            let fast = exp_nonpositive(y) as f64;
            let exact = (y as f64).exp();
            worst = worst.max(((fast - exact) / exact).abs());
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(exp_nonpositive(-100.0), 0.0);
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(f32::NAN).is_nan());
    }
}
