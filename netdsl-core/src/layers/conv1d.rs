//! One-dimensional convolution over sequences, with strides and dilation.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

use core::fmt;
use core::marker::PhantomData;

use rand::Rng;

use super::flat::FlatParameters;
use crate::activation::{Activation, Keep, Kept};
use crate::init::Initializer;
use crate::kernels::{self, Gather, Isa, Offsets, Precision, Product};
use crate::layer::{Layer, TensorVisitor, TensorVisitorMut};
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::regularizer::{Regularizer, Regularizers};
use crate::shape::{Kernel1d, Kernel1dShape, Padding1d, Padding1dShape, Sequence, SequenceShape};

/// 1-D convolution: `y[o][f] = f(b[f] + Σ_{k,c} x[o·S + k·D - PL][c] · W[k][c][f])`.
///
/// Backward, from `dz = dL/dz`: `dW = colᵀ · dz`, `db = Σ_{batch,o} dz`, `dx = col2im(dz · Wᵀ)`,
/// where row `(b, o)` of `col` is the `K × C` patch output step `o` of sample `b` sees: the
/// steps `o·S - PL`, `o·S - PL + D`, ..., `o·S - PL + (K - 1)·D`.
///
/// The type is `Conv1d<Sequence<T, C, IN>, Kernel1d<F, K, S, D>, Padding1d<PL>,
/// Sequence<OT, F, OUT>, A>` (see [`crate::shape`]): a sequence of `T` steps of `C` features,
/// stored step after step (`IN = T · C`), is convolved with `F` filters of `K` taps `D` steps
/// apart (Keras' `dilation_rate`, spanning `(K - 1) · D + 1` steps), stride `S`, into `OT` steps
/// of `F` features (`OUT = OT · F`). Steps outside the sequence read as zero: `PL` before it,
/// and after it whatever `OT` needs. With `span = (K - 1) · D + 1`, Keras' `padding="valid"` is
/// `PL = 0`, `OT = (T - span) / S + 1` rounded down; `padding="same"` is `OT = ⌈T / S⌉` and
/// `PL = max((OT - 1) · S + span - T, 0) / 2` (the odd step of padding goes at the end);
/// `padding="causal"` is `OT = ⌈T / S⌉` and `PL = span - 1`, so that output `o` (at stride 1)
/// sees no step after `o`. `network!` computes all of these; a hand-written type must state
/// them, and a layer whose sizes disagree does not compile.
///
/// Weights are stored `W[k][c][f]`, Keras' `(kernel_size, in, filters)` kernel layout; PyTorch's
/// `Conv1d.weight` is `(F, C, K)` and must be permuted when imported. As for
/// [`Conv2d`](super::Conv2d), the activation applies to each sample's whole output row.
///
/// Both `col` products run on the same offset-table product as [`Conv2d`](super::Conv2d)'s,
/// reading each patch in place: one table holds where each output step's window starts, the
/// other where each tap lies in a window, `k · D · C + c` (so dilation costs nothing). A padded
/// layer first copies the batch into a zero-bordered sequence in its [`Layer::Tape`]; `dx` goes
/// through `dz · Wᵀ` one sample at a time, then col2im.
///
/// ```
/// use netdsl_core::activation::Linear;
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::Conv1d;
/// use netdsl_core::shape::{Kernel1d, Padding1d, Sequence};
///
/// // 5 steps of 1 feature, one filter of 2 taps 2 steps apart, 'valid': 5 - 3 + 1 = 3 steps.
/// type Conv = Conv1d<Sequence<5, 1, 5>, Kernel1d<1, 2, 1, 2>, Padding1d<0>, Sequence<3, 1, 3>, Linear>;
/// let layer = Conv::from_parameters(vec![1.0, 10.0], Some(vec![0.5]));
/// let x = [[1.0, 2.0, 3.0, 4.0, 5.0]];
/// let mut y = [[0.0; 3]];
/// layer.forward(&x, &mut y, &mut layer.new_tape::<1>());
/// // Step 0: 1·1 + 10·3 + 0.5.
/// assert_eq!(y, [[31.5, 42.5, 53.5]]);
/// ```
///
/// Sizes that disagree are rejected when the layer is built:
///
/// ```compile_fail,E0080
/// use netdsl_core::activation::Linear;
/// use netdsl_core::layers::Conv1d;
/// use netdsl_core::shape::{Kernel1d, Padding1d, Sequence};
///
/// // The output holds 3 · 1 = 3 values, not 4.
/// type Conv = Conv1d<Sequence<5, 1, 5>, Kernel1d<1, 2, 1, 2>, Padding1d<0>, Sequence<3, 1, 4>, Linear>;
/// let layer = Conv::from_parameters(vec![1.0; 2], None);
/// ```
pub struct Conv1d<I, K, P, O, A> {
    /// `W[k][c][f]` (`K · C · F` values) and the bias (`F` values).
    params: FlatParameters,
    /// The shapes and the activation are types only.
    types: PhantomData<(I, K, P, O, A)>,
}

/// Parameter gradients of a [`Conv1d`] layer, laid out like its parameters: `dL/dW` as
/// `[k][c][f]`, then `dL/db`.
pub type Conv1dGrads = FlatParameters;

/// What a [`Conv1d`] keeps between the forward and backward passes of a batch, and the scratch
/// space of its backward pass: allocated once by [`Layer::new_tape`].
pub struct Conv1dTape<K = ()> {
    /// The precision of the products ([`Layer::set_precision`]).
    precision: Precision,
    /// What the activation keeps for the backward pass ([`Layer::kept`]): nothing, or the
    /// batch's pre-activations.
    kept: K,
    /// The batch with its padding, `TP × C` per sample, the padding zero; empty when the layer
    /// has no padding and reads its input in place.
    sequence: Box<[f32]>,
    /// Where each output step's window starts in the (padded) batch, `(b, o)` order.
    windows: Offsets,
    /// Where each tap `(k, c)` lies relative to its window's start: `k · D · C + c`.
    taps: Offsets,
    /// `Wᵀ`, `F × K·C`, for `dz · Wᵀ`.
    weights_t: Box<[f32]>,
    /// One sample's `dz · Wᵀ`: a patch gradient per output step.
    patch_grads: Box<[f32]>,
    /// One sample's input gradient with its padding (empty when the layer has none).
    sequence_grad: Box<[f32]>,
}

impl<I: SequenceShape, K: Kernel1dShape, P: Padding1dShape, O: SequenceShape, A>
    Conv1d<I, K, P, O, A>
{
    /// The kernel's shape as Keras gives it, `[K, C, F]`.
    const KERNEL_SHAPE: [usize; 3] = [K::SIZE, I::FEATURES, K::FILTERS];
    /// The length of one patch, a row of the im2col matrix.
    const PATCH: usize = K::SIZE * I::FEATURES;
    /// The padded sequence's length: every window inside it, and the sequence at step `PL`.
    const TP: usize = max((O::STEPS - 1) * K::STRIDE + K::SPAN, P::LEFT + I::STEPS);
    /// Whether the input must be copied into a padded sequence, or can be read in place.
    const PADDED: bool = Self::TP != I::STEPS;

    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        let (t, c) = (I::STEPS, I::FEATURES);
        let (f, k, s, d) = (K::FILTERS, K::SIZE, K::STRIDE, K::DILATION);
        let (ot, pl) = (O::STEPS, P::LEFT);
        assert!(
            t >= 1 && c >= 1 && f >= 1,
            "`Conv1d`: the sequence and the filters need at least one step, feature and filter"
        );
        assert!(
            k >= 1 && s >= 1 && d >= 1,
            "`Conv1d`: kernel size, stride and dilation must be at least 1"
        );
        assert!(I::LEN == t * c, "`Conv1d`: expected IN = T * C");
        assert!(
            O::FEATURES == f && O::LEN == ot * f,
            "`Conv1d`: expected an output of F features, OUT = OT * F"
        );
        assert!(ot >= 1, "`Conv1d`: the output needs at least one step");
        assert!(
            pl < K::SPAN,
            "`Conv1d`: the padding before the sequence must be shorter than the kernel's span"
        );
        assert!(
            (ot - 1) * s < t + pl,
            "`Conv1d`: the last window starts after the end of the sequence"
        );
    };

    /// Glorot-uniform weights (Keras' default): `W ~ U(-l, l)`, `l = √(6 / (fan_in + fan_out))`
    /// with `fan_in = K · C` and `fan_out = K · F`, and a zero bias when `bias` is true.
    pub fn glorot_uniform<R: Rng + ?Sized>(rng: &mut R, bias: bool) -> Self {
        Self::initialized(
            rng,
            Initializer::GlorotUniform,
            bias.then_some(Initializer::Zeros),
        )
    }

    /// Weights drawn by `kernel` (Keras' kernel shape, whose window multiplies both fans),
    /// then a bias of one value per filter drawn by `bias` when given: Keras'
    /// `kernel_initializer` and `bias_initializer`. With Glorot-uniform and zeros, the layer
    /// [`Conv1d::glorot_uniform`] makes, from the same draws.
    pub fn initialized<R: Rng + ?Sized>(
        rng: &mut R,
        kernel: Initializer,
        bias: Option<Initializer>,
    ) -> Self {
        let () = Self::SHAPES_AGREE;
        Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        let weights = kernel.sample(&Self::KERNEL_SHAPE, rng);
        let bias = bias.map(|init| init.sample(&[K::FILTERS], rng));
        Self {
            params: FlatParameters::new(weights, bias),
            types: PhantomData,
        }
    }

    /// The layer, its kernel and bias penalized by `regularizers` (Keras' `kernel_regularizer`
    /// and `bias_regularizer`; a convolution has no recurrent kernel, and ignores that one). See
    /// [`crate::regularizer`].
    pub fn with_regularizers(mut self, regularizers: Regularizers) -> Self {
        let kernel_len = self.params.weights.len();
        self.params = self.params.regularized(
            Regularizers {
                recurrent_kernel: Regularizer::NONE,
                ..regularizers
            },
            kernel_len,
        );
        self
    }

    /// The regularizers of its kernel and bias ([`Regularizers::NONE`] unless set).
    pub fn regularizers(&self) -> &Regularizers {
        self.params.regularizers()
    }

    /// A layer with the given weights (`W[k][c][f]`, Keras' layout) and optional bias.
    ///
    /// # Panics
    ///
    /// If `weights` does not hold `K · C · F` values or `bias` does not hold `F`.
    pub fn from_parameters(weights: Vec<f32>, bias: Option<Vec<f32>>) -> Self {
        let () = Self::SHAPES_AGREE;
        Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        let expected = Self::PATCH * K::FILTERS;
        assert_eq!(
            weights.len(),
            expected,
            "`Conv1d` weights: expected K * C * F = {expected} values, found {}",
            weights.len()
        );
        if let Some(bias) = &bias {
            assert_eq!(
                bias.len(),
                K::FILTERS,
                "`Conv1d` bias: expected F = {} values, found {}",
                K::FILTERS,
                bias.len()
            );
        }
        Self {
            params: FlatParameters::new(weights, bias),
            types: PhantomData,
        }
    }

    /// The weights, `W[k][c][f]` flattened: `K · C · F` values.
    pub fn weights(&self) -> &[f32] {
        &self.params.weights
    }

    /// The weights, mutably.
    pub fn weights_mut(&mut self) -> &mut [f32] {
        &mut self.params.weights
    }

    /// The bias, `F` values, if the layer has one.
    pub fn bias(&self) -> Option<&[f32]> {
        self.params.bias.as_deref()
    }

    /// The bias, mutably, if the layer has one.
    pub fn bias_mut(&mut self) -> Option<&mut [f32]> {
        self.params.bias.as_deref_mut()
    }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

impl<
    const T: usize,
    const C: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const D: usize,
    const PL: usize,
    const OT: usize,
    const IN: usize,
    const OUT: usize,
    A: Activation,
> Layer
    for Conv1d<Sequence<T, C, IN>, Kernel1d<F, K, S, D>, Padding1d<PL>, Sequence<OT, F, OUT>, A>
{
    type In = [f32; IN];
    type Out = [f32; OUT];
    type Activation = A;
    type Grads = Conv1dGrads;
    type Tape<const B: usize> = Conv1dTape<Kept<A, [f32; OUT], B>>;

    const KIND: &'static str = "Conv1D";

    fn new_tape<const B: usize>(&self) -> Self::Tape<B> {
        let tp = Self::TP;
        let windows = (0..B)
            .flat_map(|b| (0..OT).map(move |o| (b * tp + o * S) * C))
            .collect();
        let taps = (0..K)
            .flat_map(|k| (0..C).map(move |c| k * D * C + c))
            .collect();
        let padded = if Self::PADDED { tp * C } else { 0 };
        Conv1dTape {
            precision: Precision::F32,
            kept: A::Keeps::new_batch(),
            sequence: vec![0.0; B * padded].into_boxed_slice(),
            windows: Offsets::new(windows),
            taps: Offsets::new(taps),
            weights_t: vec![0.0; F * Self::PATCH].into_boxed_slice(),
            patch_grads: vec![0.0; OT * Self::PATCH].into_boxed_slice(),
            sequence_grad: vec![0.0; padded].into_boxed_slice(),
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
        let sequence = if Self::PADDED {
            // Each sample at step `PL` of its padded sequence; the padding stays zero.
            let padded = tape.sequence.chunks_exact_mut(Self::TP * C);
            for (x, padded) in x.iter().zip(padded) {
                padded[PL * C..][..IN].copy_from_slice(x);
            }
            &tape.sequence
        } else {
            x.as_flattened()
        };
        Gather {
            n: F,
            a: sequence,
            rows: &tape.windows,
            cols: &tape.taps,
            b: &self.params.weights,
            ldb: F,
            bias: self.params.bias.as_deref(),
            c: y.as_flattened_mut(),
            ldc: F,
        }
        .run_in(tape.precision);
        A::apply_batch(y, &mut tape.kept);
    }

    fn kept<const B: usize>(tape: &Self::Tape<B>) -> &Kept<A, [f32; OUT], B> {
        &tape.kept
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        dz: &[[f32; OUT]; B],
        dx: Option<&mut [[f32; IN]; B]>,
        grads: &mut Conv1dGrads,
        tape: &mut Self::Tape<B>,
    ) {
        let sequence = if Self::PADDED {
            &tape.sequence
        } else {
            x.as_flattened()
        };
        // dW[p][f] = Σ_r col[r][p] · dz[r][f]: colᵀ gathered with the tables' roles swapped.
        Gather {
            n: F,
            a: sequence,
            rows: &tape.taps,
            cols: &tape.windows,
            b: dz.as_flattened(),
            ldb: F,
            bias: None,
            c: &mut grads.weights,
            ldc: F,
        }
        .run_in(tape.precision);
        if let Some(db) = grads.bias.as_deref_mut() {
            kernels::column_sums(Isa::selected(), dz.as_flattened(), F, db);
        }
        let Some(dx) = dx else { return };
        for (p, taps) in self.params.weights.chunks_exact(F).enumerate() {
            for (f, &w) in taps.iter().enumerate() {
                tape.weights_t[f * Self::PATCH + p] = w;
            }
        }
        let sample_windows = tape.windows.as_slice().chunks_exact(OT);
        for ((dz, dx), windows) in dz.iter().zip(dx.iter_mut()).zip(sample_windows) {
            // dcol[r][p] = Σ_f dz[r][f] · W[p][f], one sample's worth.
            Product {
                m: OT,
                n: Self::PATCH,
                k: F,
                a: dz,
                a_row: F,
                a_col: 1,
                b: &tape.weights_t,
                ldb: Self::PATCH,
                bias: None,
                c: &mut tape.patch_grads,
                ldc: Self::PATCH,
            }
            .run_in(tape.precision);
            // col2im: each window's `K` taps, `D · C` values apart, of `C` values each; the
            // first window starts where the sample does.
            let target = if Self::PADDED {
                &mut tape.sequence_grad[..]
            } else {
                &mut dx[..]
            };
            target.fill(0.0);
            kernels::add_windows(
                Isa::selected(),
                &tape.patch_grads,
                windows,
                windows[0],
                K,
                C,
                D * C,
                target,
            );
            if Self::PADDED {
                dx.copy_from_slice(&tape.sequence_grad[PL * C..][..IN]);
            }
        }
    }

    /// The convolution computed directly, one output step at a time, without the tape (so
    /// without allocating).
    fn infer(&self, x: &[f32; IN], y: &mut [f32; OUT]) {
        for (o, out) in y.chunks_exact_mut(F).enumerate() {
            // The filters' sums in registers: `F` is a constant here.
            let mut sums = [0.0; F];
            if let Some(b) = &self.params.bias {
                sums.copy_from_slice(b);
            }
            for (k, weights) in self.params.weights.chunks_exact(C * F).enumerate() {
                // The tap's step in the sequence, if it is not in the padding.
                let Some(step) = (o * S + k * D).checked_sub(PL).filter(|&t| t < T) else {
                    continue;
                };
                for (&v, w) in x[step * C..][..C].iter().zip(weights.chunks_exact(F)) {
                    for (sum, &w) in sums.iter_mut().zip(w) {
                        *sum += v * w;
                    }
                }
            }
            out.copy_from_slice(&sums);
        }
        A::apply(y);
    }

    flat_parameters!();

    /// `kernel` of shape `[K, C, F]` and `bias` of shape `[F]`, as in Keras.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        visit("kernel", &Self::KERNEL_SHAPE, &self.params.weights);
        if let Some(b) = self.params.bias.as_deref() {
            visit("bias", &[F], b);
        }
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        visit("kernel", &Self::KERNEL_SHAPE, &mut self.params.weights);
        if let Some(b) = self.params.bias.as_deref_mut() {
            visit("bias", &[F], b);
        }
    }

    /// ONNX's `Conv` over the steps (channels first, its kernel `[F, C, K]`, with the
    /// dilation) between two `Transpose`s, then the activation.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = graph.reshape(x, &[T, C]);
        let x = graph.transpose(&x, &[0, 2, 1]);
        let mut oik = vec![0.0; F * C * K];
        for (i, &v) in self.params.weights.iter().enumerate() {
            let (f, c, k) = (i % F, i / F % C, i / (F * C));
            oik[(f * C + c) * K + k] = v;
        }
        let kernel = graph.initializer("kernel", &[F, C, K], oik);
        let bias =
            (self.params.bias.as_deref()).map(|b| graph.initializer("bias", &[F], b.to_vec()));
        let inputs: Vec<&str> = [Some(x.name.as_str()), Some(&kernel), bias.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let span = (K - 1) * D + 1;
        let right = ((OT - 1) * S + span).saturating_sub(T + PL);
        let attributes = vec![
            onnx::Attribute::ints("kernel_shape", &[K as i64]),
            onnx::Attribute::ints("strides", &[S as i64]),
            onnx::Attribute::ints("dilations", &[D as i64]),
            onnx::Attribute::ints("pads", &[PL as i64, right as i64]),
        ];
        let z = graph.node("Conv", &inputs, attributes, vec![F, OT]);
        let z = graph.transpose(&z, &[0, 2, 1]);
        graph.activation(A::NAME, z)
    }
}

impl<I, K, P, O, A> Clone for Conv1d<I, K, P, O, A> {
    fn clone(&self) -> Self {
        Self {
            params: self.params.clone(),
            types: PhantomData,
        }
    }
}

impl<I, K, P, O, A> fmt::Debug for Conv1d<I, K, P, O, A>
where
    I: Default + fmt::Debug,
    K: Default + fmt::Debug,
    P: Default + fmt::Debug,
    O: Default + fmt::Debug,
    A: Activation,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conv1d")
            .field("input", &I::default())
            .field("kernel", &K::default())
            .field("padding", &P::default())
            .field("output", &O::default())
            .field("activation", &A::NAME)
            .field("bias", &self.params.bias.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Linear, Relu, Sigmoid, Tanh};
    use crate::layers::gradcheck::{check_against_reference, seeded, sigmoid, values};

    /// 5 steps of 2 features: step `t` is `(t + 1, -(t + 1))`.
    const STEPS: [f32; 10] = [1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0, -4.0, 5.0, -5.0];

    fn forward_one<L: Layer>(layer: &L, x: &L::In) -> L::Out {
        let mut y: [L::Out; 1] = bytemuck::Zeroable::zeroed();
        layer.forward(core::array::from_ref(x), &mut y, &mut layer.new_tape::<1>());
        y[0]
    }

    /// Two filters of 2 taps over 2 features: filter 0 reads feature 0 of both taps
    /// (`W[k][0][0] = 1, 10`), filter 1 feature 1 of the second tap (`W[1][1][1] = 1`).
    fn two_filters() -> Vec<f32> {
        // [k][c][f]
        vec![1.0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0, 1.0]
    }

    #[test]
    fn valid_padding_of_literal_values() {
        // Span 2, 'valid': 4 steps.
        let l = Conv1d::<
            Sequence<5, 2, 10>,
            Kernel1d<2, 2, 1, 1>,
            Padding1d<0>,
            Sequence<4, 2, 8>,
            Linear,
        >::from_parameters(two_filters(), Some(vec![0.5, -0.5]));
        // Step o: x[o][0] + 10 x[o + 1][0] + 0.5, and x[o + 1][1] - 0.5.
        let expected = [21.5, -2.5, 32.5, -3.5, 43.5, -4.5, 54.5, -5.5];
        assert_eq!(forward_one(&l, &STEPS), expected);
    }

    #[test]
    fn dilated_same_padding_of_literal_values() {
        // Keras: 'same', K = 2, D = 3: span 4, OT = 5, padding 3 in all, PL = 1 (the odd
        // step at the end). Step o reads steps o - 1 and o + 2.
        let l = Conv1d::<
            Sequence<5, 2, 10>,
            Kernel1d<2, 2, 1, 3>,
            Padding1d<1>,
            Sequence<5, 2, 10>,
            Linear,
        >::from_parameters(two_filters(), None);
        #[rustfmt::skip]
        let expected = [
            30.0, -3.0,        // steps -1 (zero) and 2
            1.0 + 40.0, -4.0,  // steps 0 and 3
            2.0 + 50.0, -5.0,  // steps 1 and 4
            3.0, 0.0,          // steps 2 and 5 (zero)
            4.0, 0.0,          // steps 3 and 6 (zero)
        ];
        assert_eq!(forward_one(&l, &STEPS), expected);
    }

    #[test]
    fn causal_padding_sees_no_later_step() {
        // 'causal', K = 2, D = 2, S = 2: PL = 2, OT = ⌈5 / 2⌉ = 3; output o reads steps
        // 2o - 2 and 2o.
        let l = Conv1d::<
            Sequence<5, 2, 10>,
            Kernel1d<2, 2, 2, 2>,
            Padding1d<2>,
            Sequence<3, 2, 6>,
            Linear,
        >::from_parameters(two_filters(), None);
        let expected = [10.0, -1.0, 1.0 + 30.0, -3.0, 3.0 + 50.0, -5.0];
        assert_eq!(forward_one(&l, &STEPS), expected);
    }

    #[test]
    fn backward_of_literal_values() {
        // 'valid', span 3 (K = 2, D = 2) over 4 steps of 1 feature: 2 outputs, dz = (1, 0):
        // dW is the first window's taps (steps 0 and 2), db = 1, dx the kernel at steps 0, 2.
        let l = Conv1d::<
            Sequence<4, 1, 4>,
            Kernel1d<1, 2, 1, 2>,
            Padding1d<0>,
            Sequence<2, 1, 2>,
            Linear,
        >::from_parameters(vec![3.0, 5.0], Some(vec![0.0]));
        let x = [[1.0, 2.0, 4.0, 8.0]];
        let mut tape = l.new_tape::<1>();
        let mut y = [[0.0; 2]];
        l.forward(&x, &mut y, &mut tape);
        assert_eq!(y, [[23.0, 46.0]]);
        let mut grads = l.new_grads();
        let mut dx = [[9.0; 4]];
        l.backward(&x, &[[1.0, 0.0]], Some(&mut dx), &mut grads, &mut tape);
        assert_eq!(grads.weights(), &[1.0, 4.0]);
        assert_eq!(grads.bias(), Some(&[1.0][..]));
        assert_eq!(dx, [[3.0, 0.0, 5.0, 0.0]]);
        // Both outputs: the windows overlap at step 2 (tap 1 of output 0, ... ) and add up.
        l.backward(&x, &[[1.0, 2.0]], Some(&mut dx), &mut grads, &mut tape);
        assert_eq!(grads.weights(), &[1.0 + 2.0 * 2.0, 4.0 + 2.0 * 8.0]);
        assert_eq!(dx, [[3.0, 6.0, 5.0, 10.0]]);
    }

    #[test]
    fn glorot_uniform_uses_keras_fans_and_zeroes_the_bias() {
        let l = Conv1d::<
            Sequence<100, 8, 800>,
            Kernel1d<16, 5, 1, 1>,
            Padding1d<0>,
            Sequence<96, 16, 1536>,
            Relu,
        >::glorot_uniform(&mut seeded(1), true);
        let limit = (6.0_f32 / (5.0 * 8.0 + 5.0 * 16.0)).sqrt();
        assert!(l.weights().iter().all(|w| w.abs() <= limit));
        assert!(l.weights().iter().any(|w| w.abs() > 0.9 * limit));
        assert_eq!(l.bias(), Some(&[0.0; 16][..]));
        assert_eq!(l.parameter_count(), 5 * 8 * 16 + 16);
    }

    /// Conv1D in `f64`, straight from its definition: every sample's `OT × F` outputs, each
    /// through the activation `act`.
    fn reference(
        (t, c, f): (usize, usize, usize),
        (k, s, d, pl): (usize, usize, usize, usize),
        ot: usize,
        act: fn(f64) -> f64,
        w: &[f64],
        b: &[f64],
        x: &[f64],
    ) -> Vec<f64> {
        let mut out = Vec::new();
        for x in x.chunks_exact(t * c) {
            for o in 0..ot {
                for filter in 0..f {
                    let mut z = b.get(filter).copied().unwrap_or(0.0);
                    for tap in 0..k {
                        let Some(step) = (o * s + tap * d).checked_sub(pl).filter(|&v| v < t)
                        else {
                            continue;
                        };
                        for ch in 0..c {
                            z += x[step * c + ch] * w[(tap * c + ch) * f + filter];
                        }
                    }
                    out.push(act(z));
                }
            }
        }
        out
    }

    /// A Glorot-uniform layer of these shapes, with a bias of distinct values.
    fn random<I: SequenceShape, K: Kernel1dShape, P: Padding1dShape, O: SequenceShape, A>(
        seed: u64,
    ) -> Conv1d<I, K, P, O, A> {
        let mut l = Conv1d::glorot_uniform(&mut seeded(seed), true);
        for (i, b) in l.bias_mut().unwrap().iter_mut().enumerate() {
            *b = 0.1 * i as f32 - 0.05;
        }
        l
    }

    /// Checks `l` against [`reference`] on a batch of 3: forward, infer and every gradient.
    fn check<I, K, P, O, A, const IN: usize, const OUT: usize>(
        l: Conv1d<I, K, P, O, A>,
        act: fn(f64) -> f64,
        seed: u32,
    ) where
        I: SequenceShape,
        K: Kernel1dShape,
        P: Padding1dShape,
        O: SequenceShape,
        Conv1d<I, K, P, O, A>: Layer<In = [f32; IN], Out = [f32; OUT], Grads = FlatParameters>,
    {
        let x = values::<[f32; IN], 3>(seed);
        let coefficients = values::<[f32; OUT], 3>(seed + 1);
        let sizes = (I::STEPS, I::FEATURES, K::FILTERS);
        let kernel = (K::SIZE, K::STRIDE, K::DILATION, P::LEFT);
        check_against_reference(&l, &l.params, &x, &coefficients, &|w, b, x| {
            reference(sizes, kernel, O::STEPS, act, w, b, x)
        });
    }

    fn linear(z: f64) -> f64 {
        z
    }

    fn tanh(z: f64) -> f64 {
        z.tanh()
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn conv1d_valid_backward_matches_f64_differences() {
        // T = 9, K = 3, S = 2: (9 - 3) / 2 + 1 = 4 steps.
        check(random::<Sequence<9, 2, 18>, Kernel1d<3, 3, 2, 1>, Padding1d<0>, Sequence<4, 3, 12>, Tanh>(1), tanh, 1);
        // Dilated, 'valid': span (3 - 1) · 3 + 1 = 7 of 10 steps, 4 outputs.
        check(random::<Sequence<10, 3, 30>, Kernel1d<2, 3, 1, 3>, Padding1d<0>, Sequence<4, 2, 8>, Sigmoid>(2), sigmoid, 2);
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn conv1d_same_backward_matches_f64_differences() {
        // Keras' `Conv1D(3, 3, padding="same", dilation_rate=2)` on 10 steps: span 5,
        // padding 4, PL = 2.
        check(random::<Sequence<10, 2, 20>, Kernel1d<3, 3, 1, 2>, Padding1d<2>, Sequence<10, 3, 30>, Linear>(3), linear, 3);
        // 'same', K = 4, S = 3 on 7 steps: OT = 3, padding (3 - 1)·3 + 4 - 7 = 3, PL = 1.
        check(random::<Sequence<7, 2, 14>, Kernel1d<2, 4, 3, 1>, Padding1d<1>, Sequence<3, 2, 6>, Tanh>(4), tanh, 4);
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn conv1d_causal_backward_matches_f64_differences() {
        // 'causal', K = 3, D = 2: PL = 4, OT = 6.
        check(random::<Sequence<6, 2, 12>, Kernel1d<4, 3, 1, 2>, Padding1d<4>, Sequence<6, 4, 24>, Sigmoid>(5), sigmoid, 5);
    }

    #[test]
    fn conv1d_infer_equals_forward_for_every_padding() {
        fn compare<
            L: Layer<In = [f32; IN], Out = [f32; OUT]>,
            const IN: usize,
            const OUT: usize,
        >(
            l: L,
        ) {
            let x = values::<[f32; IN], 1>(7)[0];
            let batched = forward_one(&l, &x);
            let mut single = [0.0; OUT];
            l.infer(&x, &mut single);
            for (i, (a, b)) in batched.iter().zip(&single).enumerate() {
                assert!((a - b).abs() <= 1e-5, "output {i}: forward {a}, infer {b}");
            }
        }
        type Same = Conv1d<
            Sequence<10, 2, 20>,
            Kernel1d<3, 3, 1, 2>,
            Padding1d<2>,
            Sequence<10, 3, 30>,
            Relu,
        >;
        type Valid = Conv1d<
            Sequence<10, 2, 20>,
            Kernel1d<3, 3, 2, 1>,
            Padding1d<0>,
            Sequence<4, 3, 12>,
            Tanh,
        >;
        type Causal = Conv1d<
            Sequence<10, 2, 20>,
            Kernel1d<3, 2, 1, 4>,
            Padding1d<4>,
            Sequence<10, 3, 30>,
            Linear,
        >;
        compare(Same::glorot_uniform(&mut seeded(1), true));
        compare(Valid::glorot_uniform(&mut seeded(2), true));
        compare(Causal::glorot_uniform(&mut seeded(3), false));
    }
}
