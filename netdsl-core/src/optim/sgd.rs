//! Stochastic gradient descent, with optional momentum and Nesterov momentum.

use super::{ElementWise, KerasDefaults, Rule, UpdateRule};
use crate::kernels::{self, Isa, updates};

/// Stochastic gradient descent with Keras' update rule and defaults (learning rate 0.01, no
/// momentum).
///
/// - plain: `w ← w - lr · g`
/// - momentum `m`: `v ← m · v - lr · g`, then `w ← w + v`
/// - Nesterov: `v ← m · v - lr · g`, then `w ← w + m · v - lr · g`
///
/// ```
/// use netdsl_core::optim::{Optimizer, Sgd};
///
/// let mut sgd = Sgd::new(0.1).momentum(0.9);
/// sgd.prepare(1);
/// let mut w = [1.0];
/// sgd.update(0, &mut w, &[2.0]); // v = -0.2
/// sgd.update(0, &mut w, &[2.0]); // v = 0.9 · -0.2 - 0.2 = -0.38
/// assert!((w[0] - 0.42).abs() < 1e-6);
/// ```
pub type Sgd = ElementWise<SgdRule>;

/// The rule of [`Sgd`]: its momentum, and the learning rate of the step. Its state is the
/// velocity, kept only with momentum.
#[derive(Clone, Copy, Debug)]
pub struct SgdRule {
    lr: f32,
    momentum: f32,
    nesterov: bool,
}

impl UpdateRule for SgdRule {
    fn update(&self, params: &mut [f32], grads: &[f32], [velocity, _]: [&mut [f32]; 2]) {
        if self.momentum == 0.0 {
            kernels::axpy(-self.lr, grads, params);
            return;
        }
        let rule = updates::Momentum {
            lr: self.lr,
            momentum: self.momentum,
            nesterov: self.nesterov,
        };
        updates::apply(Isa::selected(), &rule, params, grads, [velocity]);
    }
}

impl Rule for SgdRule {
    fn state(&self) -> [Option<f32>; 2] {
        [(self.momentum != 0.0).then_some(0.0), None]
    }

    fn state_names(&self) -> [&'static str; 2] {
        ["momentum", ""]
    }

    fn begin_step(&mut self, learning_rate: f32, _step: u64) {
        self.lr = learning_rate;
    }
}

impl KerasDefaults for SgdRule {
    const LEARNING_RATE: f32 = 0.01;
    const RULE: Self = Self {
        lr: Self::LEARNING_RATE,
        momentum: 0.0,
        nesterov: false,
    };
}

impl Sgd {
    /// Adds momentum `m` (Keras' `momentum`, usually 0.9).
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.rule.momentum = momentum;
        self
    }

    /// Uses Nesterov momentum (Keras' `nesterov=True`).
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.rule.nesterov = nesterov;
        self
    }
}
#[cfg(test)]
mod tests {
    use super::super::Optimizer;
    use super::*;

    #[test]
    fn state_is_kept_per_offset() {
        let mut sgd = Sgd::new(1.0).momentum(0.5);
        sgd.prepare(2);
        let (mut a, mut b) = ([0.0], [0.0]);
        sgd.update(0, &mut a, &[1.0]);
        sgd.update(1, &mut b, &[-1.0]);
        sgd.update(0, &mut a, &[1.0]);
        assert_eq!((a, b), ([-2.5], [1.0]));
    }
}
