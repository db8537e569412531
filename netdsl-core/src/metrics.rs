//! Accuracy in its forms (categorical, binary, top-k) and the confusion matrix of a classifier.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

#[cfg(feature = "alloc")]
use core::fmt;

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
