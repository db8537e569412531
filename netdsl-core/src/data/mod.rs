//! Datasets: typed samples in memory, and the IDX files MNIST ships in.

mod dataset;
mod error;
pub mod idx;
mod mnist;

pub use dataset::Dataset;
pub use error::Error;
pub use mnist::MnistSplit;
