//! Adam and AdamW.

#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

use super::{ElementWise, KerasDefaults, Rule, UpdateRule};
use crate::kernels::{Isa, updates};

/// Adam with Keras' update rule and defaults (learning rate 0.001, `β1 = 0.9`, `β2 = 0.999`,
/// `ε = 1e-7`). At step `t` (from 1):
///
/// - `m ← m + (1 - β1)(g - m)`, `v ← v + (1 - β2)(g² - v)`
/// - `α = lr · √(1 - β2^t) / (1 - β1^t)`
/// - `w ← w - α · m / (√v + ε)`
pub type Adam = ElementWise<AdamRule<false>>;

/// AdamW: Adam with decoupled weight decay, Keras' defaults (learning rate 0.001, weight decay
/// `λ = 0.004`, Adam's other constants). Before each Adam update, `w ← w - lr · λ · w`.
///
/// ```
/// use netdsl_core::optim::{AdamW, Optimizer};
///
/// let adamw = AdamW::new(0.01, 0.1);
/// assert_eq!(adamw.learning_rate(), 0.01);
/// ```
pub type AdamW = ElementWise<AdamRule<true>>;

/// The rule of [`Adam`] and, with `DECOUPLED_DECAY`, of [`AdamW`]: its constants, and those of
/// one step. Its state is the moments `m` and `v`.
#[derive(Clone, Copy, Debug)]
pub struct AdamRule<const DECOUPLED_DECAY: bool> {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// The decoupled weight decay `λ` (AdamW); 0 for Adam.
    weight_decay: f32,
    /// The step's `α`, the learning rate with the bias correction.
    alpha: f32,
    /// The step's `lr · λ`.
    decay: f32,
}

impl<const DECOUPLED_DECAY: bool> UpdateRule for AdamRule<DECOUPLED_DECAY> {
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

impl<const DECOUPLED_DECAY: bool> Rule for AdamRule<DECOUPLED_DECAY> {
    fn state(&self) -> [Option<f32>; 2] {
        [Some(0.0), Some(0.0)]
    }

    fn state_names(&self) -> [&'static str; 2] {
        ["momentum", "velocity"]
    }

    fn begin_step(&mut self, learning_rate: f32, step: u64) {
        let t = step as i32;
        let (b1, b2) = (self.beta_1, self.beta_2);
        self.alpha = learning_rate * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        self.decay = learning_rate * self.weight_decay;
    }
}

impl<const DECOUPLED_DECAY: bool> AdamRule<DECOUPLED_DECAY> {
    /// Keras' constants, with weight decay `λ`.
    const fn keras(weight_decay: f32) -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            weight_decay,
            alpha: 0.0,
            decay: 0.0,
        }
    }
}

impl KerasDefaults for AdamRule<false> {
    const LEARNING_RATE: f32 = 0.001;
    const RULE: Self = Self::keras(0.0);
}

impl AdamW {
    /// AdamW with the given learning rate and weight decay `λ` (Keras' `weight_decay`), Keras'
    /// other defaults.
    pub fn new(learning_rate: f32, weight_decay: f32) -> Self {
        Self::with_rule(learning_rate, AdamRule::keras(weight_decay))
    }
}

impl Default for AdamW {
    /// AdamW with all of Keras' defaults: learning rate 0.001, weight decay 0.004.
    fn default() -> Self {
        Self::new(0.001, 0.004)
    }
}

impl<const DECOUPLED_DECAY: bool> ElementWise<AdamRule<DECOUPLED_DECAY>> {
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
