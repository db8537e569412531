//! Layers, one per file.

mod dense;

pub use dense::{Dense, DenseGrads};
