//! GELU and its derivative on `f32` slices, written so the compiler can
//! vectorise them: no calls into `libm`, no branches the vectoriser cannot
//! turn into selects.
//!
//! `gelu(x) = x·Φ(x)` and `gelu'(x) = Φ(x) + x·φ(x)`, with Φ the standard
//! normal CDF and φ its density. Φ comes from the complementary error
//! function of Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5·10⁻⁷ on
//! `erfc`), evaluated on `|x|` so that the negative tail keeps its own small
//! value instead of `1 − (1 − ε)`; the exponential is [`exp_nonpositive`].

use super::fast_exp::exp_nonpositive;

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// `1 / √(2π)`
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// `Φ(x)` and `φ(x)`, the standard normal CDF and density.
#[inline(always)]
pub fn normal_cdf_pdf(x: f32) -> (f32, f32) {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_6;
    const A2: f32 = -0.284_496_74;
    const A3: f32 = 1.421_413_7;
    const A4: f32 = -1.453_152;
    const A5: f32 = 1.061_405_4;
    let z = x.abs() * FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + P * z);
    let poly = t * (A1 + t * (A2 + t * (A3 + t * (A4 + t * A5))));
    // e^(−z²) = e^(−x²/2): also √(2π)·φ(x).
    let gauss = exp_nonpositive(-z * z);
    let half_erfc = 0.5 * poly * gauss;
    let cdf = if x < 0.0 { half_erfc } else { 1.0 - half_erfc };
    (cdf, FRAC_1_SQRT_2PI * gauss)
}

/// `out[i] = gelu(x[i])`.
pub fn gelu_into(x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "gelu: input and output lengths differ");
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v * normal_cdf_pdf(v).0;
    }
}

/// `out[i] = grad[i] · gelu'(x[i])`.
pub fn gelu_backward_into(x: &[f32], grad: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), grad.len(), "gelu backward: input and gradient lengths differ");
    assert_eq!(x.len(), out.len(), "gelu backward: input and output lengths differ");
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(grad) {
        let (cdf, pdf) = normal_cdf_pdf(v);
        *o = g * (cdf + v * pdf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf in f64 by its Maclaurin series (|x| ≤ 3) or continued fraction
    /// of erfc (|x| > 3): an independent reference for the f32 kernel.
    fn erf64(x: f64) -> f64 {
        let a = x.abs();
        let value = if a <= 3.0 {
            let mut term = a;
            let mut sum = a;
            let mut n = 0.0;
            while term.abs() > 1e-17 * sum.abs().max(1e-300) {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
                if n > 200.0 {
                    break;
                }
            }
            2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            // erfc(a) = e^(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …))))
            let mut frac = a;
            for k in (1..60).rev() {
                frac = a + (k as f64 / 2.0) / frac;
            }
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / frac
        };
        value.copysign(x)
    }

    fn cdf64(x: f64) -> f64 {
        0.5 * (1.0 + erf64(x / 2f64.sqrt()))
    }

    #[test]
    fn reference_series_is_right() {
        // Tabulated: erf(0.5) = 0.5204998778, erf(1) = 0.8427007929, erf(2) = 0.9953222650.
        assert!((erf64(0.5) - 0.520_499_877_8).abs() < 1e-10);
        assert!((erf64(1.0) - 0.842_700_792_9).abs() < 1e-10);
        assert!((erf64(-2.0) + 0.995_322_265_0).abs() < 1e-10);
        assert!((erf64(3.5) - 0.999_999_256_9).abs() < 1e-10);
    }

    #[test]
    fn gelu_and_its_derivative_match_the_exact_functions() {
        let xs: Vec<f32> = (-1200..=1200).map(|i| i as f32 * 0.01).collect();
        let mut out = vec![0f32; xs.len()];
        gelu_into(&xs, &mut out);
        let ones = vec![1f32; xs.len()];
        let mut slope = vec![0f32; xs.len()];
        gelu_backward_into(&xs, &ones, &mut slope);
        let (mut worst_value, mut worst_slope) = (0f64, 0f64);
        for ((&x, &y), &d) in xs.iter().zip(&out).zip(&slope) {
            let x64 = x as f64;
            let pdf = (-x64 * x64 / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
            worst_value = worst_value.max((y as f64 - x64 * cdf64(x64)).abs());
            worst_slope = worst_slope.max((d as f64 - (cdf64(x64) + x64 * pdf)).abs());
        }
        // A&S 7.1.26 is good to 1.5e-7 on erfc; scaled by |x|/2 ≤ 6 here.
        assert!(worst_value < 1e-6, "gelu: worst absolute error {worst_value}");
        assert!(worst_slope < 5e-7, "gelu': worst absolute error {worst_slope}");
    }

    #[test]
    fn far_tails_are_exact_limits() {
        let xs = [-200.0f32, -30.0, 30.0, 200.0];
        let mut out = [0f32; 4];
        gelu_into(&xs, &mut out);
        assert_eq!(out, [-0.0, -0.0, 30.0, 200.0]);
    }
}
