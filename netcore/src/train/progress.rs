//! What `fit` prints: a Keras-style progress bar on a terminal (drawn by indicatif), one line
//! per epoch elsewhere.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{EpochLogs, Metrics};

/// Batches between updates of the bar's running loss and accuracy: formatting them allocates,
/// so they are refreshed a few times a second, not at every step.
const MESSAGE_EVERY: usize = 64;

/// The bar of one epoch: `1563/1563 [=====>....] - ETA 0s - accuracy: 0.94 - loss: 0.21`.
pub struct EpochBar {
    bar: ProgressBar,
}

impl EpochBar {
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
            self.bar.set_message(format!(
                "accuracy: {:.4} - loss: {:.4}",
                running.accuracy, running.loss
            ));
        }
    }

    /// Completes the bar with the epoch's final figures, validation included.
    pub fn finish(self, logs: &EpochLogs) {
        let mut message = format!(
            "accuracy: {:.4} - loss: {:.4}",
            logs.train.accuracy, logs.train.loss
        );
        if let Some(val) = logs.validation {
            message.push_str(&format!(
                " - val_accuracy: {:.4} - val_loss: {:.4}",
                val.accuracy, val.loss
            ));
        }
        self.bar.finish_with_message(message);
    }
}

/// Keras' `verbose=2` lines: `Epoch 3/10` then
/// `1563/1563 - 0.36s - 230us/step - accuracy: 0.9438 - loss: 0.2005 - val_accuracy: ...`.
/// Best effort: a closed output must not abort training.
pub fn write_epoch_line(out: &mut dyn Write, epochs: usize, logs: &EpochLogs) {
    let per_step_us = logs.seconds * 1e6 / logs.steps.max(1) as f64;
    let _ = write!(
        out,
        "Epoch {}/{epochs}\n{steps}/{steps} - {:.2}s - {per_step_us:.0}us/step - accuracy: {:.4} - loss: {:.4}",
        logs.epoch,
        logs.seconds,
        logs.train.accuracy,
        logs.train.loss,
        steps = logs.steps,
    );
    if let Some(val) = logs.validation {
        let _ = write!(
            out,
            " - val_accuracy: {:.4} - val_loss: {:.4}",
            val.accuracy, val.loss
        );
    }
    let _ = writeln!(out);
}
