//! Stochastic gradient descent, with optional momentum and Nesterov momentum.

use super::{Optimizer, Settings, UpdateRule};
use crate::kernels::{self, Isa, updates};

/// Stochastic gradient descent with Keras' update rule and defaults (learning rate 0.01, no
/// momentum).
///
/// - plain: `w ← w - lr · g`
/// - momentum `m`: `v ← m · v - lr · g`, then `w ← w + v`
/// - Nesterov: `v ← m · v - lr · g`, then `w ← w + m · v - lr · g`
///
/// ```
/// use netcore::optim::{Optimizer, Sgd};
///
/// let mut sgd = Sgd::new(0.1).momentum(0.9);
/// sgd.prepare(1);
/// let mut w = [1.0];
/// sgd.update(0, &mut w, &[2.0]); // v = -0.2
/// sgd.update(0, &mut w, &[2.0]); // v = 0.9 · -0.2 - 0.2 = -0.38
/// assert!((w[0] - 0.42).abs() < 1e-6);
/// ```
#[derive(Debug)]
pub struct Sgd {
    settings: Settings,
    rule: SgdRule,
    velocity: Vec<f32>,
}

/// SGD's update at one step's learning rate.
#[derive(Clone, Copy, Debug)]
struct SgdRule {
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

impl Sgd {
    /// Plain SGD with the given learning rate.
    pub fn new(learning_rate: f32) -> Self {
        Self {
            settings: Settings::new(learning_rate),
            rule: SgdRule {
                lr: learning_rate,
                momentum: 0.0,
                nesterov: false,
            },
            velocity: Vec::new(),
        }
    }

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

impl Default for Sgd {
    fn default() -> Self {
        Self::new(0.01)
    }
}

impl Optimizer for Sgd {
    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    fn prepare(&mut self, parameter_count: usize) {
        if self.rule.momentum != 0.0 {
            self.velocity = vec![0.0; parameter_count];
        }
    }

    fn rule(&mut self) -> (&dyn UpdateRule, [&mut [f32]; 2]) {
        self.rule.lr = self.settings.current_learning_rate();
        (&self.rule, [&mut self.velocity, &mut []])
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_close, three_updates};
    use super::*;

    #[test]
    fn plain_sgd_first_three_updates() {
        // w -= 0.1 g
        assert_close(
            &three_updates(Sgd::new(0.1)),
            &[[0.95, -2.1], [1.05, -2.125], [0.85, -2.125]],
        );
    }

    #[test]
    fn momentum_first_three_updates() {
        // v1 = (-0.05, -0.1); v2 = 0.9 v1 - 0.1 g2 = (0.055, -0.115); v3 = (-0.1505, -0.1035)
        assert_close(
            &three_updates(Sgd::new(0.1).momentum(0.9)),
            &[[0.95, -2.1], [1.005, -2.215], [0.8545, -2.3185]],
        );
    }

    #[test]
    fn nesterov_first_three_updates() {
        // w += 0.9 v - 0.1 g with the v of the momentum test:
        // step 1: 0.9(-0.05, -0.1) - (0.05, 0.1) = (-0.095, -0.19)
        // step 2: 0.9(0.055, -0.115) - (-0.1, 0.025) = (0.1495, -0.1285)
        // step 3: 0.9(-0.1505, -0.1035) - (0.2, 0) = (-0.33545, -0.09315)
        assert_close(
            &three_updates(Sgd::new(0.1).momentum(0.9).nesterov(true)),
            &[[0.905, -2.19], [1.0545, -2.3185], [0.71905, -2.41165]],
        );
    }

    #[test]
    fn clipped_by_value_first_three_updates() {
        // g clipped to [-0.5, 0.5]: (0.5, 0.5), (-0.5, 0.25), (0.5, 0)
        assert_close(
            &three_updates(Sgd::new(0.1).clip_value(0.5)),
            &[[0.95, -2.05], [1.0, -2.075], [0.95, -2.075]],
        );
    }

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
