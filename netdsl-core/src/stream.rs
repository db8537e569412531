//! Streaming inference: a network run one time step at a time, its state carried between calls
//! in a value the caller owns, as audio and control loops need (one sample in, one out, now).
//!
//! A layer that can advance by one step without the future or the rest of the sequence
//! implements [`Stream`]: the recurrent layers (their state is `h`, and an LSTM's `c`), `Dense`
//! on each step or after the last recurrent layer, and the layers that act on each step alone.
//! `network!` chains its layers' steps when they all stream, so a network such as
//!
//! ```text
//! (T, 1) => LSTM(32, return_sequences = true) => Dense(1)
//! ```
//!
//! gives, fed steps `0..=t` one by one from a fresh state, row `t` of what `predict` gives for
//! the whole sequence. A network that returns only the last state (`LSTM(32) => Dense(1)`)
//! streams as the same network would with every step out: its step `t` is what `predict` gives
//! on a sequence that ends at `t`. Layers that need the whole sequence (Bidirectional,
//! attention, pooling over time, Flatten) do not implement [`Stream`], and streaming a network
//! that has one is a compile error naming the trait.
//!
//! A step allocates nothing and takes no lock; a state is plain data (`Copy + Default`), so a
//! caller keeps as many as it has streams, and resets one by assigning `Default::default()`.

use crate::layer::Row;

/// A layer or network that advances one time step at a time: [`Stream::step`] takes one step's
/// input and the state the previous steps left, and gives the step's output.
///
/// ```
/// use netdsl_core::layers::Lstm;
/// use netdsl_core::stream::Stream;
///
/// // One feature, one unit. Only the candidate g sees x (the gates' columns are i, f, g, o),
/// // so i = f = o = σ(0) = ½, and c_t = ½ c_{t-1} + ½ tanh(x_t), h_t = ½ tanh(c_t).
/// let lstm = Lstm::<4, 1, 1, 4, 4>::from_parameters(vec![0.0, 0.0, 1.0, 0.0], vec![0.0; 4], None);
/// let mut state = Default::default();
/// let mut h = [0.0];
/// let mut c = 0.0_f32;
/// for x in [1.0, -2.0, 0.5] {
///     lstm.step(&mut state, &[x], &mut h);
///     c = 0.5 * c + 0.5 * x.tanh();
///     assert!((h[0] - 0.5 * c.tanh()).abs() < 1e-6);
/// }
/// // A fresh state starts again from zero.
/// state = Default::default();
/// lstm.step(&mut state, &[1.0], &mut h);
/// assert!((h[0] - 0.5 * (0.5 * 1.0_f32.tanh()).tanh()).abs() < 1e-6);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot run one time step at a time",
    label = "does not implement `Stream`",
    note = "streaming needs every layer to advance by one step alone: recurrent layers, `Dense` and per-step layers do; Bidirectional, attention, pooling over time and Flatten need the whole sequence"
)]
pub trait Stream {
    /// One step's input: `[f32; F]` for `F` features.
    type StepIn: Row;
    /// One step's output.
    type StepOut: Row;
    /// What carries from one step to the next (`()` for a layer without memory). The default
    /// value is the state before the first step, the zeros the whole-sequence pass starts from.
    type State: Copy + Default;

    /// Advances `state` by one step of input `x`, writing the step's output into `y`. No
    /// allocation, no lock.
    fn step(&self, state: &mut Self::State, x: &Self::StepIn, y: &mut Self::StepOut);

    /// [`Stream::step`] on `B` independent streams at once, stream `b` with `states[b]`, `x[b]`
    /// and `y[b]`; a layer with weights runs the streams through one matrix product. Equal to
    /// `B` calls of [`Stream::step`] up to float rounding.
    fn step_batch<const B: usize>(
        &self,
        states: &mut [Self::State; B],
        x: &[Self::StepIn; B],
        y: &mut [Self::StepOut; B],
    ) {
        for ((state, x), y) in states.iter_mut().zip(x).zip(y) {
            self.step(state, x, y);
        }
    }

    /// [`Stream::step`], the output returned by value.
    fn predict_step(&self, state: &mut Self::State, x: &Self::StepIn) -> Self::StepOut {
        let mut y = bytemuck::Zeroable::zeroed();
        self.step(state, x, &mut y);
        y
    }
}

/// How `network!` chains two streaming layers: `Self` takes the step `P` gives. Implemented for
/// every such pair; a bound on it, unlike an equality of associated types, leaves a network
/// with a layer that does not stream without an impl rather than failing to compile.
#[doc(hidden)]
pub trait StreamAfter<P: Stream>: Stream {
    /// [`Stream::step`] on `P`'s output.
    fn step_after(&self, state: &mut Self::State, x: &P::StepOut, y: &mut Self::StepOut);

    /// [`Stream::step_batch`] on `P`'s outputs.
    fn step_batch_after<const B: usize>(
        &self,
        states: &mut [Self::State; B],
        x: &[P::StepOut; B],
        y: &mut [Self::StepOut; B],
    );
}

impl<P: Stream, L: Stream<StepIn = P::StepOut>> StreamAfter<P> for L {
    #[inline(always)]
    fn step_after(&self, state: &mut Self::State, x: &P::StepOut, y: &mut Self::StepOut) {
        self.step(state, x, y);
    }

    #[inline(always)]
    fn step_batch_after<const B: usize>(
        &self,
        states: &mut [Self::State; B],
        x: &[P::StepOut; B],
        y: &mut [Self::StepOut; B],
    ) {
        self.step_batch(states, x, y);
    }
}
