//! Keras' `ModelCheckpoint`: the network's weights saved during `fit`, every epoch or every
//! `n` steps, or only when the monitored value improves.

use std::io;
use std::path::{Path, PathBuf};

use super::callbacks::{Callback, Context, Monitor};
use super::template::{Name, Template, Values};
use super::{BatchLogs, EpochLogs};
use crate::weights;

/// Which way the monitored value improves (Keras' `mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// From the monitored name, as Keras' `"auto"`: losses fall, accuracies rise (the default).
    #[default]
    Auto,
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

/// When [`ModelCheckpoint`] saves (Keras' `save_freq`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SaveFreq {
    /// After each epoch (Keras' `"epoch"`, the default).
    #[default]
    Epoch,
    /// After every `n` steps, counted across epochs (Keras' integer `save_freq`; 0 counts as 1).
    /// A step is one batch of `threads × B` samples. The monitored value is then the epoch's
    /// running training loss or accuracy; validation values are not measured after a step.
    Batches(usize),
}

/// Why a [`ModelCheckpoint`] cannot be built, or could not save.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file-name template does not parse (see [`ModelCheckpoint`] for what it accepts).
    #[error("checkpoint file name `{template}`: {reason}")]
    Template {
        /// The template.
        template: String,
        /// What is wrong, and where.
        reason: String,
    },
    /// The file name does not end in `.safetensors`: netdsl writes no HDF5 or `.keras` file.
    #[error(
        "checkpoint file name `{template}`: netdsl saves weights as safetensors; expected a name ending in `.safetensors`, such as `{suggestion}`"
    )]
    Extension {
        /// The template.
        template: String,
        /// The template with a `.safetensors` ending.
        suggestion: String,
    },
    /// A field of the template names a value that has none when saving.
    #[error("checkpoint file name `{template}` uses `{{{name}}}`, which {why}")]
    Unlogged {
        /// The template.
        template: String,
        /// The field's name.
        name: String,
        /// Why it has no value.
        why: &'static str,
    },
    /// The directory of a checkpoint did not exist and could not be created.
    #[error("cannot create the directory `{}` for checkpoint `{}`: {source}", directory.display(), path.display())]
    Directory {
        /// The directory.
        directory: PathBuf,
        /// The checkpoint's file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The weights could not be written: the error names the file.
    #[error(transparent)]
    Save(#[from] weights::Error),
}

/// Saves the network's weights during `fit` (Keras' `ModelCheckpoint`, always with
/// `save_weights_only=True`): after every epoch or every `n` steps ([`SaveFreq`]), or, with
/// [`ModelCheckpoint::save_best_only`], only when the monitored value beats the best so far.
///
/// Keras' defaults: monitor `val_loss`, mode [`Mode::Auto`], every epoch, not only the best, no
/// initial threshold, silent. The file is written as [`Network::save_weights`] writes it
/// (safetensors, each tensor under its name, replacing the old file only once the new one is
/// complete), so [`Network::load_weights`] reads it back. Keras writes `.weights.h5`; the name
/// here must end in `.safetensors`, anything else is an error when the callback is built. A
/// missing directory is created, as Keras does.
///
/// The file name is a template, Keras' `filepath`: `{epoch:02d}-{val_loss:.2f}.safetensors`
/// writes `05-0.34.safetensors` after epoch 5. Its fields are `epoch` and `batch` (from 1,
/// `batch` only when saving every `n` steps), `loss`, `accuracy`, `val_loss`, `val_accuracy`,
/// `learning_rate` and the keys of the fit's [metrics](super::Fit::metric) (`{val_auc:.3f}`),
/// each `{name}` or `{name:spec}` with a spec of Python's
/// `[0][width][.precision][d|f]`; `{{` and `}}` are literal braces. A template that does not
/// parse, names an unknown value or gives a spec outside that subset is an error of
/// [`ModelCheckpoint::new`]. A field whose value this fit does not log (`val_loss` without
/// validation data, `accuracy` of a regression, `batch` when saving per epoch) stops `fit` with
/// [`TrainError::Callback`] at the first save, as Keras raises `KeyError`; `{batch}` with
/// [`SaveFreq::Epoch`], and a metric's key that the fit does not log (a typo, `{val_acu}`), are
/// found before training starts.
///
/// With `save_best_only`, a value better than the best so far (strictly lower or higher, as the
/// [`Mode`] says) is saved and becomes the best. When the value is not measured (monitoring
/// `val_loss` without validation data, or a validation value when saving every `n` steps), it
/// says so once per fit on standard error and saves every time, as Keras 3 does. The best value
/// is kept from one `fit` to the next, as Keras keeps it: a later fit overwrites the file only
/// with better weights. [`ModelCheckpoint::initial_value_threshold`] sets the best to beat before
/// the first save.
///
/// A file that cannot be written stops training, as Keras raises: `fit` returns
/// [`TrainError::Callback`] whose source is a [`CheckpointError`] naming the file, and the
/// network keeps the weights trained up to then. Formatting the name and writing the file
/// allocate; a step or an epoch that saves nothing allocates nothing.
///
/// With [`ModelCheckpoint::verbose`], each save and each epoch without improvement prints a
/// line to standard output, as Keras' `verbose=1` (not to [`Fit::output`]).
///
/// [`Network::save_weights`]: crate::network::Network::save_weights
/// [`Network::load_weights`]: crate::network::Network::load_weights
/// [`TrainError::Callback`]: super::TrainError::Callback
/// [`Fit::output`]: super::Fit::output
///
/// ```
/// use netdsl_core::activation::Sigmoid;
/// use netdsl_core::data::Dataset;
/// use netdsl_core::layers::Dense;
/// use netdsl_core::loss::BinaryCrossentropy;
/// use netdsl_core::optim::Sgd;
/// use netdsl_core::train::callbacks::{ModelCheckpoint, Monitor};
/// use netdsl_core::train::{Fit, Trainer, Verbose};
/// use netdsl_core::weights;
///
/// // AND of two inputs, validated on itself.
/// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// let data = Dataset::<2, 1>::from_arrays(inputs.repeat(4), [[0.0], [0.0], [0.0], [1.0]].repeat(4))?;
/// let mut model = Dense::<2, 1, Sigmoid>::from_parameters([[0.0], [0.0]], Some([0.0]));
/// let mut trainer = Trainer::<_, _, _, 8>::new(&model, Sgd::new(1.0), BinaryCrossentropy);
///
/// let dir = tempfile::tempdir()?;
/// let mut checkpoint = ModelCheckpoint::new(dir.path().join("and-{epoch:02d}-{val_loss:.2f}.safetensors"))?
///     .monitor(Monitor::ValLoss)
///     .save_best_only(true);
/// let options = Fit::epochs(3).validation_data(&data).verbose(Verbose::Silent).callback(&mut checkpoint);
/// let history = trainer.fit(&mut model, &data, options)?;
///
/// // The loss fell every epoch: the last file is epoch 3's, named with its validation loss.
/// let name = format!("and-03-{:.2}.safetensors", history.val_loss[2]);
/// assert_eq!(checkpoint.last_saved(), Some(dir.path().join(&name).as_path()));
/// let mut restored = Dense::<2, 1, Sigmoid>::from_parameters([[0.0], [0.0]], Some([0.0]));
/// weights::load(&mut restored, &dir.path().join(name))?;
/// assert_eq!(restored.weights(), model.weights());
///
/// // Keras' `.weights.h5` is refused when the callback is built.
/// let error = ModelCheckpoint::new("best.weights.h5").unwrap_err();
/// assert!(error.to_string().contains("such as `best.weights.safetensors`"), "{error}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ModelCheckpoint {
    source: String,
    template: Template,
    monitor: Monitor,
    mode: Mode,
    save_best_only: bool,
    save_freq: SaveFreq,
    verbose: bool,
    /// The best value saved (or the initial threshold), kept across fits as in Keras.
    best: Option<f32>,
    /// Steps since the last save, kept across epochs and fits as in Keras.
    steps_since_save: usize,
    last_saved: Option<PathBuf>,
    /// Whether it said that its value is not measured (once per fit).
    warned: bool,
    /// Whether a lower monitored value is better under [`Mode::Auto`], as the last logs say
    /// (a metric says which way it improves).
    auto_lower: bool,
}

impl ModelCheckpoint {
    /// Saves to the file-name template `filepath` with Keras' defaults.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Template`] when the template does not parse, names an unknown value
    /// or has a format outside the supported subset; [`CheckpointError::Extension`] when it does
    /// not end in `.safetensors`.
    pub fn new(filepath: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let Some(source) = filepath.as_ref().to_str() else {
            return Err(CheckpointError::Template {
                template: filepath.as_ref().display().to_string(),
                reason: "the name is not UTF-8, which a template must be".to_owned(),
            });
        };
        let template = Template::parse(source).map_err(|reason| CheckpointError::Template {
            template: source.to_owned(),
            reason,
        })?;
        if !source.ends_with(".safetensors") {
            let stem = [".weights.h5", ".keras", ".h5"]
                .into_iter()
                .find_map(|keras| source.strip_suffix(keras))
                .map_or(source.to_owned(), |stem| {
                    if source.ends_with(".weights.h5") {
                        format!("{stem}.weights")
                    } else {
                        stem.to_owned()
                    }
                });
            return Err(CheckpointError::Extension {
                template: source.to_owned(),
                suggestion: format!("{stem}.safetensors"),
            });
        }
        Ok(Self {
            source: source.to_owned(),
            template,
            monitor: Monitor::ValLoss,
            mode: Mode::Auto,
            save_best_only: false,
            save_freq: SaveFreq::Epoch,
            verbose: false,
            best: None,
            steps_since_save: 0,
            last_saved: None,
            warned: false,
            auto_lower: true,
        })
    }

    /// The value compared by [`ModelCheckpoint::save_best_only`] (default `val_loss`).
    pub fn monitor(mut self, monitor: Monitor) -> Self {
        self.auto_lower = !matches!(monitor, Monitor::Accuracy | Monitor::ValAccuracy);
        self.monitor = monitor;
        self
    }

    /// Whether lower or higher values are better (default: from the monitored name).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Saves only when the monitored value beats the best so far (default: no, every time).
    pub fn save_best_only(mut self, save_best_only: bool) -> Self {
        self.save_best_only = save_best_only;
        self
    }

    /// After each epoch (the default) or every `n` steps.
    pub fn save_freq(mut self, save_freq: SaveFreq) -> Self {
        self.save_freq = save_freq;
        self
    }

    /// The value to beat before the first save of [`ModelCheckpoint::save_best_only`] (default:
    /// none, the first value is saved).
    pub fn initial_value_threshold(mut self, threshold: f32) -> Self {
        self.best = Some(threshold);
        self
    }

    /// Prints a line for each save and each epoch without improvement (Keras' `verbose=1`).
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// The file written last, if any.
    pub fn last_saved(&self) -> Option<&Path> {
        self.last_saved.as_deref()
    }

    /// The best monitored value saved so far (or the initial threshold), if any.
    pub fn best(&self) -> Option<f32> {
        self.best
    }

    fn lower_is_better(&self) -> bool {
        match self.mode {
            Mode::Auto => self.auto_lower,
            Mode::Min => true,
            Mode::Max => false,
        }
    }

    /// Whether `value` beats the best so far, which is ±∞ before the first (NaN never does).
    fn improves(&self, value: f32) -> bool {
        match (self.lower_is_better(), self.best) {
            (_, None) => !value.is_nan(),
            (true, Some(best)) => value < best,
            (false, Some(best)) => value > best,
        }
    }

    /// Saves for `values`, when due, the monitored value being `current`.
    fn save(&mut self, values: &Values, current: Option<f32>, context: &mut Context<'_>) {
        let epoch = values.epoch;
        let name = self.monitor.keras_name();
        if self.save_best_only {
            match current {
                None if !self.warned => {
                    self.warned = true;
                    eprintln!(
                        "netdsl: ModelCheckpoint saves the best `{name}`, which is not measured here (no validation data, a validation value after a step, or no accuracy for this loss); it saves every time, as Keras does"
                    );
                }
                None => {}
                Some(value) if self.improves(value) => {
                    if self.verbose {
                        let best = self.best.unwrap_or(if self.lower_is_better() {
                            f32::INFINITY
                        } else {
                            f32::NEG_INFINITY
                        });
                        println!(
                            "Epoch {epoch}: {name} improved from {best:.5} to {value:.5}, saving the weights"
                        );
                    }
                    self.best = Some(value);
                }
                Some(_) => {
                    if self.verbose {
                        let best = self.best.unwrap_or(f32::NAN);
                        println!("Epoch {epoch}: {name} did not improve from {best:.5}");
                    }
                    return;
                }
            }
        }
        let path = match self.template.format(values) {
            Ok(path) => PathBuf::from(path),
            Err(missing) => return context.fail(self.unlogged(missing)),
        };
        if let Some(directory) = path.parent()
            && !directory.as_os_str().is_empty()
            && !directory.is_dir()
            && let Err(source) = std::fs::create_dir_all(directory)
        {
            return context.fail(CheckpointError::Directory {
                directory: directory.to_owned(),
                path,
                source,
            });
        }
        if let Err(error) = context.save_weights(&path) {
            return context.fail(CheckpointError::Save(error));
        }
        if self.verbose {
            println!("Epoch {epoch}: saved the weights to {}", path.display());
        }
        self.last_saved = Some(path);
    }

    fn unlogged(&self, name: Name) -> CheckpointError {
        let key = self.template.name(name);
        let validation = key.starts_with("val_");
        let why = match name {
            Name::Batch => {
                "has no value when saving per epoch; save every `n` steps (`SaveFreq::Batches(n)`) or leave it out"
            }
            _ if validation && self.save_freq != SaveFreq::Epoch => {
                "is measured after an epoch, not after a step; save per epoch or leave it out"
            }
            Name::Metric(_) => {
                "this fit does not log: no metric of that name (`Fit::metric`), or no validation data for its `val_` value"
            }
            _ => "this fit does not log (no validation data, or no accuracy for this loss)",
        };
        CheckpointError::Unlogged {
            template: self.source.clone(),
            name: key.to_owned(),
            why,
        }
    }
}

impl Callback for ModelCheckpoint {
    fn on_train_begin(&mut self, context: &mut Context<'_>) {
        self.warned = false;
        if self.save_freq == SaveFreq::Epoch && self.template.uses(Name::Batch) {
            return context.fail(self.unlogged(Name::Batch));
        }
        // The history has a column for every metric of the fit, and its validation value.
        let history = context.history();
        let unlogged = self
            .template
            .metrics()
            .find(|(_, key)| history.get(key).is_none());
        if let Some((name, _)) = unlogged {
            context.fail(self.unlogged(name));
        }
    }

    fn on_train_batch_end(&mut self, logs: &BatchLogs, context: &mut Context<'_>) {
        let SaveFreq::Batches(every) = self.save_freq else {
            return;
        };
        self.steps_since_save += 1;
        if self.steps_since_save < every.max(1) {
            return;
        }
        self.steps_since_save = 0;
        let values = Values {
            epoch: logs.epoch,
            batch: Some(logs.batch),
            loss: Some(logs.train.loss),
            accuracy: logs.train.accuracy,
            val_loss: None,
            val_accuracy: None,
            learning_rate: Some(logs.learning_rate),
            metrics: logs.train.metrics,
            val_metrics: None,
        };
        self.auto_lower = self.monitor.lower_is_better(&logs.train);
        self.save(&values, self.monitor.batch_value(logs), context);
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs, context: &mut Context<'_>) {
        if self.save_freq != SaveFreq::Epoch {
            return;
        }
        let values = Values {
            epoch: logs.epoch,
            batch: None,
            loss: Some(logs.train.loss),
            accuracy: logs.train.accuracy,
            val_loss: logs.validation.map(|v| v.loss),
            val_accuracy: logs.validation.and_then(|v| v.accuracy),
            learning_rate: Some(logs.learning_rate),
            metrics: logs.train.metrics,
            val_metrics: logs.validation.map(|v| v.metrics),
        };
        self.auto_lower = self.monitor.lower_is_better(&logs.train);
        self.save(&values, self.monitor.value(logs), context);
    }
}
