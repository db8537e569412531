//! The training loop: batches gathered, forward, loss, backward, optimizer step.

use std::io::Write;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::{Fit, History, Metrics, Verbose};
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
/// let history = trainer.fit(&mut model, &data, Fit::epochs(200).verbose(Verbose::Silent));
/// assert!(history.loss[199] < history.loss[0]);
/// assert_eq!(trainer.evaluate(&model, &data).accuracy, 1.0);
/// # Ok::<(), netcore::data::Error>(())
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

    /// Trains on `epochs` passes over `data` (Keras' `model.fit`), evaluating the validation
    /// data after each epoch and printing one line per epoch unless told to be silent.
    pub fn fit<const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &Dataset<IN, OUT>,
        options: Fit<'_, IN, OUT>,
    ) -> History
    where
        N: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        // Every fit starts from the dataset's own order, so the same seed gives the same batches
        // however the trainer was used before.
        self.reset_order(data.len());
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut history = History::with_capacity(options.epochs);
        let steps = data.len().div_ceil(B);
        for epoch in 1..=options.epochs {
            let start = Instant::now();
            let train = self.train_epoch(network, data, options.shuffle.then_some(&mut rng));
            let seconds = start.elapsed().as_secs_f64();
            history.loss.push(train.loss);
            history.accuracy.push(train.accuracy);
            history.epoch_seconds.push(seconds);
            let validation = options.validation.map(|val| self.evaluate(network, val));
            if let Some(val) = validation {
                history.val_loss.push(val.loss);
                history.val_accuracy.push(val.accuracy);
            }
            if options.verbose == Verbose::EpochLine {
                print_epoch_line(epoch, options.epochs, steps, seconds, train, validation);
            }
        }
        history
    }

    /// One pass over `data` in batches of `B`, shuffling the order left by the previous epoch
    /// with `rng` when given. Returns the
    /// training loss and accuracy averaged over the epoch. The last batch may be partial: its
    /// missing rows get a zero gradient and the mean is taken over the rows present.
    pub fn train_epoch<const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &Dataset<IN, OUT>,
        rng: Option<&mut StdRng>,
    ) -> Metrics
    where
        N: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        if self.order.len() != data.len() {
            self.reset_order(data.len());
        }
        if let Some(rng) = rng {
            self.order.shuffle(rng);
        }
        let mut totals = Totals::default();
        for start in (0..data.len()).step_by(B) {
            let end = (start + B).min(data.len());
            let rows = data.gather(
                self.order[start..end].iter().copied(),
                &mut self.x,
                &mut self.y,
            );
            // Shuffled rows are scattered over memory: fetch the next batch while this one trains.
            let next = &self.order[end..(end + B).min(data.len())];
            data.prefetch(next.iter().copied());
            self.train_batch(network, rows, &mut totals);
        }
        totals.metrics()
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
    ) where
        N: Layer<In = [f32; IN], Out = [f32; OUT]>,
    {
        network.forward(&self.x, &mut self.output, &mut self.tape);
        let scale = 1.0 / rows as f32;
        for (r, ((y, t), delta)) in self
            .output
            .iter()
            .zip(self.y.iter())
            .zip(self.delta.iter_mut())
            .enumerate()
        {
            if r < rows {
                totals.loss += f64::from(self.loss.loss(y, t));
                totals.hits += usize::from(self.loss.is_correct(y, t));
                self.loss.delta(y, t, scale, delta);
            } else {
                delta.fill(0.0);
            }
        }
        totals.samples += rows;
        network.backward(&self.x, &self.delta, None, &mut self.grads, &mut self.tape);
        self.optimizer.step(network, &mut self.grads);
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
        let mut totals = Totals::default();
        for start in (0..data.len()).step_by(B) {
            let end = (start + B).min(data.len());
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

/// Keras' `verbose=2` line: `1563/1563 - 1s - 640us/step - accuracy: ... - loss: ...`.
fn print_epoch_line(
    epoch: usize,
    epochs: usize,
    steps: usize,
    seconds: f64,
    train: Metrics,
    val: Option<Metrics>,
) {
    let mut out = std::io::stdout().lock();
    let per_step_us = seconds * 1e6 / steps.max(1) as f64;
    // A closed stdout must not abort training: printing is best effort.
    let _ = write!(
        out,
        "Epoch {epoch}/{epochs}\n{steps}/{steps} - {seconds:.2}s - {per_step_us:.0}us/step - accuracy: {:.4} - loss: {:.4}",
        train.accuracy, train.loss
    );
    if let Some(val) = val {
        let _ = write!(
            out,
            " - val_accuracy: {:.4} - val_loss: {:.4}",
            val.accuracy, val.loss
        );
    }
    let _ = writeln!(out);
}
