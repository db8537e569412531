//! A recurrent layer: from a zero state, each step's pre-activations
//! `z_t = [x_t | h_{t-1}] · [W_x; W_h] + b` (or, [apart](Cell::APART), `a_t = x_t · W_x + b_x`
//! and `c_t = h_{t-1} · W_h + b_h`), which a [`Cell`] turns into `h_t`.
//!
//! Backward, through time: the cell turns `dL/dh_t` into `dz_t` (or `da_t`, `dc_t`), then
//! `dh_{t-1} += dz_t · W_hᵀ`; over every step, `dx_t = dz_t · W_xᵀ`, `dW_x = Σ_t x_tᵀ · dz_t`,
//! `dW_h = Σ_t h_{t-1}ᵀ · dz_t` and `db = Σ_t dz_t`. The shell owns all but the cell's gate
//! math, so a new kind of recurrent layer is one [`Cell`].
//!
//! Given a mask ([`crate::mask`]), a padded step `t` leaves the state as it was, `s_t = s_{t-1}`,
//! and outputs that state again (Keras' default), or zeros with `zero_output_for_mask`; backward,
//! its `dz_t` is 0, the state's gradient passes through it unchanged, and the gradient of a
//! repeated output joins that of the step whose state it repeats.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

use core::fmt;
use core::marker::PhantomData;

use bytemuck::{Pod, Zeroable};
use rand::Rng;

use super::flat::FlatParameters;
use crate::activation::{Activation, Keep, Kept};
use crate::init::{self, Initializer};
use crate::kernels::{self, Isa, Precision, Product};
use crate::layer::{Initialize, Layer, TensorVisitor, TensorVisitorMut};
use crate::mask::StepMask;
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::regularizer::Regularizers;

/// The gate math of a recurrent layer, which [`Recurrent`] runs over a sequence: one sample's
/// step forward from its pre-activations, and back to their gradient.
pub trait Cell {
    /// Keras' name of the layer, which `summary()` prints: `"LSTM"`.
    const KIND: &'static str;
    /// Blocks of `U` columns in `W_x`, `W_h` and `b`: one per gate.
    const GATES: usize;
    /// Whether `x_t · W_x + b_x` and `h_{t-1} · W_h + b_h` stay apart, each with its bias (Keras'
    /// bias `[2, GATES · U]`), for a cell that uses them apart (a GRU's reset gate scales the
    /// second only); otherwise a step is one product of `[x_t | h_{t-1}]`.
    const APART: bool;
    /// What a step keeps for its backward pass; its first values arrive holding the step's
    /// pre-activations (`z`, or `a` then `c`).
    type Kept<const U: usize>: Pod;
    /// What carries from step to step, from zero: `h`, then the rest (an LSTM's `c`); in the
    /// backward pass, its gradient.
    type State<const U: usize>: Pod;
    /// The activation of the layer's output, undone before the backward pass: a simple RNN's
    /// own, which gives `h_t` from the first `U` pre-activations of step `t` (the shell keeps
    /// those of the output steps when the activation's derivative reads them),
    /// [`Linear`](crate::activation::Linear) for an output made of gates.
    type Activation: Activation;

    /// Keras' initial bias, made from `zeros`: an LSTM opens its forget gate.
    fn initial_bias<const U: usize>(zeros: Vec<f32>) -> Vec<f32> {
        zeros
    }

    /// How the cell runs as an ONNX operator; by default it does not, and exporting the layer
    /// is [`onnx::Error::UnsupportedLayer`].
    ///
    /// # Errors
    ///
    /// An [`onnx::Error`] naming what has no ONNX form.
    #[cfg(feature = "onnx")]
    fn onnx() -> Result<onnx::Recurrence, onnx::Error> {
        Err(onnx::Error::UnsupportedLayer { kind: Self::KIND })
    }

    /// One step forward: from the pre-activations in `kept` and `state` (`h_{t-1}`, ...) to
    /// `state` (`h_t`, ...), keeping in `kept` what [`Cell::backward`] needs.
    fn forward<const U: usize>(kept: &mut Self::Kept<U>, state: &mut Self::State<U>);

    /// One step of inference, nothing kept for a backward pass: from `x_t` with `W_x`
    /// (`kernel`), `h_{t-1}` (in `state`) with `W_h` (`recurrent`) and the bias, to the next
    /// `state`, in one kernel that sums and rounds as [`Recurrent`]'s products then
    /// [`Cell::forward`] do, to the bit. `false`, the default, for a cell without one, whose
    /// step the shell takes through those.
    #[doc(hidden)]
    fn infer_step<const U: usize>(
        _x_t: &[f32],
        _kernel: &[f32],
        _recurrent: &[f32],
        _bias: Option<&[f32]>,
        _state: &mut Self::State<U>,
    ) -> bool {
        false
    }

    /// One step back, from `d_state` (`dL/dh_t`, ... from the step after) and `out` (`dL/dz` of
    /// the step's output, if any, `z` the input of [`Cell::Activation`]): writes the gradient of
    /// `z` (or `a`) into `dz` and, apart, of `c` into `dz_rec` (empty otherwise), leaving in
    /// `d_state` what reaches `h_{t-1}`, ... other than through `W_h`, which the shell adds.
    fn backward<const U: usize>(
        kept: &Self::Kept<U>,
        h_prev: &[f32],
        out: Option<&[f32]>,
        d_state: &mut Self::State<U>,
        dz: &mut [f32],
        dz_rec: &mut [f32],
    );
}

/// A recurrent layer of cell `C` ([`super::SimpleRnn`], [`super::Lstm`], [`super::Gru`]) over
/// `T` steps of `F` features (`IN = T · F`, `x_t` at `t · F`), with `U` units: its output is
/// `h_T` when `OUT = U`, or every `h_t` when `OUT = T · U` (Keras' `return_sequences=True`).
/// `W_x` (`F × GATES·U`, Keras' `kernel`) and `W_h` (`U × GATES·U`, its `recurrent_kernel`) are
/// stored one above the other, so that a step is one product of each `[x_t | h_{t-1}]` row;
/// its gradients, a [`FlatParameters`], are laid out alike, the bias last.
///
/// Given the mask of its input ([`Layer::set_input_mask`], [`Layer::infer_masked`]), the layer
/// leaves its state as it was over each padded step, as Keras' recurrent layers do: the step's
/// output is the state again (zeros at the start), or zeros with
/// [`Recurrent::zero_output_for_mask`], and the last state is the one the last step of data
/// reached.
#[derive(Clone)]
pub struct Recurrent<
    C,
    const T: usize,
    const F: usize,
    const U: usize,
    const IN: usize,
    const OUT: usize,
> {
    /// `[W_x; W_h]` (`F + U` rows of `GATES · U`) and the bias (`GATES · U` values, or `b_x`
    /// then `b_h` when apart).
    pub(super) params: FlatParameters,
    /// Whether a padded step outputs zeros rather than the state again (Keras'
    /// `zero_output_for_mask`, which `Bidirectional` sets when it returns every step).
    zero_output_for_mask: bool,
    cell: PhantomData<C>,
}

/// What a [`Recurrent`] layer keeps between the passes of a batch, and its backward pass's
/// scratch space: allocated once by [`Layer::new_tape`].
pub struct RecurrentTape<K = (), M = ()> {
    /// The precision of the products ([`Layer::set_precision`]).
    precision: Precision,
    /// What the output's activation keeps ([`Layer::kept`]): nothing, or the pre-activations of
    /// the output steps.
    activation: K,
    /// The mask of the input, if the layer was given one: which steps to skip.
    mask: M,
    /// Per sample, `U` values: in a masked backward pass, the gradient of the outputs that
    /// repeat a state, carried back to the step that made it.
    carried: Box<[f32]>,
    /// Row `(b, t)`: `[x_t | h_{t-1}]` of sample `b`, `F + U` values (`h_0` stays 0; apart,
    /// `x_t` is read from the input instead).
    rows: Box<[f32]>,
    /// Row `(b, t)`: what the cell keeps of step `t` of sample `b`, [`Cell::Kept`].
    kept: Box<[f32]>,
    /// Each sample's [`Cell::State`]; in the backward pass, its gradient.
    state: Box<[f32]>,
    /// Row `(b, t)`: the gradient of `z_t` (or `a_t`), `GATES · U` values.
    d_in: Box<[f32]>,
    /// Row `(b, t)`: the gradient of `c_t`, apart; empty otherwise.
    d_rec: Box<[f32]>,
    /// One step's `dz · W_hᵀ`, `U` values per sample.
    back: Box<[f32]>,
    /// `[W_x; W_h]ᵀ`, `GATES · U` rows of `F + U`.
    weights_t: Box<[f32]>,
}

/// A slice of the values of `row`.
pub(super) fn flat<P: Pod>(row: &P) -> &[f32] {
    bytemuck::cast_slice(core::slice::from_ref(row))
}

/// [`flat`], mutably.
pub(super) fn flat_mut<P: Pod>(row: &mut P) -> &mut [f32] {
    bytemuck::cast_slice_mut(core::slice::from_mut(row))
}

impl<C: Cell, const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize>
    Recurrent<C, T, F, U, IN, OUT>
{
    /// Columns of `[W_x; W_h]`, `GATES · U`.
    const COLS: usize = C::GATES * U;
    /// Values of the bias: one per column, or two apart.
    const BIAS: usize = Self::COLS * if C::APART { 2 } else { 1 };
    /// Keras' shape of the bias.
    const BIAS_SHAPE: &'static [usize] = if C::APART {
        &[2, Self::COLS]
    } else {
        &[Self::COLS]
    };
    /// Values of a step's row, `[x_t | h_{t-1}]`.
    const WIDTH: usize = F + U;
    /// Values a step keeps, [`Cell::Kept`].
    const KEPT: usize = size_of::<C::Kept<U>>() / size_of::<f32>();
    /// Values of a state, [`Cell::State`].
    const STATE: usize = size_of::<C::State<U>>() / size_of::<f32>();
    /// Whether the output is every step's state, not just the last; with one step they agree.
    const SEQUENCES: bool = OUT == T * U;

    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        assert!(
            T >= 1 && F >= 1 && U >= 1 && IN == T * F,
            "`Recurrent`: expected T, F and U of at least 1, and IN = T * F"
        );
        assert!(
            OUT == U || OUT == T * U,
            "`Recurrent`: expected OUT = U (the last state) or T * U (every step's)"
        );
        assert!(
            Self::KEPT >= Self::BIAS && Self::STATE >= U,
            "`Cell`: `Kept` must hold the pre-activations, and `State` start with `h`"
        );
    };

    /// Where step `t`'s `h_t` goes in the output, if it is part of it.
    fn output_at(t: usize) -> Option<usize> {
        let at = if Self::SEQUENCES { t * U } else { 0 };
        (Self::SEQUENCES || t + 1 == T).then_some(at)
    }

    /// Keras' initialisation: `W_x` Glorot-uniform (`fan_in = F`, `fan_out = GATES · U`), `W_h`
    /// with orthonormal rows ([`init`]), and, when `bias` is true, the cell's initial bias.
    pub fn keras_default<R: Rng + ?Sized>(rng: &mut R, bias: bool) -> Self {
        Self::initialized(rng, Initializer::GlorotUniform, None, bias.then_some(None))
    }

    /// Keras' `kernel_initializer`, `recurrent_initializer` and `bias_initializer`: `W_x`
    /// (`[F, GATES · U]`) drawn by `kernel`, then `W_h` (`[U, GATES · U]`) by `recurrent`, or as
    /// [`Recurrent::keras_default`] draws it when `None`, then, when `bias` is `Some`, the bias
    /// (`[BIAS]`, Keras' bias shape) drawn by the initializer it holds, or the cell's initial
    /// bias when that is `None` (zeros, and an LSTM's forget gate at 1). With Glorot-uniform and
    /// `None`s, the layer [`Recurrent::keras_default`] makes, from the same draws.
    pub fn initialized<R: Rng + ?Sized>(
        rng: &mut R,
        kernel: Initializer,
        recurrent: Option<Initializer>,
        bias: Option<Option<Initializer>>,
    ) -> Self {
        let kernel = kernel.sample(&[F, Self::COLS], rng);
        let recurrent = match recurrent {
            Some(init) => init.sample(&[U, Self::COLS], rng),
            None => init::orthogonal_of_uniform_rows(U, Self::COLS, rng),
        };
        let bias = bias.map(|init| match init {
            Some(init) => init.sample(Self::BIAS_SHAPE, rng),
            None => C::initial_bias::<U>(vec![0.0; Self::BIAS]),
        });
        Self::from_parameters(kernel, recurrent, bias)
    }

    /// The layer, its kernel, recurrent kernel and bias penalized by `regularizers`: Keras'
    /// `kernel_regularizer`, `recurrent_regularizer` and `bias_regularizer`. See
    /// [`crate::regularizer`].
    pub fn with_regularizers(mut self, regularizers: Regularizers) -> Self {
        self.params = self.params.regularized(regularizers, F * Self::COLS);
        self
    }

    /// The regularizers of its tensors ([`Regularizers::NONE`] unless set).
    pub fn regularizers(&self) -> &Regularizers {
        self.params.regularizers()
    }

    /// A layer with the given `W_x` (`F × GATES·U`, row-major), `W_h` (`U × GATES·U`) and
    /// optional bias (`GATES · U` values, or `b_x` then `b_h` apart).
    ///
    /// # Panics
    ///
    /// If a tensor does not hold the values its shape needs.
    pub fn from_parameters(kernel: Vec<f32>, recurrent: Vec<f32>, bias: Option<Vec<f32>>) -> Self {
        let () = Self::SHAPES_AGREE;
        Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        let bias_len = bias.as_ref().map_or(Self::BIAS, Vec::len);
        let (kind, expected) = (C::KIND, [F * Self::COLS, U * Self::COLS, Self::BIAS]);
        assert_eq!(
            [kernel.len(), recurrent.len(), bias_len],
            expected,
            "`{kind}`: values of the kernel, recurrent kernel and bias"
        );
        Self {
            params: FlatParameters::new([kernel, recurrent].concat(), bias),
            zero_output_for_mask: false,
            cell: PhantomData,
        }
    }

    /// The layer, with a padded step's output zeros (`true`) or the state again (`false`, the
    /// default): Keras' `zero_output_for_mask`. `Bidirectional` sets it to `return_sequences`
    /// for both its layers, so that each step's pair of states is zeros where the step is
    /// padding. Without a mask it changes nothing.
    pub fn zero_output_for_mask(mut self, zero: bool) -> Self {
        self.zero_output_for_mask = zero;
        self
    }

    /// One sample's step `t` of inference, from `state` (`h_{t-1}`, ...) to `state` (`h_t`,
    /// ...): the cell's fused [`Cell::infer_step`], or [`Recurrent::advance`]. Single-sample
    /// inference and streaming share it, so that they agree to the bit.
    pub(super) fn infer_step(&self, x_t: &[f32], state: &mut C::State<U>) {
        let (kernel, recurrent) = self.params.weights.split_at(F * Self::COLS);
        if !C::infer_step::<U>(x_t, kernel, recurrent, self.params.bias(), state) {
            let mut kept: C::Kept<U> = Zeroable::zeroed();
            self.advance(x_t, &mut kept, state);
        }
    }

    /// One sample's step `t`: its pre-activations from `x_t` and `h_{t-1}` (in `state`) into
    /// `kept`, then the cell from `state` (`h_{t-1}`, ...) to `state` (`h_t`, ...). Its products
    /// sum each column as the batch's [`Product`] does.
    fn advance(&self, x_t: &[f32], kept: &mut C::Kept<U>, state: &mut C::State<U>) {
        let (isa, cols) = (Isa::selected(), Self::COLS);
        let (kernel, recurrent) = self.params.weights.split_at(F * cols);
        let bias = self.params.bias();
        let (h, z) = (&flat(state)[..U], flat_mut(kept));
        if C::APART {
            // `a_t = x_t · W_x + b_x` first in the kept values, `c_t = h_{t-1} · W_h + b_h` next.
            let (a, c) = z.split_at_mut(cols);
            kernels::mat_vec(isa, &[(x_t, kernel)], bias, a);
            kernels::mat_vec(
                isa,
                &[(h, recurrent)],
                bias.map(|b| &b[cols..]),
                &mut c[..cols],
            );
        } else {
            // One pass over `[W_x; W_h]`.
            kernels::mat_vec(isa, &[(x_t, kernel), (h, recurrent)], bias, &mut z[..cols]);
        }
        C::forward::<U>(kept, state);
    }

    /// `W_x`, `F × GATES·U` row-major (Keras' `kernel`).
    pub fn kernel(&self) -> &[f32] {
        &self.params.weights[..F * Self::COLS]
    }

    /// `W_h`, `U × GATES·U` row-major (Keras' `recurrent_kernel`).
    pub fn recurrent_kernel(&self) -> &[f32] {
        &self.params.weights[F * Self::COLS..]
    }

    /// The bias, if the layer has one.
    pub fn bias(&self) -> Option<&[f32]> {
        self.params.bias()
    }
}

impl<C: Cell, const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize>
    Layer for Recurrent<C, T, F, U, IN, OUT>
{
    type In = [f32; IN];
    type Out = [f32; OUT];
    type Activation = C::Activation;
    type Grads = FlatParameters;
    type Tape<const B: usize> = RecurrentTape<Kept<C::Activation, [f32; OUT], B>, StepMask<T, B>>;

    const KIND: &'static str = C::KIND;

    fn new_tape<const B: usize>(&self) -> Self::Tape<B> {
        let zeros = |n: usize| vec![0.0; n].into_boxed_slice();
        let (rows, cols) = (B * T, Self::COLS);
        RecurrentTape {
            precision: Precision::F32,
            activation: <C::Activation as Activation>::Keeps::new_batch(),
            mask: StepMask::new(),
            carried: zeros(B * U),
            rows: zeros(rows * Self::WIDTH),
            kept: zeros(rows * Self::KEPT),
            state: zeros(B * Self::STATE),
            d_in: zeros(rows * cols),
            d_rec: zeros(if C::APART { rows * cols } else { 0 }),
            back: zeros(B * U),
            weights_t: zeros(cols * Self::WIDTH),
        }
    }

    fn set_precision<const B: usize>(&self, tape: &mut Self::Tape<B>, precision: Precision) {
        tape.precision = precision.prepared();
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        y: &mut [[f32; OUT]; B],
        tape: &mut Self::Tape<B>,
    ) {
        let (width, cols, kept) = (Self::WIDTH, Self::COLS, Self::KEPT);
        // Apart, every step's `a_t = x_t · W_x + b_x` at once, and then each step's product
        // takes `h_{t-1}` alone (from column `skip` of its row) into `c_t`, after `a_t`.
        let (skip, at) = if C::APART { (F, cols) } else { (0, 0) };
        if C::APART {
            Product {
                m: B * T,
                n: cols,
                k: F,
                a: x.as_flattened(),
                a_row: F,
                a_col: 1,
                b: &self.params.weights,
                ldb: cols,
                bias: self.params.bias(),
                c: &mut tape.kept,
                ldc: kept,
            }
            .run_in(tape.precision);
        } else {
            for (x, rows) in x.iter().zip(tape.rows.chunks_exact_mut(T * width)) {
                for (x_t, row) in x.chunks_exact(F).zip(rows.chunks_exact_mut(width)) {
                    row[..F].copy_from_slice(x_t);
                }
            }
        }
        tape.state.fill(0.0);
        let mask = tape.mask.rows();
        for t in 0..T {
            Product {
                m: B,
                n: cols,
                k: width - skip,
                a: &tape.rows[t * width + skip..],
                a_row: T * width,
                a_col: 1,
                b: &self.params.weights[skip * cols..],
                ldb: cols,
                bias: self.params.bias().map(|b| &b[at..]),
                c: &mut tape.kept[t * kept + at..],
                ldc: T * kept,
            }
            .run_in(tape.precision);
            let steps: &mut [C::Kept<U>] = bytemuck::cast_slice_mut(&mut tape.kept);
            let states: &mut [C::State<U>] = bytemuck::cast_slice_mut(&mut tape.state);
            for (b, (state, y)) in states.iter_mut().zip(y.iter_mut()).enumerate() {
                let row = b * T + t;
                let data = mask.is_none_or(|mask| mask[b][t]);
                if !data {
                    // Over padding the state stands, and so does what its step kept: an output
                    // that repeats the state is undone through the pre-activations that made it.
                    steps[row] = if t == 0 {
                        Zeroable::zeroed()
                    } else {
                        steps[row - 1]
                    };
                }
                if let Some(at) = Self::output_at(t) {
                    let z = &flat(&steps[row])[..U];
                    <C::Activation as Activation>::Keeps::keep_part(&mut tape.activation, b, at, z);
                }
                if data {
                    C::forward::<U>(&mut steps[row], state);
                }
                let h = &flat(state)[..U];
                if t + 1 < T {
                    tape.rows[(row + 1) * width + F..][..U].copy_from_slice(h);
                }
                if let Some(at) = Self::output_at(t) {
                    let out = &mut y[at..][..U];
                    if data || !self.zero_output_for_mask {
                        out.copy_from_slice(h);
                    } else {
                        out.fill(0.0);
                    }
                }
            }
        }
    }

    fn infer(&self, x: &[f32; IN], out: &mut [f32; OUT]) {
        self.infer_masked(x, None, out, &mut []);
    }

    /// One sample's steps in stack buffers, each in two products: `x_t · W_x`, then
    /// `h_{t-1} · W_h`; a padded step computes nothing. The layer makes no mask.
    fn infer_masked(
        &self,
        x: &[f32; IN],
        mask: Option<&[bool]>,
        out: &mut [f32; OUT],
        _output_mask: &mut [bool],
    ) -> bool {
        let mut state: C::State<U> = Zeroable::zeroed();
        for (t, x_t) in x.chunks_exact(F).enumerate() {
            if mask.is_some_and(|mask| !mask[t]) {
                if let Some(at) = Self::output_at(t) {
                    let out = &mut out[at..][..U];
                    if self.zero_output_for_mask {
                        out.fill(0.0);
                    } else {
                        out.copy_from_slice(&flat(&state)[..U]);
                    }
                }
                continue;
            }
            self.infer_step(x_t, &mut state);
            if let Some(at) = Self::output_at(t) {
                out[at..][..U].copy_from_slice(&flat(&state)[..U]);
            }
        }
        false
    }

    fn set_input_mask<const B: usize>(&self, tape: &mut Self::Tape<B>, mask: Option<&[bool]>) {
        tape.mask.set(mask);
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        dz: &[[f32; OUT]; B],
        dx: Option<&mut [[f32; IN]; B]>,
        grads: &mut FlatParameters,
        tape: &mut Self::Tape<B>,
    ) {
        let (width, cols) = (Self::WIDTH, Self::COLS);
        // [W_x; W_h]ᵀ, or only W_hᵀ when no dx is asked for.
        let rows = self.params.weights.chunks_exact(cols).enumerate();
        for (j, row) in rows.skip(if dx.is_some() { 0 } else { F }) {
            for (k, &w) in row.iter().enumerate() {
                tape.weights_t[k * width + j] = w;
            }
        }
        tape.state.fill(0.0);
        tape.carried.fill(0.0);
        let mask = tape.mask.rows();
        let steps: &[C::Kept<U>] = bytemuck::cast_slice(&tape.kept);
        let d_states: &mut [C::State<U>] = bytemuck::cast_slice_mut(&mut tape.state);
        for t in (0..T).rev() {
            for (b, (d_state, dz)) in d_states.iter_mut().zip(dz).enumerate() {
                let row = b * T + t;
                let (h_prev, out) = (
                    &tape.rows[row * width + F..][..U],
                    Self::output_at(t).map(|at| &dz[at..][..U]),
                );
                let d_in = &mut tape.d_in[row * cols..][..cols];
                // Empty unless apart.
                let d_rec = (tape.d_rec)
                    .get_mut(row * cols..(row + 1) * cols)
                    .unwrap_or_default();
                let Some(mask) = mask else {
                    C::backward::<U>(&steps[row], h_prev, out, d_state, d_in, d_rec);
                    continue;
                };
                // An output over padding repeats the state of the last step of data before it
                // (unless it is zeros): its gradient waits here for that step's.
                let carried = &mut tape.carried[b * U..][..U];
                if let Some(out) = out
                    && (mask[b][t] || !self.zero_output_for_mask)
                {
                    carried.iter_mut().zip(out).for_each(|(c, out)| *c += out);
                }
                if mask[b][t] {
                    C::backward::<U>(&steps[row], h_prev, Some(carried), d_state, d_in, d_rec);
                    carried.fill(0.0);
                } else {
                    // A padded step computed nothing, and the state's gradient passes through.
                    d_in.fill(0.0);
                    d_rec.fill(0.0);
                }
            }
            if t == 0 {
                break;
            }
            // dh_{t-1} += dz_t · W_hᵀ.
            Product {
                m: B,
                n: U,
                k: cols,
                a: &(if C::APART { &tape.d_rec } else { &tape.d_in })[t * cols..],
                a_row: T * cols,
                a_col: 1,
                b: &tape.weights_t[F..],
                ldb: width,
                bias: None,
                c: &mut tape.back,
                ldc: U,
            }
            .run_in(tape.precision);
            for (d_state, back) in d_states.iter_mut().zip(tape.back.chunks_exact(U)) {
                let dh = flat_mut(d_state).iter_mut();
                dh.zip(back).for_each(|(d, back)| *d += back);
            }
        }
        // dW_x = Σ x_tᵀ · dz_t and dW_h = Σ h_{t-1}ᵀ · dz_t (or dc_t) over every step of the
        // batch, reading x and the rows' h down their columns; db = Σ dz_t (and Σ dc_t).
        let d_rec = if C::APART { &tape.d_rec } else { &tape.d_in };
        let (dw_x, dw_h) = grads.weights.split_at_mut(F * cols);
        let (x, h) = (x.as_flattened(), &tape.rows[F..]);
        for (a, a_col, m, d, dw) in [(x, F, F, &tape.d_in, dw_x), (h, width, U, d_rec, dw_h)] {
            Product {
                m,
                n: cols,
                k: B * T,
                a,
                a_row: 1,
                a_col,
                b: d,
                ldb: cols,
                bias: None,
                c: dw,
                ldc: cols,
            }
            .run_in(tape.precision);
        }
        if let Some(db) = grads.bias.as_deref_mut() {
            let (db_x, db_h) = db.split_at_mut(cols);
            kernels::column_sums(Isa::selected(), &tape.d_in, cols, db_x);
            if C::APART {
                kernels::column_sums(Isa::selected(), &tape.d_rec, cols, db_h);
            }
        }
        // dx: every step's at once, as it feeds nothing back.
        if let Some(dx) = dx {
            Product {
                m: B * T,
                n: F,
                k: cols,
                a: &tape.d_in,
                a_row: cols,
                a_col: 1,
                b: &tape.weights_t,
                ldb: width,
                bias: None,
                c: dx.as_flattened_mut(),
                ldc: F,
            }
            .run_in(tape.precision);
        }
    }

    fn kept<const B: usize>(tape: &Self::Tape<B>) -> &Kept<C::Activation, [f32; OUT], B> {
        &tape.activation
    }

    flat_parameters!();

    /// `kernel` `[F, GATES·U]`, `recurrent_kernel` `[U, GATES·U]` and `bias` `[GATES·U]` (or
    /// `[2, GATES·U]` apart), as in Keras.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        let (kernel, recurrent) = ([F, Self::COLS], [U, Self::COLS]);
        (self.params).visit_recurrent(kernel, recurrent, Self::BIAS_SHAPE, visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        let (kernel, recurrent) = ([F, Self::COLS], [U, Self::COLS]);
        (self.params).visit_recurrent_mut(kernel, recurrent, Self::BIAS_SHAPE, visit);
    }

    /// The cell's ONNX operator ([`Cell::onnx`]) over the steps, which ONNX reads time-major:
    /// `W` `[1, GATES·U, F]`, `R` `[1, GATES·U, U]` and `B` `[1, 2·GATES·U]` (the input's bias,
    /// then the recurrent one, zero unless [apart](Cell::APART)), each gate's block moved to
    /// ONNX's place. Its output `Y` (every step) or `Y_h` (the last), batch-major again.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let recurrence = C::onnx()?;
        let cols = Self::COLS;
        let x = graph.reshape(x, &[T, F]);
        let perm = onnx::Attribute::ints("perm", &[1, 0, 2]);
        let time_major = graph.node_outputs("Transpose", &[&x.name], vec![perm], 1);
        let weights = self.params.weights();
        // Row `(g, u)` of ONNX's matrix for `rows` inputs from `first`: Keras' column
        // `gates[g] · U + u`.
        let onnx_matrix = |first: usize, rows: usize| -> Vec<f32> {
            let mut m = Vec::with_capacity(cols * rows);
            for &gate in recurrence.gates {
                for u in 0..U {
                    m.extend((0..rows).map(|j| weights[(first + j) * cols + gate * U + u]));
                }
            }
            m
        };
        let w = graph.initializer("kernel", &[1, cols, F], onnx_matrix(0, F));
        let r = graph.initializer("recurrent_kernel", &[1, cols, U], onnx_matrix(F, U));
        let b = self.bias().map(|bias| {
            let mut b = vec![0.0; 2 * cols];
            for (half, bias) in b.chunks_exact_mut(cols).zip(bias.chunks_exact(cols)) {
                for (g, &gate) in recurrence.gates.iter().enumerate() {
                    half[g * U..(g + 1) * U].copy_from_slice(&bias[gate * U..(gate + 1) * U]);
                }
            }
            graph.initializer("bias", &[1, 2 * cols], b)
        });
        let mut attributes = vec![onnx::Attribute::int("hidden_size", U as i64)];
        if let Some(activation) = recurrence.activations {
            attributes.push(onnx::Attribute::strings("activations", &[activation]));
        }
        if recurrence.linear_before_reset {
            attributes.push(onnx::Attribute::int("linear_before_reset", 1));
        }
        let inputs = [time_major[0].as_str(), &w, &r, b.as_deref().unwrap_or("")];
        let inputs = if b.is_some() {
            &inputs[..]
        } else {
            &inputs[..3]
        };
        let outputs = graph.node_outputs(recurrence.op, inputs, attributes, 2);
        let y = if OUT == U {
            // Y_h: [1, batch, U].
            let y_h = onnx::Value {
                name: outputs[1].clone(),
                shape: Vec::new(),
            };
            let perm = onnx::Attribute::ints("perm", &[1, 0, 2]);
            let y = graph.node("Transpose", &[&y_h.name], vec![perm], vec![1, U]);
            graph.reshape(y, &[U])
        } else {
            // Y: [T, 1, batch, U].
            let perm = onnx::Attribute::ints("perm", &[2, 0, 1, 3]);
            let y = graph.node("Transpose", &[&outputs[0]], vec![perm], vec![T, 1, U]);
            graph.reshape(y, &[T, U])
        };
        Ok(y)
    }
}

impl<C: Cell, const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize>
    Initialize for Recurrent<C, T, F, U, IN, OUT>
{
    /// [`Recurrent::keras_default`], with a bias.
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::keras_default(rng, true)
    }
}

impl<C: Cell, const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize>
    fmt::Debug for Recurrent<C, T, F, U, IN, OUT>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(C::KIND)
            .field("steps", &T)
            .field("features", &F)
            .field("units", &U)
            .field("return_sequences", &Self::SEQUENCES)
            .field("zero_output_for_mask", &self.zero_output_for_mask)
            .field("bias", &self.params.bias.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::{Cell, Recurrent};
    use crate::activation::{Linear, Tanh};
    use crate::layer::Layer;
    use crate::layers::{GruCell, Lstm, LstmCell, SimpleRnn, SimpleRnnCell};

    /// `h_t = 2·x_t + h_{t-1}` over 3 steps of one feature, every step out, padding outputs
    /// zeros or not.
    fn running_sum(zero_output: bool) -> SimpleRnn<3, 1, 1, 3, 3, Linear> {
        let rnn = SimpleRnn::from_parameters(vec![2.0], vec![1.0], None);
        rnn.zero_output_for_mask(zero_output)
    }

    /// What [`through_a_padded_step`] measures.
    struct Passes {
        y: [f32; 3],
        dw_x: f32,
        dw_h: f32,
        dx: [f32; 3],
    }

    /// Forward and backward of `rnn` on `x = [1, 5, 3]`, its second step padding, from
    /// `dz = [1, 10, 100]`; single-sample inference must agree with the forward pass.
    fn through_a_padded_step(rnn: &SimpleRnn<3, 1, 1, 3, 3, Linear>) -> Passes {
        let (x, mut y, mut dx) = ([[1.0, 5.0, 3.0]], [[9.0; 3]], [[9.0; 3]]);
        let (mut tape, mut grads) = (rnn.new_tape::<1>(), rnn.new_grads());
        rnn.set_input_mask(&mut tape, Some(&[true, false, true]));
        rnn.forward(&x, &mut y, &mut tape);
        let mut single = [9.0; 3];
        rnn.infer_masked(&x[0], Some(&[true, false, true]), &mut single, &mut []);
        assert_eq!(single, y[0], "infer and forward");
        rnn.backward(
            &x,
            &[[1.0, 10.0, 100.0]],
            Some(&mut dx),
            &mut grads,
            &mut tape,
        );
        let &[dw_x, dw_h] = grads.weights() else {
            panic!("two weights, found {:?}", grads.weights());
        };
        Passes {
            y: y[0],
            dw_x,
            dw_h,
            dx: dx[0],
        }
    }

    #[test]
    fn a_padded_step_keeps_the_state_and_outputs_it_again() {
        // h_1 = 2, then the state stands over step 2 (its output repeats h_1), h_3 = 6 + 2.
        let Passes { y, dw_x, dw_h, dx } = through_a_padded_step(&running_sum(false));
        assert_eq!(y, [2.0, 2.0, 8.0]);
        // h_1 reaches the loss three times: dz_1 = 1 + 10 + 100, dz_2 = 0, dz_3 = 100. So
        // dW_x = 1·111 + 3·100, dW_h = h_0·111 + h_2·100 (h_2 = h_1 = 2), dx = 2·dz.
        assert_eq!((dw_x, dw_h), (411.0, 200.0));
        assert_eq!(dx, [222.0, 0.0, 200.0]);
    }

    #[test]
    fn a_padded_step_outputs_zeros_with_zero_output_for_mask() {
        let Passes { y, dw_x, dw_h, dx } = through_a_padded_step(&running_sum(true));
        assert_eq!(y, [2.0, 0.0, 8.0]);
        // The zeros depend on nothing: dz_1 = 1 + 100, dz_3 = 100.
        assert_eq!((dw_x, dw_h), (401.0, 200.0));
        assert_eq!(dx, [202.0, 0.0, 200.0]);
    }

    #[test]
    fn leading_padding_outputs_the_zero_state_and_a_mask_taken_back_reads_every_step() {
        let rnn = running_sum(false);
        let (x, mut y) = ([[1.0, 5.0, 3.0]], [[9.0; 3]]);
        let mut tape = rnn.new_tape::<1>();
        rnn.set_input_mask(&mut tape, Some(&[false, false, true]));
        rnn.forward(&x, &mut y, &mut tape);
        assert_eq!(y, [[0.0, 0.0, 6.0]]);
        rnn.set_input_mask(&mut tape, None);
        rnn.forward(&x, &mut y, &mut tape);
        assert_eq!(y, [[2.0, 12.0, 18.0]]);
    }

    /// A layer of cell `C` over 4 steps, two of them padding, gives what the same weights give
    /// over the 2 steps of data alone, state for state: padding changes neither `h` nor an
    /// LSTM's `c`. Padding outputs the state reached before it (zeros before any data).
    fn padding_is_skipped<C: Cell>() {
        let full =
            Recurrent::<C, 4, 2, 3, 8, 12>::keras_default(&mut StdRng::seed_from_u64(1), true);
        let short = Recurrent::<C, 2, 2, 3, 4, 6>::from_parameters(
            full.kernel().to_vec(),
            full.recurrent_kernel().to_vec(),
            full.bias().map(<[f32]>::to_vec),
        );
        // The padded steps hold values, which the mask, not their value, makes padding.
        let x = [[9.0, -9.0, 0.5, -0.25, 7.0, 7.0, -1.0, 0.75]];
        let mask = [false, true, false, true];
        let (mut y, mut tape) = ([[0.0; 12]], full.new_tape::<1>());
        full.set_input_mask(&mut tape, Some(&mask));
        full.forward(&x, &mut y, &mut tape);
        let mut expected = [[0.0; 6]];
        short.forward(
            &[[0.5, -0.25, -1.0, 0.75]],
            &mut expected,
            &mut short.new_tape(),
        );
        let [a, b] = [&expected[0][..3], &expected[0][3..]];
        let steps: Vec<&[f32]> = y[0].chunks(3).collect();
        for (found, wanted) in steps.iter().zip([&[0.0; 3][..], a, a, b]) {
            let close = found.iter().zip(wanted).all(|(f, w)| (f - w).abs() < 1e-6);
            assert!(close, "{}: steps {steps:?}, short {expected:?}", C::KIND);
        }
        let mut single = [9.0; 12];
        full.infer_masked(&x[0], Some(&mask), &mut single, &mut []);
        assert_eq!(single, y[0], "{}: infer and forward", C::KIND);
    }

    #[test]
    fn padding_is_skipped_as_if_its_steps_were_absent() {
        padding_is_skipped::<LstmCell>();
        padding_is_skipped::<GruCell>();
        padding_is_skipped::<SimpleRnnCell<Tanh>>();
    }

    #[test]
    fn keras_default_draws_glorot_kernels_and_orthonormal_recurrent_rows() {
        let lstm = Lstm::<2, 3, 4, 6, 4>::keras_default(&mut StdRng::seed_from_u64(1), true);
        let limit = (6.0_f32 / (3.0 + 16.0)).sqrt();
        assert!(lstm.kernel().iter().all(|w| w.abs() <= limit));
        let w = lstm.recurrent_kernel();
        for (i, j) in (0..4).flat_map(|i| (0..4).map(move |j| (i, j))) {
            let dot: f32 = (0..16).map(|k| w[i * 16 + k] * w[j * 16 + k]).sum();
            let expected = if i == j { 1.0 } else { 0.0 };
            assert!((dot - expected).abs() < 1e-5, "rows {i} and {j}: {dot}");
        }
    }
}
