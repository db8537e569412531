//! Shapes as types: the sizes a convolution or a pool is made of, grouped and named, so that a
//! layer's type reads `Conv2d<Image<28, 28, 1, 784>, Kernel<6, 5, 1>, Padding<2, 2>,
//! Image<28, 28, 6, 4704>, Relu>` rather than as thirteen numbers in a row.
//!
//! They are markers, never values. Stable Rust cannot compute `H · W · C` in a type, so an
//! image also carries its number of values, `N`; each layer checks when it is built that the
//! sizes agree, and a layer whose sizes disagree does not compile. `network!` works all of them
//! out.

use crate::layer::Row;

/// A channels-last image of `H` rows of `W` pixels of `C` channels: `N = H · W · C` values,
/// element `(y, x, c)` at `(y · W + x) · C + c`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Image<const H: usize, const W: usize, const C: usize, const N: usize>;

/// The kernel of a convolution: `F` filters of `K × K`, sliding with stride `S`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Kernel<const F: usize, const K: usize, const S: usize>;

/// The window of a pool: `K × K`, sliding with stride `S`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Window<const K: usize, const S: usize>;

/// Zero padding before an image: `TOP` rows above it and `LEFT` columns to its left (what the
/// bottom and right need follows from the output's size).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Padding<const TOP: usize, const LEFT: usize>;

/// The sizes of an [`Image`] type, so that a layer can be generic over its images with one type
/// parameter each: `impl<I: ImageShape, O: ImageShape> Layer for MyPool<I, O>`.
pub trait ImageShape {
    /// Rows, `H`.
    const HEIGHT: usize;
    /// Pixels in a row, `W`.
    const WIDTH: usize;
    /// Channels of a pixel, `C`.
    const CHANNELS: usize;
    /// One image's values, `[f32; N]`.
    type Values: Row;
    /// The number of values, `N`, which a layer checks against `H · W · C`.
    const LEN: usize = <Self::Values as Row>::WIDTH;
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> ImageShape
    for Image<H, W, C, N>
{
    const HEIGHT: usize = H;
    const WIDTH: usize = W;
    const CHANNELS: usize = C;
    type Values = [f32; N];
}

/// The sizes of a [`Window`] type.
pub trait WindowShape {
    /// The side of the square window, `K`.
    const SIZE: usize;
    /// How far it slides, `S`.
    const STRIDE: usize;
}

impl<const K: usize, const S: usize> WindowShape for Window<K, S> {
    const SIZE: usize = K;
    const STRIDE: usize = S;
}

/// The sizes of a [`Kernel`] type.
pub trait KernelShape {
    /// The number of filters, `F`.
    const FILTERS: usize;
    /// The side of each square filter, `K`.
    const SIZE: usize;
    /// How far it slides, `S`.
    const STRIDE: usize;
}

impl<const F: usize, const K: usize, const S: usize> KernelShape for Kernel<F, K, S> {
    const FILTERS: usize = F;
    const SIZE: usize = K;
    const STRIDE: usize = S;
}

/// The sizes of a [`Padding`] type.
pub trait PaddingShape {
    /// Rows of zeros above the image.
    const TOP: usize;
    /// Columns of zeros to its left.
    const LEFT: usize;
}

impl<const TOP: usize, const LEFT: usize> PaddingShape for Padding<TOP, LEFT> {
    const TOP: usize = TOP;
    const LEFT: usize = LEFT;
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> core::fmt::Debug
    for Image<H, W, C, N>
{
    /// `Image(28×28×1)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Image({H}×{W}×{C})")
    }
}

impl<const F: usize, const K: usize, const S: usize> core::fmt::Debug for Kernel<F, K, S> {
    /// `Kernel(6 × 5×5, stride 1)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Kernel({F} × {K}×{K}, stride {S})")
    }
}

impl<const K: usize, const S: usize> core::fmt::Debug for Window<K, S> {
    /// `Window(2×2, stride 2)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Window({K}×{K}, stride {S})")
    }
}

impl<const TOP: usize, const LEFT: usize> core::fmt::Debug for Padding<TOP, LEFT> {
    /// `Padding(top 2, left 2)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Padding(top {TOP}, left {LEFT})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_read_as_their_sizes() {
        assert_eq!(format!("{:?}", Image::<28, 28, 1, 784>), "Image(28×28×1)");
        assert_eq!(
            format!("{:?}", Kernel::<6, 5, 1>),
            "Kernel(6 × 5×5, stride 1)"
        );
        assert_eq!(format!("{:?}", Window::<2, 2>), "Window(2×2, stride 2)");
        assert_eq!(format!("{:?}", Padding::<2, 1>), "Padding(top 2, left 1)");
    }
}
