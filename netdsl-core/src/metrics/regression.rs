//! The metrics of a regression: mean absolute and squared errors, their root, and R².

use super::Metric;

/// Sums of an error over every output of every sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct ErrorSum {
    sum: f64,
    count: u64,
}

impl ErrorSum {
    fn add(&mut self, y: &[f32], t: &[f32], error: impl Fn(f64) -> f64) {
        for (&y, &t) in y.iter().zip(t) {
            self.sum += error(f64::from(y) - f64::from(t));
            self.count += 1;
        }
    }

    /// The mean: NaN over nothing.
    fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }
}

/// Keras' metric `MeanAbsoluteError()`: the mean of `|y - t|` over every output of every sample
/// (scikit-learn's `mean_absolute_error`). NaN over no sample. Log name `mean_absolute_error`.
///
/// ```
/// use netdsl_core::metrics::{MeanAbsoluteError, Metric};
///
/// let mut mae = MeanAbsoluteError::default();
/// mae.update(&[1.0, 2.0], &[1.5, 1.0]);
/// assert_eq!(mae.result(), 0.75);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeanAbsoluteError(ErrorSum);

impl Metric for MeanAbsoluteError {
    fn name(&self) -> &'static str {
        "mean_absolute_error"
    }

    fn higher_is_better(&self) -> bool {
        false
    }

    fn reset(&mut self) {
        self.0 = ErrorSum::default();
    }

    fn update(&mut self, y: &[f32], t: &[f32]) {
        self.0.add(y, t, f64::abs);
    }

    fn result(&self) -> f32 {
        self.0.mean() as f32
    }
}

/// Keras' metric `MeanSquaredError()`: the mean of `(y - t)²` over every output of every
/// sample. NaN over no sample. Log name `mean_squared_error` (which a fit whose loss is
/// `MeanSquaredError` logs as `loss` already).
///
/// ```
/// use netdsl_core::metrics::{MeanSquaredError, Metric};
///
/// let mut mse = MeanSquaredError::default();
/// mse.update(&[1.0, 2.0], &[1.5, 1.0]);
/// assert_eq!(mse.result(), 0.625);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeanSquaredError(ErrorSum);

impl Metric for MeanSquaredError {
    fn name(&self) -> &'static str {
        "mean_squared_error"
    }

    fn higher_is_better(&self) -> bool {
        false
    }

    fn reset(&mut self) {
        self.0 = ErrorSum::default();
    }

    fn update(&mut self, y: &[f32], t: &[f32]) {
        self.0.add(y, t, |e| e * e);
    }

    fn result(&self) -> f32 {
        self.0.mean() as f32
    }
}

/// Keras' `RootMeanSquaredError()`: the square root of [`MeanSquaredError`] over every sample
/// seen (not the mean of each step's root). Log name `root_mean_squared_error`.
///
/// ```
/// use netdsl_core::metrics::{Metric, RootMeanSquaredError};
///
/// let mut rmse = RootMeanSquaredError::default();
/// rmse.update(&[1.0, 2.0], &[4.0, 6.0]);
/// assert_eq!(rmse.result(), 12.5f32.sqrt());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RootMeanSquaredError(ErrorSum);

impl Metric for RootMeanSquaredError {
    fn name(&self) -> &'static str {
        "root_mean_squared_error"
    }

    fn higher_is_better(&self) -> bool {
        false
    }

    fn reset(&mut self) {
        self.0 = ErrorSum::default();
    }

    fn update(&mut self, y: &[f32], t: &[f32]) {
        self.0.add(y, t, |e| e * e);
    }

    fn result(&self) -> f32 {
        self.0.mean().sqrt() as f32
    }
}

/// Keras' `R2Score()` (`class_aggregation="uniform_average"`): the coefficient of
/// determination `1 - Σ(t - y)² / Σ(t - mean t)²` of each output, averaged over the outputs
/// (scikit-learn's `r2_score`, `multioutput="uniform_average"`). An output whose targets are
/// all equal scores 1 when predicted exactly and 0 otherwise (scikit-learn's
/// `force_finite=True`; Keras gives NaN for the first). NaN over no sample. Log name
/// `r2_score`.
///
/// ```
/// use netdsl_core::metrics::{Metric, R2Score};
///
/// let mut r2 = R2Score::default();
/// for (y, t) in [(1.0, 1.0), (2.5, 2.0), (2.5, 3.0)] {
///     r2.update(&[y], &[t]);
/// }
/// // Residuals 0.5 of a total 2: 1 - 0.25.
/// assert_eq!(r2.result(), 0.75);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct R2Score {
    /// Per output: Σt, Σt², Σ(t - y)².
    sums: Vec<[f64; 3]>,
    samples: u64,
}

impl Metric for R2Score {
    fn name(&self) -> &'static str {
        "r2_score"
    }

    fn prepare(&mut self, outputs: usize) {
        self.sums.resize(outputs, [0.0; 3]);
    }

    fn reset(&mut self) {
        self.sums.fill([0.0; 3]);
        self.samples = 0;
    }

    fn update(&mut self, y: &[f32], t: &[f32]) {
        if self.sums.len() < y.len() {
            // Once, when used without `prepare`.
            self.sums.resize(y.len(), [0.0; 3]);
        }
        for (sums, (&y, &t)) in self.sums.iter_mut().zip(y.iter().zip(t)) {
            let (y, t) = (f64::from(y), f64::from(t));
            sums[0] += t;
            sums[1] += t * t;
            sums[2] += (t - y) * (t - y);
        }
        self.samples += 1;
    }

    fn result(&self) -> f32 {
        if self.samples == 0 || self.sums.is_empty() {
            return f32::NAN;
        }
        let n = self.samples as f64;
        let score = |&[sum, squares, residual]: &[f64; 3]| {
            let total = (squares - sum * sum / n).max(0.0);
            match (residual == 0.0, total == 0.0) {
                (true, _) => 1.0,
                (false, true) => 0.0,
                (false, false) => 1.0 - residual / total,
            }
        };
        let mean = self.sums.iter().map(score).sum::<f64>() / self.sums.len() as f64;
        mean as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_over_no_sample_are_nan() {
        assert!(MeanAbsoluteError::default().result().is_nan());
        assert!(RootMeanSquaredError::default().result().is_nan());
        assert!(R2Score::default().result().is_nan());
    }

    #[test]
    fn r2_averages_the_outputs_and_scores_constant_targets_as_scikit_learn() {
        let mut r2 = R2Score::default();
        // Output 0: targets 1, 2, 3 predicted 1, 2, 4: 1 - 1/2. Output 1: targets all 5,
        // predicted exactly: 1.
        for (y, t) in [
            ([1.0, 5.0], [1.0, 5.0]),
            ([2.0, 5.0], [2.0, 5.0]),
            ([4.0, 5.0], [3.0, 5.0]),
        ] {
            r2.update(&y, &t);
        }
        assert_eq!(r2.result(), 0.75);
        r2.reset();
        r2.update(&[1.0, 4.0], &[1.0, 5.0]);
        r2.update(&[2.0, 5.0], &[2.0, 5.0]);
        // Output 1 missed a constant target: 0.
        assert_eq!(r2.result(), 0.5);
    }
}
