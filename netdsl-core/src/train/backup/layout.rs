//! The backup file's layout: one safetensors file holding all a resumed fit needs, so that
//! writing it is one atomic rename and a reader never sees the weights of one moment with the
//! optimizer state of another (Keras writes two files, and a kill between them pairs two
//! moments).
//!
//! - the model's tensors under their names, as `save_weights` writes them (`dense_1.kernel`);
//! - each buffer of the optimizer's state, flat, under `optimizer/` and its name
//!   (`optimizer/momentum`; a `/` is in no layer's name, so no name can clash);
//! - the history of the epochs completed, under `history/` (`history/loss`, ...);
//! - in the header's text metadata, the fit the backup belongs to (samples, batch size,
//!   threads, seed, shuffling), how far it came (`Progress`, its sums written as Rust prints
//!   an `f64`, which reads back to the same bits), the optimizer's step count and learning
//!   rate.
//!
//! Values are written as they are, NaN included: a backup is the state of a run, not a model
//! to publish, and a resumed fit must continue exactly what it resumes.

use std::path::Path;

use super::BackupError;
use crate::train::callbacks::Context;
use crate::weights::{self, Named};

/// The file's format, in its metadata under `format`: a file without it is no backup.
pub(super) const FORMAT: &str = "netdsl-backup-1";

/// The history's tensors of `f32` values, one per epoch completed (`accuracy` and the
/// validation values may be empty), and the tensor of seconds, of `f64`s.
pub(super) const HISTORY_F32: [&str; 5] = [
    "history/loss",
    "history/accuracy",
    "history/val_loss",
    "history/val_accuracy",
    "history/learning_rate",
];
pub(super) const HISTORY_SECONDS: &str = "history/epoch_seconds";
/// The prefix of the columns of the fit's metrics, each under its key (`history/metrics/auc`,
/// `history/metrics/val_auc`), of `f32` values.
pub(super) const HISTORY_METRICS: &str = "history/metrics/";

/// What the history may add to a file, beyond the tensors of the network and the optimizer:
/// 28 bytes an epoch, and 4 for each of at most `MAX_METRICS` metrics and their validation
/// values, for a million epochs. A longer file is refused before it is read.
pub(super) const HISTORY_BYTES: u64 = (28 + 8 * crate::metrics::MAX_METRICS as u64) << 20;

/// The model's tensors, checked to cover its weights once each (as `weights::save` checks).
pub(super) fn model_tensors(
    context: &mut Context<'_>,
    path: &Path,
) -> Result<Vec<Named>, BackupError> {
    let mut values = 0;
    context.visit_parameters(&mut |tensor| values += tensor.len());
    let tensors = weights::named_tensors_of(|visit| context.visit_tensors(visit), values, path)?;
    Ok(tensors)
}
