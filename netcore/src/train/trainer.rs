//! The training loop: batches gathered, forward, loss, backward, optimizer step.

use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::callbacks::{Callback, Context};
use super::progress::{EpochBar, write_epoch_line};
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
    optimizer: O,
    loss: L,
    tape: N::Cache<B>,
    grads: N::Grads,
    x: Box<[N::In; B]>,
    y: Box<[N::Out; B]>,
    output: Box<[N::Out; B]>,
    delta: Box<[N::Out; B]>,
    order: Vec<usize>,
}

/// Sums over the batches of an epoch or an evaluation.
#[derive(Default)]
struct Totals {
    loss: f64,
    hits: usize,
    samples: usize,
}

impl Totals {
    fn metrics(&self) -> Metrics {
        let n = self.samples.max(1) as f64;
        Metrics {
            loss: (self.loss / n) as f32,
            accuracy: (self.hits as f64 / n) as f32,
        }
    }
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
            tape: network.new_cache(),
            grads: network.new_grads(),
            x: bytemuck::zeroed_box(),
            y: bytemuck::zeroed_box(),
            output: bytemuck::zeroed_box(),
            delta: bytemuck::zeroed_box(),
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
        N: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        let Fit {
            epochs,
            validation,
            validation_split,
            shuffle,
            seed,
            verbose,
            mut callbacks,
            output,
        } = options;
        // Keras' validation_split holds out the last samples, before any shuffling.
        let held_out = if validation.is_none() {
            (data.len() as f32 * validation_split) as usize
        } else {
            0
        };
        let train = 0..data.len() - held_out;
        let split = (held_out > 0).then(|| data.len() - held_out..data.len());

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
        let steps = train.len().div_ceil(B);
        self.run_callbacks(network, &mut callbacks, |callback, context| {
            callback.on_train_begin(context)
        });
        for epoch in 1..=epochs {
            self.run_callbacks(network, &mut callbacks, |callback, context| {
                callback.on_epoch_begin(epoch, context)
            });
            let bar =
                (verbose == Verbose::ProgressBar).then(|| EpochBar::start(epoch, epochs, steps));
            let start = Instant::now();
            let trained = self.run_epoch(
                network,
                data,
                train.clone(),
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
                (Some(val), _) => Some(self.evaluate(network, val)),
                (None, Some(range)) => Some(self.evaluate_range(network, data, range.clone())),
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
            let stop = self.run_callbacks(network, &mut callbacks, |callback, context| {
                callback.on_epoch_end(&logs, context)
            });
            if stop {
                break;
            }
        }
        self.run_callbacks(network, &mut callbacks, |callback, context| {
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
        network.set_training(true);
        let mut totals = Totals::default();
        for (batch, start) in (0..range.len()).step_by(B).enumerate() {
            let end = (start + B).min(range.len());
            let rows = data.gather(
                self.order[start..end].iter().map(|i| i + offset),
                &mut self.x,
                &mut self.y,
            );
            // Shuffled rows are scattered over memory: fetch the next batch while this one trains.
            let next = &self.order[end..(end + B).min(range.len())];
            data.prefetch(next.iter().map(|i| i + offset));
            if let Err(what) = self.train_batch(network, rows, &mut totals, check_finite) {
                network.set_training(false);
                return Err((batch + 1, what));
            }
            on_batch(batch + 1, totals.metrics());
        }
        network.set_training(false);
        Ok(totals.metrics())
    }

    /// The order of samples becomes `0..len`, reusing the buffer's capacity.
    fn reset_order(&mut self, len: usize) {
        self.order.clear();
        self.order.extend(0..len);
    }

    fn train_batch<const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        rows: usize,
        totals: &mut Totals,
        check_finite: bool,
    ) -> Result<(), &'static str>
    where
        N: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        network.forward(&self.x, &mut self.output, &mut self.tape);
        let scale = 1.0 / rows as f32;
        let mut batch_loss = 0.0;
        for (r, ((y, t), delta)) in self
            .output
            .iter()
            .zip(self.y.iter())
            .zip(self.delta.iter_mut())
            .enumerate()
        {
            if r < rows {
                batch_loss += f64::from(self.loss.loss(y, t));
                totals.hits += usize::from(self.loss.is_correct(y, t));
                self.loss.delta(y, t, scale, delta);
            } else {
                delta.fill(0.0);
            }
        }
        totals.loss += batch_loss;
        totals.samples += rows;
        network.backward(&self.x, &self.delta, None, &mut self.grads, &mut self.tape);
        if check_finite {
            if !batch_loss.is_finite() {
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
            let rows = data.gather(start..end, &mut self.x, &mut self.y);
            network.forward(&self.x, &mut self.output, &mut self.tape);
            for (y, t) in self.output.iter().zip(self.y.iter()).take(rows) {
                totals.loss += f64::from(self.loss.loss(y, t));
                totals.hits += usize::from(self.loss.is_correct(y, t));
            }
            totals.samples += rows;
        }
        totals.metrics()
    }
}
