//! Accuracy in its forms (categorical, binary, top-k), the confusion matrix of a classifier, and
//! the metrics `fit` measures besides the loss (Keras' `metrics=[...]`): precision, recall, F1,
//! AUC, top-k accuracy, and the regression errors and R².
//!
//! A [`Metric`] is stateful, as in Keras: `fit` resets it before each epoch and before each
//! validation, [updates](Metric::update) it with every sample's output and target, and reads its
//! [result](Metric::result) into the logs under its [name](Metric::name) (`precision`, and
//! `val_precision` for the validation data). Each accumulates counts or sums of a fixed size,
//! allocated when it is made or in [`Metric::prepare`], so a step with metrics allocates
//! nothing.
//!
//! | Keras | netdsl | log name |
//! |---|---|---|
//! | `Precision()`, `Recall()` | [`Precision`], [`Recall`] | `precision`, `recall` |
//! | `F1Score(average="macro")` | [`F1Score::macro_average`] (also `micro`, `weighted`) | `f1_score` |
//! | `AUC()`, `AUC(curve="PR")` | [`Auc::roc`], [`Auc::pr`] | `auc`, `pr_auc` |
//! | `TopKCategoricalAccuracy(k=5)` | [`TopKCategoricalAccuracy::new`] | `top_k_categorical_accuracy` |
//! | `MeanAbsoluteError()` | [`MeanAbsoluteError`] | `mean_absolute_error` |
//! | `MeanSquaredError()` | [`MeanSquaredError`] | `mean_squared_error` |
//! | `RootMeanSquaredError()` | [`RootMeanSquaredError`] | `root_mean_squared_error` |
//! | `R2Score()` | [`R2Score`] | `r2_score` |
//!
//! Their results agree with scikit-learn's on the same predictions, ties and empty classes
//! included (`tests/metrics_sklearn.rs`, from `python/fixtures/metrics.py`): to 1e-6 but for
//! AUC, which Keras approximates with 200 thresholds (see [`Auc`]).

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

#[cfg(feature = "alloc")]
use core::fmt;

#[cfg(feature = "std")]
mod auc;
#[cfg(feature = "std")]
mod classification;
#[cfg(feature = "std")]
mod regression;
#[cfg(feature = "std")]
mod values;

#[cfg(feature = "std")]
pub use auc::{Auc, Curve};
#[cfg(feature = "std")]
pub use classification::{Average, F1Score, Precision, Recall, TopKCategoricalAccuracy};
#[cfg(feature = "std")]
pub use regression::{MeanAbsoluteError, MeanSquaredError, R2Score, RootMeanSquaredError};
#[cfg(feature = "std")]
pub use values::{MAX_METRICS, MetricValue, MetricValues};

#[cfg(feature = "std")]
use crate::data::Dataset;
#[cfg(feature = "std")]
use crate::network::Network;

/// The index of the largest value (the first one on ties), as `numpy.argmax`.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Categorical accuracy: the predicted class (arg-max of `y`) is the target's class.
pub fn categorical_hit(y: &[f32], t: &[f32]) -> bool {
    argmax(y) == argmax(t)
}

/// Binary accuracy: `y` and `t` fall on the same side of 0.5.
pub fn binary_hit(y: f32, t: f32) -> bool {
    (y > 0.5) == (t > 0.5)
}

/// Top-k categorical accuracy for one sample: the target's class is among the `k` largest
/// outputs (ties broken towards the lower index, as [`argmax`] does).
pub fn top_k_hit(y: &[f32], t: &[f32], k: usize) -> bool {
    let class = argmax(t);
    let target = y[class];
    // The class's rank is the number of outputs that beat it.
    let better = y
        .iter()
        .enumerate()
        .filter(|&(i, &v)| v > target || (v == target && i < class))
        .count();
    better < k
}

/// The fraction of `data` whose class is among the `k` largest outputs of `network`.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub fn top_k_accuracy<N, const IN: usize, const OUT: usize>(
    network: &N,
    data: &Dataset<IN, OUT>,
    k: usize,
) -> f32
where
    N: Network<In = [f32; IN], Out = [f32; OUT]>,
{
    let hits = (0..data.len())
        .filter(|&i| top_k_hit(&network.predict(&data.input(i)), &data.target(i), k))
        .count();
    hits as f32 / data.len().max(1) as f32
}

/// A quantity measured over the samples of an epoch or an evaluation, besides the loss (Keras'
/// `keras.metrics.Metric`): it accumulates a state over the samples it is
/// [updated](Metric::update) with and gives its [result](Metric::result) at any time, the
/// running value after each step of `fit` and the epoch's value at its end.
///
/// Give metrics to `fit` with [`Fit::metric`](crate::train::Fit::metric) (owned, or `&mut` to
/// read their state afterwards), or to [`Trainer::evaluate_with`](crate::train::Trainer::evaluate_with).
/// `fit` calls [`Metric::prepare`] once before training, then [`Metric::reset`] before each
/// epoch and each validation; `update` and `result` run at every step and must not allocate.
///
/// A metric of your own (here the fraction of outputs above 0.9, whose log name is
/// `confident`):
///
/// ```
/// use netdsl_core::metrics::Metric;
///
/// #[derive(Default)]
/// struct Confident {
///     above: u64,
///     outputs: u64,
/// }
///
/// impl Metric for Confident {
///     fn name(&self) -> &'static str {
///         "confident"
///     }
///     fn reset(&mut self) {
///         *self = Self::default();
///     }
///     fn update(&mut self, y: &[f32], _t: &[f32]) {
///         self.above += y.iter().filter(|&&y| y > 0.9).count() as u64;
///         self.outputs += y.len() as u64;
///     }
///     fn result(&self) -> f32 {
///         self.above as f32 / self.outputs.max(1) as f32
///     }
/// }
///
/// let mut confident = Confident::default();
/// confident.update(&[0.95, 0.05], &[1.0, 0.0]);
/// confident.update(&[0.6, 0.4], &[1.0, 0.0]);
/// assert_eq!(confident.result(), 0.25);
/// ```
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub trait Metric {
    /// The key of its value in the logs, the history and the CSV log, as Keras names the metric
    /// (`precision`); `fit` logs the validation value under `val_` and this name. Names are
    /// distinct among a fit's metrics, and differ from the keys `fit` logs itself (`loss`,
    /// `accuracy`, `learning_rate`, `epoch`, `batch`); they are written in CSV logs and file
    /// names, so letters, digits and `_` suit them best.
    fn name(&self) -> &'static str;

    /// Whether a higher value is better (Keras' metric `_direction`): what `EarlyStopping`,
    /// `ReduceLrOnPlateau` and `ModelCheckpoint` take as an improvement when they monitor it.
    /// Yes by default; errors say no.
    fn higher_is_better(&self) -> bool {
        true
    }

    /// Makes room for samples of `outputs` values, once per fit before the first step (a
    /// metric with a state per class allocates it here). Nothing by default.
    fn prepare(&mut self, _outputs: usize) {}

    /// Forgets every sample seen (Keras' `reset_state`).
    fn reset(&mut self);

    /// Adds one sample: the network's output `y` and the target `t`, of the same length
    /// (Keras' `update_state`).
    fn update(&mut self, y: &[f32], t: &[f32]);

    /// The value over the samples seen since the last reset (Keras' `result`); NaN or 0 over
    /// none, as each metric says.
    fn result(&self) -> f32;
}

#[cfg(feature = "std")]
impl<M: Metric + ?Sized> Metric for &mut M {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn higher_is_better(&self) -> bool {
        (**self).higher_is_better()
    }
    fn prepare(&mut self, outputs: usize) {
        (**self).prepare(outputs);
    }
    fn reset(&mut self) {
        (**self).reset();
    }
    fn update(&mut self, y: &[f32], t: &[f32]) {
        (**self).update(y, t);
    }
    fn result(&self) -> f32 {
        (**self).result()
    }
}

#[cfg(feature = "std")]
impl<M: Metric + ?Sized> Metric for Box<M> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn higher_is_better(&self) -> bool {
        (**self).higher_is_better()
    }
    fn prepare(&mut self, outputs: usize) {
        (**self).prepare(outputs);
    }
    fn reset(&mut self) {
        (**self).reset();
    }
    fn update(&mut self, y: &[f32], t: &[f32]) {
        (**self).update(y, t);
    }
    fn result(&self) -> f32 {
        (**self).result()
    }
}

/// Counts of (true class, predicted class) pairs over a dataset: `counts[t][p]`.
///
/// ```
/// use netdsl_core::metrics::ConfusionMatrix;
///
/// let mut m = ConfusionMatrix::new(2);
/// m.record(0, 0);
/// m.record(1, 0);
/// m.record(1, 1);
/// assert_eq!(m.count(1, 0), 1);
/// assert!((m.accuracy() - 2.0 / 3.0).abs() < 1e-6);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<usize>,
}

#[cfg(feature = "alloc")]
impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// The matrix of `network`'s arg-max predictions on `data`.
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn of<N, const IN: usize, const OUT: usize>(network: &N, data: &Dataset<IN, OUT>) -> Self
    where
        N: Network<In = [f32; IN], Out = [f32; OUT]>,
    {
        let mut matrix = Self::new(OUT);
        for i in 0..data.len() {
            matrix.record(
                argmax(&data.target(i)),
                argmax(&network.predict(&data.input(i))),
            );
        }
        matrix
    }

    /// Counts one sample of class `truth` predicted as `predicted`.
    ///
    /// # Panics
    ///
    /// If either is not below the number of classes.
    pub fn record(&mut self, truth: usize, predicted: usize) {
        assert!(
            truth < self.classes && predicted < self.classes,
            "class out of range"
        );
        self.counts[truth * self.classes + predicted] += 1;
    }

    /// Samples of class `truth` predicted as `predicted`.
    pub fn count(&self, truth: usize, predicted: usize) -> usize {
        self.counts[truth * self.classes + predicted]
    }

    /// The fraction on the diagonal.
    pub fn accuracy(&self) -> f32 {
        let total: usize = self.counts.iter().sum();
        let right: usize = (0..self.classes).map(|c| self.count(c, c)).sum();
        right as f32 / total.max(1) as f32
    }
}

#[cfg(feature = "alloc")]
impl fmt::Display for ConfusionMatrix {
    /// Rows are true classes, columns predicted ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .counts
            .iter()
            .max()
            .map_or(1, |m| m.to_string().len())
            .max(self.classes.to_string().len());
        write!(f, "{:>w$} |", "", w = width)?;
        for p in 0..self.classes {
            write!(f, " {p:>width$}")?;
        }
        writeln!(f)?;
        for t in 0..self.classes {
            write!(f, "{t:>width$} |")?;
            for p in 0..self.classes {
                write!(f, " {:>width$}", self.count(t, p))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), 1);
        assert_eq!(argmax(&[3.0]), 0);
    }

    #[test]
    fn top_k_counts_the_classes_that_beat_the_target() {
        let y = [0.1, 0.5, 0.3, 0.1];
        assert!(top_k_hit(&y, &[0.0, 1.0, 0.0, 0.0], 1));
        assert!(!top_k_hit(&y, &[0.0, 0.0, 1.0, 0.0], 1));
        assert!(top_k_hit(&y, &[0.0, 0.0, 1.0, 0.0], 2));
        // Class 3 ties with class 0, which wins the tie: rank 4.
        assert!(!top_k_hit(&y, &[0.0, 0.0, 0.0, 1.0], 3));
        assert!(top_k_hit(&y, &[0.0, 0.0, 0.0, 1.0], 4));
    }

    #[test]
    fn confusion_matrix_prints_true_rows_and_predicted_columns() {
        let mut m = ConfusionMatrix::new(2);
        for (t, p) in [(0, 0), (0, 0), (0, 1), (1, 1)] {
            m.record(t, p);
        }
        assert_eq!(m.to_string(), "  | 0 1\n0 | 2 1\n1 | 0 1\n");
        assert_eq!(m.accuracy(), 0.75);
    }

    #[test]
    fn hits() {
        assert!(categorical_hit(&[0.1, 0.8, 0.1], &[0.0, 1.0, 0.0]));
        assert!(!categorical_hit(&[0.6, 0.3, 0.1], &[0.0, 1.0, 0.0]));
        assert!(binary_hit(0.7, 1.0));
        assert!(!binary_hit(0.5, 1.0));
    }
}
