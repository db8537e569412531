//! RMSprop.

use super::{ElementWise, KerasDefaults, Rule, UpdateRule};
use crate::kernels::{Isa, updates};

/// RMSprop with Keras' update rule and defaults (learning rate 0.001, `ρ = 0.9`, `ε = 1e-7`,
/// no momentum, not centred):
///
/// - `v ← ρ · v + (1 - ρ) · g²`
/// - `w ← w - lr · g / √(v + ε)`
pub type RmsProp = ElementWise<RmsPropRule>;

/// The rule of [`RmsProp`]: its constants and the learning rate of the step. Its state is the
/// mean square `v`.
#[derive(Clone, Copy, Debug)]
pub struct RmsPropRule {
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

impl Rule for RmsPropRule {
    fn state(&self) -> [Option<f32>; 2] {
        [Some(0.0), None]
    }

    fn state_names(&self) -> [&'static str; 2] {
        ["velocity", ""]
    }

    fn begin_step(&mut self, learning_rate: f32, _step: u64) {
        self.lr = learning_rate;
    }
}

impl KerasDefaults for RmsPropRule {
    const LEARNING_RATE: f32 = 0.001;
    const RULE: Self = Self {
        lr: Self::LEARNING_RATE,
        rho: 0.9,
        epsilon: 1e-7,
    };
}

impl RmsProp {
    /// Sets the discount `ρ`.
    pub fn rho(mut self, rho: f32) -> Self {
        self.rule.rho = rho;
        self
    }
}
