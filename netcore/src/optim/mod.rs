//! Optimizers: how a gradient becomes a parameter update, with Keras' formulas and defaults.
//!
//! Every optimizer shares [`Settings`]: a learning rate (constant or a [`Schedule`] of the step),
//! and gradient clipping by value, by norm or by global norm, as Keras' `clipvalue`,
//! `clipnorm` and `global_clipnorm`. Clipping happens in place on the gradients, so a step
//! allocates nothing.

mod adagrad;
mod adam;
mod rmsprop;
pub mod schedule;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use rmsprop::RmsProp;
pub use schedule::Schedule;
pub use sgd::Sgd;

use crate::layer::Layer;

/// What every optimizer has: learning rate, schedule, clipping, and the step count.
#[derive(Debug)]
pub struct Settings {
    learning_rate: f32,
    schedule: Option<Box<dyn Schedule>>,
    clip_value: Option<f32>,
    clip_norm: Option<f32>,
    global_clip_norm: Option<f32>,
    iterations: u64,
    current: f32,
}

impl Settings {
    /// A constant learning rate, no clipping.
    pub fn new(learning_rate: f32) -> Self {
        Self {
            learning_rate,
            schedule: None,
            clip_value: None,
            clip_norm: None,
            global_clip_norm: None,
            iterations: 0,
            current: learning_rate,
        }
    }

    /// Steps taken so far (Keras' `optimizer.iterations`).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// The learning rate of the current step.
    pub fn current_learning_rate(&self) -> f32 {
        self.current
    }

    /// Advances the step count and fixes this step's learning rate.
    fn begin_step(&mut self) {
        self.current = match &self.schedule {
            Some(schedule) => schedule.learning_rate(self.iterations),
            None => self.learning_rate,
        };
        self.iterations += 1;
    }

    /// Clips one gradient tensor in place by value and by its own norm, then scales it by
    /// `global_scale` (the global-norm clipping factor, 1 when unused).
    fn clip(&self, grads: &mut [f32], global_scale: f32) {
        if let Some(limit) = self.clip_value {
            for g in grads.iter_mut() {
                *g = g.clamp(-limit, limit);
            }
        }
        let mut scale = global_scale;
        if let Some(limit) = self.clip_norm {
            let norm = grads.iter().map(|g| g * g).sum::<f32>().sqrt();
            if norm > limit {
                scale *= limit / norm;
            }
        }
        if scale != 1.0 {
            for g in grads.iter_mut() {
                *g *= scale;
            }
        }
    }
}

/// A rule that updates parameters from their gradients.
///
/// A network's parameters reach the optimizer as flat tensors in a fixed order; `offset` is a
/// tensor's position in the concatenation of all of them, so an optimizer keeps its state
/// (velocities, moments) in buffers allocated once by [`Optimizer::prepare`], before training.
pub trait Optimizer {
    /// The shared settings.
    fn settings(&self) -> &Settings;

    /// The shared settings, mutably.
    fn settings_mut(&mut self) -> &mut Settings;

    /// Allocates state for `parameter_count` parameters. Called once, before the first step.
    fn prepare(&mut self, parameter_count: usize);

    /// Updates one parameter tensor from its (clipped) gradient, at this step's learning rate
    /// (`self.settings().current_learning_rate()`).
    fn update(&mut self, offset: usize, params: &mut [f32], grads: &[f32]);

    /// The learning rate without a schedule (Keras' `optimizer.learning_rate`).
    fn learning_rate(&self) -> f32 {
        self.settings().learning_rate
    }

    /// Sets the learning rate; callbacks such as reduce-on-plateau use this.
    fn set_learning_rate(&mut self, learning_rate: f32) {
        self.settings_mut().learning_rate = learning_rate;
    }

    /// Follows `schedule` instead of a constant learning rate.
    fn with_schedule(mut self, schedule: impl Schedule + 'static) -> Self
    where
        Self: Sized,
    {
        self.settings_mut().schedule = Some(Box::new(schedule));
        self
    }

    /// Clips each gradient element to `[-limit, limit]` (Keras' `clipvalue`).
    fn clip_value(mut self, limit: f32) -> Self
    where
        Self: Sized,
    {
        self.settings_mut().clip_value = Some(limit);
        self
    }

    /// Rescales each gradient tensor whose L2 norm exceeds `limit` to that norm (Keras'
    /// `clipnorm`).
    fn clip_norm(mut self, limit: f32) -> Self
    where
        Self: Sized,
    {
        self.settings_mut().clip_norm = Some(limit);
        self
    }

    /// Rescales all gradients together when their joint L2 norm exceeds `limit` (Keras'
    /// `global_clipnorm`).
    fn global_clip_norm(mut self, limit: f32) -> Self
    where
        Self: Sized,
    {
        self.settings_mut().global_clip_norm = Some(limit);
        self
    }

    /// One step: clips `grads` in place as configured, then updates every parameter of `network`.
    fn step<N: Layer>(&mut self, network: &mut N, grads: &mut N::Grads)
    where
        Self: Sized,
    {
        self.settings_mut().begin_step();
        let global_scale = match self.settings().global_clip_norm {
            Some(limit) => {
                let mut sum = 0.0_f32;
                network.visit_parameters(grads, &mut |_, g| {
                    sum += g.iter().map(|g| g * g).sum::<f32>()
                });
                let norm = sum.sqrt();
                if norm > limit { limit / norm } else { 1.0 }
            }
            None => 1.0,
        };
        let mut offset = 0;
        network.visit_parameters(grads, &mut |params, grads| {
            self.settings().clip(grads, global_scale);
            self.update(offset, params, grads);
            offset += params.len();
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Three updates of `w = [1, -2]` with gradients `[0.5, 1]`, `[-1, 0.25]`, `[2, 0]`, through
    /// [`Optimizer::step`] on a one-tensor "network".
    pub fn three_updates(mut optimizer: impl Optimizer) -> Vec<[f32; 2]> {
        optimizer.prepare(2);
        let mut w = [1.0, -2.0];
        [[0.5, 1.0], [-1.0, 0.25], [2.0, 0.0]]
            .iter()
            .map(|g| {
                optimizer.settings_mut().begin_step();
                let mut g = *g;
                optimizer.settings().clip(&mut g, 1.0);
                optimizer.update(0, &mut w, &g);
                w
            })
            .collect()
    }

    pub fn assert_close(found: &[[f32; 2]], expected: &[[f32; 2]]) {
        for (step, (f, e)) in found.iter().zip(expected).enumerate() {
            for k in 0..2 {
                assert!(
                    (f[k] - e[k]).abs() < 1e-5,
                    "step {}: w[{k}] = {}, expected {}",
                    step + 1,
                    f[k],
                    e[k]
                );
            }
        }
    }

    #[test]
    fn clipping_by_value_and_by_norm() {
        let mut s = Settings::new(0.1);
        s.clip_value = Some(0.5);
        let mut g = [2.0, -0.25, -3.0];
        s.clip(&mut g, 1.0);
        assert_eq!(g, [0.5, -0.25, -0.5]);

        let mut s = Settings::new(0.1);
        s.clip_norm = Some(1.0);
        let mut g = [3.0, 4.0];
        s.clip(&mut g, 1.0);
        assert_eq!(g, [0.6, 0.8]);
        let mut small = [0.3, 0.4];
        s.clip(&mut small, 1.0);
        assert_eq!(small, [0.3, 0.4], "under the limit: unchanged");
    }

    #[test]
    fn global_norm_clipping_scales_every_tensor_together() {
        use crate::activation::Linear;
        use crate::layers::Dense;
        // Weights [[0]], bias [0]; gradients dW = 3, db = 4: global norm 5, limit 1.
        let mut layer = Dense::<1, 1, Linear>::from_parameters([[0.0]], Some([0.0]));
        let mut grads = layer.new_grads();
        let mut given = [3.0, 4.0].into_iter();
        layer.visit_parameters(&mut grads, &mut |_, g| g[0] = given.next().unwrap());
        let mut sgd = Sgd::new(1.0).global_clip_norm(1.0);
        sgd.prepare(2);
        sgd.step(&mut layer, &mut grads);
        assert!(
            (layer.weights()[0][0] + 0.6).abs() < 1e-6,
            "{:?}",
            layer.weights()
        );
        assert!(
            (layer.bias().unwrap()[0] + 0.8).abs() < 1e-6,
            "{:?}",
            layer.bias()
        );
    }

    #[test]
    fn a_schedule_sets_each_step_learning_rate() {
        let mut sgd = Sgd::new(1.0).with_schedule(schedule::StepDecay::new(1.0, 0.5, 2));
        sgd.prepare(1);
        let mut rates = Vec::new();
        for _ in 0..5 {
            sgd.settings_mut().begin_step();
            rates.push(sgd.settings().current_learning_rate());
        }
        assert_eq!(rates, [1.0, 1.0, 0.5, 0.5, 0.25]);
    }
}
