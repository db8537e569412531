//! Max and average pooling over channels-last images: one [`Pool2d`] layer owning the windows,
//! the tape and the shape checks, and a [`Reduce`] for each way of pooling a window.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

use core::fmt;
use core::marker::PhantomData;

use rand::Rng;

use crate::activation::Linear;
use crate::kernels::{Isa, MaxRows};
use crate::layer::{Initialize, Layer, Row};
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::shape::{ImageShape, WindowShape};

/// One window of a pool over one sample: `size × size` inputs from index `first`, a row of the
/// image `row` values on and a pixel `col` values on.
#[derive(Clone, Copy, Debug)]
pub struct PoolWindow {
    first: usize,
    size: usize,
    row: usize,
    col: usize,
}

impl PoolWindow {
    /// Calls `visit` with the index of each of the window's inputs, row by row.
    #[inline]
    pub fn for_each_input(self, mut visit: impl FnMut(usize)) {
        for py in 0..self.size {
            let row = self.first + py * self.row;
            for px in 0..self.size {
                visit(row + px * self.col);
            }
        }
    }

    /// How many inputs the window covers.
    pub fn len(self) -> usize {
        self.size * self.size
    }

    /// Whether the window covers no input (never, in a pool whose sizes agree).
    pub fn is_empty(self) -> bool {
        self.size == 0
    }

    /// The same window `by` values on.
    #[inline]
    fn shifted(self, by: usize) -> Self {
        Self {
            first: self.first + by,
            ..self
        }
    }
}

/// Where the windows of a pool over one sample lie: output pixel `(oy, ox)`'s window for
/// channel 0 is `first` moved `oy · down + ox · across` values on.
#[derive(Clone, Copy, Debug)]
pub struct PoolGrid {
    first: PoolWindow,
    rows: usize,
    pixels: usize,
    down: usize,
    across: usize,
}

impl PoolGrid {
    /// Calls `visit(index of the pixel's first output, window for channel 0)` for each output
    /// pixel, row by row: channel `c` of the pixel is output `index + c`, its window starts `c`
    /// values after channel 0's, and the window's `len` inputs are
    /// [`PoolWindow::for_each_input`].
    #[inline]
    pub fn for_each_pixel(self, mut visit: impl FnMut(usize, PoolWindow)) {
        let channels = self.first.col;
        for oy in 0..self.rows {
            for ox in 0..self.pixels {
                let window = PoolWindow {
                    first: self.first.first + oy * self.down + ox * self.across,
                    ..self.first
                };
                visit((oy * self.pixels + ox) * channels, window);
            }
        }
    }
}

/// How a pool reduces a window to one value, forward and backward: [`Max`] or [`Mean`].
pub trait Reduce {
    /// The layer's kind as `summary()` prints it.
    const KIND: &'static str;

    /// The ONNX operator of the pool (`"MaxPool"`), if there is one.
    #[cfg(feature = "onnx")]
    const ONNX_OP: Option<&'static str> = None;

    /// What the forward pass of a batch keeps for the backward one (the [`Pool2d`]'s tape).
    type Tape;

    /// The tape of a batch of `outputs` outputs in all.
    fn new_tape(outputs: usize) -> Self::Tape;

    /// Keeps in `tape` what the backward pass needs of output `at` of the batch: `index`, as
    /// [`Reduce::reduce`] returned it.
    fn keep(tape: &mut Self::Tape, at: usize, index: usize);

    /// What [`Reduce::keep`] kept of output `at` (0 when nothing is kept).
    fn kept(tape: &Self::Tape, at: usize) -> usize;

    /// The window's value and, for a reduction that keeps one, the index of the input it came
    /// from.
    fn reduce(x: &[f32], window: PoolWindow) -> (f32, usize);

    /// Pools one output pixel for every channel at once: `window` is channel 0's, and channel
    /// `ch` of the pixel's window starts `ch` further on. Writes `y[ch]` and keeps each
    /// channel's output `at + ch`. The default goes channel by channel through
    /// [`Reduce::reduce`]; a reduction overrides it to compare whole pixels without branches.
    #[inline]
    fn reduce_pixel(
        x: &[f32],
        window: PoolWindow,
        y: &mut [f32],
        tape: &mut Self::Tape,
        at: usize,
    ) {
        for (ch, y) in y.iter_mut().enumerate() {
            let channel = PoolWindow {
                first: window.first + ch,
                ..window
            };
            let (value, index) = Self::reduce(x, channel);
            *y = value;
            Self::keep(tape, at + ch, index);
        }
    }

    /// [`Reduce::reduce_pixel`] keeping nothing: the pixel's values alone, for inference.
    #[inline]
    fn pool_pixel(x: &[f32], window: PoolWindow, y: &mut [f32]) {
        for (ch, y) in y.iter_mut().enumerate() {
            let channel = PoolWindow {
                first: window.first + ch,
                ..window
            };
            *y = Self::reduce(x, channel).0;
        }
    }

    /// Pools one sample: every output pixel of `y` (channels-last) from `x`, its windows where
    /// `grid` says, keeping output `at + o` for each `y[o]`. The default goes pixel by pixel
    /// through [`Reduce::reduce_pixel`]; a reduction overrides it to work along rows.
    #[inline]
    fn reduce_sample(x: &[f32], grid: PoolGrid, y: &mut [f32], tape: &mut Self::Tape, at: usize) {
        grid.for_each_pixel(|o, window| {
            let pixel = &mut y[o..o + window.col];
            Self::reduce_pixel(x, window, pixel, tape, at + o);
        });
    }

    /// [`Reduce::reduce_sample`] keeping nothing: the sample's values alone, for inference.
    #[inline]
    fn pool_sample(x: &[f32], grid: PoolGrid, y: &mut [f32]) {
        grid.for_each_pixel(|o, window| {
            Self::pool_pixel(x, window, &mut y[o..o + window.col]);
        });
    }

    /// Adds `g`, the gradient of the window's value, to the window's inputs in `dx`; `index` is
    /// what [`Reduce::reduce`] returned with the value.
    fn spread(dx: &mut [f32], g: f32, index: usize, window: PoolWindow);

    /// Adds each gradient `dz[o]` of a sample pooled by [`Reduce::reduce_sample`] to its
    /// window's inputs in `dx`, output by output: [`Reduce::spread`] with what the tape kept
    /// of output `at + o`.
    #[inline]
    fn spread_sample(dx: &mut [f32], dz: &[f32], grid: PoolGrid, tape: &Self::Tape, at: usize) {
        grid.for_each_pixel(|o, window| {
            for ch in 0..window.col {
                let index = Self::kept(tape, at + o + ch);
                Self::spread(dx, dz[o + ch], index, window.shifted(ch));
            }
        });
    }
}

/// Max pooling: the window's maximum, the first one on ties, the first NaN if there is one (a
/// NaN propagates, as in TensorFlow). Backward, its input alone gets the gradient.
#[derive(Clone, Copy, Debug)]
pub enum Max {}

impl Reduce for Max {
    const KIND: &'static str = "MaxPool2d";
    #[cfg(feature = "onnx")]
    const ONNX_OP: Option<&'static str> = Some("MaxPool");
    /// For each output of the batch, the index of its maximum in its sample's input row.
    type Tape = Box<[u32]>;

    fn new_tape(outputs: usize) -> Box<[u32]> {
        vec![0; outputs].into_boxed_slice()
    }

    #[inline]
    fn keep(tape: &mut Box<[u32]>, at: usize, index: usize) {
        // In range: `Pool2d::SHAPES_AGREE` bounds the inputs by u32::MAX.
        tape[at] = index as u32;
    }

    #[inline]
    fn kept(tape: &Box<[u32]>, at: usize) -> usize {
        tape[at] as usize
    }

    #[inline]
    fn reduce(x: &[f32], window: PoolWindow) -> (f32, usize) {
        let mut best = (x[window.first], window.first);
        window.for_each_input(|i| {
            if x[i] > best.0 || x[i].is_nan() && !best.0.is_nan() {
                best = (x[i], i);
            }
        });
        best
    }

    #[inline]
    fn reduce_pixel(
        x: &[f32],
        window: PoolWindow,
        y: &mut [f32],
        tape: &mut Box<[u32]>,
        at: usize,
    ) {
        Max::select::<true>(x, window, y, &mut tape[at..at + y.len()]);
    }

    #[inline]
    fn pool_pixel(x: &[f32], window: PoolWindow, y: &mut [f32]) {
        Max::select::<false>(x, window, y, &mut []);
    }

    #[inline]
    fn reduce_sample(x: &[f32], grid: PoolGrid, y: &mut [f32], tape: &mut Box<[u32]>, at: usize) {
        Max::select_sample::<true>(x, grid, y, &mut tape[at..at + y.len()]);
    }

    #[inline]
    fn pool_sample(x: &[f32], grid: PoolGrid, y: &mut [f32]) {
        Max::select_sample::<false>(x, grid, y, &mut []);
    }

    #[inline]
    fn spread(dx: &mut [f32], g: f32, index: usize, _: PoolWindow) {
        dx[index] += g;
    }

    /// Straight down the kept indices: a max's window is only where its gradient goes.
    #[inline]
    fn spread_sample(dx: &mut [f32], dz: &[f32], _: PoolGrid, tape: &Box<[u32]>, at: usize) {
        for (&g, &index) in dz.iter().zip(&tape[at..at + dz.len()]) {
            dx[index as usize] += g;
        }
    }
}

impl Max {
    /// Each channel's maximum over the pixel's window into `y`, and with `KEEP` the index of
    /// the input it came from into `kept`. It selects rather than branches: which input is a
    /// window's maximum is data, which a branch predictor guesses wrong half the time.
    #[inline(always)]
    fn select<const KEEP: bool>(x: &[f32], window: PoolWindow, y: &mut [f32], kept: &mut [u32]) {
        let channels = y.len();
        let kept = if KEEP { &mut kept[..channels] } else { kept };
        y.copy_from_slice(&x[window.first..window.first + channels]);
        if KEEP {
            for (ch, kept) in kept.iter_mut().enumerate() {
                // In range: `Pool2d::SHAPES_AGREE` bounds the inputs by u32::MAX.
                *kept = (window.first + ch) as u32;
            }
        }
        // The first pixel again, harmlessly: a value never beats itself.
        window.for_each_input(|pixel| {
            let values = &x[pixel..pixel + channels];
            for ch in 0..channels {
                let (value, best) = (values[ch], y[ch]);
                // As `reduce`: the first maximum wins ties, and a NaN wins over numbers. The
                // choice is a mask of all ones or none, so that the compiler selects with bit
                // operations rather than a branch.
                let take = (value > best) | (value.is_nan() & !best.is_nan());
                let take = u32::from(take).wrapping_neg();
                y[ch] = f32::from_bits((value.to_bits() & take) | (best.to_bits() & !take));
                if KEEP {
                    kept[ch] = ((pixel + ch) as u32 & take) | (kept[ch] & !take);
                }
            }
        });
    }

    /// Each output of a sample (see [`Reduce::reduce_sample`]) into `y`, with `KEEP` its
    /// input's index into `kept`, as [`Max::select`] gives them a pixel at a time: along whole
    /// rows of the image ([`MaxRows`]), unless a window is too wide for that.
    #[inline]
    fn select_sample<const KEEP: bool>(x: &[f32], grid: PoolGrid, y: &mut [f32], kept: &mut [u32]) {
        let rows = MaxRows {
            first: grid.first.first,
            rows: grid.rows,
            down: grid.down,
            size: grid.first.size,
            row: grid.first.row,
            channels: grid.first.col,
            stride: grid.across,
        };
        if rows.fits() {
            rows.select::<KEEP>(Isa::selected(), x, y, kept);
            return;
        }
        grid.for_each_pixel(|o, window| {
            let kept = if KEEP {
                &mut kept[o..o + window.col]
            } else {
                &mut []
            };
            Max::select::<KEEP>(x, window, &mut y[o..o + window.col], kept);
        });
    }
}

/// Average pooling: the window's mean. Backward, each of its inputs gets `1 / P²` of the
/// gradient.
#[derive(Clone, Copy, Debug)]
pub enum Mean {}

impl Reduce for Mean {
    const KIND: &'static str = "AvgPool2d";
    #[cfg(feature = "onnx")]
    const ONNX_OP: Option<&'static str> = Some("AveragePool");
    /// Nothing: the backward pass spreads each gradient over its whole window.
    type Tape = ();

    fn new_tape(_: usize) {}

    #[inline]
    fn keep(_: &mut (), _: usize, _: usize) {}

    #[inline]
    fn kept(_: &(), _: usize) -> usize {
        0
    }

    #[inline]
    fn reduce(x: &[f32], window: PoolWindow) -> (f32, usize) {
        let mut sum = 0.0;
        window.for_each_input(|i| sum += x[i]);
        (sum * (1.0 / window.len() as f32), 0)
    }

    /// Every channel of the pixel at once, summed pixel by pixel in the order of `reduce`.
    #[inline]
    fn reduce_pixel(x: &[f32], window: PoolWindow, y: &mut [f32], _: &mut (), _: usize) {
        Self::pool_pixel(x, window, y);
    }

    #[inline]
    fn pool_pixel(x: &[f32], window: PoolWindow, y: &mut [f32]) {
        let channels = y.len();
        y.fill(0.0);
        window.for_each_input(|pixel| {
            for (sum, &value) in y.iter_mut().zip(&x[pixel..pixel + channels]) {
                *sum += value;
            }
        });
        let scale = 1.0 / window.len() as f32;
        for mean in y {
            *mean *= scale;
        }
    }

    #[inline]
    fn spread(dx: &mut [f32], g: f32, _: usize, window: PoolWindow) {
        let g = g * (1.0 / window.len() as f32);
        window.for_each_input(|i| dx[i] += g);
    }
}

/// A pooling layer: `P × P` windows with stride `S` and no padding (Keras'
/// `padding="valid"`) over an `H × W × C` channels-last image `I`, each channel alone, reduced
/// by `R`, giving an `OH × OW × C` image `O` with `OH = (H - P) / S + 1` rounded down. Use it
/// as [`MaxPool2d`] or [`AvgPool2d`].
#[derive(Clone, Copy)]
pub struct Pool2d<R, I, P, O> {
    /// The reduction and the shapes are types only.
    shapes: PhantomData<(R, I, P, O)>,
}

/// Max pooling, a [`Pool2d`] of [`Max`]: `y[oy][ox][c] = max_{py,px < P} x[oy·S + py][ox·S + px][c]`.
///
/// Backward: `dx = dz` at the position of each window's maximum (the first one on ties, the
/// first NaN if there is one: a NaN propagates), `0` elsewhere; overlapping windows (`S < P`)
/// add up.
///
/// The type is `MaxPool2d<Image<H, W, C, IN>, Window<P, S>, Image<OH, OW, C, OUT>>` (see
/// [`crate::shape`]): `P × P` windows with stride `S` and no padding (Keras'
/// `MaxPooling2D(padding="valid")`) over an `H × W × C` channels-last image (`IN = H · W · C`), each channel alone, giving an
/// `OH × OW × C` image with `OH = (H - P) / S + 1` rounded down (`OUT = OH · OW · C`). The
/// tape keeps, for each output, the input index of its maximum.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::MaxPool2d;
/// use netdsl_core::shape::{Image, Window};
///
/// // A 2×2 pool, stride 2, over a 2×4 single-channel image: two outputs.
/// let pool = MaxPool2d::<Image<2, 4, 1, 8>, Window<2, 2>, Image<1, 2, 1, 2>>::new();
/// let mut y = [[0.0; 2]];
/// let x = [[1.0, 5.0, -1.0, -2.0, 3.0, 2.0, -3.0, -0.5]];
/// pool.forward(&x, &mut y, &mut pool.new_tape::<1>());
/// assert_eq!(y, [[5.0, -0.5]]);
/// ```
///
/// Sizes that disagree are rejected when the layer is built:
///
/// ```compile_fail
/// use netdsl_core::layers::MaxPool2d;
/// use netdsl_core::shape::{Image, Window};
///
/// // Keras floors: a 2×2 pool with stride 2 over 5×5 gives 2×2, not 3×3.
/// let pool = MaxPool2d::<Image<5, 5, 1, 25>, Window<2, 2>, Image<3, 3, 1, 9>>::new();
/// ```
pub type MaxPool2d<I, P, O> = Pool2d<Max, I, P, O>;

/// Average pooling, a [`Pool2d`] of [`Mean`]: `y[oy][ox][c] = (1 / P²) Σ_{py,px < P} x[oy·S + py][ox·S + px][c]`.
///
/// Backward: `dx[iy][ix][c] = (1 / P²) Σ dz[oy][ox][c]` over the windows that cover `(iy, ix)`.
///
/// Shapes as for [`MaxPool2d`]: Keras' `AveragePooling2D(padding="valid")`.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::AvgPool2d;
/// use netdsl_core::shape::{Image, Window};
///
/// let pool = AvgPool2d::<Image<2, 4, 1, 8>, Window<2, 2>, Image<1, 2, 1, 2>>::new();
/// let mut y = [[0.0; 2]];
/// let x = [[1.0, 5.0, -1.0, -2.0, 3.0, 2.0, -3.0, -0.5]];
/// pool.forward(&x, &mut y, &mut ());
/// assert_eq!(y, [[2.75, -1.625]]);
/// ```
pub type AvgPool2d<I, P, O> = Pool2d<Mean, I, P, O>;

impl<R: Reduce, I: ImageShape, P: WindowShape, O: ImageShape> Pool2d<R, I, P, O> {
    /// Evaluated by the constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        let (h, w, c, p, s) = (I::HEIGHT, I::WIDTH, I::CHANNELS, P::SIZE, P::STRIDE);
        let (oh, ow) = (O::HEIGHT, O::WIDTH);
        assert!(
            h >= 1 && w >= 1 && c >= 1,
            "a pool's image needs at least one pixel and one channel"
        );
        assert!(p >= 1 && s >= 1, "pool size and stride must be at least 1");
        assert!(p <= h && p <= w, "the pool is larger than the image");
        assert!(I::LEN == h * w * c, "a pool's input needs N = H * W * C");
        assert!(
            oh == (h - p) / s + 1 && ow == (w - p) / s + 1,
            "a pool's output needs OH = (H - P) / S + 1 and OW = (W - P) / S + 1"
        );
        assert!(
            O::CHANNELS == c && O::LEN == oh * ow * c,
            "a pool's output needs the input's channels, and N = OH * OW * C"
        );
        assert!(
            I::LEN <= u32::MAX as usize,
            "a pool of more than 2³² inputs"
        );
    };

    /// The pooling layer.
    pub const fn new() -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            shapes: PhantomData,
        }
    }

    /// Where the windows of one sample lie.
    const GRID: PoolGrid = PoolGrid {
        first: PoolWindow {
            first: 0,
            size: P::SIZE,
            row: I::WIDTH * I::CHANNELS,
            col: I::CHANNELS,
        },
        rows: O::HEIGHT,
        pixels: O::WIDTH,
        down: P::STRIDE * I::WIDTH * I::CHANNELS,
        across: P::STRIDE * I::CHANNELS,
    };

    /// Visits each output with its index in the sample's output and its window.
    #[cfg(test)]
    fn for_each_window(mut visit: impl FnMut(usize, PoolWindow)) {
        let (w, c, s) = (I::WIDTH, I::CHANNELS, P::STRIDE);
        for oy in 0..O::HEIGHT {
            for ox in 0..O::WIDTH {
                for ch in 0..c {
                    let window = PoolWindow {
                        first: (oy * s * w + ox * s) * c + ch,
                        size: P::SIZE,
                        row: w * c,
                        col: c,
                    };
                    visit((oy * O::WIDTH + ox) * c + ch, window);
                }
            }
        }
    }
}

impl<R: Reduce, I: ImageShape, P: WindowShape, O: ImageShape> Layer for Pool2d<R, I, P, O> {
    type In = I::Values;
    type Out = O::Values;
    type Activation = Linear;
    type Grads = ();
    /// The reduction's: with [`Max`], for each output of the batch, `B · OUT` of them, the index
    /// of its maximum in its sample's input row; nothing with [`Mean`].
    type Tape<const B: usize> = R::Tape;

    const KIND: &'static str = R::KIND;

    fn new_tape<const B: usize>(&self) -> R::Tape {
        R::new_tape(B * O::LEN)
    }

    fn forward<const B: usize>(
        &self,
        x: &[I::Values; B],
        y: &mut [O::Values; B],
        tape: &mut R::Tape,
    ) {
        for (k, (x, y)) in x.iter().zip(y).enumerate() {
            R::reduce_sample(x.values(), Self::GRID, y.values_mut(), tape, k * O::LEN);
        }
    }

    fn backward<const B: usize>(
        &self,
        _x: &[I::Values; B],
        dz: &[O::Values; B],
        dx: Option<&mut [I::Values; B]>,
        _grads: &mut (),
        tape: &mut R::Tape,
    ) {
        let Some(dx) = dx else { return };
        for (k, (dx, dz)) in dx.iter_mut().zip(dz).enumerate() {
            let (dx, dz) = (dx.values_mut(), dz.values());
            dx.fill(0.0);
            R::spread_sample(dx, dz, Self::GRID, tape, k * O::LEN);
        }
    }

    /// The pooled values computed without the tape (so without allocating).
    fn infer(&self, x: &I::Values, y: &mut O::Values) {
        R::pool_sample(x.values(), Self::GRID, y.values_mut());
    }

    without_parameters!();

    /// ONNX's pool (channels first) between two `Transpose`s.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let op = R::ONNX_OP.ok_or(onnx::Error::UnsupportedLayer { kind: R::KIND })?;
        let x = graph.reshape(x, &[I::HEIGHT, I::WIDTH, I::CHANNELS]);
        let x = graph.transpose(&x, &[0, 3, 1, 2]);
        let attributes = vec![
            onnx::Attribute::ints("kernel_shape", &[P::SIZE as i64; 2]),
            onnx::Attribute::ints("strides", &[P::STRIDE as i64; 2]),
        ];
        let shape = vec![O::CHANNELS, O::HEIGHT, O::WIDTH];
        let y = graph.node(op, &[&x.name], attributes, shape);
        Ok(graph.transpose(&y, &[0, 2, 3, 1]))
    }
}

impl<R: Reduce, I: ImageShape, P: WindowShape, O: ImageShape> Default for Pool2d<R, I, P, O> {
    fn default() -> Self {
        Self::new()
    }
}

/// A pooling layer has no parameters: `network!` builds it with `new()`.
impl<R: Reduce, I: ImageShape, P: WindowShape, O: ImageShape> Initialize for Pool2d<R, I, P, O> {
    fn initialize<G: Rng + ?Sized>(_rng: &mut G) -> Self {
        Self::new()
    }
}

impl<R: Reduce, I: ImageShape, P: WindowShape, O: ImageShape> fmt::Debug for Pool2d<R, I, P, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(R::KIND)
            .field("input", &(I::HEIGHT, I::WIDTH, I::CHANNELS))
            .field("pool", &(P::SIZE, P::SIZE))
            .field("stride", &P::STRIDE)
            .field("output", &(O::HEIGHT, O::WIDTH, O::CHANNELS))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::gradcheck::{check_gradients, distinct, values};
    use crate::shape::{Image, Window};

    #[rustfmt::skip]
    const IMAGE: [f32; 16] = [
        1.0, 2.0, -1.0, 0.0,
        4.0, 3.0, -2.0, -3.0,
        0.5, 0.0, 7.0, 9.0,
        -1.0, 0.25, 8.0, 6.0,
    ];

    #[test]
    fn max_pool_picks_the_maxima() {
        let pool = MaxPool2d::<Image<4, 4, 1, 16>, Window<2, 2>, Image<2, 2, 1, 4>>::new();
        let mut y = [[0.0; 4]];
        let mut tape = pool.new_tape::<1>();
        pool.forward(&[IMAGE], &mut y, &mut tape);
        assert_eq!(y, [[4.0, 0.0, 0.5, 9.0]]);
        assert_eq!(&tape[..], &[4, 3, 8, 11]);
        let mut dx = [[5.0; 16]];
        pool.backward(
            &[IMAGE],
            &[[1.0, 2.0, 3.0, 4.0]],
            Some(&mut dx),
            &mut (),
            &mut tape,
        );
        #[rustfmt::skip]
        let expected = [
            0.0, 0.0, 0.0, 2.0,
            1.0, 0.0, 0.0, 0.0,
            3.0, 0.0, 0.0, 4.0,
            0.0, 0.0, 0.0, 0.0,
        ];
        assert_eq!(dx, [expected]);
        let mut single = [0.0; 4];
        pool.infer(&IMAGE, &mut single);
        assert_eq!(single, y[0]);
    }

    #[test]
    fn max_pool_keeps_channels_apart_and_floors_the_output_size() {
        // 3×3×2, pool 2, stride 2: Keras floors (3 - 2) / 2 + 1 = 1, the last row and column
        // are dropped. Channel 1 is the negated channel 0.
        let pool = MaxPool2d::<Image<3, 3, 2, 18>, Window<2, 2>, Image<1, 1, 2, 2>>::new();
        let image: Vec<f32> = (0..9).flat_map(|i| [i as f32, -(i as f32)]).collect();
        let mut y = [[0.0; 2]];
        pool.forward(
            &[image.try_into().unwrap()],
            &mut y,
            &mut pool.new_tape::<1>(),
        );
        // Window pixels 0, 1, 3, 4: max 4 in channel 0, max -0 in channel 1.
        assert_eq!(y, [[4.0, 0.0]]);
    }

    #[test]
    fn max_pool_routes_ties_to_the_first_maximum_and_sums_overlaps() {
        // 2×3, pool 2, stride 1: two overlapping windows sharing the maximum 5.
        let pool = MaxPool2d::<Image<2, 3, 1, 6>, Window<2, 1>, Image<1, 2, 1, 2>>::new();
        let x = [[5.0, 5.0, 1.0, 5.0, 0.0, 2.0]];
        let mut tape = pool.new_tape::<1>();
        let mut y = [[0.0; 2]];
        pool.forward(&x, &mut y, &mut tape);
        assert_eq!(y, [[5.0, 5.0]]);
        let mut dx = [[0.0; 6]];
        pool.backward(&x, &[[1.0, 10.0]], Some(&mut dx), &mut (), &mut tape);
        assert_eq!(dx, [[1.0, 10.0, 0.0, 0.0, 0.0, 0.0]]);
    }

    #[test]
    fn max_pool_lets_a_nan_through_wherever_it_is_in_the_window() {
        let pool = MaxPool2d::<Image<2, 2, 1, 4>, Window<2, 2>, Image<1, 1, 1, 1>>::new();
        for at in 0..4 {
            let mut x = [[1.0, 2.0, 3.0, 4.0]];
            x[0][at] = f32::NAN;
            let mut y = [[0.0]];
            pool.forward(&x, &mut y, &mut pool.new_tape::<1>());
            assert!(y[0][0].is_nan(), "NaN at {at}: {y:?}");
            let mut y = [0.0];
            pool.infer(&x[0], &mut y);
            assert!(y[0].is_nan(), "NaN at {at}: {y:?}");
        }
    }

    #[test]
    fn avg_pool_of_literal_values() {
        let pool = AvgPool2d::<Image<4, 4, 1, 16>, Window<2, 2>, Image<2, 2, 1, 4>>::new();
        let mut y = [[0.0; 4]];
        pool.forward(&[IMAGE], &mut y, &mut ());
        assert_eq!(y, [[2.5, -1.5, -0.0625, 7.5]]);
        let mut dx = [[5.0; 16]];
        pool.backward(
            &[IMAGE],
            &[[4.0, 8.0, -4.0, 0.0]],
            Some(&mut dx),
            &mut (),
            &mut (),
        );
        #[rustfmt::skip]
        let expected = [
            1.0, 1.0, 2.0, 2.0,
            1.0, 1.0, 2.0, 2.0,
            -1.0, -1.0, 0.0, 0.0,
            -1.0, -1.0, 0.0, 0.0,
        ];
        assert_eq!(dx, [expected]);
    }

    #[test]
    fn max_pool_backward_matches_finite_differences() {
        let c = values::<[f32; 8], 2>(1);
        let mut pool = MaxPool2d::<Image<5, 4, 2, 40>, Window<2, 2>, Image<2, 2, 2, 8>>::new();
        let mut tape = pool.new_tape::<2>();
        check_gradients(&mut pool, &distinct::<40, 2>(), &c, &mut tape);
        // Overlapping windows: pool 3, stride 1.
        let c = values::<[f32; 6], 4>(2);
        let mut pool = MaxPool2d::<Image<4, 5, 1, 20>, Window<3, 1>, Image<2, 3, 1, 6>>::new();
        let mut tape = pool.new_tape::<4>();
        check_gradients(&mut pool, &distinct::<20, 4>(), &c, &mut tape);
    }

    #[test]
    fn avg_pool_backward_matches_finite_differences() {
        let c = values::<[f32; 8], 2>(3);
        let mut pool = AvgPool2d::<Image<5, 4, 2, 40>, Window<2, 2>, Image<2, 2, 2, 8>>::new();
        check_gradients(&mut pool, &values(4), &c, &mut ());
        let c = values::<[f32; 6], 2>(5);
        let mut pool = AvgPool2d::<Image<4, 5, 1, 20>, Window<3, 1>, Image<2, 3, 1, 6>>::new();
        check_gradients(&mut pool, &values(6), &c, &mut ());
    }

    /// What `forward` computes a pixel at a time must be what `reduce` computes a window at a
    /// time: the same values and, for max pooling, the same kept inputs, with ties (values
    /// rounded to quarters) and NaNs, overlapping windows and several channels.
    fn pixels_agree_with_windows<R: Reduce>(
        pool: &Pool2d<R, Image<5, 6, 3, 90>, Window<2, 1>, Image<4, 5, 3, 60>>,
    ) where
        R::Tape: core::fmt::Debug,
    {
        let mut x = values::<[f32; 90], 2>(11);
        for (i, v) in x.as_flattened_mut().iter_mut().enumerate() {
            *v = (*v * 4.0).round() / 4.0;
            if i % 17 == 3 {
                *v = f32::NAN;
            }
        }
        let mut tape = pool.new_tape::<2>();
        let mut y = [[0.0; 60]; 2];
        pool.forward(&x, &mut y, &mut tape);
        let mut expected_tape = pool.new_tape::<2>();
        for (k, (x, y)) in x.iter().zip(&y).enumerate() {
            Pool2d::<R, Image<5, 6, 3, 90>, Window<2, 1>, Image<4, 5, 3, 60>>::for_each_window(
                |o, window| {
                    let (value, index) = R::reduce(x, window);
                    assert!(
                        value.to_bits() == y[o].to_bits(),
                        "output {o}: {value} vs {}",
                        y[o]
                    );
                    R::keep(&mut expected_tape, k * 60 + o, index);
                },
            );
        }
        assert_eq!(format!("{tape:?}"), format!("{expected_tape:?}"));
        for (x, y) in x.iter().zip(&y) {
            let mut inferred = [0.0; 60];
            pool.infer(x, &mut inferred);
            assert_eq!(inferred.map(f32::to_bits), y.map(f32::to_bits));
        }
    }

    #[test]
    fn pooling_a_pixel_at_a_time_equals_pooling_a_window_at_a_time() {
        pixels_agree_with_windows(&MaxPool2d::new());
        pixels_agree_with_windows(&AvgPool2d::new());
    }
}
