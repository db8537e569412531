//! The training loop: batches gathered, forward, loss, backward, optimizer step.

use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::callbacks::{Callback, Context};
use super::parallel::{Shared, Team};
use super::progress::{EpochBar, write_epoch_line};
use super::shard::{Shard, Totals};
use super::{EpochLogs, Fit, History, Metrics, TrainError, Verbose};
use crate::data::Dataset;
use crate::layer::Layer;
use crate::loss::Loss;
use crate::optim::Optimizer;

/// A network's (or any [`Layer`]'s) training state for batches of `B` samples: optimizer, loss, and every buffer a
/// step needs, allocated once by [`Trainer::new`] (Keras' `model.compile`). After that,
/// [`Trainer::evaluate`] allocates nothing, nor does [`Trainer::train_epoch`] once it has sized
/// its shuffling order to the dataset (on its first call for a dataset of a new length, or at the
/// start of [`Trainer::fit`]).
///
/// ```
/// use netcore::activation::Sigmoid;
/// use netcore::data::Dataset;
/// use netcore::layers::Dense;
/// use netcore::loss::BinaryCrossentropy;
/// use netcore::optim::Sgd;
/// use netcore::train::{Fit, Trainer, Verbose};
///
/// // OR: the output is 1 when either input is. One sigmoid layer (logistic regression) does.
/// let data = Dataset::<2, 1>::from_arrays(
///     vec![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
///     vec![[0.0], [1.0], [1.0], [1.0]],
/// )?;
/// let mut model = Dense::<2, 1, Sigmoid>::from_parameters([[0.0], [0.0]], Some([0.0]));
/// let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(1.0), BinaryCrossentropy);
/// let history = trainer.fit(&mut model, &data, Fit::epochs(200).verbose(Verbose::Silent))?;
/// assert!(history.loss[199] < history.loss[0]);
/// assert_eq!(trainer.evaluate(&model, &data).accuracy, 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Trainer<N: Layer, O, L, const B: usize> {
    pub(super) optimizer: O,
    pub(super) loss: L,
    /// The calling thread's buffers; the other threads of a parallel fit get their own.
    pub(super) shard: Shard<N, B>,
    /// The gradients of a step, summed over the threads in a parallel fit.
    pub(super) grads: N::Grads,
    order: Vec<usize>,
}

/// What one epoch of `fit` gets: the generator to shuffle with, whether to check finiteness,
/// and what to call after each step; it returns the epoch's metrics or the failing step.
type EpochFn<'f, T> = dyn FnMut(
        &mut T,
        Option<&mut StdRng>,
        bool,
        &mut dyn FnMut(usize, Metrics),
    ) -> Result<Metrics, (usize, &'static str)>
    + 'f;

/// A lock's guard, whether or not a thread panicked while holding it: a panic in `fit`
/// propagates anyway, and the data behind these locks stays valid.
pub(super) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// [`read`], for writing.
pub(super) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl<N, O, L, const B: usize> Trainer<N, O, L, B>
where
    N: Layer,
    O: Optimizer,
    L: Loss<N::Activation>,
{
    /// Allocates the buffers for `network` and prepares the optimizer's state.
    ///
    /// # Panics
    ///
    /// If `B` is 0.
    pub fn new(network: &N, mut optimizer: O, loss: L) -> Self {
        assert!(B > 0, "a batch needs at least one sample");
        optimizer.prepare(network.parameter_count());
        // Decide the kernels' instruction set now: deciding reads the environment, which
        // allocates, and must not happen inside the first step.
        crate::kernels::Isa::selected();
        Self {
            optimizer,
            loss,
            shard: Shard::new(network),
            grads: network.new_grads(),
            order: Vec::new(),
        }
    }

    /// The optimizer, e.g. to read or change its learning rate between epochs.
    pub fn optimizer(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// Trains on `epochs` passes over `data` (Keras' `model.fit`): shuffled with the seed,
    /// evaluated after each epoch on the validation data or split, printed as `verbose` says,
    /// with the callbacks run around each epoch.
    ///
    /// With [`Fit::threads`]`(n)`, each step trains `n` shards of `B` samples on `n` threads
    /// and applies the mean gradient of all `n × B`. The network is shared between the threads,
    /// hence the `Send + Sync` bounds, which hold on one thread too (every layer of netdsl
    /// meets them); each thread owns a clone of the loss and its own cache and gradients,
    /// allocated when `fit` starts.
    ///
    /// # Errors
    ///
    /// [`TrainError::NonFinite`] when a [`TerminateOnNan`](super::callbacks::TerminateOnNan)
    /// callback is given and a batch's loss or gradients are not finite.
    pub fn fit<const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &Dataset<IN, OUT>,
        options: Fit<'_, IN, OUT>,
    ) -> Result<History, TrainError>
    where
        N: Layer<In = [f32; IN], Out = [f32; OUT]> + Send + Sync,
        N::Cache<B>: Send,
        N::Grads: Send,
        L: Clone + Send,
    {
        // Keras' validation_split holds out the last samples, before any shuffling.
        let held_out = if options.validation.is_none() {
            (data.len() as f32 * options.validation_split) as usize
        } else {
            0
        };
        let train = 0..data.len() - held_out;
        let threads = options.threads.max(1);
        if threads == 1 {
            let network = RwLock::new(network);
            return self.fit_epochs(
                &network,
                data,
                train.clone(),
                options,
                &mut |trainer, rng, check, on_batch| {
                    trainer.run_epoch(
                        &mut write(&network),
                        data,
                        train.clone(),
                        rng,
                        check,
                        on_batch,
                    )
                },
            );
        }
        let shared = Shared::new(network, data, train.clone(), threads, B);
        std::thread::scope(|scope| {
            let mut team = Team::start(scope, &shared, &self.loss);
            self.fit_epochs(
                &shared.network,
                data,
                train,
                options,
                &mut |trainer, rng, check, on_batch| team.run_epoch(trainer, rng, check, on_batch),
            )
        })
    }

    /// The epochs of [`Trainer::fit`] around `run_epoch`, which trains one epoch of the samples
    /// `train` on one thread or several. The network stays behind `network`'s lock throughout,
    /// so that the threads of a parallel fit can share it.
    fn fit_epochs<const IN: usize, const OUT: usize>(
        &mut self,
        network: &RwLock<&mut N>,
        data: &Dataset<IN, OUT>,
        train: Range<usize>,
        options: Fit<'_, IN, OUT>,
        run_epoch: &mut EpochFn<'_, Self>,
    ) -> Result<History, TrainError>
    where
        N: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        let Fit {
            epochs,
            validation,
            validation_split: _,
            shuffle,
            seed,
            verbose,
            threads,
            mut callbacks,
            output,
        } = options;
        let split = (train.end < data.len()).then(|| train.end..data.len());

        let mut stdout = std::io::stdout();
        let terminal = output.is_none() && stdout.is_terminal();
        let out: &mut dyn Write = match output {
            Some(out) => out,
            None => &mut stdout,
        };
        let verbose = match verbose {
            Verbose::Auto | Verbose::ProgressBar if terminal => Verbose::ProgressBar,
            Verbose::Auto | Verbose::ProgressBar => Verbose::EpochLine,
            other => other,
        };
        let check_finite = callbacks.iter().any(|c| c.terminates_on_nan());

        // Every fit starts from the dataset's own order, so the same seed gives the same batches
        // however the trainer was used before.
        self.reset_order(train.len());
        let mut rng = StdRng::seed_from_u64(seed);
        let mut history = History::with_capacity(epochs);
        let steps = train.len().div_ceil(B * threads.max(1));
        self.run_callbacks(&mut write(network), &mut callbacks, |callback, context| {
            callback.on_train_begin(context)
        });
        for epoch in 1..=epochs {
            self.run_callbacks(&mut write(network), &mut callbacks, |callback, context| {
                callback.on_epoch_begin(epoch, context)
            });
            let bar =
                (verbose == Verbose::ProgressBar).then(|| EpochBar::start(epoch, epochs, steps));
            let start = Instant::now();
            let trained = run_epoch(
                self,
                shuffle.then_some(&mut rng),
                check_finite,
                &mut |done, running| {
                    if let Some(bar) = &bar {
                        bar.advance(done, running);
                    }
                },
            );
            let seconds = start.elapsed().as_secs_f64();
            let train_metrics = match trained {
                Ok(metrics) => metrics,
                Err((batch, what)) => {
                    return Err(TrainError::NonFinite {
                        epoch,
                        batch,
                        what,
                        history: Box::new(history),
                    });
                }
            };
            let validation = match (validation, &split) {
                (Some(val), _) => Some(self.evaluate(&read(network), val)),
                (None, Some(range)) => {
                    Some(self.evaluate_range(&read(network), data, range.clone()))
                }
                (None, None) => None,
            };
            let logs = EpochLogs {
                epoch,
                train: train_metrics,
                validation,
                learning_rate: self.optimizer.learning_rate(),
                seconds,
                steps,
            };
            history.push(&logs);
            match bar {
                Some(bar) => bar.finish(&logs),
                None if verbose == Verbose::EpochLine => write_epoch_line(out, epochs, &logs),
                None => {}
            }
            let stop =
                self.run_callbacks(&mut write(network), &mut callbacks, |callback, context| {
                    callback.on_epoch_end(&logs, context)
                });
            if stop {
                break;
            }
        }
        self.run_callbacks(&mut write(network), &mut callbacks, |callback, context| {
            callback.on_train_end(context)
        });
        let _ = out.flush();
        Ok(history)
    }

    /// Runs `hook` for every callback with a context over this trainer's optimizer and the
    /// network's parameters; returns whether one asked to stop.
    fn run_callbacks(
        &mut self,
        network: &mut N,
        callbacks: &mut [&mut dyn Callback],
        mut hook: impl FnMut(&mut dyn Callback, &mut Context<'_>),
    ) -> bool {
        let grads = &mut self.grads;
        let mut parameters = |visit: &mut dyn FnMut(&mut [f32])| {
            network.visit_parameters(grads, &mut |p, _| visit(p))
        };
        let mut context = Context::new(&mut self.optimizer, &mut parameters);
        for callback in callbacks.iter_mut() {
            hook(&mut **callback, &mut context);
        }
        context.stop_requested()
    }

    /// One pass over `data` in batches of `B`, shuffling the order left by the previous epoch
    /// with `rng` when given. Returns the training loss and accuracy averaged over the epoch.
    /// The last batch may be partial: its missing rows get a zero gradient and the mean is taken
    /// over the rows present.
    pub fn train_epoch<const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &Dataset<IN, OUT>,
        rng: Option<&mut StdRng>,
    ) -> Metrics
    where
        N: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        match self.run_epoch(network, data, 0..data.len(), rng, false, &mut |_, _| {}) {
            Ok(metrics) => metrics,
            Err(_) => unreachable!("finiteness is only checked when asked"),
        }
    }

    /// An epoch over the samples `range` of `data`, calling `on_batch(batches done, running
    /// metrics)` after each. With `check_finite`, a batch whose loss or gradients are not
    /// finite is not applied and ends the epoch with `Err((batch, what))`.
    fn run_epoch<const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &Dataset<IN, OUT>,
        range: Range<usize>,
        rng: Option<&mut StdRng>,
        check_finite: bool,
        on_batch: &mut dyn FnMut(usize, Metrics),
    ) -> Result<Metrics, (usize, &'static str)>
    where
        N: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        if self.order.len() != range.len() {
            self.reset_order(range.len());
        }
        if let Some(rng) = rng {
            self.order.shuffle(rng);
        }
        let offset = range.start;
        network.set_training(&mut self.shard.cache, true);
        let mut totals = Totals::default();
        for (batch, start) in (0..range.len()).step_by(B).enumerate() {
            let end = (start + B).min(range.len());
            let order = &self.order[start..end];
            let rows = self.shard.gather(data, order.iter().map(|i| i + offset));
            // Shuffled rows are scattered over memory: fetch the next batch while this one trains.
            let next = &self.order[end..(end + B).min(range.len())];
            data.prefetch(next.iter().map(|i| i + offset));
            let step = (self.shard).train(
                network,
                &self.loss,
                rows,
                1.0 / rows as f32,
                &mut self.grads,
            );
            totals.add(step);
            if let Err(what) = self.apply(network, step.loss, check_finite) {
                network.set_training(&mut self.shard.cache, false);
                return Err((batch + 1, what));
            }
            on_batch(batch + 1, totals.metrics());
        }
        network.set_training(&mut self.shard.cache, false);
        Ok(totals.metrics())
    }

    /// The order of samples becomes `0..len`, reusing the buffer's capacity.
    fn reset_order(&mut self, len: usize) {
        self.order.clear();
        self.order.extend(0..len);
    }

    /// The optimizer's step with the gradients of a batch whose summed loss is `loss`. With
    /// `check_finite`, a loss or gradient that is not finite is not applied but named.
    pub(super) fn apply(
        &mut self,
        network: &mut N,
        loss: f64,
        check_finite: bool,
    ) -> Result<(), &'static str> {
        if check_finite {
            if !loss.is_finite() {
                return Err("loss");
            }
            let mut finite = true;
            network.visit_parameters(&mut self.grads, &mut |_, g| {
                finite &= g.iter().all(|g| g.is_finite())
            });
            if !finite {
                return Err("gradient");
            }
        }
        self.optimizer.step(network, &mut self.grads);
        Ok(())
    }

    /// The mean loss and the accuracy of `network` on `data` (Keras' `model.evaluate`).
    pub fn evaluate<const IN: usize, const OUT: usize>(
        &mut self,
        network: &N,
        data: &Dataset<IN, OUT>,
    ) -> Metrics
    where
        N: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        self.evaluate_range(network, data, 0..data.len())
    }

    /// The outputs of `network` for every sample of `inputs`, computed `B` at a time (Keras'
    /// `model.predict(x, batch_size=B)`), written to `outputs`. Allocates nothing: whole batches
    /// are read in place, and only a last, shorter one is copied into the trainer's buffers.
    ///
    /// ```
    /// use netcore::activation::Linear;
    /// use netcore::layers::Dense;
    /// use netcore::loss::MeanSquaredError;
    /// use netcore::optim::Sgd;
    /// use netcore::train::Trainer;
    ///
    /// let model = Dense::<2, 1, Linear>::from_parameters([[1.0], [10.0]], Some([0.5]));
    /// let mut trainer = Trainer::<_, _, _, 2>::new(&model, Sgd::new(0.1), MeanSquaredError);
    /// let inputs = [[1.0, 0.0], [0.0, 1.0], [2.0, 3.0]];
    /// let mut outputs = [[0.0]; 3];
    /// trainer.predict_into(&model, &inputs, &mut outputs);
    /// assert_eq!(outputs, [[1.5], [10.5], [32.5]]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `outputs` and `inputs` differ in length.
    pub fn predict_into(&mut self, network: &N, inputs: &[N::In], outputs: &mut [N::Out]) {
        assert_eq!(
            inputs.len(),
            outputs.len(),
            "`predict_into` writes one output per input"
        );
        for (inputs, outputs) in inputs.chunks(B).zip(outputs.chunks_mut(B)) {
            let shard = &mut self.shard;
            match <&[N::In; B]>::try_from(inputs) {
                Ok(batch) => network.forward(batch, &mut shard.output, &mut shard.cache),
                Err(_) => {
                    shard.x[..inputs.len()].copy_from_slice(inputs);
                    network.forward(&shard.x, &mut shard.output, &mut shard.cache);
                }
            }
            outputs.copy_from_slice(&shard.output[..outputs.len()]);
        }
    }

    /// [`Trainer::predict_into`] into a new vector, the one allocation: an output per input.
    pub fn predict(&mut self, network: &N, inputs: &[N::In]) -> Vec<N::Out> {
        let mut outputs = vec![bytemuck::Zeroable::zeroed(); inputs.len()];
        self.predict_into(network, inputs, &mut outputs);
        outputs
    }

    fn evaluate_range<const IN: usize, const OUT: usize>(
        &mut self,
        network: &N,
        data: &Dataset<IN, OUT>,
        range: Range<usize>,
    ) -> Metrics
    where
        N: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        let mut totals = Totals::default();
        for start in range.clone().step_by(B) {
            let end = (start + B).min(range.end);
            let rows = self.shard.gather(data, start..end);
            totals.add(self.shard.evaluate(network, &self.loss, rows));
        }
        totals.metrics()
    }
}
