//! The area under the ROC or the precision-recall curve, as Keras 3 approximates it.

use super::Metric;

/// Which curve [`Auc`] measures (Keras' `curve`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// True positive rate against false positive rate (Keras' `"ROC"`).
    Roc,
    /// Precision against recall (Keras' `"PR"`).
    Pr,
}

/// Keras' `AUC(num_thresholds=200, curve="ROC", summation_method="interpolation")`: the area
/// under a curve drawn through `num_thresholds` thresholds, evenly spaced over `[0, 1]` (the
/// first just below 0, the last just above 1). Every output of every sample counts, an output
/// being positive above a threshold and its target positive when not 0 (Keras' flattening,
/// `multi_label=False`); outputs are taken to be probabilities (NaN counts as 0).
///
/// The ROC area sums trapezoids between the thresholds' points; the PR area uses Keras'
/// interpolation of precision between them (Davis & Goadrich). Its state is two counts per
/// threshold, allocated when it is made: updating allocates nothing, and the running value
/// after each step costs `num_thresholds` operations.
///
/// **Against scikit-learn's exact values**: where no two different outputs fall between the
/// same two thresholds, the ROC area is `roc_auc_score`'s exactly (ties included: equal outputs
/// share a threshold, which draws the diagonal scikit-learn draws); otherwise it is off by at
/// most the area of the trapezoids that the thresholds merge. The PR area approximates
/// `average_precision_score` (a step sum where Keras interpolates): on the fixtures of
/// `tests/metrics_sklearn.rs`, within 0.02 (and the ROC area of 200 uniform scores within
/// 4e-4). Log names `auc` (ROC) and `pr_auc` (Keras names both `auc` unless given a name, and
/// `pr_auc` is the usual one for the PR curve there).
///
/// ```
/// use netdsl_core::metrics::{Auc, Metric};
///
/// let mut auc = Auc::roc();
/// for (y, t) in [(0.1, 0.0), (0.4, 0.0), (0.35, 1.0), (0.8, 1.0)] {
///     auc.update(&[y], &[t]);
/// }
/// // Three of the four positive-negative pairs are in order: 0.75, as scikit-learn says.
/// assert!((auc.result() - 0.75).abs() < 1e-6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Auc {
    curve: Curve,
    /// Outputs, of positive then of negative targets, whose bucket is `i`: above threshold `i`
    /// (and the ones below it) but not above threshold `i + 1`.
    positives: Vec<u64>,
    negatives: Vec<u64>,
}

impl Auc {
    /// The area under `curve` through `num_thresholds` thresholds (at least 2; Keras' default
    /// is 200).
    pub fn new(curve: Curve, num_thresholds: usize) -> Self {
        let n = num_thresholds.max(2);
        Self {
            curve,
            positives: vec![0; n],
            negatives: vec![0; n],
        }
    }

    /// Keras' `AUC()`: the ROC curve through 200 thresholds.
    pub fn roc() -> Self {
        Self::new(Curve::Roc, 200)
    }

    /// Keras' `AUC(curve="PR")`: the precision-recall curve through 200 thresholds.
    pub fn pr() -> Self {
        Self::new(Curve::Pr, 200)
    }

    /// The thresholds' number.
    pub fn num_thresholds(&self) -> usize {
        self.positives.len()
    }

    /// True and false positives at each threshold, from the highest down: the outputs above
    /// it.
    fn confusion(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        // Counts above threshold i: the buckets i and above, summed from the top.
        let n = self.positives.len();
        let (mut tp, mut fp) = (0u64, 0u64);
        (0..n).rev().map(move |i| {
            tp += self.positives[i];
            fp += self.negatives[i];
            (tp as f64, fp as f64)
        })
    }
}

impl Metric for Auc {
    fn name(&self) -> &'static str {
        match self.curve {
            Curve::Roc => "auc",
            Curve::Pr => "pr_auc",
        }
    }

    fn reset(&mut self) {
        self.positives.fill(0);
        self.negatives.fill(0);
    }

    fn update(&mut self, y: &[f32], t: &[f32]) {
        let last = self.positives.len() - 1;
        let scale = last as f32;
        for (&y, &t) in y.iter().zip(t) {
            // Above threshold i = i / last (the first is just below 0) when
            // ceil(y · last) - 1 >= i: Keras' bucket of evenly spaced thresholds.
            let y = if y.is_nan() { 0.0 } else { y.clamp(0.0, 1.0) };
            let bucket = ((y * scale).ceil() as usize)
                .saturating_sub(1)
                .min(last - 1);
            if t != 0.0 {
                self.positives[bucket] += 1;
            } else {
                self.negatives[bucket] += 1;
            }
        }
    }

    fn result(&self) -> f32 {
        let positives: u64 = self.positives.iter().sum();
        let negatives: u64 = self.negatives.iter().sum();
        let (positives, negatives) = (positives as f64, negatives as f64);
        let no_nan = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
        // From the top threshold down: each point and the one before it (a higher threshold).
        let mut area = 0.0;
        let mut before: Option<(f64, f64)> = None;
        for (tp, fp) in self.confusion() {
            if let Some((tp_b, fp_b)) = before {
                area += match self.curve {
                    Curve::Roc => {
                        let (x_a, x_b) = (no_nan(fp, negatives), no_nan(fp_b, negatives));
                        let (y_a, y_b) = (no_nan(tp, positives), no_nan(tp_b, positives));
                        (x_a - x_b) * (y_a + y_b) / 2.0
                    }
                    Curve::Pr => pr_increment((tp, tp + fp), (tp_b, tp_b + fp_b), positives),
                };
            }
            before = Some((tp, fp));
        }
        area as f32
    }
}

/// Keras' interpolated precision-recall area between a lower threshold `a` and the next one
/// up, `b`, each as (true positives, predicted positives): precision varies as true positives
/// and predicted positives move linearly between them, and its integral over recall is
/// `slope · (dTP + intercept · ln(P_a / P_b)) / positives`.
fn pr_increment(a: (f64, f64), b: (f64, f64), positives: f64) -> f64 {
    let ((tp_a, p_a), (tp_b, p_b)) = (a, b);
    let no_nan = |x: f64, y: f64| if y == 0.0 { 0.0 } else { x / y };
    let dtp = tp_a - tp_b;
    let dp = p_a - p_b;
    let slope = no_nan(dtp, dp.max(0.0));
    let intercept = tp_b - slope * p_b;
    let ratio = if p_a > 0.0 && p_b > 0.0 {
        no_nan(p_a, p_b.max(0.0))
    } else {
        1.0
    };
    no_nan(slope * (dtp + intercept * ratio.ln()), positives.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(mut auc: Auc, samples: &[(f32, f32)]) -> f32 {
        for &(y, t) in samples {
            auc.update(&[y], &[t]);
        }
        auc.result()
    }

    #[test]
    fn ties_draw_the_diagonal() {
        // A positive and a negative at the same output: half a pair in order.
        let area = fed(Auc::roc(), &[(0.5, 1.0), (0.5, 0.0)]);
        assert!((area - 0.5).abs() < 1e-6, "{area}");
        let area = fed(
            Auc::roc(),
            &[(0.3, 0.0), (0.6, 1.0), (0.6, 0.0), (0.9, 1.0)],
        );
        // Pairs: (0.6+, 0.3-) 1, (0.6+, 0.6-) 1/2, (0.9+, *) 2: 3.5 of 4.
        assert!((area - 0.875).abs() < 1e-6, "{area}");
    }

    #[test]
    fn a_perfect_ranking_has_areas_of_one() {
        let samples = [(0.1, 0.0), (0.2, 0.0), (0.8, 1.0), (0.9, 1.0)];
        assert!((fed(Auc::roc(), &samples) - 1.0).abs() < 1e-6);
        assert!((fed(Auc::pr(), &samples) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn without_positives_or_negatives_the_area_is_zero() {
        assert_eq!(fed(Auc::roc(), &[(0.3, 0.0), (0.6, 0.0)]), 0.0);
        assert_eq!(fed(Auc::pr(), &[]), 0.0);
    }

    #[test]
    fn outputs_outside_zero_to_one_count_at_the_ends() {
        let area = fed(Auc::roc(), &[(-3.0, 0.0), (f32::NAN, 0.0), (7.0, 1.0)]);
        assert!((area - 1.0).abs() < 1e-6, "{area}");
    }
}
