//! What `fit` prints: a Keras-style progress bar on a terminal (drawn by indicatif), one line
//! per epoch elsewhere.

use std::io::Write;
#[cfg(feature = "progress")]
use std::time::Duration;

#[cfg(feature = "progress")]
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{EpochLogs, Metrics};

/// Batches between updates of the bar's running loss and accuracy: formatting them allocates,
/// so they are refreshed a few times a second, not at every step.
#[cfg(feature = "progress")]
const MESSAGE_EVERY: usize = 64;

/// The bar of one epoch: `1563/1563 [=====>....] - ETA 0s - accuracy: 0.94 - loss: 0.21`.
#[cfg(feature = "progress")]
pub struct EpochBar {
    bar: ProgressBar,
}

#[cfg(feature = "progress")]
impl EpochBar {
    /// Starts a bar when `verbose` asks for one (see [`EpochBar::start`]).
    pub fn start_if(verbose: bool, epoch: usize, epochs: usize, steps: usize) -> Option<Self> {
        verbose.then(|| Self::start(epoch, epochs, steps))
    }

    /// Prints `Epoch 3/10` and starts a bar of `steps` batches on standard output.
    pub fn start(epoch: usize, epochs: usize, steps: usize) -> Self {
        println!("Epoch {epoch}/{epochs}");
        let bar = ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stdout());
        let style = ProgressStyle::with_template(
            "{pos}/{len} [{bar:30.=>.}] - {elapsed} - ETA {eta} - {msg}",
        )
        .expect("the template is valid")
        .progress_chars("=>.");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Self { bar }
    }

    /// Moves the bar to `done` batches, with the running metrics.
    pub fn advance(&self, done: usize, running: Metrics) {
        self.bar.set_position(done as u64);
        if done % MESSAGE_EVERY == 1 {
            self.bar.set_message(figures("", running));
        }
    }

    /// Completes the bar with the epoch's final figures, validation included.
    pub fn finish(self, logs: &EpochLogs) {
        let mut message = figures("", logs.train);
        if let Some(val) = logs.validation {
            message.push_str(&format!(" - {}", figures("val_", val)));
        }
        self.bar.finish_with_message(message);
    }
}

/// Without the `progress` feature there is no bar: `fit` prints one line per epoch instead.
#[cfg(not(feature = "progress"))]
pub enum EpochBar {}

#[cfg(not(feature = "progress"))]
impl EpochBar {
    /// No bar, whatever `verbose` asks.
    pub fn start_if(_verbose: bool, _epoch: usize, _epochs: usize, _steps: usize) -> Option<Self> {
        None
    }

    /// Never called: there is no bar.
    pub fn advance(&self, _done: usize, _running: Metrics) {
        match *self {}
    }

    /// Never called: there is no bar.
    pub fn finish(self, _logs: &EpochLogs) {
        match self {}
    }
}

/// Keras' `verbose=2` lines: `Epoch 3/10` then
/// `1563/1563 - 0.36s - 230us/step - accuracy: 0.9438 - loss: 0.2005 - val_accuracy: ...`.
/// Best effort: a closed output must not abort training.
pub fn write_epoch_line(out: &mut dyn Write, epochs: usize, logs: &EpochLogs) {
    let per_step_us = logs.seconds * 1e6 / logs.steps.max(1) as f64;
    let _ = write!(
        out,
        "Epoch {}/{epochs}\n{steps}/{steps} - {:.2}s - {per_step_us:.0}us/step - {}",
        logs.epoch,
        logs.seconds,
        figures("", logs.train),
        steps = logs.steps,
    );
    if let Some(val) = logs.validation {
        let _ = write!(out, " - {}", figures("val_", val));
    }
    let _ = writeln!(out);
}

/// One line of a fit that prints every few steps ([`Verbose::Steps`](super::Verbose::Steps)):
/// `Epoch 1/10 - 100/1719 - 0.41s - accuracy: 0.8125 - loss: 0.6007`, the running logs of the
/// epoch so far. `at` is the epoch, the epochs, the steps done and the epoch's steps.
pub fn write_step_line(
    out: &mut dyn Write,
    (epoch, epochs, step, steps): (usize, usize, usize, usize),
    seconds: f64,
    running: Metrics,
) {
    let _ = writeln!(
        out,
        "Epoch {epoch}/{epochs} - {step}/{steps} - {seconds:.2}s - {}",
        figures("", running)
    );
}

/// `accuracy: 0.9438 - loss: 0.2005` (with `prefix` before each name): the accuracy when it
/// applies, the loss and the metrics, in the order of their names, as Keras sorts its logs.
fn figures(prefix: &'static str, metrics: Metrics) -> String {
    let mut named: Vec<_> = metrics.named(prefix).collect();
    named.sort_by(|a, b| a.1.cmp(b.1));
    let mut line = String::new();
    for (prefix, name, value) in named {
        if !line.is_empty() {
            line.push_str(" - ");
        }
        line.push_str(&format!("{prefix}{name}: {value:.4}"));
    }
    line
}
