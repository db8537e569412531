//! Callbacks: code that runs between epochs of `fit`, as Keras' `callbacks=[...]`.
//!
//! A callback sees each epoch's [`EpochLogs`] (and each step's [`BatchLogs`]) and, through a
//! [`Context`], the optimizer (its learning rate and its state), the model's tensors, a way to
//! save its weights ([`Context::save_weights`]), the fit's parameters, progress and history, a
//! way to resume an earlier fit ([`Context::resume`]), and ways to stop training, or to fail it
//! with an error. Buffers a callback needs (the best weights of [`EarlyStopping`], the file
//! buffer of [`CsvLogger`]) are allocated in [`Callback::on_train_begin`]; the per-epoch and
//! per-step hooks of the callbacks here allocate nothing, except [`ModelCheckpoint`] and
//! [`BackupAndRestore`] when they write a file.

use std::error::Error;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{BatchLogs, EpochLogs, FitParams, History, Metrics, Progress};
use crate::layer::{Layer, TensorVisitor, TensorVisitorMut};
use crate::optim::Optimizer;

#[cfg(feature = "safetensors")]
#[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
pub use super::backup::{BackupAndRestore, BackupError};
#[cfg(feature = "safetensors")]
#[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
pub use super::checkpoint::{CheckpointError, Mode, ModelCheckpoint, SaveFreq};

/// The model as a [`Context`] shows it to callbacks: its weight tensors and, with the
/// `safetensors` feature, its weights file. `fit` gives a [`LayerAccess`] over the network it
/// trains.
pub trait ModelAccess {
    /// Calls `visit` with each weight tensor of the model, in a fixed order: its parameters,
    /// then what it keeps without training (batch normalization's moving statistics), as
    /// Keras' `model.get_weights()` lists them.
    fn visit_parameters(&mut self, visit: &mut dyn FnMut(&mut [f32]));

    /// Calls `visit` with each weight tensor's name, shape and values, as a weights file holds
    /// them ([`Layer::visit_tensors`]: `"dense_1.kernel"`, in Keras' shape, the non-trainable
    /// tensors included).
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>);

    /// [`ModelAccess::visit_tensors`] with the values mutable: the same names and shapes.
    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>);

    /// Writes the model's weights to `path` as [`Network::save_weights`] does: safetensors,
    /// each tensor under its name, the file replaced only once the new one is complete.
    ///
    /// [`Network::save_weights`]: crate::network::Network::save_weights
    ///
    /// # Errors
    ///
    /// As [`crate::weights::save`]; the file at `path` is then unchanged.
    #[cfg(feature = "safetensors")]
    #[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
    fn save_weights(&self, path: &Path) -> Result<(), crate::weights::Error>;
}

/// A [`Layer`] (a network) and a gradient buffer of it, as a [`ModelAccess`]: visiting
/// parameters pairs each tensor with its gradient, which callbacks do not see, then visits
/// [`Layer::visit_non_trainable`].
pub struct LayerAccess<'a, N: Layer> {
    layer: &'a mut N,
    grads: &'a mut N::Grads,
}

impl<'a, N: Layer> LayerAccess<'a, N> {
    /// Access to `layer`, visiting its parameters with `grads` (from [`Layer::new_grads`]).
    pub fn new(layer: &'a mut N, grads: &'a mut N::Grads) -> Self {
        Self { layer, grads }
    }
}

impl<N: Layer> ModelAccess for LayerAccess<'_, N> {
    fn visit_parameters(&mut self, visit: &mut dyn FnMut(&mut [f32])) {
        self.layer
            .visit_parameters(self.grads, &mut |parameters, _| visit(parameters));
        self.layer.visit_non_trainable(visit);
    }

    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        self.layer.visit_tensors(visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        self.layer.visit_tensors_mut(visit);
    }

    #[cfg(feature = "safetensors")]
    fn save_weights(&self, path: &Path) -> Result<(), crate::weights::Error> {
        crate::weights::save(&*self.layer, path)
    }
}

/// Access to the training run from inside a callback.
pub struct Context<'a> {
    optimizer: &'a mut dyn Optimizer,
    model: &'a mut dyn ModelAccess,
    params: FitParams,
    progress: Progress,
    history: &'a History,
    stop: bool,
    error: Option<Box<dyn Error + Send + Sync>>,
    resume: Option<(Progress, History)>,
}

/// The history of a context outside `fit`: no epoch.
static NO_HISTORY: History = History {
    loss: Vec::new(),
    accuracy: Vec::new(),
    val_loss: Vec::new(),
    val_accuracy: Vec::new(),
    learning_rate: Vec::new(),
    epoch_seconds: Vec::new(),
    metrics: std::collections::BTreeMap::new(),
};

impl<'a> Context<'a> {
    /// A context over an optimizer and the model (see [`LayerAccess`]), with default
    /// [`FitParams`], the [`Progress`] of a fit that has not started and an empty history (to
    /// test a callback; `fit` builds one for each hook with its own).
    pub fn new(optimizer: &'a mut dyn Optimizer, model: &'a mut dyn ModelAccess) -> Self {
        Self {
            optimizer,
            model,
            params: FitParams::default(),
            progress: Progress::default(),
            history: &NO_HISTORY,
            stop: false,
            error: None,
            resume: None,
        }
    }

    /// The context with the fit's `params`, its `progress` and the `history` of the epochs
    /// completed, as the hook sees them.
    pub fn in_fit(self, params: FitParams, progress: Progress, history: &'a History) -> Self {
        Self {
            params,
            progress,
            history,
            ..self
        }
    }

    /// The fit's parameters: epochs, steps, samples, batch size, threads, seed, shuffling.
    pub fn params(&self) -> FitParams {
        self.params
    }

    /// How far the fit has come when the hook runs (see [`Progress`]).
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// The history of the epochs completed, the one that just ended included (in
    /// `on_epoch_end`).
    pub fn history(&self) -> &History {
        self.history
    }

    /// Asks `fit` to continue an earlier fit from `progress`, its `history` being that of the
    /// epochs it completed: `fit` starts at epoch `progress.epochs + 1`, skips the
    /// `progress.steps` steps already taken of it (its `on_epoch_begin` ran in the earlier fit
    /// and does not run again), carries on its running sums and time, and returns `history`
    /// with the epochs it trains added. The callback puts back the weights and the optimizer's
    /// state itself; with the same data, options and seed, the fit then ends bit for bit as the
    /// earlier one would have (the order of samples and the dropout masks follow from the seed,
    /// the epoch and the optimizer's step count). Read after `on_train_begin` only, and the
    /// last call wins; a resume past the last epoch trains nothing, as Keras' `initial_epoch`.
    /// [`BackupAndRestore`] calls it.
    pub fn resume(&mut self, progress: Progress, history: History) {
        self.resume = Some((progress, history));
    }

    /// The optimizer, e.g. to read or restore its state ([`Optimizer::visit_state`],
    /// [`Optimizer::settings_mut`]).
    pub fn optimizer(&mut self) -> &mut dyn Optimizer {
        self.optimizer
    }

    /// The optimizer's learning rate in effect ([`Optimizer::learning_rate`]).
    pub fn learning_rate(&self) -> f32 {
        self.optimizer.learning_rate()
    }

    /// Sets a constant learning rate, which ends the optimizer's schedule, if it has one
    /// ([`Optimizer::set_learning_rate`]).
    pub fn set_learning_rate(&mut self, learning_rate: f32) {
        self.optimizer.set_learning_rate(learning_rate);
    }

    /// Calls `visit` with each weight tensor of the model, in a fixed order: its parameters,
    /// then what it keeps without training (batch normalization's moving statistics), as
    /// Keras' `model.get_weights()` lists them, so that a callback saving and restoring them
    /// restores the whole model.
    pub fn visit_parameters(&mut self, visit: &mut dyn FnMut(&mut [f32])) {
        self.model.visit_parameters(visit);
    }

    /// Calls `visit` with each of the model's tensors, named and shaped as a weights file holds
    /// them (see [`ModelAccess::visit_tensors`]).
    pub fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        self.model.visit_tensors(visit);
    }

    /// [`Context::visit_tensors`] with the values mutable.
    pub fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        self.model.visit_tensors_mut(visit);
    }

    /// Writes the model's weights to `path` (see [`ModelAccess::save_weights`]).
    ///
    /// # Errors
    ///
    /// As [`crate::weights::save`]; the file at `path` is then unchanged.
    #[cfg(feature = "safetensors")]
    #[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
    pub fn save_weights(&self, path: &Path) -> Result<(), crate::weights::Error> {
        self.model.save_weights(path)
    }

    /// Asks `fit` to stop after this epoch (Keras' `model.stop_training = True`).
    pub fn stop_training(&mut self) {
        self.stop = true;
    }

    /// Whether a callback asked to stop, or failed.
    pub fn stop_requested(&self) -> bool {
        self.stop || self.error.is_some()
    }

    /// Stops training at once with `error`, as a Keras callback that raises: `fit` runs no
    /// other callback and returns [`TrainError::Callback`](super::TrainError::Callback) with
    /// it, the model keeping the weights trained so far. The first error is kept.
    pub fn fail(&mut self, error: impl Into<Box<dyn Error + Send + Sync>>) {
        if self.error.is_none() {
            self.error = Some(error.into());
        }
    }

    /// The error a callback failed with, if one did.
    pub fn error(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        self.error.as_deref()
    }

    pub(super) fn take_error(&mut self) -> Option<Box<dyn Error + Send + Sync>> {
        self.error.take()
    }

    pub(super) fn take_resume(&mut self) -> Option<(Progress, History)> {
        self.resume.take()
    }
}

/// Code run by `fit` at the start, around each epoch, after each step and at the end of
/// training.
pub trait Callback {
    /// Before the first epoch; allocate what the callback needs here. A callback may resume
    /// an earlier fit from here ([`Context::resume`]).
    fn on_train_begin(&mut self, _context: &mut Context<'_>) {}

    /// Before each epoch (from 1), but an epoch a resumed fit continues midway, which began in
    /// the fit it resumes.
    fn on_epoch_begin(&mut self, _epoch: usize, _context: &mut Context<'_>) {}

    /// Before each step (Keras' `on_train_batch_begin`), `batch` counting the epoch's steps
    /// from 1. [`Context::stop_training`] here ends training after this step, as it does from
    /// [`Callback::on_train_batch_end`].
    fn on_train_batch_begin(&mut self, _batch: usize, _context: &mut Context<'_>) {}

    /// After each step (Keras' `on_train_batch_end`), once the optimizer has applied it, with
    /// the running logs of the epoch. [`Context::stop_training`] here ends the epoch after this
    /// step; its validation and `on_epoch_end` still run, as in Keras.
    fn on_train_batch_end(&mut self, _logs: &BatchLogs, _context: &mut Context<'_>) {}

    /// After each epoch, with its logs.
    fn on_epoch_end(&mut self, _logs: &EpochLogs, _context: &mut Context<'_>) {}

    /// After the last epoch, whether training ran its course or was stopped.
    fn on_train_end(&mut self, _context: &mut Context<'_>) {}

    /// Whether `fit` must check every batch's loss and gradients and stop, with an error and
    /// without applying that batch's update, when one is not finite. [`TerminateOnNan`] says yes.
    fn terminates_on_nan(&self) -> bool {
        false
    }
}

/// The quantity a callback watches, as Keras' `monitor="val_loss"`.
///
/// ```
/// use netdsl_core::train::callbacks::{EarlyStopping, Monitor};
///
/// // The validation AUC of a fit given `metrics::Auc::roc()`, which rises as it improves.
/// let early = EarlyStopping::new(Monitor::Metric("val_auc")).patience(3);
/// assert_eq!(Monitor::Metric("val_auc").keras_name(), "val_auc");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Monitor {
    /// Training loss.
    Loss,
    /// Training accuracy.
    Accuracy,
    /// Validation loss (the default).
    ValLoss,
    /// Validation accuracy.
    ValAccuracy,
    /// The value logged under a Keras key: a [metric](crate::metrics::Metric)'s name given to
    /// [`Fit::metric`](super::Fit::metric) (`"auc"`, `"precision"`), the same with `val_` for
    /// its validation value (`"val_auc"`), or `"loss"`, `"val_accuracy"`... A metric improves
    /// the way it says ([`Metric::higher_is_better`](crate::metrics::Metric::higher_is_better)),
    /// as Keras' `mode="auto"` decides.
    Metric(&'static str),
}

impl Monitor {
    /// Keras' name for it: `loss`, `accuracy`, `val_loss`, `val_accuracy`, or the metric's key.
    pub fn keras_name(self) -> &'static str {
        match self {
            Monitor::Loss => "loss",
            Monitor::Accuracy => "accuracy",
            Monitor::ValLoss => "val_loss",
            Monitor::ValAccuracy => "val_accuracy",
            Monitor::Metric(key) => key,
        }
    }

    /// The watched value in `logs`, if it was measured.
    pub fn value(self, logs: &EpochLogs) -> Option<f32> {
        logs.get(self.keras_name())
    }

    /// The watched value in a step's running `logs`: a training value (the validation values
    /// are measured after the epoch only).
    pub fn batch_value(self, logs: &BatchLogs) -> Option<f32> {
        logs.get(self.keras_name())
    }

    /// Whether a lower value is better, as Keras' `mode="auto"` decides: losses fall,
    /// accuracies rise, a metric moves the way it says in `train` (the training values of the
    /// logs, which name the metrics); an unknown key counts as a loss.
    pub(super) fn lower_is_better(self, train: &Metrics) -> bool {
        let key = self.keras_name();
        let name = key.strip_prefix("val_").unwrap_or(key);
        match name {
            "loss" => true,
            "accuracy" => false,
            _ => train.higher_is_better(name).is_none_or(|higher| !higher),
        }
    }
}

/// Whether `value` improves on `best` by more than `min_delta`, lower or higher being better.
fn improves(lower_is_better: bool, value: f32, best: f32, min_delta: f32) -> bool {
    if lower_is_better {
        value < best - min_delta
    } else {
        value > best + min_delta
    }
}

/// Stops training when the monitored quantity has not improved for `patience` epochs, and
/// optionally puts back the weights of the best epoch (Keras' `EarlyStopping`; defaults:
/// `val_loss`, `min_delta` 0, `patience` 0, no restoring).
#[derive(Debug)]
pub struct EarlyStopping {
    monitor: Monitor,
    min_delta: f32,
    patience: usize,
    restore_best_weights: bool,
    best: Option<f32>,
    best_epoch: usize,
    wait: usize,
    stopped_epoch: Option<usize>,
    best_weights: Vec<f32>,
    /// Whether it said that its value is not measured (once per fit, as Keras warns).
    warned: bool,
}

impl EarlyStopping {
    /// Watches `monitor` with Keras' other defaults.
    pub fn new(monitor: Monitor) -> Self {
        Self {
            monitor,
            min_delta: 0.0,
            patience: 0,
            restore_best_weights: false,
            best: None,
            best_epoch: 0,
            wait: 0,
            stopped_epoch: None,
            best_weights: Vec::new(),
            warned: false,
        }
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, min_delta: f32) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// Epochs without improvement before stopping.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Puts back the best epoch's weights when stopping.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// The epoch after which training stopped, if it did.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The epoch with the best monitored value so far.
    pub fn best_epoch(&self) -> usize {
        self.best_epoch
    }

    fn copy_weights(&mut self, context: &mut Context<'_>, into_model: bool) {
        let mut offset = 0;
        let best = &mut self.best_weights;
        context.visit_parameters(&mut |params| {
            let saved = &mut best[offset..offset + params.len()];
            if into_model {
                params.copy_from_slice(saved)
            } else {
                saved.copy_from_slice(params)
            }
            offset += params.len();
        });
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, context: &mut Context<'_>) {
        (self.best, self.best_epoch, self.wait, self.stopped_epoch) = (None, 0, 0, None);
        self.warned = false;
        if self.restore_best_weights {
            let mut count = 0;
            context.visit_parameters(&mut |params| count += params.len());
            self.best_weights = vec![0.0; count];
        }
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs, context: &mut Context<'_>) {
        let Some(value) = self.monitor.value(logs) else {
            if !self.warned {
                self.warned = true;
                eprintln!(
                    "netdsl: EarlyStopping watches `{}`, which this fit does not measure (no validation data, no accuracy for this loss, or no metric of this name); it will not stop training",
                    self.monitor.keras_name()
                );
            }
            return;
        };
        let lower = self.monitor.lower_is_better(&logs.train);
        let improved = self
            .best
            .is_none_or(|best| improves(lower, value, best, self.min_delta));
        if improved {
            (self.best, self.best_epoch, self.wait) = (Some(value), logs.epoch, 0);
            if self.restore_best_weights {
                self.copy_weights(context, false);
            }
            return;
        }
        self.wait += 1;
        if self.wait >= self.patience {
            self.stopped_epoch = Some(logs.epoch);
            context.stop_training();
            if self.restore_best_weights {
                self.copy_weights(context, true);
            }
        }
    }
}

/// Sets the learning rate at the start of each epoch from `schedule(epoch, current)` (Keras'
/// `LearningRateScheduler`, epochs counted from 1 here). Setting it ends an optimizer's own
/// schedule, if it has one (see [`Optimizer::set_learning_rate`]).
pub struct LearningRateScheduler<F> {
    schedule: F,
}

impl<F: FnMut(usize, f32) -> f32> LearningRateScheduler<F> {
    /// Uses `schedule(epoch, current learning rate)` as each epoch's learning rate.
    pub fn new(schedule: F) -> Self {
        Self { schedule }
    }
}

impl<F: FnMut(usize, f32) -> f32> Callback for LearningRateScheduler<F> {
    fn on_epoch_begin(&mut self, epoch: usize, context: &mut Context<'_>) {
        let rate = (self.schedule)(epoch, context.learning_rate());
        context.set_learning_rate(rate);
    }
}

/// Multiplies the learning rate by `factor` when the monitored quantity has not improved for
/// `patience` epochs (Keras' `ReduceLROnPlateau`; defaults: `val_loss`, factor 0.1, patience 10,
/// `min_delta` 1e-4, cooldown 0, `min_lr` 0). Under an optimizer's schedule, it multiplies the
/// rate in effect, and the reduced rate replaces the schedule (see
/// [`Optimizer::set_learning_rate`]).
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    monitor: Monitor,
    factor: f32,
    patience: usize,
    min_delta: f32,
    cooldown: usize,
    min_lr: f32,
    best: Option<f32>,
    wait: usize,
    cooldown_left: usize,
}

impl ReduceLrOnPlateau {
    /// Watches `monitor` with Keras' other defaults.
    pub fn new(monitor: Monitor) -> Self {
        Self {
            monitor,
            factor: 0.1,
            patience: 10,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            best: None,
            wait: 0,
            cooldown_left: 0,
        }
    }

    /// The factor applied to the learning rate.
    pub fn factor(mut self, factor: f32) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement before reducing.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Epochs to wait after a reduction before counting again.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The lowest learning rate it will set.
    pub fn min_lr(mut self, min_lr: f32) -> Self {
        self.min_lr = min_lr;
        self
    }
}

impl Callback for ReduceLrOnPlateau {
    fn on_train_begin(&mut self, _context: &mut Context<'_>) {
        (self.best, self.wait, self.cooldown_left) = (None, 0, 0);
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs, context: &mut Context<'_>) {
        let Some(value) = self.monitor.value(logs) else {
            return;
        };
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        let lower = self.monitor.lower_is_better(&logs.train);
        if self
            .best
            .is_none_or(|best| improves(lower, value, best, self.min_delta))
        {
            (self.best, self.wait) = (Some(value), 0);
        } else if self.cooldown_left == 0 {
            self.wait += 1;
            if self.wait >= self.patience {
                let reduced = (context.learning_rate() * self.factor).max(self.min_lr);
                context.set_learning_rate(reduced);
                (self.cooldown_left, self.wait) = (self.cooldown, 0);
            }
        }
    }
}

/// Stops training with an error naming the epoch and batch as soon as a batch's loss or
/// gradients are not finite, before that batch's update: the model keeps the last finite
/// weights (Keras' `TerminateOnNaN`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TerminateOnNan;

impl Callback for TerminateOnNan {
    fn terminates_on_nan(&self) -> bool {
        true
    }
}

/// A closure run after each epoch with its logs (Keras' `LambdaCallback(on_epoch_end=...)`).
pub struct LambdaCallback<F> {
    on_epoch_end: F,
}

impl<F: FnMut(&EpochLogs)> LambdaCallback<F> {
    /// Runs `on_epoch_end(logs)` after each epoch.
    pub fn on_epoch_end(on_epoch_end: F) -> Self {
        Self { on_epoch_end }
    }
}

impl<F: FnMut(&EpochLogs)> Callback for LambdaCallback<F> {
    fn on_epoch_end(&mut self, logs: &EpochLogs, _context: &mut Context<'_>) {
        (self.on_epoch_end)(logs);
    }
}

/// Writes each epoch's logs as a row of a CSV file (Keras' `CSVLogger(filename, separator=",",
/// append=False)`).
///
/// The columns are Keras 3's, its log keys sorted: `epoch` (from 0, as Keras counts in the
/// file), `accuracy` (when the loss has one), `learning_rate`, `loss`, then `val_accuracy` and
/// `val_loss` when there is validation data, and the [metrics](super::Fit::metric) among them
/// by their keys (`auc` before `learning_rate`, `val_auc` before `val_loss`) (without it, Keras 3 adds `val_` columns of `NA`,
/// meant for `validation_freq`, which `fit` does not have; they are left out here). Numbers are Rust's shortest round-trip `{}` of the
/// `f32` logs; rows end in `\r\n`, as Python's `csv` module writes them. The header goes into a
/// new or empty file only, so appending to an earlier log continues its table. Each row is
/// flushed: a fit killed midway leaves the rows of its finished epochs.
///
/// A log that cannot be written does not stop training: the first I/O error is kept
/// ([`CsvLogger::error`]), printed once to standard error, and no more rows are written in that
/// fit (a partial row followed by others would not parse).
///
/// ```
/// use netdsl_core::activation::Sigmoid;
/// use netdsl_core::data::Dataset;
/// use netdsl_core::layers::Dense;
/// use netdsl_core::loss::BinaryCrossentropy;
/// use netdsl_core::optim::Sgd;
/// use netdsl_core::train::callbacks::CsvLogger;
/// use netdsl_core::train::{Fit, Trainer, Verbose};
///
/// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// let data = Dataset::<2, 1>::from_arrays(inputs.to_vec(), vec![[0.0], [0.0], [0.0], [1.0]])?;
/// let mut model = Dense::<2, 1, Sigmoid>::from_parameters([[0.0], [0.0]], Some([0.0]));
/// let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(1.0), BinaryCrossentropy);
///
/// let path = std::env::temp_dir().join(format!("netdsl-csv-logger-{}.csv", std::process::id()));
/// let mut logger = CsvLogger::new(&path);
/// let options = Fit::epochs(2).validation_data(&data).verbose(Verbose::Silent).callback(&mut logger);
/// let history = trainer.fit(&mut model, &data, options)?;
/// assert!(logger.error().is_none());
///
/// let log = std::fs::read_to_string(&path)?;
/// let mut lines = log.lines();
/// assert_eq!(lines.next(), Some("epoch,accuracy,learning_rate,loss,val_accuracy,val_loss"));
/// assert_eq!(lines.next().unwrap(), format!("0,{},1,{},{},{}",
///     history.accuracy[0], history.loss[0], history.val_accuracy[0], history.val_loss[0]));
/// assert_eq!(lines.count(), 1);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CsvLogger {
    path: PathBuf,
    separator: char,
    append: bool,
    file: Option<BufWriter<File>>,
    /// Whether the next row needs the header above it: the file had no content when opened.
    header_due: bool,
    error: Option<io::Error>,
}

impl CsvLogger {
    /// Logs to `path`, separated by commas, replacing the file's content at each fit's start.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            separator: ',',
            append: false,
            file: None,
            header_due: false,
            error: None,
        }
    }

    /// The field separator (Keras' `separator`; default `,`). Nothing is quoted, so it must not
    /// occur in numbers or column names (`.`, `_`, digits, letters).
    pub fn separator(mut self, separator: char) -> Self {
        self.separator = separator;
        self
    }

    /// Adds rows to the file's content instead of replacing it (Keras' `append`; default no).
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }

    /// The file it writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first I/O error of the last fit, if the log could not be opened or written; the rows
    /// before it are in the file.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    fn open(&mut self) -> io::Result<BufWriter<File>> {
        let file = if self.append {
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.path)?
        } else {
            File::create(&self.path)?
        };
        // Keras writes the header when the file's first line is empty, i.e. the file is.
        self.header_due = file.metadata()?.len() == 0;
        Ok(BufWriter::new(file))
    }

    /// Keeps the first error and says it once: later hooks find no file and do nothing.
    fn fail(&mut self, error: io::Error) {
        self.file = None;
        if self.error.is_none() {
            eprintln!(
                "netdsl: CsvLogger cannot write `{}`: {error}; training goes on without its log",
                self.path.display()
            );
            self.error = Some(error);
        }
    }
}

/// One row of `logs`, under the header if `header`; the columns present are those of `logs`,
/// in the order of their keys (Keras sorts them).
fn write_csv_row(out: &mut dyn Write, sep: char, header: bool, logs: &EpochLogs) -> io::Result<()> {
    // Every column but `epoch` (at most the learning rate, accuracy, loss and the metrics,
    // twice), sorted without allocating.
    const COLUMNS: usize = 1 + 2 * (2 + crate::metrics::MAX_METRICS);
    let mut columns = [("", "", 0.0); COLUMNS];
    let mut count = 0;
    let rate = ("", "learning_rate", logs.learning_rate);
    let validation = logs.validation.as_ref().map(|v| v.named("val_"));
    for column in logs
        .train
        .named("")
        .chain(validation.into_iter().flatten())
        .chain([rate])
        .take(COLUMNS)
    {
        columns[count] = column;
        count += 1;
    }
    let columns = &mut columns[..count];
    columns.sort_unstable_by(|a, b| column_key(a).cmp(column_key(b)));
    if header {
        out.write_all(b"epoch")?;
        for (prefix, name, _) in columns.iter() {
            write!(out, "{sep}{prefix}{name}")?;
        }
        out.write_all(b"\r\n")?;
    }
    write!(out, "{}", logs.epoch - 1)?;
    for (_, _, value) in columns.iter() {
        write!(out, "{sep}{value}")?;
    }
    out.write_all(b"\r\n")
}

/// A column's key, `val_` and a name, as bytes.
fn column_key<'k>(&(prefix, name, _): &(&'k str, &'k str, f32)) -> impl Iterator<Item = u8> + 'k {
    prefix.bytes().chain(name.bytes())
}

impl Callback for CsvLogger {
    fn on_train_begin(&mut self, _context: &mut Context<'_>) {
        (self.file, self.error) = (None, None);
        match self.open() {
            Ok(file) => self.file = Some(file),
            Err(error) => self.fail(error),
        }
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs, _context: &mut Context<'_>) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let written = write_csv_row(file, self.separator, self.header_due, logs);
        match written.and_then(|()| file.flush()) {
            Ok(()) => self.header_due = false,
            Err(error) => self.fail(error),
        }
    }

    fn on_train_end(&mut self, _context: &mut Context<'_>) {
        // Every row is flushed already; this closes the file, as Keras does.
        if let Some(mut file) = self.file.take()
            && let Err(error) = file.flush()
        {
            self.fail(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Linear, Sigmoid};
    use crate::data::Dataset;
    use crate::layers::Dense;
    use crate::loss::{BinaryCrossentropy, MeanSquaredError};
    use crate::optim::Sgd;
    use crate::train::{Fit, History, Metrics, Trainer, Verbose};

    fn logs(epoch: usize, val_loss: f32) -> EpochLogs {
        EpochLogs {
            epoch,
            train: Metrics {
                loss: 1.0,
                accuracy: Some(0.5),
                ..Metrics::default()
            },
            validation: Some(Metrics {
                loss: val_loss,
                accuracy: Some(0.5),
                ..Metrics::default()
            }),
            learning_rate: 0.1,
            seconds: 0.0,
            steps: 1,
        }
    }

    /// Runs `callback` over validation losses `losses` on a one-parameter model whose weight
    /// is set to the epoch number before each epoch ends; returns (weight, lr, epochs run).
    fn run(callback: &mut dyn Callback, losses: &[f32]) -> (f32, f32, usize) {
        let mut optimizer = Sgd::new(0.1);
        let mut model = Dense::<1, 1, Linear>::from_parameters([[0.0]], None);
        let mut grads = model.new_grads();
        let mut access = LayerAccess::new(&mut model, &mut grads);
        let mut epochs = 0;
        {
            let mut context = Context::new(&mut optimizer, &mut access);
            callback.on_train_begin(&mut context);
        }
        for (i, &loss) in losses.iter().enumerate() {
            let epoch = i + 1;
            access.visit_parameters(&mut |p| p[0] = epoch as f32);
            let mut context = Context::new(&mut optimizer, &mut access);
            callback.on_epoch_begin(epoch, &mut context);
            callback.on_epoch_end(&logs(epoch, loss), &mut context);
            epochs = epoch;
            if context.stop_requested() {
                break;
            }
        }
        let mut weight = 0.0;
        access.visit_parameters(&mut |p| weight = p[0]);
        (weight, optimizer.learning_rate(), epochs)
    }

    #[test]
    fn early_stopping_waits_patience_epochs_then_restores_the_best() {
        let mut early = EarlyStopping::new(Monitor::ValLoss)
            .patience(2)
            .restore_best_weights(true);
        let (weight, _, epochs) = run(&mut early, &[0.5, 0.4, 0.45, 0.42, 0.41, 0.1]);
        assert_eq!(
            epochs, 4,
            "epochs 3 and 4 did not improve on 0.4; patience 2 stops after epoch 4"
        );
        assert_eq!(early.stopped_epoch(), Some(4));
        assert_eq!(weight, 2.0, "the weights of epoch 2, the best, are back");
    }

    #[test]
    fn early_stopping_says_once_that_its_value_is_not_measured() {
        // The logs `run` gives have validation; watching training accuracy of a fit that
        // measures none (a regression) is the case Keras warns about.
        let mut early = EarlyStopping::new(Monitor::Accuracy);
        let mut logs_without = logs(1, 0.5);
        logs_without.train.accuracy = None;
        let mut optimizer = Sgd::new(0.1);
        let mut model = Dense::<1, 1, Linear>::from_parameters([[0.0]], None);
        let mut grads = model.new_grads();
        let mut access = LayerAccess::new(&mut model, &mut grads);
        let mut context = Context::new(&mut optimizer, &mut access);
        early.on_train_begin(&mut context);
        assert!(!early.warned);
        early.on_epoch_end(&logs_without, &mut context);
        assert!(early.warned, "the missing value is reported");
        assert!(!context.stop_requested());
        assert_eq!(Monitor::ValLoss.keras_name(), "val_loss");
    }

    #[test]
    fn early_stopping_counts_only_improvements_beyond_min_delta() {
        let mut early = EarlyStopping::new(Monitor::ValLoss).min_delta(0.05);
        let (_, _, epochs) = run(&mut early, &[0.5, 0.48, 0.1]);
        assert_eq!(epochs, 2, "0.48 is within 0.05 of 0.5");
    }

    #[test]
    fn reduce_on_plateau_multiplies_the_learning_rate() {
        let mut reduce = ReduceLrOnPlateau::new(Monitor::ValLoss)
            .patience(2)
            .factor(0.5);
        let (_, lr, _) = run(&mut reduce, &[0.5, 0.6, 0.6, 0.6, 0.6]);
        assert_eq!(lr, 0.025, "two reductions: after epochs 3 and 5");
    }

    #[test]
    fn the_scheduler_sets_each_epoch_learning_rate() {
        let mut scheduler = LearningRateScheduler::new(|epoch, _| 1.0 / epoch as f32);
        let (_, lr, _) = run(&mut scheduler, &[0.5, 0.5, 0.5, 0.5]);
        assert_eq!(lr, 0.25);
    }

    /// AND of two inputs, 4 copies: two steps an epoch at batch 8.
    fn and() -> Dataset<2, 1> {
        let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
        let targets = [[0.0], [0.0], [0.0], [1.0]];
        Dataset::from_arrays(inputs.repeat(4), targets.repeat(4)).unwrap()
    }

    /// `epochs` of a logistic regression on AND, validated on AND, logged by `logger`.
    fn fit_and(logger: &mut CsvLogger, epochs: usize) -> History {
        let data = and();
        let mut model = Dense::<2, 1, Sigmoid>::from_parameters([[0.0], [0.0]], Some([0.0]));
        let mut trainer = Trainer::<_, _, _, 8>::new(&model, Sgd::new(1.0), BinaryCrossentropy);
        let options = Fit::epochs(epochs)
            .validation_data(&data)
            .verbose(Verbose::Silent)
            .callback(logger);
        trainer.fit(&mut model, &data, options).unwrap()
    }

    /// The file's lines, each split at `sep`; checks the `\r\n` ends.
    fn read_csv(path: &Path, sep: char) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.ends_with("\r\n"), "{text:?}");
        let rows = text.strip_suffix("\r\n").unwrap().split("\r\n");
        rows.map(|row| row.split(sep).map(str::to_owned).collect())
            .collect()
    }

    fn numbers(row: &[String]) -> Vec<f32> {
        row[1..]
            .iter()
            .map(|field| field.parse().unwrap())
            .collect()
    }

    #[test]
    fn the_csv_logger_writes_a_header_and_the_history_of_each_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let mut logger = CsvLogger::new(&path);
        let history = fit_and(&mut logger, 3);
        assert!(logger.error().is_none(), "{:?}", logger.error());
        let rows = read_csv(&path, ',');
        assert_eq!(
            rows[0],
            [
                "epoch",
                "accuracy",
                "learning_rate",
                "loss",
                "val_accuracy",
                "val_loss"
            ]
        );
        assert_eq!(rows.len(), 4, "the header and 3 rows: {rows:?}");
        for (epoch, row) in rows[1..].iter().enumerate() {
            assert_eq!(row[0], epoch.to_string(), "epochs from 0, as Keras");
            let expected = [
                history.accuracy[epoch],
                history.learning_rate[epoch],
                history.loss[epoch],
                history.val_accuracy[epoch],
                history.val_loss[epoch],
            ];
            assert_eq!(numbers(row), expected, "the shortest `{{}}` round-trips");
        }
    }

    #[test]
    fn appending_adds_rows_under_one_header_and_not_appending_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let mut logger = CsvLogger::new(&path).append(true);
        let first = fit_and(&mut logger, 2);
        fit_and(&mut logger, 2);
        let rows = read_csv(&path, ',');
        assert_eq!(rows.len(), 5, "one header, 2 + 2 rows: {rows:?}");
        assert_eq!(rows[0][0], "epoch");
        let epochs: Vec<&str> = rows[1..].iter().map(|row| row[0].as_str()).collect();
        assert_eq!(epochs, ["0", "1", "0", "1"]);
        assert_eq!(numbers(&rows[3])[2], first.loss[0], "the same seeded fit");

        let mut logger = CsvLogger::new(&path);
        fit_and(&mut logger, 1);
        assert_eq!(
            read_csv(&path, ',').len(),
            2,
            "replaced: the header and 1 row"
        );
    }

    #[test]
    fn a_regression_has_no_accuracy_columns() {
        let xs: Vec<f32> = (0..8).map(|i| i as f32 / 8.0).collect();
        let data = Dataset::<1, 1>::from_arrays(
            xs.iter().map(|&x| [x]).collect(),
            xs.iter().map(|&x| [2.0 * x]).collect(),
        )
        .unwrap();
        let mut model = Dense::<1, 1, Linear>::from_parameters([[0.0]], Some([0.0]));
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.1), MeanSquaredError);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let mut logger = CsvLogger::new(&path).separator(';');
        let options = Fit::epochs(2)
            .validation_split(0.25)
            .verbose(Verbose::Silent)
            .callback(&mut logger);
        let history = trainer.fit(&mut model, &data, options).unwrap();
        let rows = read_csv(&path, ';');
        assert_eq!(rows[0], ["epoch", "learning_rate", "loss", "val_loss"]);
        assert_eq!(rows.len(), 3, "{rows:?}");
        let expected = [
            history.learning_rate[1],
            history.loss[1],
            history.val_loss[1],
        ];
        assert_eq!(numbers(&rows[2]), expected);
    }

    #[test]
    fn an_unwritable_log_is_reported_and_training_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no such directory").join("log.csv");
        for path in [dir.path(), missing.as_path()] {
            let mut logger = CsvLogger::new(path);
            let history = fit_and(&mut logger, 3);
            assert_eq!(history.epochs(), 3, "{}", path.display());
            assert!(logger.error().is_some(), "{}", path.display());
        }
        assert!(!missing.exists());
        // The next fit to a good path starts without the old error.
        let mut logger = CsvLogger::new(&missing);
        fit_and(&mut logger, 1);
        assert!(logger.error().is_some());
        std::fs::create_dir(missing.parent().unwrap()).unwrap();
        fit_and(&mut logger, 1);
        assert!(logger.error().is_none(), "{:?}", logger.error());
    }
}
