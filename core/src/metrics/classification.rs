//! Classification metrics, computed as scikit-learn computes them (values in
//! [0, 1], not percentages), with its conventions for degenerate inputs:
//! F1 is 0 where it divides by zero (`zero_division=0`), MCC is 0 where its
//! denominator is 0 (one class only, constant predictions).

use crate::error::{Error, Result};

/// Checks two equally long, non-empty slices.
pub(crate) fn check_lengths(predictions: usize, targets: usize) -> Result<()> {
    if predictions != targets {
        return Err(Error::InvalidInput(format!(
            "{predictions} predictions for {targets} targets"
        )));
    }
    if targets == 0 {
        return Err(Error::InvalidInput("no predictions to score".into()));
    }
    Ok(())
}

/// Fraction of predictions equal to their targets (`accuracy_score`).
pub fn accuracy<T: PartialEq>(predictions: &[T], targets: &[T]) -> Result<f64> {
    check_lengths(predictions.len(), targets.len())?;
    let correct = predictions
        .iter()
        .zip(targets)
        .filter(|(p, t)| p == t)
        .count();
    Ok(correct as f64 / targets.len() as f64)
}

/// F1 of class 1 against everything else (`f1_score`, binary, `zero_division=0`).
pub fn binary_f1(predictions: &[usize], targets: &[usize]) -> Result<f64> {
    check_lengths(predictions.len(), targets.len())?;
    let (mut tp, mut predicted, mut actual) = (0usize, 0usize, 0usize);
    for (&p, &t) in predictions.iter().zip(targets) {
        tp += usize::from(p == 1 && t == 1);
        predicted += usize::from(p == 1);
        actual += usize::from(t == 1);
    }
    Ok(f1_of(tp, predicted, actual, 0.0))
}

/// Unweighted mean of the F1 of classes `0..num_classes` (`f1_score(average=
/// "macro", labels=range(num_classes), zero_division=...)`). A prediction
/// outside the classes is a miss of its target's class. The reference code
/// scores CB with `zero_division=1`; scikit-learn's default is 0.
pub fn macro_f1(
    predictions: &[usize],
    targets: &[usize],
    num_classes: usize,
    zero_division: f64,
) -> Result<f64> {
    check_lengths(predictions.len(), targets.len())?;
    if num_classes == 0 {
        return Err(Error::InvalidInput(
            "macro F1 needs at least one class".into(),
        ));
    }
    let mut tp = vec![0usize; num_classes];
    let mut predicted = vec![0usize; num_classes];
    let mut actual = vec![0usize; num_classes];
    for (&p, &t) in predictions.iter().zip(targets) {
        if p < num_classes {
            predicted[p] += 1;
        }
        if t < num_classes {
            actual[t] += 1;
            if p == t {
                tp[t] += 1;
            }
        }
    }
    let sum: f64 = (0..num_classes)
        .map(|k| f1_of(tp[k], predicted[k], actual[k], zero_division))
        .sum();
    Ok(sum / num_classes as f64)
}

/// F1 = 2 tp / (predicted + actual), as scikit-learn writes it.
fn f1_of(tp: usize, predicted: usize, actual: usize, zero_division: f64) -> f64 {
    let denominator = predicted + actual;
    if denominator == 0 {
        zero_division
    } else {
        2.0 * tp as f64 / denominator as f64
    }
}

/// Matthews correlation coefficient over any number of classes
/// (`matthews_corrcoef`); 0 when either side has a single class.
pub fn matthews(predictions: &[usize], targets: &[usize]) -> Result<f64> {
    check_lengths(predictions.len(), targets.len())?;
    let classes = predictions
        .iter()
        .chain(targets)
        .copied()
        .max()
        .unwrap_or(0)
        + 1;
    let mut predicted = vec![0f64; classes];
    let mut actual = vec![0f64; classes];
    let mut correct = 0f64;
    for (&p, &t) in predictions.iter().zip(targets) {
        predicted[p] += 1.0;
        actual[t] += 1.0;
        correct += f64::from(u8::from(p == t));
    }
    let n = targets.len() as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let cov_true_pred = correct * n - dot(&actual, &predicted);
    let cov_pred_pred = n * n - dot(&predicted, &predicted);
    let cov_true_true = n * n - dot(&actual, &actual);
    if cov_pred_pred * cov_true_true == 0.0 {
        return Ok(0.0);
    }
    Ok(cov_true_pred / (cov_true_true * cov_pred_pred).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        let targets = [1, 0, 1, 1, 0, 0];
        let predictions = [1, 0, 0, 1, 1, 0];
        assert!((accuracy(&predictions, &targets).unwrap() - 4.0 / 6.0).abs() < 1e-12);
        // tp 2, fp 1, fn 1 → 4 / 6
        assert!((binary_f1(&predictions, &targets).unwrap() - 4.0 / 6.0).abs() < 1e-12);
        // 2x2: tp 2 tn 2 fp 1 fn 1 → (4 - 1) / sqrt(3 * 3 * 3 * 3) = 1/3
        assert!((matthews(&predictions, &targets).unwrap() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn degenerate_cases_follow_sklearn() {
        assert_eq!(binary_f1(&[0, 0], &[0, 0]).unwrap(), 0.0);
        assert_eq!(matthews(&[1, 1, 1], &[0, 1, 1]).unwrap(), 0.0);
        assert_eq!(macro_f1(&[0, 0], &[0, 0], 2, 0.0).unwrap(), 0.5);
        assert_eq!(macro_f1(&[0, 0], &[0, 0], 2, 1.0).unwrap(), 1.0);
    }

    #[test]
    fn bad_lengths_are_errors() {
        assert!(accuracy(&[1], &[1, 0]).is_err());
        assert!(matthews(&[], &[]).is_err());
    }
}
