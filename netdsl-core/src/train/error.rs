use super::History;

/// Why `fit` stopped early with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A batch's loss or gradients were not finite; its update was not applied, so the model
    /// keeps the weights of the batch before.
    #[error(
        "training stopped at epoch {epoch}, batch {batch}: the {what} is not finite (NaN or infinite); the weights of the batch before are kept"
    )]
    NonFinite {
        /// The epoch, from 1.
        epoch: usize,
        /// The batch within the epoch, from 1.
        batch: usize,
        /// `"loss"` or `"gradient"`.
        what: &'static str,
        /// The history of the epochs completed before.
        history: Box<History>,
    },
    /// There is nothing to train on: the dataset is empty, or `validation_split` holds all of
    /// it out. Keras raises here too, rather than report a loss of 0.
    #[error(
        "nothing to train on: the dataset holds {samples} sample(s) and `validation_split` holds out {held_out}"
    )]
    NoTrainingData {
        /// Samples in the dataset.
        samples: usize,
        /// Samples held out for validation.
        held_out: usize,
    },
    /// A step would have trained with a learning rate that is negative, NaN or infinite (a
    /// NaN rate makes every weight NaN): the optimizer's rate when `fit` is called, one a
    /// callback set, or one its schedule gives later. `fit` looks at the rates of an epoch's
    /// steps before training it, so nothing is trained with the rate: the model keeps the
    /// weights of the epoch before (or those it had, at epoch 1).
    #[error(
        "training stopped before epoch {epoch}: its batch {batch} would train with a learning rate of {learning_rate}; expected a finite rate of at least 0, such as 0.01 (the weights of the epochs before are kept)"
    )]
    InvalidLearningRate {
        /// The rate.
        learning_rate: f32,
        /// The epoch that would have trained with it, from 1; it did not train.
        epoch: usize,
        /// The batch within that epoch whose step would have used it, from 1 (past 1 under an
        /// optimizer's schedule only).
        batch: usize,
        /// The history of the epochs completed before.
        history: Box<History>,
    },
    /// [`Fit::threads`](super::Fit::threads) asked for more than one thread, and netdsl-core was
    /// built without its `parallel` feature. Nothing was trained.
    #[error(
        "`Fit::threads({threads})` needs netdsl's `parallel` feature, which this build does not have; train on one thread or enable the feature"
    )]
    ThreadsUnavailable {
        /// The threads asked for.
        threads: usize,
    },
    /// A callback could not do its work and stopped training with
    /// [`Context::fail`](super::callbacks::Context::fail): a
    /// [`ModelCheckpoint`](super::callbacks::ModelCheckpoint) that cannot write its file, for
    /// one, as Keras raises. The model keeps the weights trained up to then, and no other
    /// callback runs after the failing one (`on_train_end` included).
    #[error(
        "training stopped at epoch {epoch}{}: {source}; the weights trained so far are kept",
        batch.map_or(String::new(), |batch| format!(", batch {batch}"))
    )]
    Callback {
        /// The epoch, from 1 (0 when it failed in `on_train_begin`, before any epoch).
        epoch: usize,
        /// The batch within the epoch, from 1, when it failed after a batch.
        batch: Option<usize>,
        /// What the callback reported.
        source: Box<dyn std::error::Error + Send + Sync>,
        /// The history of the epochs completed before.
        history: Box<History>,
    },
    /// A sample cannot be read as the network's input: a value that is not a token id of the
    /// vocabulary, for a network that starts with an `Embedding`. Checked before anything is
    /// trained.
    #[error(
        "the {} data cannot be fed to the network: {source}",
        if *validation { "validation" } else { "training" }
    )]
    InvalidInput {
        /// Whether the sample is in the validation data.
        validation: bool,
        /// Which sample, and why.
        source: crate::data::Error,
    },
    /// The metrics given to [`Fit::metric`](super::Fit::metric) cannot be logged: two share a
    /// name, one has a name `fit` logs itself (`loss`, `accuracy`, `learning_rate`, `epoch`,
    /// `batch`) or starts with `val_`, or there are more than
    /// [`MAX_METRICS`](crate::metrics::MAX_METRICS). Nothing was trained.
    #[error("the metrics of `fit` cannot be logged: {reason}")]
    InvalidMetrics {
        /// What is wrong, naming the metric.
        reason: String,
    },
    /// The training samples could not be read: a [`Source`](crate::data::Source) that reads
    /// them when asked (a file) failed. The weights are as the steps before left them.
    #[error(
        "{} of epoch {epoch} could not read its samples: {source}",
        match batch { Some(batch) => format!("step {batch}"), None => "the validation".to_owned() }
    )]
    Data {
        /// The epoch, from 1.
        epoch: usize,
        /// The step that could not read them, from 1; `None` for the validation split.
        batch: Option<usize>,
        /// What the source said.
        source: Box<crate::data::Error>,
        /// The epochs completed before it.
        history: Box<History>,
    },
    /// The validation data given is empty: its loss would be meaningless.
    #[error("the validation data holds no samples")]
    NoValidationData,
    /// The weights given to [`Fit::class_weight`](super::Fit::class_weight) cannot be applied:
    /// a class past the last, a weight that is negative, NaN or infinite, or training data
    /// with sample weights of its own. Nothing was trained.
    #[error("the class weights of `fit` cannot be applied: {reason}")]
    InvalidClassWeight {
        /// What is wrong, naming the class.
        reason: String,
    },
}
