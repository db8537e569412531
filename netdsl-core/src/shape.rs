//! Shapes as types: the sizes a convolution or a pool is made of, grouped and named, so that a
//! layer's type reads `Conv2d<Image<28, 28, 1, 784>, Kernel<6, 5, 1>, Padding<2, 2>,
//! Image<28, 28, 6, 4704>, Relu>` rather than as thirteen numbers in a row.
//!
//! They are markers, never values. Stable Rust cannot compute `H · W · C` in a type, so an
//! image (and a [`Sequence`]) also carries its number of values, `N`; each layer checks when it
//! is built that the sizes agree, and a layer whose sizes disagree does not compile. `network!`
//! works all of them out.

use crate::layer::Row;
use crate::mask::{KeptMask, StepMask};

/// A channels-last image of `H` rows of `W` pixels of `C` channels: `N = H · W · C` values,
/// element `(y, x, c)` at `(y · W + x) · C + c`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Image<const H: usize, const W: usize, const C: usize, const N: usize>;

/// A sequence of `T` steps of `F` features: `N = T · F` values, feature `f` of step `t` at
/// `t · F + f` (Keras' `(steps, features)`, channels last).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Sequence<const T: usize, const F: usize, const N: usize>;

/// The heads of a multi-head attention over a sequence of `T` steps: `H` heads of `K` values
/// each (Keras' `num_heads` and `key_dim`), `TK = T · H · K` the values of one projection of the
/// whole sequence (its queries, its keys or its values) and `TT = T · T` the scores of one head.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Attention<const H: usize, const K: usize, const TK: usize, const TT: usize>;

/// The heads of a multi-head cross-attention, whose queries come from a sequence of `T_q` steps
/// of `F_q` features and whose keys and values come from one of `T_v` steps of `F_v`: `H`
/// heads of `K` values each, `QK = T_q · H · K` and `VK = T_v · H · K` the values of the
/// queries and of the keys (or the values) of a whole sequence, `QV = T_q · T_v` the scores of
/// one head, and `IN = T_q · F_q + T_v · F_v` the values of the pair of sequences the layer
/// reads, the query's then the value's.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct CrossAttention<
    const H: usize,
    const K: usize,
    const QK: usize,
    const VK: usize,
    const QV: usize,
    const IN: usize,
>;

/// The kernel of a convolution: `F` filters of `K × K`, sliding with stride `S`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Kernel<const F: usize, const K: usize, const S: usize>;

/// The kernel of a one-dimensional convolution: `F` filters of `K` taps, `D` steps apart (the
/// dilation rate), sliding with stride `S`. It spans `(K - 1) · D + 1` steps.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Kernel1d<const F: usize, const K: usize, const S: usize, const D: usize>;

/// The window of a pool: `K × K`, sliding with stride `S`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Window<const K: usize, const S: usize>;

/// Zero padding before an image: `TOP` rows above it and `LEFT` columns to its left (what the
/// bottom and right need follows from the output's size).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Padding<const TOP: usize, const LEFT: usize>;

/// Zero padding before a sequence: `LEFT` steps before its first (what its end needs follows
/// from the output's length).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Padding1d<const LEFT: usize>;

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

/// The sizes of a [`Sequence`] type.
pub trait SequenceShape {
    /// Steps, `T`.
    const STEPS: usize;
    /// Features of a step, `F`.
    const FEATURES: usize;
    /// One sequence's values, `[f32; N]`.
    type Values: Row;
    /// The number of values, `N`, which a layer checks against `T · F`.
    const LEN: usize = <Self::Values as Row>::WIDTH;
}

impl<const T: usize, const F: usize, const N: usize> SequenceShape for Sequence<T, F, N> {
    const STEPS: usize = T;
    const FEATURES: usize = F;
    type Values = [f32; N];
}

/// The sizes of an [`Attention`] type.
pub trait AttentionShape {
    /// Heads, `H`.
    const HEADS: usize;
    /// Values of a head's query, key and value, `K` (Keras' `key_dim`, and its `value_dim`).
    const KEY_DIM: usize;
    /// One projection of a sequence, `TK`, which a layer checks against `T · H · K`.
    const PROJECTED: usize;
    /// One head's scores, `TT`, which a layer checks against `T · T` (`T_q · T_v`).
    const SCORES: usize;
    /// The keys (or the values) of a whole sequence, which a layer checks against
    /// `T_v · H · K`: the same as [`Self::PROJECTED`] in self-attention.
    const VALUES_PROJECTED: usize = Self::PROJECTED;
    /// The values of the pair of sequences a cross-attention reads; 0 for self-attention.
    const INPUT: usize = 0;
}

impl<const H: usize, const K: usize, const TK: usize, const TT: usize> AttentionShape
    for Attention<H, K, TK, TT>
{
    const HEADS: usize = H;
    const KEY_DIM: usize = K;
    const PROJECTED: usize = TK;
    const SCORES: usize = TT;
}

/// A shape stored channels last, as a global pool sees it: `POSITIONS` positions (a sequence's
/// steps, an image's pixels) of `CHANNELS` values each, `N = POSITIONS · CHANNELS` values.
pub trait ChannelsLast {
    /// 1 for a [`Sequence`], 2 for an [`Image`].
    const RANK: usize;
    /// Steps of a sequence, `T`; pixels of an image, `H · W`.
    const POSITIONS: usize;
    /// Features of a step, or channels of a pixel.
    const CHANNELS: usize;
    /// All the values, `[f32; N]`.
    type Values: Row;
    /// One position's values, `[f32; CHANNELS]`.
    type Channels: Row;
    /// What a layer keeps of the padding mask of a batch of `B`: a sequence's
    /// [`StepMask`] of its steps; nothing for an image, which has none.
    type Mask<const B: usize>: KeptMask;
}

impl<const T: usize, const F: usize, const N: usize> ChannelsLast for Sequence<T, F, N> {
    const RANK: usize = 1;
    const POSITIONS: usize = T;
    const CHANNELS: usize = F;
    type Values = [f32; N];
    type Channels = [f32; F];
    type Mask<const B: usize> = StepMask<T, B>;
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> ChannelsLast
    for Image<H, W, C, N>
{
    const RANK: usize = 2;
    const POSITIONS: usize = H * W;
    const CHANNELS: usize = C;
    type Values = [f32; N];
    type Channels = [f32; C];
    type Mask<const B: usize> = ();
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

/// The sizes of a [`Kernel1d`] type.
pub trait Kernel1dShape {
    /// The number of filters, `F`.
    const FILTERS: usize;
    /// Taps of each filter, `K`.
    const SIZE: usize;
    /// How far it slides, `S`.
    const STRIDE: usize;
    /// Steps between two taps, `D` (Keras' `dilation_rate`).
    const DILATION: usize;
    /// The steps it spans, `(K - 1) · D + 1`.
    const SPAN: usize = (Self::SIZE - 1) * Self::DILATION + 1;
}

impl<const F: usize, const K: usize, const S: usize, const D: usize> Kernel1dShape
    for Kernel1d<F, K, S, D>
{
    const FILTERS: usize = F;
    const SIZE: usize = K;
    const STRIDE: usize = S;
    const DILATION: usize = D;
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

/// The size of a [`Padding1d`] type.
pub trait Padding1dShape {
    /// Steps of zeros before the sequence.
    const LEFT: usize;
}

impl<const LEFT: usize> Padding1dShape for Padding1d<LEFT> {
    const LEFT: usize = LEFT;
}

impl<const T: usize, const F: usize, const N: usize> core::fmt::Debug for Sequence<T, F, N> {
    /// `Sequence(10×2)`: 10 steps of 2 features.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Sequence({T}×{F})")
    }
}

impl<const F: usize, const K: usize, const S: usize, const D: usize> core::fmt::Debug
    for Kernel1d<F, K, S, D>
{
    /// `Kernel1d(3 × 5, stride 1, dilation 2)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Kernel1d({F} × {K}, stride {S}, dilation {D})")
    }
}

impl<
    const H: usize,
    const K: usize,
    const QK: usize,
    const VK: usize,
    const QV: usize,
    const IN: usize,
> AttentionShape for CrossAttention<H, K, QK, VK, QV, IN>
{
    const HEADS: usize = H;
    const KEY_DIM: usize = K;
    const PROJECTED: usize = QK;
    const SCORES: usize = QV;
    const VALUES_PROJECTED: usize = VK;
    const INPUT: usize = IN;
}

impl<
    const H: usize,
    const K: usize,
    const QK: usize,
    const VK: usize,
    const QV: usize,
    const IN: usize,
> core::fmt::Debug for CrossAttention<H, K, QK, VK, QV, IN>
{
    /// `CrossAttention(2 heads × 3)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "CrossAttention({H} heads × {K})")
    }
}

impl<const H: usize, const K: usize, const TK: usize, const TT: usize> core::fmt::Debug
    for Attention<H, K, TK, TT>
{
    /// `Attention(2 heads × 3)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Attention({H} heads × {K})")
    }
}

impl<const LEFT: usize> core::fmt::Debug for Padding1d<LEFT> {
    /// `Padding1d(left 2)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Padding1d(left {LEFT})")
    }
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
        assert_eq!(format!("{:?}", Sequence::<10, 2, 20>), "Sequence(10×2)");
        assert_eq!(
            format!("{:?}", Kernel1d::<3, 5, 1, 2>),
            "Kernel1d(3 × 5, stride 1, dilation 2)"
        );
        assert_eq!(format!("{:?}", Padding1d::<4>), "Padding1d(left 4)");
        assert_eq!(
            format!("{:?}", Attention::<2, 3, 30, 25>),
            "Attention(2 heads × 3)"
        );
    }

    #[test]
    fn sequences_and_images_read_as_positions_of_channels() {
        fn sizes<S: ChannelsLast>() -> [usize; 3] {
            [S::RANK, S::POSITIONS, S::CHANNELS]
        }
        assert_eq!(sizes::<Sequence<10, 3, 30>>(), [1, 10, 3]);
        assert_eq!(sizes::<Image<4, 5, 2, 40>>(), [2, 20, 2]);
        assert_eq!(<Kernel1d<4, 3, 1, 2> as Kernel1dShape>::SPAN, 5);
    }
}
