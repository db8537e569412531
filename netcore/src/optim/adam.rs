//! Adam and AdamW.

use super::{Optimizer, Settings};
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
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// Decoupled weight decay (AdamW); 0 for Adam.
    weight_decay: f32,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    /// Adam with the given learning rate and Keras' other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Self {
            settings: Settings::new(learning_rate),
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            weight_decay: 0.0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Sets `β1` and `β2`.
    pub fn betas(mut self, beta_1: f32, beta_2: f32) -> Self {
        (self.beta_1, self.beta_2) = (beta_1, beta_2);
        self
    }

    /// Sets `ε`.
    pub fn epsilon(mut self, epsilon: f32) -> Self {
        self.epsilon = epsilon;
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

    fn update(&mut self, offset: usize, params: &mut [f32], grads: &[f32]) {
        let lr = self.settings.current_learning_rate();
        let t = self.settings.iterations() as i32;
        let (b1, b2) = (self.beta_1, self.beta_2);
        let alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        let step = updates::AdamStep {
            alpha,
            decay: lr * self.weight_decay,
            beta_1: b1,
            beta_2: b2,
            epsilon: self.epsilon,
        };
        let range = offset..offset + params.len();
        updates::apply(
            Isa::selected(),
            &step,
            params,
            grads,
            [&mut self.m[range.clone()], &mut self.v[range]],
        );
    }
}

/// AdamW: Adam with decoupled weight decay, Keras' defaults (learning rate 0.001, weight decay
/// 0.004). Before each Adam update, `w ← w - lr · λ · w`.
#[derive(Debug)]
pub struct AdamW(Adam);

impl AdamW {
    /// AdamW with the given learning rate and weight decay `λ`.
    pub fn new(learning_rate: f32, weight_decay: f32) -> Self {
        Self(Adam {
            weight_decay,
            ..Adam::new(learning_rate)
        })
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

    fn update(&mut self, offset: usize, params: &mut [f32], grads: &[f32]) {
        self.0.update(offset, params, grads);
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
