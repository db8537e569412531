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
    /// The validation data given is empty: its loss would be meaningless.
    #[error("the validation data holds no samples")]
    NoValidationData,
}
