//! Training: the Keras `compile` / `fit` / `evaluate` loop over a [`crate::layer::Layer`].

#[cfg(feature = "safetensors")]
mod backup;
pub mod callbacks;
#[cfg(feature = "safetensors")]
mod checkpoint;
mod epochs;
mod error;
mod fit;
mod history;
#[cfg(feature = "plot")]
mod plot;
mod progress;
mod reduce;
mod resume;
mod runner;
mod shard;
#[cfg(feature = "safetensors")]
mod template;
mod trainer;

pub use error::TrainError;
pub use fit::{Fit, Verbose};
pub use history::{BatchLogs, EpochLogs, History, Metrics, Totals};
#[cfg(feature = "plot")]
#[cfg_attr(docsrs, doc(cfg(feature = "plot")))]
pub use plot::PlotError;
pub use resume::{FitParams, Progress};
pub use trainer::Trainer;
