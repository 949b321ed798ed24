//! Paired differences between BIPEFT and each other method: per model, task
//! and budget, over the seeds both have, d = score(BIPEFT) − score(method),
//! with the mean, the sample standard deviation and a 95% confidence interval
//! of the mean from Student's t (a difference whose interval excludes 0 is one
//! the experiment separates).

use serde::Serialize;

use super::budget::Budget;
use super::method::Method;
use super::record::CellRecord;

/// BIPEFT − one method, paired by seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairedDifference {
    pub model: String,
    pub task: String,
    pub budget: Budget,
    pub method: Method,
    /// The seeds both methods have.
    pub seeds: Vec<u64>,
    /// Mean of the differences (a fraction, like the scores).
    pub mean: f64,
    /// Sample standard deviation of the differences (0 for one seed).
    pub std: f64,
    /// 95% confidence interval of the mean; `None` for fewer than two seeds.
    pub ci95: Option<(f64, f64)>,
    /// How many seeds the interval would need to exclude 0 if the mean and
    /// the standard deviation stayed as measured ([`seeds_to_separate`]).
    pub seeds_to_separate: Option<usize>,
}

impl PairedDifference {
    /// Whether the interval excludes 0.
    pub fn separates(&self) -> bool {
        self.ci95.is_some_and(|(lo, hi)| lo > 0.0 || hi < 0.0)
    }
}

/// Every BIPEFT − method difference the records allow, in record order.
pub fn paired_differences(records: &[CellRecord]) -> Vec<PairedDifference> {
    let mut out = Vec::new();
    let mut keys: Vec<(&str, &str, Budget, Method)> = Vec::new();
    for r in records.iter().filter(|r| r.method != Method::Bipeft) {
        let key = (r.model.as_str(), r.task.as_str(), r.budget, r.method);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (model, task, budget, method) in keys {
        let score = |m: Method, seed: u64| {
            records
                .iter()
                .find(|r| {
                    r.model == model
                        && r.task == task
                        && r.budget == budget
                        && r.method == m
                        && r.seed == seed
                })
                .map(|r| r.score)
        };
        let mut seeds = Vec::new();
        let mut diffs = Vec::new();
        for r in records.iter().filter(|r| {
            r.model == model && r.task == task && r.budget == budget && r.method == method
        }) {
            if let Some(ours) = score(Method::Bipeft, r.seed) {
                seeds.push(r.seed);
                diffs.push(ours - r.score);
            }
        }
        if diffs.is_empty() {
            continue;
        }
        let n = diffs.len() as f64;
        let mean = diffs.iter().sum::<f64>() / n;
        let std = if diffs.len() > 1 {
            (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let ci95 = (diffs.len() > 1).then(|| {
            let half = t_975(diffs.len() - 1) * std / n.sqrt();
            (mean - half, mean + half)
        });
        out.push(PairedDifference {
            model: model.to_string(),
            task: task.to_string(),
            budget,
            method,
            seeds,
            mean,
            std,
            ci95,
            seeds_to_separate: (diffs.len() > 1)
                .then(|| seeds_to_separate(mean, std))
                .flatten(),
        });
    }
    out
}

/// The most seeds [`seeds_to_separate`] looks at: beyond it a gap is, for
/// this experiment, too small to separate.
pub const MAX_SEEDS_TO_SEPARATE: usize = 1000;

/// The smallest number of seeds `n ≥ 2` at which a 95% interval of a mean
/// difference `mean` with standard deviation `std` excludes 0, that is
/// `t₀.₉₇₅(n − 1) · std / √n < |mean|`; `None` for a zero mean or past
/// [`MAX_SEEDS_TO_SEPARATE`]. A planning figure, not a power analysis: it
/// takes the measured mean and spread as the true ones.
pub fn seeds_to_separate(mean: f64, std: f64) -> Option<usize> {
    if mean == 0.0 || !mean.is_finite() || !std.is_finite() {
        return None;
    }
    (2..=MAX_SEEDS_TO_SEPARATE).find(|&n| t_975(n - 1) * std / (n as f64).sqrt() < mean.abs())
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom
/// (`scipy.stats.t.ppf(0.975, df)`), tabulated to 30; beyond, the
/// Cornish–Fisher expansion around the normal's quantile to the 1/ν⁴ term
/// (within 3·10⁻⁸ of scipy from 31 on).
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706204736174696,
        4.302652729749464,
        3.182446305284263,
        2.7764451051977987,
        2.570581835636314,
        2.446911851144969,
        2.3646242510102993,
        2.306004135204166,
        2.2621571628540993,
        2.2281388519649385,
        2.200985160082949,
        2.1788128296634177,
        2.1603686564610127,
        2.1447866879169273,
        2.131449545559323,
        2.1199052992210112,
        2.1098155778331806,
        2.10092204024096,
        2.093024054408263,
        2.0859634472658364,
        2.079613844727662,
        2.0738730679040147,
        2.0686576104190406,
        2.0638985616280205,
        2.059538552753294,
        2.055529438642871,
        2.0518305164802833,
        2.048407141795244,
        2.045229642132703,
        2.0422724563012373,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        _ => {
            let z: f64 = 1.959963984540054;
            let v = df as f64;
            let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
            z + (z3 + z) / (4.0 * v)
                + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v.powi(2))
                + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v.powi(3))
                + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z)
                    / (92160.0 * v.powi(4))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(method: Method, seed: u64, score: f64) -> CellRecord {
        CellRecord {
            format: super::super::record::CELL_FORMAT.into(),
            id: String::new(),
            fingerprint: String::new(),
            model: "m".into(),
            task: "t".into(),
            budget: Budget::Percent(0.5),
            budget_params: 100,
            method,
            seed,
            metric: "accuracy".into(),
            score,
            scores: Default::default(),
            trainable_params: 90,
            modules: 3,
            search_seconds: 1.0,
            retrain_seconds: 1.0,
            notes: Vec::new(),
            search_version: super::super::cell::version_of(method),
            computed_with: None,
            majority_score: None,
        }
    }

    #[test]
    fn paired_by_seed_with_scipy_t_interval() {
        // Differences 0.02, −0.01, 0.05: mean 0.02, std 0.03; scipy:
        // t.ppf(0.975, 2) · 0.03 / √3 → [−0.0545241313525099, 0.09452413135250991].
        let records = vec![
            record(Method::Bipeft, 1, 0.82),
            record(Method::UniformLora, 1, 0.80),
            record(Method::Bipeft, 2, 0.79),
            record(Method::UniformLora, 2, 0.80),
            record(Method::Bipeft, 3, 0.85),
            record(Method::UniformLora, 3, 0.80),
            // Seed 4 has no BIPEFT cell: not paired.
            record(Method::UniformLora, 4, 0.10),
        ];
        let d = paired_differences(&records);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].seeds, vec![1, 2, 3]);
        assert!((d[0].mean - 0.02).abs() < 1e-12);
        assert!((d[0].std - 0.03).abs() < 1e-12);
        let (lo, hi) = d[0].ci95.unwrap();
        assert!((lo + 0.0545241313525099).abs() < 1e-12, "{lo}");
        assert!((hi - 0.09452413135250991).abs() < 1e-12, "{hi}");
        assert!(!d[0].separates());
        // By hand: t(n−1)·0.03/√n < 0.02 first holds at n = 12
        // (n = 11: 2.2281·0.03/√11 = 0.02015; n = 12: 2.2010·0.03/√12 = 0.01906).
        assert_eq!(d[0].seeds_to_separate, Some(12));
    }

    #[test]
    fn seeds_to_separate_by_hand() {
        // No spread: two seeds already separate any non-zero gap.
        assert_eq!(seeds_to_separate(0.01, 0.0), Some(2));
        // A negative gap separates as well as a positive one.
        assert_eq!(seeds_to_separate(-0.02, 0.03), Some(12));
        // mean = std: t(n−1)/√n < 1 first at n = 7 (2.4469/√7 = 0.9248;
        // n = 6: 2.5706/√6 = 1.0494).
        assert_eq!(seeds_to_separate(0.01, 0.01), Some(7));
        assert_eq!(seeds_to_separate(0.0, 0.01), None);
        assert_eq!(seeds_to_separate(1e-6, 1.0), None);
        // scipy.stats.t.ppf(0.975, df) for df 1, 4, 30, and the normal beyond.
        assert!((t_975(1) - 12.706204736174694).abs() < 1e-9);
        assert!((t_975(4) - 2.7764451051977934).abs() < 1e-9);
        assert!((t_975(30) - 2.0422724563012378).abs() < 1e-9);
        // Past the table: scipy's t.ppf(0.975, df) for df 31, 63, 1000.
        assert!((t_975(31) - 2.039513446396408).abs() < 1e-7);
        assert!((t_975(63) - 1.998340542520741).abs() < 1e-8);
        assert!((t_975(1000) - 1.9623390808264083).abs() < 1e-12);
    }
}
