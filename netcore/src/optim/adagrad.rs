//! Adagrad.

use super::{Optimizer, Settings, UpdateRule};
use crate::kernels::{Isa, updates};

/// Adagrad with Keras' update rule and defaults (learning rate 0.001, initial accumulator 0.1,
/// `ε = 1e-7`):
///
/// - `a ← a + g²`
/// - `w ← w - lr · g / √(a + ε)`
#[derive(Debug)]
pub struct Adagrad {
    settings: Settings,
    initial_accumulator: f32,
    rule: AdagradRule,
    accumulator: Vec<f32>,
}

/// Adagrad's update at one step's learning rate.
#[derive(Clone, Copy, Debug)]
struct AdagradRule {
    lr: f32,
    epsilon: f32,
}

impl UpdateRule for AdagradRule {
    fn update(&self, params: &mut [f32], grads: &[f32], [accumulator, _]: [&mut [f32]; 2]) {
        let step = updates::AdagradStep {
            lr: self.lr,
            epsilon: self.epsilon,
        };
        updates::apply(Isa::selected(), &step, params, grads, [accumulator]);
    }
}

impl Adagrad {
    /// Adagrad with the given learning rate and Keras' other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Self {
            settings: Settings::new(learning_rate),
            initial_accumulator: 0.1,
            rule: AdagradRule {
                lr: learning_rate,
                epsilon: 1e-7,
            },
            accumulator: Vec::new(),
        }
    }

    /// Sets the accumulator's starting value.
    pub fn initial_accumulator(mut self, value: f32) -> Self {
        self.initial_accumulator = value;
        self
    }
}

impl Default for Adagrad {
    fn default() -> Self {
        Self::new(0.001)
    }
}

impl Optimizer for Adagrad {
    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    fn prepare(&mut self, parameter_count: usize) {
        self.accumulator = vec![self.initial_accumulator; parameter_count];
    }

    fn rule(&mut self) -> (&dyn UpdateRule, [&mut [f32]; 2]) {
        self.rule.lr = self.settings.current_learning_rate();
        (&self.rule, [&mut self.accumulator, &mut []])
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_close, three_updates};
    use super::*;

    #[test]
    fn adagrad_first_three_updates() {
        // lr 0.1, a0 = 0.1, g = (0.5, 1), (-1, 0.25), (2, 0):
        // a1 = (0.35, 1.1): step (0.0845154, 0.0953463) → (0.9154846, -2.0953463)
        // a2 = (1.35, 1.1625): step (-0.0860663, 0.0231869) → (1.0015509, -2.1185332)
        // a3 = (5.35, 1.1625): step (0.0864675, 0) → (0.9150834, -2.1185332)
        assert_close(
            &three_updates(Adagrad::new(0.1)),
            &[
                [0.915_484_6, -2.095_346_3],
                [1.001_550_9, -2.118_533_2],
                [0.915_083_4, -2.118_533_2],
            ],
        );
    }
}
