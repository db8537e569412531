use std::io;
use std::path::PathBuf;

/// Everything that can be wrong with data read from disk or handed to a [`super::Dataset`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read (it does not exist, is a directory, its gzip stream
    /// is corrupt, ...).
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system or the decompressor said.
        source: io::Error,
    },
    /// The file does not start with the IDX magic number expected.
    #[error("`{}` is not an IDX file of {dims} dimension(s) of bytes: its magic number is {found:#010x}, expected {expected:#010x}", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// Dimensions expected.
        dims: usize,
        /// The first four bytes, big-endian.
        found: u32,
        /// The magic number expected.
        expected: u32,
    },
    /// The file ends before the data its header announces.
    #[error("`{}` is truncated: its header announces {expected} bytes, found {found}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header announces (header included).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The file's header announces more data than can be addressed.
    #[error("`{}` is not a valid IDX file: its header announces dimensions {dims:?}, too large to hold", path.display())]
    SizeOverflow {
        /// The file.
        path: PathBuf,
        /// The dimensions in the header.
        dims: Vec<usize>,
    },
    /// A gzipped file's header announces more data than a file of its size can decompress to.
    #[error("`{}` announces {announced} bytes in its header, more than a gzip file of its size can hold ({most} at most)", path.display())]
    ImplausibleSize {
        /// The file.
        path: PathBuf,
        /// Bytes the header announces (header included).
        announced: u64,
        /// The most bytes the file can decompress to.
        most: u64,
    },
    /// The file has bytes past the data its header announces.
    #[error("`{}` has data past the {expected} bytes its header announces", path.display())]
    TrailingData {
        /// The file.
        path: PathBuf,
        /// Bytes the header announces (header included).
        expected: u64,
    },
    /// The samples in the file are not of the shape the caller expects.
    #[error("`{}` holds samples of shape {found:?}, expected {expected:?}", path.display())]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// The shape of one sample expected.
        expected: Vec<usize>,
        /// The shape of one sample in the file.
        found: Vec<usize>,
    },
    /// An images file and its labels file disagree on the number of samples.
    #[error("`{}` holds {images} images but `{}` holds {labels} labels", images_path.display(), labels_path.display())]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Images it holds.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Labels it holds.
        labels: usize,
    },
    /// A labels file holds a label that is not a class of the dataset.
    #[error("`{}`: label {label} of sample {index} is not one of the {classes} classes", path.display())]
    LabelOutOfRange {
        /// The labels file.
        path: PathBuf,
        /// The sample.
        index: usize,
        /// Its label.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
    /// A row of a CSV file (the header included) has another number of fields than the
    /// dataset's inputs and targets.
    #[error("`{}`: line {line} has {found} fields, expected {} ({inputs} inputs and {targets} target{})", path.display(), inputs + targets, if *targets == 1 { "" } else { "s" })]
    CsvFieldCount {
        /// The file.
        path: PathBuf,
        /// The line the row starts on, from 1.
        line: u64,
        /// Fields found.
        found: usize,
        /// Input columns expected (`IN`).
        inputs: usize,
        /// Target columns expected.
        targets: usize,
    },
    /// A field of a CSV file is not what its column holds: a finite number, or a class index.
    #[error("`{}`: line {line}, column {column}: expected {expected}, found `{field}`", path.display())]
    CsvField {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: u64,
        /// The column: its name in backticks, or its position from 0.
        column: String,
        /// The field, trimmed.
        field: String,
        /// What the column holds.
        expected: &'static str,
    },
    /// The target column asked for is not one of the CSV file's.
    #[error("`{}` has no target column `{column}`: its columns are {columns:?}", path.display())]
    CsvColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for: a name, or a position from 0.
        column: String,
        /// The file's columns: the names in its header, or positions without one.
        columns: Vec<String>,
    },
    /// A dataset of a fixed number of classes was asked for with another number of outputs.
    #[error("{what} has {classes} classes, but the dataset was asked for {outputs} outputs")]
    ClassCount {
        /// The data: "EMNIST `letters`".
        what: String,
        /// Its classes.
        classes: usize,
        /// The outputs asked for (`OUT`).
        outputs: usize,
    },
    /// Inputs and targets of different lengths were given.
    #[error("{inputs} input samples but {targets} targets")]
    LengthMismatch {
        /// Input samples given.
        inputs: usize,
        /// Targets given.
        targets: usize,
    },
    /// A class index is not below the number of outputs.
    #[error("sample {index} has class {class}, but the dataset has only {classes} outputs")]
    ClassOutOfRange {
        /// The sample.
        index: usize,
        /// Its class.
        class: u32,
        /// The number of outputs.
        classes: usize,
    },
    /// A sample's inputs are read as token ids (the network starts with an `Embedding`), and
    /// one of them is not an id of the vocabulary.
    #[error("sample {index} cannot be read as tokens: {source}")]
    NotTokens {
        /// The sample.
        index: usize,
        /// Which value, and why.
        source: crate::tokens::TokenError,
    },
    /// An input or target is NaN or infinite.
    #[error("sample {index} holds a non-finite value ({value})")]
    NonFinite {
        /// The sample.
        index: usize,
        /// The value.
        value: f32,
    },
    /// The file is gzipped where it must be read by position (an
    /// [`IdxSource`](super::IdxSource)).
    #[error("`{}` is gzipped: a lazy source reads its samples by position, which a gzip stream cannot give; decompress it (`gunzip -k`), or load it whole", path.display())]
    Gzipped {
        /// The file.
        path: PathBuf,
    },
    /// A sample's weight is negative, NaN or infinite.
    #[error("sample {index} has the weight {weight}; a weight is a finite number of at least 0")]
    InvalidWeight {
        /// The sample.
        index: usize,
        /// The weight.
        weight: f32,
    },
}
