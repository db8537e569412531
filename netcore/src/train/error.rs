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
    /// The optimizer's learning rate is negative, NaN or infinite: its first update would ruin
    /// every weight (a NaN rate makes them all NaN), so nothing is trained.
    #[error(
        "the learning rate is {learning_rate}; expected a finite rate of at least 0, such as 0.01"
    )]
    InvalidLearningRate {
        /// The rate in effect when `fit` was called.
        learning_rate: f32,
    },
    /// The validation data given is empty: its loss would be meaningless.
    #[error("the validation data holds no samples")]
    NoValidationData,
}
