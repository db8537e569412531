//! Activation functions, each an `f` / `df` pair, with Keras 3's formulas and defaults.
//!
//! | DSL and Keras name | type | `f(z)` | its derivative reads |
//! |---|---|---|---|
//! | `relu` | [`Relu`] | `max(z, 0)` | the output |
//! | `relu6` | [`Relu6`] | `min(max(z, 0), 6)` | the output |
//! | `leaky_relu` | [`LeakyRelu`] | `z` if `z > 0`, else `0.2 z` | the output |
//! | `elu` | [`Elu`] | `z` if `z > 0`, else `e^z - 1` | the output |
//! | `celu` | [`Celu`] (= [`Elu`]) | `max(z, 0) + e^(min(z, 0)) - 1` | the output |
//! | `selu` | [`Selu`] | `λ z` if `z > 0`, else `λ α (e^z - 1)` | the output |
//! | `sigmoid` | [`Sigmoid`] | `1 / (1 + e^-z)` | the output |
//! | `hard_sigmoid` | [`HardSigmoid`] | `relu6(z + 3) / 6` | the output |
//! | `sparse_sigmoid` | [`SparseSigmoid`] | 0, `(z + 1) / 2`, 1 at -1 and 1 | the output |
//! | `log_sigmoid` | [`LogSigmoid`] | `ln σ(z)` | the output |
//! | `tanh` | [`Tanh`] | `tanh z` | the output |
//! | `hard_tanh` | [`HardTanh`] | `min(max(z, -1), 1)` | the output |
//! | `tanh_shrink` | [`TanhShrink`] | `z - tanh z` | the input |
//! | `softplus` | [`Softplus`] | `ln(1 + e^z)` | the output |
//! | `sparse_plus` | [`SparsePlus`] | 0, `(z + 1)² / 4`, `z` at -1 and 1 | the output |
//! | `squareplus` | [`Squareplus`] | `(z + √(z² + 4)) / 2` | the output |
//! | `softsign` | [`Softsign`] | `z / (1 + \|z\|)` | the output |
//! | `soft_shrink` | [`SoftShrink`] | `z ∓ 0.5` if `\|z\| > 0.5`, else 0 | the output |
//! | `hard_shrink` | [`HardShrink`] | `z` if `\|z\| > 0.5`, else 0 | the output |
//! | `exponential` | [`Exponential`] | `e^z` | the output |
//! | `silu`, `swish` | [`Silu`] | `z σ(z)` | the input |
//! | `hard_silu`, `hard_swish` | [`HardSilu`] | `z · relu6(z + 3) / 6` | the input |
//! | `gelu` | [`Gelu`] | `z/2 · (1 + erf(z / √2))` | the input |
//! | `gelu_tanh` | [`GeluTanh`] | `z/2 · (1 + tanh(√(2/π) (z + 0.044715 z³)))` | the input |
//! | `mish` | [`Mish`] | `z tanh(softplus(z))` | the input |
//! | `softmax` | [`Softmax`] | `e^(z_i) / Σ_j e^(z_j)` over a row | the output |
//! | `log_softmax` | [`LogSoftmax`] | `z_i - ln Σ_j e^(z_j)` over a row | the output |
//! | `linear` | [`Linear`] | `z` | the output |
//!
//! `gelu_tanh` is Keras' `gelu(x, approximate=True)` (PyTorch's `GELU(approximate="tanh")`),
//! which Keras cannot name by a string; `gelu` is Keras' default, `approximate=False`.
//! `swish` and `hard_swish` are Keras' other names for `silu` and `hard_silu`: the same
//! function, the same type.
//!
//! # What the backward pass keeps
//!
//! A layer ends with its activation, `y = f(z)`, and its backward pass starts from `dL/dz =
//! f'(z) ⊙ dL/dy`. The network keeps every layer's output `y` anyway (the next layer's input),
//! so when `f'` is a function of `y` — relu, sigmoid, tanh, elu, softplus, softmax, ... —
//! nothing else needs keeping, and `df` is written in terms of `y`. Some activations cannot
//! recover `z` from `y`: `silu`, `hard_silu`, `gelu` and `mish` dip below zero and so give the
//! same output for two inputs, where `f'` differs, and `tanh_shrink`'s inverse has no closed
//! form. Their `df` is written in terms of `z`, which the layer must then keep from its forward
//! pass to its backward pass.
//!
//! Each activation states which through its [`Activation::Keeps`]: [`Outputs`] or [`Inputs`].
//! [`Keep`] turns that into what a layer's tape holds, [`Kept<A, Row, B>`](Kept): `()` for
//! `Outputs`, a buffer of the batch's pre-activations for `Inputs`. There is one code path:
//! every layer passes its kept values to [`Activation::apply_batch`] in its forward pass and
//! returns them from [`Layer::kept`](crate::layer::Layer::kept); the network hands them to
//! [`Activation::backprop_batch`], and the trainer gives each sample's to its
//! [`Loss`](crate::loss::Loss). For the activations that read their outputs, `Kept` is `()` and
//! every one of these calls compiles to what it did before `Keeps` existed: no buffer, no
//! copy, the same loop. An activation that reads its inputs costs one copy of the
//! pre-activations per forward pass and a buffer of them per layer, allocated once with the
//! tape: forward and backward still allocate nothing.
//!
//! The alternatives were worse: recomputing `z` in the backward pass repeats the layer's
//! matrix product; keeping `z` for every layer doubles every tape; writing `z` into the output
//! buffer and applying the activation in the next layer spreads one layer's math over two.
//!
//! [`Elementwise`] activations share one loop ([`Activation`] is implemented for all of them at
//! once); only [`Softmax`] and [`LogSoftmax`], which couple the values of a row, have their own
//! backward. Keras' `leaky_relu`, `elu`, `celu`, `hard_shrink`, `soft_shrink` and `squareplus`
//! take a parameter; netdsl has their defaults (a slope of 0.2, `α = 1`, a threshold of 0.5,
//! `b = 4`). Of Keras 3's other activations, `glu` halves its input (a layer, not an
//! activation, in netdsl's terms), `threshold` has no defaults, and `sparsemax` is left out
//! until Keras' TensorFlow backend computes it right (Keras 3.15 gives `[0.25, 0, 0]` for
//! `[1, 0.5, 0]`, whose sparsemax is `[0.75, 0.25, 0]`).

use core::f32::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI, SQRT_2};

#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

use crate::buffer::Buffer;
use crate::kernels::{self, Piecewise};
use crate::layer::Row;

/// An activation applied to a layer's output, one row (one sample) at a time.
pub trait Activation {
    /// The name Keras gives this activation (`"relu"`, `"softmax"`, ...).
    const NAME: &'static str;

    /// What its derivative reads, [`Outputs`] or [`Inputs`], and so what a layer keeps for the
    /// backward pass (see the [module](self)).
    type Keeps: Keep;

    /// Replaces the pre-activations `z` in `row` by `f(z)`.
    fn apply(row: &mut [f32]);

    /// Turns `dL/dy` in `grad` into `dL/dz` for one row, the derivative taken at `at`: the
    /// row's outputs `y = f(z)` when [`Activation::Keeps`] is [`Outputs`], its inputs `z` when
    /// it is [`Inputs`] ([`Keep::read`] picks the right one).
    fn backprop(at: &[f32], grad: &mut [f32]);

    /// [`Activation::apply`] to every row of a batch, keeping in `kept` what
    /// [`Activation::backprop_batch`] will read: nothing, or the pre-activations.
    fn apply_batch<R: Row, const B: usize>(
        rows: &mut [R; B],
        kept: &mut <Self::Keeps as Keep>::Batch<R, B>,
    ) {
        Self::Keeps::keep(rows, kept);
        for row in rows {
            Self::apply(row.values_mut());
        }
    }

    /// [`Activation::backprop`] for every row of a batch, from its outputs `y` and what
    /// [`Activation::apply_batch`] kept.
    fn backprop_batch<R: Row, const B: usize>(
        y: &[R; B],
        kept: &<Self::Keeps as Keep>::Batch<R, B>,
        grad: &mut [R; B],
    ) {
        let at = Self::Keeps::read_batch(y, kept);
        for (at, grad) in at.iter().zip(grad) {
            Self::backprop(at.values(), grad.values_mut());
        }
    }
}

/// What activation `A` keeps of a batch of `B` rows `R` for its backward pass: `()`, or the
/// pre-activations. A layer ending with `A` holds one in its tape.
pub type Kept<A, R, const B: usize> = <<A as Activation>::Keeps as Keep>::Batch<R, B>;

/// What activation `A` keeps of one row `R`: `()`, or the row's pre-activations. A
/// [`Loss`](crate::loss::Loss) gets it with each sample's output.
pub type KeptRow<A, R> = <<A as Activation>::Keeps as Keep>::Row<R>;

/// What an activation's derivative reads, so what a layer keeps for the backward pass: the
/// activation's outputs ([`Outputs`], which the network keeps anyway) or its inputs ([`Inputs`],
/// the pre-activations, which the layer keeps). Sealed: these two are all there are.
pub trait Keep: private::Sealed {
    /// What is kept of one row `R`.
    type Row<R: Row>;
    /// What is kept of a batch of `B` rows `R`, allocated once with the tape.
    type Batch<R: Row, const B: usize>;

    /// A new batch of kept values (zeros).
    fn new_batch<R: Row, const B: usize>() -> Self::Batch<R, B>;

    /// Before the activation is applied to `z`: keeps what its derivative will read.
    fn keep<R: Row, const B: usize>(z: &[R; B], kept: &mut Self::Batch<R, B>);

    /// Keeps `z`, the pre-activations of values `at..at + z.len()` of row `b` only: how a
    /// recurrent layer keeps those of its output steps.
    fn keep_part<R: Row, const B: usize>(
        kept: &mut Self::Batch<R, B>,
        b: usize,
        at: usize,
        z: &[f32],
    );

    /// What is kept of row `b` of a batch.
    fn row<R: Row, const B: usize>(kept: &Self::Batch<R, B>, b: usize) -> &Self::Row<R>;

    /// Where the derivative is taken for one row: its output `y`, or its kept inputs.
    fn read<'a, R: Row>(y: &'a R, kept: &'a Self::Row<R>) -> &'a R;

    /// [`Keep::read`] for a whole batch.
    fn read_batch<'a, R: Row, const B: usize>(
        y: &'a [R; B],
        kept: &'a Self::Batch<R, B>,
    ) -> &'a [R; B];

    /// Applies `A` to one row, `y = f(z)`, leaving in `z` what `A`'s derivative reads: `y`, or
    /// `z` as it was. How a recurrent cell steps.
    fn apply_into<A: Activation + ?Sized>(z: &mut [f32], y: &mut [f32]);

    /// What [`Layer::kept`](crate::layer::Layer::kept) returns by default: nothing, for
    /// [`Outputs`]. For [`Inputs`] there is no default, and a layer that keeps its default with
    /// such an activation does not build (the message says to implement `Layer::kept`).
    fn nothing_kept<'a, R: Row, const B: usize>() -> &'a Self::Batch<R, B>;
}

/// The derivative reads the activation's outputs, which the network keeps anyway: nothing more
/// is kept (`()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outputs;

/// The derivative reads the activation's inputs, the pre-activations `z`, which the layer keeps
/// in its tape: a [`Buffer`] of them per batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inputs;

mod private {
    pub trait Sealed {}
    impl Sealed for super::Outputs {}
    impl Sealed for super::Inputs {}
}

impl Keep for Outputs {
    type Row<R: Row> = ();
    type Batch<R: Row, const B: usize> = ();

    #[inline(always)]
    fn new_batch<R: Row, const B: usize>() {}

    #[inline(always)]
    fn keep<R: Row, const B: usize>(_z: &[R; B], _kept: &mut ()) {}

    #[inline(always)]
    fn keep_part<R: Row, const B: usize>(_kept: &mut (), _b: usize, _at: usize, _z: &[f32]) {}

    #[inline(always)]
    fn row<R: Row, const B: usize>(kept: &(), _b: usize) -> &() {
        kept
    }

    #[inline(always)]
    fn read<'a, R: Row>(y: &'a R, _kept: &'a ()) -> &'a R {
        y
    }

    #[inline(always)]
    fn read_batch<'a, R: Row, const B: usize>(y: &'a [R; B], _kept: &'a ()) -> &'a [R; B] {
        y
    }

    #[inline(always)]
    fn apply_into<A: Activation + ?Sized>(z: &mut [f32], y: &mut [f32]) {
        A::apply(z);
        y.copy_from_slice(z);
    }

    #[inline(always)]
    fn nothing_kept<'a, R: Row, const B: usize>() -> &'a () {
        &()
    }
}

/// Evaluated where a layer whose activation reads its inputs kept the default
/// [`Layer::kept`](crate::layer::Layer::kept): a build error, not a wrong gradient.
struct NoDefault<R, const B: usize>(core::marker::PhantomData<R>);

impl<R, const B: usize> NoDefault<R, B> {
    const KEPT: () = panic!(
        "a layer whose activation reads its inputs (`Keeps = Inputs`: silu, gelu, mish, \
         hard_silu...) keeps them in its tape: implement `Layer::kept` to return them"
    );
}

impl Keep for Inputs {
    type Row<R: Row> = R;
    type Batch<R: Row, const B: usize> = Buffer<[R; B]>;

    fn new_batch<R: Row, const B: usize>() -> Buffer<[R; B]> {
        Buffer::zeroed()
    }

    #[inline(always)]
    fn keep<R: Row, const B: usize>(z: &[R; B], kept: &mut Buffer<[R; B]>) {
        kept.copy_from_slice(z);
    }

    #[inline(always)]
    fn keep_part<R: Row, const B: usize>(
        kept: &mut Buffer<[R; B]>,
        b: usize,
        at: usize,
        z: &[f32],
    ) {
        kept[b].values_mut()[at..][..z.len()].copy_from_slice(z);
    }

    #[inline(always)]
    fn row<R: Row, const B: usize>(kept: &Buffer<[R; B]>, b: usize) -> &R {
        &kept[b]
    }

    #[inline(always)]
    fn read<'a, R: Row>(_y: &'a R, kept: &'a R) -> &'a R {
        kept
    }

    #[inline(always)]
    fn read_batch<'a, R: Row, const B: usize>(
        _y: &'a [R; B],
        kept: &'a Buffer<[R; B]>,
    ) -> &'a [R; B] {
        kept
    }

    #[inline(always)]
    fn apply_into<A: Activation + ?Sized>(z: &mut [f32], y: &mut [f32]) {
        y.copy_from_slice(z);
        A::apply(y);
    }

    fn nothing_kept<'a, R: Row, const B: usize>() -> &'a Buffer<[R; B]> {
        let () = NoDefault::<R, B>::KEPT;
        unreachable!("the constant above fails to evaluate")
    }
}

/// An activation that acts on each value alone: `y = f(z)`, its derivative `df` a function of
/// `y` ([`Outputs`]) or of `z` ([`Inputs`]).
pub trait Elementwise {
    /// The name Keras gives this activation.
    const NAME: &'static str;
    /// What `df` reads: [`Outputs`] or [`Inputs`].
    type Keeps: Keep;
    /// The activation itself.
    fn f(z: f32) -> f32;
    /// Its derivative `dy/dz`, taken at the output `y = f(z)` when [`Elementwise::Keeps`] is
    /// [`Outputs`], at the input `z` when it is [`Inputs`].
    fn df(at: f32) -> f32;
    /// [`Elementwise::f`] on every value; an activation with a vector kernel overrides it.
    fn apply_all(values: &mut [f32]) {
        for v in values {
            *v = Self::f(*v);
        }
    }
    /// `grad[i] *= df(at[i])` for every value; an activation with a vector kernel overrides
    /// it.
    fn backprop_all(at: &[f32], grad: &mut [f32]) {
        for (g, &at) in grad.iter_mut().zip(at) {
            *g *= Self::df(at);
        }
    }
}

impl<E: Elementwise> Activation for E {
    const NAME: &'static str = E::NAME;
    type Keeps = E::Keeps;

    fn apply(row: &mut [f32]) {
        E::apply_all(row);
    }

    fn apply_batch<R: Row, const B: usize>(
        rows: &mut [R; B],
        kept: &mut <E::Keeps as Keep>::Batch<R, B>,
    ) {
        E::Keeps::keep(rows, kept);
        E::apply_all(bytemuck::cast_slice_mut(rows));
    }

    fn backprop(at: &[f32], grad: &mut [f32]) {
        E::backprop_all(at, grad);
    }

    fn backprop_batch<R: Row, const B: usize>(
        y: &[R; B],
        kept: &<E::Keeps as Keep>::Batch<R, B>,
        grad: &mut [R; B],
    ) {
        let at = E::Keeps::read_batch(y, kept);
        Self::backprop(bytemuck::cast_slice(at), bytemuck::cast_slice_mut(grad));
    }
}

/// Rectified linear unit: `f(z) = max(z, 0)`.
///
/// `df = 1` where `y > 0`, else `0` (the derivative at the kink is taken as 0, as Keras does).
/// A NaN stays NaN, as in Keras and TensorFlow, so a bad input shows in the output rather
/// than turning into a plausible answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relu;

impl Elementwise for Relu {
    const NAME: &'static str = "relu";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        // Not `z.max(0.0)`, which returns 0 for a NaN.
        if z < 0.0 { 0.0 } else { z }
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        if y > 0.0 { 1.0 } else { 0.0 }
    }
}

/// Relu capped at 6, Keras' `relu6`: `f(z) = min(max(z, 0), 6)` (on batches through
/// [`kernels::piecewise`], exactly).
///
/// `df = 1` where `0 < y < 6`, else `0` (0 at both kinks, as in TensorFlow).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relu6;

impl Elementwise for Relu6 {
    const NAME: &'static str = "relu6";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        // `f32::clamp` keeps a NaN.
        z.clamp(0.0, 6.0)
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        if y > 0.0 && y < 6.0 { 1.0 } else { 0.0 }
    }
    fn apply_all(values: &mut [f32]) {
        kernels::piecewise(Piecewise::Relu6, values);
    }
}

/// Leaky relu with Keras 3's default slope: `f(z) = z` where `z > 0`, else `0.2 z` (on batches
/// through [`kernels::piecewise`], exactly). Keras 2 and `keras.layers.LeakyReLU` used 0.3;
/// `keras.activations.leaky_relu` uses 0.2.
///
/// `df = 1` where `y > 0`, else `0.2` (the slope at the kink, as in TensorFlow).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeakyRelu;

impl LeakyRelu {
    /// Keras 3's `negative_slope`.
    pub const NEGATIVE_SLOPE: f32 = 0.2;
}

impl Elementwise for LeakyRelu {
    const NAME: &'static str = "leaky_relu";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        if z > 0.0 { z } else { Self::NEGATIVE_SLOPE * z }
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        // The slope is positive, so `y` has the sign of `z`.
        if y > 0.0 { 1.0 } else { Self::NEGATIVE_SLOPE }
    }
    fn apply_all(values: &mut [f32]) {
        kernels::piecewise(Piecewise::LeakyRelu(Self::NEGATIVE_SLOPE), values);
    }
}

/// Exponential linear unit with Keras' default `α = 1`: `f(z) = z` where `z > 0`, else
/// `e^z - 1` (`exp_m1`, exact near zero).
///
/// `df = 1` where `y ≥ 0`, else `y + 1` (`= e^z`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Elu;

impl Elementwise for Elu {
    const NAME: &'static str = "elu";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        if z > 0.0 { z } else { z.exp_m1() }
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        if y < 0.0 { y + 1.0 } else { 1.0 }
    }
}

/// Keras' `celu(x, alpha)` with its default `α = 1`, `max(z, 0) + α (e^(min(z, 0) / α) - 1)`: the
/// same function as [`Elu`]'s.
pub type Celu = Elu;

/// Scaled exponential linear unit: `f(z) = λ z` where `z > 0`, else `λ α (e^z - 1)`, with
/// Klambauer et al.'s `α = 1.6732632…` and `λ = 1.0507009…` (TensorFlow's constants, `λ α`
/// rounded once).
///
/// `df = λ` where `y ≥ 0`, else `y + λ α` (`= λ α e^z`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selu;

impl Selu {
    /// `λ`.
    pub const SCALE: f32 = 1.050_701;
    /// `λ α`.
    pub const SCALE_ALPHA: f32 = 1.758_099_3;
}

impl Elementwise for Selu {
    const NAME: &'static str = "selu";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        if z > 0.0 {
            Self::SCALE * z
        } else {
            Self::SCALE_ALPHA * z.exp_m1()
        }
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        if y < 0.0 {
            y + Self::SCALE_ALPHA
        } else {
            Self::SCALE
        }
    }
}

/// Logistic sigmoid: `f(z) = 1 / (1 + e^-z)`.
///
/// `df = y (1 - y)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl Elementwise for Sigmoid {
    const NAME: &'static str = "sigmoid";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        sigmoid(z)
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        y * (1.0 - y)
    }
}

/// `1 / (1 + e^-z)`.
#[inline(always)]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Keras 3's hard sigmoid: `f(z) = relu6(z + 3) / 6`, so 0 up to -3, 1 from 3, `z/6 + 1/2`
/// between (on batches through [`kernels::piecewise`], exactly). Keras 2's had a slope of 0.2.
///
/// `df = 1/6` where `0 < y < 1`, else `0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardSigmoid;

impl Elementwise for HardSigmoid {
    const NAME: &'static str = "hard_sigmoid";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        Relu6::f(z + 3.0) / 6.0
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        if y > 0.0 && y < 1.0 { 1.0 / 6.0 } else { 0.0 }
    }
    fn apply_all(values: &mut [f32]) {
        kernels::piecewise(Piecewise::HardSigmoid, values);
    }
}

/// Hyperbolic tangent: `f(z) = tanh z` (on batches through [`crate::kernels::tanh`], within
/// 5e-7).
///
/// `df = 1 - y²`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;

impl Elementwise for Tanh {
    const NAME: &'static str = "tanh";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z.tanh()
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        1.0 - y * y
    }
    /// The vector kernel [`crate::kernels::tanh`], within 5e-7 of `f`.
    fn apply_all(values: &mut [f32]) {
        crate::kernels::tanh(values);
    }
}

/// Softplus: `f(z) = ln(1 + e^z)`, computed as `z + ln(1 + e^-z)` for positive `z` so that
/// neither side overflows or loses its digits.
///
/// `df = σ(z) = 1 - e^-y`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Softplus;

impl Elementwise for Softplus {
    const NAME: &'static str = "softplus";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        softplus(z)
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        -(-y).exp_m1()
    }
}

/// `ln(1 + e^z)` without overflow; NaN stays NaN.
#[inline(always)]
fn softplus(z: f32) -> f32 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// Softsign: `f(z) = z / (1 + |z|)`.
///
/// `df = 1 / (1 + |z|)² = (1 - |y|)²`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Softsign;

impl Elementwise for Softsign {
    const NAME: &'static str = "softsign";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z / (z.abs() + 1.0)
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        let d = 1.0 - y.abs();
        d * d
    }
}

/// Exponential: `f(z) = e^z`.
///
/// `df = y`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exponential;

impl Elementwise for Exponential {
    const NAME: &'static str = "exponential";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z.exp()
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        y
    }
}

/// Sigmoid linear unit, also called swish: `f(z) = z σ(z)`.
///
/// `df = σ(z) (1 + z (1 - σ(z)))`, read at `z`: `f` has a minimum at `z ≈ -1.28`, so one
/// output comes from two inputs with different slopes ([`Inputs`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Silu;

/// Keras' other name for [`Silu`].
pub type Swish = Silu;

impl Elementwise for Silu {
    const NAME: &'static str = "silu";
    type Keeps = Inputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z * sigmoid(z)
    }
    #[inline(always)]
    fn df(z: f32) -> f32 {
        let s = sigmoid(z);
        s * (1.0 + z * (1.0 - s))
    }
}

/// Hard silu, also called hard swish: `f(z) = z · relu6(z + 3) / 6` (on batches through
/// [`kernels::piecewise`], exactly).
///
/// `df = 0` up to -3, `(2z + 3) / 6` between, `1` from 3, read at `z` ([`Inputs`]: outputs in
/// `(-3/8, 0)` come from two inputs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardSilu;

/// Keras' other name for [`HardSilu`].
pub type HardSwish = HardSilu;

impl Elementwise for HardSilu {
    const NAME: &'static str = "hard_silu";
    type Keeps = Inputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z * HardSigmoid::f(z)
    }
    #[inline(always)]
    fn df(z: f32) -> f32 {
        // The product rule through the hard sigmoid, whose slope (1/6 inside, 0 at its kinks
        // and outside) is decided on `z + 3`, as TensorFlow's relu6 decides it.
        let s = z + 3.0;
        let slope = if s > 0.0 && s < 6.0 { z / 6.0 } else { 0.0 };
        Relu6::f(s) / 6.0 + slope
    }
    fn apply_all(values: &mut [f32]) {
        kernels::piecewise(Piecewise::HardSilu, values);
    }
}

/// Gaussian error linear unit, exact (Keras' default, `approximate=False`):
/// `f(z) = z/2 · (1 + erf(z / √2)) = z Φ(z)` (on rows and batches through [`kernels::gelu`],
/// whose `erf` is within 1.5 units in the last place of the exact one).
///
/// `df = Φ(z) + z φ(z)`, `φ(z) = e^(-z²/2) / √(2π)`, read at `z` ([`Inputs`]; on rows and
/// batches through [`kernels::gelu_backprop`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gelu;

impl Elementwise for Gelu {
    const NAME: &'static str = "gelu";
    type Keeps = Inputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        0.5 * z * (1.0 + libm::erff(z / SQRT_2))
    }
    #[inline(always)]
    fn df(z: f32) -> f32 {
        // 1/√(2π) = (1/√2) · (2/√π) / 2.
        let density = FRAC_1_SQRT_2 * FRAC_2_SQRT_PI * 0.5 * (-0.5 * z * z).exp();
        0.5 * (1.0 + libm::erff(z / SQRT_2)) + z * density
    }
    /// The vector kernel [`kernels::gelu`].
    fn apply_all(values: &mut [f32]) {
        kernels::gelu(values);
    }
    /// The vector kernel [`kernels::gelu_backprop`].
    fn backprop_all(z: &[f32], grad: &mut [f32]) {
        kernels::gelu_backprop(z, grad);
    }
}

/// Gaussian error linear unit, tanh approximation: Keras' `gelu(x, approximate=True)`,
/// PyTorch's `GELU(approximate="tanh")`: `f(z) = z/2 · (1 + tanh u)`,
/// `u = √(2/π) (z + 0.044715 z³)`.
///
/// `df = (1 + tanh u)/2 + z/2 · (1 - tanh² u) · √(2/π) (1 + 3 · 0.044715 z²)`, read at `z`
/// ([`Inputs`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GeluTanh;

impl GeluTanh {
    /// `√(2/π)`.
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    /// The cubic term's coefficient.
    const CUBIC: f32 = 0.044_715;
}

impl Elementwise for GeluTanh {
    /// Keras has no name for it (it is `gelu` with `approximate=True`): the DSL's.
    const NAME: &'static str = "gelu_tanh";
    type Keeps = Inputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        let u = Self::SQRT_2_OVER_PI * (z + Self::CUBIC * (z * z * z));
        0.5 * z * (1.0 + u.tanh())
    }
    #[inline(always)]
    fn df(z: f32) -> f32 {
        let u = Self::SQRT_2_OVER_PI * (z + Self::CUBIC * (z * z * z));
        let t = u.tanh();
        let du = Self::SQRT_2_OVER_PI * (1.0 + 3.0 * Self::CUBIC * z * z);
        0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du
    }
}

/// Mish: `f(z) = z tanh(softplus(z))`.
///
/// `df = tanh(sp) + z (1 - tanh²(sp)) σ(z)`, `sp = softplus(z)`, read at `z` ([`Inputs`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mish;

impl Elementwise for Mish {
    const NAME: &'static str = "mish";
    type Keeps = Inputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z * softplus(z).tanh()
    }
    #[inline(always)]
    fn df(z: f32) -> f32 {
        let t = softplus(z).tanh();
        t + z * (1.0 - t * t) * sigmoid(z)
    }
}

/// Hard tanh, Keras' `hard_tanh`: `f(z) = min(max(z, -1), 1)` (on batches through
/// [`kernels::piecewise`], exactly).
///
/// `df = 1` where `-1 < y < 1`, else `0` (TensorFlow's `clip_by_value` also passes the gradient
/// at exactly ±1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardTanh;

impl Elementwise for HardTanh {
    const NAME: &'static str = "hard_tanh";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z.clamp(-1.0, 1.0)
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        if y > -1.0 && y < 1.0 { 1.0 } else { 0.0 }
    }
    fn apply_all(values: &mut [f32]) {
        kernels::piecewise(Piecewise::HardTanh, values);
    }
}

/// Hard shrink with Keras' default threshold: `f(z) = z` where `|z| > 0.5`, else `0`.
///
/// `df = 1` where `y ≠ 0`, else `0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardShrink;

impl HardShrink {
    /// Keras' `threshold`.
    pub const THRESHOLD: f32 = 0.5;
}

impl Elementwise for HardShrink {
    const NAME: &'static str = "hard_shrink";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        // A NaN is not within the threshold: it stays NaN (TensorFlow's gives 0).
        if z.abs() <= Self::THRESHOLD { 0.0 } else { z }
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        if y == 0.0 { 0.0 } else { 1.0 }
    }
}

/// Soft shrink with Keras' default threshold: `f(z) = z - 0.5` above 0.5, `z + 0.5` below -0.5,
/// else `0` (on batches through [`kernels::piecewise`], exactly).
///
/// `df = 1` where `y ≠ 0`, else `0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftShrink;

impl SoftShrink {
    /// Keras' `threshold`.
    pub const THRESHOLD: f32 = 0.5;
}

impl Elementwise for SoftShrink {
    const NAME: &'static str = "soft_shrink";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z - z.clamp(-Self::THRESHOLD, Self::THRESHOLD)
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        if y == 0.0 { 0.0 } else { 1.0 }
    }
    fn apply_all(values: &mut [f32]) {
        kernels::piecewise(Piecewise::SoftShrink(Self::THRESHOLD), values);
    }
}

/// Tanh shrink: `f(z) = z - tanh z`.
///
/// `df = tanh² z`, read at `z` ([`Inputs`]: `f` rises everywhere, but `z` has no closed form in
/// `y`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TanhShrink;

impl Elementwise for TanhShrink {
    const NAME: &'static str = "tanh_shrink";
    type Keeps = Inputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z - z.tanh()
    }
    #[inline(always)]
    fn df(z: f32) -> f32 {
        let t = z.tanh();
        t * t
    }
}

/// Log-sigmoid: `f(z) = ln σ(z) = -softplus(-z)`.
///
/// `df = σ(-z) = 1 - e^y`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogSigmoid;

impl Elementwise for LogSigmoid {
    const NAME: &'static str = "log_sigmoid";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        -softplus(-z)
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        -y.exp_m1()
    }
}

/// Sparse plus: `f(z) = 0` up to -1, `(z + 1)² / 4` up to 1, `z` from 1.
///
/// `df = 0`, `(z + 1) / 2 = √y`, `1`: `√y` where `y < 1`, else `1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SparsePlus;

impl Elementwise for SparsePlus {
    const NAME: &'static str = "sparse_plus";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        // NaN fails both comparisons and stays NaN.
        if z <= -1.0 {
            0.0
        } else if z < 1.0 {
            0.25 * ((z + 1.0) * (z + 1.0))
        } else {
            z
        }
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        if y < 1.0 { y.sqrt() } else { 1.0 }
    }
}

/// Sparse sigmoid: `f(z) = 0` up to -1, `(z + 1) / 2` up to 1, `1` from 1 (on batches through
/// [`kernels::piecewise`], exactly).
///
/// `df = 1/2` where `0 < y < 1`, else `0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SparseSigmoid;

impl Elementwise for SparseSigmoid {
    const NAME: &'static str = "sparse_sigmoid";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        0.5 * (z.clamp(-1.0, 1.0) + 1.0)
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        if y > 0.0 && y < 1.0 { 0.5 } else { 0.0 }
    }
    fn apply_all(values: &mut [f32]) {
        kernels::piecewise(Piecewise::SparseSigmoid, values);
    }
}

/// Squareplus with Keras' default `b = 4`: `f(z) = (z + √(z² + 4)) / 2`.
///
/// `df = (1 + z / √(z² + 4)) / 2 = y² / (y² + 1)` (as `z = y - 1/y`), written
/// `1 / (1 + 1/y²)` so that it does not overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Squareplus;

impl Elementwise for Squareplus {
    const NAME: &'static str = "squareplus";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        (z + (z * z + 4.0).sqrt()) / 2.0
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        1.0 / (1.0 + 1.0 / (y * y))
    }
}

/// Identity: `f(z) = z`, for layers without an activation.
///
/// `df = 1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Linear;

impl Elementwise for Linear {
    const NAME: &'static str = "linear";
    type Keeps = Outputs;
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z
    }
    #[inline(always)]
    fn df(_y: f32) -> f32 {
        1.0
    }
}

/// `(max z, ln Σ e^(z - max))` of a row: `logsumexp(z)` is their sum. A NaN anywhere gives NaN.
pub(crate) fn log_sum_exp(z: &[f32]) -> (f32, f32) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (max, z.iter().map(|z| (z - max).exp()).sum::<f32>().ln())
}

/// Softmax over a row: `y_i = e^(z_i) / Σ_j e^(z_j)`.
///
/// `dL/dz_i = y_i (dL/dy_i - Σ_j y_j dL/dy_j)`. Paired with categorical cross-entropy the two
/// fuse into `dL/dz = y - t` (see [`crate::loss::CategoricalCrossentropy`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Softmax;

impl Activation for Softmax {
    const NAME: &'static str = "softmax";
    type Keeps = Outputs;

    fn apply(row: &mut [f32]) {
        // Subtracting the maximum keeps `exp` finite; it cancels in the ratio.
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in row.iter_mut() {
            *v -= max;
        }
        // The vector `exp` (within 2 units in the last place), a whole row at a time.
        kernels::exp(row);
        let mut sum = 0.0;
        for &v in row.iter() {
            sum += v;
        }
        let inv = 1.0 / sum;
        for v in row {
            *v *= inv;
        }
    }

    fn backprop(y: &[f32], grad: &mut [f32]) {
        let dot: f32 = y.iter().zip(grad.iter()).map(|(y, g)| y * g).sum();
        for (g, &y) in grad.iter_mut().zip(y) {
            *g = y * (*g - dot);
        }
    }
}

/// Log-softmax over a row, Keras' `log_softmax` (over the last axis, as [`Softmax`]):
/// `y_i = z_i - ln Σ_j e^(z_j)`, the logarithms of the softmax's probabilities, computed
/// without forming them (as `(z_i - max) - ln Σ_j e^(z_j - max)`), so that none rounds to zero.
///
/// `dL/dz_i = dL/dy_i - e^(y_i) Σ_j dL/dy_j`. Paired with
/// [`CategoricalCrossentropyFromLogits`](crate::loss::CategoricalCrossentropyFromLogits), whose
/// softmax ignores the shift, the two fuse into `dL/dz = e^y - t`, the same as from logits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogSoftmax;

impl Activation for LogSoftmax {
    const NAME: &'static str = "log_softmax";
    type Keeps = Outputs;

    fn apply(row: &mut [f32]) {
        let (max, log_sum) = log_sum_exp(row);
        for v in row {
            *v = (*v - max) - log_sum;
        }
    }

    fn backprop(y: &[f32], grad: &mut [f32]) {
        let sum: f32 = grad.iter().sum();
        for (g, &y) in grad.iter_mut().zip(y) {
            *g -= y.exp() * sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied<A: Activation>(z: &[f32]) -> Vec<f32> {
        let mut row = z.to_vec();
        A::apply(&mut row);
        row
    }

    /// `dy_i/dz_i` of a batch of one row through the training path: `apply_batch` keeping what
    /// the activation keeps, then `backprop_batch` of ones.
    fn derivative<A: Activation, const N: usize>(z: [f32; N]) -> [f32; N] {
        let (mut y, mut kept) = ([z], A::Keeps::new_batch::<[f32; N], 1>());
        A::apply_batch(&mut y, &mut kept);
        let mut grad = [[1.0; N]];
        A::backprop_batch(&y, &kept, &mut grad);
        grad[0]
    }

    fn assert_close(found: &[f32], expected: &[f32], tol: f32) {
        for (i, (f, e)) in found.iter().zip(expected).enumerate() {
            assert!((f - e).abs() <= tol, "element {i}: found {f}, expected {e}");
        }
    }

    /// An activation's row path, [`applied`].
    type Apply = fn(&[f32]) -> Vec<f32>;

    /// Every elementwise activation: its name and its row path.
    fn elementwise() -> Vec<(&'static str, Apply)> {
        macro_rules! each {
            ($($a:ty),*) => {
                vec![$((<$a as Activation>::NAME, applied::<$a> as Apply)),*]
            };
        }
        each!(
            Relu,
            Relu6,
            LeakyRelu,
            Elu,
            Selu,
            Sigmoid,
            HardSigmoid,
            Tanh,
            Softplus,
            Softsign,
            Exponential,
            Silu,
            HardSilu,
            Gelu,
            GeluTanh,
            Mish,
            HardTanh,
            HardShrink,
            SoftShrink,
            TanhShrink,
            LogSigmoid,
            SparsePlus,
            SparseSigmoid,
            Squareplus,
            Linear
        )
    }

    #[test]
    fn nan_stays_nan_through_every_activation() {
        let z = [f32::NAN, 1.0];
        for (name, apply) in elementwise() {
            let found = apply(&z);
            assert!(found[0].is_nan(), "{name}: {found:?}");
        }
        assert!(applied::<Softmax>(&z).iter().all(|p| p.is_nan()));
        assert!(applied::<LogSoftmax>(&z).iter().all(|p| p.is_nan()));
    }

    #[test]
    fn forward_values_match_the_formulas() {
        let z = [-2.0, 0.0, 0.5];
        assert_close(&applied::<Relu>(&z), &[0.0, 0.0, 0.5], 0.0);
        assert_close(
            &applied::<Sigmoid>(&z),
            &[0.119_202_92, 0.5, 0.622_459_3],
            1e-7,
        );
        assert_close(
            &applied::<Tanh>(&z),
            &[-0.964_027_6, 0.0, 0.462_117_16],
            1e-7,
        );
        assert_close(&applied::<Linear>(&z), &z, 0.0);
        assert_close(
            &applied::<Softmax>(&z),
            &[0.048_610_824, 0.359_188_1, 0.592_201_07],
            1e-7,
        );
        // ln of the softmax's probabilities.
        assert_close(
            &applied::<LogSoftmax>(&z),
            &[-3.023_909, -1.023_909_1, -0.523_909_06],
            1e-6,
        );
    }

    /// `f` and `df` of activation `A` at `Z`, against values computed in f64 from Keras 3's
    /// formulas (TensorFlow's conventions at the kinks), within `1e-6 · max(1, |value|)`.
    fn literal_values<A: Activation>(f: [f64; 7], df: [f64; 7]) {
        const Z: [f32; 7] = [-4.0, -1.5, -0.25, 0.0, 0.5, 2.0, 6.5];
        let (found_f, found_df) = (applied::<A>(&Z), derivative::<A, 7>(Z));
        for (what, found, expected) in [("f", &found_f[..], f), ("df", &found_df[..], df)] {
            for ((z, &found), expected) in Z.iter().zip(found).zip(expected) {
                assert!(
                    (f64::from(found) - expected).abs() <= 1e-6 * expected.abs().max(1.0),
                    "{} {what}({z}) = {found}, expected {expected}",
                    A::NAME
                );
            }
        }
    }

    #[test]
    fn new_activations_and_their_derivatives_at_literal_points() {
        // At z = -4, -1.5, -0.25, 0, 0.5, 2, 6.5.
        literal_values::<Relu6>(
            [0.0, 0.0, 0.0, 0.0, 0.5, 2.0, 6.0],
            [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0],
        );
        literal_values::<LeakyRelu>(
            [-0.8, -0.3, -0.05, 0.0, 0.5, 2.0, 6.5],
            [0.2, 0.2, 0.2, 0.2, 1.0, 1.0, 1.0],
        );
        literal_values::<Elu>(
            [
                -0.981_684_36,
                -0.776_869_84,
                -0.221_199_22,
                0.0,
                0.5,
                2.0,
                6.5,
            ],
            [
                0.018_315_639,
                0.223_130_16,
                0.778_800_78,
                1.0,
                1.0,
                1.0,
                1.0,
            ],
        );
        literal_values::<Selu>(
            [
                -1.725_898_6,
                -1.365_814_4,
                -0.388_890_2,
                0.0,
                0.525_350_49,
                2.101_402,
                6.829_556_4,
            ],
            [
                0.032_200_713,
                0.392_284_99,
                1.369_209_1,
                1.050_701,
                1.050_701,
                1.050_701,
                1.050_701,
            ],
        );
        literal_values::<HardSigmoid>(
            [
                0.0,
                0.25,
                0.458_333_33,
                0.5,
                0.583_333_33,
                0.833_333_33,
                1.0,
            ],
            [
                0.0,
                1.0 / 6.0,
                1.0 / 6.0,
                1.0 / 6.0,
                1.0 / 6.0,
                1.0 / 6.0,
                0.0,
            ],
        );
        literal_values::<Softplus>(
            [
                0.018_149_928,
                0.201_413_28,
                0.575_939_42,
                core::f64::consts::LN_2,
                0.974_076_98,
                2.126_928,
                6.501_502_3,
            ],
            [
                0.017_986_21,
                0.182_425_52,
                0.437_823_5,
                0.5,
                0.622_459_33,
                0.880_797_08,
                0.998_498_82,
            ],
        );
        literal_values::<Softsign>(
            [
                -0.8,
                -0.6,
                -0.2,
                0.0,
                0.333_333_33,
                0.666_666_67,
                0.866_666_67,
            ],
            [
                0.04,
                0.16,
                0.64,
                1.0,
                0.444_444_44,
                0.111_111_11,
                0.017_777_778,
            ],
        );
        let exp: [f64; 7] = [
            0.018_315_639,
            0.223_130_16,
            0.778_800_78,
            1.0,
            1.648_721_3,
            7.389_056_1,
            665.141_63,
        ];
        literal_values::<Exponential>(exp, exp);
        literal_values::<Silu>(
            [
                -0.071_944_84,
                -0.273_638_29,
                -0.109_455_87,
                0.0,
                0.311_229_67,
                1.761_594_2,
                6.490_242_3,
            ],
            [
                -0.052_664_615,
                -0.041_294_154,
                0.376_289_98,
                0.5,
                0.739_961_19,
                1.090_784_2,
                1.008_241_9,
            ],
        );
        literal_values::<HardSilu>(
            [
                0.0,
                -0.375,
                -0.114_583_33,
                0.0,
                0.291_666_67,
                1.666_666_7,
                6.5,
            ],
            [0.0, 0.0, 0.416_666_67, 0.5, 0.666_666_67, 1.166_666_7, 1.0],
        );
        literal_values::<Gelu>(
            [
                -0.000_126_684_97,
                -0.100_210_8,
                -0.100_323_42,
                0.0,
                0.345_731_23,
                1.954_499_7,
                6.5,
            ],
            [
                -0.000_503_649_66,
                -0.127_469_19,
                0.304_626_65,
                0.5,
                0.867_495_12,
                1.085_231_8,
                1.0,
            ],
        );
        literal_values::<GeluTanh>(
            [
                -7.024_594_8e-5,
                -0.100_428_42,
                -0.100_324_65,
                0.0,
                0.345_714_01,
                1.954_597_7,
                6.5,
            ],
            [
                -0.000_335_123_2,
                -0.127_710_79,
                0.304_645_9,
                0.5,
                0.867_369_9,
                1.086_099_3,
                1.0,
            ],
        );
        literal_values::<Mish>(
            [
                -0.072_591_741,
                -0.298_099_74,
                -0.129_926_96,
                0.0,
                0.375_245_21,
                1.943_959,
                6.499_970_7,
            ],
            [
                -0.053_773_21,
                -0.064_097_816,
                0.439_815_6,
                0.6,
                0.886_424_38,
                1.069_317_9,
                1.000_054,
            ],
        );
    }

    #[test]
    fn keras_3_later_activations_and_their_derivatives_at_literal_points() {
        // At z = -4, -1.5, -0.25, 0, 0.5, 2, 6.5: 0.5 is the shrinks' threshold, where Keras
        // gives 0 and a slope of 0.
        literal_values::<HardTanh>(
            [-1.0, -1.0, -0.25, 0.0, 0.5, 1.0, 1.0],
            [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0],
        );
        literal_values::<HardShrink>(
            [-4.0, -1.5, 0.0, 0.0, 0.0, 2.0, 6.5],
            [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0],
        );
        literal_values::<SoftShrink>(
            [-3.5, -1.0, 0.0, 0.0, 0.0, 1.5, 6.0],
            [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0],
        );
        literal_values::<TanhShrink>(
            [
                -3.000_670_7,
                -0.594_851_75,
                -0.005_081_337_6,
                0.0,
                0.037_882_843,
                1.035_972_4,
                5.500_004_5,
            ],
            [
                0.998_659_05,
                0.819_293_36,
                0.059_985_151,
                0.0,
                0.213_552_27,
                0.929_349_18,
                0.999_990_96,
            ],
        );
        literal_values::<LogSigmoid>(
            [
                -4.018_149_9,
                -1.701_413_3,
                -0.825_939_42,
                -core::f64::consts::LN_2,
                -0.474_076_98,
                -0.126_928_01,
                -0.001_502_310_2,
            ],
            [
                0.982_013_79,
                0.817_574_48,
                0.562_176_5,
                0.5,
                0.377_540_67,
                0.119_202_92,
                0.001_501_182_3,
            ],
        );
        literal_values::<SparsePlus>(
            [0.0, 0.0, 0.140_625, 0.25, 0.5625, 2.0, 6.5],
            [0.0, 0.0, 0.375, 0.5, 0.75, 1.0, 1.0],
        );
        literal_values::<SparseSigmoid>(
            [0.0, 0.0, 0.375, 0.5, 0.75, 1.0, 1.0],
            [0.0, 0.0, 0.5, 0.5, 0.5, 0.0, 0.0],
        );
        literal_values::<Squareplus>(
            [
                0.236_067_98,
                0.5,
                0.882_782_22,
                1.0,
                1.280_776_4,
                2.414_213_6,
                6.650_367_6,
            ],
            [
                0.052_786_405,
                0.2,
                0.437_982_63,
                0.5,
                0.621_267_81,
                0.853_553_39,
                0.977_889_5,
            ],
        );
    }

    #[test]
    fn softmax_survives_large_inputs() {
        let y = applied::<Softmax>(&[1000.0, 1000.0]);
        assert_close(&y, &[0.5, 0.5], 0.0);
        // ln ½, where softmax followed by ln would give ln 0 = -∞ for the first.
        let y = applied::<LogSoftmax>(&[1000.0, 1000.0, -1000.0]);
        let ln_half = -core::f32::consts::LN_2;
        assert_close(&y, &[ln_half, ln_half, -2_000.0 + ln_half], 1e-3);
    }

    #[test]
    fn backprop_values_match_the_formulas() {
        // Sigmoid at z = 0: y = 0.5, dy/dz = 0.25.
        let mut g = [2.0];
        Sigmoid::backprop(&[0.5], &mut g);
        assert_eq!(g, [0.5]);
        // Relu passes the gradient where the output is positive only.
        let mut g = [3.0, 3.0];
        Relu::backprop(&[0.0, 1.5], &mut g);
        assert_eq!(g, [0.0, 3.0]);
        // Tanh: 1 - 0.5² = 0.75.
        let mut g = [1.0];
        Tanh::backprop(&[0.5], &mut g);
        assert_eq!(g, [0.75]);
        // Softmax with y = (0.25, 0.75), g = (1, 0): dot = 0.25, dz = (0.1875, -0.1875).
        let mut g = [1.0, 0.0];
        Softmax::backprop(&[0.25, 0.75], &mut g);
        assert_eq!(g, [0.1875, -0.1875]);
        // Log-softmax with y = ln(0.25, 0.75), g = (1, 0): dz = g - e^y Σg = (0.75, -0.75).
        let mut g = [1.0, 0.0];
        LogSoftmax::backprop(&[0.25_f32.ln(), 0.75_f32.ln()], &mut g);
        assert_close(&g, &[0.75, -0.75], 1e-7);
        // The row of `forward_values_match_the_formulas`, g = (1, -0.5, 2).
        let mut g = [[1.0, -0.5, 2.0]];
        let y = [[-3.023_909, -1.023_909_1, -0.523_909_06]];
        LogSoftmax::backprop_batch(&y, &(), &mut g);
        assert_close(&g[0], &[0.878_472_9, -1.397_970_3, 0.519_497_32], 1e-6);
    }

    #[test]
    fn only_activations_that_read_their_inputs_keep_them() {
        // Nothing kept, nothing allocated, for those that read their outputs.
        assert_eq!(size_of::<Kept<Relu, [f32; 64], 32>>(), 0);
        assert_eq!(size_of::<Kept<Softmax, [f32; 64], 32>>(), 0);
        assert_eq!(size_of::<Kept<LogSoftmax, [f32; 64], 32>>(), 0);
        // Silu keeps the pre-activations and reads them: two inputs with one output (to f32
        // rounding) have different slopes, which the output alone could not tell apart.
        let z = [[-0.5, -2.508_807_2]];
        let (mut y, mut kept) = (z, Inputs::new_batch::<[f32; 2], 1>());
        Silu::apply_batch(&mut y, &mut kept);
        assert_eq!(*kept, z);
        assert!((y[0][0] - y[0][1]).abs() < 1e-7, "{y:?}");
        let mut grad = [[1.0, 1.0]];
        Silu::backprop_batch(&y, &kept, &mut grad);
        assert_close(&grad[0], &[0.260_038_8, -0.099_323_62], 1e-6);
    }

    /// Checks `backprop_batch` against central differences of `apply` for a weighted sum of
    /// outputs.
    fn check_against_finite_differences<A: Activation, const N: usize>(z: [f32; N]) {
        let weights: [f32; N] = core::array::from_fn(|i| 0.3 + 0.2 * i as f32);
        let objective = |z: &[f32]| -> f64 {
            applied::<A>(z)
                .iter()
                .zip(&weights)
                .map(|(y, w)| f64::from(*y) * f64::from(*w))
                .sum()
        };
        let (mut y, mut kept) = ([z], A::Keeps::new_batch::<[f32; N], 1>());
        A::apply_batch(&mut y, &mut kept);
        let mut analytic = [weights];
        A::backprop_batch(&y, &kept, &mut analytic);
        let eps = 1e-2_f32;
        for i in 0..N {
            let (mut plus, mut minus) = (z, z);
            plus[i] += eps;
            minus[i] -= eps;
            let numeric = ((objective(&plus) - objective(&minus)) / (2.0 * f64::from(eps))) as f32;
            let a = analytic[0][i];
            // Relative, floored at 2e-2: f32 outputs near 1 are rounded to 6e-8, so their
            // differences over 2·eps are good to about 1e-5, which decides near saturation
            // (tanh at 6.6 has a slope of 7e-6, and its f32 differences give 0).
            let rel = (a - numeric).abs() / a.abs().max(numeric.abs()).max(2e-2);
            assert!(
                rel <= 1e-3,
                "{}: dL/dz[{i}] at {} analytic {a} vs numeric {numeric}, relative error {rel}",
                A::NAME,
                z[i]
            );
        }
    }

    #[test]
    fn every_activation_backprop_matches_finite_differences() {
        // Points kept away from the kinks at 0, ±1/2, ±1, ±3 and 6, on every side of them.
        let z = [-3.7, -1.3, -0.4, 0.2, 0.9, 1.7, 3.4, 6.6];
        check_against_finite_differences::<Relu, 8>(z);
        check_against_finite_differences::<Relu6, 8>(z);
        check_against_finite_differences::<LeakyRelu, 8>(z);
        check_against_finite_differences::<Elu, 8>(z);
        check_against_finite_differences::<Selu, 8>(z);
        check_against_finite_differences::<Sigmoid, 8>(z);
        check_against_finite_differences::<HardSigmoid, 8>(z);
        check_against_finite_differences::<Tanh, 8>(z);
        check_against_finite_differences::<Softplus, 8>(z);
        check_against_finite_differences::<Softsign, 8>(z);
        check_against_finite_differences::<Exponential, 8>(z);
        check_against_finite_differences::<Silu, 8>(z);
        check_against_finite_differences::<HardSilu, 8>(z);
        check_against_finite_differences::<Gelu, 8>(z);
        check_against_finite_differences::<GeluTanh, 8>(z);
        check_against_finite_differences::<Mish, 8>(z);
        check_against_finite_differences::<HardTanh, 8>(z);
        check_against_finite_differences::<HardShrink, 8>(z);
        check_against_finite_differences::<SoftShrink, 8>(z);
        check_against_finite_differences::<TanhShrink, 8>(z);
        check_against_finite_differences::<LogSigmoid, 8>(z);
        check_against_finite_differences::<SparsePlus, 8>(z);
        check_against_finite_differences::<SparseSigmoid, 8>(z);
        check_against_finite_differences::<Squareplus, 8>(z);
        check_against_finite_differences::<Linear, 8>(z);
        check_against_finite_differences::<Softmax, 8>(z);
        check_against_finite_differences::<LogSoftmax, 8>(z);
    }

    #[test]
    fn the_vector_kernels_compute_the_scalar_formulas() {
        // Long enough for full vectors and a tail, across every kink.
        let z: Vec<f32> = (-80..=80).map(|i| i as f32 / 10.0 + 0.05).collect();
        for (name, apply) in elementwise() {
            let found = apply(&z);
            let scalar: Vec<f32> = match name {
                "relu6" => z.iter().map(|&z| Relu6::f(z)).collect(),
                "leaky_relu" => z.iter().map(|&z| LeakyRelu::f(z)).collect(),
                "hard_sigmoid" => z.iter().map(|&z| HardSigmoid::f(z)).collect(),
                "hard_silu" => z.iter().map(|&z| HardSilu::f(z)).collect(),
                "hard_tanh" => z.iter().map(|&z| HardTanh::f(z)).collect(),
                "soft_shrink" => z.iter().map(|&z| SoftShrink::f(z)).collect(),
                "sparse_sigmoid" => z.iter().map(|&z| SparseSigmoid::f(z)).collect(),
                _ => continue,
            };
            assert_eq!(found, scalar, "{name}");
        }
    }
}
