//! The values of a fit's metrics at one moment, kept inline so that logs stay `Copy` and making
//! them allocates nothing.

use super::Metric;

/// The most metrics a fit or an evaluation measures besides its loss and accuracy.
pub const MAX_METRICS: usize = 16;

/// One metric's value, under its name.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MetricValue {
    /// The metric's [name](Metric::name), without `val_`.
    pub name: &'static str,
    /// Its result.
    pub value: f32,
    /// Whether a higher value is better ([`Metric::higher_is_better`]).
    pub higher_is_better: bool,
}

/// The results of the metrics of a fit or an evaluation, in the order they were given (at most
/// [`MAX_METRICS`]), as [`Metrics::metrics`](crate::train::Metrics) holds them.
///
/// ```
/// use netdsl_core::metrics::{Metric, MetricValues, Precision};
///
/// let mut precision = Precision::new();
/// precision.update(&[0.9], &[1.0]);
/// precision.update(&[0.7], &[0.0]);
/// let values = MetricValues::of([&precision as &dyn Metric]);
/// assert_eq!(values.get("precision"), Some(0.5));
/// assert_eq!(values.get("recall"), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MetricValues {
    len: usize,
    values: [MetricValue; MAX_METRICS],
}

impl MetricValues {
    /// The results of `metrics` now; those past the first [`MAX_METRICS`] are left out (`fit`
    /// refuses more before training).
    pub fn of<'m>(metrics: impl IntoIterator<Item = &'m dyn Metric>) -> Self {
        let mut values = Self::default();
        for metric in metrics.into_iter().take(MAX_METRICS) {
            values.values[values.len] = MetricValue {
                name: metric.name(),
                value: metric.result(),
                higher_is_better: metric.higher_is_better(),
            };
            values.len += 1;
        }
        values
    }

    /// The value of the metric named `name`.
    pub fn get(&self, name: &str) -> Option<f32> {
        self.find(name).map(|value| value.value)
    }

    /// The metric named `name`, with its direction.
    pub fn find(&self, name: &str) -> Option<&MetricValue> {
        self.iter().find(|value| value.name == name)
    }

    /// Each metric's value, in the order the metrics were given.
    pub fn iter(&self) -> impl Iterator<Item = &MetricValue> {
        self.values[..self.len].iter()
    }

    /// How many metrics there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
