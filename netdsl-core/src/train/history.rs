//! What `fit` and `evaluate` report.

use std::collections::BTreeMap;

use crate::metrics::MetricValues;

/// Loss, accuracy and the other metrics asked for over a dataset, as Keras' `evaluate` returns
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metrics {
    /// The mean loss per sample.
    pub loss: f32,
    /// The fraction of samples predicted correctly; `None` when accuracy does not apply to
    /// the loss (a regression: see [`crate::loss::Loss::ACCURACY`]).
    pub accuracy: Option<f32>,
    /// The results of the [metrics](crate::metrics::Metric) given to
    /// [`Fit::metric`](super::Fit::metric) or [`Trainer::evaluate_with`](super::Trainer::evaluate_with),
    /// by name; empty otherwise.
    pub metrics: MetricValues,
}

impl Metrics {
    /// The value logged as `name` (without `val_`): `loss`, `accuracy` (when it applies), or
    /// a metric's [name](crate::metrics::Metric::name).
    ///
    /// ```
    /// use netdsl_core::train::Metrics;
    ///
    /// let metrics = Metrics { loss: 0.5, accuracy: None, ..Metrics::default() };
    /// assert_eq!(metrics.get("loss"), Some(0.5));
    /// assert_eq!(metrics.get("accuracy"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<f32> {
        match name {
            "loss" => Some(self.loss),
            "accuracy" => self.accuracy,
            _ => self.metrics.get(name),
        }
    }

    /// Whether a higher value of `name` is better: not for the loss, yes for accuracy, as the
    /// metric says for the others (`None` for a name not logged).
    pub fn higher_is_better(&self, name: &str) -> Option<bool> {
        match name {
            "loss" => Some(false),
            "accuracy" => self.accuracy.map(|_| true),
            _ => self.metrics.find(name).map(|value| value.higher_is_better),
        }
    }

    /// Each value logged, under its name with `prefix` before it (`""` or `"val_"`): accuracy,
    /// loss and the metrics, in the order of their names (Keras' sorted logs).
    pub(super) fn named<'m>(
        &'m self,
        prefix: &'static str,
    ) -> impl Iterator<Item = (&'static str, &'m str, f32)> + 'm {
        let accuracy = self.accuracy.map(|a| (prefix, "accuracy", a));
        let loss = Some((prefix, "loss", self.loss));
        accuracy
            .into_iter()
            .chain(loss)
            .chain(self.metrics.iter().map(move |m| (prefix, m.name, m.value)))
    }
}

/// Sums over the samples of an epoch's steps so far (or of an evaluation), whose means are its
/// [`Metrics`]. A fit resumed midway ([`Progress`](super::Progress)) continues its epoch's sums
/// from them, so the epoch's means are those of an uninterrupted fit, bit for bit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    /// The summed loss of the samples.
    pub loss: f64,
    /// The samples predicted correctly (counted for every loss; reported only where accuracy
    /// applies).
    pub hits: usize,
    /// The samples.
    pub samples: usize,
}

impl Totals {
    /// The mean loss, and the accuracy when `accuracy` (it applies to the loss: see
    /// [`crate::loss::Loss::ACCURACY`]): NaN over no samples at all, not a perfect-looking 0.
    ///
    /// ```
    /// use netdsl_core::train::Totals;
    ///
    /// let totals = Totals { loss: 3.0, hits: 3, samples: 4 };
    /// let metrics = totals.metrics(true);
    /// assert_eq!((metrics.loss, metrics.accuracy), (0.75, Some(0.75)));
    /// assert_eq!(totals.metrics(false).accuracy, None);
    /// ```
    pub fn metrics(&self, accuracy: bool) -> Metrics {
        let n = self.samples as f64;
        Metrics {
            loss: (self.loss / n) as f32,
            accuracy: accuracy.then_some((self.hits as f64 / n) as f32),
            metrics: MetricValues::default(),
        }
    }

    pub(super) fn add(&mut self, other: Totals) {
        self.loss += other.loss;
        self.hits += other.hits;
        self.samples += other.samples;
    }
}

/// What one epoch of `fit` measured, as Keras hands `logs` to callbacks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochLogs {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Training loss and accuracy, averaged over the epoch's batches as they were trained.
    pub train: Metrics,
    /// Loss and accuracy on the validation data after the epoch, if there is any.
    pub validation: Option<Metrics>,
    /// The learning rate in effect at the end of the epoch: under a schedule, the rate of the
    /// epoch's last step ([`crate::optim::Optimizer::learning_rate`]).
    pub learning_rate: f32,
    /// Wall-clock seconds of the epoch's training (validation excluded).
    pub seconds: f64,
    /// Batches trained.
    pub steps: usize,
}

impl EpochLogs {
    /// The value logged under Keras' key `key`: `loss`, `accuracy`, a metric's name, the same
    /// with `val_` for the validation data, or `learning_rate`; `None` when this fit does not log
    /// it.
    ///
    /// ```
    /// use netdsl_core::train::{EpochLogs, Metrics};
    ///
    /// let logs = EpochLogs {
    ///     epoch: 1,
    ///     train: Metrics { loss: 0.5, accuracy: Some(0.75), ..Metrics::default() },
    ///     validation: None,
    ///     learning_rate: 0.01,
    ///     seconds: 1.0,
    ///     steps: 10,
    /// };
    /// assert_eq!(logs.get("accuracy"), Some(0.75));
    /// assert_eq!(logs.get("val_loss"), None);
    /// assert_eq!(logs.get("learning_rate"), Some(0.01));
    /// ```
    pub fn get(&self, key: &str) -> Option<f32> {
        match key.strip_prefix("val_") {
            Some(name) => self.validation.and_then(|v| v.get(name)),
            None if key == "learning_rate" => Some(self.learning_rate),
            None => self.train.get(key),
        }
    }
}

/// What one step of `fit` measured, as Keras hands `logs` to `on_train_batch_end`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchLogs {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The step within the epoch, from 1 (a step trains `threads × B` samples).
    pub batch: usize,
    /// Training loss and accuracy averaged over the epoch's steps so far, this one included
    /// (Keras' running metrics).
    pub train: Metrics,
    /// The learning rate in effect after the step ([`crate::optim::Optimizer::learning_rate`]).
    pub learning_rate: f32,
}

impl BatchLogs {
    /// The running value logged under `key` (`loss`, `accuracy`, a metric's name,
    /// `learning_rate`); `None` for validation values, measured after the epoch only.
    pub fn get(&self, key: &str) -> Option<f32> {
        match key {
            "learning_rate" => Some(self.learning_rate),
            _ if key.starts_with("val_") => None,
            _ => self.train.get(key),
        }
    }
}

/// Per-epoch logs of a `fit`, one entry per epoch in each vector, as Keras' `History.history`.
/// `val_loss` and `val_accuracy` stay empty without validation data, `accuracy` and
/// `val_accuracy` when accuracy does not apply to the loss (a regression). The metrics given to
/// [`Fit::metric`](super::Fit::metric) are in [`History::metrics`], under their Keras keys;
/// [`History::get`] reads any of them by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Mean training loss of each epoch (averaged over the batches as they were trained).
    pub loss: Vec<f32>,
    /// Training accuracy of each epoch.
    pub accuracy: Vec<f32>,
    /// Validation loss after each epoch.
    pub val_loss: Vec<f32>,
    /// Validation accuracy after each epoch.
    pub val_accuracy: Vec<f32>,
    /// The learning rate in effect at the end of each epoch: under a schedule, the rate of the
    /// epoch's last step.
    pub learning_rate: Vec<f32>,
    /// Wall-clock seconds of each epoch's training (validation excluded).
    pub epoch_seconds: Vec<f64>,
    /// Each metric's value after each epoch, under its name (`precision`) and, with validation
    /// data, its validation value under `val_` and its name (`val_precision`).
    pub metrics: BTreeMap<String, Vec<f32>>,
}

impl History {
    pub(crate) fn with_capacity(epochs: usize) -> Self {
        Self {
            loss: Vec::with_capacity(epochs),
            accuracy: Vec::with_capacity(epochs),
            val_loss: Vec::with_capacity(epochs),
            val_accuracy: Vec::with_capacity(epochs),
            learning_rate: Vec::with_capacity(epochs),
            epoch_seconds: Vec::with_capacity(epochs),
            metrics: BTreeMap::new(),
        }
    }

    /// A column for the metric logged under `key`, unless there is one, with room for
    /// `epochs` epochs in all.
    pub(crate) fn add_metric(&mut self, key: String, epochs: usize) {
        let column = self.metrics.entry(key).or_default();
        column.reserve(epochs.saturating_sub(column.len()));
    }

    /// The values of each epoch logged under Keras' key `key`: `loss`, `accuracy`, `val_loss`,
    /// `val_accuracy`, `learning_rate` or a metric's (`auc`, `val_auc`); `None` for a key this
    /// history does not have.
    pub fn get(&self, key: &str) -> Option<&[f32]> {
        let column = match key {
            "loss" => &self.loss,
            "accuracy" => &self.accuracy,
            "val_loss" => &self.val_loss,
            "val_accuracy" => &self.val_accuracy,
            "learning_rate" => &self.learning_rate,
            _ => return self.metrics.get(key).map(Vec::as_slice),
        };
        Some(column)
    }

    /// Room for `epochs` epochs in all, so that pushing them allocates nothing.
    pub(crate) fn reserve_epochs(&mut self, epochs: usize) {
        let more = epochs.saturating_sub(self.epochs());
        self.loss.reserve(more);
        self.accuracy.reserve(more);
        self.val_loss.reserve(more);
        self.val_accuracy.reserve(more);
        self.learning_rate.reserve(more);
        self.epoch_seconds.reserve(more);
        for column in self.metrics.values_mut() {
            column.reserve(epochs.saturating_sub(column.len()));
        }
    }

    pub(crate) fn push(&mut self, logs: &EpochLogs) {
        self.loss.push(logs.train.loss);
        self.accuracy.extend(logs.train.accuracy);
        if let Some(val) = logs.validation {
            self.val_loss.push(val.loss);
            self.val_accuracy.extend(val.accuracy);
        }
        self.learning_rate.push(logs.learning_rate);
        self.epoch_seconds.push(logs.seconds);
        for (key, column) in &mut self.metrics {
            if let Some(value) = logs.get(key) {
                column.push(value);
            }
        }
    }

    /// The number of epochs recorded.
    pub fn epochs(&self) -> usize {
        self.loss.len()
    }
}
