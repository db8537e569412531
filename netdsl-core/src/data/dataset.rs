//! A typed dataset: `IN` inputs and `OUT` targets per sample, checked when it is built.

use super::Error;
use crate::kernels;
use crate::layer::Row;
use crate::tokens::{TokenError, Tokens};

/// A row a [`Dataset`] of `IN` inputs per sample fills: `[f32; IN]`, or [`Tokens<IN, V>`]
/// for a network that starts with an `Embedding`. Training and evaluation take the network's
/// input type through it, so a dataset of the wrong width does not compile.
#[diagnostic::on_unimplemented(
    message = "a dataset of {IN} inputs per sample cannot fill `{Self}`",
    label = "the network's input",
    note = "the network takes `{Self}`: a `Dataset<{IN}, _>` fills `[f32; {IN}]` or `Tokens<{IN}, _>`"
)]
pub trait Sample<const IN: usize>: Row + Send + Sync + sealed::Sealed {
    /// Whether a dataset's values must be checked before they are read as this row: true for
    /// tokens, whose values must be ids.
    const CHECKED: bool = false;

    /// Whether the `IN` values of one sample may be read as this row.
    ///
    /// # Errors
    ///
    /// What is wrong with the first value that may not.
    fn check(_values: &[f32]) -> Result<(), TokenError> {
        Ok(())
    }
}

impl<const IN: usize> Sample<IN> for [f32; IN] {}

impl<const IN: usize, const V: usize> Sample<IN> for Tokens<IN, V> {
    const CHECKED: bool = true;

    fn check(values: &[f32]) -> Result<(), TokenError> {
        Tokens::<IN, V>::check_values(values)
    }
}

mod sealed {
    /// Rows of exactly `IN` values, so that a dataset can fill them.
    pub trait Sealed {}
    impl<const IN: usize> Sealed for [f32; IN] {}
    impl<const IN: usize, const V: usize> Sealed for super::Tokens<IN, V> {}
}

/// Samples with `IN` inputs and `OUT` target values each.
///
/// Inputs are kept as given: floats, or bytes scaled while a batch is gathered, so MNIST's
/// 47 MB of pixels never become 188 MB of floats. Targets are floats or class indices,
/// one-hot encoded while a batch is gathered.
///
/// ```
/// use netdsl_core::data::Dataset;
///
/// let xor = Dataset::<2, 1>::from_arrays(
///     vec![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
///     vec![[0.0], [1.0], [1.0], [0.0]],
/// )?;
/// assert_eq!(xor.len(), 4);
/// assert_eq!(xor.target(1), [1.0]);
/// # Ok::<(), netdsl_core::data::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<const IN: usize, const OUT: usize> {
    inputs: Inputs,
    targets: Targets,
    /// Each sample's weight in the loss, if the dataset has them (Keras' `sample_weight`).
    weights: Option<Vec<f32>>,
}

#[derive(Clone, Debug, PartialEq)]
enum Inputs {
    Floats(Vec<f32>),
    Bytes { values: Vec<u8>, scale: f32 },
}

#[derive(Clone, Debug, PartialEq)]
enum Targets {
    Floats(Vec<f32>),
    Classes(Vec<u32>),
}

fn check_finite(values: &[f32], width: usize) -> Result<(), Error> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(at) => Err(Error::NonFinite {
            index: at / width.max(1),
            value: values[at],
        }),
        None => Ok(()),
    }
}

impl<const IN: usize, const OUT: usize> Dataset<IN, OUT> {
    /// Float inputs and float targets, one array per sample.
    pub fn from_arrays(inputs: Vec<[f32; IN]>, targets: Vec<[f32; OUT]>) -> Result<Self, Error> {
        if inputs.len() != targets.len() {
            return Err(Error::LengthMismatch {
                inputs: inputs.len(),
                targets: targets.len(),
            });
        }
        let inputs = inputs.as_flattened().to_vec();
        let targets = targets.as_flattened().to_vec();
        check_finite(&inputs, IN)?;
        check_finite(&targets, OUT)?;
        Ok(Self {
            inputs: Inputs::Floats(inputs),
            targets: Targets::Floats(targets),
            weights: None,
        })
    }

    /// Float inputs and class indices below `OUT` (one-hot encoded as batches are gathered).
    pub fn from_classes(inputs: Vec<[f32; IN]>, classes: Vec<u32>) -> Result<Self, Error> {
        if inputs.len() != classes.len() {
            return Err(Error::LengthMismatch {
                inputs: inputs.len(),
                targets: classes.len(),
            });
        }
        let inputs = inputs.as_flattened().to_vec();
        check_finite(&inputs, IN)?;
        Self::with_classes(Inputs::Floats(inputs), classes)
    }

    /// Byte inputs (`IN` bytes per sample, each scaled by `scale` when gathered, e.g. `1/255`
    /// for pixels) and class indices below `OUT`.
    pub fn from_bytes(inputs: Vec<u8>, scale: f32, classes: Vec<u32>) -> Result<Self, Error> {
        if inputs.len() != classes.len() * IN {
            return Err(Error::LengthMismatch {
                inputs: inputs.len() / IN.max(1),
                targets: classes.len(),
            });
        }
        check_finite(&[scale], 1)?;
        Self::with_classes(
            Inputs::Bytes {
                values: inputs,
                scale,
            },
            classes,
        )
    }

    /// Token inputs (`IN` ids per sample, each below the vocabulary `V`) and class indices
    /// below `OUT`: the data of a network that starts with `Embedding(V, ..)`. Ids are kept as
    /// bytes when the vocabulary allows.
    ///
    /// ```
    /// use netdsl_core::data::Dataset;
    /// use netdsl_core::tokens::Tokens;
    ///
    /// let sentences = vec![Tokens::<3, 20>::new([4, 19, 0])?, Tokens::new([7, 7, 1])?];
    /// let data = Dataset::<3, 2>::from_tokens(sentences, vec![1, 0])?;
    /// assert_eq!(data.input(0), [4.0, 19.0, 0.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_tokens<const V: usize>(
        inputs: Vec<Tokens<IN, V>>,
        classes: Vec<u32>,
    ) -> Result<Self, Error> {
        if inputs.len() != classes.len() {
            return Err(Error::LengthMismatch {
                inputs: inputs.len(),
                targets: classes.len(),
            });
        }
        let ids = inputs.iter().flat_map(Tokens::ids);
        let inputs = if V <= 256 {
            Inputs::Bytes {
                values: ids.map(|id| id as u8).collect(),
                scale: 1.0,
            }
        } else {
            Inputs::Floats(ids.map(|id| id as f32).collect())
        };
        Self::with_classes(inputs, classes)
    }

    /// Checks that every sample can be read as the rows `X` of a network's input: that its
    /// values are token ids of the vocabulary, for [`Tokens`]; nothing to check for floats.
    ///
    /// ```
    /// use netdsl_core::data::Dataset;
    /// use netdsl_core::tokens::Tokens;
    ///
    /// let pixels = Dataset::<2, 2>::from_classes(vec![[1.0, 0.5]], vec![0])?;
    /// assert!(pixels.check_inputs::<[f32; 2]>().is_ok());
    /// let err = pixels.check_inputs::<Tokens<2, 16>>().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "sample 0 cannot be read as tokens: value 0.5 at position 1 is not a token id: expected a whole number from 0 to 15"
    /// );
    /// # Ok::<(), netdsl_core::data::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotTokens`] for the first sample that cannot.
    pub fn check_inputs<X: Sample<IN>>(&self) -> Result<(), Error> {
        if !X::CHECKED {
            return Ok(());
        }
        let mut x = vec![0.0; IN];
        for index in 0..self.len() {
            self.write_input(index, (&mut x[..]).try_into().expect("IN values"));
            X::check(&x).map_err(|source| Error::NotTokens { index, source })?;
        }
        Ok(())
    }

    fn with_classes(inputs: Inputs, classes: Vec<u32>) -> Result<Self, Error> {
        if let Some(index) = classes.iter().position(|&c| c as usize >= OUT) {
            return Err(Error::ClassOutOfRange {
                index,
                class: classes[index],
                classes: OUT,
            });
        }
        Ok(Self {
            inputs,
            targets: Targets::Classes(classes),
            weights: None,
        })
    }

    /// The dataset with a weight for each sample, by which `fit` multiplies the sample's loss
    /// and its gradient, and `evaluate` the sample's loss (Keras' `sample_weight`): the mean
    /// loss of a batch is `Σ w_i · L_i / B`, as Keras reduces it. Accuracy and the metrics stay
    /// unweighted, as Keras' `metrics` (not `weighted_metrics`) are.
    ///
    /// ```
    /// use netdsl_core::data::Dataset;
    ///
    /// let data = Dataset::<1, 2>::from_classes(vec![[0.5], [1.5]], vec![0, 1])?
    ///     .with_sample_weights(vec![1.0, 3.0])?;
    /// assert_eq!(data.sample_weight(1), 3.0);
    /// assert!(Dataset::<1, 2>::from_classes(vec![[0.5]], vec![0])?.with_sample_weights(vec![-1.0]).is_err());
    /// # Ok::<(), netdsl_core::data::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless there is one weight per sample;
    /// [`Error::InvalidWeight`] for a weight that is negative, NaN or infinite.
    pub fn with_sample_weights(mut self, weights: Vec<f32>) -> Result<Self, Error> {
        if weights.len() != self.len() {
            return Err(Error::LengthMismatch {
                inputs: self.len(),
                targets: weights.len(),
            });
        }
        if let Some(index) = weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
            let weight = weights[index];
            return Err(Error::InvalidWeight { index, weight });
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// Whether the samples have weights of their own ([`Dataset::with_sample_weights`]).
    pub fn has_sample_weights(&self) -> bool {
        self.weights.is_some()
    }

    /// The weight of sample `index`: its own, or 1.
    ///
    /// # Panics
    ///
    /// If `index >= self.len()`.
    pub fn sample_weight(&self, index: usize) -> f32 {
        assert!(index < self.len(), "sample {index} of {}", self.len());
        self.weights.as_ref().map_or(1.0, |w| w[index])
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        match &self.targets {
            Targets::Floats(t) => t.len() / OUT.max(1),
            Targets::Classes(c) => c.len(),
        }
    }

    /// Whether the dataset has no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Splits off the samples from `at` on into a new dataset, as [`Vec::split_off`]; `self`
    /// keeps the first `at`. Keras' `validation_split` takes the last samples the same way.
    ///
    /// # Panics
    ///
    /// If `at > self.len()`.
    pub fn split_off(&mut self, at: usize) -> Self {
        assert!(
            at <= self.len(),
            "split_off at {at} of a dataset of {} samples",
            self.len()
        );
        let inputs = match &mut self.inputs {
            Inputs::Floats(v) => Inputs::Floats(v.split_off(at * IN)),
            Inputs::Bytes { values, scale } => Inputs::Bytes {
                values: values.split_off(at * IN),
                scale: *scale,
            },
        };
        let targets = match &mut self.targets {
            Targets::Floats(v) => Targets::Floats(v.split_off(at * OUT)),
            Targets::Classes(c) => Targets::Classes(c.split_off(at)),
        };
        let weights = self.weights.as_mut().map(|w| w.split_off(at));
        Self {
            inputs,
            targets,
            weights,
        }
    }

    /// The input of sample `index`.
    ///
    /// # Panics
    ///
    /// If `index >= self.len()`.
    pub fn input(&self, index: usize) -> [f32; IN] {
        let mut x = [0.0; IN];
        self.write_input(index, &mut x);
        x
    }

    /// The target of sample `index` (one-hot for class targets).
    ///
    /// # Panics
    ///
    /// If `index >= self.len()`.
    pub fn target(&self, index: usize) -> [f32; OUT] {
        let mut t = [0.0; OUT];
        self.write_target(index, &mut t);
        t
    }

    /// Copies the samples at `indices` into the first rows of `x` and `y`, returning how many
    /// were copied (at most `B`; rows past that are left as they were). Allocates nothing.
    ///
    /// The rows `X` are `[f32; IN]`, or [`Tokens<IN, V>`] whose values
    /// [`Dataset::check_inputs`] checked.
    pub fn gather<X: Sample<IN>, const B: usize>(
        &self,
        indices: impl IntoIterator<Item = usize>,
        x: &mut [X; B],
        y: &mut [[f32; OUT]; B],
    ) -> usize {
        let mut rows = 0;
        for ((index, x), y) in indices.into_iter().zip(x.iter_mut()).zip(y.iter_mut()) {
            // `Sample<IN>` is sealed to rows of `IN` values.
            let x: &mut [f32; IN] = x.values_mut().try_into().expect("IN values");
            self.write_input(index, x);
            self.write_target(index, y);
            rows += 1;
        }
        rows
    }

    /// Asks the CPU to start loading the samples at `indices` into its caches, so that a later
    /// [`Dataset::gather`] of them does not wait on memory. Allocates nothing.
    pub fn prefetch(&self, indices: impl IntoIterator<Item = usize>) {
        for index in indices {
            let range = index * IN..(index + 1) * IN;
            match &self.inputs {
                Inputs::Floats(v) => kernels::prefetch(&v[range]),
                Inputs::Bytes { values, .. } => kernels::prefetch(&values[range]),
            }
        }
    }

    fn write_input(&self, index: usize, x: &mut [f32; IN]) {
        let range = index * IN..(index + 1) * IN;
        match &self.inputs {
            Inputs::Floats(v) => x.copy_from_slice(&v[range]),
            Inputs::Bytes { values, scale } => kernels::scale_bytes(&values[range], *scale, x),
        }
    }

    fn write_target(&self, index: usize, y: &mut [f32; OUT]) {
        match &self.targets {
            Targets::Floats(v) => y.copy_from_slice(&v[index * OUT..(index + 1) * OUT]),
            Targets::Classes(c) => {
                y.fill(0.0);
                y[c[index] as usize] = 1.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_scaled_and_classes_one_hot_encoded() {
        let data =
            Dataset::<2, 3>::from_bytes(vec![0, 255, 51, 102], 1.0 / 255.0, vec![2, 0]).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data.input(0), [0.0, 1.0]);
        let x = data.input(1);
        assert!(
            (x[0] - 0.2).abs() < 1e-7 && (x[1] - 0.4).abs() < 1e-7,
            "{x:?}"
        );
        assert_eq!(data.target(0), [0.0, 0.0, 1.0]);
        assert_eq!(data.target(1), [1.0, 0.0, 0.0]);
    }

    #[test]
    fn gather_fills_the_rows_it_is_given_and_no_more() {
        let data = Dataset::<1, 2>::from_classes(vec![[1.0], [2.0], [3.0]], vec![0, 1, 1]).unwrap();
        let mut x = [[9.0]; 4];
        let mut y = [[9.0; 2]; 4];
        assert_eq!(data.gather([2, 0], &mut x, &mut y), 2);
        assert_eq!(x, [[3.0], [1.0], [9.0], [9.0]]);
        assert_eq!(y, [[0.0, 1.0], [1.0, 0.0], [9.0, 9.0], [9.0, 9.0]]);
    }

    #[test]
    fn split_off_keeps_the_head_and_returns_the_tail() {
        let mut head =
            Dataset::<1, 1>::from_arrays(vec![[1.0], [2.0], [3.0]], vec![[4.0], [5.0], [6.0]])
                .unwrap();
        let tail = head.split_off(2);
        assert_eq!((head.len(), tail.len()), (2, 1));
        assert_eq!((tail.input(0), tail.target(0)), ([3.0], [6.0]));
        assert_eq!((head.input(1), head.target(1)), ([2.0], [5.0]));
    }

    #[test]
    fn bad_samples_are_errors() {
        let err = Dataset::<1, 1>::from_arrays(vec![[1.0]], vec![]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::LengthMismatch {
                    inputs: 1,
                    targets: 0
                }
            ),
            "{err}"
        );
        let err =
            Dataset::<2, 1>::from_arrays(vec![[1.0, 0.0], [f32::NAN, 0.0]], vec![[0.0], [1.0]])
                .unwrap_err();
        assert!(matches!(err, Error::NonFinite { index: 1, .. }), "{err}");
        let err = Dataset::<1, 3>::from_classes(vec![[1.0], [2.0]], vec![0, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sample 1 has class 3, but the dataset has only 3 outputs"
        );
        let err = Dataset::<2, 3>::from_bytes(vec![1, 2, 3], 1.0, vec![0, 1]).unwrap_err();
        assert!(matches!(err, Error::LengthMismatch { .. }), "{err}");
    }
}
