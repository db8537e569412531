//! [`Source`]: where `fit` reads its samples from, in memory or not.

use core::convert::Infallible;

use super::{Dataset, Error, Sample};

/// Where [`Trainer::fit`](crate::train::Trainer::fit) reads its training samples: an in-memory
/// [`Dataset`], or samples read when a step asks for them — files read lazily
/// ([`IdxSource`](super::IdxSource)), data generated on the fly — through the same steps,
/// shuffles and seeds, so that a fit from either gives the same weights, bit for bit.
///
/// A source is read by index, `B` samples a step, in the shuffled order of the fit; from
/// several threads at once with [`Fit::threads`](crate::train::Fit::threads), hence `Sync`.
///
/// ```
/// use netdsl_core::data::{Sample, Source};
///
/// /// `y = 2x` for `x` in `0, 0.01, ..`: generated, never stored.
/// struct Line;
///
/// impl Source<1, 1> for Line {
///     type Error = std::convert::Infallible;
///
///     fn len(&self) -> usize {
///         100
///     }
///
///     fn read<X: Sample<1>, const B: usize>(
///         &self,
///         indices: impl IntoIterator<Item = usize>,
///         x: &mut [X; B],
///         y: &mut [[f32; 1]; B],
///     ) -> Result<usize, Self::Error> {
///         let mut rows = 0;
///         for ((index, x), y) in indices.into_iter().zip(x.iter_mut()).zip(y.iter_mut()) {
///             let value = index as f32 * 0.01;
///             x.values_mut()[0] = value;
///             *y = [2.0 * value];
///             rows += 1;
///         }
///         Ok(rows)
///     }
/// }
///
/// let (mut x, mut y) = ([[0.0]; 4], [[0.0]; 4]);
/// assert_eq!(Line.read([3, 7], &mut x, &mut y), Ok(2));
/// assert_eq!(y[1], [0.14]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`fit` cannot read `{Self}` as samples of {IN} inputs and {OUT} targets",
    label = "the network reads {IN} values a sample and gives {OUT}",
    note = "give `fit` a `Dataset<{IN}, {OUT}>`, or another `Source<{IN}, {OUT}>`: samples of as many inputs as the network's first layer reads, and targets as wide as its output"
)]
pub trait Source<const IN: usize, const OUT: usize>: Sync {
    /// What a read that fails says: [`Infallible`] for data in memory, [`Error`] for a file.
    type Error: Into<Error>;

    /// The number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the samples at `indices` (each below [`Source::len`]) into the first rows of `x`
    /// and `y` (`y` the targets), returning how many were copied: at most `B`, rows past them
    /// left as they were. `fit` calls it for each step; to keep a step free of allocations, it
    /// should allocate nothing.
    ///
    /// # Errors
    ///
    /// Whatever keeps the samples from being read; `fit` stops with
    /// [`TrainError::Data`](crate::train::TrainError::Data), the weights as the last step left
    /// them.
    fn read<X: Sample<IN>, const B: usize>(
        &self,
        indices: impl IntoIterator<Item = usize>,
        x: &mut [X; B],
        y: &mut [[f32; OUT]; B],
    ) -> Result<usize, Self::Error>;

    /// Called with the samples of a thread's next step while it trains this one, so that a
    /// source can start bringing them closer (into the CPU's caches, from a disk). The default
    /// does nothing.
    fn prefetch(&self, indices: impl IntoIterator<Item = usize>) {
        let _ = indices;
    }

    /// Whether the samples have weights of their own ([`Source::sample_weight`]).
    fn has_sample_weights(&self) -> bool {
        false
    }

    /// The weight of sample `index` in the loss (Keras' `sample_weight`); 1 by default.
    fn sample_weight(&self, index: usize) -> f32 {
        let _ = index;
        1.0
    }

    /// Checks, before anything is trained, that every input can be read as the network's `X`
    /// (token ids of its vocabulary, for a network that starts with an `Embedding`). The
    /// default accepts them all, as every float is an input of a float network.
    ///
    /// # Errors
    ///
    /// [`Error::NotTokens`] for the first sample that cannot.
    fn check_inputs<X: Sample<IN>>(&self) -> Result<(), Error> {
        Ok(())
    }
}

impl<const IN: usize, const OUT: usize> Source<IN, OUT> for Dataset<IN, OUT> {
    type Error = Infallible;

    fn len(&self) -> usize {
        Dataset::len(self)
    }

    fn read<X: Sample<IN>, const B: usize>(
        &self,
        indices: impl IntoIterator<Item = usize>,
        x: &mut [X; B],
        y: &mut [[f32; OUT]; B],
    ) -> Result<usize, Infallible> {
        Ok(self.gather(indices, x, y))
    }

    fn prefetch(&self, indices: impl IntoIterator<Item = usize>) {
        Dataset::prefetch(self, indices);
    }

    fn has_sample_weights(&self) -> bool {
        Dataset::has_sample_weights(self)
    }

    fn sample_weight(&self, index: usize) -> f32 {
        Dataset::sample_weight(self, index)
    }

    fn check_inputs<X: Sample<IN>>(&self) -> Result<(), Error> {
        Dataset::check_inputs::<X>(self)
    }
}

impl From<Infallible> for Error {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}
