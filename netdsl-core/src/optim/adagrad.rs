//! Adagrad.

use super::{ElementWise, KerasDefaults, Rule, UpdateRule};
use crate::kernels::{Isa, updates};

/// Adagrad with Keras' update rule and defaults (learning rate 0.001, initial accumulator 0.1,
/// `ε = 1e-7`):
///
/// - `a ← a + g²`
/// - `w ← w - lr · g / √(a + ε)`
pub type Adagrad = ElementWise<AdagradRule>;

/// The rule of [`Adagrad`]: its constants and the learning rate of the step. Its state is the
/// accumulator `a`.
#[derive(Clone, Copy, Debug)]
pub struct AdagradRule {
    lr: f32,
    epsilon: f32,
    initial_accumulator: f32,
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

impl Rule for AdagradRule {
    fn state(&self) -> [Option<f32>; 2] {
        [Some(self.initial_accumulator), None]
    }

    fn state_names(&self) -> [&'static str; 2] {
        ["accumulator", ""]
    }

    fn begin_step(&mut self, learning_rate: f32, _step: u64) {
        self.lr = learning_rate;
    }
}

impl KerasDefaults for AdagradRule {
    const LEARNING_RATE: f32 = 0.001;
    const RULE: Self = Self {
        lr: Self::LEARNING_RATE,
        epsilon: 1e-7,
        initial_accumulator: 0.1,
    };
}

impl Adagrad {
    /// Sets the accumulator's starting value.
    pub fn initial_accumulator(mut self, value: f32) -> Self {
        self.rule.initial_accumulator = value;
        self
    }
}
