//! An optimizer's step over a network's flat parameters, each tensor split between the threads
//! of a team: every thread clips and updates its own share of each tensor (and of the
//! optimizer's state) at once. On a team of one, the step is a loop over the tensors.

#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

use core::ops::Range;

use super::Optimizer;
use crate::kernels::{self, team::Team};
use crate::layer::Layer;

/// Other threads' gradients, not yet added to the gradients a step visits.
pub(crate) struct Pending<'a, N: Layer> {
    /// Their sum.
    pub(crate) others: Others<'a, N>,
    /// The thread that computed the gradients the step visits. It adds its share of the
    /// others to its share of them; the other threads add theirs to their shares of the
    /// others. So each thread writes memory it wrote before, which is in its cache, not in
    /// another core's.
    pub(crate) owner: usize,
}

/// The gradients of the threads whose gradients a step does not visit, summed.
#[cfg_attr(
    not(feature = "std"),
    expect(dead_code, reason = "made by `fit`, which needs `std`")
)]
pub(crate) enum Others<'a, N: Layer> {
    /// Flat: one value per parameter.
    Flat(&'a mut [f32]),
    /// One thread's gradients as it computed them, reached with [`Layer::visit_gradients`]
    /// (which the network supports): nothing was copied.
    Thread(&'a mut N::Grads),
}

impl<N: Layer> Others<'_, N> {
    /// Calls `f` with the other gradients of tensor `index` of the flat parameters, which spans
    /// `range` of them.
    fn with_tensor(&mut self, index: usize, range: Range<usize>, f: impl FnOnce(&mut [f32])) {
        match self {
            Others::Flat(sum) => f(&mut sum[range]),
            Others::Thread(grads) => {
                let (mut f, mut at) = (Some(f), 0);
                N::visit_gradients(grads, &mut |tensor| {
                    if at == index
                        && let Some(f) = f.take()
                    {
                        f(tensor);
                    }
                    at += 1;
                });
                debug_assert!(f.is_none(), "tensor {index} not visited");
            }
        }
    }
}

/// One optimizer step on `network` with the gradients `grads`, plus `pending` when given.
/// Clipping by norm needs every tensor's whole gradient first, so then the pending sum is
/// added to `grads` before the step; otherwise each thread adds its share of it as it updates
/// its share of the parameters.
pub(crate) fn step<O: Optimizer + ?Sized, N: Layer>(
    optimizer: &mut O,
    network: &mut N,
    grads: &mut N::Grads,
    mut pending: Option<Pending<'_, N>>,
    team: &Team<'_>,
) {
    optimizer.settings_mut().begin_step();
    let settings = optimizer.settings();
    let by_norm = settings.clipping.norm.is_some() || settings.global_clip_norm.is_some();
    if by_norm && let Some(pending) = pending.take() {
        add(network, grads, pending.others, team);
    }
    let global_scale = match settings.global_clip_norm {
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
    // A copy, since `rule` borrows the optimizer.
    let clipping = settings.clipping;
    let owner = pending.as_ref().map_or(0, |pending| pending.owner);
    let (rule, mut state) = optimizer.rule();
    let (mut offset, mut index) = (0, 0);
    network.visit_parameters(grads, &mut |params, grads| {
        let range = offset..offset + params.len();
        offset = range.end;
        let scale = clipping.tensor_scale(grads, global_scale);
        let [first, second] = state.each_mut().map(|s| match s.is_empty() {
            true => &mut [][..],
            false => &mut s[range.clone()],
        });
        let update = |sum: &mut [f32]| {
            let slices = [params, grads, sum, first, second];
            team.run_split(slices, &|share, [p, g, sum, first, second]| {
                let g = match (sum.is_empty(), share.thread == owner) {
                    (true, _) => g,
                    (false, true) => {
                        kernels::axpy(1.0, sum, g);
                        g
                    }
                    (false, false) => {
                        kernels::axpy(1.0, g, sum);
                        sum
                    }
                };
                clipping.clip(g, scale);
                rule.update(p, g, [first, second]);
            });
        };
        match pending.as_mut() {
            Some(pending) => pending.others.with_tensor(index, range, update),
            None => update(&mut []),
        }
        index += 1;
    });
}

/// `grads += others`, each tensor split between the team's threads.
pub(crate) fn add<N: Layer>(
    network: &mut N,
    grads: &mut N::Grads,
    mut others: Others<'_, N>,
    team: &Team<'_>,
) {
    let (mut offset, mut index) = (0, 0);
    network.visit_parameters(grads, &mut |_, grads| {
        let range = offset..offset + grads.len();
        offset = range.end;
        others.with_tensor(index, range, |sum| {
            team.run_split([grads, sum], &|_, [g, sum]| kernels::axpy(1.0, sum, g));
        });
        index += 1;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Linear;
    use crate::kernels::team::{SPLIT_MIN, with_team};
    use crate::layers::Dense;
    use crate::optim::schedule::StepDecay;
    use crate::optim::{Adagrad, Adam, AdamW, RmsProp, Sgd};

    /// A layer whose weights, 160 × 128 = 20,480 of them, are split between threads; its bias
    /// is not.
    type Wide = Dense<160, 128, Linear>;
    const COUNT: usize = 160 * 128 + 128;

    /// Values of every sign and size, different for each `seed`.
    fn values(seed: usize) -> Vec<f32> {
        (0..COUNT)
            .map(|i| (((i * 7919 + seed * 104_729) % 2001) as f32 - 1000.0) / 997.0)
            .collect()
    }

    fn set(layer: &mut Wide, grads: &mut <Wide as Layer>::Grads, flat: &[f32]) {
        let mut offset = 0;
        layer.visit_parameters(grads, &mut |_, g| {
            g.copy_from_slice(&flat[offset..offset + g.len()]);
            offset += g.len();
        });
    }

    fn parameters(layer: &mut Wide) -> Vec<u32> {
        let mut grads = layer.new_grads();
        let mut bits = Vec::new();
        layer.visit_parameters(&mut grads, &mut |p, _| {
            bits.extend(p.iter().map(|v| v.to_bits()))
        });
        bits
    }

    /// Three steps of `optimizer` on a team of `threads`, with a pending sum of other threads'
    /// gradients or without; the parameters after them, bit for bit.
    fn three_steps<O: Optimizer>(optimizer: O, threads: usize, pending: bool) -> Vec<u32> {
        let mut optimizer = optimizer;
        let mut layer = Wide::from_parameters([[0.5; 128]; 160], Some([-0.25; 128]));
        let mut grads = layer.new_grads();
        optimizer.prepare(COUNT);
        with_team(threads, |team| {
            for seed in 0..3 {
                set(&mut layer, &mut grads, &values(seed));
                let mut other = values(seed + 10);
                let pending = pending.then_some(Pending {
                    others: Others::Flat(&mut other),
                    owner: seed % threads,
                });
                step(&mut optimizer, &mut layer, &mut grads, pending, team);
            }
        });
        parameters(&mut layer)
    }

    #[test]
    #[cfg_attr(not(feature = "parallel"), ignore = "trains on several threads")]
    fn a_step_split_between_threads_is_the_step_of_one_thread_bit_for_bit() {
        const { assert!(160 * 128 >= SPLIT_MIN, "the weights are split") };
        fn check<O: Optimizer>(name: &str, optimizer: impl Fn() -> O) {
            for pending in [false, true] {
                let one = three_steps(optimizer(), 1, pending);
                for threads in [2, 3] {
                    let split = three_steps(optimizer(), threads, pending);
                    let differ = one.iter().zip(&split).position(|(a, b)| a != b);
                    assert_eq!(
                        differ, None,
                        "{name} on {threads} threads, pending {pending}"
                    );
                }
            }
        }
        check("sgd", || Sgd::new(0.1));
        check("nesterov", || Sgd::new(0.1).momentum(0.9).nesterov(true));
        check("adam", || Adam::new(0.01));
        check("adamw", || AdamW::new(0.01, 0.1));
        check("rmsprop", || RmsProp::new(0.01));
        check("adagrad", || Adagrad::new(0.1));
        check("clip by value", || Sgd::new(0.1).clip_value(0.3));
        check("clip by norm", || {
            Adam::new(0.01).clip_value(0.6).clip_norm(2.0)
        });
        check("global norm", || {
            Sgd::new(0.1).momentum(0.5).global_clip_norm(3.0)
        });
        check("schedule", || {
            Adam::new(0.01).with_schedule(StepDecay::new(0.01, 0.5, 1))
        });
    }

    #[test]
    #[cfg_attr(not(feature = "parallel"), ignore = "trains on several threads")]
    fn a_pending_sum_is_added_to_the_gradients() {
        // Plain SGD at rate 1 from zero weights: w = -(g + pending).
        let mut layer = Wide::from_parameters([[0.0; 128]; 160], Some([0.0; 128]));
        let mut grads = layer.new_grads();
        let (g, other) = (values(1), values(2));
        set(&mut layer, &mut grads, &g);
        let mut sgd = Sgd::new(1.0);
        let mut pending = other.clone();
        with_team(2, |team| {
            let pending = Pending {
                others: Others::Flat(&mut pending),
                owner: 1,
            };
            step(&mut sgd, &mut layer, &mut grads, Some(pending), team)
        });
        let found = parameters(&mut layer);
        for (k, ((a, b), w)) in g.iter().zip(&other).zip(found).enumerate() {
            assert_eq!(f32::from_bits(w), -(a + b), "parameter {k}");
        }
    }
}
