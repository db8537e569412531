//! Layers, one per file.

mod conv2d;
mod dense;
#[cfg(test)]
mod gradcheck;

pub use conv2d::{Conv2d, Conv2dGrads};
pub use dense::{Dense, DenseGrads};
