//! [`IdxSource`]: images and labels read from IDX files as `fit` asks for them.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::idx::IdxFile;
use super::{Error, Sample, Source};
use crate::kernels;

/// Images and their labels in raw (not gzipped) IDX files — MNIST's format, and Fashion-MNIST's
/// and EMNIST's — read sample by sample as `fit` asks for them, never loaded whole: a
/// [`Source`] for data larger than memory. The labels, one byte each, are read when the files
/// are opened and checked below `OUT`; the images are read by position, each step's at once,
/// into the step's rows, allocating nothing.
///
/// `IN` is the pixels of an image (`28 · 28` for MNIST), each read as `pixel · scale` (`1 / 255`
/// for `[0, 1]`, as [`Dataset::mnist`](super::Dataset::mnist) scales them), and the labels
/// become one-hot targets of `OUT` classes: a fit from this source and one from the same
/// files loaded into a [`Dataset`](super::Dataset) give the same weights, bit for bit.
///
/// ```no_run
/// use netdsl_core::data::IdxSource;
///
/// let train = IdxSource::<784, 10>::open(
///     "mnist/train-images.idx3-ubyte",
///     "mnist/train-labels.idx1-ubyte",
///     1.0 / 255.0,
/// )?;
/// assert_eq!(netdsl_core::data::Source::len(&train), 60_000);
/// # Ok::<(), netdsl_core::data::Error>(())
/// ```
pub struct IdxSource<const IN: usize, const OUT: usize> {
    images: File,
    path: PathBuf,
    /// Where the first image starts in the file.
    start: u64,
    labels: Vec<u8>,
    scale: f32,
}

impl<const IN: usize, const OUT: usize> IdxSource<IN, OUT> {
    /// Opens the images (an IDX file of 3 dimensions, `N × H × W` with `H · W = IN`) and the
    /// labels (of 1 dimension, `N` bytes below `OUT`), both raw.
    ///
    /// # Errors
    ///
    /// Those of [`IdxFile::open`] for either file; [`Error::Gzipped`] for a gzipped one, which
    /// cannot be read by position (decompress it, or load it with
    /// [`Dataset::mnist`](super::Dataset::mnist)); [`Error::WrongShape`] for images of other
    /// than `IN` pixels; [`Error::Truncated`] or [`Error::TrailingData`] for an images file
    /// of another size than its header announces; [`Error::CountMismatch`] and
    /// [`Error::LabelOutOfRange`] as [`Dataset::mnist`](super::Dataset::mnist) reports them.
    pub fn open(
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        scale: f32,
    ) -> Result<Self, Error> {
        let (images_path, labels_path) = (images.as_ref(), labels.as_ref());
        let header = IdxFile::open(images_path, 3)?;
        let dims = header.dims().to_vec();
        if dims[1] * dims[2] != IN {
            return Err(Error::WrongShape {
                path: images_path.to_path_buf(),
                expected: vec![IN],
                found: dims[1..].to_vec(),
            });
        }
        let Some((start, data_len)) = header.raw_data() else {
            return Err(Error::Gzipped {
                path: images_path.to_path_buf(),
            });
        };
        let labels_file = IdxFile::open(labels_path, 1)?;
        if labels_file.raw_data().is_none() {
            return Err(Error::Gzipped {
                path: labels_path.to_path_buf(),
            });
        }
        if labels_file.dims()[0] != dims[0] {
            return Err(Error::CountMismatch {
                images_path: images_path.to_path_buf(),
                images: dims[0],
                labels_path: labels_path.to_path_buf(),
                labels: labels_file.dims()[0],
            });
        }
        let labels = labels_file.read()?.data;
        if let Some(index) = labels.iter().position(|&label| usize::from(label) >= OUT) {
            return Err(Error::LabelOutOfRange {
                path: labels_path.to_path_buf(),
                index,
                label: labels[index],
                classes: OUT,
            });
        }
        let io_error = |source: io::Error| Error::Io {
            path: images_path.to_path_buf(),
            source,
        };
        let images = File::open(images_path).map_err(io_error)?;
        let len = images.metadata().map_err(io_error)?.len();
        let expected = start + data_len;
        if len < expected {
            return Err(Error::Truncated {
                path: images_path.to_path_buf(),
                expected,
                found: len,
            });
        }
        if len > expected {
            return Err(Error::TrailingData {
                path: images_path.to_path_buf(),
                expected,
            });
        }
        Ok(Self {
            images,
            path: images_path.to_path_buf(),
            start,
            labels,
            scale,
        })
    }

    /// Reads image `index` into `pixels`, from its place in the file.
    fn read_image(&self, index: usize, pixels: &mut [u8; IN]) -> io::Result<()> {
        let at = self.start + (index * IN) as u64;
        read_exact_at(&self.images, pixels, at)
    }
}

impl<const IN: usize, const OUT: usize> Source<IN, OUT> for IdxSource<IN, OUT> {
    type Error = Error;

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn read<X: Sample<IN>, const B: usize>(
        &self,
        indices: impl IntoIterator<Item = usize>,
        x: &mut [X; B],
        y: &mut [[f32; OUT]; B],
    ) -> Result<usize, Error> {
        let mut pixels = [0; IN];
        let mut rows = 0;
        for ((index, x), y) in indices.into_iter().zip(x.iter_mut()).zip(y.iter_mut()) {
            self.read_image(index, &mut pixels)
                .map_err(|source| Error::Io {
                    path: self.path.clone(),
                    source,
                })?;
            // `Sample<IN>` is sealed to rows of `IN` values; scaled as a dataset of bytes is.
            let x: &mut [f32; IN] = x.values_mut().try_into().expect("IN values");
            kernels::scale_bytes(&pixels, self.scale, x);
            y.fill(0.0);
            y[usize::from(self.labels[index])] = 1.0;
            rows += 1;
        }
        Ok(rows)
    }
}

/// Reads `buf.len()` bytes of `file` from `offset`, without moving a shared cursor: threads
/// read their steps' samples at once.
#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

impl<const IN: usize, const OUT: usize> std::fmt::Debug for IdxSource<IN, OUT> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdxSource")
            .field("images", &self.path)
            .field("samples", &self.labels.len())
            .field("scale", &self.scale)
            .finish_non_exhaustive()
    }
}
