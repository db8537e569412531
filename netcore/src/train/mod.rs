//! Training: the Keras `compile` / `fit` / `evaluate` loop over a [`crate::network::Network`].

mod fit;
mod history;
mod trainer;

pub use fit::{Fit, Verbose};
pub use history::{History, Metrics};
pub use trainer::Trainer;
