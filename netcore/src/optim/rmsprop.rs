//! RMSprop.

use super::{Optimizer, Settings, UpdateRule};
use crate::kernels::{Isa, updates};

/// RMSprop with Keras' update rule and defaults (learning rate 0.001, `ρ = 0.9`, `ε = 1e-7`,
/// no momentum, not centred):
///
/// - `v ← ρ · v + (1 - ρ) · g²`
/// - `w ← w - lr · g / √(v + ε)`
#[derive(Debug)]
pub struct RmsProp {
    settings: Settings,
    rule: RmsPropRule,
    v: Vec<f32>,
}

/// RMSprop's update at one step's learning rate.
#[derive(Clone, Copy, Debug)]
struct RmsPropRule {
    lr: f32,
    rho: f32,
    epsilon: f32,
}

impl UpdateRule for RmsPropRule {
    fn update(&self, params: &mut [f32], grads: &[f32], [v, _]: [&mut [f32]; 2]) {
        let step = updates::RmsPropStep {
            lr: self.lr,
            rho: self.rho,
            epsilon: self.epsilon,
        };
        updates::apply(Isa::selected(), &step, params, grads, [v]);
    }
}

impl RmsProp {
    /// RMSprop with the given learning rate and Keras' other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Self {
            settings: Settings::new(learning_rate),
            rule: RmsPropRule {
                lr: learning_rate,
                rho: 0.9,
                epsilon: 1e-7,
            },
            v: Vec::new(),
        }
    }

    /// Sets the discount `ρ`.
    pub fn rho(mut self, rho: f32) -> Self {
        self.rule.rho = rho;
        self
    }
}

impl Default for RmsProp {
    fn default() -> Self {
        Self::new(0.001)
    }
}

impl Optimizer for RmsProp {
    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    fn prepare(&mut self, parameter_count: usize) {
        self.v = vec![0.0; parameter_count];
    }

    fn rule(&mut self) -> (&dyn UpdateRule, [&mut [f32]; 2]) {
        self.rule.lr = self.settings.current_learning_rate();
        (&self.rule, [&mut self.v, &mut []])
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_close, three_updates};
    use super::*;

    #[test]
    fn rmsprop_first_three_updates() {
        // lr 0.1, ρ 0.9, g = (0.5, 1), (-1, 0.25), (2, 0):
        // v1 = (0.025, 0.1): w -= 0.1 g/√(v + ε) ≈ (0.316228, 0.316227) → (0.6837729, -2.3162276)
        // v2 = (0.1225, 0.09625): step (-0.285714, 0.080582) → (0.969487, -2.3968099)
        // v3 = (0.51025, 0.086625): step (0.279987, 0) → (0.6894997, -2.3968099)
        assert_close(
            &three_updates(RmsProp::new(0.1)),
            &[
                [0.683_772_9, -2.316_227_6],
                [0.969_487, -2.396_809_9],
                [0.689_499_7, -2.396_809_9],
            ],
        );
    }
}
