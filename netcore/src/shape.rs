//! Shapes as types: the sizes a convolution or a pool is made of, grouped and named, so that a
//! layer's type reads `Conv2d<Image<28, 28, 1, 784>, Kernel<6, 5, 1>, Padding<2, 2>,
//! Image<28, 28, 6, 4704>, Relu>` rather than as thirteen numbers in a row.
//!
//! They are markers, never values. Stable Rust cannot compute `H · W · C` in a type, so an
//! image also carries its number of values, `N`; each layer checks when it is built that the
//! sizes agree, and a layer whose sizes disagree does not compile. `network!` works all of them
//! out.

/// A channels-last image of `H` rows of `W` pixels of `C` channels: `N = H · W · C` values,
/// element `(y, x, c)` at `(y · W + x) · C + c`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Image<const H: usize, const W: usize, const C: usize, const N: usize>;

/// The kernel of a convolution: `F` filters of `K × K`, sliding with stride `S`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kernel<const F: usize, const K: usize, const S: usize>;

/// The window of a pool: `K × K`, sliding with stride `S`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window<const K: usize, const S: usize>;

/// Zero padding before an image: `TOP` rows above it and `LEFT` columns to its left (what the
/// bottom and right need follows from the output's size).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Padding<const TOP: usize, const LEFT: usize>;
