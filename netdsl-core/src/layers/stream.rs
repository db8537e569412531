//! The layers that advance one time step at a time ([`Stream`]): a recurrent layer's step is
//! the one its single-sample inference takes, so that a stream agrees with `predict` to the
//! bit; `Dense`, on each step or after the last recurrent layer, and `LayerNormalization`, each
//! step's values alone, keep no state. `Dropout` does not stream: its type knows the width of a
//! whole sequence, not of a step.
//!
//! Over `B` streams, a recurrent layer's products take the streams as rows, eight at a time, so
//! that the scratch stays on the stack whatever `B`.

#[cfg(feature = "alloc")]
use core::fmt;
#[cfg(feature = "alloc")]
use core::marker::PhantomData;

#[cfg(feature = "alloc")]
use bytemuck::Zeroable;

use super::dense::Dense;
#[cfg(feature = "alloc")]
use super::dense_steps::DenseSteps;
use super::layer_normalization::LayerNormalization;
#[cfg(feature = "alloc")]
use super::recurrent::{Cell, Recurrent, flat, flat_mut};
use crate::activation::Activation;
use crate::kernels;
#[cfg(feature = "alloc")]
use crate::kernels::Isa;
#[cfg(feature = "alloc")]
use crate::kernels::Product;
use crate::stream::Stream;

/// The state a recurrent layer of cell `C` and `U` units carries from step to step: `h`, then
/// the rest of [`Cell::State`] (an LSTM's `c`). The default is the zero state every sequence
/// starts from.
#[cfg(feature = "alloc")]
pub struct CellState<C: Cell, const U: usize> {
    state: C::State<U>,
    cell: PhantomData<fn() -> C>,
}

#[cfg(feature = "alloc")]
impl<C: Cell, const U: usize> CellState<C, U> {
    /// `h`, the layer's last output.
    pub fn h(&self) -> &[f32] {
        &self.values()[..U]
    }

    /// Every value of the state: `h`, then an LSTM's `c`.
    pub fn values(&self) -> &[f32] {
        flat(&self.state)
    }

    /// [`CellState::values`], mutably: to start a stream from a state of one's own.
    pub fn values_mut(&mut self) -> &mut [f32] {
        flat_mut(&mut self.state)
    }
}

#[cfg(feature = "alloc")]
impl<C: Cell, const U: usize> Default for CellState<C, U> {
    fn default() -> Self {
        Self {
            state: Zeroable::zeroed(),
            cell: PhantomData,
        }
    }
}

#[cfg(feature = "alloc")]
impl<C: Cell, const U: usize> Clone for CellState<C, U> {
    fn clone(&self) -> Self {
        *self
    }
}

#[cfg(feature = "alloc")]
impl<C: Cell, const U: usize> Copy for CellState<C, U> {}

#[cfg(feature = "alloc")]
impl<C: Cell, const U: usize> PartialEq for CellState<C, U> {
    fn eq(&self, other: &Self) -> bool {
        self.values() == other.values()
    }
}

#[cfg(feature = "alloc")]
impl<C: Cell, const U: usize> fmt::Debug for CellState<C, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CellState")
            .field("cell", &C::KIND)
            .field("values", &self.values())
            .finish()
    }
}

/// Streams taken together by a recurrent layer's [`Stream::step_batch`].
#[cfg(feature = "alloc")]
const STREAMS: usize = 8;

/// Step `t` of a recurrent layer, whichever its output (the last state or every step's): from
/// `h_{t-1}` (and `c_{t-1}`) in the state to `h_t`, which is also the step's output.
#[cfg(feature = "alloc")]
impl<C: Cell, const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize>
    Stream for Recurrent<C, T, F, U, IN, OUT>
{
    type StepIn = [f32; F];
    type StepOut = [f32; U];
    type State = CellState<C, U>;

    fn step(&self, state: &mut CellState<C, U>, x: &[f32; F], y: &mut [f32; U]) {
        self.infer_step(x, &mut state.state);
        y.copy_from_slice(state.h());
    }

    /// Eight streams at a time: `x_t · W_x + b_x` for all of them in one product, then
    /// `h_{t-1} · W_h` (plus `b_h` apart) in another, then each stream's cell.
    fn step_batch<const B: usize>(
        &self,
        states: &mut [CellState<C, U>; B],
        x: &[[f32; F]; B],
        y: &mut [[f32; U]; B],
    ) {
        let cols = C::GATES * U;
        let kept_width = size_of::<C::Kept<U>>() / size_of::<f32>();
        let (kernel, recurrent, bias) = (self.kernel(), self.recurrent_kernel(), self.bias());
        let chunks = states.chunks_mut(STREAMS).zip(x.chunks(STREAMS));
        for ((states, x), y) in chunks.zip(y.chunks_mut(STREAMS)) {
            let m = states.len();
            let mut h = [[0.0; U]; STREAMS];
            for (h, state) in h.iter_mut().zip(states.iter()) {
                h.copy_from_slice(state.h());
            }
            let [mut kept, mut from_h]: [[C::Kept<U>; STREAMS]; 2] = Zeroable::zeroed();
            Product {
                m,
                n: cols,
                k: F,
                a: x.as_flattened(),
                a_row: F,
                a_col: 1,
                b: kernel,
                ldb: cols,
                bias,
                c: bytemuck::cast_slice_mut(&mut kept),
                ldc: kept_width,
            }
            .run(Isa::selected());
            // Apart, `c_t` goes after `a_t` in the kept values; otherwise it is added to them.
            let (into, at, rec_bias) = if C::APART {
                (&mut kept, cols, bias.map(|b| &b[cols..]))
            } else {
                (&mut from_h, 0, None)
            };
            Product {
                m,
                n: cols,
                k: U,
                a: h.as_flattened(),
                a_row: U,
                a_col: 1,
                b: recurrent,
                ldb: cols,
                bias: rec_bias,
                c: &mut bytemuck::cast_slice_mut(into)[at..],
                ldc: kept_width,
            }
            .run(Isa::selected());
            for ((kept, from_h), (state, y)) in
                kept.iter_mut().zip(&from_h).zip(states.iter_mut().zip(y))
            {
                if !C::APART {
                    let (kept, from_h) = (&mut flat_mut(kept)[..cols], &flat(from_h)[..cols]);
                    kept.iter_mut().zip(from_h).for_each(|(z, h)| *z += h);
                }
                C::forward::<U>(kept, &mut state.state);
                y.copy_from_slice(state.h());
            }
        }
    }
}

/// The dense layer applied to one step, as it is to each step of the sequence.
#[cfg(feature = "alloc")]
impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize, A> Stream
    for DenseSteps<T, F, U, IN, OUT, A>
where
    A: Activation,
{
    type StepIn = [f32; F];
    type StepOut = [f32; U];
    type State = ();

    fn step(&self, (): &mut (), x: &[f32; F], y: &mut [f32; U]) {
        self.dense().infer_row(x, y);
    }

    fn step_batch<const B: usize>(
        &self,
        states: &mut [(); B],
        x: &[[f32; F]; B],
        y: &mut [[f32; U]; B],
    ) {
        self.dense().step_batch(states, x, y);
    }
}

/// The layer on one row, which a stream gives it at every step: after the last recurrent
/// layer, its state `h_t`.
impl<const I: usize, const O: usize, A: Activation> Stream for Dense<I, O, A> {
    type StepIn = [f32; I];
    type StepOut = [f32; O];
    type State = ();

    /// One row through a matrix–vector kernel, without the batch product's set-up; to the bit
    /// as the layer's single-row inference.
    fn step(&self, (): &mut (), x: &[f32; I], y: &mut [f32; O]) {
        self.infer_row(x, y);
    }

    fn step_batch<const B: usize>(
        &self,
        _: &mut [(); B],
        x: &[[f32; I]; B],
        y: &mut [[f32; O]; B],
    ) {
        kernels::affine(x, self.weights(), self.bias(), y);
        y.iter_mut().for_each(|y| A::apply(y));
    }
}

/// One group of `C` values, which on a sequence of `C` features is one step: its statistics are
/// the step's own.
impl<const N: usize, const C: usize, A: Activation> Stream for LayerNormalization<N, C, A> {
    type StepIn = [f32; C];
    type StepOut = [f32; C];
    type State = ();

    fn step(&self, (): &mut (), x: &[f32; C], y: &mut [f32; C]) {
        self.normalize_group(x, y);
        A::apply(y);
    }
}

// The recurrent layers, which the tests stream, need `alloc`.
#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::activation::{Linear, Relu, Tanh};
    use crate::layer::Layer;
    use crate::layers::gradcheck::seeded;
    use crate::layers::{Gru, Lstm, SimpleRnn};

    #[test]
    fn a_running_sum_steps_through_literal_values() {
        // h_t = 2·x_t + h_{t-1} + 0.5.
        let rnn = SimpleRnn::<3, 1, 1, 3, 3, Linear>::from_parameters(
            vec![2.0],
            vec![1.0],
            Some(vec![0.5]),
        );
        let mut state = CellState::default();
        let outputs = [1.0, -3.0, 4.0].map(|x| rnn.predict_step(&mut state, &[x]));
        assert_eq!(outputs, [[2.5], [-3.0], [5.5]]);
        assert_eq!(state.h(), [5.5]);
    }

    #[test]
    fn an_lstm_step_keeps_c_in_its_state() {
        // Only the candidate sees x: i = f = o = ½, c_1 = ½·tanh(2), h_1 = ½·tanh(c_1).
        let lstm =
            Lstm::<1, 1, 1, 1, 1>::from_parameters(vec![0.0, 0.0, 1.0, 0.0], vec![0.0; 4], None);
        let mut state = CellState::default();
        let h = lstm.predict_step(&mut state, &[2.0]);
        let c = 0.5 * 2f32.tanh();
        assert!((h[0] - 0.5 * c.tanh()).abs() < 1e-6, "h {h:?}");
        assert!((state.values()[1] - c).abs() < 1e-6, "{state:?}");
    }

    #[test]
    fn a_gru_with_zero_weights_stays_at_zero() {
        let gru = Gru::<2, 1, 1, 2, 1>::from_parameters(vec![0.0; 3], vec![0.0; 3], None);
        let mut state = CellState::default();
        assert_eq!(gru.predict_step(&mut state, &[7.0]), [0.0]);
        assert_eq!(state, CellState::default());
    }

    /// Every step of `layer` on `sequence` equals the layer's single-sample inference over
    /// every step, to the bit; `B` streams at once agree with each alone within rounding.
    fn steps_match_inference<C: Cell>(layer: &Recurrent<C, 5, 2, 3, 10, 15>) {
        let sequences: [[f32; 10]; 11] =
            core::array::from_fn(|b| core::array::from_fn(|i| ((b * 10 + i) as f32 * 0.37).sin()));
        let mut states = [CellState::default(); 11];
        for (sequence, state) in sequences.iter().zip(&mut states) {
            let mut whole = [0.0; 15];
            layer.infer(sequence, &mut whole);
            for (t, x) in sequence.chunks_exact(2).enumerate() {
                let y = layer.predict_step(state, &[x[0], x[1]]);
                assert_eq!(y, whole[t * 3..][..3], "{} step {t}", C::KIND);
            }
        }
        let mut batch = [CellState::default(); 11];
        for t in 0..5 {
            let x = sequences.map(|s| [s[2 * t], s[2 * t + 1]]);
            let mut y = [[0.0; 3]; 11];
            layer.step_batch(&mut batch, &x, &mut y);
        }
        for (b, (batch, alone)) in batch.iter().zip(&states).enumerate() {
            let close = (batch.values().iter().zip(alone.values()))
                .all(|(a, b)| (a - b).abs() <= 1e-6 * (1.0 + b.abs()));
            assert!(close, "{} stream {b}: {batch:?} and {alone:?}", C::KIND);
        }
    }

    #[test]
    fn steps_match_whole_sequence_inference_alone_and_in_batches() {
        let mut rng = seeded(3);
        steps_match_inference(&Lstm::keras_default(&mut rng, true));
        steps_match_inference(&Gru::keras_default(&mut rng, true));
        steps_match_inference(&SimpleRnn::<5, 2, 3, 10, 15, Tanh>::keras_default(
            &mut rng, true,
        ));
    }

    #[test]
    fn dense_steps_and_dense_step_as_their_inference() {
        let dense = Dense::<2, 3, Relu>::from_parameters(
            [[1.0, -1.0, 0.5], [2.0, 0.0, -3.0]],
            Some([0.0, 1.0, 0.0]),
        );
        let steps = DenseSteps::<2, 2, 3, 4, 6, Relu>::new(dense.clone());
        let mut whole = [0.0; 6];
        steps.infer(&[1.0, 1.0, -1.0, 2.0], &mut whole);
        assert_eq!(whole, [3.0, 0.0, 0.0, 3.0, 2.0, 0.0]);
        assert_eq!(steps.predict_step(&mut (), &[-1.0, 2.0]), [3.0, 2.0, 0.0]);
        let mut y = [[0.0; 3]; 2];
        dense.step_batch(&mut [(); 2], &[[1.0, 1.0], [-1.0, 2.0]], &mut y);
        assert_eq!(y, [[3.0, 0.0, 0.0], [3.0, 2.0, 0.0]]);
    }
}
