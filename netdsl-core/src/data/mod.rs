//! Datasets: typed samples in memory, and the IDX files MNIST ships in.

mod dataset;
mod error;
#[cfg(feature = "idx")]
#[cfg_attr(docsrs, doc(cfg(feature = "idx")))]
pub mod idx;
#[cfg(all(feature = "idx", any(unix, windows)))]
mod lazy;
#[cfg(feature = "idx")]
mod mnist;
mod source;

pub use dataset::{Dataset, Sample};
pub use error::Error;
#[cfg(all(feature = "idx", any(unix, windows)))]
#[cfg_attr(docsrs, doc(cfg(feature = "idx")))]
pub use lazy::IdxSource;
#[cfg(feature = "idx")]
#[cfg_attr(docsrs, doc(cfg(feature = "idx")))]
pub use mnist::MnistSplit;
pub use source::Source;
