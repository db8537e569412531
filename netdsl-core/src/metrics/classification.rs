//! The metrics of a classifier: precision, recall, F1 and top-k accuracy, as Keras 3 computes
//! them.

use super::{Metric, top_k_hit};

/// Keras' `Precision()`: `tp / (tp + fp)` over every output of every sample, an output being
/// predicted positive above the threshold (0.5 by default) and truly positive when its target
/// is not 0. For a one-hot classifier, every output counts (Keras flattens them), so this is
/// not the macro average of [`F1Score`]'s classes. 0 when nothing was predicted positive
/// (Keras' `divide_no_nan`, scikit-learn's `zero_division=0`). Log name `precision`.
///
/// ```
/// use netdsl_core::metrics::{Metric, Precision};
///
/// let mut precision = Precision::new();
/// for (y, t) in [(0.9, 1.0), (0.6, 0.0), (0.2, 1.0), (0.5, 0.0)] {
///     precision.update(&[y], &[t]);
/// }
/// // 0.9 and 0.6 are above 0.5 (0.5 is not): one of two right.
/// assert_eq!(precision.result(), 0.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Precision {
    threshold: f32,
    true_positives: u64,
    false_positives: u64,
}

impl Precision {
    /// Precision at Keras' threshold 0.5.
    pub fn new() -> Self {
        Self {
            threshold: 0.5,
            true_positives: 0,
            false_positives: 0,
        }
    }

    /// An output above `threshold` is predicted positive (Keras' `thresholds`).
    pub fn threshold(self, threshold: f32) -> Self {
        Self { threshold, ..self }
    }
}

impl Default for Precision {
    fn default() -> Self {
        Self::new()
    }
}

impl Metric for Precision {
    fn name(&self) -> &'static str {
        "precision"
    }

    fn reset(&mut self) {
        (self.true_positives, self.false_positives) = (0, 0);
    }

    fn update(&mut self, y: &[f32], t: &[f32]) {
        for (&y, &t) in y.iter().zip(t) {
            if y > self.threshold {
                if t != 0.0 {
                    self.true_positives += 1;
                } else {
                    self.false_positives += 1;
                }
            }
        }
    }

    fn result(&self) -> f32 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }
}

/// Keras' `Recall()`: `tp / (tp + fn)` over every output of every sample, as [`Precision`]
/// counts them. 0 when no target is positive. Log name `recall`.
///
/// ```
/// use netdsl_core::metrics::{Metric, Recall};
///
/// let mut recall = Recall::new();
/// for (y, t) in [(0.9, 1.0), (0.6, 0.0), (0.2, 1.0), (0.5, 1.0)] {
///     recall.update(&[y], &[t]);
/// }
/// assert_eq!(recall.result(), 1.0 / 3.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recall {
    threshold: f32,
    true_positives: u64,
    false_negatives: u64,
}

impl Recall {
    /// Recall at Keras' threshold 0.5.
    pub fn new() -> Self {
        Self {
            threshold: 0.5,
            true_positives: 0,
            false_negatives: 0,
        }
    }

    /// An output above `threshold` is predicted positive (Keras' `thresholds`).
    pub fn threshold(self, threshold: f32) -> Self {
        Self { threshold, ..self }
    }
}

impl Default for Recall {
    fn default() -> Self {
        Self::new()
    }
}

impl Metric for Recall {
    fn name(&self) -> &'static str {
        "recall"
    }

    fn reset(&mut self) {
        (self.true_positives, self.false_negatives) = (0, 0);
    }

    fn update(&mut self, y: &[f32], t: &[f32]) {
        for (&y, &t) in y.iter().zip(t) {
            if t != 0.0 {
                if y > self.threshold {
                    self.true_positives += 1;
                } else {
                    self.false_negatives += 1;
                }
            }
        }
    }

    fn result(&self) -> f32 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
}

/// `a / b`, 0 when `b` is.
fn ratio(a: u64, b: u64) -> f32 {
    if b == 0 {
        0.0
    } else {
        (a as f64 / b as f64) as f32
    }
}

/// How [`F1Score`] combines its classes (Keras' `average`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Average {
    /// One F1 over the counts of every class summed (Keras' `"micro"`).
    Micro,
    /// The mean of the classes' F1, each class counting alike, a class never present nor
    /// predicted with an F1 of 0 (Keras' `"macro"`).
    Macro,
    /// The mean of the classes' F1 weighted by how many samples are of each class (Keras'
    /// `"weighted"`).
    Weighted,
}

/// Keras' `F1Score(average, threshold=None)`: per class `2 · precision · recall / (precision +
/// recall)`, combined as `average` says. Without a threshold, a sample predicts the classes of
/// its largest output (all of them when several tie, as Keras compares each output with the
/// maximum); with one, every class whose output is above it. Keras' `epsilon` of 1e-7 is in each
/// division, so a class with no sample and no prediction has an F1 of 0 (scikit-learn's
/// `zero_division=0`). Log name `f1_score`.
///
/// ```
/// use netdsl_core::metrics::{F1Score, Metric};
///
/// let mut f1 = F1Score::macro_average();
/// f1.update(&[0.7, 0.2, 0.1], &[1.0, 0.0, 0.0]); // class 0, right
/// f1.update(&[0.6, 0.3, 0.1], &[0.0, 1.0, 0.0]); // class 1 taken for 0
/// // Class 0: precision 1/2, recall 1, F1 2/3; class 1: F1 0; class 2 never seen: 0.
/// assert!((f1.result() - 2.0 / 9.0).abs() < 1e-6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct F1Score {
    average: Average,
    threshold: Option<f32>,
    /// Per class (one entry for [`Average::Micro`]): true positives, false positives, false
    /// negatives and the targets' sum (the weights of [`Average::Weighted`]).
    counts: Vec<[f64; 4]>,
}

impl F1Score {
    /// F1 combined as `average` says, the predicted classes those of the largest output.
    pub fn new(average: Average) -> Self {
        Self {
            average,
            threshold: None,
            counts: Vec::new(),
        }
    }

    /// [`Average::Macro`].
    pub fn macro_average() -> Self {
        Self::new(Average::Macro)
    }

    /// [`Average::Micro`].
    pub fn micro_average() -> Self {
        Self::new(Average::Micro)
    }

    /// [`Average::Weighted`].
    pub fn weighted_average() -> Self {
        Self::new(Average::Weighted)
    }

    /// A class is predicted when its output is above `threshold` (Keras' `threshold`), which
    /// may predict several classes or none; a single output needs one.
    pub fn threshold(self, threshold: f32) -> Self {
        Self {
            threshold: Some(threshold),
            ..self
        }
    }
}

impl Metric for F1Score {
    fn name(&self) -> &'static str {
        "f1_score"
    }

    fn prepare(&mut self, outputs: usize) {
        self.counts.resize(outputs, [0.0; 4]);
    }

    fn reset(&mut self) {
        self.counts.fill([0.0; 4]);
    }

    fn update(&mut self, y: &[f32], t: &[f32]) {
        if self.counts.len() < y.len() {
            // Once, when used without `prepare`.
            self.counts.resize(y.len(), [0.0; 4]);
        }
        let cut = self.threshold;
        let max = y.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for (c, (&y, &t)) in y.iter().zip(t).enumerate() {
            let predicted = match cut {
                Some(cut) => y > cut,
                None => y >= max,
            };
            let (p, t) = (f64::from(u8::from(predicted)), f64::from(t));
            let class = &mut self.counts[c];
            class[0] += p * t;
            class[1] += p * (1.0 - t);
            class[2] += (1.0 - p) * t;
            class[3] += t;
        }
    }

    fn result(&self) -> f32 {
        const EPSILON: f64 = 1e-7;
        let f1 = |[tp, fp, fn_, _]: [f64; 4]| {
            let precision = tp / (tp + fp + EPSILON);
            let recall = tp / (tp + fn_ + EPSILON);
            2.0 * precision * recall / (precision + recall + EPSILON)
        };
        let classes = self.counts.len();
        let score = match self.average {
            Average::Micro => {
                let sum = self.counts.iter().fold([0.0; 4], |mut sum, class| {
                    for (s, c) in sum.iter_mut().zip(class) {
                        *s += c;
                    }
                    sum
                });
                f1(sum)
            }
            Average::Macro => {
                self.counts.iter().map(|&c| f1(c)).sum::<f64>() / classes.max(1) as f64
            }
            Average::Weighted => {
                let total: f64 = self.counts.iter().map(|c| c[3]).sum();
                let weighted: f64 = self.counts.iter().map(|&c| f1(c) * c[3]).sum();
                weighted / (total + EPSILON)
            }
        };
        score as f32
    }
}

/// Keras' `TopKCategoricalAccuracy(k=5)`: the fraction of samples whose class (the arg-max of
/// the target) is among the `k` largest outputs. Of outputs that tie, the lower class ranks
/// first, as [`argmax`](super::argmax) takes it. NaN over no sample. Log name
/// `top_k_categorical_accuracy`.
///
/// ```
/// use netdsl_core::metrics::{Metric, TopKCategoricalAccuracy};
///
/// let mut top2 = TopKCategoricalAccuracy::new(2);
/// top2.update(&[0.5, 0.3, 0.2], &[0.0, 1.0, 0.0]);
/// top2.update(&[0.5, 0.3, 0.2], &[0.0, 0.0, 1.0]);
/// assert_eq!(top2.result(), 0.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopKCategoricalAccuracy {
    k: usize,
    hits: u64,
    samples: u64,
}

impl TopKCategoricalAccuracy {
    /// Counts a sample whose class is among the `k` largest outputs.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            hits: 0,
            samples: 0,
        }
    }
}

impl Default for TopKCategoricalAccuracy {
    /// Keras' `k=5`.
    fn default() -> Self {
        Self::new(5)
    }
}

impl Metric for TopKCategoricalAccuracy {
    fn name(&self) -> &'static str {
        "top_k_categorical_accuracy"
    }

    fn reset(&mut self) {
        (self.hits, self.samples) = (0, 0);
    }

    fn update(&mut self, y: &[f32], t: &[f32]) {
        if y.is_empty() || y.len() != t.len() {
            return;
        }
        self.hits += u64::from(top_k_hit(y, t, self.k));
        self.samples += 1;
    }

    fn result(&self) -> f32 {
        (self.hits as f64 / self.samples as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(metric: &mut dyn Metric, samples: &[(&[f32], &[f32])]) -> f32 {
        metric.reset();
        for (y, t) in samples {
            metric.update(y, t);
        }
        metric.result()
    }

    #[test]
    fn precision_and_recall_count_every_output_of_a_one_hot_classifier() {
        // Outputs above 0.5: (0, 0) right, (1, 1) wrong (class 2), (2, 2) right.
        let samples: [(&[f32], &[f32]); 3] = [
            (&[0.8, 0.1, 0.1], &[1.0, 0.0, 0.0]),
            (&[0.2, 0.7, 0.1], &[0.0, 0.0, 1.0]),
            (&[0.3, 0.1, 0.6], &[0.0, 0.0, 1.0]),
        ];
        assert_eq!(feed(&mut Precision::new(), &samples), 2.0 / 3.0);
        assert_eq!(feed(&mut Recall::new(), &samples), 2.0 / 3.0);
        assert_eq!(
            feed(&mut Recall::new().threshold(0.65), &samples),
            1.0 / 3.0
        );
    }

    #[test]
    fn precision_without_a_positive_prediction_is_zero() {
        let mut precision = Precision::new();
        assert_eq!(feed(&mut precision, &[(&[0.1], &[1.0])]), 0.0);
        assert_eq!(feed(&mut Recall::new(), &[(&[0.9], &[0.0])]), 0.0);
    }

    #[test]
    fn f1_predicts_every_class_tied_at_the_maximum() {
        // Sample 1 ties classes 0 and 1: both predicted. Counts: class 0 tp 1, fp 1; class 1
        // tp 1, fp 1; class 2 fn 1: F1 2/3, 2/3 and 0.
        let samples: [(&[f32], &[f32]); 3] = [
            (&[0.4, 0.4, 0.2], &[1.0, 0.0, 0.0]),
            (&[0.1, 0.8, 0.1], &[0.0, 1.0, 0.0]),
            (&[0.7, 0.2, 0.1], &[0.0, 0.0, 1.0]),
        ];
        let macro_f1 = feed(&mut F1Score::macro_average(), &samples);
        assert!((macro_f1 - 4.0 / 9.0).abs() < 1e-6, "{macro_f1}");
        // Micro: tp 2, fp 2, fn 1: precision 1/2, recall 2/3, F1 4/7.
        let micro = feed(&mut F1Score::micro_average(), &samples);
        assert!((micro - 4.0 / 7.0).abs() < 1e-6, "{micro}");
        // Weighted by the classes' 1, 1, 1 samples: the macro average here.
        let weighted = feed(&mut F1Score::weighted_average(), &samples);
        assert!((weighted - macro_f1).abs() < 1e-6, "{weighted}");
    }

    #[test]
    fn top_k_accuracy_over_no_sample_is_nan() {
        assert!(TopKCategoricalAccuracy::default().result().is_nan());
    }
}
