//! The IDX format of MNIST: a big-endian `u32` magic number `0x0000_08nn` (`08` for unsigned
//! bytes, `nn` the number of dimensions), one big-endian `u32` per dimension, then the bytes.
//! Files may be gzipped, in one gzip member or several (as `pigz` or `cat a.gz b.gz` write
//! them); the gzip header is recognised by its first two bytes. A header announcing more data
//! than the file can hold (its size raw, 1032 times its size gzipped) is refused before any data
//! is read.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use super::Error;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The size of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Memory reserved up front is capped, so a header announcing absurd sizes fails as
/// [`Error::Truncated`] once the real data runs out instead of exhausting memory.
const MAX_RESERVE: u64 = 256 << 20;

/// The most bytes deflate can expand one compressed byte into (its best case, a long run,
/// is 258 bytes per 2 bits: 1032 to 1), so a gzip file of `n` bytes holds at most
/// `n × 1032` bytes of data.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Reads an IDX file of unsigned bytes with `dims` dimensions, raw or gzipped.
///
/// ```no_run
/// let labels = netdsl_core::data::idx::read_idx("data/mnist/t10k-labels.idx1-ubyte.gz", 1)?;
/// assert_eq!(labels.dims, [10_000]);
/// # Ok::<(), netdsl_core::data::Error>(())
/// ```
pub fn read_idx(path: impl AsRef<Path>, dims: usize) -> Result<IdxArray, Error> {
    IdxFile::open(path, dims)?.read()
}

/// An IDX file whose header has been read and found plausible, before its data is read: the
/// caller checks the dimensions (a shape, a count matching another file) without reading, or
/// allocating for, data a hostile header announces.
///
/// ```no_run
/// use netdsl_core::data::idx::IdxFile;
///
/// let images = IdxFile::open("data/mnist/t10k-images.idx3-ubyte.gz", 3)?;
/// assert_eq!(images.dims()[1..], [28, 28]);
/// let images = images.read()?;
/// # Ok::<(), netdsl_core::data::Error>(())
/// ```
pub struct IdxFile {
    path: PathBuf,
    reader: Box<dyn Read>,
    header: Header,
    gzipped: bool,
}

impl IdxFile {
    /// Opens the file at `path`, raw or gzipped (any number of gzip members, as `gzip -d`
    /// reads them), and reads its header of `dims` dimensions.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read, [`Error::BadMagic`], [`Error::Truncated`] or
    /// [`Error::SizeOverflow`] if its header is not one of `dims` dimensions, and
    /// [`Error::Truncated`] or [`Error::ImplausibleSize`] if the header announces more data
    /// than a file of its size can hold.
    pub fn open(path: impl AsRef<Path>, dims: usize) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let io_error = |source: io::Error| Error::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io_error)?;
        let file_len = file.metadata().map_err(io_error)?.len();
        Self::start(path, Box::new(BufReader::new(file)), file_len, dims)
    }

    /// [`IdxFile::open`] on bytes in memory (embedded with `include_bytes!`, say); errors name
    /// `origin` as their file.
    ///
    /// ```
    /// use netdsl_core::data::idx::IdxFile;
    ///
    /// let bytes = [0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9];
    /// let labels = IdxFile::from_bytes(&bytes, 1, "labels".as_ref())?.read()?;
    /// assert_eq!(labels.data, [7, 8, 9]);
    /// # Ok::<(), netdsl_core::data::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`IdxFile::open`].
    pub fn from_bytes(bytes: &[u8], dims: usize, origin: &Path) -> Result<Self, Error> {
        let reader = io::Cursor::new(bytes.to_vec());
        Self::start(
            origin.to_path_buf(),
            Box::new(reader),
            bytes.len() as u64,
            dims,
        )
    }

    /// Reads the header from `source`, `len` bytes raw or gzipped, and checks it fits them.
    fn start(
        path: PathBuf,
        mut source: Box<dyn BufRead>,
        len: u64,
        dims: usize,
    ) -> Result<Self, Error> {
        let gzipped = source
            .fill_buf()
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?
            .starts_with(&[0x1f, 0x8b]);
        let (mut reader, capacity): (Box<dyn Read>, _) = if gzipped {
            let capacity = len.saturating_mul(MAX_DEFLATE_RATIO);
            (
                Box::new(MultiGzDecoder::new(source)),
                Capacity::Gzip(capacity),
            )
        } else {
            (Box::new(source), Capacity::Raw(len))
        };
        let header = Header::read(&mut reader, &path, dims)?;
        header.check_fits(capacity, &path)?;
        Ok(IdxFile {
            path,
            reader,
            header,
            gzipped,
        })
    }

    /// Where the data starts in the file, and how many bytes it has, if the file is raw (not
    /// gzipped): what a reader of single samples needs.
    pub(crate) fn raw_data(&self) -> Option<(u64, u64)> {
        (!self.gzipped).then_some((self.header.len, self.header.data_len))
    }

    /// The size of each dimension the header announces, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.header.dims
    }

    /// Reads the data.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read, [`Error::Truncated`] if it ends before the data the
    /// header announces, and [`Error::TrailingData`] if bytes follow it.
    pub fn read(mut self) -> Result<IdxArray, Error> {
        let data = self.header.read_data(&mut self.reader, &self.path)?;
        Ok(IdxArray {
            dims: self.header.dims,
            data,
        })
    }
}

/// What a file can hold, from its size on disk.
#[derive(Clone, Copy)]
enum Capacity {
    /// Raw: exactly its size.
    Raw(u64),
    /// Gzipped: at most this many bytes once decompressed.
    Gzip(u64),
}

/// An IDX header: its length and the dimensions it announces.
struct Header {
    len: u64,
    dims: Vec<usize>,
    /// The number of data bytes: the product of `dims`.
    data_len: u64,
}

impl Header {
    fn read(reader: &mut dyn Read, path: &Path, dims: usize) -> Result<Self, Error> {
        let path_buf = || PathBuf::from(path);
        let len = 4 + 4 * dims as u64;
        let mut header = vec![0; len as usize];
        let found = read_up_to(reader, &mut header).map_err(|source| Error::Io {
            path: path_buf(),
            source,
        })?;
        let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let expected_magic = 0x0800 | dims as u32;
        if found >= 4 && magic != expected_magic {
            return Err(Error::BadMagic {
                path: path_buf(),
                dims,
                found: magic,
                expected: expected_magic,
            });
        }
        if found < header.len() {
            return Err(Error::Truncated {
                path: path_buf(),
                expected: len,
                found: found as u64,
            });
        }
        let shape: Vec<usize> = header[4..]
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect();
        let data_len = shape
            .iter()
            .try_fold(1_u64, |acc, &d| acc.checked_mul(d as u64));
        let Some(data_len) = data_len else {
            return Err(Error::SizeOverflow {
                path: path_buf(),
                dims: shape,
            });
        };
        Ok(Header {
            len,
            dims: shape,
            data_len,
        })
    }

    /// Refuses a header announcing more data than the file can hold, before any is read.
    fn check_fits(&self, capacity: Capacity, path: &Path) -> Result<(), Error> {
        let announced = self.len.saturating_add(self.data_len);
        match capacity {
            Capacity::Raw(file_len) if announced > file_len => Err(Error::Truncated {
                path: path.to_path_buf(),
                expected: announced,
                found: file_len,
            }),
            Capacity::Gzip(most) if announced > most => Err(Error::ImplausibleSize {
                path: path.to_path_buf(),
                announced,
                most,
            }),
            _ => Ok(()),
        }
    }

    fn read_data(&self, reader: &mut dyn Read, path: &Path) -> Result<Vec<u8>, Error> {
        let io_error = |source: io::Error| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut data = Vec::with_capacity(self.data_len.min(MAX_RESERVE) as usize);
        reader
            .take(self.data_len)
            .read_to_end(&mut data)
            .map_err(io_error)?;
        if (data.len() as u64) < self.data_len {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
                expected: self.len + self.data_len,
                found: self.len + data.len() as u64,
            });
        }
        if read_up_to(reader, &mut [0]).map_err(io_error)? > 0 {
            return Err(Error::TrailingData {
                path: path.to_path_buf(),
                expected: self.len + self.data_len,
            });
        }
        Ok(data)
    }
}

/// Fills `buf` as far as the reader goes, returning how many bytes were read.
fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8], dims: usize) -> Result<IdxArray, Error> {
        let path = Path::new("mem.idx");
        let mut reader = bytes;
        let header = Header::read(&mut reader, path, dims)?;
        let data = header.read_data(&mut reader, path)?;
        Ok(IdxArray {
            dims: header.dims,
            data,
        })
    }

    #[test]
    fn reads_a_two_by_three_array() {
        let bytes = [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6];
        let idx = parse(&bytes, 2).unwrap();
        assert_eq!(
            idx,
            IdxArray {
                dims: vec![2, 3],
                data: vec![1, 2, 3, 4, 5, 6]
            }
        );
    }

    #[test]
    fn rejects_a_wrong_magic_number() {
        let err = parse(&[0, 0, 8, 1, 0, 0, 0, 0], 3).unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadMagic {
                    found: 0x0801,
                    expected: 0x0803,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn rejects_truncated_headers_and_data() {
        let err = parse(&[0, 0, 8, 1, 0, 0], 1).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Truncated {
                    expected: 8,
                    found: 6,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse(&[0, 0, 8, 1, 0, 0, 0, 3, 7, 7], 1).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Truncated {
                    expected: 11,
                    found: 10,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn rejects_trailing_data() {
        let err = parse(&[0, 0, 8, 1, 0, 0, 0, 1, 7, 7], 1).unwrap_err();
        assert!(
            matches!(err, Error::TrailingData { expected: 9, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_header_announcing_huge_sizes_fails_without_reserving_them() {
        let err = parse(&[0, 0, 8, 2, 255, 255, 255, 255, 255, 255, 255, 255, 1], 2).unwrap_err();
        assert!(matches!(err, Error::Truncated { found: 13, .. }), "{err}");
    }

    #[test]
    fn a_header_whose_sizes_overflow_is_an_error() {
        let mut bytes = vec![0, 0, 8, 3];
        bytes.extend([255; 12]);
        let err = parse(&bytes, 3).unwrap_err();
        assert!(matches!(err, Error::SizeOverflow { .. }), "{err}");
    }
}
