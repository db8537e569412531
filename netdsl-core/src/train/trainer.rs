//! The trainer (Keras' compiled model): optimizer, loss and buffers, and the calls a user
//! makes: `fit`, `train_epoch`, `evaluate`, `predict`.

use rand::rngs::StdRng;

use super::runner::{Lane, Partial, Runner};
use super::shard::Shard;
use super::{Fit, History, Metrics, TrainError};
use crate::data::{Dataset, Sample, Source};
use crate::kernels::Precision;
use crate::kernels::team::{Team, with_team};
use crate::layer::Layer;
use crate::loss::Loss;
use crate::metrics::{MAX_METRICS, Metric, MetricValues};
use crate::optim::Optimizer;

/// A network's (or any [`Layer`]'s) training state for batches of `B` samples: optimizer, loss, and every buffer a
/// step needs, allocated once by [`Trainer::new`] (Keras' `model.compile`). After that,
/// [`Trainer::evaluate`] allocates nothing, nor does [`Trainer::train_epoch`] once it has sized
/// its shuffling order to the dataset (on its first call for a dataset of a new length, or at the
/// start of [`Trainer::fit`]).
///
/// ```
/// use netdsl_core::activation::Sigmoid;
/// use netdsl_core::data::Dataset;
/// use netdsl_core::layers::Dense;
/// use netdsl_core::loss::BinaryCrossentropy;
/// use netdsl_core::optim::Sgd;
/// use netdsl_core::train::{Fit, Trainer, Verbose};
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
/// assert_eq!(trainer.evaluate(&model, &data).accuracy, Some(1.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Trainer<N: Layer, O, L, const B: usize> {
    optimizer: O,
    loss: L,
    /// The calling thread's buffers; during a parallel fit, the other threads' after them.
    shards: Vec<Shard<N, B>>,
    /// The order of the training samples, shuffled before each epoch.
    order: Vec<usize>,
    /// The precision of the network's products on the trainer's tapes.
    precision: Precision,
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
            shards: vec![Shard::new(network)],
            order: Vec::new(),
            precision: Precision::F32,
        }
    }

    /// Runs the network's products in `precision` in this trainer's passes from now on:
    /// training ([`Trainer::fit`], [`Trainer::train_epoch`]), [`Trainer::evaluate`] and
    /// [`Trainer::predict_into`] (bf16 inference). With [`Precision::Bf16`], master weights,
    /// gradients and the optimizer stay f32, as with Keras' `mixed_bfloat16` policy; see
    /// [`Precision`]. A new trainer computes in f32. [`Fit::precision`] sets it for a fit.
    ///
    /// ```
    /// use netdsl_core::activation::Softmax;
    /// use netdsl_core::kernels::Precision;
    /// use netdsl_core::layers::Dense;
    /// use netdsl_core::loss::CategoricalCrossentropy;
    /// use netdsl_core::optim::Sgd;
    /// use netdsl_core::train::Trainer;
    ///
    /// let dense = Dense::<4, 2, Softmax>::from_parameters([[0.5, -0.5]; 4], None);
    /// let mut trainer: Trainer<_, _, _, 2> =
    ///     Trainer::new(&dense, Sgd::new(0.1), CategoricalCrossentropy);
    /// trainer.set_precision(&dense, Precision::Bf16);
    /// assert_eq!(trainer.precision(), Precision::Bf16);
    /// let p = trainer.predict(&dense, &[[1.0, 0.0, 0.0, 0.0]]);
    /// assert!((p[0][0] - 0.731).abs() < 1e-3); // softmax(0.5, -0.5)
    /// ```
    pub fn set_precision(&mut self, network: &N, precision: Precision) {
        self.precision = precision.prepared();
        for shard in &mut self.shards {
            network.set_precision(&mut shard.tape, precision);
        }
    }

    /// The precision of the trainer's passes ([`Trainer::set_precision`]).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The optimizer, e.g. to read or change its learning rate between epochs.
    pub fn optimizer(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// Trains on `epochs` passes over `data` (Keras' `model.fit`): shuffled with the seed,
    /// evaluated after each epoch on the validation data or split, printed as `verbose` says,
    /// with the callbacks run around each epoch. A callback may have it continue an earlier fit
    /// that was interrupted, from the epoch and step it reached
    /// ([`BackupAndRestore`](super::callbacks::BackupAndRestore), [`Context::resume`]).
    ///
    /// [`Context::resume`]: super::callbacks::Context::resume
    ///
    /// With [`Fit::threads`]`(n)`, each step trains `n` shards of `B` samples on `n` threads
    /// and applies the mean gradient of all `n × B`, each thread summing and applying its own
    /// share of it. The network is shared between the threads, hence the `Sync` and `Send`
    /// bounds, which one thread needs too, since it runs the same steps (every layer of netdsl
    /// meets them); each thread owns a clone of the loss and its own tape and gradients,
    /// allocated when `fit` starts.
    ///
    /// # Errors
    ///
    /// [`TrainError::NonFinite`] when a [`TerminateOnNan`](super::callbacks::TerminateOnNan)
    /// callback is given and a batch's loss or gradients are not finite;
    /// [`TrainError::NoTrainingData`] when `data` is empty or `validation_split` holds all of it
    /// out, [`TrainError::NoValidationData`] when the validation data given is empty, and
    /// [`TrainError::ThreadsUnavailable`] when [`Fit::threads`] asks for more than one thread
    /// and the `parallel` feature is off (before anything is trained),
    /// [`TrainError::InvalidInput`] when a sample of `data` or of the validation data is not
    /// token ids of the vocabulary of a network that starts with an `Embedding`,
    /// [`TrainError::InvalidLearningRate`] when a step would train with a learning rate that is
    /// negative, NaN or infinite: the optimizer's rate when `fit` is called, or at a later epoch
    /// one that a callback set (a [`LearningRateScheduler`](super::callbacks::LearningRateScheduler)
    /// returning NaN) or that the optimizer's [schedule](crate::optim::Schedule) gives for any
    /// step of that epoch. The rates of an epoch are checked before it trains, after the
    /// callbacks' `on_epoch_begin`, so the model keeps the weights of the epochs before and
    /// the error holds their history; [`TrainError::Data`] when a source that reads its samples
    /// when asked cannot read them; [`TrainError::InvalidMetrics`] and
    /// [`TrainError::InvalidClassWeight`] for metrics and class weights that cannot apply.
    ///
    /// `data` is any [`Source`]: an in-memory [`Dataset`], or one that reads its samples as the
    /// steps ask for them ([`IdxSource`](crate::data::IdxSource), a source of your own), read
    /// in the same order for the same seed, so that both give the same weights, bit for bit.
    pub fn fit<D: Source<IN, OUT>, const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &D,
        options: Fit<'_, IN, OUT>,
    ) -> Result<History, TrainError>
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]> + Sync,
        N::Tape<B>: Send,
        N::Grads: Send,
        L: Clone + Send,
    {
        // Keras' validation_split holds out the last samples, before any shuffling.
        let held_out = if options.validation.is_none() {
            // The field is public: a fraction outside [0, 1] (or NaN) is taken as the nearest.
            let split = options.validation_split.clamp(0.0, 1.0);
            ((data.len() as f32 * split) as usize).min(data.len())
        } else {
            0
        };
        let train = 0..data.len() - held_out;
        if train.is_empty() {
            return Err(TrainError::NoTrainingData {
                samples: data.len(),
                held_out,
            });
        }
        if options
            .validation
            .is_some_and(|validation| validation.is_empty())
        {
            return Err(TrainError::NoValidationData);
        }

        data.check_inputs::<N::In>()
            .map_err(|source| TrainError::InvalidInput {
                validation: false,
                source,
            })?;
        if let Some(validation) = options.validation {
            validation
                .check_inputs::<N::In>()
                .map_err(|source| TrainError::InvalidInput {
                    validation: true,
                    source,
                })?;
        }
        // The first step's rate, before callbacks run or threads start; each epoch's are
        // checked again before it trains (`Runner::fit`).
        if let Some((_, learning_rate)) = self.optimizer.settings().first_invalid_rate(1) {
            return Err(TrainError::InvalidLearningRate {
                learning_rate,
                epoch: 1,
                batch: 1,
                history: Box::default(),
            });
        }
        check_metrics(options.metrics.iter().map(|m| m.name()))?;
        let class_weights = class_weights(&options.class_weight, data)?;
        let threads = options.threads.max(1);
        // Without `parallel`, more threads would also change the samples of a step
        // (`threads × B`), so they are refused rather than run on one thread.
        if threads > 1 && !cfg!(feature = "parallel") {
            return Err(TrainError::ThreadsUnavailable { threads });
        }
        if let Some(precision) = options.precision {
            self.set_precision(network, precision);
        }
        let Self {
            optimizer,
            loss,
            shards,
            order,
            precision,
        } = self;
        // (A fit that panicked may have left its other threads' buffers behind.)
        shards.truncate(1);
        shards.extend((1..threads).map(|_| {
            let mut shard = Shard::new(network);
            network.set_precision(&mut shard.tape, *precision);
            shard
        }));
        // The flat sum of the threads' gradients (see reduce.rs): not needed on one thread, nor
        // on two when the network visits its gradients on their own, as every netdsl layer does.
        let in_place = threads == 2 && N::visit_gradients(&mut shards[0].grads, &mut |_| {});
        let flat = threads > 1 && !in_place;
        let mut sum = vec![0.0; if flat { network.parameter_count() } else { 0 }];
        let history = with_team(threads, |team| {
            let mut lanes: Vec<_> = shards
                .iter_mut()
                .map(|shard| Lane::new(shard, loss.clone()))
                .collect();
            let mut runner = Runner {
                team,
                lanes: &mut lanes,
                sum: &mut sum,
                optimizer,
                order,
                class_weights: &class_weights,
            };
            runner.fit(network, data, train, options)
        });
        shards.truncate(1);
        history
    }

    /// One pass over `data` in batches of `B`, shuffling the order left by the previous epoch
    /// with `rng` when given. Returns the training loss and accuracy (when it applies to the
    /// loss) averaged over the epoch.
    /// The last batch may be partial: its missing rows get a zero gradient and the mean is taken
    /// over the rows present. These are the steps of [`Trainer::fit`] on one thread, hence its
    /// bounds.
    pub fn train_epoch<const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &Dataset<IN, OUT>,
        rng: Option<&mut StdRng>,
    ) -> Metrics
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]> + Sync,
        N::Tape<B>: Send,
        N::Grads: Send,
        L: Clone + Send,
    {
        let Self {
            optimizer,
            loss,
            shards,
            order,
            precision: _,
        } = self;
        let mut lane = Lane::new(&mut shards[0], loss.clone());
        let mut runner = Runner {
            team: &Team::alone(),
            lanes: std::slice::from_mut(&mut lane),
            sum: &mut [],
            optimizer,
            order,
            class_weights: &[],
        };
        match runner.run_epoch(
            network,
            data,
            0..data.len(),
            rng,
            Partial::default(),
            false,
            &mut [],
            &mut |_, _, _, _| false,
        ) {
            Ok(totals) => totals.metrics(L::ACCURACY),
            // Finiteness is only checked when asked, and a dataset in memory reads without error.
            Err(_) => unreachable!("an epoch of a dataset in memory, finiteness unchecked"),
        }
    }

    /// The mean loss and, when it applies to the loss, the accuracy of `network` on `data`
    /// (Keras' `model.evaluate`): a regression ([`crate::loss::Loss::ACCURACY`]) reports its
    /// loss alone. Over an empty dataset both are NaN: there is no mean of nothing, and 0
    /// would read as a perfect loss.
    ///
    /// ```
    /// use netdsl_core::activation::Linear;
    /// use netdsl_core::data::Dataset;
    /// use netdsl_core::layers::Dense;
    /// use netdsl_core::loss::MeanSquaredError;
    /// use netdsl_core::optim::Sgd;
    /// use netdsl_core::train::Trainer;
    ///
    /// let data = Dataset::<1, 1>::from_arrays(vec![[1.0], [2.0]], vec![[2.0], [4.0]])?;
    /// let model = Dense::<1, 1, Linear>::from_parameters([[2.0]], Some([0.5]));
    /// let mut trainer = Trainer::<_, _, _, 2>::new(&model, Sgd::new(0.1), MeanSquaredError);
    /// let result = trainer.evaluate(&model, &data);
    /// assert_eq!((result.loss, result.accuracy), (0.25, None));
    /// # Ok::<(), netdsl_core::data::Error>(())
    /// ```
    pub fn evaluate<const IN: usize, const OUT: usize>(
        &mut self,
        network: &N,
        data: &Dataset<IN, OUT>,
    ) -> Metrics
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]>,
    {
        self.evaluate_with(network, data, &mut [])
    }

    /// [`Trainer::evaluate`] measuring `metrics` too (Keras' `evaluate` of a model compiled
    /// with `metrics=[...]`): each is [prepared](Metric::prepare) and reset, updated with every
    /// sample, and its result is in [`Metrics::metrics`] (the first
    /// [`MAX_METRICS`](crate::metrics::MAX_METRICS) of them). Allocates nothing once each metric
    /// is prepared for the network's outputs (its first evaluation or fit).
    ///
    /// ```
    /// use netdsl_core::activation::Linear;
    /// use netdsl_core::data::Dataset;
    /// use netdsl_core::layers::Dense;
    /// use netdsl_core::loss::MeanSquaredError;
    /// use netdsl_core::metrics::{Auc, Precision, Recall};
    /// use netdsl_core::optim::Sgd;
    /// use netdsl_core::train::Trainer;
    ///
    /// // The output is the second input: 0.2, 0.9, 0.6, 0.4 for targets 0, 1, 0, 1.
    /// let data = Dataset::<2, 1>::from_arrays(
    ///     vec![[0.0, 0.2], [0.0, 0.9], [0.0, 0.6], [0.0, 0.4]],
    ///     vec![[0.0], [1.0], [0.0], [1.0]],
    /// )?;
    /// let model = Dense::<2, 1, Linear>::from_parameters([[0.0], [1.0]], Some([0.0]));
    /// let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.1), MeanSquaredError);
    /// let (mut precision, mut recall, mut auc) = (Precision::new(), Recall::new(), Auc::roc());
    /// let result = trainer.evaluate_with(&model, &data, &mut [&mut precision, &mut recall, &mut auc]);
    /// assert_eq!(result.metrics.get("precision"), Some(0.5));
    /// assert_eq!(result.metrics.get("recall"), Some(0.5));
    /// // Three of the four (positive, negative) pairs are in order.
    /// assert!((result.metrics.get("auc").unwrap() - 0.75).abs() < 1e-6);
    /// assert_eq!(result.accuracy, None, "a regression loss");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn evaluate_with<const IN: usize, const OUT: usize>(
        &mut self,
        network: &N,
        data: &Dataset<IN, OUT>,
        metrics: &mut [&mut dyn Metric],
    ) -> Metrics
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]>,
    {
        for metric in metrics.iter_mut() {
            metric.prepare(OUT);
            metric.reset();
        }
        let Ok(totals) =
            self.shards[0].evaluate_range(network, &self.loss, data, 0..data.len(), metrics);
        Metrics {
            metrics: MetricValues::of(metrics.iter().map(|m| &**m as &dyn Metric)),
            ..totals.metrics(L::ACCURACY)
        }
    }

    /// The outputs of `network` for every sample of `inputs`, computed `B` at a time (Keras'
    /// `model.predict(x, batch_size=B)`), written to `outputs`. Allocates nothing: whole batches
    /// are read in place, and only a last, shorter one is copied into the trainer's buffers.
    ///
    /// ```
    /// use netdsl_core::activation::Linear;
    /// use netdsl_core::layers::Dense;
    /// use netdsl_core::loss::MeanSquaredError;
    /// use netdsl_core::optim::Sgd;
    /// use netdsl_core::train::Trainer;
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
            let shard = &mut self.shards[0];
            match <&[N::In; B]>::try_from(inputs) {
                Ok(batch) => network.forward(batch, &mut shard.output, &mut shard.tape),
                Err(_) => {
                    shard.x[..inputs.len()].copy_from_slice(inputs);
                    network.forward(&shard.x, &mut shard.output, &mut shard.tape);
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
}

/// The weight of each class (`OUT` classes, or 2 for one output), 1 where `given` has none;
/// empty without class weights. Refuses a class past the last, a weight that is negative, NaN
/// or infinite, and class weights for `data` with sample weights of its own.
fn class_weights<const IN: usize, const OUT: usize>(
    given: &[(usize, f32)],
    data: &impl Source<IN, OUT>,
) -> Result<Vec<f32>, TrainError> {
    let refuse = |reason: String| Err(TrainError::InvalidClassWeight { reason });
    if given.is_empty() {
        return Ok(Vec::new());
    }
    if data.has_sample_weights() {
        return refuse(
            "the training data has sample weights; give class weights or sample weights, as Keras takes one or the other".to_owned(),
        );
    }
    let classes = OUT.max(2);
    let mut weights = vec![1.0; classes];
    for &(class, weight) in given {
        if class >= classes {
            return refuse(format!(
                "class {class}, but the network has {classes} classes (0 to {})",
                classes - 1
            ));
        }
        if !(weight.is_finite() && weight >= 0.0) {
            return refuse(format!(
                "class {class} has the weight {weight}; a weight is a finite number of at least 0"
            ));
        }
        weights[class] = weight;
    }
    Ok(weights)
}

/// Refuses metrics whose logs would be ambiguous: more than [`MAX_METRICS`], a name taken by
/// another metric or by the loss or accuracy, or one that reads as a validation value.
fn check_metrics<'n>(names: impl ExactSizeIterator<Item = &'n str>) -> Result<(), TrainError> {
    let refuse = |reason: String| Err(TrainError::InvalidMetrics { reason });
    if names.len() > MAX_METRICS {
        return refuse(format!(
            "{} metrics, expected at most {MAX_METRICS}",
            names.len()
        ));
    }
    let mut seen: [&str; MAX_METRICS] = [""; MAX_METRICS];
    for (i, name) in names.enumerate() {
        let taken = ["loss", "accuracy", "learning_rate", "epoch", "batch"];
        if taken.contains(&name) || name.starts_with("val_") {
            return refuse(format!(
                "a metric named `{name}`, which `fit` logs itself or reads as a validation value; expected another name"
            ));
        }
        if name.is_empty() {
            return refuse("a metric with an empty name; expected its Keras name".into());
        }
        if seen[..i].contains(&name) {
            return refuse(format!(
                "two metrics named `{name}`; expected distinct names, as the logs key them"
            ));
        }
        seen[i] = name;
    }
    Ok(())
}
