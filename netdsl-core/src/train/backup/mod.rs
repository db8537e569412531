//! Keras' `BackupAndRestore`: the state of a fit backed up as it trains, so that a fit killed
//! midway and started again continues where the backup left it.

mod layout;
mod read;
mod restore;
#[cfg(test)]
mod tests;
mod write;

use std::io;
use std::path::{Path, PathBuf};

use super::callbacks::{Callback, Context, SaveFreq};
use super::{BatchLogs, EpochLogs, Progress};
use crate::weights;

/// The name of the backup in its directory.
const FILE_NAME: &str = "backup.safetensors";

/// Why a [`BackupAndRestore`] could not back up or restore a fit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The backup could not be read or written, is not a safetensors file (a truncated one
    /// among them), or its weights are not the network's (another network's, or of another
    /// shape): the error names the file, and the tensor at fault.
    #[error(transparent)]
    Weights(#[from] weights::Error),
    /// The file is a safetensors file, but not a backup this version of netdsl restores, or its
    /// parts disagree (a history shorter than the epochs it says are done).
    #[error("`{}` is not a backup netdsl can restore: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The backup is of another fit: other training data or batch size, threads, seed or
    /// shuffling, or another kind of optimizer. Resuming it would not continue that fit.
    #[error(
        "`{}` backs up another fit: {difference}; resume with the data, options and optimizer of that fit, or remove the backup to start over",
        path.display()
    )]
    OtherFit {
        /// The file.
        path: PathBuf,
        /// What differs, the backup's and this fit's.
        difference: String,
    },
    /// The backup's directory could not be created, or the backup removed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// `"create"` or `"remove"`.
        action: &'static str,
        /// The directory or the file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
}

/// Backs up the state of a fit as it trains and, when the fit is started again after being
/// killed, restores it, so that training continues where the last backup left it (Keras'
/// `BackupAndRestore(backup_dir, save_freq="epoch", delete_checkpoint=True)`).
///
/// After every epoch (or every `n` steps, [`BackupAndRestore::save_freq`]), it writes one
/// file, `backup.safetensors` in its directory (created if missing), holding all the fit
/// carries from one step to the next: the network's weights with what it keeps without
/// training (batch normalization's moving statistics), every buffer of the optimizer's state
/// (Adam's and AdamW's moments, RMSprop's and Adagrad's accumulators, SGD's momentum) and its
/// step count (which schedules and Adam's bias correction read), the learning rate, the epoch
/// and step reached with that epoch's running sums, and the history so far. The file is
/// written as `save_weights` writes one, beside the old one and renamed over it, so a fit
/// killed while it writes leaves the previous backup whole.
///
/// When `fit` starts ([`Callback::on_train_begin`]) and the backup exists, it checks all of
/// it against the network, the optimizer and the fit, puts the weights and the optimizer's
/// state back, and has `fit` continue from the step the backup was made after
/// ([`Context::resume`]). The order of samples follows from the seed and the epoch, and the
/// dropout masks from the seed and the optimizer's step count, so with the same data, options
/// and seed the resumed fit ends with the weights and history of an uninterrupted one, bit for
/// bit (but the history's `epoch_seconds`, which are wall-clock times, and the
/// [metrics](super::Fit::metric) of an epoch resumed midway, which the backup does not keep the
/// state of: that epoch's are measured over the steps after the resume; their history of the
/// epochs completed is kept, under `history/metrics/`). When a fit completes,
/// the backup is deleted, as Keras deletes it, unless [`BackupAndRestore::delete_checkpoint`]
/// says not to; a fit that fails (an error of `fit`) keeps it.
///
/// Where it differs from Keras:
///
/// - Keras resumes at the start of the epoch it backed up, even from a backup made midway
///   through it, with the weights of midway; here a fit resumes at the step it was backed up
///   after, carrying on that epoch's running loss and accuracy.
/// - Keras' resumed `History` holds the epochs the resumed fit ran; here it holds every epoch,
///   those of the fits before included, as an uninterrupted fit's would.
/// - One file, where Keras writes the weights and the epoch in two (a process killed between
///   the two writes pairs one moment's weights with another's epoch). Keras'
///   `double_checkpoint` is not offered: it keeps the backup before the last for when the last
///   is damaged by a write cut short, which the atomic write rules out.
/// - Deleting removes the backup file, then its directory if nothing else is in it; Keras
///   removes the directory with whatever it holds.
/// - A backup of another fit is refused with an error, not trusted: another network (names or
///   shapes of its tensors), another kind of optimizer (the state it keeps) or a learning-rate
///   schedule the optimizer lost, other training samples, batch size, threads, seed or
///   shuffling. The data's values and the validation data are not compared: as in Keras,
///   resuming with other data is the caller's mistake.
///
/// What it does not back up: other callbacks' own state (the epochs `EarlyStopping` or
/// `ReduceLrOnPlateau` have waited; Keras does not back it up either), which starts over in the
/// resumed fit. The learning rate they set is the optimizer's, and is backed up; add this
/// callback after them, so that an epoch's backup holds what they changed at its end.
///
/// A backup that cannot be restored (malformed, truncated, of another network) or written
/// stops `fit` with [`TrainError::Callback`] whose source is a [`BackupError`] naming the file;
/// the file is left as it was. Writing a backup, or deleting it at the end, allocates; a step or
/// an epoch that writes none allocates nothing.
///
/// [`TrainError::Callback`]: super::TrainError::Callback
///
/// ```
/// use netdsl_core::activation::Sigmoid;
/// use netdsl_core::data::Dataset;
/// use netdsl_core::layers::Dense;
/// use netdsl_core::loss::BinaryCrossentropy;
/// use netdsl_core::optim::Adam;
/// use netdsl_core::train::callbacks::{BackupAndRestore, Callback, Context};
/// use netdsl_core::train::{Fit, Trainer, Verbose};
///
/// /// Stops `fit` at the start of epoch 4, as a crash would (Keras' `InterruptingCallback`).
/// struct Interrupt;
///
/// impl Callback for Interrupt {
///     fn on_epoch_begin(&mut self, epoch: usize, context: &mut Context<'_>) {
///         if epoch == 4 {
///             context.fail("interrupted");
///         }
///     }
/// }
///
/// // AND of two inputs, 8 copies: 4 steps an epoch.
/// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// let data = Dataset::<2, 1>::from_arrays(inputs.repeat(8), [[0.0], [0.0], [0.0], [1.0]].repeat(8))?;
/// let fresh = || Dense::<2, 1, Sigmoid>::from_parameters([[0.0], [0.0]], Some([0.0]));
/// let dir = tempfile::tempdir()?;
/// let mut backup = BackupAndRestore::new(dir.path().join("backup"));
///
/// // The first run stops in epoch 4; the backup holds the end of epoch 3.
/// let (mut model, mut interrupt) = (fresh(), Interrupt);
/// let mut trainer = Trainer::<_, _, _, 8>::new(&model, Adam::new(0.1), BinaryCrossentropy);
/// let options = Fit::epochs(6).seed(1).verbose(Verbose::Silent);
/// let options = options.callback(&mut backup).callback(&mut interrupt);
/// assert!(trainer.fit(&mut model, &data, options).is_err());
///
/// // As a new process would: a new model and trainer, whose fit resumes at epoch 4.
/// let mut model = fresh();
/// let mut trainer = Trainer::<_, _, _, 8>::new(&model, Adam::new(0.1), BinaryCrossentropy);
/// let options = Fit::epochs(6).seed(1).verbose(Verbose::Silent).callback(&mut backup);
/// let history = trainer.fit(&mut model, &data, options)?;
/// assert_eq!(backup.restored().map(|progress| progress.epochs), Some(3));
/// assert!(!dir.path().join("backup").exists(), "deleted once the fit completed");
///
/// // What a fit never interrupted gives, bit for bit.
/// let mut uninterrupted = fresh();
/// let mut trainer = Trainer::<_, _, _, 8>::new(&uninterrupted, Adam::new(0.1), BinaryCrossentropy);
/// let options = Fit::epochs(6).seed(1).verbose(Verbose::Silent);
/// let expected = trainer.fit(&mut uninterrupted, &data, options)?;
/// assert_eq!(history.loss, expected.loss);
/// assert_eq!(history.accuracy, expected.accuracy);
/// assert_eq!(model.weights(), uninterrupted.weights());
/// assert_eq!(model.bias(), uninterrupted.bias());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct BackupAndRestore {
    dir: PathBuf,
    save_freq: SaveFreq,
    delete_checkpoint: bool,
    /// Steps since the last backup (or the fit's start, or the backup it resumed).
    steps_since_save: usize,
    /// Where the last fit resumed, if it did.
    restored: Option<Progress>,
}

impl BackupAndRestore {
    /// Backs up into the directory `backup_dir`, with Keras' defaults: after every epoch, the
    /// backup deleted when a fit completes. The directory is for this one backup, as in Keras:
    /// give another fit, or a `ModelCheckpoint`, a directory of its own.
    pub fn new(backup_dir: impl AsRef<Path>) -> Self {
        Self {
            dir: backup_dir.as_ref().to_owned(),
            save_freq: SaveFreq::Epoch,
            delete_checkpoint: true,
            steps_since_save: 0,
            restored: None,
        }
    }

    /// After each epoch (the default), or every `n` steps counted across epochs (Keras'
    /// integer `save_freq`; 0 counts as 1): a fit killed then resumes midway through its epoch.
    pub fn save_freq(mut self, save_freq: SaveFreq) -> Self {
        self.save_freq = save_freq;
        self
    }

    /// Whether a completed fit deletes the backup (Keras' `delete_checkpoint`, default yes). A
    /// backup kept after the last epoch makes the next fit with it resume there, with nothing
    /// left to train (unless it asks for more epochs).
    pub fn delete_checkpoint(mut self, delete: bool) -> Self {
        self.delete_checkpoint = delete;
        self
    }

    /// The backup file: `backup.safetensors` in the backup directory.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Where the last fit resumed from its backup, if it did: the epochs done, and the steps
    /// done of the next one.
    pub fn restored(&self) -> Option<Progress> {
        self.restored
    }

    /// Writes the backup of the fit as `context` shows it.
    fn save(&mut self, context: &mut Context<'_>) {
        self.steps_since_save = 0;
        if let Err(source) = std::fs::create_dir_all(&self.dir) {
            return context.fail(BackupError::Io {
                action: "create",
                path: self.dir.clone(),
                source,
            });
        }
        if let Err(error) = write::write(context, &self.path()) {
            context.fail(error);
        }
    }

    /// Removes the backup, then its directory if nothing else is in it.
    fn delete(&self) -> Result<(), BackupError> {
        let path = self.path();
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                return Err(BackupError::Io {
                    action: "remove",
                    path,
                    source: error,
                });
            }
            _ => {}
        }
        // What is left there is someone else's (or a directory given as ""): keep it.
        let _ = std::fs::remove_dir(&self.dir);
        Ok(())
    }
}

impl Callback for BackupAndRestore {
    fn on_train_begin(&mut self, context: &mut Context<'_>) {
        self.steps_since_save = 0;
        match restore::restore(context, &self.path()) {
            Ok(restored) => self.restored = restored,
            Err(error) => {
                self.restored = None;
                context.fail(error);
            }
        }
    }

    fn on_train_batch_end(&mut self, _logs: &BatchLogs, context: &mut Context<'_>) {
        let SaveFreq::Batches(every) = self.save_freq else {
            return;
        };
        self.steps_since_save += 1;
        if self.steps_since_save >= every.max(1) {
            self.save(context);
        }
    }

    fn on_epoch_end(&mut self, _logs: &EpochLogs, context: &mut Context<'_>) {
        if self.save_freq == SaveFreq::Epoch {
            self.save(context);
        }
    }

    fn on_train_end(&mut self, context: &mut Context<'_>) {
        if self.delete_checkpoint
            && let Err(error) = self.delete()
        {
            context.fail(error);
        }
    }
}
