//! A typed dataset: `IN` inputs and `OUT` targets per sample, checked when it is built.

use super::Error;
use crate::kernels;

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
        })
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
        Self { inputs, targets }
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
    pub fn gather<const B: usize>(
        &self,
        indices: impl IntoIterator<Item = usize>,
        x: &mut [[f32; IN]; B],
        y: &mut [[f32; OUT]; B],
    ) -> usize {
        let mut rows = 0;
        for ((index, x), y) in indices.into_iter().zip(x.iter_mut()).zip(y.iter_mut()) {
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
