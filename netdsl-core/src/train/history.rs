//! What `fit` and `evaluate` report.

/// Loss and accuracy over a dataset, as Keras' `evaluate` returns them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metrics {
    /// The mean loss per sample.
    pub loss: f32,
    /// The fraction of samples predicted correctly; `None` when accuracy does not apply to
    /// the loss (a regression: see [`crate::loss::Loss::ACCURACY`]).
    pub accuracy: Option<f32>,
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

/// Per-epoch logs of a `fit`, one entry per epoch in each vector, as Keras' `History.history`.
/// `val_loss` and `val_accuracy` stay empty without validation data, `accuracy` and
/// `val_accuracy` when accuracy does not apply to the loss (a regression).
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
        }
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
    }

    /// The number of epochs recorded.
    pub fn epochs(&self) -> usize {
        self.loss.len()
    }
}
