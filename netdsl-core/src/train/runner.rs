//! The epoch runner: the steps of an epoch on a team of `n` threads, the calling thread being
//! thread 0. A step trains `n × B` samples:
//!
//! ```text
//! every thread k:  gather shard k ─ forward ─ loss ─ backward ─┐
//! thread 0:        sum the gradients but the last thread's (reduce.rs) ─┐
//! every thread:    add the last thread's, clip and update its share of the parameters
//!                  (optim::step) ─ next step
//! ```
//!
//! The shards are one job of the team, the update one per large tensor (and the sum too from
//! three threads on), so the threads meet between phases, and the parameters change only
//! while no thread reads them. One thread is the `n = 1` case of the same step: its shard is
//! the whole batch, there is nothing to sum, and its share of each tensor is all of it.
//!
//! After the update, the calling thread moves the state the network keeps without training it
//! (batch normalization's moving statistics) by the mean of what each thread's forward pass
//! measured on its shard ([`Layer::update_state`]), reading the other threads' tapes while
//! they wait for the next step.
//!
//! Before each step, every thread's tape draws its random values (dropout's masks) from a
//! stream of the layers' seeds fixed by the optimizer's step count and the thread, not from a
//! generator that runs on from the steps before: so the steps a resumed fit takes drop what
//! those of the fit it resumes would have (`Runner::seed_tapes`).

use std::ops::Range;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::Totals;
use super::reduce;
use super::shard::Shard;
use crate::data::{Sample, Source};
use crate::kernels::team::Team;
use crate::layer::Layer;
use crate::loss::Loss;
use crate::metrics::{Metric, MetricValues};
use crate::optim::{Optimizer, step};

/// A network the threads of a `fit` can share: each reads it during a step and owns its tape
/// and gradients, which are made on the calling thread. Every layer of netdsl is one.
pub(super) trait Shared<const B: usize>: Layer<Tape<B>: Send, Grads: Send> + Sync {}

impl<N: Layer<Tape<B>: Send, Grads: Send> + Sync, const B: usize> Shared<B> for N {}

/// What the runner calls around each step: `(runner, network, step from 1, event)`, returning
/// whether to end the epoch after that step.
pub(super) type OnBatch<'a, R, N> = dyn FnMut(&mut R, &mut N, usize, BatchEvent) -> bool + 'a;

/// Where a step is when the runner calls [`OnBatch`].
#[expect(
    clippy::large_enum_variant,
    reason = "made once per step and passed by value: boxing the logs would allocate per step"
)]
pub(super) enum BatchEvent {
    /// About to run.
    Begin,
    /// Applied, with the epoch's running sums and metrics, this step's included.
    End(Totals, MetricValues),
}

/// Why a step ended its epoch early: a value that is not finite (which the update was not
/// applied with), or samples that could not be read (before anything was trained).
pub(super) enum StepFailure {
    NonFinite(&'static str),
    Read(crate::data::Error),
}

/// The metrics a fit measures, as the runner updates them.
pub(super) type MetricList<'m, 'a> = [&'m mut (dyn Metric + 'a)];

/// Where an epoch starts: the steps already taken of it, by a fit this one resumes, and their
/// sums. An epoch from its start is `Partial::default()`.
#[derive(Clone, Copy, Default)]
pub(super) struct Partial {
    pub(super) steps: usize,
    pub(super) totals: Totals,
}

/// What one thread of the team trains with: its buffers and gradients, its own copy of the
/// loss, and the totals of its shard of the current step.
pub(super) struct Lane<'w, N: Layer, L, const B: usize> {
    pub(super) shard: &'w mut Shard<N, B>,
    pub(super) loss: L,
    pub(super) totals: Totals,
    /// What kept the lane from reading its samples in the last step.
    pub(super) error: Option<crate::data::Error>,
}

impl<'w, N: Layer, L, const B: usize> Lane<'w, N, L, B> {
    pub(super) fn new(shard: &'w mut Shard<N, B>, loss: L) -> Self {
        Self {
            shard,
            loss,
            totals: Totals::default(),
            error: None,
        }
    }
}

/// Everything the steps of an epoch use besides the network and the data: the team and one
/// lane per thread of it, the flat sum of the other threads' gradients (empty on one thread),
/// the optimizer, and the order of the training samples.
pub(super) struct Runner<'r, 'w, N: Layer, O, L, const B: usize> {
    pub(super) team: &'r Team<'r>,
    pub(super) lanes: &'r mut [Lane<'w, N, L, B>],
    pub(super) sum: &'r mut [f32],
    pub(super) optimizer: &'r mut O,
    pub(super) order: &'r mut Vec<usize>,
    /// The weight of each class in the training loss, or none ([`super::Fit::class_weight`]).
    pub(super) class_weights: &'r [f32],
}

impl<N: Shared<B>, O: Optimizer, L: Loss<N::Activation> + Send, const B: usize>
    Runner<'_, '_, N, O, L, B>
{
    /// One pass over the samples `range` of `data`, shuffling the order left by the previous
    /// epoch with `rng` when given, in steps of `threads × B` samples: thread `k` trains the
    /// `k`-th `B` of each step (the last step may be partial: its missing rows get a zero
    /// gradient and its mean is over the rows present). The steps `from` took already are
    /// skipped, and the epoch's sums start from theirs. `metrics` are reset, then updated with
    /// every sample's output and target. Calls `on_batch(steps done, running sums, running
    /// metrics)` after each step, with the runner and the network, and ends the epoch after that
    /// step when it returns `true`. With `check_finite`, a step whose loss or gradients are not
    /// finite is not applied and ends the epoch with `Err((step, what))`.
    #[expect(
        clippy::too_many_arguments,
        reason = "one epoch's inputs, each used once"
    )]
    pub(super) fn run_epoch<D: Source<IN, OUT>, const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &D,
        range: Range<usize>,
        rng: Option<&mut StdRng>,
        from: Partial,
        check_finite: bool,
        metrics: &mut MetricList<'_, '_>,
        on_batch: &mut OnBatch<'_, Self, N>,
    ) -> Result<Totals, (usize, StepFailure)>
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]>,
    {
        for metric in metrics.iter_mut() {
            metric.reset();
        }
        if self.order.len() != range.len() {
            reset_order(self.order, range.len());
        }
        if let Some(rng) = rng {
            self.order.shuffle(rng);
        }
        for lane in self.lanes.iter_mut() {
            network.set_training(&mut lane.shard.tape, true);
        }
        let trained = self.steps(
            network,
            data,
            range.start,
            from,
            check_finite,
            metrics,
            on_batch,
        );
        for lane in self.lanes.iter_mut() {
            network.set_training(&mut lane.shard.tape, false);
        }
        trained
    }

    /// The steps of [`Runner::run_epoch`] over the samples `offset + order[..]`, from those
    /// `from` took.
    #[expect(
        clippy::too_many_arguments,
        reason = "one epoch's inputs, each used once"
    )]
    fn steps<D: Source<IN, OUT>, const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &D,
        offset: usize,
        from: Partial,
        check_finite: bool,
        metrics: &mut MetricList<'_, '_>,
        on_batch: &mut OnBatch<'_, Self, N>,
    ) -> Result<Totals, (usize, StepFailure)>
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]>,
    {
        let mut totals = from.totals;
        let step_samples = self.team.threads() * B;
        let starts = (0..self.order.len()).step_by(step_samples).enumerate();
        let mut stop = false;
        for (step, start) in starts.skip(from.steps) {
            stop |= on_batch(self, network, step + 1, BatchEvent::Begin);
            self.seed_tapes(network);
            let batch = self
                .train(network, data, offset, start)
                .map_err(|error| (step + 1, StepFailure::Read(error)))?;
            totals.add(batch);
            if !metrics.is_empty() {
                for lane in self.lanes.iter() {
                    lane.shard.measure(lane.totals.samples, metrics);
                }
            }
            self.update(network, batch.loss, check_finite)
                .map_err(|what| (step + 1, StepFailure::NonFinite(what)))?;
            self.update_state(network);
            let running = MetricValues::of(metrics.iter().map(|m| &**m as &dyn Metric));
            stop |= on_batch(self, network, step + 1, BatchEvent::End(totals, running));
            if stop {
                break;
            }
        }
        Ok(totals)
    }

    /// Moves each thread's tape to the stream of its random values (dropout's masks) for the
    /// coming step: stream `t · n + k` of the layers' seeds for thread `k` of `n` at the
    /// optimizer's step count `t`. A step's masks thus follow from the seeds, the step count
    /// and the thread alone, and a fit resumed with the optimizer's state draws those of the
    /// fit it resumes; on one thread the first step draws from stream 0, a new tape's. Seeding
    /// a generator allocates nothing.
    fn seed_tapes(&mut self, network: &N) {
        let threads = self.lanes.len() as u64;
        let first = self.optimizer.settings().iterations().wrapping_mul(threads);
        for (thread, lane) in self.lanes.iter_mut().enumerate() {
            network.seed_tape(&mut lane.shard.tape, first.wrapping_add(thread as u64));
        }
    }

    /// Every thread gathers and trains its shard of the step that starts at `start` in the
    /// order, each loss gradient scaled by 1 / the samples of the whole step. An empty shard
    /// (at the end of an epoch) trains nothing and reports no samples. Returns the step's
    /// totals, summed in the order of the threads; or what kept a thread from reading its
    /// samples, before anything of the step is applied.
    fn train<D: Source<IN, OUT>, const IN: usize, const OUT: usize>(
        &mut self,
        network: &N,
        data: &D,
        offset: usize,
        start: usize,
    ) -> Result<Totals, crate::data::Error>
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]>,
    {
        let order: &[usize] = self.order;
        let len = order.len();
        let step_samples = self.team.threads() * B;
        let scale = 1.0 / step_samples.min(len - start) as f32;
        let class_weights = self.class_weights;
        self.team.run(self.lanes, &|k, lane| {
            let from = (start + k * B).min(len);
            let to = (from + B).min(len);
            if from == to {
                lane.totals = Totals::default();
                return;
            }
            let indices = order[from..to].iter().map(|i| i + offset);
            let rows = match lane.shard.gather(data, indices, class_weights) {
                Ok(rows) => rows,
                Err(error) => {
                    lane.totals = Totals::default();
                    lane.error = Some(error.into());
                    return;
                }
            };
            // Shuffled rows are scattered over memory: fetch this thread's next shard while
            // this one trains.
            let next = (from + step_samples).min(len)..(to + step_samples).min(len);
            data.prefetch(order[next].iter().map(|i| i + offset));
            lane.totals = lane.shard.train(network, &lane.loss, rows, scale);
        });
        let mut totals = Totals::default();
        for lane in self.lanes.iter_mut() {
            if let Some(error) = lane.error.take() {
                return Err(error);
            }
            totals.add(lane.totals);
        }
        Ok(totals)
    }

    /// The optimizer's step with the gradients of a step whose summed loss is `loss`: the
    /// threads' gradients summed, clipped and applied, each thread doing its share of each
    /// large tensor (see reduce.rs and `optim::step`). With `check_finite`, a loss or gradient
    /// that is not finite is not applied but named.
    fn update(
        &mut self,
        network: &mut N,
        loss: f64,
        check_finite: bool,
    ) -> Result<(), &'static str> {
        let (grads, mut pending) = reduce::sum(network, self.lanes, self.sum, self.team);
        if check_finite {
            if !loss.is_finite() {
                return Err("loss");
            }
            if let Some(pending) = pending.take() {
                step::add(network, grads, pending.others, self.team);
            }
            let mut finite = true;
            network.visit_parameters(grads, &mut |_, g| finite &= g.iter().all(|g| g.is_finite()));
            if !finite {
                return Err("gradient");
            }
        }
        step::step(self.optimizer, network, grads, pending, self.team);
        Ok(())
    }
}

impl<N: Layer, O, L, const B: usize> Runner<'_, '_, N, O, L, B> {
    /// Moves the network's non-trainable state by the mean of what the threads that trained
    /// this step measured, each on its own shard: [`Layer::update_state`] with each of their
    /// tapes in turn, thread 0's first. The threads with samples come first (see `train`).
    fn update_state(&mut self, network: &mut N) {
        let lanes = &*self.lanes;
        let trained = lanes
            .iter()
            .take_while(|lane| lane.totals.samples > 0)
            .count();
        for (thread, lane) in lanes[..trained].iter().enumerate() {
            network.update_state(&lane.shard.tape, thread, trained);
        }
    }
}

/// The order of samples becomes `0..len`, reusing the buffer's capacity.
pub(super) fn reset_order(order: &mut Vec<usize>, len: usize) {
    order.clear();
    order.extend(0..len);
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;
    use crate::activation::{Linear, Softmax};
    use crate::data::Dataset;
    use crate::layers::{BatchNormalization, Dense};
    use crate::loss::{CategoricalCrossentropy, MeanSquaredError};
    use crate::optim::{Adam, Sgd};
    use crate::train::callbacks::{LambdaCallback, TerminateOnNan};
    use crate::train::{Fit, History, TrainError, Trainer, Verbose};

    type Classifier = Dense<3, 4, Softmax>;

    fn classifier() -> Classifier {
        let mut weights = [[0.0; 4]; 3];
        for (k, w) in weights.as_flattened_mut().iter_mut().enumerate() {
            *w = ((k * 7 % 11) as f32 - 5.0) / 10.0;
        }
        Dense::from_parameters(weights, Some([0.1, -0.2, 0.0, 0.05]))
    }

    /// `n` samples of 4 classes with inputs that are not separable by a linear model at once.
    fn samples(n: usize) -> Dataset<3, 4> {
        let inputs = (0..n)
            .map(|i| {
                let i = i as f32;
                [(i * 0.37).sin(), (i * 0.71).cos(), (i * 0.13).sin() * 2.0]
            })
            .collect();
        Dataset::from_classes(inputs, (0..n as u32).map(|i| i * 5 % 4).collect()).unwrap()
    }

    /// `epochs` of SGD with momentum on `data`, shuffled, in steps of `threads × B` samples.
    fn train<const B: usize>(threads: usize, data: &Dataset<3, 4>) -> (Classifier, History) {
        let mut model = classifier();
        let mut trainer = Trainer::<_, _, _, B>::new(
            &model,
            Sgd::new(0.5).momentum(0.9),
            CategoricalCrossentropy,
        );
        let options = Fit::epochs(3)
            .seed(3)
            .threads(threads)
            .verbose(Verbose::Silent);
        let history = trainer.fit(&mut model, data, options).unwrap();
        (model, history)
    }

    fn assert_close(a: &Classifier, b: &Classifier) {
        let pairs = a
            .weights()
            .as_flattened()
            .iter()
            .zip(b.weights().as_flattened());
        let bias = a.bias().unwrap().iter().zip(b.bias().unwrap());
        for (k, (x, y)) in pairs.chain(bias).enumerate() {
            assert!((x - y).abs() < 1e-5, "parameter {k}: {x} and {y}");
        }
    }

    #[test]
    #[cfg(not(feature = "parallel"))]
    fn without_the_parallel_feature_threads_are_refused_before_training() {
        let data = samples(16);
        let mut model = classifier();
        let before = model.weights().to_owned();
        let mut trainer =
            Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.5), CategoricalCrossentropy);
        let options = Fit::epochs(1).threads(2).verbose(Verbose::Silent);
        let error = trainer.fit(&mut model, &data, options).unwrap_err();
        assert!(
            matches!(error, TrainError::ThreadsUnavailable { threads: 2 }),
            "{error}"
        );
        assert!(error.to_string().contains("`parallel` feature"));
        assert_eq!(model.weights(), &before);
        // One thread trains as ever.
        let options = Fit::epochs(1).threads(1).verbose(Verbose::Silent);
        assert!(trainer.fit(&mut model, &data, options).is_ok());
    }

    #[test]
    #[cfg_attr(not(feature = "parallel"), ignore = "trains on several threads")]
    fn threads_take_the_steps_of_one_thread_on_all_their_shards() {
        // 11 samples: two steps per epoch, the second with 3 samples, all in the first shard.
        let data = samples(11);
        let (one, one_history) = train::<8>(1, &data);
        let (two, two_history) = train::<4>(2, &data);
        assert_close(&one, &two);
        let (three, _) = train::<3>(3, &samples(9));
        let (one_of_nine, _) = train::<9>(1, &samples(9));
        assert_close(&three, &one_of_nine);
        assert_ne!(one.weights(), classifier().weights(), "the model trained");
        for (a, b) in one_history.loss.iter().zip(&two_history.loss) {
            assert!((a - b).abs() < 1e-5, "losses {a} and {b}");
        }
        assert_eq!(one_history.accuracy, two_history.accuracy);
    }

    #[test]
    #[cfg_attr(not(feature = "parallel"), ignore = "trains on several threads")]
    fn threads_share_the_update_of_a_large_tensor_and_match_one_thread() {
        // 160 × 128 weights: each thread sums and updates its share of them, with Adam's state.
        type Wide = Dense<160, 128, Linear>;
        let inputs = (0..24)
            .map(|i| std::array::from_fn(|j| ((i * 31 + j * 7) % 13) as f32 / 13.0 - 0.5))
            .collect();
        let targets = (0..24)
            .map(|i| std::array::from_fn(|j| ((i + j) % 5) as f32 / 5.0))
            .collect();
        let data = Dataset::<160, 128>::from_arrays(inputs, targets).unwrap();
        fn train<const B: usize>(threads: usize, data: &Dataset<160, 128>) -> (Wide, History) {
            let mut model = Wide::from_parameters([[0.01; 128]; 160], Some([0.0; 128]));
            let mut trainer = Trainer::<_, _, _, B>::new(&model, Adam::new(0.01), MeanSquaredError);
            let options = Fit::epochs(2)
                .seed(5)
                .threads(threads)
                .verbose(Verbose::Silent);
            let history = trainer.fit(&mut model, data, options).unwrap();
            (model, history)
        }
        let (one, one_history) = train::<8>(1, &data);
        let (two, two_history) = train::<4>(2, &data);
        let pairs = one
            .weights()
            .as_flattened()
            .iter()
            .zip(two.weights().as_flattened());
        for (k, (a, b)) in pairs.enumerate() {
            assert!((a - b).abs() < 1e-5, "weight {k}: {a} and {b}");
        }
        assert_ne!(one.weights()[0][0], 0.01, "the model trained");
        for (a, b) in one_history.loss.iter().zip(&two_history.loss) {
            assert!((a - b).abs() < 1e-5, "losses {a} and {b}");
        }
    }

    /// Two channels, normalized over batches of 2: five samples, one step of two shards and a
    /// step of one sample on two threads, or two steps of 2 and one of 1 on one thread.
    fn normalized(threads: usize) -> BatchNormalization<2, 2> {
        let data = Dataset::<2, 2>::from_arrays(
            vec![[0.0, 1.0], [2.0, 5.0], [4.0, -1.0], [8.0, 3.0], [3.0, 7.0]],
            vec![[0.5, -0.5]; 5],
        )
        .unwrap();
        let mut model = BatchNormalization::<2, 2>::new().momentum(0.5);
        let mut trainer = Trainer::<_, _, _, 2>::new(&model, Sgd::new(0.1), MeanSquaredError);
        let options = Fit::epochs(1)
            .shuffle(false)
            .threads(threads)
            .verbose(Verbose::Silent);
        trainer.fit(&mut model, &data, options).unwrap();
        model
    }

    #[test]
    #[cfg_attr(not(feature = "parallel"), ignore = "trains on several threads")]
    fn threads_move_the_moving_statistics_by_the_mean_of_their_shards() {
        let model = normalized(2);
        // Step 1: shard 0 holds (0, 1), (2, 5): means (1, 3), variances (1, 4); shard 1 holds
        // (4, -1), (8, 3): means (6, 1), variances (4, 4). At momentum 0.5, from 0 and 1:
        // mean 0.5 · (3.5, 2) = (1.75, 1), variance 0.5 + 0.5 · (2.5, 4) = (1.75, 2.5).
        // Step 2: only thread 0 trains, on (3, 7), variance 0: mean (0.875 + 1.5, 0.5 + 3.5),
        // variance (0.875, 1.25).
        assert_eq!(model.moving_mean(), &[2.375, 4.0]);
        assert_eq!(model.moving_variance(), &[0.875, 1.25]);
        assert_ne!(model.beta(), Some(&[0.0; 2]), "the optimizer trained β");
    }

    #[test]
    fn one_thread_moves_the_moving_statistics_by_each_batch() {
        let model = normalized(1);
        // Means (1, 3), (6, 1), (3, 7); variances (1, 4), (4, 4), (0, 0), at momentum 0.5.
        let mean = [
            ((0.0 + 1.0) / 2.0 + 6.0) / 4.0 + 1.5,
            ((0.0 + 3.0) / 2.0 + 1.0) / 4.0 + 3.5,
        ];
        let variance = [
            ((1.0 + 1.0) / 2.0 + 4.0) / 4.0,
            ((1.0 + 4.0) / 2.0 + 4.0) / 4.0,
        ];
        assert_eq!(model.moving_mean(), &mean);
        assert_eq!(model.moving_variance(), &variance);
    }

    /// A [`Classifier`] that keeps [`Layer::visit_gradients`]'s default: `fit` copies its
    /// gradients instead of reading them in place.
    struct Opaque(Classifier);

    impl Layer for Opaque {
        type In = [f32; 3];
        type Out = [f32; 4];
        type Activation = Softmax;
        type Grads = <Classifier as Layer>::Grads;
        type Tape<const B: usize> = ();
        const KIND: &'static str = "Opaque";

        fn new_tape<const B: usize>(&self) {}

        fn forward<const B: usize>(&self, x: &[[f32; 3]; B], y: &mut [[f32; 4]; B], _: &mut ()) {
            self.0.forward(x, y, &mut self.0.new_tape());
        }

        fn backward<const B: usize>(
            &self,
            x: &[[f32; 3]; B],
            dz: &[[f32; 4]; B],
            dx: Option<&mut [[f32; 3]; B]>,
            grads: &mut Self::Grads,
            _: &mut (),
        ) {
            self.0.backward(x, dz, dx, grads, &mut self.0.new_tape());
        }

        fn new_grads(&self) -> Self::Grads {
            self.0.new_grads()
        }

        fn parameter_count(&self) -> usize {
            self.0.parameter_count()
        }

        fn visit_parameters(
            &mut self,
            grads: &mut Self::Grads,
            visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
        ) {
            self.0.visit_parameters(grads, visit);
        }
    }

    #[test]
    #[cfg_attr(not(feature = "parallel"), ignore = "trains on several threads")]
    fn two_threads_sum_in_place_or_through_a_copy_alike() {
        let data = samples(40);
        let (in_place, _) = train::<4>(2, &data);
        let mut model = Opaque(classifier());
        let mut trainer = Trainer::<_, _, _, 4>::new(
            &model,
            Sgd::new(0.5).momentum(0.9),
            CategoricalCrossentropy,
        );
        let options = Fit::epochs(3).seed(3).threads(2).verbose(Verbose::Silent);
        trainer.fit(&mut model, &data, options).unwrap();
        assert_eq!(model.0.weights(), in_place.weights());
        assert_eq!(model.0.bias(), in_place.bias());
    }

    #[test]
    #[cfg_attr(not(feature = "parallel"), ignore = "trains on several threads")]
    fn a_seed_and_a_number_of_threads_give_the_same_run() {
        let data = samples(40);
        let (a, a_history) = train::<4>(2, &data);
        let (b, b_history) = train::<4>(2, &data);
        assert_eq!(a.weights(), b.weights());
        assert_eq!(a_history.loss, b_history.loss);
    }

    #[test]
    #[cfg_attr(not(feature = "parallel"), ignore = "trains on several threads")]
    fn a_non_finite_step_stops_a_parallel_fit_without_applying_it() {
        let data = Dataset::<1, 1>::from_arrays(vec![[1.0]; 8], vec![[3.0]; 8]).unwrap();
        let mut model = Dense::<1, 1, Linear>::from_parameters([[0.5]], Some([0.0]));
        let mut trainer = Trainer::<_, _, _, 2>::new(&model, Sgd::new(1e30), MeanSquaredError);
        let mut guard = TerminateOnNan;
        let options = Fit::epochs(2)
            .threads(2)
            .verbose(Verbose::Silent)
            .callback(&mut guard);
        let result = trainer.fit(&mut model, &data, options);
        let Err(TrainError::NonFinite { epoch, batch, .. }) = result else {
            panic!("a learning rate of 1e30 overflows: {result:?}")
        };
        assert_eq!((epoch, batch), (1, 2));
        assert!(model.weights()[0][0].is_finite(), "{:?}", model.weights());
    }

    #[test]
    #[cfg_attr(not(feature = "parallel"), ignore = "trains on several threads")]
    fn a_panic_on_the_calling_thread_ends_the_helpers() {
        let data = samples(16);
        let mut model = classifier();
        let mut trainer =
            Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.1), CategoricalCrossentropy);
        let mut failing = LambdaCallback::on_epoch_end(|_: &_| panic!("a callback failed"));
        let options = Fit::epochs(2)
            .threads(2)
            .verbose(Verbose::Silent)
            .callback(&mut failing);
        let result = catch_unwind(AssertUnwindSafe(|| trainer.fit(&mut model, &data, options)));
        assert!(result.is_err(), "the callback's panic reaches the caller");
        let options = Fit::epochs(1).threads(3).verbose(Verbose::Silent);
        let history = trainer.fit(&mut model, &data, options);
        assert!(history.is_ok(), "the trainer still fits: {history:?}");
    }

    /// The identity, except that it panics on any thread without a name: on the helpers of a
    /// parallel fit, but not on the test's own thread.
    struct PanicsOnHelpers;

    impl Layer for PanicsOnHelpers {
        type In = [f32; 1];
        type Out = [f32; 1];
        type Activation = Linear;
        type Grads = ();
        type Tape<const B: usize> = ();
        const KIND: &'static str = "PanicsOnHelpers";

        fn new_tape<const B: usize>(&self) {}

        fn forward<const B: usize>(&self, x: &[[f32; 1]; B], y: &mut [[f32; 1]; B], _: &mut ()) {
            assert!(std::thread::current().name().is_some(), "a helper failed");
            y.copy_from_slice(x);
        }

        fn backward<const B: usize>(
            &self,
            _: &[[f32; 1]; B],
            _: &[[f32; 1]; B],
            _: Option<&mut [[f32; 1]; B]>,
            _: &mut (),
            _: &mut (),
        ) {
        }

        crate::layers::without_parameters!();
    }

    #[test]
    #[cfg_attr(not(feature = "parallel"), ignore = "trains on several threads")]
    fn a_panic_on_a_helper_reaches_the_caller() {
        let data = Dataset::<1, 1>::from_arrays(vec![[1.0]; 8], vec![[1.0]; 8]).unwrap();
        let mut model = PanicsOnHelpers;
        let mut trainer = Trainer::<_, _, _, 2>::new(&model, Sgd::new(0.1), MeanSquaredError);
        let options = Fit::epochs(1).threads(2).verbose(Verbose::Silent);
        let result = catch_unwind(AssertUnwindSafe(|| trainer.fit(&mut model, &data, options)));
        assert!(result.is_err(), "the helper's panic reaches the caller");
    }

    #[test]
    fn a_step_drops_what_the_optimizer_step_count_says() {
        use crate::layers::Dropout;
        // Dropout alone: each step's loss is the share of values it keeps, so it shows the mask.
        let data = Dataset::<16, 16>::from_arrays(vec![[1.0; 16]; 8], vec![[0.0; 16]; 8]).unwrap();
        let options = |epochs| Fit::epochs(epochs).shuffle(false).verbose(Verbose::Silent);
        let mut dropout = Dropout::<16>::new(0.5, 7);
        let mut trainer = Trainer::<_, _, _, 4>::new(&dropout, Sgd::new(0.1), MeanSquaredError);
        let both = trainer.fit(&mut dropout, &data, options(2)).unwrap();
        assert_ne!(
            both.loss[0], both.loss[1],
            "the epochs drop different values"
        );

        // A trainer whose optimizer has taken the first epoch's 2 steps draws the second's.
        let mut trainer = Trainer::<_, _, _, 4>::new(&dropout, Sgd::new(0.1), MeanSquaredError);
        trainer.optimizer().settings_mut().set_iterations(2);
        let second = trainer.fit(&mut dropout, &data, options(1)).unwrap();
        assert_eq!(second.loss, [both.loss[1]]);
    }
}
