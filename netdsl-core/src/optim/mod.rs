//! Optimizers: how a gradient becomes a parameter update, with Keras' formulas and defaults.
//!
//! Every optimizer shares [`Settings`]: a learning rate (constant or a [`Schedule`] of the step),
//! and gradient clipping by value, by norm or by global norm, as Keras' `clipvalue`,
//! `clipnorm` and `global_clipnorm`. Clipping happens in place on the gradients, so a step
//! allocates nothing.
//!
//! Each optimizer here is an [`ElementWise`] optimizer: the settings, a [`Rule`] (its formula
//! and constants) and the state the rule keeps per parameter. [`Sgd`], [`Adam`] and the others
//! name one rule each, and a new optimizer of this kind is one new rule.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;
#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

mod adagrad;
mod adam;
mod rmsprop;
pub mod schedule;
mod sgd;
pub(crate) mod step;

pub use adagrad::{Adagrad, AdagradRule};
pub use adam::{Adam, AdamRule, AdamW};
pub use rmsprop::{RmsProp, RmsPropRule};
pub use schedule::Schedule;
pub use sgd::{Sgd, SgdRule};

use core::fmt::Debug;

use crate::kernels::team::Team;
use crate::layer::Layer;

/// What every optimizer has: learning rate, schedule, clipping, and the step count.
#[derive(Debug)]
pub struct Settings {
    learning_rate: f32,
    schedule: Option<Box<dyn Schedule>>,
    clipping: Clipping,
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
            clipping: Clipping::default(),
            global_clip_norm: None,
            iterations: 0,
            current: learning_rate,
        }
    }

    /// Steps taken so far (Keras' `optimizer.iterations`).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Sets the step count, as a restored backup does: the schedule, Adam's bias correction
    /// and `fit`'s dropout masks read it.
    pub fn set_iterations(&mut self, iterations: u64) {
        self.iterations = iterations;
    }

    /// Whether the learning rate follows a [`Schedule`]: it does from
    /// [`Optimizer::with_schedule`] until [`Optimizer::set_learning_rate`] ends it.
    pub fn has_schedule(&self) -> bool {
        self.schedule.is_some()
    }

    /// The learning rate of the current step.
    pub fn current_learning_rate(&self) -> f32 {
        self.current
    }

    /// The learning rate in effect: the constant one, or under a schedule the rate of the
    /// latest step (of the first step, before any).
    fn learning_rate_in_effect(&self) -> f32 {
        match &self.schedule {
            Some(schedule) => schedule.learning_rate(self.iterations.saturating_sub(1)),
            None => self.learning_rate,
        }
    }

    /// The first of the learning rates of the next `steps` steps that is negative, NaN or
    /// infinite, with its step counted from 0 (the next one); `None` when every one is a
    /// finite rate of at least 0. `fit` asks before each epoch, so that no step of it trains
    /// with a rate that would ruin the weights (a NaN rate makes them all NaN).
    #[cfg_attr(not(feature = "std"), expect(dead_code, reason = "`fit` needs `std`"))]
    pub(crate) fn first_invalid_rate(&self, steps: u64) -> Option<(u64, f32)> {
        let invalid = |rate: f32| !(rate.is_finite() && rate >= 0.0);
        match &self.schedule {
            Some(schedule) => (0..steps)
                .map(|step| {
                    (
                        step,
                        schedule.learning_rate(self.iterations.saturating_add(step)),
                    )
                })
                .find(|&(_, rate)| invalid(rate)),
            None => invalid(self.learning_rate).then_some((0, self.learning_rate)),
        }
    }

    /// Advances the step count and fixes this step's learning rate.
    fn begin_step(&mut self) {
        self.current = match &self.schedule {
            Some(schedule) => schedule.learning_rate(self.iterations),
            None => self.learning_rate,
        };
        self.iterations += 1;
    }
}

/// Clipping of each gradient tensor on its own: by value, then by its norm (Keras' `clipvalue`
/// and `clipnorm`).
#[derive(Clone, Copy, Debug, Default)]
struct Clipping {
    value: Option<f32>,
    norm: Option<f32>,
}

impl Clipping {
    /// The factor a gradient tensor is scaled by after clipping by value: `global_scale` (the
    /// global-norm clipping factor, 1 when unused) times the tensor's own norm clipping factor,
    /// of its norm after clipping by value.
    fn tensor_scale(&self, grads: &[f32], global_scale: f32) -> f32 {
        let mut scale = global_scale;
        if let Some(limit) = self.norm {
            let norm = grads
                .iter()
                .map(|&g| self.by_value(g))
                .map(|g| g * g)
                .sum::<f32>()
                .sqrt();
            if norm > limit {
                scale *= limit / norm;
            }
        }
        scale
    }

    /// Clips any part of a gradient tensor in place: by value, then scaled by the tensor's
    /// [`Clipping::tensor_scale`].
    fn clip(&self, grads: &mut [f32], scale: f32) {
        if self.value.is_some() {
            for g in grads.iter_mut() {
                *g = self.by_value(*g);
            }
        }
        if scale != 1.0 {
            for g in grads.iter_mut() {
                *g *= scale;
            }
        }
    }

    fn by_value(&self, g: f32) -> f32 {
        match self.value {
            Some(limit) => g.clamp(-limit, limit),
            None => g,
        }
    }
}

/// What an optimizer does to each parameter at one step, with that step's constants (its
/// learning rate, Adam's bias correction): the same for every parameter, so any slice of the
/// parameters can be updated on its own. The threads of a parallel `fit` share the rule, each
/// updating its own slice.
pub trait UpdateRule: Sync {
    /// Updates `params` from `grads` and from the optimizer's state of these same parameters:
    /// one slice per kind of state the optimizer keeps (velocity, moments), as long as
    /// `params`, in the order [`Optimizer::rule`] gives them, then empty slices.
    fn update(&self, params: &mut [f32], grads: &[f32], state: [&mut [f32]; 2]);
}

/// A rule that updates parameters from their gradients.
///
/// A network's parameters reach the optimizer as flat tensors in a fixed order, which together
/// make one flat vector; an optimizer keeps its state (velocities, moments) in flat buffers
/// laid out alike, allocated once by [`Optimizer::prepare`], before training. Its rule is
/// element-wise ([`UpdateRule`]), so that a slice of the parameters is updated with the same
/// slice of each state buffer, by whichever thread owns that slice.
pub trait Optimizer {
    /// The shared settings.
    fn settings(&self) -> &Settings;

    /// The shared settings, mutably.
    fn settings_mut(&mut self) -> &mut Settings;

    /// Allocates state for `parameter_count` parameters. Called once, before the first step.
    fn prepare(&mut self, parameter_count: usize);

    /// The rule of the current step (fixed by its learning rate and step count, see
    /// [`Settings`]) and the optimizer's state: one flat buffer per kind of state it keeps,
    /// laid out as the flat parameters, then empty buffers.
    fn rule(&mut self) -> (&dyn UpdateRule, [&mut [f32]; 2]);

    /// Updates one parameter tensor from its (clipped) gradient with the current step's rule;
    /// `offset` is the tensor's position in the flat parameters.
    fn update(&mut self, offset: usize, params: &mut [f32], grads: &[f32]) {
        let range = offset..offset + params.len();
        let (rule, state) = self.rule();
        let state = state.map(|s| {
            if s.is_empty() {
                s
            } else {
                &mut s[range.clone()]
            }
        });
        rule.update(params, grads, state);
    }

    /// Calls `visit` with the name and values of each buffer of state the optimizer keeps per
    /// parameter, in a fixed order: Keras' names for its optimizers' variables (Adam's
    /// `momentum` and `velocity`), each buffer laid out as the flat parameters (sized by
    /// [`Optimizer::prepare`]). With [`Settings::iterations`] and the learning rate, this is
    /// everything the optimizer carries from one step to the next, so that a backup of it
    /// (`BackupAndRestore`) continues training exactly. The default visits nothing: an
    /// optimizer that keeps no state.
    ///
    /// ```
    /// use netdsl_core::activation::Linear;
    /// use netdsl_core::layer::Layer;
    /// use netdsl_core::layers::Dense;
    /// use netdsl_core::optim::{Adam, Optimizer, Sgd};
    ///
    /// let mut layer = Dense::<1, 2, Linear>::from_parameters([[1.0, -2.0]], None);
    /// let mut grads = layer.new_grads();
    /// layer.visit_parameters(&mut grads, &mut |_, g| g.copy_from_slice(&[0.5, -1.0]));
    /// let mut adam = Adam::new(0.1);
    /// adam.prepare(layer.parameter_count());
    /// adam.step(&mut layer, &mut grads);
    ///
    /// let mut state = Vec::new();
    /// adam.visit_state(&mut |name, values| state.push((name.to_owned(), values.to_vec())));
    /// // After one step, m = (1 - β1) g and v = (1 - β2) g², with β1 = 0.9 and β2 = 0.999.
    /// let (b1, b2) = (1.0 - 0.9_f32, 1.0 - 0.999_f32);
    /// assert_eq!(state[0], ("momentum".to_owned(), vec![b1 * 0.5, b1 * -1.0]));
    /// assert_eq!(state[1], ("velocity".to_owned(), vec![b2 * 0.25, b2 * 1.0]));
    /// assert_eq!(adam.settings().iterations(), 1);
    ///
    /// // Plain SGD keeps nothing; with momentum, its velocity is Keras' `momentum`.
    /// let mut names = Vec::new();
    /// Sgd::new(0.1).visit_state(&mut |name, _| names.push(name.to_owned()));
    /// Sgd::new(0.1).momentum(0.9).visit_state(&mut |name, _| names.push(name.to_owned()));
    /// assert_eq!(names, ["momentum"]);
    /// ```
    fn visit_state(&mut self, _visit: &mut dyn FnMut(&str, &mut [f32])) {}

    /// The learning rate in effect (Keras' `optimizer.learning_rate`): the constant rate, or
    /// under a schedule the rate of the latest step (of the first step, before any). `fit`
    /// logs it after each epoch (its `learning_rate`), and callbacks read it.
    fn learning_rate(&self) -> f32 {
        self.settings().learning_rate_in_effect()
    }

    /// Sets a constant learning rate for the steps that follow; callbacks such as
    /// reduce-on-plateau use this. It ends the schedule, if there is one: the callback wins
    /// (Keras 3 instead refuses to set the rate of an optimizer given a schedule), and
    /// [`Optimizer::learning_rate`] reports the rate set.
    ///
    /// ```
    /// use netdsl_core::activation::Linear;
    /// use netdsl_core::layer::Layer;
    /// use netdsl_core::layers::Dense;
    /// use netdsl_core::optim::schedule::StepDecay;
    /// use netdsl_core::optim::{Optimizer, Sgd};
    ///
    /// let mut layer = Dense::<1, 1, Linear>::from_parameters([[0.0]], None);
    /// let mut grads = layer.new_grads();
    /// // Halved after each step.
    /// let mut sgd = Sgd::new(0.1).with_schedule(StepDecay::new(0.1, 0.5, 1));
    /// sgd.prepare(layer.parameter_count());
    /// assert_eq!(sgd.learning_rate(), 0.1); // the first step's, before any
    /// sgd.step(&mut layer, &mut grads);
    /// sgd.step(&mut layer, &mut grads);
    /// assert_eq!(sgd.learning_rate(), 0.05); // the second step's
    ///
    /// sgd.set_learning_rate(0.01); // the schedule ends
    /// sgd.step(&mut layer, &mut grads);
    /// assert_eq!(sgd.settings().current_learning_rate(), 0.01);
    /// assert_eq!(sgd.learning_rate(), 0.01);
    /// ```
    fn set_learning_rate(&mut self, learning_rate: f32) {
        let settings = self.settings_mut();
        settings.schedule = None;
        settings.learning_rate = learning_rate;
    }

    /// Follows `schedule` instead of a constant learning rate, until
    /// [`Optimizer::set_learning_rate`] sets one.
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
        self.settings_mut().clipping.value = Some(limit);
        self
    }

    /// Rescales each gradient tensor whose L2 norm exceeds `limit` to that norm (Keras'
    /// `clipnorm`).
    fn clip_norm(mut self, limit: f32) -> Self
    where
        Self: Sized,
    {
        self.settings_mut().clipping.norm = Some(limit);
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
        step::step(self, network, grads, None, &Team::alone());
    }
}

/// The formula of an [`ElementWise`] optimizer: the state it keeps per parameter, the
/// constants it takes from each step's learning rate and count, and (as an [`UpdateRule`]) the
/// update itself.
pub trait Rule: UpdateRule + Debug {
    /// The state buffers the rule keeps, each as long as the flat parameters and passed to
    /// [`UpdateRule::update`] in this order: the starting value of each, or `None` for a buffer
    /// not kept.
    fn state(&self) -> [Option<f32>; 2];

    /// Fixes the constants of step `step` (counted from 1), whose learning rate is
    /// `learning_rate`.
    fn begin_step(&mut self, learning_rate: f32, step: u64);

    /// The names of the state buffers, in the order of [`Rule::state`], as
    /// [`Optimizer::visit_state`] gives them: Keras' names for its optimizers' variables
    /// (`momentum`, `velocity`, `accumulator`); a buffer not kept is never named, so its name
    /// may be empty. The default, `state_1` and `state_2`, is for rules of your own.
    fn state_names(&self) -> [&'static str; 2] {
        ["state_1", "state_2"]
    }
}

/// An optimizer that updates every parameter by the same [`Rule`]: the shared [`Settings`], the
/// rule, and the rule's state. [`Sgd`], [`Adam`], [`AdamW`], [`RmsProp`] and [`Adagrad`] are
/// this type with their own rules.
///
/// ```
/// use netdsl_core::optim::{ElementWise, Optimizer, Rule, UpdateRule};
///
/// /// Sign descent: `w ← w - lr · sign(g)`.
/// #[derive(Debug)]
/// struct SignRule(f32);
///
/// impl UpdateRule for SignRule {
///     fn update(&self, params: &mut [f32], grads: &[f32], _: [&mut [f32]; 2]) {
///         for (w, g) in params.iter_mut().zip(grads) {
///             *w -= self.0 * g.signum();
///         }
///     }
/// }
///
/// impl Rule for SignRule {
///     fn state(&self) -> [Option<f32>; 2] {
///         [None, None]
///     }
///     fn begin_step(&mut self, learning_rate: f32, _step: u64) {
///         self.0 = learning_rate;
///     }
/// }
///
/// let mut sign = ElementWise::with_rule(0.5, SignRule(0.0));
/// sign.prepare(2);
/// let mut w = [1.0, 1.0];
/// sign.update(0, &mut w, &[0.25, -3.0]);
/// assert_eq!(w, [0.5, 1.5]);
/// ```
#[derive(Debug)]
pub struct ElementWise<R> {
    settings: Settings,
    rule: R,
    state: [Vec<f32>; 2],
}

impl<R> ElementWise<R> {
    /// An optimizer following `rule`, at a constant `learning_rate`, without clipping.
    pub fn with_rule(learning_rate: f32, rule: R) -> Self {
        Self {
            settings: Settings::new(learning_rate),
            rule,
            state: [Vec::new(), Vec::new()],
        }
    }
}

/// A rule with Keras' defaults: the optimizer's default learning rate and the rule's constants.
/// It gives its [`ElementWise`] optimizer `new(learning_rate)` and [`Default`].
pub trait KerasDefaults: Rule + Sized {
    /// Keras' default learning rate for this optimizer.
    const LEARNING_RATE: f32;

    /// The rule with Keras' constants.
    const RULE: Self;
}

impl<R: KerasDefaults> ElementWise<R> {
    /// The optimizer at `learning_rate`, with Keras' other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Self::with_rule(learning_rate, R::RULE)
    }
}

impl<R: KerasDefaults> Default for ElementWise<R> {
    /// The optimizer with all of Keras' defaults.
    fn default() -> Self {
        Self::new(R::LEARNING_RATE)
    }
}

impl<R: Rule> Optimizer for ElementWise<R> {
    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    fn prepare(&mut self, parameter_count: usize) {
        for (buffer, start) in self.state.iter_mut().zip(self.rule.state()) {
            *buffer = start.map_or_else(Vec::new, |start| vec![start; parameter_count]);
        }
    }

    fn visit_state(&mut self, visit: &mut dyn FnMut(&str, &mut [f32])) {
        let kept = self.rule.state().map(|start| start.is_some());
        let names = self.rule.state_names();
        for ((buffer, kept), name) in self.state.iter_mut().zip(kept).zip(names) {
            if kept {
                visit(name, buffer);
            }
        }
    }

    fn rule(&mut self) -> (&dyn UpdateRule, [&mut [f32]; 2]) {
        let settings = &self.settings;
        self.rule
            .begin_step(settings.current_learning_rate(), settings.iterations());
        let [first, second] = &mut self.state;
        (&self.rule, [first, second])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three updates of `w = [1, -2]` with gradients `[0.5, 1]`, `[-1, 0.25]`, `[2, 0]`, through
    /// [`Optimizer::step`] on a one-tensor "network".
    fn three_updates(mut optimizer: impl Optimizer) -> Vec<[f32; 2]> {
        optimizer.prepare(2);
        let mut w = [1.0, -2.0];
        [[0.5, 1.0], [-1.0, 0.25], [2.0, 0.0]]
            .iter()
            .map(|g| {
                optimizer.settings_mut().begin_step();
                let mut g = *g;
                clip(optimizer.settings(), &mut g);
                optimizer.update(0, &mut w, &g);
                w
            })
            .collect()
    }

    /// Clips a one-tensor gradient as a step does.
    fn clip(settings: &Settings, grads: &mut [f32]) {
        let scale = settings.clipping.tensor_scale(grads, 1.0);
        settings.clipping.clip(grads, scale);
    }

    #[test]
    fn every_rule_first_three_updates() {
        // Worked by hand from Keras' formulas; w = [1, -2], g = (0.5, 1), (-1, 0.25), (2, 0).
        let cases = [
            // w -= 0.1 g
            (
                "sgd",
                three_updates(Sgd::new(0.1)),
                [[0.95, -2.1], [1.05, -2.125], [0.85, -2.125]],
            ),
            // v1 = (-0.05, -0.1); v2 = 0.9 v1 - 0.1 g2 = (0.055, -0.115); v3 = (-0.1505, -0.1035)
            (
                "momentum",
                three_updates(Sgd::new(0.1).momentum(0.9)),
                [[0.95, -2.1], [1.005, -2.215], [0.8545, -2.3185]],
            ),
            // w += 0.9 v - 0.1 g with the v of momentum:
            // step 1: 0.9(-0.05, -0.1) - (0.05, 0.1) = (-0.095, -0.19)
            // step 2: 0.9(0.055, -0.115) - (-0.1, 0.025) = (0.1495, -0.1285)
            // step 3: 0.9(-0.1505, -0.1035) - (0.2, 0) = (-0.33545, -0.09315)
            (
                "nesterov",
                three_updates(Sgd::new(0.1).momentum(0.9).nesterov(true)),
                [[0.905, -2.19], [1.0545, -2.3185], [0.71905, -2.41165]],
            ),
            // g clipped to [-0.5, 0.5]: (0.5, 0.5), (-0.5, 0.25), (0.5, 0)
            (
                "sgd clipped by value",
                three_updates(Sgd::new(0.1).clip_value(0.5)),
                [[0.95, -2.05], [1.0, -2.075], [0.95, -2.075]],
            ),
            // lr 0.1, β 0.9/0.999, ε 1e-7. At t = 1 the bias correction makes the step
            // lr · g/|g| (up to ε): w = (0.9, -2.1). Then
            // t=2: m = (-0.055, 0.115), v = (0.0012498, 0.0010615), α = 0.1·√(1-0.999²)/(1-0.9²)
            // t=3: m = (0.1505, 0.1035), v = (0.0052485, 0.0010604), α = 0.1·√(1-0.999³)/(1-0.9³)
            (
                "adam",
                three_updates(Adam::new(0.1)),
                [
                    [0.900_000_6, -2.099_999_7],
                    [0.936_610_9, -2.183_059_2],
                    [0.894_645_4, -2.247_264_4],
                ],
            ),
            // As Adam, after w -= lr·λ·w = 0.01 w at each step (lr 0.1, λ 0.1).
            (
                "adamw",
                three_updates(AdamW::new(0.1, 0.1)),
                [
                    [0.890_000_6, -2.079_999_7],
                    [0.917_710_9, -2.142_259_2],
                    [0.866_568_3, -2.185_042],
                ],
            ),
            // lr 0.1, ρ 0.9:
            // v1 = (0.025, 0.1): w -= 0.1 g/√(v + ε) ≈ (0.316228, 0.316227) → (0.6837729, -2.3162276)
            // v2 = (0.1225, 0.09625): step (-0.285714, 0.080582) → (0.969487, -2.3968099)
            // v3 = (0.51025, 0.086625): step (0.279987, 0) → (0.6894997, -2.3968099)
            (
                "rmsprop",
                three_updates(RmsProp::new(0.1)),
                [
                    [0.683_772_9, -2.316_227_6],
                    [0.969_487, -2.396_809_9],
                    [0.689_499_7, -2.396_809_9],
                ],
            ),
            // lr 0.1, a0 = 0.1:
            // a1 = (0.35, 1.1): step (0.0845154, 0.0953463) → (0.9154846, -2.0953463)
            // a2 = (1.35, 1.1625): step (-0.0860663, 0.0231869) → (1.0015509, -2.1185332)
            // a3 = (5.35, 1.1625): step (0.0864675, 0) → (0.9150834, -2.1185332)
            (
                "adagrad",
                three_updates(Adagrad::new(0.1)),
                [
                    [0.915_484_6, -2.095_346_3],
                    [1.001_550_9, -2.118_533_2],
                    [0.915_083_4, -2.118_533_2],
                ],
            ),
        ];
        for (name, found, expected) in cases {
            for (step, (f, e)) in found.iter().zip(expected).enumerate() {
                for k in 0..2 {
                    assert!(
                        (f[k] - e[k]).abs() < 1e-5,
                        "{name}, step {}: w[{k}] = {}, expected {}",
                        step + 1,
                        f[k],
                        e[k]
                    );
                }
            }
        }
    }

    /// Each state buffer of `optimizer` after one update of `w = [1, -2]` by `g = [0.5, 1]`.
    fn state_after_one_update(mut optimizer: impl Optimizer) -> Vec<(String, Vec<f32>)> {
        optimizer.prepare(2);
        optimizer.settings_mut().begin_step();
        optimizer.update(0, &mut [1.0, -2.0], &[0.5, 1.0]);
        let mut state = Vec::new();
        optimizer.visit_state(&mut |name, values| state.push((name.to_owned(), values.to_vec())));
        state
    }

    #[test]
    fn every_optimizer_visits_its_state_under_keras_names() {
        let named = |name: &str, values: [f32; 2]| (name.to_owned(), values.to_vec());
        // g = (0.5, 1), lr 0.1, by hand from Keras' formulas (the constants `1 - β` in f32).
        let (b1, b2, rho) = (1.0 - 0.9_f32, 1.0 - 0.999_f32, 1.0 - 0.9_f32);
        let cases = [
            ("sgd", state_after_one_update(Sgd::new(0.1)), vec![]),
            // v = -lr g
            (
                "momentum",
                state_after_one_update(Sgd::new(0.1).momentum(0.9)),
                vec![named("momentum", [-0.05, -0.1])],
            ),
            // m = (1 - β1) g, v = (1 - β2) g²
            (
                "adam",
                state_after_one_update(Adam::new(0.1)),
                vec![
                    named("momentum", [b1 * 0.5, b1]),
                    named("velocity", [b2 * 0.25, b2]),
                ],
            ),
            (
                "adamw",
                state_after_one_update(AdamW::new(0.1, 0.1)),
                vec![
                    named("momentum", [b1 * 0.5, b1]),
                    named("velocity", [b2 * 0.25, b2]),
                ],
            ),
            // v = (1 - ρ) g²
            (
                "rmsprop",
                state_after_one_update(RmsProp::new(0.1)),
                vec![named("velocity", [rho * 0.25, rho])],
            ),
            // a = 0.1 + g²
            (
                "adagrad",
                state_after_one_update(Adagrad::new(0.1)),
                vec![named("accumulator", [0.35, 1.1])],
            ),
        ];
        for (name, found, expected) in cases {
            assert_eq!(found.len(), expected.len(), "{name}: {found:?}");
            for ((found_name, found), (expected_name, expected)) in found.iter().zip(&expected) {
                assert_eq!(found_name, expected_name, "{name}");
                for (f, e) in found.iter().zip(expected) {
                    assert!(
                        (f - e).abs() <= 1e-7,
                        "{name} `{found_name}`: {f}, expected {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_step_count_and_the_schedule_are_read_and_set() {
        let mut sgd = Sgd::new(1.0).with_schedule(schedule::StepDecay::new(1.0, 0.5, 2));
        assert!(sgd.settings().has_schedule());
        sgd.settings_mut().set_iterations(4);
        assert_eq!(sgd.settings().iterations(), 4);
        // The rate in effect is the 4th step's (step 3 from 0): 1 · 0.5^⌊3 / 2⌋.
        assert_eq!(sgd.learning_rate(), 0.5);
        sgd.settings_mut().begin_step();
        assert_eq!(
            sgd.settings().current_learning_rate(),
            0.25,
            "step 4 from 0"
        );
        sgd.set_learning_rate(0.1);
        assert!(!sgd.settings().has_schedule());
    }

    #[test]
    fn clipping_by_value_and_by_norm() {
        let mut s = Settings::new(0.1);
        s.clipping.value = Some(0.5);
        let mut g = [2.0, -0.25, -3.0];
        clip(&s, &mut g);
        assert_eq!(g, [0.5, -0.25, -0.5]);

        let mut s = Settings::new(0.1);
        s.clipping.norm = Some(1.0);
        let mut g = [3.0, 4.0];
        clip(&s, &mut g);
        assert_eq!(g, [0.6, 0.8]);
        let mut small = [0.3, 0.4];
        clip(&s, &mut small);
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
