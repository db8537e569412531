//! Keras' weight regularizers: penalties on a layer's weights added to the loss it trains on.
//!
//! A [`Regularizer`] of factors `l1` and `l2` adds `l1 · Σ|w| + l2 · Σw²` to the loss (Keras'
//! `L1`, `L2` and `L1L2`), and so `l1 · sign(w) + 2 · l2 · w` to each weight's gradient
//! (`sign(0) = 0`, as TensorFlow differentiates `|w|`). The penalty of every regularized tensor
//! of the network is added once to each batch's mean loss, as Keras 3's `compute_loss` adds
//! `model.losses`: the loss `fit` reports, `val_loss` and `evaluate`'s loss include it, each
//! computed with the weights the batch saw. A layer keeps its [`Regularizers`], one per tensor
//! (`kernel`, `recurrent_kernel`, `bias`); `network!` sets them from `kernel_regularizer =
//! l2(1e-4)` and the like.
//!
//! ```
//! use netdsl_core::regularizer::Regularizer;
//!
//! let l2 = Regularizer::l2(0.5).unwrap();
//! let weights = [1.0, -2.0, 0.0];
//! assert_eq!(l2.penalty(&weights), 0.5 * (1.0 + 4.0));
//! // The gradient, scaled by 0.1, added to what is there.
//! let mut grads = [1.0; 3];
//! assert_eq!(l2.add_gradient(&weights, 0.1, &mut grads), 2.5);
//! assert_eq!(grads, [1.0 + 0.1, 1.0 - 0.2, 1.0]);
//!
//! let l1 = Regularizer::l1(0.25).unwrap();
//! assert_eq!(l1.penalty(&weights), 0.75);
//! // Keras refuses negative and non-finite factors; so does netdsl.
//! assert_eq!(Regularizer::l2(-1.0), None);
//! assert_eq!(Regularizer::l1_l2(f32::NAN, 0.0), None);
//! ```

/// Keras' `L1L2` penalty: `l1 · Σ|w| + l2 · Σw²` over a tensor. [`Regularizer::l1`] and
/// [`Regularizer::l2`] are Keras' `L1` and `L2`; [`Regularizer::NONE`] penalizes nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Regularizer {
    l1: f32,
    l2: f32,
}

impl Regularizer {
    /// No penalty: both factors 0.
    pub const NONE: Self = Self { l1: 0.0, l2: 0.0 };

    /// Keras' default factor of `"l1"`, `"l2"` and `"l1_l2"` given by name: 0.01.
    pub const DEFAULT_FACTOR: f32 = 0.01;

    /// `l1 · Σ|w| + l2 · Σw²` (Keras' `regularizers.l1_l2(l1, l2)`), or `None` if a factor is
    /// negative or not finite (Keras' `ValueError`).
    pub const fn l1_l2(l1: f32, l2: f32) -> Option<Self> {
        if l1.is_finite() && l2.is_finite() && l1 >= 0.0 && l2 >= 0.0 {
            Some(Self { l1, l2 })
        } else {
            None
        }
    }

    /// `l1 · Σ|w|` (Keras' `regularizers.l1(l1)`), or `None` if `l1` is negative or not finite.
    pub const fn l1(l1: f32) -> Option<Self> {
        Self::l1_l2(l1, 0.0)
    }

    /// `l2 · Σw²` (Keras' `regularizers.l2(l2)`), or `None` if `l2` is negative or not finite.
    pub const fn l2(l2: f32) -> Option<Self> {
        Self::l1_l2(0.0, l2)
    }

    /// The L1 factor.
    pub const fn l1_factor(self) -> f32 {
        self.l1
    }

    /// The L2 factor.
    pub const fn l2_factor(self) -> f32 {
        self.l2
    }

    /// Whether the penalty is zero whatever the weights.
    pub const fn is_none(self) -> bool {
        self.l1 == 0.0 && self.l2 == 0.0
    }

    /// `l1 · Σ|w| + l2 · Σw²`, in `f64`: a penalty is added to a loss summed in `f64`, and
    /// rounding it to `f32` would lose the small changes a step makes to it.
    pub fn penalty(self, weights: &[f32]) -> f64 {
        if self.is_none() {
            return 0.0;
        }
        let (mut abs, mut square) = (0.0_f64, 0.0_f64);
        for &w in weights {
            abs += f64::from(w.abs());
            square += f64::from(w * w);
        }
        f64::from(self.l1) * abs + f64::from(self.l2) * square
    }

    /// Adds `scale` times the penalty's gradient, `l1 · sign(w) + 2 · l2 · w`, to `grads` (one
    /// per weight) and returns the penalty, [`Regularizer::penalty`]. Allocates nothing.
    ///
    /// # Panics
    ///
    /// If `grads` and `weights` differ in length.
    pub fn add_gradient(self, weights: &[f32], scale: f32, grads: &mut [f32]) -> f64 {
        assert_eq!(weights.len(), grads.len(), "a gradient per weight");
        if self.is_none() {
            return 0.0;
        }
        let (a, b) = (scale * self.l1, scale * 2.0 * self.l2);
        for (g, &w) in grads.iter_mut().zip(weights) {
            let sign = if w > 0.0 {
                1.0
            } else if w < 0.0 {
                -1.0
            } else {
                0.0
            };
            *g += a * sign + b * w;
        }
        self.penalty(weights)
    }
}

/// The regularizers of a layer's tensors, Keras' `kernel_regularizer`, `recurrent_regularizer`
/// and `bias_regularizer`: [`Regularizer::NONE`] for a tensor without one, and for a tensor the
/// layer does not have (a dense layer's recurrent kernel).
///
/// ```
/// use netdsl_core::activation::Relu;
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::Dense;
/// use netdsl_core::regularizer::{Regularizer, Regularizers};
///
/// let layer = Dense::<2, 1, Relu>::from_parameters([[1.0], [-3.0]], Some([2.0]))
///     .with_regularizers(Regularizers {
///         kernel: Regularizer::l2(0.1).unwrap(),
///         bias: Regularizer::l1(0.5).unwrap(),
///         ..Regularizers::NONE
///     });
/// // 0.1 · (1 + 9) + 0.5 · 2
/// assert!((layer.regularization() - 2.0).abs() < 1e-6);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Regularizers {
    /// The kernel's (Keras' `kernel_regularizer`).
    pub kernel: Regularizer,
    /// A recurrent layer's recurrent kernel's (Keras' `recurrent_regularizer`).
    pub recurrent_kernel: Regularizer,
    /// The bias's (Keras' `bias_regularizer`).
    pub bias: Regularizer,
}

impl Regularizers {
    /// No regularizer at all.
    pub const NONE: Self = Self {
        kernel: Regularizer::NONE,
        recurrent_kernel: Regularizer::NONE,
        bias: Regularizer::NONE,
    };

    /// Whether none of them penalizes anything.
    pub const fn is_none(&self) -> bool {
        self.kernel.is_none() && self.recurrent_kernel.is_none() && self.bias.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalties_are_keras_formulas_on_literal_weights() {
        let w = [0.5, -1.5, 0.0, 2.0];
        // Σ|w| = 4, Σw² = 0.25 + 2.25 + 4 = 6.5.
        assert_eq!(Regularizer::l1(0.125).unwrap().penalty(&w), 0.5);
        assert_eq!(Regularizer::l2(0.125).unwrap().penalty(&w), 0.8125);
        // Keras' default factor, 0.01 as an `f32`.
        let l2 = Regularizer::l2(Regularizer::DEFAULT_FACTOR)
            .unwrap()
            .penalty(&w);
        assert!((l2 - 0.065).abs() < 1e-8, "{l2}");
        let both = Regularizer::l1_l2(0.5, 0.25).unwrap();
        assert_eq!(both.penalty(&w), 2.0 + 1.625);
        assert_eq!(Regularizer::NONE.penalty(&w), 0.0);
    }

    #[test]
    fn gradients_are_l1_sign_plus_twice_l2_w_scaled() {
        let w = [0.5, -1.5, 0.0, 2.0];
        let mut g = [0.0; 4];
        let penalty = Regularizer::l1_l2(0.5, 0.25)
            .unwrap()
            .add_gradient(&w, 2.0, &mut g);
        assert_eq!(penalty, 3.625);
        // 2 · (0.5 · sign(w) + 0.5 · w)
        assert_eq!(g, [1.0 + 0.5, -1.0 - 1.5, 0.0, 1.0 + 2.0]);
        let mut untouched = [7.0; 4];
        assert_eq!(Regularizer::NONE.add_gradient(&w, 1.0, &mut untouched), 0.0);
        assert_eq!(untouched, [7.0; 4]);
    }

    #[test]
    fn factors_keras_refuses_are_refused() {
        assert_eq!(Regularizer::l1(-0.1), None);
        assert_eq!(Regularizer::l2(f32::INFINITY), None);
        assert_eq!(Regularizer::l1_l2(0.0, f32::NAN), None);
        assert_eq!(
            Regularizer::l1_l2(0.0, 0.0),
            Some(Regularizer::NONE),
            "zero factors are allowed, and penalize nothing"
        );
        assert!(Regularizers::NONE.is_none());
    }
}
