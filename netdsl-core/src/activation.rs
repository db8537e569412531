//! Activation functions, each an `f` / `df` pair.
//!
//! Every derivative is written in terms of the activation's *output* `y`, so the backward pass
//! needs only what the forward pass already stored. [`Elementwise`] activations share one loop
//! ([`Activation`] is implemented for all of them at once); only [`Softmax`], which couples the
//! outputs of a row, has its own backward.

#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

/// An activation applied to a layer's output, one row (one sample) at a time.
pub trait Activation {
    /// The name Keras gives this activation (`"relu"`, `"softmax"`, ...).
    const NAME: &'static str;

    /// Replaces the pre-activations `z` in `row` by `f(z)`.
    fn apply(row: &mut [f32]);

    /// Turns `dL/dy` in `grad` into `dL/dz`, given the outputs `y = f(z)` of the same row.
    fn backprop(y: &[f32], grad: &mut [f32]);

    /// [`Activation::apply`] to every row of a batch.
    fn apply_batch<const N: usize, const B: usize>(rows: &mut [[f32; N]; B]) {
        for row in rows {
            Self::apply(row);
        }
    }

    /// [`Activation::backprop`] for every row of a batch.
    fn backprop_batch<const N: usize, const B: usize>(y: &[[f32; N]; B], grad: &mut [[f32; N]; B]) {
        for (y, grad) in y.iter().zip(grad) {
            Self::backprop(y, grad);
        }
    }
}

/// An activation that acts on each value alone: `y = f(z)`, `dy/dz = df(y)`.
pub trait Elementwise {
    /// The name Keras gives this activation.
    const NAME: &'static str;
    /// The activation itself.
    fn f(z: f32) -> f32;
    /// Its derivative `dy/dz`, expressed through the output `y = f(z)`.
    fn df(y: f32) -> f32;
    /// [`Elementwise::f`] on every value; an activation with a vector kernel overrides it.
    fn apply_all(values: &mut [f32]) {
        for v in values {
            *v = Self::f(*v);
        }
    }
}

impl<E: Elementwise> Activation for E {
    const NAME: &'static str = E::NAME;

    fn apply(row: &mut [f32]) {
        E::apply_all(row);
    }

    fn apply_batch<const N: usize, const B: usize>(rows: &mut [[f32; N]; B]) {
        E::apply_all(rows.as_flattened_mut());
    }

    fn backprop(y: &[f32], grad: &mut [f32]) {
        for (g, &y) in grad.iter_mut().zip(y) {
            *g *= E::df(y);
        }
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

/// Logistic sigmoid: `f(z) = 1 / (1 + e^-z)`.
///
/// `df = y (1 - y)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl Elementwise for Sigmoid {
    const NAME: &'static str = "sigmoid";
    #[inline(always)]
    fn f(z: f32) -> f32 {
        1.0 / (1.0 + (-z).exp())
    }
    #[inline(always)]
    fn df(y: f32) -> f32 {
        y * (1.0 - y)
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

/// Identity: `f(z) = z`, for layers without an activation.
///
/// `df = 1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Linear;

impl Elementwise for Linear {
    const NAME: &'static str = "linear";
    #[inline(always)]
    fn f(z: f32) -> f32 {
        z
    }
    #[inline(always)]
    fn df(_y: f32) -> f32 {
        1.0
    }
}

/// Softmax over a row: `y_i = e^(z_i) / Σ_j e^(z_j)`.
///
/// `dL/dz_i = y_i (dL/dy_i - Σ_j y_j dL/dy_j)`. Paired with categorical cross-entropy the two
/// fuse into `dL/dz = y - t` (see [`crate::loss::CategoricalCrossentropy`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Softmax;

impl Activation for Softmax {
    const NAME: &'static str = "softmax";

    fn apply(row: &mut [f32]) {
        // Subtracting the maximum keeps `exp` finite; it cancels in the ratio.
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn applied<A: Activation>(z: &[f32]) -> Vec<f32> {
        let mut row = z.to_vec();
        A::apply(&mut row);
        row
    }

    fn assert_close(found: &[f32], expected: &[f32], tol: f32) {
        for (i, (f, e)) in found.iter().zip(expected).enumerate() {
            assert!((f - e).abs() <= tol, "element {i}: found {f}, expected {e}");
        }
    }

    #[test]
    fn nan_stays_nan_through_every_activation() {
        let z = [f32::NAN, 1.0];
        for found in [
            applied::<Relu>(&z),
            applied::<Sigmoid>(&z),
            applied::<Tanh>(&z),
            applied::<Linear>(&z),
        ] {
            assert!(found[0].is_nan(), "{found:?}");
        }
        assert!(applied::<Softmax>(&z).iter().all(|p| p.is_nan()));
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
    }

    #[test]
    fn softmax_survives_large_inputs() {
        let y = applied::<Softmax>(&[1000.0, 1000.0]);
        assert_close(&y, &[0.5, 0.5], 0.0);
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
    }

    /// Checks `backprop` against central differences of `apply` for a weighted sum of outputs.
    fn check_against_finite_differences<A: Activation>(z: &[f32]) {
        let weights: Vec<f32> = (0..z.len()).map(|i| 0.3 + 0.2 * i as f32).collect();
        let objective = |z: &[f32]| -> f64 {
            applied::<A>(z)
                .iter()
                .zip(&weights)
                .map(|(y, w)| f64::from(y * w))
                .sum()
        };
        let y = applied::<A>(z);
        let mut analytic = weights.clone();
        A::backprop(&y, &mut analytic);
        let eps = 1e-2_f32;
        for i in 0..z.len() {
            let (mut plus, mut minus) = (z.to_vec(), z.to_vec());
            plus[i] += eps;
            minus[i] -= eps;
            let numeric = ((objective(&plus) - objective(&minus)) / (2.0 * f64::from(eps))) as f32;
            let rel =
                (analytic[i] - numeric).abs() / analytic[i].abs().max(numeric.abs()).max(1e-3);
            assert!(
                rel <= 1e-3,
                "{}: dL/dz[{i}] analytic {} vs numeric {numeric}, relative error {rel}",
                A::NAME,
                analytic[i]
            );
        }
    }

    #[test]
    fn every_activation_backprop_matches_finite_differences() {
        // Points kept away from relu's kink at 0.
        let z = [-1.3, -0.4, 0.2, 0.9, 1.7];
        check_against_finite_differences::<Relu>(&z);
        check_against_finite_differences::<Sigmoid>(&z);
        check_against_finite_differences::<Tanh>(&z);
        check_against_finite_differences::<Linear>(&z);
        check_against_finite_differences::<Softmax>(&z);
    }
}
