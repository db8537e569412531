//! Learning-rate schedules: the learning rate as a function of the step, as Keras'
//! `LearningRateSchedule`s.

#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

use core::fmt::Debug;

/// A learning rate for each step (counted from 0).
pub trait Schedule: Debug {
    /// The learning rate at `step`.
    fn learning_rate(&self, step: u64) -> f32;
}

/// Step decay: `lr = initial · drop^⌊step / every⌋`.
#[derive(Clone, Copy, Debug)]
pub struct StepDecay {
    initial: f32,
    drop: f32,
    every: u64,
}

impl StepDecay {
    /// Multiplies the learning rate by `drop` every `every` steps.
    pub fn new(initial: f32, drop: f32, every: u64) -> Self {
        Self {
            initial,
            drop,
            every: every.max(1),
        }
    }
}

impl Schedule for StepDecay {
    fn learning_rate(&self, step: u64) -> f32 {
        self.initial * self.drop.powi((step / self.every) as i32)
    }
}

/// Keras' `ExponentialDecay`: `lr = initial · rate^(step / decay_steps)`, the exponent floored
/// when `staircase`.
#[derive(Clone, Copy, Debug)]
pub struct ExponentialDecay {
    initial: f32,
    decay_steps: u64,
    rate: f32,
    staircase: bool,
}

impl ExponentialDecay {
    /// A smooth exponential decay.
    pub fn new(initial: f32, decay_steps: u64, rate: f32) -> Self {
        Self {
            initial,
            decay_steps: decay_steps.max(1),
            rate,
            staircase: false,
        }
    }

    /// Floors the exponent, so the rate changes every `decay_steps` steps.
    pub fn staircase(mut self) -> Self {
        self.staircase = true;
        self
    }
}

impl Schedule for ExponentialDecay {
    fn learning_rate(&self, step: u64) -> f32 {
        let mut exponent = step as f64 / self.decay_steps as f64;
        if self.staircase {
            exponent = exponent.floor();
        }
        (f64::from(self.initial) * f64::from(self.rate).powf(exponent)) as f32
    }
}

/// Keras' `CosineDecay`: over `decay_steps`, from `initial` down to `alpha · initial` along half
/// a cosine, `lr = initial · ((1 - α) · ½(1 + cos(π · min(step, decay_steps) / decay_steps)) + α)`.
#[derive(Clone, Copy, Debug)]
pub struct CosineDecay {
    initial: f32,
    decay_steps: u64,
    alpha: f32,
}

impl CosineDecay {
    /// Decays to `alpha · initial` over `decay_steps` steps, then stays there.
    pub fn new(initial: f32, decay_steps: u64, alpha: f32) -> Self {
        Self {
            initial,
            decay_steps: decay_steps.max(1),
            alpha,
        }
    }
}

impl Schedule for CosineDecay {
    fn learning_rate(&self, step: u64) -> f32 {
        let progress = step.min(self.decay_steps) as f64 / self.decay_steps as f64;
        let cosine = 0.5 * (1.0 + (core::f64::consts::PI * progress).cos());
        (f64::from(self.initial) * ((1.0 - f64::from(self.alpha)) * cosine + f64::from(self.alpha)))
            as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_of_literal_values() {
        let step = StepDecay::new(0.1, 0.5, 10);
        assert_eq!(
            [0, 9, 10, 25].map(|s| step.learning_rate(s)),
            [0.1, 0.1, 0.05, 0.025]
        );
        let exp = ExponentialDecay::new(1.0, 10, 0.5);
        assert_eq!(exp.learning_rate(0), 1.0);
        assert!(
            (exp.learning_rate(5) - core::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6,
            "0.5^0.5"
        );
        assert_eq!(exp.staircase().learning_rate(15), 0.5);
        let cos = CosineDecay::new(1.0, 100, 0.1);
        assert_eq!(cos.learning_rate(0), 1.0);
        assert!((cos.learning_rate(50) - 0.55).abs() < 1e-6);
        assert!((cos.learning_rate(100) - 0.1).abs() < 1e-6);
        assert!((cos.learning_rate(1000) - 0.1).abs() < 1e-6);
    }
}
