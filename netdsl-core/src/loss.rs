//! Loss functions, each fused with the output activation it is meant for.
//!
//! A [`Loss`] gives the per-sample loss and `dL/dz`, the gradient with respect to the output
//! layer's *pre-activation*, where the network's backward pass starts. Pairing a loss with an
//! activation it does not fit (categorical cross-entropy after a sigmoid, say) does not compile.
//!
//! | output activation | losses |
//! |---|---|
//! | `softmax` | [`CategoricalCrossentropy`], [`SparseCategoricalCrossentropy`] (fused: `y - t`) |
//! | `sigmoid` | [`BinaryCrossentropy`] (fused: `(y - t) / N`) |
//! | `linear` (logits) | [`CategoricalCrossentropyFromLogits`] (fused) |
//! | `log_softmax` (log-probabilities) | [`CategoricalCrossentropyFromLogits`] (fused: softmax ignores the shift, so `e^y - t`) |
//! | any | [`MeanSquaredError`], [`MeanAbsoluteError`], [`Huber`], through the activation's own backward |
//!
//! Categorical cross-entropy after `log_softmax` does not compile: it would take the
//! logarithm of a logarithm, the mistake PyTorch users meet as `NLLLoss` after `softmax`.

#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

use crate::activation::{
    Activation, Keep, Kept, KeptRow, Linear, LogSoftmax, Sigmoid, Softmax, log_sum_exp,
};
use crate::metrics;

/// Probabilities are clipped to `[EPSILON, 1 - EPSILON]` inside logarithms, as Keras does.
pub const EPSILON: f32 = 1e-7;

/// A loss for a network whose output layer ends with activation `A`.
#[diagnostic::on_unimplemented(
    message = "the loss `{Self}` does not fit an output layer with activation `{A}`",
    label = "this loss needs another output activation",
    note = "`CategoricalCrossentropy` needs a `softmax` output (`CategoricalCrossentropyFromLogits` a `linear` or `log_softmax` one), `BinaryCrossentropy` a `sigmoid` output; `MeanSquaredError` fits any"
)]
pub trait Loss<A: Activation> {
    /// The name Keras gives this loss.
    const NAME: &'static str;

    /// The loss of one sample with output `y` and target `t`.
    fn loss<const N: usize>(&self, y: &[f32; N], t: &[f32; N]) -> f32;

    /// Writes `scale · dL/dz` for one sample into `dz`, where `z` is the output layer's
    /// pre-activation, from its output `y`, what the activation kept of the sample for its
    /// backward pass (`&()` but for activations whose derivative reads their inputs, see
    /// [`Keep`]) and the target `t`. The trainer passes `scale = 1 / batch size` to average
    /// over the batch.
    fn delta<const N: usize>(
        &self,
        y: &[f32; N],
        kept: &KeptRow<A, [f32; N]>,
        t: &[f32; N],
        scale: f32,
        dz: &mut [f32; N],
    );

    /// [`Loss::delta`] for the first `rows` samples of a batch, from the network's outputs and
    /// what [`Layer::kept`](crate::layer::Layer::kept) returns; the rows after them get a zero
    /// gradient. A training step's loss gradient.
    fn deltas<const N: usize, const B: usize>(
        &self,
        y: &[[f32; N]; B],
        kept: &Kept<A, [f32; N], B>,
        t: &[[f32; N]; B],
        rows: usize,
        scale: f32,
        dz: &mut [[f32; N]; B],
    ) {
        for (b, ((y, t), dz)) in y.iter().zip(t).zip(dz).enumerate() {
            if b < rows {
                self.delta(y, A::Keeps::row(kept, b), t, scale, dz);
            } else {
                dz.fill(0.0);
            }
        }
    }

    /// Whether accuracy means something for this loss: yes for the classification losses, no
    /// for the regression ones ([`MeanSquaredError`], [`MeanAbsoluteError`], [`Huber`]), whose
    /// targets are values, not classes. `fit` and `evaluate` report accuracy only when it does,
    /// as Keras reports only the metrics a model was compiled with.
    const ACCURACY: bool = true;

    /// Whether the prediction `y` counts as correct for target `t`, the way Keras resolves
    /// `metrics=["accuracy"]`: a 0.5 threshold for one output, the arg-max otherwise.
    fn is_correct<const N: usize>(&self, y: &[f32; N], t: &[f32; N]) -> bool {
        if N == 1 {
            metrics::binary_hit(y[0], t[0])
        } else {
            metrics::categorical_hit(y, t)
        }
    }
}

/// Mean squared error, as Keras defines it: `L = (1/N) Σ_i (y_i - t_i)²` over the `N` outputs.
///
/// `dL/dy_i = 2 (y_i - t_i) / N`, then the output activation's own derivative. Textbook
/// backpropagation uses `E = ½ Σ_i (y_i - t_i)²` instead, whose gradient is `y_i - t_i`: the two
/// differ by the constant factor `2 / N`, which only rescales the learning rate.
#[derive(Clone, Copy, Debug, Default)]
pub struct MeanSquaredError;

impl<A: Activation> Loss<A> for MeanSquaredError {
    const NAME: &'static str = "mean_squared_error";
    const ACCURACY: bool = false;

    fn loss<const N: usize>(&self, y: &[f32; N], t: &[f32; N]) -> f32 {
        y.iter().zip(t).map(|(y, t)| (y - t) * (y - t)).sum::<f32>() / N as f32
    }

    fn delta<const N: usize>(
        &self,
        y: &[f32; N],
        kept: &KeptRow<A, [f32; N]>,
        t: &[f32; N],
        scale: f32,
        dz: &mut [f32; N],
    ) {
        let factor = 2.0 * scale / N as f32;
        for ((d, y), t) in dz.iter_mut().zip(y).zip(t) {
            *d = factor * (y - t);
        }
        A::backprop(A::Keeps::read::<[f32; N]>(y, kept), dz);
    }
}

/// Categorical cross-entropy after a softmax: `L = -Σ_i t_i ln y_i`.
///
/// Fused with the softmax, `dL/dz_i = y_i Σ_j t_j - t_i`, which is `y - t` for one-hot targets:
/// no division by a small probability ever happens.
#[derive(Clone, Copy, Debug, Default)]
pub struct CategoricalCrossentropy;

impl Loss<Softmax> for CategoricalCrossentropy {
    const NAME: &'static str = "categorical_crossentropy";

    fn loss<const N: usize>(&self, y: &[f32; N], t: &[f32; N]) -> f32 {
        // A class of target 0 adds nothing, so its logarithm is not taken: one of ten for a
        // one-hot target. (A NaN among a softmax's outputs makes them all NaN, the target's
        // class's too, so the loss still says so.)
        -y.iter()
            .zip(t)
            .map(|(y, &t)| {
                if t == 0.0 {
                    0.0
                } else {
                    t * y.clamp(EPSILON, 1.0 - EPSILON).ln()
                }
            })
            .sum::<f32>()
    }

    fn delta<const N: usize>(
        &self,
        y: &[f32; N],
        _kept: &(),
        t: &[f32; N],
        scale: f32,
        dz: &mut [f32; N],
    ) {
        let t_sum: f32 = t.iter().sum();
        for ((d, y), t) in dz.iter_mut().zip(y).zip(t) {
            *d = scale * (y * t_sum - t);
        }
    }
}

/// Categorical cross-entropy on logits, after a `linear` output layer, as Keras'
/// `CategoricalCrossentropy(from_logits=True)`: `L = -Σ_i t_i ln softmax(z)_i`, computed as
/// `Σ_i t_i (logsumexp(z) - z_i)` so that no probability is rounded to zero.
///
/// `dL/dz_i = softmax(z)_i Σ_j t_j - t_i`: the softmax is part of the loss, and the network
/// outputs logits (`predict` gives scores whose arg-max is the class).
///
/// It also follows a `log_softmax` output, whose log-probabilities `y = z - logsumexp(z)` are
/// logits too: the softmax of `y` is the softmax of `z`, so the loss is the same, and
/// `dL/dz_i = e^(y_i) Σ_j t_j - t_i` with respect to the `log_softmax`'s own input, as Keras
/// computes `CategoricalCrossentropy(from_logits=True)` after `activation="log_softmax"`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CategoricalCrossentropyFromLogits;

impl CategoricalCrossentropyFromLogits {
    /// `Σ_i t_i (logsumexp(z) - z_i)`.
    fn from_logits<const N: usize>(z: &[f32; N], t: &[f32; N]) -> f32 {
        let (max, log_sum) = log_sum_exp(z);
        z.iter().zip(t).map(|(z, t)| t * (max + log_sum - z)).sum()
    }

    /// `scale · (softmax(z) Σ t - t)` into `dz`.
    fn delta_from_logits<const N: usize>(
        z: &[f32; N],
        t: &[f32; N],
        scale: f32,
        dz: &mut [f32; N],
    ) {
        let (max, log_sum) = log_sum_exp(z);
        let t_sum: f32 = t.iter().sum();
        for ((d, z), t) in dz.iter_mut().zip(z).zip(t) {
            *d = scale * ((z - max - log_sum).exp() * t_sum - t);
        }
    }
}

impl Loss<Linear> for CategoricalCrossentropyFromLogits {
    const NAME: &'static str = "categorical_crossentropy_from_logits";

    fn loss<const N: usize>(&self, z: &[f32; N], t: &[f32; N]) -> f32 {
        Self::from_logits(z, t)
    }

    fn delta<const N: usize>(
        &self,
        z: &[f32; N],
        _kept: &(),
        t: &[f32; N],
        scale: f32,
        dz: &mut [f32; N],
    ) {
        Self::delta_from_logits(z, t, scale, dz);
    }
}

impl Loss<LogSoftmax> for CategoricalCrossentropyFromLogits {
    const NAME: &'static str = "categorical_crossentropy_from_logits";

    /// The log-probabilities' own logsumexp is 0 but for rounding, which this keeps, as Keras
    /// does.
    fn loss<const N: usize>(&self, y: &[f32; N], t: &[f32; N]) -> f32 {
        Self::from_logits(y, t)
    }

    fn delta<const N: usize>(
        &self,
        y: &[f32; N],
        _kept: &(),
        t: &[f32; N],
        scale: f32,
        dz: &mut [f32; N],
    ) {
        Self::delta_from_logits(y, t, scale, dz);
    }
}

/// Sparse categorical cross-entropy, Keras' loss for integer labels: `L = -ln y_c`, `c` the
/// target class, after a softmax.
///
/// netdsl datasets built from class indices ([`crate::data::Dataset::from_classes`], MNIST) keep
/// the indices and one-hot encode a batch only as it is gathered, so no one-hot copy of the
/// dataset is ever made; this loss then reads the class back and costs one logarithm per
/// sample. Fused with the softmax, `dL/dz = y - onehot(c)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SparseCategoricalCrossentropy;

impl Loss<Softmax> for SparseCategoricalCrossentropy {
    const NAME: &'static str = "sparse_categorical_crossentropy";

    fn loss<const N: usize>(&self, y: &[f32; N], t: &[f32; N]) -> f32 {
        -y[metrics::argmax(t)].clamp(EPSILON, 1.0 - EPSILON).ln()
    }

    fn delta<const N: usize>(
        &self,
        y: &[f32; N],
        _kept: &(),
        t: &[f32; N],
        scale: f32,
        dz: &mut [f32; N],
    ) {
        let class = metrics::argmax(t);
        for (i, (d, y)) in dz.iter_mut().zip(y).enumerate() {
            *d = scale * (y - if i == class { 1.0 } else { 0.0 });
        }
    }
}

/// Mean absolute error, as Keras defines it: `L = (1/N) Σ_i |y_i - t_i|`.
///
/// `dL/dy_i = sign(y_i - t_i) / N` (0 where they are equal), then the output activation's own
/// derivative.
#[derive(Clone, Copy, Debug, Default)]
pub struct MeanAbsoluteError;

impl<A: Activation> Loss<A> for MeanAbsoluteError {
    const NAME: &'static str = "mean_absolute_error";
    const ACCURACY: bool = false;

    fn loss<const N: usize>(&self, y: &[f32; N], t: &[f32; N]) -> f32 {
        y.iter().zip(t).map(|(y, t)| (y - t).abs()).sum::<f32>() / N as f32
    }

    fn delta<const N: usize>(
        &self,
        y: &[f32; N],
        kept: &KeptRow<A, [f32; N]>,
        t: &[f32; N],
        scale: f32,
        dz: &mut [f32; N],
    ) {
        let factor = scale / N as f32;
        for ((d, y), t) in dz.iter_mut().zip(y).zip(t) {
            let e = y - t;
            *d = if e == 0.0 { 0.0 } else { factor * e.signum() };
        }
        A::backprop(A::Keeps::read::<[f32; N]>(y, kept), dz);
    }
}

/// Huber loss, as Keras defines it with threshold `δ` (default 1): for each error `e = y - t`,
/// `½e²` where `|e| ≤ δ` and `δ(|e| - ½δ)` beyond, averaged over the `N` outputs.
///
/// `dL/dy_i = e_i / N` inside the threshold, `δ · sign(e_i) / N` beyond, then the output
/// activation's own derivative.
#[derive(Clone, Copy, Debug)]
pub struct Huber {
    /// The threshold `δ` between the quadratic and the linear part.
    pub delta: f32,
}

impl Default for Huber {
    fn default() -> Self {
        Self { delta: 1.0 }
    }
}

impl<A: Activation> Loss<A> for Huber {
    const NAME: &'static str = "huber";
    const ACCURACY: bool = false;

    fn loss<const N: usize>(&self, y: &[f32; N], t: &[f32; N]) -> f32 {
        let d = self.delta;
        let per_element = |e: f32| {
            if e.abs() <= d {
                0.5 * e * e
            } else {
                d * (e.abs() - 0.5 * d)
            }
        };
        y.iter()
            .zip(t)
            .map(|(y, t)| per_element(y - t))
            .sum::<f32>()
            / N as f32
    }

    fn delta<const N: usize>(
        &self,
        y: &[f32; N],
        kept: &KeptRow<A, [f32; N]>,
        t: &[f32; N],
        scale: f32,
        dz: &mut [f32; N],
    ) {
        let (d, factor) = (self.delta, scale / N as f32);
        for ((g, y), t) in dz.iter_mut().zip(y).zip(t) {
            let e = y - t;
            *g = factor * if e.abs() <= d { e } else { d * e.signum() };
        }
        A::backprop(A::Keeps::read::<[f32; N]>(y, kept), dz);
    }
}

/// Binary cross-entropy after a sigmoid, averaged over the `N` outputs as Keras does:
/// `L = -(1/N) Σ_i [t_i ln y_i + (1 - t_i) ln(1 - y_i)]`.
///
/// Fused with the sigmoid, `dL/dz_i = (y_i - t_i) / N`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BinaryCrossentropy;

impl Loss<Sigmoid> for BinaryCrossentropy {
    const NAME: &'static str = "binary_crossentropy";

    fn loss<const N: usize>(&self, y: &[f32; N], t: &[f32; N]) -> f32 {
        let sum: f32 = y
            .iter()
            .zip(t)
            .map(|(y, t)| {
                let y = y.clamp(EPSILON, 1.0 - EPSILON);
                t * y.ln() + (1.0 - t) * (1.0 - y).ln()
            })
            .sum();
        -sum / N as f32
    }

    fn delta<const N: usize>(
        &self,
        y: &[f32; N],
        _kept: &(),
        t: &[f32; N],
        scale: f32,
        dz: &mut [f32; N],
    ) {
        let factor = scale / N as f32;
        for ((d, y), t) in dz.iter_mut().zip(y).zip(t) {
            *d = factor * (y - t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Gelu, Linear, Mish, Silu, Tanh};

    /// `CategoricalCrossentropyFromLogits` after a linear output.
    fn from_logits() -> impl Loss<Linear> {
        CategoricalCrossentropyFromLogits
    }

    #[test]
    fn losses_of_literal_values() {
        let mse =
            <MeanSquaredError as Loss<Linear>>::loss(&MeanSquaredError, &[1.0, 3.0], &[0.0, 1.0]);
        assert_eq!(mse, 2.5); // (1 + 4) / 2
        let cce = CategoricalCrossentropy.loss(&[0.25, 0.75], &[0.0, 1.0]);
        assert!((cce - 0.287_682_1).abs() < 1e-7, "{cce}"); // -ln 0.75
        let bce = BinaryCrossentropy.loss(&[0.8, 0.4], &[1.0, 0.0]);
        assert!((bce - 0.366_984_6).abs() < 1e-6, "{bce}"); // -(ln 0.8 + ln 0.6) / 2
    }

    #[test]
    fn from_logits_equals_softmax_then_cross_entropy() {
        let z = [0.3, -1.2, 0.8, 0.1];
        let t = [0.0, 0.0, 1.0, 0.0];
        let mut y = z;
        Softmax::apply(&mut y);
        let (fused, separate) = (
            from_logits().loss(&z, &t),
            CategoricalCrossentropy.loss(&y, &t),
        );
        assert!((fused - separate).abs() < 1e-6, "{fused} vs {separate}");
        let (mut logits_delta, mut after_softmax) = ([0.0; 4], [0.0; 4]);
        from_logits().delta(&z, &(), &t, 1.0, &mut logits_delta);
        CategoricalCrossentropy.delta(&y, &(), &t, 1.0, &mut after_softmax);
        for (a, b) in logits_delta.iter().zip(&after_softmax) {
            assert!(
                (a - b).abs() < 1e-6,
                "{logits_delta:?} vs {after_softmax:?}"
            );
        }
        // Logits far apart: the separate softmax rounds to 0 and clips; logsumexp does not.
        assert!((from_logits().loss(&[0.0, 200.0], &[1.0, 0.0]) - 200.0).abs() < 1e-3);
    }

    #[test]
    fn from_logits_after_log_softmax_equals_from_logits_of_the_logits() {
        // log_softmax only shifts the logits: the same loss, and the same gradient with
        // respect to the logits.
        let z = [0.3, -1.2, 0.8, 0.1];
        let t = [0.1, 0.2, 0.6, 0.1];
        let mut y = z;
        LogSoftmax::apply(&mut y);
        let after_log_softmax = <CategoricalCrossentropyFromLogits as Loss<LogSoftmax>>::loss(
            &CategoricalCrossentropyFromLogits,
            &y,
            &t,
        );
        let of_logits = from_logits().loss(&z, &t);
        assert!(
            (after_log_softmax - of_logits).abs() < 1e-6,
            "{after_log_softmax} vs {of_logits}"
        );
        // -Σ t ln p, p = softmax(z) = (0.27096, 0.06046, 0.44674, 0.22184): 1.32578.
        assert!((of_logits - 1.325_784).abs() < 1e-5, "{of_logits}");
        let (mut a, mut b) = ([0.0; 4], [0.0; 4]);
        <CategoricalCrossentropyFromLogits as Loss<LogSoftmax>>::delta(
            &CategoricalCrossentropyFromLogits,
            &y,
            &(),
            &t,
            1.0,
            &mut a,
        );
        from_logits().delta(&z, &(), &t, 1.0, &mut b);
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn deltas_of_a_batch_zero_the_rows_past_the_samples() {
        let y = [[0.25, 0.75], [0.5, 0.5], [0.9, 0.1]];
        let t = [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]];
        let mut dz = [[9.0; 2]; 3];
        CategoricalCrossentropy.deltas(&y, &(), &t, 2, 0.5, &mut dz);
        assert_eq!(dz, [[0.125, -0.125], [-0.25, 0.25], [0.0, 0.0]]);
    }

    #[test]
    fn regression_and_sparse_losses_of_literal_values() {
        let mae =
            <MeanAbsoluteError as Loss<Linear>>::loss(&MeanAbsoluteError, &[1.0, 3.0], &[0.0, 1.0]);
        assert_eq!(mae, 1.5);
        // Errors 0.5 (quadratic: 0.125) and 2 (linear: 1·(2 - 0.5) = 1.5), averaged.
        let huber = <Huber as Loss<Linear>>::loss(&Huber::default(), &[0.5, 3.0], &[0.0, 1.0]);
        assert_eq!(huber, 0.8125);
        let sparse = SparseCategoricalCrossentropy.loss(&[0.25, 0.75], &[0.0, 1.0]);
        assert_eq!(
            sparse,
            CategoricalCrossentropy.loss(&[0.25, 0.75], &[0.0, 1.0])
        );
    }

    #[test]
    fn cross_entropy_clips_certain_mistakes() {
        let loss = CategoricalCrossentropy.loss(&[1.0, 0.0], &[0.0, 1.0]);
        assert!((loss - 16.118_095).abs() < 1e-4, "{loss}"); // -ln 1e-7
    }

    #[test]
    fn fused_deltas_of_literal_values() {
        let mut dz = [0.0; 2];
        CategoricalCrossentropy.delta(&[0.25, 0.75], &(), &[0.0, 1.0], 0.5, &mut dz);
        assert_eq!(dz, [0.125, -0.125]);
        BinaryCrossentropy.delta(&[0.75, 0.25], &(), &[1.0, 0.0], 1.0, &mut dz);
        assert_eq!(dz, [-0.125, 0.125]);
        <MeanSquaredError as Loss<Linear>>::delta(
            &MeanSquaredError,
            &[1.0, 3.0],
            &(),
            &[0.0, 1.0],
            1.0,
            &mut dz,
        );
        assert_eq!(dz, [1.0, 2.0]);
        // After silu, the derivative is read at the kept input: at z = 0, silu' = 1/2.
        <MeanSquaredError as Loss<Silu>>::delta(
            &MeanSquaredError,
            &[0.0, 0.0],
            &[0.0, 0.0],
            &[1.0, -1.0],
            1.0,
            &mut dz,
        );
        assert_eq!(dz, [-0.5, 0.5]);
    }

    /// Checks `delta` against central differences of `loss ∘ activation` in the pre-activation.
    fn check<A: Activation, L: Loss<A>, const N: usize>(loss: L, z: [f32; N], t: [f32; N]) {
        let output = |z: [f32; N]| {
            let mut y = z;
            A::apply(&mut y);
            y
        };
        // One sample through the batch path, keeping what the activation keeps.
        let (mut y, mut kept) = ([z], A::Keeps::new_batch::<[f32; N], 1>());
        A::apply_batch(&mut y, &mut kept);
        let mut analytic = [0.0; N];
        loss.delta(&y[0], A::Keeps::row(&kept, 0), &t, 1.0, &mut analytic);
        let eps = 1e-2;
        for i in 0..N {
            let (mut plus, mut minus) = (z, z);
            plus[i] += eps;
            minus[i] -= eps;
            let numeric = (f64::from(loss.loss(&output(plus), &t))
                - f64::from(loss.loss(&output(minus), &t)))
                / (2.0 * f64::from(eps));
            let numeric = numeric as f32;
            let rel =
                (analytic[i] - numeric).abs() / analytic[i].abs().max(numeric.abs()).max(1e-2);
            assert!(
                rel <= 1e-3,
                "{} after {}: dL/dz[{i}] analytic {}, numeric {numeric}, relative error {rel}",
                L::NAME,
                A::NAME,
                analytic[i]
            );
        }
    }

    #[test]
    fn fused_and_generic_deltas_match_finite_differences() {
        let z = [0.3, -1.2, 0.8, 0.1];
        check::<Softmax, _, 4>(CategoricalCrossentropy, z, [0.0, 0.0, 1.0, 0.0]);
        check::<Softmax, _, 4>(CategoricalCrossentropy, z, [0.1, 0.2, 0.6, 0.1]);
        check::<Sigmoid, _, 4>(BinaryCrossentropy, z, [1.0, 0.0, 1.0, 0.0]);
        check::<Sigmoid, _, 1>(BinaryCrossentropy, [0.4], [1.0]);
        check::<Linear, _, 4>(MeanSquaredError, z, [0.5, -1.0, 0.0, 2.0]);
        check::<Tanh, _, 4>(MeanSquaredError, z, [0.5, -1.0, 0.0, 0.2]);
        check::<Sigmoid, _, 4>(MeanSquaredError, z, [1.0, 0.0, 1.0, 0.0]);
        check::<Softmax, _, 4>(MeanSquaredError, z, [0.0, 0.0, 1.0, 0.0]);
        check::<Linear, _, 4>(CategoricalCrossentropyFromLogits, z, [0.0, 0.0, 1.0, 0.0]);
        check::<Linear, _, 4>(CategoricalCrossentropyFromLogits, z, [0.1, 0.2, 0.6, 0.1]);
        check::<Softmax, _, 4>(SparseCategoricalCrossentropy, z, [0.0, 1.0, 0.0, 0.0]);
        check::<Linear, _, 4>(MeanAbsoluteError, z, [0.5, -1.0, 0.0, 0.2]);
        check::<Tanh, _, 4>(MeanAbsoluteError, z, [0.5, -1.0, 0.0, 0.2]);
        check::<Linear, _, 4>(Huber::default(), z, [0.5, -1.0, 2.0, 0.2]);
        check::<Sigmoid, _, 4>(Huber { delta: 0.3 }, z, [1.0, 0.0, 0.0, 1.0]);
        let fused = CategoricalCrossentropyFromLogits;
        check::<LogSoftmax, _, 4>(fused, z, [0.0, 0.0, 1.0, 0.0]);
        check::<LogSoftmax, _, 4>(fused, z, [0.1, 0.2, 0.6, 0.1]);
        check::<LogSoftmax, _, 4>(MeanSquaredError, z, [-1.0, -2.0, -0.5, -1.5]);
        // Activations whose derivative reads their inputs, through the generic losses.
        check::<Silu, _, 4>(MeanSquaredError, z, [0.5, -1.0, 0.0, 0.2]);
        check::<Gelu, _, 4>(MeanAbsoluteError, z, [0.5, -1.0, 0.0, 0.2]);
        check::<Mish, _, 4>(Huber { delta: 0.3 }, z, [0.5, -1.0, 2.0, 0.2]);
    }
}
