//! Adam and AdamW.

use super::{Optimizer, Settings, UpdateRule};
use crate::kernels::{Isa, updates};

/// Adam with Keras' update rule and defaults (learning rate 0.001, `β1 = 0.9`, `β2 = 0.999`,
/// `ε = 1e-7`). At step `t` (from 1):
///
/// - `m ← m + (1 - β1)(g - m)`, `v ← v + (1 - β2)(g² - v)`
/// - `α = lr · √(1 - β2^t) / (1 - β1^t)`
/// - `w ← w - α · m / (√v + ε)`
#[derive(Debug)]
pub struct Adam {
    settings: Settings,
    rule: AdamRule,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// Adam's update: its constants, and those of one step.
#[derive(Clone, Copy, Debug)]
struct AdamRule {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// Decoupled weight decay (AdamW); 0 for Adam.
    weight_decay: f32,
    /// The step's `α`, the learning rate with the bias correction.
    alpha: f32,
    /// The step's `lr · λ`.
    decay: f32,
}

impl UpdateRule for AdamRule {
    fn update(&self, params: &mut [f32], grads: &[f32], [m, v]: [&mut [f32]; 2]) {
        let step = updates::AdamStep {
            alpha: self.alpha,
            decay: self.decay,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
        };
        updates::apply(Isa::selected(), &step, params, grads, [m, v]);
    }
}

impl Adam {
    /// Adam with the given learning rate and Keras' other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Self {
            settings: Settings::new(learning_rate),
            rule: AdamRule {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-7,
                weight_decay: 0.0,
                alpha: 0.0,
                decay: 0.0,
            },
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Sets `β1` and `β2`.
    pub fn betas(mut self, beta_1: f32, beta_2: f32) -> Self {
        (self.rule.beta_1, self.rule.beta_2) = (beta_1, beta_2);
        self
    }

    /// Sets `ε`.
    pub fn epsilon(mut self, epsilon: f32) -> Self {
        self.rule.epsilon = epsilon;
        self
    }
}

impl Default for Adam {
    fn default() -> Self {
        Self::new(0.001)
    }
}

impl Optimizer for Adam {
    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    fn prepare(&mut self, parameter_count: usize) {
        self.m = vec![0.0; parameter_count];
        self.v = vec![0.0; parameter_count];
    }

    fn rule(&mut self) -> (&dyn UpdateRule, [&mut [f32]; 2]) {
        let lr = self.settings.current_learning_rate();
        let t = self.settings.iterations() as i32;
        let rule = &mut self.rule;
        let (b1, b2) = (rule.beta_1, rule.beta_2);
        rule.alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        rule.decay = lr * rule.weight_decay;
        (&self.rule, [&mut self.m, &mut self.v])
    }
}

/// AdamW: Adam with decoupled weight decay, Keras' defaults (learning rate 0.001, weight decay
/// 0.004). Before each Adam update, `w ← w - lr · λ · w`.
#[derive(Debug)]
pub struct AdamW(Adam);

impl AdamW {
    /// AdamW with the given learning rate and weight decay `λ`.
    pub fn new(learning_rate: f32, weight_decay: f32) -> Self {
        let mut adam = Adam::new(learning_rate);
        adam.rule.weight_decay = weight_decay;
        Self(adam)
    }
}

impl Default for AdamW {
    fn default() -> Self {
        Self::new(0.001, 0.004)
    }
}

impl Optimizer for AdamW {
    fn settings(&self) -> &Settings {
        self.0.settings()
    }

    fn settings_mut(&mut self) -> &mut Settings {
        self.0.settings_mut()
    }

    fn prepare(&mut self, parameter_count: usize) {
        self.0.prepare(parameter_count);
    }

    fn rule(&mut self) -> (&dyn UpdateRule, [&mut [f32]; 2]) {
        self.0.rule()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_close, three_updates};
    use super::*;

    #[test]
    fn adam_first_three_updates() {
        // lr 0.1, β 0.9/0.999, ε 1e-7, g = (0.5, 1), (-1, 0.25), (2, 0). At t = 1 the bias
        // correction makes the step lr · g/|g| (up to ε): w = (0.9, -2.1). Then
        // t=2: m = (-0.055, 0.115), v = (0.0012498, 0.0010615), α = 0.1·√(1-0.999²)/(1-0.9²)
        // t=3: m = (0.1505, 0.1035), v = (0.0052485, 0.0010604), α = 0.1·√(1-0.999³)/(1-0.9³)
        assert_close(
            &three_updates(Adam::new(0.1)),
            &[
                [0.900_000_6, -2.099_999_7],
                [0.936_610_9, -2.183_059_2],
                [0.894_645_4, -2.247_264_4],
            ],
        );
    }

    #[test]
    fn adamw_first_three_updates() {
        // As Adam, after w -= lr·λ·w = 0.01 w at each step (lr 0.1, λ 0.1).
        assert_close(
            &three_updates(AdamW::new(0.1, 0.1)),
            &[
                [0.890_000_6, -2.079_999_7],
                [0.917_710_9, -2.142_259_2],
                [0.866_568_3, -2.185_042],
            ],
        );
    }
}
