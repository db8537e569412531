//! What a callback learns of the fit it runs in, and where a fit resumes: the parts of a
//! training run that are neither the network nor the optimizer.
//!
//! A fit is a function of its seed: the order of each epoch's samples is the seed's shuffle
//! repeated once per epoch, and each step's dropout masks come from the optimizer's step count
//! (see `Runner::seed_tapes`). So a fit that knows how far an earlier one came ([`Progress`])
//! and has its weights and optimizer state back continues it exactly: it replays the shuffles
//! of the epochs done, skips the steps done and carries on the epoch's running sums.

use super::Totals;

/// The fit a callback runs in (Keras' `callback.params`, with what a backup must match to be
/// resumed). [`Context::params`](super::callbacks::Context::params) gives it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FitParams {
    /// The epochs asked for ([`Fit::epochs`](super::Fit::epochs)).
    pub epochs: usize,
    /// Steps in an epoch.
    pub steps: usize,
    /// Training samples (without those `validation_split` holds out).
    pub samples: usize,
    /// Samples in a step: the trainer's `B` times the threads (Keras' `batch_size`).
    pub batch_size: usize,
    /// Threads that train each step.
    pub threads: usize,
    /// The shuffling seed.
    pub seed: u64,
    /// Whether each epoch is shuffled.
    pub shuffle: bool,
}

/// How far a fit has come: the epochs it completed, the steps it took of the next one, and
/// that epoch's running sums and time. With the network's weights, the optimizer's state and
/// the [`History`](super::History) of the epochs completed, this is what a later fit needs to
/// continue it bit for bit ([`Context::resume`](super::callbacks::Context::resume)).
///
/// [`Context::progress`](super::callbacks::Context::progress) gives it at every hook: after a
/// step, the steps of the epoch so far; after an epoch, that epoch completed and no steps. Its
/// default is the start of a fit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Epochs completed.
    pub epochs: usize,
    /// Steps taken of the epoch after them (0 between epochs).
    pub steps: usize,
    /// The sums of those steps, whose means are the epoch's running metrics.
    pub totals: Totals,
    /// Wall-clock seconds those steps trained.
    pub seconds: f64,
}

impl Progress {
    /// Whether it stops inside an epoch: steps taken of an epoch not completed.
    pub fn is_mid_epoch(&self) -> bool {
        self.steps > 0
    }
}
