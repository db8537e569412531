//! Loading MNIST, Fashion-MNIST and EMNIST: 28 × 28 images in IDX files, with their labels.

use std::path::{Path, PathBuf};

use super::{Dataset, Error, idx};

/// Which half of MNIST (Fashion-MNIST, an EMNIST split) to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MnistSplit {
    /// The training images (60,000 for MNIST and Fashion-MNIST).
    Train,
    /// The test images (10,000 for MNIST and Fashion-MNIST).
    Test,
}

impl MnistSplit {
    fn prefix(self) -> &'static str {
        match self {
            MnistSplit::Train => "train",
            MnistSplit::Test => "t10k",
        }
    }

    fn emnist_name(self) -> &'static str {
        match self {
            MnistSplit::Train => "train",
            MnistSplit::Test => "test",
        }
    }
}

/// One of EMNIST's datasets (Cohen et al., 2017), each with its number of classes, the `OUT` of
/// the [`Dataset`] that [`Dataset::emnist`] loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmnistSplit {
    /// 62 classes: digits, upper-case and lower-case letters (`emnist-byclass-*`).
    ByClass,
    /// 47 classes: lower-case letters that look like their upper case merged with it
    /// (`emnist-bymerge-*`).
    ByMerge,
    /// 47 classes, the same number of samples in each (`emnist-balanced-*`).
    Balanced,
    /// 26 classes, the letters, case merged (`emnist-letters-*`). The files label them 1 to 26;
    /// the dataset's classes are 0 to 25 (`a` is 0).
    Letters,
    /// 10 classes, digits (`emnist-digits-*`).
    Digits,
    /// 10 classes, digits, as many as MNIST has (`emnist-mnist-*`).
    Mnist,
}

impl EmnistSplit {
    /// The split's name in its file names: `"balanced"`, `"letters"`, ...
    pub fn name(self) -> &'static str {
        match self {
            EmnistSplit::ByClass => "byclass",
            EmnistSplit::ByMerge => "bymerge",
            EmnistSplit::Balanced => "balanced",
            EmnistSplit::Letters => "letters",
            EmnistSplit::Digits => "digits",
            EmnistSplit::Mnist => "mnist",
        }
    }

    /// The number of classes.
    pub fn classes(self) -> usize {
        match self {
            EmnistSplit::ByClass => 62,
            EmnistSplit::ByMerge | EmnistSplit::Balanced => 47,
            EmnistSplit::Letters => 26,
            EmnistSplit::Digits | EmnistSplit::Mnist => 10,
        }
    }

    /// The label the files give class 0: 1 for the letters, 0 otherwise.
    fn first_label(self) -> u8 {
        u8::from(self == EmnistSplit::Letters)
    }
}

/// The first of `dir/name.gz` and `dir/name` for each of `names` that exists, else
/// `dir/names[0]` (whose absence the reader then reports).
fn locate(dir: &Path, names: &[String]) -> PathBuf {
    names
        .iter()
        .flat_map(|name| [dir.join(format!("{name}.gz")), dir.join(name)])
        .find(|path| path.exists())
        .unwrap_or_else(|| dir.join(&names[0]))
}

/// The file names of one half of MNIST or Fashion-MNIST, `kind` being `images` or `labels`:
/// `train-images.idx3-ubyte` as this repository keeps MNIST, and `train-images-idx3-ubyte` as
/// the original sites (and Fashion-MNIST's) name them.
fn mnist_names(split: MnistSplit, kind: &str) -> Vec<String> {
    let dims = if kind == "images" { 3 } else { 1 };
    let prefix = split.prefix();
    vec![
        format!("{prefix}-{kind}.idx{dims}-ubyte"),
        format!("{prefix}-{kind}-idx{dims}-ubyte"),
    ]
}

/// How the images of a file are laid out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Row by row, as MNIST and Fashion-MNIST store them.
    Rows,
    /// Column by column, as EMNIST stores them: each image is MNIST's transposed.
    Columns,
}

/// The 28 × 28 images of `images_path` with the labels of `labels_path`, each label minus
/// `first_label` being a class below `OUT`.
fn load<const OUT: usize>(
    images_path: PathBuf,
    labels_path: PathBuf,
    first_label: u8,
    layout: Layout,
) -> Result<Dataset<784, OUT>, Error> {
    // Both headers are checked before either file's data is read, so a hostile header fails
    // before the data it announces is decompressed.
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
    let class = |label: u8| label.checked_sub(first_label).map(usize::from);
    if let Some(index) = (labels.data.iter()).position(|&l| class(l).is_none_or(|c| c >= OUT)) {
        return Err(Error::LabelOutOfRange {
            path: labels_path,
            index,
            label: labels.data[index],
            classes: OUT,
        });
    }
    let classes = labels
        .data
        .iter()
        .map(|&l| (l - first_label).into())
        .collect();
    let mut pixels = images.data;
    if layout == Layout::Columns {
        for image in pixels.chunks_exact_mut(784) {
            transpose_28(image);
        }
    }
    Dataset::from_bytes(pixels, 1.0 / 255.0, classes)
}

/// Transposes a 28 × 28 image in place.
fn transpose_28(image: &mut [u8]) {
    for r in 0..28 {
        for c in r + 1..28 {
            image.swap(r * 28 + c, c * 28 + r);
        }
    }
}

impl Dataset<784, 10> {
    /// Loads one half of MNIST from `dir`, which holds the four files under their usual names
    /// (`train-images.idx3-ubyte`, `train-labels.idx1-ubyte`, `t10k-...`, or with `-idx3-ubyte`
    /// as the original site names them), gzipped or not. Pixels are scaled to `[0, 1]` as
    /// batches are gathered; labels become one-hot targets.
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
        let images = locate(dir, &mnist_names(split, "images"));
        let labels = locate(dir, &mnist_names(split, "labels"));
        load(images, labels, 0, Layout::Rows)
    }

    /// Loads one half of Fashion-MNIST (Zalando's 28 × 28 grey images of clothes in 10
    /// classes, `0` T-shirt/top to `9` ankle boot; Keras' `fashion_mnist.load_data()`) from
    /// `dir`: the same four IDX files as MNIST, under the same names
    /// (`train-images-idx3-ubyte.gz`, ...), so this is [`Dataset::mnist`] by another name, kept
    /// for what it says.
    ///
    /// ```no_run
    /// use netdsl_core::data::{Dataset, MnistSplit};
    ///
    /// let train = Dataset::fashion_mnist("data/fashion-mnist", MnistSplit::Train)?;
    /// assert_eq!(train.len(), 60_000);
    /// # Ok::<(), netdsl_core::data::Error>(())
    /// ```
    pub fn fashion_mnist(dir: impl AsRef<Path>, split: MnistSplit) -> Result<Self, Error> {
        Self::mnist(dir, split)
    }
}

impl<const OUT: usize> Dataset<784, OUT> {
    /// Loads one half of an EMNIST dataset from `dir`, which holds its files under the names
    /// EMNIST gives them (`emnist-balanced-train-images-idx3-ubyte`,
    /// `emnist-balanced-train-labels-idx1-ubyte`, `...-test-...`), gzipped or not. `OUT` must be
    /// the split's number of classes ([`EmnistSplit::classes`]); the letters' labels 1 to 26
    /// become classes 0 to 25.
    ///
    /// EMNIST stores each image transposed, column by column; the loader transposes them back,
    /// so an EMNIST digit reads as an MNIST one does (row by row, upright), and a network
    /// trained on one reads the other.
    ///
    /// ```no_run
    /// use netdsl_core::data::{Dataset, EmnistSplit, MnistSplit};
    ///
    /// let letters = Dataset::<784, 26>::emnist("data/emnist", EmnistSplit::Letters, MnistSplit::Test)?;
    /// assert_eq!(letters.len(), 20_800);
    /// # Ok::<(), netdsl_core::data::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::ClassCount`] if `OUT` is not the split's number of classes, and as
    /// [`Dataset::mnist`] for the files.
    pub fn emnist(
        dir: impl AsRef<Path>,
        emnist: EmnistSplit,
        split: MnistSplit,
    ) -> Result<Self, Error> {
        if emnist.classes() != OUT {
            return Err(Error::ClassCount {
                what: format!("EMNIST `{}`", emnist.name()),
                classes: emnist.classes(),
                outputs: OUT,
            });
        }
        let dir = dir.as_ref();
        let name = |kind: &str, dims: u8| {
            let (set, half) = (emnist.name(), split.emnist_name());
            vec![format!("emnist-{set}-{half}-{kind}-idx{dims}-ubyte")]
        };
        let images = locate(dir, &name("images", 3));
        let labels = locate(dir, &name("labels", 1));
        load(images, labels, emnist.first_label(), Layout::Columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposing_swaps_rows_and_columns() {
        let mut image: Vec<u8> = (0..784).map(|i| (i % 251) as u8).collect();
        let original = image.clone();
        transpose_28(&mut image);
        for r in 0..28 {
            for c in 0..28 {
                assert_eq!(image[r * 28 + c], original[c * 28 + r]);
            }
        }
        transpose_28(&mut image);
        assert_eq!(image, original);
    }

    #[test]
    fn emnist_splits_have_their_class_counts() {
        assert_eq!(EmnistSplit::ByClass.classes(), 62);
        assert_eq!(EmnistSplit::Balanced.classes(), 47);
        assert_eq!(EmnistSplit::Letters.first_label(), 1);
        assert_eq!(EmnistSplit::Digits.first_label(), 0);
    }
}
