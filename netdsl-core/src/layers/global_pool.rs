//! Global pooling over sequences and images: one [`GlobalPool`] layer reducing every channel
//! over all positions, and a [`GlobalReduce`] for each way of reducing them. Its buffers are
//! arrays sized by its shape, so it needs no allocator.

use core::fmt;
use core::marker::PhantomData;

use rand::Rng;

use crate::activation::Linear;
use crate::layer::{Initialize, Layer, Row};
use crate::mask::KeptMask;
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::shape::ChannelsLast;

/// How a global pool reduces each channel over every position, forward and backward: the
/// maximum ([`GlobalMax`]) or the mean ([`GlobalMean`]).
pub trait GlobalReduce {
    /// Keras' names of the layer over a sequence and over an image, which `summary()` prints.
    const KINDS: [&'static str; 2];

    /// The ONNX reduction of the pool (`"ReduceMax"`), if there is one.
    #[cfg(feature = "onnx")]
    const ONNX_OP: Option<&'static str> = None;

    /// `y[c]` for each of the `y.len()` channels of one sample, whose values `x` are positions
    /// of `y.len()` channels each, and whose `mask`, if it has one, says which positions are
    /// data (the reductions Keras masks leave the others out; the others never get one).
    fn forward(x: &[f32], mask: Option<&[bool]>, y: &mut [f32]);

    /// One sample's input gradient `dx` from the gradient `dz` of its pooled values;
    /// `scratch` holds `2 · dz.len()` values for the reduction to use.
    fn backward(x: &[f32], mask: Option<&[bool]>, dz: &[f32], dx: &mut [f32], scratch: &mut [f32]);
}

/// The maximum of each channel: `y[c] = max_p x[p][c]`, a NaN if the channel has one (a NaN
/// propagates, as in TensorFlow).
///
/// Backward: `dx[p][c] = dz[c] / n_c` at the `n_c` positions holding the maximum, `0`
/// elsewhere: ties share the gradient equally, as the gradient of Keras' `ops.max` (TensorFlow's
/// `reduce_max`) does. ([`MaxPool2d`](super::MaxPool2d) routes it to the first maximum instead,
/// as TensorFlow's `MaxPool` does.)
#[derive(Clone, Copy, Debug)]
pub enum GlobalMax {}

impl GlobalReduce for GlobalMax {
    const KINDS: [&'static str; 2] = ["GlobalMaxPooling1D", "GlobalMaxPooling2D"];
    #[cfg(feature = "onnx")]
    const ONNX_OP: Option<&'static str> = Some("ReduceMax");

    /// Keras' `GlobalMaxPooling1D` drops a mask: `network!` never gives it one.
    fn forward(x: &[f32], _mask: Option<&[bool]>, y: &mut [f32]) {
        let (first, rest) = x.split_at(y.len());
        y.copy_from_slice(first);
        for position in rest.chunks_exact(y.len()) {
            for (y, &v) in y.iter_mut().zip(position) {
                if v > *y || v.is_nan() && !y.is_nan() {
                    *y = v;
                }
            }
        }
    }

    fn backward(x: &[f32], _: Option<&[bool]>, dz: &[f32], dx: &mut [f32], scratch: &mut [f32]) {
        let (max, ties) = scratch.split_at_mut(dz.len());
        Self::forward(x, None, max);
        // A NaN maximum is held by the NaN inputs.
        let holds = |v: f32, max: f32| v == max || v.is_nan() && max.is_nan();
        ties.fill(0.0);
        for position in x.chunks_exact(dz.len()) {
            for ((ties, &v), &max) in ties.iter_mut().zip(position).zip(&*max) {
                *ties += f32::from(u8::from(holds(v, max)));
            }
        }
        let positions = x.chunks_exact(dz.len()).zip(dx.chunks_exact_mut(dz.len()));
        for (position, dx) in positions {
            for (((dx, &v), &max), (&ties, &dz)) in dx
                .iter_mut()
                .zip(position)
                .zip(&*max)
                .zip(ties.iter().zip(dz))
            {
                *dx = if holds(v, max) { dz / ties } else { 0.0 };
            }
        }
    }
}

/// The mean of each channel: `y[c] = (1 / P) Σ_p x[p][c]` over the `P` positions or, given a
/// mask, over the `P` positions of data only, as Keras' `GlobalAveragePooling1D` averages a
/// masked sequence (a sample of padding only has no data to average: its mean is `0 / 0`, NaN,
/// as in Keras).
///
/// Backward: `dx[p][c] = dz[c] / P` at the positions averaged, `0` at the others.
#[derive(Clone, Copy, Debug)]
pub enum GlobalMean {}

impl GlobalMean {
    /// Whether position `p` is averaged, and how many are.
    fn averaged(mask: Option<&[bool]>, positions: usize) -> (impl Fn(usize) -> bool + '_, f32) {
        let count = mask.map_or(positions, |m| m[..positions].iter().filter(|&&d| d).count());
        (move |p| mask.is_none_or(|m| m[p]), count as f32)
    }
}

impl GlobalReduce for GlobalMean {
    const KINDS: [&'static str; 2] = ["GlobalAveragePooling1D", "GlobalAveragePooling2D"];
    #[cfg(feature = "onnx")]
    const ONNX_OP: Option<&'static str> = Some("ReduceMean");

    fn forward(x: &[f32], mask: Option<&[bool]>, y: &mut [f32]) {
        let (averaged, count) = Self::averaged(mask, x.len() / y.len());
        y.fill(0.0);
        for (p, position) in x.chunks_exact(y.len()).enumerate() {
            if averaged(p) {
                for (y, &v) in y.iter_mut().zip(position) {
                    *y += v;
                }
            }
        }
        for y in y {
            *y /= count;
        }
    }

    fn backward(x: &[f32], mask: Option<&[bool]>, dz: &[f32], dx: &mut [f32], _: &mut [f32]) {
        let (averaged, count) = Self::averaged(mask, x.len() / dz.len());
        for (p, dx) in dx.chunks_exact_mut(dz.len()).enumerate() {
            if averaged(p) {
                for (dx, &dz) in dx.iter_mut().zip(dz) {
                    *dx = dz / count;
                }
            } else {
                dx.fill(0.0);
            }
        }
    }
}

/// A global pooling layer: every channel of a channels-last sequence or image `S` (a
/// [`Sequence`](crate::shape::Sequence) of `T` steps of `F` features, or an
/// [`Image`](crate::shape::Image) of `H × W` pixels of `C` channels) reduced over all its
/// positions by `R`, giving a vector of one value per channel. Use it as [`GlobalMaxPool`] or
/// [`GlobalAvgPool`].
#[derive(Clone, Copy)]
pub struct GlobalPool<R, S> {
    /// The reduction and the shape are types only.
    shapes: PhantomData<(R, S)>,
}

/// Global max pooling, a [`GlobalPool`] of [`GlobalMax`]: `y[c] = max_p x[p][c]`, Keras'
/// `GlobalMaxPooling1D` over a [`Sequence`](crate::shape::Sequence) (`p` its steps, `c` its
/// features) and `GlobalMaxPooling2D` over an [`Image`](crate::shape::Image) (`p` its pixels).
///
/// Backward: `dx[p][c] = dz[c] / n_c` at the `n_c` positions holding the maximum (ties share it,
/// as in TensorFlow), `0` elsewhere.
///
/// The type is `GlobalMaxPool<Sequence<T, F, N>>`, from `N = T · F` values to `[f32; F]`, or
/// `GlobalMaxPool<Image<H, W, C, N>>`, to `[f32; C]`. The layer keeps nothing between its
/// passes (its backward pass finds the maxima again in its input), so it allocates nothing and
/// needs no allocator.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::GlobalMaxPool;
/// use netdsl_core::shape::Sequence;
///
/// // 3 steps of 2 features: the largest value of each feature.
/// let pool = GlobalMaxPool::<Sequence<3, 2, 6>>::new();
/// let x = [[1.0, -4.0, 5.0, -2.0, 3.0, -6.0]];
/// let mut y = [[0.0; 2]];
/// pool.forward(&x, &mut y, &mut pool.new_tape());
/// assert_eq!(y, [[5.0, -2.0]]);
/// let mut dx = [[9.0; 6]];
/// pool.backward(&x, &[[1.0, 10.0]], Some(&mut dx), &mut (), &mut pool.new_tape());
/// assert_eq!(dx, [[0.0, 0.0, 1.0, 10.0, 0.0, 0.0]]);
/// ```
pub type GlobalMaxPool<S> = GlobalPool<GlobalMax, S>;

/// Global average pooling, a [`GlobalPool`] of [`GlobalMean`]: `y[c] = (1 / P) Σ_p x[p][c]` over
/// the `P` positions, Keras' `GlobalAveragePooling1D` over a
/// [`Sequence`](crate::shape::Sequence) (`P = T` steps) and `GlobalAveragePooling2D` over an
/// [`Image`](crate::shape::Image) (`P = H · W` pixels).
///
/// Backward: `dx[p][c] = dz[c] / P`.
///
/// Shapes as for [`GlobalMaxPool`]; no allocator needed.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::GlobalAvgPool;
/// use netdsl_core::shape::Image;
///
/// // A 2×2 image of 2 channels: the mean of each channel.
/// let pool = GlobalAvgPool::<Image<2, 2, 2, 8>>::new();
/// let x = [[1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 6.0, 60.0]];
/// let mut y = [[0.0; 2]];
/// pool.forward(&x, &mut y, &mut ());
/// assert_eq!(y, [[3.0, 30.0]]);
/// ```
pub type GlobalAvgPool<S> = GlobalPool<GlobalMean, S>;

impl<R: GlobalReduce, S: ChannelsLast> GlobalPool<R, S> {
    /// Evaluated by the constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        assert!(
            S::RANK == 1 || S::RANK == 2,
            "a global pool runs over a sequence or an image"
        );
        assert!(
            S::POSITIONS >= 1 && S::CHANNELS >= 1,
            "a global pool needs at least one position and one channel"
        );
        assert!(
            <S::Values as Row>::WIDTH == S::POSITIONS * S::CHANNELS,
            "a global pool's input needs N = POSITIONS * CHANNELS"
        );
        assert!(
            <S::Channels as Row>::WIDTH == S::CHANNELS,
            "a global pool's output has one value per channel"
        );
    };

    /// Sample `b`'s flags of a batch's `mask`, if there is one.
    fn sample(mask: Option<&[bool]>, b: usize) -> Option<&[bool]> {
        mask.map(|mask| &mask[b * S::POSITIONS..][..S::POSITIONS])
    }

    /// The pooling layer.
    pub const fn new() -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            shapes: PhantomData,
        }
    }
}

impl<R: GlobalReduce, S: ChannelsLast> Layer for GlobalPool<R, S> {
    type In = S::Values;
    type Out = S::Channels;
    type Activation = Linear;
    type Grads = ();
    /// The mask of a sequence's steps, if it is given one (an image's: nothing); the backward
    /// pass reads the rest from the input.
    type Tape<const B: usize> = S::Mask<B>;

    const KIND: &'static str = R::KINDS[S::RANK - 1];

    fn new_tape<const B: usize>(&self) -> S::Mask<B> {
        S::Mask::<B>::default()
    }

    fn forward<const B: usize>(
        &self,
        x: &[S::Values; B],
        y: &mut [S::Channels; B],
        tape: &mut S::Mask<B>,
    ) {
        for (b, (x, y)) in x.iter().zip(y).enumerate() {
            R::forward(
                x.values(),
                Self::sample(KeptMask::kept(tape), b),
                y.values_mut(),
            );
        }
    }

    fn infer(&self, x: &S::Values, y: &mut S::Channels) {
        R::forward(x.values(), None, y.values_mut());
    }

    fn infer_masked(
        &self,
        x: &S::Values,
        mask: Option<&[bool]>,
        y: &mut S::Channels,
        _output_mask: &mut [bool],
    ) -> bool {
        R::forward(x.values(), mask, y.values_mut());
        false
    }

    fn set_input_mask<const B: usize>(&self, tape: &mut S::Mask<B>, mask: Option<&[bool]>) {
        tape.keep(mask);
    }

    fn backward<const B: usize>(
        &self,
        x: &[S::Values; B],
        dz: &[S::Channels; B],
        dx: Option<&mut [S::Values; B]>,
        _grads: &mut (),
        tape: &mut S::Mask<B>,
    ) {
        let Some(dx) = dx else { return };
        let mut scratch: [S::Channels; 2] = bytemuck::Zeroable::zeroed();
        let scratch: &mut [f32] = bytemuck::cast_slice_mut(&mut scratch);
        for (b, ((x, dz), dx)) in x.iter().zip(dz).zip(dx).enumerate() {
            let mask = Self::sample(KeptMask::kept(tape), b);
            R::backward(x.values(), mask, dz.values(), dx.values_mut(), scratch);
        }
    }

    without_parameters!();

    /// The reduction along the positions (`ReduceMax` or `ReduceMean`).
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let op = R::ONNX_OP.ok_or(onnx::Error::UnsupportedLayer { kind: Self::KIND })?;
        let x = graph.reshape(x, &[S::POSITIONS, S::CHANNELS]);
        let attributes = vec![
            onnx::Attribute::ints("axes", &[1]),
            onnx::Attribute::int("keepdims", 0),
        ];
        Ok(graph.node(op, &[&x.name], attributes, vec![S::CHANNELS]))
    }
}

impl<R: GlobalReduce, S: ChannelsLast> Default for GlobalPool<R, S> {
    fn default() -> Self {
        Self::new()
    }
}

/// A global pool has no parameters: `network!` builds it with `new()`.
impl<R: GlobalReduce, S: ChannelsLast> Initialize for GlobalPool<R, S> {
    fn initialize<G: Rng + ?Sized>(_rng: &mut G) -> Self {
        Self::new()
    }
}

impl<R: GlobalReduce, S: ChannelsLast> fmt::Debug for GlobalPool<R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(<Self as Layer>::KIND)
            .field("positions", &S::POSITIONS)
            .field("channels", &S::CHANNELS)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::StepMask;
    use crate::shape::{Image, Sequence};

    /// 4 steps of 3 features; feature 1 ties its maximum (2.0) at steps 1 and 3.
    #[rustfmt::skip]
    const STEPS: [f32; 12] = [
        1.0, -1.0, 0.5,
        4.0, 2.0, -3.0,
        -2.0, 0.0, -0.5,
        3.0, 2.0, 7.0,
    ];

    #[test]
    fn global_max_pool_of_a_sequence_of_literal_values() {
        let pool = GlobalMaxPool::<Sequence<4, 3, 12>>::new();
        let mut y = [[0.0; 3]];
        pool.forward(&[STEPS], &mut y, &mut StepMask::default());
        assert_eq!(y, [[4.0, 2.0, 7.0]]);
        let mut dx = [[9.0; 12]];
        pool.backward(
            &[STEPS],
            &[[1.0, 10.0, -2.0]],
            Some(&mut dx),
            &mut (),
            &mut StepMask::default(),
        );
        #[rustfmt::skip]
        let expected = [
            0.0, 0.0, 0.0,
            1.0, 5.0, 0.0,
            0.0, 0.0, 0.0,
            0.0, 5.0, -2.0,
        ];
        assert_eq!(dx, [expected]);
        let mut single = [0.0; 3];
        pool.infer(&STEPS, &mut single);
        assert_eq!(single, y[0]);
    }

    #[test]
    fn global_average_pool_of_a_sequence_of_literal_values() {
        let pool = GlobalAvgPool::<Sequence<4, 3, 12>>::new();
        let mut y = [[0.0; 3]];
        pool.forward(&[STEPS], &mut y, &mut StepMask::default());
        assert_eq!(y, [[1.5, 0.75, 1.0]]);
        let mut dx = [[9.0; 12]];
        pool.backward(
            &[STEPS],
            &[[4.0, -8.0, 2.0]],
            Some(&mut dx),
            &mut (),
            &mut StepMask::default(),
        );
        assert_eq!(dx[0][..], [1.0, -2.0, 0.5].repeat(4));
    }

    #[test]
    fn global_pools_of_an_image_reduce_every_pixel_of_each_channel() {
        // A 2×3 image of 2 channels, channel 1 the negated channel 0.
        let image: [f32; 12] = core::array::from_fn(|i| {
            let v = [3.0, -1.0, 8.0, 0.5, 1.5, -6.0][i / 2];
            if i % 2 == 0 { v } else { -v }
        });
        let max = GlobalMaxPool::<Image<2, 3, 2, 12>>::new();
        let mut y = [[0.0; 2]];
        max.forward(&[image], &mut y, &mut ());
        assert_eq!(y, [[8.0, 6.0]]);
        let mut dx = [[9.0; 12]];
        max.backward(&[image], &[[1.0, 2.0]], Some(&mut dx), &mut (), &mut ());
        let mut expected = [0.0; 12];
        (expected[4], expected[11]) = (1.0, 2.0);
        assert_eq!(dx, [expected]);

        let mean = GlobalAvgPool::<Image<2, 3, 2, 12>>::new();
        mean.forward(&[image], &mut y, &mut ());
        assert_eq!(y, [[1.0, -1.0]]);
        mean.backward(&[image], &[[6.0, -3.0]], Some(&mut dx), &mut (), &mut ());
        assert_eq!(dx[0][..], [1.0, -0.5].repeat(6));
    }

    #[test]
    fn global_pools_are_named_as_keras_names_them() {
        assert_eq!(
            <GlobalAvgPool<Sequence<4, 3, 12>> as Layer>::KIND,
            "GlobalAveragePooling1D"
        );
        assert_eq!(
            <GlobalMaxPool<Sequence<4, 3, 12>> as Layer>::KIND,
            "GlobalMaxPooling1D"
        );
        assert_eq!(
            <GlobalAvgPool<Image<2, 3, 2, 12>> as Layer>::KIND,
            "GlobalAveragePooling2D"
        );
        assert_eq!(
            <GlobalMaxPool<Image<2, 3, 2, 12>> as Layer>::KIND,
            "GlobalMaxPooling2D"
        );
    }

    #[test]
    fn global_max_pool_lets_a_nan_through_and_gives_it_the_gradient() {
        let pool = GlobalMaxPool::<Sequence<3, 1, 3>>::new();
        for at in 0..3 {
            let mut x = [[1.0, 2.0, 3.0]];
            x[0][at] = f32::NAN;
            let mut y = [[0.0]];
            pool.forward(&x, &mut y, &mut StepMask::default());
            assert!(y[0][0].is_nan(), "NaN at {at}: {y:?}");
            let mut dx = [[9.0; 3]];
            pool.backward(
                &x,
                &[[1.0]],
                Some(&mut dx),
                &mut (),
                &mut StepMask::default(),
            );
            let mut expected = [0.0; 3];
            expected[at] = 1.0;
            assert_eq!(dx, [expected], "NaN at {at}");
        }
    }

    #[test]
    fn a_masked_average_leaves_the_padded_steps_out() {
        let pool = GlobalAvgPool::<Sequence<4, 3, 12>>::new();
        let mut tape = pool.new_tape::<2>();
        let padded = [true, false, true, false, false, false, false, false];
        pool.set_input_mask(&mut tape, Some(&padded));
        let mut y = [[0.0; 3]; 2];
        pool.forward(&[STEPS, STEPS], &mut y, &mut tape);
        // Steps 0 and 2 of the first sample: ((1 - 2) / 2, (-1 + 0) / 2, (0.5 - 0.5) / 2).
        assert_eq!(y[0], [-0.5, -0.5, 0.0]);
        // No step of data in the second: 0 / 0, as in Keras.
        assert!(y[1].iter().all(|y| y.is_nan()), "{y:?}");
        let mut dx = [[9.0; 12]; 2];
        pool.backward(
            &[STEPS, STEPS],
            &[[2.0, 4.0, -6.0]; 2],
            Some(&mut dx),
            &mut (),
            &mut tape,
        );
        #[rustfmt::skip]
        let expected = [
            1.0, 2.0, -3.0,
            0.0, 0.0, 0.0,
            1.0, 2.0, -3.0,
            0.0, 0.0, 0.0,
        ];
        assert_eq!(dx[0], expected);
        let mut single = [0.0; 3];
        pool.infer_masked(&STEPS, Some(&padded[..4]), &mut single, &mut []);
        assert_eq!(single, y[0]);
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn global_pools_backward_match_finite_differences() {
        use crate::layers::gradcheck::{check_gradients, distinct, values};
        let c = values::<[f32; 3], 2>(1);
        check_gradients(
            &mut GlobalMaxPool::<Sequence<5, 3, 15>>::new(),
            &distinct(),
            &c,
            &mut StepMask::default(),
        );
        check_gradients(
            &mut GlobalAvgPool::<Sequence<5, 3, 15>>::new(),
            &values(3),
            &c,
            &mut StepMask::default(),
        );
        let c = values::<[f32; 2], 3>(4);
        check_gradients(
            &mut GlobalMaxPool::<Image<3, 4, 2, 24>>::new(),
            &distinct(),
            &c,
            &mut (),
        );
        check_gradients(
            &mut GlobalAvgPool::<Image<3, 4, 2, 24>>::new(),
            &values(6),
            &c,
            &mut (),
        );
    }
}
