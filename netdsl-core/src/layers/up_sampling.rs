//! Nearest-neighbour upsampling of channels-last images. Its buffers are arrays sized by its
//! shapes, so it needs no allocator.

use core::fmt;
use core::marker::PhantomData;

use rand::Rng;

use crate::activation::Linear;
use crate::layer::{Initialize, Layer, Row};
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::shape::ImageShape;

/// Upsampling, Keras' `UpSampling2D` with its default `interpolation="nearest"`:
/// `y[oy][ox][c] = x[oy / RH][ox / RW][c]`, each pixel repeated `RH` times down and `RW` times
/// across.
///
/// Backward: `dx[iy][ix][c] = Σ_{i < RH, j < RW} dz[iy·RH + i][ix·RW + j][c]`.
///
/// The type is `UpSampling2d<Image<H, W, C, IN>, Image<OH, OW, C, OUT>>` (see
/// [`crate::shape`]): the factors are `RH = OH / H` and `RW = OW / W`, Keras'
/// `size=(RH, RW)`, and must divide the output exactly. The layer has no parameters and keeps
/// nothing between its passes; it needs no allocator.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::UpSampling2d;
/// use netdsl_core::shape::Image;
///
/// // A 1×2 image, rows repeated twice and columns three times: 2×6.
/// let up = UpSampling2d::<Image<1, 2, 1, 2>, Image<2, 6, 1, 12>>::new();
/// let mut y = [[0.0; 12]];
/// up.forward(&[[1.0, 2.0]], &mut y, &mut ());
/// assert_eq!(y, [[1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]]);
/// ```
///
/// Sizes that disagree are rejected when the layer is built:
///
/// ```compile_fail,E0080
/// use netdsl_core::layers::UpSampling2d;
/// use netdsl_core::shape::Image;
///
/// // 5 columns are not a whole number of times the image's 2.
/// let up = UpSampling2d::<Image<1, 2, 1, 2>, Image<2, 5, 1, 10>>::new();
/// ```
#[derive(Clone, Copy)]
pub struct UpSampling2d<I, O> {
    /// The shapes are types only.
    shapes: PhantomData<(I, O)>,
}

impl<I: ImageShape, O: ImageShape> UpSampling2d<I, O> {
    /// How many times each row is repeated, `RH`.
    const ROWS: usize = O::HEIGHT / I::HEIGHT;
    /// How many times each pixel of a row is repeated, `RW`.
    const COLUMNS: usize = O::WIDTH / I::WIDTH;

    /// Evaluated by the constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        let (h, w, c) = (I::HEIGHT, I::WIDTH, I::CHANNELS);
        assert!(
            h >= 1 && w >= 1 && c >= 1,
            "`UpSampling2d`: the image needs at least one pixel and one channel"
        );
        assert!(
            I::LEN == h * w * c,
            "`UpSampling2d`: expected IN = H * W * C"
        );
        assert!(
            O::HEIGHT >= h && O::HEIGHT % h == 0 && O::WIDTH >= w && O::WIDTH % w == 0,
            "`UpSampling2d`: expected OH and OW whole multiples of H and W"
        );
        assert!(
            O::CHANNELS == c && O::LEN == O::HEIGHT * O::WIDTH * c,
            "`UpSampling2d`: expected an output of the input's channels, OUT = OH * OW * C"
        );
    };

    /// The upsampling layer.
    pub const fn new() -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            shapes: PhantomData,
        }
    }
}

impl<I: ImageShape, O: ImageShape> Layer for UpSampling2d<I, O> {
    type In = I::Values;
    type Out = O::Values;
    type Activation = Linear;
    type Grads = ();
    type Tape<const B: usize> = ();

    const KIND: &'static str = "UpSampling2D";

    fn new_tape<const B: usize>(&self) {}

    fn forward<const B: usize>(&self, x: &[I::Values; B], y: &mut [O::Values; B], _: &mut ()) {
        let c = I::CHANNELS;
        let (row, out_row) = (I::WIDTH * c, O::WIDTH * c);
        for (x, y) in x.iter().zip(y) {
            let rows = x.values().chunks_exact(row);
            for (x, y) in rows.zip(y.values_mut().chunks_exact_mut(out_row * Self::ROWS)) {
                // The first of the `RH` output rows, then its copies.
                let (first, copies) = y.split_at_mut(out_row);
                for (pixel, repeats) in x
                    .chunks_exact(c)
                    .zip(first.chunks_exact_mut(c * Self::COLUMNS))
                {
                    for out in repeats.chunks_exact_mut(c) {
                        out.copy_from_slice(pixel);
                    }
                }
                for copy in copies.chunks_exact_mut(out_row) {
                    copy.copy_from_slice(first);
                }
            }
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
        let c = I::CHANNELS;
        let (row, out_row) = (I::WIDTH * c, O::WIDTH * c);
        for (dx, dz) in dx.iter_mut().zip(dz) {
            let (dx, dz) = (dx.values_mut(), dz.values());
            for (dx, dz) in dx
                .chunks_exact_mut(row)
                .zip(dz.chunks_exact(out_row * Self::ROWS))
            {
                dx.fill(0.0);
                for dz in dz.chunks_exact(out_row) {
                    for (pixel, repeats) in dx
                        .chunks_exact_mut(c)
                        .zip(dz.chunks_exact(c * Self::COLUMNS))
                    {
                        for g in repeats.chunks_exact(c) {
                            for (d, &g) in pixel.iter_mut().zip(g) {
                                *d += g;
                            }
                        }
                    }
                }
            }
        }
    }

    without_parameters!();

    /// Each pixel repeated: the image as `[H, 1, W, 1, C]`, `Expand`ed to
    /// `[H, fy, W, fx, C]`, read as the output.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let (h, w, c) = (I::HEIGHT, I::WIDTH, I::CHANNELS);
        let (fy, fx) = (O::HEIGHT / h, O::WIDTH / w);
        let x = graph.reshape(x, &[h, 1, w, 1, c]);
        let to = graph.int64s("shape", &[1, 1, fy as i64, 1, fx as i64, 1]);
        let y = graph.node("Expand", &[&x.name, &to], Vec::new(), vec![h, fy, w, fx, c]);
        Ok(graph.reshape(y, &[O::HEIGHT, O::WIDTH, O::CHANNELS]))
    }
}

impl<I: ImageShape, O: ImageShape> Default for UpSampling2d<I, O> {
    fn default() -> Self {
        Self::new()
    }
}

/// Upsampling has no parameters: `network!` builds it with `new()`.
impl<I: ImageShape, O: ImageShape> Initialize for UpSampling2d<I, O> {
    fn initialize<G: Rng + ?Sized>(_rng: &mut G) -> Self {
        Self::new()
    }
}

impl<I: ImageShape, O: ImageShape> fmt::Debug for UpSampling2d<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpSampling2D")
            .field("input", &(I::HEIGHT, I::WIDTH, I::CHANNELS))
            .field("size", &(Self::ROWS, Self::COLUMNS))
            .field("output", &(O::HEIGHT, O::WIDTH, O::CHANNELS))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Image;

    /// A 2×2 image of 2 channels, rows doubled and columns tripled: 4×6.
    type Up = UpSampling2d<Image<2, 2, 2, 8>, Image<4, 6, 2, 48>>;

    #[test]
    fn up_sampling_of_literal_values() {
        let up = Up::new();
        let x = [[1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0, -4.0]];
        let mut y = [[9.0; 48]];
        up.forward(&x, &mut y, &mut ());
        let top = [
            1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0,
        ];
        let bottom = [
            3.0, -3.0, 3.0, -3.0, 3.0, -3.0, 4.0, -4.0, 4.0, -4.0, 4.0, -4.0,
        ];
        let expected: Vec<f32> = [top, top, bottom, bottom].concat();
        assert_eq!(y[0][..], expected[..]);
        let mut single = [9.0; 48];
        up.infer(&x[0], &mut single);
        assert_eq!(single[..], expected[..]);

        // dz = 1, 2, 3, ... over the output: each input pixel sums its 2×3 block of each channel.
        let dz: [[f32; 48]; 1] = [core::array::from_fn(|i| (i + 1) as f32)];
        let mut dx = [[9.0; 8]];
        up.backward(&x, &dz, Some(&mut dx), &mut (), &mut ());
        // Pixel (0, 0), channel 0: outputs (0..2, 0..3) at indices 0, 2, 4, 12, 14, 16.
        let block = |first: usize| {
            [0, 2, 4, 12, 14, 16]
                .iter()
                .map(|o| (first + o + 1) as f32)
                .sum::<f32>()
        };
        let expected = [0, 1, 6, 7, 24, 25, 30, 31].map(block);
        assert_eq!(dx, [expected]);
    }

    #[test]
    fn up_sampling_debug_shows_keras_size() {
        assert_eq!(
            format!("{:?}", Up::new()),
            "UpSampling2D { input: (2, 2, 2), size: (2, 3), output: (4, 6, 2) }"
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn up_sampling_backward_matches_finite_differences() {
        use crate::layers::gradcheck::{check_gradients, values};
        let c = values::<[f32; 48], 2>(1);
        check_gradients(&mut Up::new(), &values(2), &c, &mut ());
    }
}
