//! Inverted dropout.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::activation::Linear;
use crate::buffer::Buffer;
use crate::layer::Layer;
#[cfg(feature = "onnx")]
use crate::onnx;

/// Dropout while training: `y = x ⊙ m`, `m_i = 0` with probability `rate`, else `1 / (1 - rate)`;
/// `y = x` otherwise.
///
/// Backward: `dx = dz ⊙ m` after a training pass, `dx = dz` otherwise.
///
/// This is Keras' inverted dropout: the kept values are scaled up while training so that a
/// value's expectation is the same in training and in inference, where the layer does nothing.
/// Whether a pass trains is the tape's mode, not the layer's: a tape trains between
/// [`Layer::set_training`]`(tape, true)` and `set_training(tape, false)` (`fit` sets both on
/// each of its threads' tapes), so evaluating or predicting with another tape meanwhile never
/// drops anything, nor does [`Layer::infer`]. Each tape draws its masks from its own random
/// generator, seeded with the layer's seed when [`Layer::new_tape`] makes it, so a run is
/// reproducible; [`Layer::seed_tape`] moves a tape to another stream of that seed. `fit` moves
/// each thread's tape before every step to a stream fixed by the optimizer's step count and
/// the thread, so that threads drop different values and a step's masks do not depend on the
/// steps before it: a fit resumed from a backup drops what the fit it resumes would have.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::Dropout;
///
/// let dropout = Dropout::<1000>::new(0.25, 7);
/// let mut tape = dropout.new_tape::<1>();
/// let mut y = [[0.0; 1000]];
///
/// dropout.forward(&[[1.0; 1000]], &mut y, &mut tape);
/// assert_eq!(y, [[1.0; 1000]]); // not training: the identity
///
/// dropout.set_training(&mut tape, true);
/// dropout.forward(&[[1.0; 1000]], &mut y, &mut tape);
/// let dropped = y[0].iter().filter(|&&v| v == 0.0).count();
/// assert!((200..300).contains(&dropped), "{dropped} of 1000 dropped");
/// assert!(y[0].iter().all(|&v| v == 0.0 || v == 1.0 / 0.75));
/// ```
#[derive(Clone, Debug)]
pub struct Dropout<const N: usize> {
    rate: f32,
    seed: u64,
}

/// What a [`Dropout`] layer keeps between the passes of a batch of `B`: whether the passes
/// train, the mask of the last training pass and the generator that draws the masks.
#[derive(Debug)]
pub struct DropoutTape<const N: usize, const B: usize> {
    /// Whether forward passes with this tape drop values, as set by [`Layer::set_training`].
    training: bool,
    /// The factors of the last training pass, `0` or `1 / (1 - rate)`.
    mask: Buffer<[[f32; N]; B]>,
    /// Draws the masks.
    rng: StdRng,
    /// Whether the mask was pinned by [`DropoutTape::fix_mask`] rather than drawn.
    fixed: bool,
    /// Whether the last forward pass applied the mask, so backward applies it too.
    applied: bool,
}

impl<const N: usize, const B: usize> DropoutTape<N, B> {
    /// Whether forward passes with this tape drop values, as set by [`Layer::set_training`].
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The mask of the last training pass: each value's factor, `0` or `1 / (1 - rate)`.
    pub fn mask(&self) -> &[[f32; N]; B] {
        &self.mask
    }

    /// Pins the mask: every training pass with this tape from now on multiplies by `mask`
    /// instead of drawing a new one. For tests and for reproducing a pass exactly.
    pub fn fix_mask(&mut self, mask: &[[f32; N]; B]) {
        self.mask.copy_from_slice(mask);
        self.fixed = true;
    }
}

impl<const N: usize> Dropout<N> {
    /// A dropout layer that drops each value with probability `rate` while training, drawing
    /// its masks from a generator seeded with `seed`. Its tapes start out not training.
    ///
    /// # Panics
    ///
    /// If `rate` is not in `[0, 1)`.
    pub fn new(rate: f32, seed: u64) -> Self {
        assert!(
            (0.0..1.0).contains(&rate),
            "`Dropout` rate: expected a value in [0, 1), found {rate}"
        );
        Self { rate, seed }
    }

    /// The probability that a value is dropped while training.
    pub fn rate(&self) -> f32 {
        self.rate
    }

    /// The seed of the generator each new tape draws its masks from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The generator of stream `stream` of this layer's seed: stream 0 is seeded with the seed
    /// itself, so one-thread training draws what it always did.
    fn generator(&self, stream: u64) -> StdRng {
        // The golden-ratio multiplier spreads consecutive streams over all 64 bits.
        StdRng::seed_from_u64(self.seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
}

impl<const N: usize> Layer for Dropout<N> {
    type In = [f32; N];
    type Out = [f32; N];
    type Activation = Linear;
    type Grads = ();
    type Tape<const B: usize> = DropoutTape<N, B>;

    const KIND: &'static str = "Dropout";

    fn new_tape<const B: usize>(&self) -> DropoutTape<N, B> {
        DropoutTape {
            training: false,
            mask: Buffer::zeroed(),
            rng: self.generator(0),
            fixed: false,
            applied: false,
        }
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; N]; B],
        y: &mut [[f32; N]; B],
        tape: &mut DropoutTape<N, B>,
    ) {
        tape.applied = tape.training;
        if !tape.applied {
            y.copy_from_slice(x);
            return;
        }
        if !tape.fixed {
            let keep = 1.0 / (1.0 - self.rate);
            for m in tape.mask.as_flattened_mut() {
                *m = if tape.rng.random::<f32>() < self.rate {
                    0.0
                } else {
                    keep
                };
            }
        }
        let values = y.as_flattened_mut().iter_mut();
        for ((y, &x), &m) in values.zip(x.as_flattened()).zip(tape.mask.as_flattened()) {
            *y = x * m;
        }
    }

    fn backward<const B: usize>(
        &self,
        _x: &[[f32; N]; B],
        dz: &[[f32; N]; B],
        dx: Option<&mut [[f32; N]; B]>,
        _grads: &mut (),
        tape: &mut DropoutTape<N, B>,
    ) {
        let Some(dx) = dx else { return };
        if !tape.applied {
            dx.copy_from_slice(dz);
            return;
        }
        let values = dx.as_flattened_mut().iter_mut();
        for ((dx, &dz), &m) in values.zip(dz.as_flattened()).zip(tape.mask.as_flattened()) {
            *dx = dz * m;
        }
    }

    /// The identity: inference never drops values.
    fn infer(&self, x: &[f32; N], y: &mut [f32; N]) {
        y.copy_from_slice(x);
    }

    fn set_training<const B: usize>(&self, tape: &mut DropoutTape<N, B>, training: bool) {
        tape.training = training;
    }

    fn seed_tape<const B: usize>(&self, tape: &mut DropoutTape<N, B>, stream: u64) {
        tape.rng = self.generator(stream);
    }

    without_parameters!();

    /// Nothing: dropout is the identity at inference.
    #[cfg(feature = "onnx")]
    fn onnx(&self, _graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        Ok(x)
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::layers::gradcheck::{check_gradients, values};

    #[test]
    fn not_training_is_the_identity() {
        let dropout = Dropout::<3>::new(0.5, 1);
        let mut tape = dropout.new_tape::<2>();
        let x = [[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]];
        let mut y = [[0.0; 3]; 2];
        dropout.forward(&x, &mut y, &mut tape);
        assert_eq!(y, x);
        let mut dx = [[0.0; 3]; 2];
        dropout.backward(&x, &y, Some(&mut dx), &mut (), &mut tape);
        assert_eq!(dx, x);
        dropout.set_training(&mut tape, true);
        let mut single = [0.0; 3];
        dropout.infer(&x[0], &mut single);
        assert_eq!(single, x[0]);
    }

    #[test]
    fn training_drops_at_the_rate_and_scales_the_rest() {
        let dropout = Dropout::<1000>::new(0.3, 42);
        let mut tape = dropout.new_tape::<10>();
        dropout.set_training(&mut tape, true);
        let x = values::<[f32; 1000], 10>(1);
        let mut y = [[0.0; 1000]; 10];
        dropout.forward(&x, &mut y, &mut tape);
        let mut dropped = 0;
        for ((&y, &x), &m) in y
            .as_flattened()
            .iter()
            .zip(x.as_flattened())
            .zip(tape.mask().as_flattened())
        {
            if m == 0.0 {
                dropped += 1;
                assert_eq!(y, 0.0);
            } else {
                assert_eq!(m, 1.0 / 0.7);
                assert_eq!(y, x * m, "kept value");
            }
        }
        // 10 000 draws: the standard deviation of the count is about 46.
        assert!(
            (2800..3200).contains(&dropped),
            "{dropped} of 10000 dropped"
        );

        // The same seed gives the same first mask; the next batch gets another one.
        let first = *tape.mask();
        let mut again = dropout.new_tape::<10>();
        dropout.set_training(&mut again, true);
        dropout.forward(&x, &mut y, &mut again);
        assert_eq!(again.mask(), &first);
        dropout.forward(&x, &mut y, &mut again);
        assert_ne!(again.mask(), &first);
    }

    #[test]
    fn backward_applies_the_mask_of_the_training_pass() {
        let dropout = Dropout::<4>::new(0.5, 3);
        let mut tape = dropout.new_tape::<1>();
        dropout.set_training(&mut tape, true);
        tape.fix_mask(&[[2.0, 0.0, 0.0, 2.0]]);
        let x = [[1.0, 2.0, 3.0, 4.0]];
        let mut y = [[0.0; 4]];
        dropout.forward(&x, &mut y, &mut tape);
        assert_eq!(y, [[2.0, 0.0, 0.0, 8.0]]);
        let mut dx = [[9.0; 4]];
        dropout.backward(
            &x,
            &[[0.5, 1.0, -1.0, -0.5]],
            Some(&mut dx),
            &mut (),
            &mut tape,
        );
        assert_eq!(dx, [[1.0, 0.0, 0.0, -1.0]]);
    }

    #[test]
    fn dropout_backward_matches_finite_differences() {
        let mut dropout = Dropout::<8>::new(0.5, 5);
        let mut tape = dropout.new_tape::<2>();
        dropout.set_training(&mut tape, true);
        tape.fix_mask(&[
            [2.0, 0.0, 2.0, 2.0, 0.0, 0.0, 2.0, 0.0],
            [0.0, 2.0, 2.0, 0.0, 2.0, 0.0, 0.0, 2.0],
        ]);
        let c = values::<[f32; 8], 2>(6);
        check_gradients(&mut dropout, &values(7), &c, &mut tape);
    }

    #[test]
    fn streams_of_one_seed_draw_different_masks_and_stream_0_is_the_default() {
        let dropout = Dropout::<64>::new(0.5, 11);
        let x = [[1.0; 64]; 2];
        let mask = |stream: Option<u64>| {
            let mut y = [[0.0; 64]; 2];
            let mut tape = dropout.new_tape::<2>();
            dropout.set_training(&mut tape, true);
            if let Some(stream) = stream {
                dropout.seed_tape(&mut tape, stream);
            }
            dropout.forward(&x, &mut y, &mut tape);
            *tape.mask()
        };
        assert_eq!(mask(Some(0)), mask(None));
        assert_eq!(mask(Some(1)), mask(Some(1)), "a stream is reproducible");
        assert_ne!(mask(Some(1)), mask(Some(0)));
        assert_ne!(mask(Some(2)), mask(Some(1)));
    }

    #[test]
    fn each_tape_has_its_own_training_mode() {
        // What lets the threads of a parallel `fit` share the layer: the mode is theirs.
        fn shared<T: Sync + Send>(_: &T) {}
        let dropout = Dropout::<64>::new(0.5, 1);
        shared(&dropout);
        let (mut training, mut evaluating) = (dropout.new_tape::<1>(), dropout.new_tape::<1>());
        dropout.set_training(&mut training, true);
        let (x, mut y) = ([[1.0; 64]], [[0.0; 64]]);
        dropout.forward(&x, &mut y, &mut evaluating);
        assert_eq!(y, x, "a tape not set to train does not drop");
        dropout.forward(&x, &mut y, &mut training);
        assert!(y[0].contains(&0.0), "the training tape drops: {y:?}");
        assert!(training.is_training() && !evaluating.is_training());
        dropout.set_training(&mut training, false);
        assert!(!training.is_training());
    }

    #[test]
    fn a_zero_rate_keeps_everything() {
        let dropout = Dropout::<5>::new(0.0, 9);
        let mut tape = dropout.new_tape::<1>();
        dropout.set_training(&mut tape, true);
        let x = [[1.0, 2.0, 3.0, 4.0, 5.0]];
        let mut y = [[0.0; 5]];
        dropout.forward(&x, &mut y, &mut tape);
        assert_eq!(y, x);
    }

    #[test]
    #[should_panic(expected = "expected a value in [0, 1), found 1")]
    fn a_rate_of_one_is_rejected() {
        Dropout::<5>::new(1.0, 0);
    }
}
