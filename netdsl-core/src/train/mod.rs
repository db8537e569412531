//! Training: the Keras `compile` / `fit` / `evaluate` loop over a [`crate::layer::Layer`].

pub mod callbacks;
mod epochs;
mod error;
mod fit;
mod history;
#[cfg(feature = "plot")]
mod plot;
mod progress;
mod reduce;
mod runner;
mod shard;
mod trainer;

pub use error::TrainError;
pub use fit::{Fit, Verbose};
pub use history::{EpochLogs, History, Metrics};
#[cfg(feature = "plot")]
#[cfg_attr(docsrs, doc(cfg(feature = "plot")))]
pub use plot::PlotError;
pub use trainer::Trainer;
