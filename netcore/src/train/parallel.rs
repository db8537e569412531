//! Data-parallel `fit`: every step, each of `threads` threads trains its own shard of `B`
//! samples on the shared network; the calling thread then sums the gradients and takes one
//! optimizer step.
//!
//! A step, with the calling thread as worker 0:
//!
//! ```text
//! worker 0:  set step ─ meet ─ train shard 0 ─ meet ─ sum gradients, optimizer step ─ next
//! worker k:             meet ─ train shard k ─ meet ──────────────────────────────── next
//! ```
//!
//! The threads start once per fit and allocate nothing per step. They share the network
//! behind a `RwLock` (read while training a shard, written by worker 0 for the update), which
//! the barriers keep uncontended; each helper's gradients sit behind a `Mutex` worker 0 takes
//! only between the two meetings.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::Scope;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::Metrics;
use super::barrier::SpinBarrier;
use super::shard::{Shard, Totals};
use super::trainer::{Trainer, read, write};
use crate::data::Dataset;
use crate::kernels;
use crate::layer::Layer;
use crate::loss::Loss;
use crate::optim::Optimizer;

/// What the threads of one parallel fit share. It outlives the threads' scope.
pub(super) struct Shared<'n, N: Layer, const IN: usize, const OUT: usize> {
    /// The network: read by every thread while it trains a shard, written by worker 0 for the
    /// optimizer step and between epochs.
    pub(super) network: RwLock<&'n mut N>,
    data: &'n Dataset<IN, OUT>,
    /// The training samples are `data`'s `offset..offset + order.len()`, in this order;
    /// worker 0 shuffles it between epochs.
    order: RwLock<Vec<usize>>,
    offset: usize,
    /// Samples per step: threads × B.
    step_samples: usize,
    /// Samples per shard: the trainer's B.
    shard_samples: usize,
    /// The step the next meeting starts.
    step: AtomicUsize,
    barrier: SpinBarrier,
    /// Worker k's gradients and totals of the step, at index k - 1.
    helpers: Vec<Mutex<Output<N>>>,
}

/// A helper's result of one step.
struct Output<N: Layer> {
    grads: N::Grads,
    totals: Totals,
}

impl<'n, N: Layer, const IN: usize, const OUT: usize> Shared<'n, N, IN, OUT>
where
    N: Layer<In = [f32; IN], Out = [f32; OUT]>,
{
    /// Everything `threads` threads training shards of `shard` samples of `data`'s samples
    /// `train` share, allocated once per fit.
    pub(super) fn new(
        network: &'n mut N,
        data: &'n Dataset<IN, OUT>,
        train: Range<usize>,
        threads: usize,
        shard: usize,
    ) -> Self {
        let helpers = (1..threads)
            .map(|_| {
                Mutex::new(Output {
                    grads: network.new_grads(),
                    totals: Totals::default(),
                })
            })
            .collect();
        Self {
            network: RwLock::new(network),
            data,
            order: RwLock::new(train.clone().map(|i| i - train.start).collect()),
            offset: train.start,
            step_samples: threads * shard,
            shard_samples: shard,
            step: AtomicUsize::new(0),
            barrier: SpinBarrier::new(threads),
            helpers,
        }
    }

    /// Gathers and trains `worker`'s shard of `step` into `grads`, the loss gradient scaled
    /// by 1 / the samples of the whole step. An empty shard (at the end of an epoch) trains
    /// nothing and reports no samples.
    fn train_shard<L: Loss<N::Activation>, const B: usize>(
        &self,
        worker: usize,
        shard: &mut Shard<N, B>,
        loss: &L,
        grads: &mut N::Grads,
    ) -> Totals {
        let network = read(&self.network);
        let order = read(&self.order);
        let step = self.step.load(Ordering::Relaxed);
        let len = order.len();
        let start = step * self.step_samples;
        let from = (start + worker * self.shard_samples).min(len);
        let to = (from + self.shard_samples).min(len);
        if from == to {
            return Totals::default();
        }
        let rows = shard.gather(self.data, order[from..to].iter().map(|i| i + self.offset));
        // Shuffled rows are scattered over memory: fetch this worker's next shard meanwhile.
        let next = (from + self.step_samples).min(len)..(to + self.step_samples).min(len);
        self.data
            .prefetch(order[next].iter().map(|i| i + self.offset));
        let step_samples = self.step_samples.min(len - start);
        shard.train(&**network, loss, rows, 1.0 / step_samples as f32, grads)
    }
}

/// Worker 0's handle on the threads of a parallel fit. Dropping it (at the end of the fit, or
/// while a panic unwinds) breaks the barrier, which ends the helper threads.
pub(super) struct Team<'s, 'n, N: Layer, const IN: usize, const OUT: usize> {
    shared: &'s Shared<'n, N, IN, OUT>,
    /// The helpers' gradients, summed, flat: one value per parameter.
    sum: Vec<f32>,
}

impl<'s, 'n, N, const IN: usize, const OUT: usize> Team<'s, 'n, N, IN, OUT>
where
    N: Layer<In = [f32; IN], Out = [f32; OUT]> + Send + Sync,
{
    /// Starts the helper threads in `scope`, each with its own shard buffers, a cache on its
    /// own random stream, and a clone of `loss`.
    pub(super) fn start<'scope, L, const B: usize>(
        scope: &'scope Scope<'scope, 's>,
        shared: &'s Shared<'n, N, IN, OUT>,
        loss: &L,
    ) -> Self
    where
        N::Cache<B>: Send,
        N::Grads: Send,
        L: Loss<N::Activation> + Clone + Send + 's,
        'n: 's,
    {
        let network = read(&shared.network);
        for worker in 1..=shared.helpers.len() {
            let mut shard = Shard::<N, B>::new(&**network);
            network.seed_cache(&mut shard.cache, worker as u64);
            // A helper's cache only ever trains.
            network.set_training(&mut shard.cache, true);
            let loss = loss.clone();
            scope.spawn(move || help(shared, worker, shard, loss));
        }
        Self {
            shared,
            sum: vec![0.0; network.parameter_count()],
        }
    }

    /// One epoch, as the trainer's own on one thread, but in steps of threads × B samples:
    /// the metrics, or the step whose loss or gradients were not finite.
    pub(super) fn run_epoch<O: Optimizer, L: Loss<N::Activation>, const B: usize>(
        &mut self,
        trainer: &mut Trainer<N, O, L, B>,
        rng: Option<&mut StdRng>,
        check_finite: bool,
        on_batch: &mut dyn FnMut(usize, Metrics),
    ) -> Result<Metrics, (usize, &'static str)> {
        let shared = self.shared;
        if let Some(rng) = rng {
            write(&shared.order).shuffle(rng);
        }
        let steps = read(&shared.order).len().div_ceil(shared.step_samples);
        read(&shared.network).set_training(&mut trainer.shard.cache, true);
        let mut totals = Totals::default();
        let mut failed = None;
        for step in 0..steps {
            shared.step.store(step, Ordering::Relaxed);
            self.meet();
            let mut batch =
                shared.train_shard(0, &mut trainer.shard, &trainer.loss, &mut trainer.grads);
            self.meet();
            let mut network = write(&shared.network);
            self.sum_gradients(&mut **network, &mut trainer.grads, &mut batch);
            totals.add(batch);
            if let Err(what) = trainer.apply(&mut **network, batch.loss, check_finite) {
                failed = Some((step + 1, what));
                break;
            }
            drop(network);
            on_batch(step + 1, totals.metrics());
        }
        read(&shared.network).set_training(&mut trainer.shard.cache, false);
        match failed {
            Some(failed) => Err(failed),
            None => Ok(totals.metrics()),
        }
    }

    /// Adds the helpers' gradients of the step to worker 0's `grads` and their totals to
    /// `batch`, in the order of the workers, so that a run is reproducible.
    fn sum_gradients(&mut self, network: &mut N, grads: &mut N::Grads, batch: &mut Totals) {
        let mut summed = false;
        for helper in &self.shared.helpers {
            let mut output = lock(helper);
            let output = &mut *output;
            if output.totals.samples == 0 {
                continue;
            }
            batch.add(output.totals);
            let mut offset = 0;
            network.visit_parameters(&mut output.grads, &mut |_, g| {
                let sum = &mut self.sum[offset..offset + g.len()];
                if summed {
                    kernels::axpy(1.0, g, sum);
                } else {
                    sum.copy_from_slice(g);
                }
                offset += g.len();
            });
            summed = true;
        }
        if summed {
            let mut offset = 0;
            network.visit_parameters(grads, &mut |_, g| {
                kernels::axpy(1.0, &self.sum[offset..offset + g.len()], g);
                offset += g.len();
            });
        }
    }

    fn meet(&self) {
        assert!(
            self.shared.barrier.wait().is_ok(),
            "a thread of parallel `fit` panicked"
        );
    }
}

impl<N: Layer, const IN: usize, const OUT: usize> Drop for Team<'_, '_, N, IN, OUT> {
    fn drop(&mut self) {
        self.shared.barrier.break_();
    }
}

/// A helper thread: trains its shard of each step until the barrier breaks.
fn help<N, L, const B: usize, const IN: usize, const OUT: usize>(
    shared: &Shared<'_, N, IN, OUT>,
    worker: usize,
    mut shard: Shard<N, B>,
    loss: L,
) where
    N: Layer<In = [f32; IN], Out = [f32; OUT]> + Send + Sync,
    L: Loss<N::Activation>,
{
    /// Breaks the barrier if the helper panics, so that worker 0 does not wait for it forever.
    struct OnPanic<'a>(&'a SpinBarrier);
    impl Drop for OnPanic<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.break_();
            }
        }
    }
    let _on_panic = OnPanic(&shared.barrier);
    let output = &shared.helpers[worker - 1];
    while shared.barrier.wait().is_ok() {
        {
            let mut output = lock(output);
            let output = &mut *output;
            output.totals = shared.train_shard(worker, &mut shard, &loss, &mut output.grads);
        }
        if shared.barrier.wait().is_err() {
            break;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;
    use crate::activation::{Linear, Softmax};
    use crate::layers::Dense;
    use crate::loss::{CategoricalCrossentropy, MeanSquaredError};
    use crate::optim::Sgd;
    use crate::train::callbacks::{LambdaCallback, TerminateOnNan};
    use crate::train::{Fit, History, TrainError, Verbose};

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
    fn a_seed_and_a_number_of_threads_give_the_same_run() {
        let data = samples(40);
        let (a, a_history) = train::<4>(2, &data);
        let (b, b_history) = train::<4>(2, &data);
        assert_eq!(a.weights(), b.weights());
        assert_eq!(a_history.loss, b_history.loss);
    }

    #[test]
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
    }

    /// The identity, except that it panics on any thread without a name: on the helpers of a
    /// parallel fit, but not on the test's own thread.
    struct PanicsOnHelpers;

    impl Layer for PanicsOnHelpers {
        type In = [f32; 1];
        type Out = [f32; 1];
        type Activation = Linear;
        type Grads = ();
        type Cache<const B: usize> = ();
        const KIND: &'static str = "PanicsOnHelpers";

        fn new_cache<const B: usize>(&self) {}

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

        fn new_grads(&self) {}

        fn parameter_count(&self) -> usize {
            0
        }

        fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}
    }

    #[test]
    fn a_panic_on_a_helper_reaches_the_caller() {
        let data = Dataset::<1, 1>::from_arrays(vec![[1.0]; 8], vec![[1.0]; 8]).unwrap();
        let mut model = PanicsOnHelpers;
        let mut trainer = Trainer::<_, _, _, 2>::new(&model, Sgd::new(0.1), MeanSquaredError);
        let options = Fit::epochs(1).threads(2).verbose(Verbose::Silent);
        let result = catch_unwind(AssertUnwindSafe(|| trainer.fit(&mut model, &data, options)));
        assert!(result.is_err(), "the helper's panic reaches the caller");
    }
}
