//! Training: the Keras `compile` / `fit` / `evaluate` loop over a [`crate::layer::Layer`].

mod barrier;
pub mod callbacks;
mod error;
mod fit;
mod history;
mod parallel;
mod plot;
mod progress;
mod shard;
mod trainer;

pub use error::TrainError;
pub use fit::{Fit, Verbose};
pub use history::{EpochLogs, History, Metrics};
pub use plot::PlotError;
pub use trainer::Trainer;
