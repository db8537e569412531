//! Runtime of netdsl: layers with compile-time sizes, activations, losses, optimizers, the
//! training loop, and data loading.
//!
//! Users normally reach all of it through the `netdsl` crate and its `network!` macro; every
//! type here is also usable by hand, as the examples in the item docs show.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod activation;
pub mod data;
pub mod inference;
pub mod init;
pub mod kernels;
pub mod layer;
pub mod layers;
pub mod loss;
pub mod metrics;
pub mod network;
pub mod optim;
pub mod shape;
pub mod summary;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod train;
pub mod weights;
