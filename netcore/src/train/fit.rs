//! The options of `fit`, named as in Keras.

use crate::data::Dataset;

/// How much `fit` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbose {
    /// Nothing (Keras' `verbose=0`).
    Silent,
    /// One line per epoch (Keras' `verbose=2`).
    #[default]
    EpochLine,
}

/// Options of [`crate::train::Trainer::fit`]: epochs, validation data, shuffling, seed,
/// verbosity. The batch size is the trainer's `const B`.
///
/// ```
/// use netcore::data::Dataset;
/// use netcore::train::{Fit, Verbose};
///
/// let val = Dataset::<2, 1>::from_arrays(vec![[0.0, 1.0]], vec![[1.0]])?;
/// let options = Fit::epochs(10).validation_data(&val).seed(7).verbose(Verbose::Silent);
/// assert_eq!(options.epochs, 10);
/// # Ok::<(), netcore::data::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Fit<'a, const IN: usize, const OUT: usize> {
    /// Passes over the training data.
    pub epochs: usize,
    /// Data evaluated after each epoch (Keras' `validation_data`).
    pub validation: Option<&'a Dataset<IN, OUT>>,
    /// Whether to shuffle the training data before each epoch (default: yes, as Keras).
    pub shuffle: bool,
    /// Seed of the shuffling; the same seed gives the same order of batches.
    pub seed: u64,
    /// What to print.
    pub verbose: Verbose,
}

impl<'a, const IN: usize, const OUT: usize> Fit<'a, IN, OUT> {
    /// `epochs` passes, shuffled with seed 0, no validation data, one line per epoch.
    pub fn epochs(epochs: usize) -> Self {
        Self {
            epochs,
            validation: None,
            shuffle: true,
            seed: 0,
            verbose: Verbose::default(),
        }
    }

    /// Evaluates `data` after every epoch.
    pub fn validation_data(self, data: &'a Dataset<IN, OUT>) -> Self {
        Self {
            validation: Some(data),
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
}
