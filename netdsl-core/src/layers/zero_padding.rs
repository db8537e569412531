//! Zero padding around channels-last images. Its buffers are arrays sized by its shapes, so it
//! needs no allocator.

use core::fmt;
use core::marker::PhantomData;

use rand::Rng;

use crate::activation::Linear;
use crate::layer::{Initialize, Layer, Row};
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::shape::{ImageShape, PaddingShape};

/// Zero padding, Keras' `ZeroPadding2D`: `y[PT + iy][PL + ix][c] = x[iy][ix][c]`, and `0` in the
/// border.
///
/// Backward: `dx[iy][ix][c] = dz[PT + iy][PL + ix][c]` (the border's gradients go nowhere).
///
/// The type is `ZeroPadding2d<Image<H, W, C, IN>, Padding<PT, PL>, Image<OH, OW, C, OUT>>` (see
/// [`crate::shape`]): an `H × W × C` image gets `PT` rows of zeros on top and `OH - H - PT`
/// at the bottom, `PL` columns on the left and `OW - W - PL` on the right. Keras'
/// `padding=((top, bottom), (left, right))` is `PT = top`, `OH = H + top + bottom`, `PL = left`,
/// `OW = W + left + right`. The layer has no parameters and keeps nothing between its passes;
/// it needs no allocator.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::ZeroPadding2d;
/// use netdsl_core::shape::{Image, Padding};
///
/// // A 1×2 image, one row of zeros on top and one column on the right: 2×3.
/// let pad = ZeroPadding2d::<Image<1, 2, 1, 2>, Padding<1, 0>, Image<2, 3, 1, 6>>::new();
/// let mut y = [[9.0; 6]];
/// pad.forward(&[[1.0, 2.0]], &mut y, &mut ());
/// assert_eq!(y, [[0.0, 0.0, 0.0, 1.0, 2.0, 0.0]]);
/// ```
///
/// Sizes that disagree are rejected when the layer is built:
///
/// ```compile_fail,E0080
/// use netdsl_core::layers::ZeroPadding2d;
/// use netdsl_core::shape::{Image, Padding};
///
/// // Two rows on top leave no room in an output of 2 rows for the image's 1.
/// let pad = ZeroPadding2d::<Image<1, 2, 1, 2>, Padding<2, 0>, Image<2, 3, 1, 6>>::new();
/// ```
#[derive(Clone, Copy)]
pub struct ZeroPadding2d<I, P, O> {
    /// The shapes are types only.
    shapes: PhantomData<(I, P, O)>,
}

impl<I: ImageShape, P: PaddingShape, O: ImageShape> ZeroPadding2d<I, P, O> {
    /// Evaluated by the constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        let (h, w, c) = (I::HEIGHT, I::WIDTH, I::CHANNELS);
        assert!(
            h >= 1 && w >= 1 && c >= 1,
            "`ZeroPadding2d`: the image needs at least one pixel and one channel"
        );
        assert!(
            I::LEN == h * w * c,
            "`ZeroPadding2d`: expected IN = H * W * C"
        );
        assert!(
            P::TOP + h <= O::HEIGHT && P::LEFT + w <= O::WIDTH,
            "`ZeroPadding2d`: the output must hold the padding on top and left, and the image"
        );
        assert!(
            O::CHANNELS == c && O::LEN == O::HEIGHT * O::WIDTH * c,
            "`ZeroPadding2d`: expected an output of the input's channels, OUT = OH * OW * C"
        );
    };

    /// The padding layer.
    pub const fn new() -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            shapes: PhantomData,
        }
    }

    /// Calls `visit(input row, output row)` with each row of the image and the part of an
    /// output row it occupies (`W · C` values each, of one sample).
    #[inline]
    fn rows(mut visit: impl FnMut(usize, usize)) {
        let (run, c) = (I::WIDTH * I::CHANNELS, I::CHANNELS);
        for row in 0..I::HEIGHT {
            visit(row * run, ((row + P::TOP) * O::WIDTH + P::LEFT) * c);
        }
    }
}

impl<I: ImageShape, P: PaddingShape, O: ImageShape> Layer for ZeroPadding2d<I, P, O> {
    type In = I::Values;
    type Out = O::Values;
    type Activation = Linear;
    type Grads = ();
    type Tape<const B: usize> = ();

    const KIND: &'static str = "ZeroPadding2D";

    fn new_tape<const B: usize>(&self) {}

    fn forward<const B: usize>(&self, x: &[I::Values; B], y: &mut [O::Values; B], _: &mut ()) {
        let run = I::WIDTH * I::CHANNELS;
        for (x, y) in x.iter().zip(y) {
            let (x, y) = (x.values(), y.values_mut());
            y.fill(0.0);
            Self::rows(|from, to| y[to..][..run].copy_from_slice(&x[from..][..run]));
        }
    }

    fn backward<const B: usize>(
        &self,
        _x: &[I::Values; B],
        dz: &[O::Values; B],
        dx: Option<&mut [I::Values; B]>,
        _grads: &mut (),
        _tape: &mut (),
    ) {
        let Some(dx) = dx else { return };
        let run = I::WIDTH * I::CHANNELS;
        for (dx, dz) in dx.iter_mut().zip(dz) {
            let (dx, dz) = (dx.values_mut(), dz.values());
            Self::rows(|to, from| dx[to..][..run].copy_from_slice(&dz[from..][..run]));
        }
    }

    without_parameters!();

    /// `Pad` with zeros, above and to the left as the layer says, below and to the right what
    /// the output's size leaves.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = graph.reshape(x, &[I::HEIGHT, I::WIDTH, I::CHANNELS]);
        let bottom = O::HEIGHT - I::HEIGHT - P::TOP;
        let right = O::WIDTH - I::WIDTH - P::LEFT;
        let pads = [0, P::TOP, P::LEFT, 0, 0, bottom, right, 0].map(|p| p as i64);
        let pads = graph.int64s("pads", &pads);
        let shape = vec![O::HEIGHT, O::WIDTH, O::CHANNELS];
        Ok(graph.node("Pad", &[&x.name, &pads], Vec::new(), shape))
    }
}

impl<I: ImageShape, P: PaddingShape, O: ImageShape> Default for ZeroPadding2d<I, P, O> {
    fn default() -> Self {
        Self::new()
    }
}

/// Zero padding has no parameters: `network!` builds it with `new()`.
impl<I: ImageShape, P: PaddingShape, O: ImageShape> Initialize for ZeroPadding2d<I, P, O> {
    fn initialize<G: Rng + ?Sized>(_rng: &mut G) -> Self {
        Self::new()
    }
}

impl<I: ImageShape, P: PaddingShape, O: ImageShape> fmt::Debug for ZeroPadding2d<I, P, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (top, left) = (P::TOP, P::LEFT);
        let bottom = O::HEIGHT - I::HEIGHT - top;
        let right = O::WIDTH - I::WIDTH - left;
        f.debug_struct("ZeroPadding2D")
            .field("input", &(I::HEIGHT, I::WIDTH, I::CHANNELS))
            .field("padding", &((top, bottom), (left, right)))
            .field("output", &(O::HEIGHT, O::WIDTH, O::CHANNELS))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{Image, Padding};

    /// A 2×2 image of 2 channels padded by `((1, 0), (2, 1))`: 3×5.
    type Asymmetric = ZeroPadding2d<Image<2, 2, 2, 8>, Padding<1, 2>, Image<3, 5, 2, 30>>;

    #[test]
    fn zero_padding_of_literal_values() {
        let pad = Asymmetric::new();
        let x = [[1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0, -4.0]];
        let mut y = [[9.0; 30]];
        pad.forward(&x, &mut y, &mut ());
        #[rustfmt::skip]
        let expected = [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 0.0, 1.0, -1.0, 2.0, -2.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 0.0, 3.0, -3.0, 4.0, -4.0, 0.0, 0.0,
        ];
        assert_eq!(y, [expected]);
        let mut single = [9.0; 30];
        pad.infer(&x[0], &mut single);
        assert_eq!(single, expected);

        let dz: [[f32; 30]; 1] = [core::array::from_fn(|i| i as f32)];
        let mut dx = [[9.0; 8]];
        pad.backward(&x, &dz, Some(&mut dx), &mut (), &mut ());
        assert_eq!(dx, [[14.0, 15.0, 16.0, 17.0, 24.0, 25.0, 26.0, 27.0]]);
    }

    #[test]
    fn zero_padding_debug_shows_keras_padding() {
        assert_eq!(
            format!("{:?}", Asymmetric::new()),
            "ZeroPadding2D { input: (2, 2, 2), padding: ((1, 0), (2, 1)), output: (3, 5, 2) }"
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn zero_padding_backward_matches_finite_differences() {
        use crate::layers::gradcheck::{check_gradients, values};
        let c = values::<[f32; 30], 2>(1);
        check_gradients(&mut Asymmetric::new(), &values(2), &c, &mut ());
    }
}
