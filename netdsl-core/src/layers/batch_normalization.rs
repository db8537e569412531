//! Batch normalization: each channel normalized by its statistics over the batch while
//! training, and by the moving averages of those statistics otherwise.

use core::fmt;
use core::marker::PhantomData;

#[cfg(feature = "alloc")]
use rand::Rng;

#[cfg(feature = "alloc")]
use super::normalization::ones;
use super::normalization::{Affine, NormalizationGrads, inverse_std};
use super::parameter::Parameter;
use crate::activation::{Activation, Keep, Kept, Linear};
use crate::buffer::Buffer;
#[cfg(feature = "alloc")]
use crate::layer::Initialize;
use crate::layer::{Layer, TensorVisitor, TensorVisitorMut};
#[cfg(feature = "onnx")]
use crate::onnx;

/// Batch normalization (Keras' `BatchNormalization`): `y = f(γ · (x - μ) / √(σ² + ε) + β)`
/// for each channel, `μ` and `σ²` the channel's mean and biased variance over the batch while
/// training, its moving mean and variance otherwise.
///
/// Backward, from `dz = dL/dz`, with `x̂ = (x - μ) / √(σ² + ε)` over the `n` values of a channel
/// in the batch: `dβ = Σ dz`, `dγ = Σ dz · x̂`, and `dx = γ / √(σ² + ε) · (dz - dβ / n - x̂ · dγ / n)`
/// while training, since `μ` and `σ²` depend on every `x`; `dx = γ / √(σ² + ε) · dz` otherwise.
///
/// A row of `N` values is `N / C` positions of `C` channels, the last axis (element `(p, c)` at
/// `p · C + c`): a vector's `C = N` values, an image's channels, a sequence's features. Each
/// channel is normalized over every position of every sample of the batch, as Keras'
/// `BatchNormalization(axis=-1)` does; `γ` (`gamma`) and `β` (`beta`) are trainable, one per
/// channel, and either can be left out ([`BatchNormalization::scale`],
/// [`BatchNormalization::center`]). The moving mean (from 0) and variance (from 1) are kept
/// without training: after each training step, [`Layer::update_state`] moves them by
/// `moving = moving · momentum + batch · (1 - momentum)`, and outside training
/// (`evaluate`, `predict`, [`Layer::infer`], a tape not set to train) the layer normalizes with
/// them. Keras' defaults: `momentum` 0.99, `epsilon` 0.001.
///
/// Whether a pass trains is its tape's mode ([`Layer::set_training`]), as for
/// [`Dropout`](super::Dropout); the tape keeps the batch's statistics for the backward pass and
/// for [`Layer::update_state`], so that the threads of a parallel `fit` share the layer. The
/// statistics of a training pass leave out the padding rows of a short last batch
/// ([`Layer::set_rows`]).
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::BatchNormalization;
///
/// // Two samples of two positions of two channels; ε = 11 makes the arithmetic exact.
/// let mut norm = BatchNormalization::<4, 2>::new().momentum(0.5).epsilon(11.0);
/// let x = [[0.0, 6.0, 2.0, 8.0], [4.0, 10.0, 6.0, 16.0]];
/// let mut y = [[0.0; 4]; 2];
/// let mut tape = norm.new_tape::<2>();
/// norm.set_training(&mut tape, true);
/// norm.forward(&x, &mut y, &mut tape);
/// // Channel 0 holds 0, 2, 4, 6: mean 3, variance 5, so x̂ = (x - 3) / √(5 + 11).
/// assert_eq!([y[0][0], y[0][2], y[1][0], y[1][2]], [-0.75, -0.25, 0.25, 0.75]);
///
/// // After the step, the moving statistics move half the way to the batch's.
/// norm.update_state(&tape, 0, 1);
/// assert_eq!(norm.moving_mean(), &[1.5, 5.0]); // 0.5 · 0 + 0.5 · 3, 0.5 · 0 + 0.5 · 10
/// assert_eq!(norm.moving_variance(), &[3.0, 7.5]); // 0.5 · 1 + 0.5 · 5, 0.5 · 1 + 0.5 · 14
/// ```
pub struct BatchNormalization<const N: usize, const C: usize, A = Linear> {
    affine: Affine<C>,
    moving_mean: Parameter<[f32; C]>,
    moving_variance: Parameter<[f32; C]>,
    momentum: f32,
    epsilon: f32,
    activation: PhantomData<A>,
}

/// What a [`BatchNormalization`] keeps between the passes of a batch: whether they train, how
/// many rows are samples, the statistics the last forward pass normalized with, and what its
/// activation keeps ([`Layer::kept`]: nothing, or the normalized values).
pub struct BatchNormalizationTape<const C: usize, const B: usize, K = ()> {
    /// Whether forward passes with this tape normalize with the batch's statistics.
    training: bool,
    /// How many rows of a batch are samples ([`Layer::set_rows`]); `usize::MAX` for all.
    rows: usize,
    /// Whether the last forward pass normalized with the batch's statistics.
    measured: bool,
    /// `μ` of the last forward pass: the batch's mean, or the moving mean.
    mean: Buffer<[f32; C]>,
    /// The batch's variance, after a training pass.
    variance: Buffer<[f32; C]>,
    /// `1 / √(σ² + ε)` of the last forward pass.
    inv_std: Buffer<[f32; C]>,
    /// `γ / √(σ² + ε)`: the normalization is `x · scale + shift`.
    scale: Buffer<[f32; C]>,
    /// `β - μ · scale`.
    shift: Buffer<[f32; C]>,
    /// Per-channel sums in `f64`: the statistics, and the backward pass's `Σ dz`, `Σ dz · x̂`.
    sums: Buffer<[[f64; C]; 2]>,
    /// Per-channel sums of one row in `f32`, then the backward pass's means of `dz`, `dz · x̂`.
    partial: Buffer<[[f32; C]; 2]>,
    /// What the activation keeps.
    kept: K,
}

impl<const C: usize, const B: usize, K> fmt::Debug for BatchNormalizationTape<C, B, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchNormalizationTape")
            .field("training", &self.training)
            .field("rows", &self.rows())
            .field("statistics", &self.statistics())
            .finish_non_exhaustive()
    }
}

impl<const C: usize, const B: usize, K> BatchNormalizationTape<C, B, K> {
    /// Whether forward passes with this tape normalize with the batch's statistics, as set by
    /// [`Layer::set_training`].
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The mean and biased variance of each channel that the last forward pass measured on
    /// its batch, if it trained.
    pub fn statistics(&self) -> Option<(&[f32; C], &[f32; C])> {
        self.measured.then_some((&*self.mean, &*self.variance))
    }

    /// The rows of the batch that are samples: at least one.
    fn rows(&self) -> usize {
        self.rows.clamp(1, B.max(1))
    }
}

impl<const N: usize, const C: usize, A> BatchNormalization<N, C, A> {
    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = assert!(
        C >= 1 && N >= C && N.is_multiple_of(C),
        "`BatchNormalization`: expected rows of N values in positions of C channels, N a multiple of C"
    );

    /// Keras' defaults: `γ = 1`, `β = 0`, a moving mean of 0 and a moving variance of 1,
    /// `momentum` 0.99 and `epsilon` 0.001.
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            affine: Affine::new(),
            moving_mean: Parameter::zeroed(),
            moving_variance: ones(),
            momentum: 0.99,
            epsilon: 1e-3,
            activation: PhantomData,
        }
    }

    /// A layer whose `γ`, `β` (either may be left out) and moving statistics are `static`s,
    /// borrowed rather than copied, as [`Dense::from_static`](super::Dense::from_static): how a
    /// program without a heap carries a trained network. With Keras' `momentum` and `epsilon`;
    /// set another `epsilon` with [`BatchNormalization::epsilon`], also a `const fn`.
    ///
    /// ```
    /// use netdsl_core::layer::Layer;
    /// use netdsl_core::layers::BatchNormalization;
    ///
    /// static GAMMA: [f32; 2] = [2.0, 1.0];
    /// static MEAN: [f32; 2] = [1.0, -1.0];
    /// static VARIANCE: [f32; 2] = [3.999, 0.999];
    /// static NORM: BatchNormalization<2, 2> =
    ///     BatchNormalization::from_static(Some(&GAMMA), None, &MEAN, &VARIANCE);
    ///
    /// let mut y = [0.0; 2];
    /// NORM.infer(&[3.0, 0.0], &mut y); // 2 · (3 - 1) / √4, (0 + 1) / √1
    /// assert_eq!(y, [2.0, 1.0]);
    /// ```
    pub const fn from_static(
        gamma: Option<&'static [f32; C]>,
        beta: Option<&'static [f32; C]>,
        moving_mean: &'static [f32; C],
        moving_variance: &'static [f32; C],
    ) -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            affine: Affine::from_static(gamma, beta),
            moving_mean: Parameter::from_static(moving_mean),
            moving_variance: Parameter::from_static(moving_variance),
            momentum: 0.99,
            epsilon: 1e-3,
            activation: PhantomData,
        }
    }

    /// With the moving statistics keeping `momentum` of themselves at each step.
    ///
    /// # Panics
    ///
    /// If `momentum` is not in `[0, 1)` (at 1 the statistics would never move).
    pub const fn momentum(mut self, momentum: f32) -> Self {
        assert!(
            momentum >= 0.0 && momentum < 1.0,
            "`BatchNormalization` momentum: expected a value in [0, 1)"
        );
        self.momentum = momentum;
        self
    }

    /// With `epsilon` added to the variance before its square root.
    ///
    /// # Panics
    ///
    /// If `epsilon` is not a finite value above 0.
    pub const fn epsilon(mut self, epsilon: f32) -> Self {
        assert!(
            epsilon > 0.0 && epsilon.is_finite(),
            "`BatchNormalization` epsilon: expected a finite value above 0"
        );
        self.epsilon = epsilon;
        self
    }

    /// With `β` (at 0), Keras' `center=True`, or without it.
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn center(mut self, center: bool) -> Self {
        self.affine.set_center(center);
        self
    }

    /// With `γ` (at 1), Keras' `scale=True`, or without it.
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn scale(mut self, scale: bool) -> Self {
        self.affine.set_scale(scale);
        self
    }

    /// `γ`, if the layer scales.
    pub fn gamma(&self) -> Option<&[f32; C]> {
        self.affine.gamma()
    }

    /// `β`, if the layer centers.
    pub fn beta(&self) -> Option<&[f32; C]> {
        self.affine.beta()
    }

    /// `γ`, mutably (copied to the heap first if it was a `static`).
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn gamma_mut(&mut self) -> Option<&mut [f32; C]> {
        self.affine.gamma_mut()
    }

    /// `β`, mutably (copied to the heap first if it was a `static`).
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn beta_mut(&mut self) -> Option<&mut [f32; C]> {
        self.affine.beta_mut()
    }

    /// The moving mean of each channel.
    pub fn moving_mean(&self) -> &[f32; C] {
        self.moving_mean.get()
    }

    /// The moving variance of each channel.
    pub fn moving_variance(&self) -> &[f32; C] {
        self.moving_variance.get()
    }

    /// The moving mean, mutably (copied to the heap first if it was a `static`).
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn moving_mean_mut(&mut self) -> &mut [f32; C] {
        self.moving_mean.make_mut()
    }

    /// The moving variance, mutably (copied to the heap first if it was a `static`).
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn moving_variance_mut(&mut self) -> &mut [f32; C] {
        self.moving_variance.make_mut()
    }
}

/// The mean and biased variance of each channel over every position of `rows`, into `mean`
/// (and, exactly, `sums`) and `variance`: the sum of the values as [`sum_rows`] sums, the
/// squared deviations from the mean in `f64`, value by value, since the variance's rounding
/// would show in every output, through `1 / σ`.
fn measure<const N: usize, const C: usize>(
    rows: &[[f32; N]],
    sums: &mut [f64; C],
    row: &mut [f32; C],
    mean: &mut [f32; C],
    variance: &mut [f64; C],
) {
    let count = (rows.len() * (N / C)) as f64;
    sum_rows(rows, sums, row, |row, x| {
        for (sum, &x) in row.iter_mut().zip(x) {
            *sum += x;
        }
    });
    sums.iter_mut().for_each(|sum| *sum /= count);
    for (mean, &exact) in mean.iter_mut().zip(sums.iter()) {
        *mean = exact as f32;
    }
    variance.fill(0.0);
    for position in rows.iter().flat_map(|x| x.chunks_exact(C)) {
        for ((sum, &x), &mean) in variance.iter_mut().zip(position).zip(sums.iter()) {
            let d = f64::from(x) - mean;
            *sum += d * d;
        }
    }
    variance.iter_mut().for_each(|v| *v /= count);
}

/// `sums = Σ_rows Σ_positions term(position)`, channel by channel: each row's sum in `f32`
/// (in `row`, which `term` adds a position to), the rows' in `f64`, so that the loops over the
/// values run on `f32` vectors, and a batch of many rows loses no precision.
#[inline]
fn sum_rows<const N: usize, const C: usize>(
    rows: &[[f32; N]],
    sums: &mut [f64; C],
    row: &mut [f32; C],
    term: impl Fn(&mut [f32; C], &[f32]),
) {
    sums.fill(0.0);
    for x in rows {
        row.fill(0.0);
        for position in x.chunks_exact(C) {
            term(row, position);
        }
        for (sum, &row) in sums.iter_mut().zip(row.iter()) {
            *sum += f64::from(row);
        }
    }
}

/// `Σ dz` and `Σ dz · x̂` of each channel over the rows `x` and `dz` (each of positions of `C`
/// channels), with `x̂ = (x - mean) · inv_std`, into `sum_dz` and `sum_dz_xhat`: summed as
/// [`sum_rows`] sums, each row's in `row_dz` and `row_dz_xhat` first.
fn gradient_sums<const N: usize, const C: usize>(
    x: &[[f32; N]],
    dz: &[[f32; N]],
    mean: &[f32; C],
    inv_std: &[f32; C],
    [sum_dz, sum_dz_xhat]: [&mut [f64; C]; 2],
    [row_dz, row_dz_xhat]: [&mut [f32; C]; 2],
) {
    sum_dz.fill(0.0);
    sum_dz_xhat.fill(0.0);
    for (x, dz) in x.iter().zip(dz) {
        row_dz.fill(0.0);
        row_dz_xhat.fill(0.0);
        for (x, dz) in x.chunks_exact(C).zip(dz.chunks_exact(C)) {
            let statistics = mean.iter().zip(inv_std);
            let sums = row_dz.iter_mut().zip(row_dz_xhat.iter_mut());
            for (((x, dz), (m, s)), (sum, sum_xhat)) in x.iter().zip(dz).zip(statistics).zip(sums) {
                let xhat = (x - m) * s;
                *sum += dz;
                *sum_xhat += dz * xhat;
            }
        }
        for (sums, row) in [(&mut *sum_dz, &*row_dz), (&mut *sum_dz_xhat, &*row_dz_xhat)] {
            for (sum, &row) in sums.iter_mut().zip(row.iter()) {
                *sum += f64::from(row);
            }
        }
    }
}

/// `y = x · scale + shift`, channel by channel at every position of a row.
#[inline]
fn normalize<const N: usize, const C: usize>(
    x: &[f32; N],
    y: &mut [f32; N],
    scale: &[f32],
    shift: &[f32],
) {
    for (y, x) in y.chunks_exact_mut(C).zip(x.chunks_exact(C)) {
        for (((y, &x), &scale), &shift) in y.iter_mut().zip(x).zip(scale).zip(shift) {
            *y = x * scale + shift;
        }
    }
}

impl<const N: usize, const C: usize, A: Activation> Layer for BatchNormalization<N, C, A> {
    type In = [f32; N];
    type Out = [f32; N];
    type Activation = A;
    type Grads = NormalizationGrads<C>;
    type Tape<const B: usize> = BatchNormalizationTape<C, B, Kept<A, [f32; N], B>>;

    const KIND: &'static str = "BatchNormalization";

    fn new_tape<const B: usize>(&self) -> Self::Tape<B> {
        BatchNormalizationTape {
            training: false,
            rows: usize::MAX,
            measured: false,
            mean: Buffer::zeroed(),
            variance: Buffer::zeroed(),
            inv_std: Buffer::zeroed(),
            scale: Buffer::zeroed(),
            shift: Buffer::zeroed(),
            sums: Buffer::zeroed(),
            partial: Buffer::zeroed(),
            kept: A::Keeps::new_batch(),
        }
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; N]; B],
        y: &mut [[f32; N]; B],
        tape: &mut Self::Tape<B>,
    ) {
        tape.measured = tape.training;
        if tape.training {
            let rows = tape.rows();
            let [sums, variance] = &mut *tape.sums;
            measure(
                &x[..rows],
                sums,
                &mut tape.partial[0],
                &mut tape.mean,
                variance,
            );
            let batch = tape.variance.iter_mut().zip(tape.inv_std.iter_mut());
            for ((batch, inv_std), &variance) in batch.zip(variance.iter()) {
                *batch = variance as f32;
                *inv_std = inverse_std(variance, self.epsilon);
            }
        } else {
            let variance = self.moving_variance.get();
            tape.mean.copy_from_slice(self.moving_mean.get());
            for (inv_std, &variance) in tape.inv_std.iter_mut().zip(variance) {
                *inv_std = inverse_std(f64::from(variance), self.epsilon);
            }
        }
        for c in 0..C {
            (tape.scale[c], tape.shift[c]) =
                self.affine.coefficients(c, tape.mean[c], tape.inv_std[c]);
        }
        for (y, x) in y.iter_mut().zip(x) {
            normalize::<N, C>(x, y, &*tape.scale, &*tape.shift);
        }
        A::apply_batch(y, &mut tape.kept);
    }

    fn kept<const B: usize>(tape: &Self::Tape<B>) -> &Kept<A, [f32; N], B> {
        &tape.kept
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; N]; B],
        dz: &[[f32; N]; B],
        dx: Option<&mut [[f32; N]; B]>,
        grads: &mut NormalizationGrads<C>,
        tape: &mut Self::Tape<B>,
    ) {
        let rows = if tape.measured { tape.rows() } else { B };
        let (mean, inv_std, scale) = (&*tape.mean, &*tape.inv_std, &*tape.scale);
        let [sum_dz, sum_dz_xhat] = &mut *tape.sums;
        let [row_dz, row_dz_xhat] = &mut *tape.partial;
        gradient_sums(
            &x[..rows],
            &dz[..rows],
            mean,
            inv_std,
            [sum_dz, sum_dz_xhat],
            [row_dz, row_dz_xhat],
        );
        let (dgamma, dbeta) = grads.parts_mut();
        if let Some(dgamma) = dgamma {
            for (g, &sum) in dgamma.iter_mut().zip(sum_dz_xhat.iter()) {
                *g = sum as f32;
            }
        }
        if let Some(dbeta) = dbeta {
            for (g, &sum) in dbeta.iter_mut().zip(sum_dz.iter()) {
                *g = sum as f32;
            }
        }
        let Some(dx) = dx else { return };
        if !tape.measured {
            // Fixed statistics: an affine map of each value.
            for (dx, dz) in dx.iter_mut().zip(dz) {
                for (dx, dz) in dx.chunks_exact_mut(C).zip(dz.chunks_exact(C)) {
                    for ((dx, dz), k) in dx.iter_mut().zip(dz).zip(scale) {
                        *dx = dz * k;
                    }
                }
            }
            return;
        }
        // The means of dz and of dz · x̂ over the channel's values, in f32 for the loop below.
        let n = (rows * (N / C)) as f64;
        let (mean_dz, mean_dz_xhat) = (row_dz, row_dz_xhat);
        for (mean, &sum) in mean_dz.iter_mut().zip(sum_dz.iter()) {
            *mean = (sum / n) as f32;
        }
        for (mean, &sum) in mean_dz_xhat.iter_mut().zip(sum_dz_xhat.iter()) {
            *mean = (sum / n) as f32;
        }
        for (b, (dx, (x, dz))) in dx.iter_mut().zip(x.iter().zip(dz)).enumerate() {
            if b >= rows {
                // Padding: no sample of it reached the statistics.
                dx.fill(0.0);
                continue;
            }
            for ((dx, x), dz) in dx
                .chunks_exact_mut(C)
                .zip(x.chunks_exact(C))
                .zip(dz.chunks_exact(C))
            {
                let statistics = mean.iter().zip(inv_std).zip(scale);
                let means = mean_dz.iter().zip(mean_dz_xhat.iter());
                for ((((dx, x), dz), ((m, s), k)), (mean_dz, mean_dz_xhat)) in
                    dx.iter_mut().zip(x).zip(dz).zip(statistics).zip(means)
                {
                    let xhat = (x - m) * s;
                    *dx = k * (dz - mean_dz - xhat * mean_dz_xhat);
                }
            }
        }
    }

    /// One sample, normalized with the moving statistics.
    fn infer(&self, x: &[f32; N], y: &mut [f32; N]) {
        // The coefficients of a block of channels at a time, so that the stack holds a block,
        // not all `C`.
        const BLOCK: usize = 64;
        let (mean, variance) = (self.moving_mean.get(), self.moving_variance.get());
        for start in (0..C).step_by(BLOCK) {
            let end = (start + BLOCK).min(C);
            let (mut scale, mut shift) = ([0.0; BLOCK], [0.0; BLOCK]);
            for c in start..end {
                let inv_std = inverse_std(f64::from(variance[c]), self.epsilon);
                (scale[c - start], shift[c - start]) =
                    self.affine.coefficients(c, mean[c], inv_std);
            }
            for (y, x) in y.chunks_exact_mut(C).zip(x.chunks_exact(C)) {
                let coefficients = scale.iter().zip(&shift);
                for ((y, &x), (&scale, &shift)) in y[start..end]
                    .iter_mut()
                    .zip(&x[start..end])
                    .zip(coefficients)
                {
                    *y = x * scale + shift;
                }
            }
        }
        A::apply(y);
    }

    fn set_training<const B: usize>(&self, tape: &mut Self::Tape<B>, training: bool) {
        tape.training = training;
    }

    fn set_rows<const B: usize>(&self, tape: &mut Self::Tape<B>, rows: usize) {
        tape.rows = rows;
    }

    /// `moving = moving · momentum + batch · (1 - momentum)`, the batch's statistics being the
    /// mean of the `threads` tapes' (see [`Layer::update_state`]).
    fn update_state<const B: usize>(
        &mut self,
        tape: &Self::Tape<B>,
        thread: usize,
        threads: usize,
    ) {
        let Some((mean, variance)) = tape.statistics() else {
            return;
        };
        let momentum = self.momentum;
        let share = (1.0 - momentum) / threads.max(1) as f32;
        let moving = [&mut self.moving_mean, &mut self.moving_variance];
        for (moving, batch) in moving.into_iter().zip([mean, variance]) {
            let Some(moving) = moving.get_mut() else {
                continue;
            };
            for (moving, &batch) in moving.iter_mut().zip(batch) {
                if thread == 0 {
                    *moving *= momentum;
                }
                *moving += batch * share;
            }
        }
    }

    fn new_grads(&self) -> NormalizationGrads<C> {
        self.affine.new_grads()
    }

    fn parameter_count(&self) -> usize {
        self.affine.count()
    }

    /// The moving mean and variance: `2 · C`.
    fn non_trainable_count(&self) -> usize {
        2 * C
    }

    fn visit_non_trainable(&mut self, visit: &mut dyn FnMut(&mut [f32])) {
        for moving in [&mut self.moving_mean, &mut self.moving_variance] {
            if let Some(moving) = moving.get_mut() {
                visit(moving);
            }
        }
    }

    fn visit_parameters(
        &mut self,
        grads: &mut NormalizationGrads<C>,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        self.affine.visit_parameters(grads, visit);
    }

    fn visit_gradients(
        grads: &mut NormalizationGrads<C>,
        visit: &mut dyn FnMut(&mut [f32]),
    ) -> bool {
        Affine::<C>::visit_gradients(grads, visit)
    }

    /// `gamma`, `beta`, `moving_mean` and `moving_variance`, each of shape `[C]`, as Keras
    /// names and saves them.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        self.affine.visit_tensors(visit);
        visit("moving_mean", &[C], self.moving_mean.get());
        visit("moving_variance", &[C], self.moving_variance.get());
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        self.affine.visit_tensors_mut(visit);
        if let Some(mean) = self.moving_mean.get_mut() {
            visit("moving_mean", &[C], mean);
        }
        if let Some(variance) = self.moving_variance.get_mut() {
            visit("moving_variance", &[C], variance);
        }
    }

    /// `x · scale + shift` along the channels (the last axis), with the coefficients
    /// [`Layer::infer`] works out from the moving statistics, then the activation.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = if x.shape.last() == Some(&C) {
            x
        } else {
            graph.reshape(x, &[N / C, C])
        };
        let (mean, variance) = (self.moving_mean.get(), self.moving_variance.get());
        let (scale, shift): (Vec<f32>, Vec<f32>) = (0..C)
            .map(|c| {
                let inv_std = inverse_std(f64::from(variance[c]), self.epsilon);
                self.affine.coefficients(c, mean[c], inv_std)
            })
            .unzip();
        let scale = graph.initializer("scale", &[C], scale);
        let shift = graph.initializer("shift", &[C], shift);
        let shape = x.shape.clone();
        let scaled = graph.node("Mul", &[&x.name, &scale], Vec::new(), shape.clone());
        let z = graph.node("Add", &[&scaled.name, &shift], Vec::new(), shape);
        graph.activation(A::NAME, z)
    }
}

#[cfg(feature = "alloc")]
impl<const N: usize, const C: usize, A> Initialize for BatchNormalization<N, C, A> {
    /// Keras' defaults ([`BatchNormalization::new`]); nothing is drawn.
    fn initialize<R: Rng + ?Sized>(_rng: &mut R) -> Self {
        Self::new()
    }
}

impl<const N: usize, const C: usize, A> Clone for BatchNormalization<N, C, A> {
    /// Owned tensors are copied; `static` ones stay borrowed.
    fn clone(&self) -> Self {
        Self {
            affine: self.affine.clone(),
            moving_mean: self.moving_mean.clone(),
            moving_variance: self.moving_variance.clone(),
            momentum: self.momentum,
            epsilon: self.epsilon,
            activation: PhantomData,
        }
    }
}

impl<const N: usize, const C: usize, A: Activation> fmt::Debug for BatchNormalization<N, C, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchNormalization")
            .field("values", &N)
            .field("channels", &C)
            .field("momentum", &self.momentum)
            .field("epsilon", &self.epsilon)
            .field("center", &self.beta().is_some())
            .field("scale", &self.gamma().is_some())
            .field("activation", &A::NAME)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::activation::{Relu, Tanh};
    use crate::layers::gradcheck::{check_gradients, check_normalization, values};

    /// Two channels, `γ = (2, -1)`, `β = (0.5, 1)`, `ε = 11`, momentum 0.9.
    fn layer() -> BatchNormalization<4, 2> {
        let mut norm = BatchNormalization::new().momentum(0.9).epsilon(11.0);
        norm.gamma_mut().unwrap().copy_from_slice(&[2.0, -1.0]);
        norm.beta_mut().unwrap().copy_from_slice(&[0.5, 1.0]);
        norm
    }

    /// Two samples of two positions: channel 0 holds 0, 2, 4, 6 (mean 3, variance 5, so
    /// `1 / √(5 + 11) = 0.25`), channel 1 holds 6, 8, 10, 16 (mean 10, variance 14, `0.2`).
    const X: [[f32; 4]; 2] = [[0.0, 6.0, 2.0, 8.0], [4.0, 10.0, 6.0, 16.0]];
    const DZ: [[f32; 4]; 2] = [[1.0, 0.0, 2.0, 1.0], [0.0, 1.0, -1.0, 2.0]];

    fn assert_near<const N: usize, const B: usize>(
        found: &[[f32; N]; B],
        expected: &[[f32; N]; B],
    ) {
        let pairs = found.as_flattened().iter().zip(expected.as_flattened());
        for (k, (a, e)) in pairs.enumerate() {
            assert!(
                (a - e).abs() <= 1e-6,
                "value {k}: {a}, expected {e}: {found:?}"
            );
        }
    }

    #[test]
    fn training_normalizes_each_channel_over_the_batch_and_its_positions() {
        let norm = layer();
        let mut tape = norm.new_tape::<2>();
        norm.set_training(&mut tape, true);
        let mut y = [[0.0; 4]; 2];
        norm.forward(&X, &mut y, &mut tape);
        // x̂₀ = (-0.75, -0.25, 0.25, 0.75), x̂₁ = (-0.8, -0.4, 0, 1.2); y = γ x̂ + β.
        assert_near(&y, &[[-1.0, 1.8, 0.0, 1.4], [1.0, 1.0, 2.0, -0.2]]);
        assert_eq!(tape.statistics(), Some((&[3.0, 10.0], &[5.0, 14.0])));
    }

    #[test]
    fn training_backward_of_literal_values() {
        let norm = layer();
        let mut tape = norm.new_tape::<2>();
        norm.set_training(&mut tape, true);
        norm.forward(&X, &mut [[0.0; 4]; 2], &mut tape);
        let (mut dx, mut grads) = ([[9.0; 4]; 2], norm.new_grads());
        norm.backward(&X, &DZ, Some(&mut dx), &mut grads, &mut tape);
        // dγ = Σ dz x̂, dβ = Σ dz.
        assert_eq!(grads.gamma(), Some(&[-2.0, 2.0]));
        assert_eq!(grads.beta(), Some(&[2.0, 4.0]));
        // Channel 0: 0.5 (dz - 0.5 + 0.5 x̂); channel 1: -0.2 (dz - 1 - 0.5 x̂). Each sums to 0.
        assert_near(
            &dx,
            &[
                [0.0625, 0.12, 0.6875, -0.04],
                [-0.1875, 0.0, -0.5625, -0.08],
            ],
        );
    }

    #[test]
    fn outside_training_the_moving_statistics_normalize() {
        let mut norm = layer();
        norm.moving_mean_mut().copy_from_slice(&[1.0, 2.0]);
        norm.moving_variance_mut().copy_from_slice(&[5.0, 14.0]);
        let mut tape = norm.new_tape::<2>();
        let mut y = [[0.0; 4]; 2];
        norm.forward(&X, &mut y, &mut tape);
        // x̂₀ = (x - 1) / 4, x̂₁ = (x - 2) / 5.
        let expected = [[0.0, 0.2, 1.0, -0.2], [2.0, -0.6, 3.0, -1.8]];
        assert_near(&y, &expected);
        assert_eq!(tape.statistics(), None);
        for (x, expected) in X.iter().zip(&expected) {
            let mut single = [0.0; 4];
            norm.infer(x, &mut single);
            assert_near(&[single], &[*expected]);
        }

        // Fixed statistics: dx = γ / √(σ² + ε) · dz.
        let (mut dx, mut grads) = ([[9.0; 4]; 2], norm.new_grads());
        norm.backward(&X, &DZ, Some(&mut dx), &mut grads, &mut tape);
        assert_near(&dx, &[[0.5, 0.0, 1.0, -0.2], [0.0, -0.2, -0.5, -0.4]]);
        let dgamma = grads.gamma().unwrap();
        assert!(
            (dgamma[0] + 1.0).abs() < 1e-6 && (dgamma[1] - 8.4).abs() < 1e-5,
            "{dgamma:?}"
        );
        assert_eq!(grads.beta(), Some(&[2.0, 4.0]));
        // Nothing was measured, so nothing moves.
        norm.update_state(&tape, 0, 1);
        assert_eq!(norm.moving_mean(), &[1.0, 2.0]);
    }

    #[test]
    fn a_step_moves_the_moving_statistics_by_momentum() {
        let mut norm = layer();
        let mut tape = norm.new_tape::<2>();
        norm.set_training(&mut tape, true);
        norm.forward(&X, &mut [[0.0; 4]; 2], &mut tape);
        norm.update_state(&tape, 0, 1);
        // moving = moving · 0.9 + batch · 0.1, from 0 and 1.
        assert_near(&[*norm.moving_mean()], &[[0.3, 1.0]]);
        assert_near(&[*norm.moving_variance()], &[[1.4, 2.3]]);
    }

    #[test]
    fn threads_move_the_statistics_by_the_mean_of_theirs() {
        let mut norm = layer();
        let (mut first, mut second) = (norm.new_tape::<2>(), norm.new_tape::<2>());
        norm.set_training(&mut first, true);
        norm.set_training(&mut second, true);
        norm.forward(&X, &mut [[0.0; 4]; 2], &mut first);
        let other = [[2.0, 0.0, 2.0, 0.0], [2.0, 4.0, 2.0, 4.0]]; // means 2, 2; variances 0, 4
        norm.forward(&other, &mut [[0.0; 4]; 2], &mut second);
        norm.update_state(&first, 0, 2);
        norm.update_state(&second, 1, 2);
        // moving = 0.9 moving + 0.1 · the mean of (3, 10) and (2, 2), of (5, 14) and (0, 4).
        assert_near(&[*norm.moving_mean()], &[[0.25, 0.6]]);
        assert_near(&[*norm.moving_variance()], &[[1.15, 1.8]]);
    }

    #[test]
    fn padding_rows_stay_out_of_the_statistics_and_get_no_gradient() {
        let norm = layer();
        let three = [X[0], X[1], [1.0, 2.0, 3.0, 4.0]];
        let padded = [three[0], three[1], three[2], [1e6, -1e6, 7.0, 3.0]];
        let (mut tape3, mut tape4) = (norm.new_tape::<3>(), norm.new_tape::<4>());
        norm.set_training(&mut tape3, true);
        norm.set_training(&mut tape4, true);
        norm.set_rows(&mut tape4, 3);
        let (mut y3, mut y4) = ([[0.0; 4]; 3], [[0.0; 4]; 4]);
        norm.forward(&three, &mut y3, &mut tape3);
        norm.forward(&padded, &mut y4, &mut tape4);
        assert_eq!(y3[..], y4[..3]);
        assert_eq!(tape3.statistics(), tape4.statistics());

        let dz3 = [DZ[0], DZ[1], [0.5, -0.5, 0.25, 1.0]];
        let dz4 = [dz3[0], dz3[1], dz3[2], [0.0; 4]];
        let (mut dx3, mut dx4) = ([[0.0; 4]; 3], [[9.0; 4]; 4]);
        let (mut grads3, mut grads4) = (norm.new_grads(), norm.new_grads());
        norm.backward(&three, &dz3, Some(&mut dx3), &mut grads3, &mut tape3);
        norm.backward(&padded, &dz4, Some(&mut dx4), &mut grads4, &mut tape4);
        assert_eq!(dx3[..], dx4[..3]);
        assert_eq!(dx4[3], [0.0; 4], "the padding gets no gradient");
        assert_eq!(grads3.gamma(), grads4.gamma());
        assert_eq!(grads3.beta(), grads4.beta());
    }

    /// Batch normalization while training, then tanh, in `f64`: `x` holds positions of
    /// `gamma.len()` channels.
    fn reference(x: &[f64], gamma: &[f64], beta: &[f64]) -> Vec<f64> {
        let channels = gamma.len();
        let n = (x.len() / channels) as f64;
        let mut y = x.to_vec();
        for c in 0..channels {
            let values = || x.iter().skip(c).step_by(channels);
            let mean = values().sum::<f64>() / n;
            let variance = values().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
            for y in y.iter_mut().skip(c).step_by(channels) {
                *y = (gamma[c] * (*y - mean) / (variance + 1e-3).sqrt() + beta[c]).tanh();
            }
        }
        y
    }

    #[test]
    fn training_backward_matches_f64_finite_differences() {
        // Three images of 3 × 2 pixels of 3 channels, through a tanh. The statistics couple
        // every value of a channel, so that f32 differences would measure rounding.
        let mut norm = BatchNormalization::<18, 3, Tanh>::new();
        norm.gamma_mut()
            .unwrap()
            .copy_from_slice(&[1.5, -0.5, 0.75]);
        norm.beta_mut().unwrap().copy_from_slice(&[0.1, -0.2, 0.3]);
        let mut tape = norm.new_tape::<3>();
        norm.set_training(&mut tape, true);
        let (x, c) = (values::<[f32; 18], 3>(1), values::<[f32; 18], 3>(2));
        check_normalization(&norm, &x, &c, &mut tape, &reference);
    }

    #[test]
    fn inference_backward_matches_finite_differences() {
        let mut norm = BatchNormalization::<6, 3, Relu>::new();
        norm.moving_mean_mut().copy_from_slice(&[0.2, -0.1, 0.05]);
        norm.moving_variance_mut()
            .copy_from_slice(&[0.5, 2.0, 1.25]);
        norm.gamma_mut()
            .unwrap()
            .copy_from_slice(&[1.5, -0.5, 0.75]);
        let mut tape = norm.new_tape::<2>();
        let c = values::<[f32; 6], 2>(4);
        check_gradients(&mut norm, &values(3), &c, &mut tape);
    }

    #[test]
    fn without_center_and_scale_it_only_normalizes() {
        let norm = BatchNormalization::<4, 2>::new()
            .epsilon(11.0)
            .center(false)
            .scale(false);
        assert_eq!((norm.gamma(), norm.beta()), (None, None));
        assert_eq!((norm.parameter_count(), norm.non_trainable_count()), (0, 4));
        let mut tape = norm.new_tape::<2>();
        norm.set_training(&mut tape, true);
        let mut y = [[0.0; 4]; 2];
        norm.forward(&X, &mut y, &mut tape);
        assert_near(&y, &[[-0.75, -0.8, -0.25, -0.4], [0.25, 0.0, 0.75, 1.2]]);
        let mut grads = norm.new_grads();
        assert_eq!((grads.gamma(), grads.beta()), (None, None));
        norm.backward(&X, &DZ, None, &mut grads, &mut tape);
    }

    #[test]
    fn optimizers_see_gamma_and_beta_and_files_every_tensor() {
        let mut norm = layer();
        assert_eq!((norm.parameter_count(), norm.non_trainable_count()), (4, 4));
        let mut grads = norm.new_grads();
        let mut trainable = Vec::new();
        norm.visit_parameters(&mut grads, &mut |p, _| trainable.push(p.to_vec()));
        assert_eq!(trainable, [vec![2.0, -1.0], vec![0.5, 1.0]]);
        let mut kept = Vec::new();
        norm.visit_non_trainable(&mut |t| kept.push(t.to_vec()));
        assert_eq!(kept, [vec![0.0, 0.0], vec![1.0, 1.0]]);
        let mut names = Vec::new();
        norm.visit_tensors(&mut |name, shape, _| names.push(format!("{name}{shape:?}")));
        assert_eq!(
            names,
            [
                "gamma[2]",
                "beta[2]",
                "moving_mean[2]",
                "moving_variance[2]"
            ]
        );
        let mut gradients = 0;
        let all = BatchNormalization::<4, 2>::visit_gradients(&mut grads, &mut |_| gradients += 1);
        assert!(all && gradients == 2);
    }

    #[test]
    #[should_panic(expected = "momentum: expected a value in [0, 1)")]
    fn a_momentum_of_one_is_rejected() {
        let _ = BatchNormalization::<4, 2>::new().momentum(1.0);
    }

    #[test]
    #[should_panic(expected = "epsilon: expected a finite value above 0")]
    fn an_epsilon_of_zero_is_rejected() {
        let _ = BatchNormalization::<4, 2>::new().epsilon(0.0);
    }
}
