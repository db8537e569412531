//! The options of `fit`, named as in Keras.

use std::io::Write;

use super::callbacks::Callback;
use crate::data::Dataset;
use crate::kernels::Precision;
use crate::metrics::Metric;

/// How much `fit` prints (Keras' `verbose`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbose {
    /// A progress bar on a terminal, one line per epoch otherwise (Keras' `"auto"`). Without
    /// the `progress` feature, one line per epoch.
    #[default]
    Auto,
    /// Nothing (Keras' `verbose=0`).
    Silent,
    /// A progress bar per epoch with an ETA and the running loss and accuracy (Keras'
    /// `verbose=1`); one line per epoch when the output is not a terminal, or without the
    /// `progress` feature.
    ProgressBar,
    /// One line per epoch (Keras' `verbose=2`).
    EpochLine,
    /// A line every `n` steps with the epoch's running logs, and one per epoch: for logs
    /// followed by a file, where a progress bar is noise and a line per epoch too little.
    ///
    /// ```
    /// use netdsl_core::train::{Fit, Verbose};
    ///
    /// let options = Fit::<2, 1>::epochs(3).verbose(Verbose::Steps(100));
    /// assert_eq!(options.verbose, Verbose::Steps(100));
    /// ```
    Steps(usize),
}

/// Options of [`crate::train::Trainer::fit`]: epochs, validation data or split, shuffling,
/// seed, verbosity, callbacks, threads. The batch size is the trainer's `const B` times the
/// threads.
///
/// ```
/// use netdsl_core::data::Dataset;
/// use netdsl_core::train::callbacks::{EarlyStopping, Monitor};
/// use netdsl_core::train::{Fit, Verbose};
///
/// let val = Dataset::<2, 1>::from_arrays(vec![[0.0, 1.0]], vec![[1.0]])?;
/// let mut early = EarlyStopping::new(Monitor::ValLoss).patience(3);
/// let options = Fit::epochs(10).validation_data(&val).seed(7).verbose(Verbose::Silent).callback(&mut early);
/// assert_eq!(options.epochs, 10);
/// # Ok::<(), netdsl_core::data::Error>(())
/// ```
pub struct Fit<'a, const IN: usize, const OUT: usize> {
    /// Passes over the training data.
    pub epochs: usize,
    /// Data evaluated after each epoch (Keras' `validation_data`).
    pub validation: Option<&'a Dataset<IN, OUT>>,
    /// The fraction of the training data, taken from its end before any shuffling, held out
    /// for validation (Keras' `validation_split`); ignored when `validation` is given.
    pub validation_split: f32,
    /// Whether to shuffle the training data before each epoch (default: yes, as Keras).
    pub shuffle: bool,
    /// Seed of the shuffling; the same seed gives the same order of batches, and on the same
    /// machine a bit-identical history.
    pub seed: u64,
    /// What to print.
    pub verbose: Verbose,
    /// Threads that train each step, each on its own `B` samples (see [`Fit::threads`]).
    pub threads: usize,
    pub(crate) callbacks: Vec<&'a mut dyn Callback>,
    pub(crate) metrics: Vec<Box<dyn Metric + 'a>>,
    pub(crate) output: Option<&'a mut dyn Write>,
    pub(crate) class_weight: Vec<(usize, f32)>,
    pub(crate) precision: Option<Precision>,
}

impl<'a, const IN: usize, const OUT: usize> Fit<'a, IN, OUT> {
    /// `epochs` passes, shuffled with seed 0, no validation, printing as Keras' `"auto"`.
    pub fn epochs(epochs: usize) -> Self {
        Self {
            epochs,
            validation: None,
            validation_split: 0.0,
            shuffle: true,
            seed: 0,
            verbose: Verbose::default(),
            threads: 1,
            callbacks: Vec::new(),
            metrics: Vec::new(),
            output: None,
            class_weight: Vec::new(),
            precision: None,
        }
    }

    /// Trains (and validates) with the network's products in `precision`: the trainer's
    /// [`Trainer::set_precision`], which stays for its later passes. Without it the fit keeps
    /// the trainer's (f32 for a new trainer).
    ///
    /// [`Trainer::set_precision`]: super::Trainer::set_precision
    ///
    /// ```
    /// use netdsl_core::kernels::Precision;
    /// use netdsl_core::train::Fit;
    ///
    /// let options = Fit::<784, 10>::epochs(2).precision(Precision::Bf16);
    /// # let _ = options;
    /// ```
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = Some(precision);
        self
    }

    /// Weighs each training sample's loss and gradient by the weight of its class (Keras'
    /// `class_weight={class: weight}`): a class not given weighs 1. A sample's class is its
    /// target's largest value, or with one output its target rounded (0 or 1), as Keras reads
    /// it. The mean loss of a batch is `Σ w_i · L_i / B`; validation and the metrics stay
    /// unweighted, as in Keras. `fit` refuses a class past the last, a weight that is negative,
    /// NaN or infinite, and training data with weights of its own
    /// ([`Dataset::with_sample_weights`]): Keras takes one or the other.
    ///
    /// ```
    /// use netdsl_core::train::Fit;
    ///
    /// // Class 3, rare in the data, weighs as much as ten samples of the others.
    /// let options = Fit::<784, 10>::epochs(5).class_weight([(3, 10.0)]);
    /// assert_eq!(options.epochs, 5);
    /// ```
    pub fn class_weight(mut self, weights: impl IntoIterator<Item = (usize, f32)>) -> Self {
        self.class_weight.extend(weights);
        self
    }

    /// Evaluates `data` after every epoch.
    pub fn validation_data(self, data: &'a Dataset<IN, OUT>) -> Self {
        Self {
            validation: Some(data),
            ..self
        }
    }

    /// Holds out the last `fraction` of the training data for validation.
    pub fn validation_split(self, fraction: f32) -> Self {
        Self {
            validation_split: fraction.clamp(0.0, 1.0),
            ..self
        }
    }

    /// Shuffles (or not) before each epoch.
    pub fn shuffle(self, shuffle: bool) -> Self {
        Self { shuffle, ..self }
    }

    /// Seeds the shuffling.
    pub fn seed(self, seed: u64) -> Self {
        Self { seed, ..self }
    }

    /// Sets what is printed.
    pub fn verbose(self, verbose: Verbose) -> Self {
        Self { verbose, ..self }
    }

    /// Trains on `threads` threads, data-parallel: each step, every thread trains its own
    /// shard of `B` samples (the trainer's `const B`) on the shared network, and the optimizer
    /// applies the mean gradient of all of them. **A step therefore trains `threads × B`
    /// samples: Keras' `batch_size` is `threads × B`**, as with TensorFlow's `MirroredStrategy`
    /// or PyTorch's `DistributedDataParallel`, where the batch size given is per replica. So
    /// `Trainer::<_, _, _, 64>` with `threads(2)` trains like Keras' `batch_size=128`: on the
    /// 2-vCPU CI machine, 1.50–1.55× as fast as `Trainer::<_, _, _, 128>` on one thread for
    /// the tutorial network. The optimizer step is shared too: each thread sums the threads'
    /// gradients over its own share of every large parameter tensor and updates that share (a
    /// reduce-scatter over shared memory), so no thread waits while another updates the whole
    /// model; what two threads still lose is moving weights and gradients between the cores.
    ///
    /// The threads start once per `fit`, the calling thread being one of them, and a step
    /// allocates nothing. One thread runs the same steps, with one shard of `B` samples. A
    /// given seed and number of threads give the same history run after run; another number
    /// of threads sums the gradients in another order, and different dropout masks, so its
    /// results differ within noise. `0` counts as 1 (the default). Use at most as many threads
    /// as free cores: the threads wait for each other several times a step.
    ///
    /// Threads need the `parallel` feature (on by default). Without it, this still compiles,
    /// and `fit` with more than one thread returns [`TrainError::ThreadsUnavailable`] before
    /// training anything: running on one thread instead would silently change the number of
    /// samples of a step, hence the batch size.
    ///
    /// [`TrainError::ThreadsUnavailable`]: super::TrainError::ThreadsUnavailable
    ///
    /// ```
    /// use netdsl_core::activation::Sigmoid;
    /// use netdsl_core::data::Dataset;
    /// use netdsl_core::layers::Dense;
    /// use netdsl_core::loss::BinaryCrossentropy;
    /// use netdsl_core::optim::Sgd;
    /// use netdsl_core::train::{Fit, Trainer, Verbose};
    ///
    /// // AND of two inputs, 64 copies: steps of 2 threads × 8 = 16 samples, 16 steps an epoch.
    /// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    /// let targets = [[0.0], [0.0], [0.0], [1.0]];
    /// let data = Dataset::<2, 1>::from_arrays(inputs.repeat(64), targets.repeat(64))?;
    /// let mut model = Dense::<2, 1, Sigmoid>::from_parameters([[0.0], [0.0]], Some([0.0]));
    /// let mut trainer = Trainer::<_, _, _, 8>::new(&model, Sgd::new(1.0), BinaryCrossentropy);
    /// let options = Fit::epochs(20).threads(2).verbose(Verbose::Silent);
    /// let history = trainer.fit(&mut model, &data, options)?;
    /// assert!(history.loss[19] < history.loss[0]);
    /// assert_eq!(trainer.evaluate(&model, &data).accuracy, Some(1.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn threads(self, threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            ..self
        }
    }

    /// Adds a callback, run in the order added.
    pub fn callback(mut self, callback: &'a mut dyn Callback) -> Self {
        self.callbacks.push(callback);
        self
    }

    /// Measures `metric` on the training data and, when there is some, the validation data
    /// (Keras' `metrics=[...]`), in the order added: each epoch's value goes into the
    /// [`EpochLogs`](super::EpochLogs) under the metric's [name](Metric::name) (`precision`,
    /// `val_precision`), the progress bar and the epoch line, the [`History`](super::History)
    /// and the columns of a [`CsvLogger`](super::callbacks::CsvLogger), and a
    /// [`Monitor::Metric`](super::callbacks::Monitor::Metric) watches it. Give it owned, or as
    /// `&mut` to read its state after the fit. At most
    /// [`MAX_METRICS`](crate::metrics::MAX_METRICS), with distinct names other than the keys
    /// `fit` logs itself (`loss`, `accuracy`...): `fit` refuses others before training
    /// ([`TrainError::InvalidMetrics`](super::TrainError::InvalidMetrics)).
    ///
    /// A metric is updated with each sample's output of the step's forward pass (before the
    /// step's update, as Keras does), and allocates nothing then. A fit that
    /// [resumes](super::callbacks::Context::resume) in the middle of an epoch measures that
    /// epoch's metrics over the steps it trains, not those the interrupted fit took.
    ///
    /// ```
    /// use netdsl_core::activation::Sigmoid;
    /// use netdsl_core::data::Dataset;
    /// use netdsl_core::layers::Dense;
    /// use netdsl_core::loss::BinaryCrossentropy;
    /// use netdsl_core::metrics::{Auc, Precision, Recall};
    /// use netdsl_core::optim::Sgd;
    /// use netdsl_core::train::{Fit, Trainer, Verbose};
    ///
    /// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    /// let data = Dataset::<2, 1>::from_arrays(inputs.repeat(8), [[0.0], [0.0], [0.0], [1.0]].repeat(8))?;
    /// let mut model = Dense::<2, 1, Sigmoid>::from_parameters([[0.0], [0.0]], Some([0.0]));
    /// let mut trainer = Trainer::<_, _, _, 8>::new(&model, Sgd::new(1.0), BinaryCrossentropy);
    /// let mut recall = Recall::new();
    /// let options = Fit::epochs(100)
    ///     .validation_data(&data)
    ///     .metric(Precision::new())
    ///     .metric(&mut recall)
    ///     .metric(Auc::roc())
    ///     .verbose(Verbose::Silent);
    /// let history = trainer.fit(&mut model, &data, options)?;
    /// assert_eq!(history.get("val_precision").map(<[f32]>::len), Some(100));
    /// assert_eq!(history.get("auc").unwrap()[99], 1.0);
    /// assert_eq!(recall.result(), 1.0, "the last validation's state");
    /// # use netdsl_core::metrics::Metric;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metric(mut self, metric: impl Metric + 'a) -> Self {
        self.metrics.push(Box::new(metric));
        self
    }

    /// Prints to `output` instead of standard output (which is then never a terminal, so
    /// `Verbose::Auto` prints one line per epoch).
    pub fn output(mut self, output: &'a mut dyn Write) -> Self {
        self.output = Some(output);
        self
    }
}
