//! Datasets: typed samples in memory, the IDX files of MNIST, Fashion-MNIST and EMNIST, and
//! tabular data from CSV files.

#[cfg(feature = "csv")]
#[cfg_attr(docsrs, doc(cfg(feature = "csv")))]
mod csv;
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

#[cfg(feature = "csv")]
#[cfg_attr(docsrs, doc(cfg(feature = "csv")))]
pub use csv::{Column, CsvOptions};
pub use dataset::{Dataset, Sample};
pub use error::Error;
#[cfg(all(feature = "idx", any(unix, windows)))]
#[cfg_attr(docsrs, doc(cfg(feature = "idx")))]
pub use lazy::IdxSource;
#[cfg(feature = "idx")]
#[cfg_attr(docsrs, doc(cfg(feature = "idx")))]
pub use mnist::{EmnistSplit, MnistSplit};
pub use source::Source;
