//! Max and average pooling over channels-last images.

use core::fmt;
use core::marker::PhantomData;

use rand::Rng;

use crate::activation::Linear;
use crate::layer::{Initialize, Layer};
use crate::shape::{Image, Window};

/// Evaluates to the compile-time check of a pooling layer's sizes, named after `kind`.
macro_rules! pool_shapes_agree {
    ($kind:literal) => {{
        assert!(
            H >= 1 && W >= 1 && C >= 1,
            concat!(
                "`",
                $kind,
                "`: the image needs at least one pixel and one channel"
            )
        );
        assert!(
            P >= 1 && S >= 1,
            concat!("`", $kind, "`: pool size and stride must be at least 1")
        );
        assert!(
            P <= H && P <= W,
            concat!("`", $kind, "`: the pool is larger than the image")
        );
        assert!(
            IN == H * W * C,
            concat!("`", $kind, "`: expected IN = H * W * C")
        );
        assert!(
            OH == (H - P) / S + 1 && OW == (W - P) / S + 1,
            concat!(
                "`",
                $kind,
                "`: expected OH = (H - P) / S + 1 and OW = (W - P) / S + 1"
            )
        );
        assert!(
            OUT == OH * OW * C,
            concat!("`", $kind, "`: expected OUT = OH * OW * C")
        );
        assert!(
            IN <= u32::MAX as usize,
            concat!("`", $kind, "`: more than 2³² inputs")
        );
    }};
}

/// Max pooling: `y[oy][ox][c] = max_{py,px < P} x[oy·S + py][ox·S + px][c]`.
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
/// use netcore::layer::Layer;
/// use netcore::layers::MaxPool2d;
/// use netcore::shape::{Image, Window};
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
/// use netcore::layers::MaxPool2d;
/// use netcore::shape::{Image, Window};
///
/// // Keras floors: a 2×2 pool with stride 2 over 5×5 gives 2×2, not 3×3.
/// let pool = MaxPool2d::<Image<5, 5, 1, 25>, Window<2, 2>, Image<3, 3, 1, 9>>::new();
/// ```
#[derive(Clone, Copy)]
pub struct MaxPool2d<I, P, O> {
    /// The shapes are types only.
    shapes: PhantomData<(I, P, O)>,
}

/// Average pooling: `y[oy][ox][c] = (1 / P²) Σ_{py,px < P} x[oy·S + py][ox·S + px][c]`.
///
/// Backward: `dx[iy][ix][c] = (1 / P²) Σ dz[oy][ox][c]` over the windows that cover `(iy, ix)`.
///
/// Shapes as for [`MaxPool2d`]: Keras' `AveragePooling2D(padding="valid")`.
///
/// ```
/// use netcore::layer::Layer;
/// use netcore::layers::AvgPool2d;
/// use netcore::shape::{Image, Window};
///
/// let pool = AvgPool2d::<Image<2, 4, 1, 8>, Window<2, 2>, Image<1, 2, 1, 2>>::new();
/// let mut y = [[0.0; 2]];
/// let x = [[1.0, 5.0, -1.0, -2.0, 3.0, 2.0, -3.0, -0.5]];
/// pool.forward(&x, &mut y, &mut ());
/// assert_eq!(y, [[2.75, -1.625]]);
/// ```
#[derive(Clone, Copy)]
pub struct AvgPool2d<I, P, O> {
    /// The shapes are types only.
    shapes: PhantomData<(I, P, O)>,
}

/// Calls `visit(output index, first input index of the window)` for every output of one
/// sample; the window's other inputs are at `first + (py · W + px) · C`.
#[inline]
fn for_each_window<
    const W: usize,
    const C: usize,
    const S: usize,
    const OH: usize,
    const OW: usize,
>(
    mut visit: impl FnMut(usize, usize),
) {
    for oy in 0..OH {
        for ox in 0..OW {
            for c in 0..C {
                visit((oy * OW + ox) * C + c, (oy * S * W + ox * S) * C + c);
            }
        }
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const P: usize,
    const S: usize,
    const OH: usize,
    const OW: usize,
    const IN: usize,
    const OUT: usize,
> MaxPool2d<Image<H, W, C, IN>, Window<P, S>, Image<OH, OW, C, OUT>>
{
    /// Evaluated by the constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = pool_shapes_agree!("MaxPool2d");

    /// The pooling layer.
    pub const fn new() -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            shapes: PhantomData,
        }
    }

    /// The index in `x` of the window's maximum (the first one on ties), and the maximum.
    #[inline]
    fn argmax(x: &[f32; IN], first: usize) -> (usize, f32) {
        let mut best = (first, x[first]);
        for py in 0..P {
            for px in 0..P {
                let i = first + (py * W + px) * C;
                // A NaN wins, as in TensorFlow, so that it reaches the output.
                if x[i] > best.1 || x[i].is_nan() && !best.1.is_nan() {
                    best = (i, x[i]);
                }
            }
        }
        best
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const P: usize,
    const S: usize,
    const OH: usize,
    const OW: usize,
    const IN: usize,
    const OUT: usize,
> Layer for MaxPool2d<Image<H, W, C, IN>, Window<P, S>, Image<OH, OW, C, OUT>>
{
    type In = [f32; IN];
    type Out = [f32; OUT];
    type Activation = Linear;
    type Grads = ();
    /// For each output of the batch, `B · OUT` of them, the index of its maximum in its
    /// sample's input row.
    type Tape<const B: usize> = Box<[u32]>;

    const KIND: &'static str = "MaxPool2d";

    fn new_tape<const B: usize>(&self) -> Box<[u32]> {
        vec![0; B * OUT].into_boxed_slice()
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        y: &mut [[f32; OUT]; B],
        tape: &mut Box<[u32]>,
    ) {
        for ((x, y), argmax) in x.iter().zip(y).zip(tape.chunks_exact_mut(OUT)) {
            for_each_window::<W, C, S, OH, OW>(|o, first| {
                let (i, max) = Self::argmax(x, first);
                y[o] = max;
                // In range: `SHAPES_AGREE` bounds IN by u32::MAX.
                argmax[o] = i as u32;
            });
        }
    }

    fn backward<const B: usize>(
        &self,
        _x: &[[f32; IN]; B],
        dz: &[[f32; OUT]; B],
        dx: Option<&mut [[f32; IN]; B]>,
        _grads: &mut (),
        tape: &mut Box<[u32]>,
    ) {
        let Some(dx) = dx else { return };
        for ((dx, dz), argmax) in dx.iter_mut().zip(dz).zip(tape.chunks_exact(OUT)) {
            dx.fill(0.0);
            for (&g, &i) in dz.iter().zip(argmax) {
                dx[i as usize] += g;
            }
        }
    }

    /// The maxima computed without the tape (so without allocating).
    fn infer(&self, x: &[f32; IN], y: &mut [f32; OUT]) {
        for_each_window::<W, C, S, OH, OW>(|o, first| y[o] = Self::argmax(x, first).1);
    }

    fn new_grads(&self) {}

    fn parameter_count(&self) -> usize {
        0
    }

    fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const P: usize,
    const S: usize,
    const OH: usize,
    const OW: usize,
    const IN: usize,
    const OUT: usize,
> AvgPool2d<Image<H, W, C, IN>, Window<P, S>, Image<OH, OW, C, OUT>>
{
    /// Evaluated by the constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = pool_shapes_agree!("AvgPool2d");

    /// The pooling layer.
    pub const fn new() -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            shapes: PhantomData,
        }
    }

    /// `1 / P²`, the weight of each input in its window's mean.
    const SCALE: f32 = 1.0 / (P * P) as f32;
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const P: usize,
    const S: usize,
    const OH: usize,
    const OW: usize,
    const IN: usize,
    const OUT: usize,
> Layer for AvgPool2d<Image<H, W, C, IN>, Window<P, S>, Image<OH, OW, C, OUT>>
{
    type In = [f32; IN];
    type Out = [f32; OUT];
    type Activation = Linear;
    type Grads = ();
    type Tape<const B: usize> = ();

    const KIND: &'static str = "AvgPool2d";

    fn new_tape<const B: usize>(&self) {}

    fn forward<const B: usize>(&self, x: &[[f32; IN]; B], y: &mut [[f32; OUT]; B], _: &mut ()) {
        for (x, y) in x.iter().zip(y) {
            self.infer(x, y);
        }
    }

    fn backward<const B: usize>(
        &self,
        _x: &[[f32; IN]; B],
        dz: &[[f32; OUT]; B],
        dx: Option<&mut [[f32; IN]; B]>,
        _grads: &mut (),
        _tape: &mut (),
    ) {
        let Some(dx) = dx else { return };
        for (dx, dz) in dx.iter_mut().zip(dz) {
            dx.fill(0.0);
            for_each_window::<W, C, S, OH, OW>(|o, first| {
                let g = dz[o] * Self::SCALE;
                for py in 0..P {
                    for px in 0..P {
                        dx[first + (py * W + px) * C] += g;
                    }
                }
            });
        }
    }

    fn infer(&self, x: &[f32; IN], y: &mut [f32; OUT]) {
        for_each_window::<W, C, S, OH, OW>(|o, first| {
            let mut sum = 0.0;
            for py in 0..P {
                for px in 0..P {
                    sum += x[first + (py * W + px) * C];
                }
            }
            y[o] = sum * Self::SCALE;
        });
    }

    fn new_grads(&self) {}

    fn parameter_count(&self) -> usize {
        0
    }

    fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}
}

/// The traits every pooling layer implements alike.
macro_rules! pool_impls {
    ($pool:ident) => {
        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const P: usize,
            const S: usize,
            const OH: usize,
            const OW: usize,
            const IN: usize,
            const OUT: usize,
        > Default for $pool<Image<H, W, C, IN>, Window<P, S>, Image<OH, OW, C, OUT>>
        {
            fn default() -> Self {
                Self::new()
            }
        }

        /// A pooling layer has no parameters: `network!` builds it with `new()`.
        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const P: usize,
            const S: usize,
            const OH: usize,
            const OW: usize,
            const IN: usize,
            const OUT: usize,
        > Initialize for $pool<Image<H, W, C, IN>, Window<P, S>, Image<OH, OW, C, OUT>>
        {
            fn initialize<R: Rng + ?Sized>(_rng: &mut R) -> Self {
                Self::new()
            }
        }

        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const P: usize,
            const S: usize,
            const OH: usize,
            const OW: usize,
            const IN: usize,
            const OUT: usize,
        > fmt::Debug for $pool<Image<H, W, C, IN>, Window<P, S>, Image<OH, OW, C, OUT>>
        {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($pool))
                    .field("input", &(H, W, C))
                    .field("pool", &(P, P))
                    .field("stride", &S)
                    .field("output", &(OH, OW, C))
                    .finish()
            }
        }
    };
}

pool_impls!(MaxPool2d);
pool_impls!(AvgPool2d);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::gradcheck::{check_gradients, values};

    /// Inputs all distinct and at least 0.1 apart, so no finite-difference step of 1e-2
    /// changes which input of a window is its maximum.
    fn distinct<const N: usize, const B: usize>() -> [[f32; N]; B] {
        let mut x = [[0.0; N]; B];
        for (i, v) in x.as_flattened_mut().iter_mut().enumerate() {
            // 37 is prime to every N · B used here, so the values are a permutation.
            *v = ((i * 37) % (N * B)) as f32 * 0.1 - 1.0;
        }
        x
    }

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
}
