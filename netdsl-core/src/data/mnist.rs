//! Loading MNIST from its four IDX files.

use std::path::{Path, PathBuf};

use super::{Dataset, Error, idx};

/// Which half of MNIST to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MnistSplit {
    /// The 60,000 training images.
    Train,
    /// The 10,000 test images.
    Test,
}

impl MnistSplit {
    fn prefix(self) -> &'static str {
        match self {
            MnistSplit::Train => "train",
            MnistSplit::Test => "t10k",
        }
    }
}

/// `dir/name.gz` if it exists, else `dir/name` (whose absence the reader then reports).
fn locate(dir: &Path, name: &str) -> PathBuf {
    let gz = dir.join(format!("{name}.gz"));
    if gz.exists() { gz } else { dir.join(name) }
}

impl Dataset<784, 10> {
    /// Loads one half of MNIST from `dir`, which holds the four files under their usual names
    /// (`train-images.idx3-ubyte`, `train-labels.idx1-ubyte`, `t10k-...`), gzipped or not.
    /// Pixels are scaled to `[0, 1]` as batches are gathered; labels become one-hot targets.
    ///
    /// ```no_run
    /// use netdsl_core::data::{Dataset, MnistSplit};
    ///
    /// let test = Dataset::mnist("data/mnist", MnistSplit::Test)?;
    /// assert_eq!(test.len(), 10_000);
    /// # Ok::<(), netdsl_core::data::Error>(())
    /// ```
    pub fn mnist(dir: impl AsRef<Path>, split: MnistSplit) -> Result<Self, Error> {
        let dir = dir.as_ref();
        let images_path = locate(dir, &format!("{}-images.idx3-ubyte", split.prefix()));
        let labels_path = locate(dir, &format!("{}-labels.idx1-ubyte", split.prefix()));
        // Both headers are checked before either file's data is read, so a hostile header
        // fails before the data it announces is decompressed.
        let images = idx::IdxFile::open(&images_path, 3)?;
        if images.dims()[1..] != [28, 28] {
            return Err(Error::WrongShape {
                path: images_path,
                expected: vec![28, 28],
                found: images.dims()[1..].to_vec(),
            });
        }
        let labels = idx::IdxFile::open(&labels_path, 1)?;
        if images.dims()[0] != labels.dims()[0] {
            return Err(Error::CountMismatch {
                images_path,
                images: images.dims()[0],
                labels_path,
                labels: labels.dims()[0],
            });
        }
        let (labels, images) = (labels.read()?, images.read()?);
        if let Some(index) = labels.data.iter().position(|&label| label >= 10) {
            return Err(Error::LabelOutOfRange {
                path: labels_path,
                index,
                label: labels.data[index],
                classes: 10,
            });
        }
        let classes = labels.data.iter().map(|&label| u32::from(label)).collect();
        Dataset::from_bytes(images.data, 1.0 / 255.0, classes)
    }
}
