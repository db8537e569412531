//! Runtime of netdsl: layers with compile-time sizes, activations, losses, optimizers, the
//! training loop, and data loading.
//!
//! Users normally reach all of it through the `netdsl` crate and its `network!` macro; every
//! type here is also usable by hand, as the examples in the item docs show.

// Tests link the standard library whatever the features (the test harness needs it).
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;

/// What the standard prelude gives a `std` build, for an `alloc` build without it.
#[cfg(all(feature = "alloc", not(feature = "std")))]
mod alloc_prelude {
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec::Vec;
    pub(crate) use alloc::{format, vec};
}

pub mod activation;
pub mod buffer;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod data;
pub mod inference;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod init;
pub mod kernels;
pub mod layer;
pub mod layers;
pub mod loss;
pub mod mask;
#[cfg(any(not(feature = "std"), test))]
mod math;
pub mod metrics;
pub mod network;
#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub mod onnx;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod optim;
pub mod regularizer;
pub mod shape;
pub mod stream;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod summary;
pub mod tokens;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod train;
pub mod weights;
