//! The IDX format of MNIST: a big-endian `u32` magic number `0x0000_08nn` (`08` for unsigned
//! bytes, `nn` the number of dimensions), one big-endian `u32` per dimension, then the bytes.
//! Files may be gzipped; the gzip header is recognised by its first two bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::GzDecoder;

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

/// Reads an IDX file of unsigned bytes with `dims` dimensions, raw or gzipped.
///
/// ```no_run
/// let labels = netcore::data::idx::read_idx("data/mnist/t10k-labels.idx1-ubyte.gz", 1)?;
/// assert_eq!(labels.dims, [10_000]);
/// # Ok::<(), netcore::data::Error>(())
/// ```
pub fn read_idx(path: impl AsRef<Path>, dims: usize) -> Result<IdxArray, Error> {
    let path = path.as_ref();
    let io_error = |source: io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let mut buffered = BufReader::new(file);
    let gzipped = buffered
        .fill_buf()
        .map_err(io_error)?
        .starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn Read> = if gzipped {
        Box::new(GzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    read_from(&mut reader, path, dims)
}

fn read_from(reader: &mut dyn Read, path: &Path, dims: usize) -> Result<IdxArray, Error> {
    let path_buf = || PathBuf::from(path);
    let io_error = |source: io::Error| Error::Io {
        path: path_buf(),
        source,
    };

    let header_len = 4 + 4 * dims as u64;
    let mut header = vec![0; header_len as usize];
    let found = read_up_to(reader, &mut header).map_err(io_error)?;
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
            expected: header_len,
            found: found as u64,
        });
    }
    let shape: Vec<usize> = header[4..]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let len = shape
        .iter()
        .try_fold(1_u64, |acc, &d| acc.checked_mul(d as u64));
    let Some(len) = len else {
        return Err(Error::SizeOverflow {
            path: path_buf(),
            dims: shape,
        });
    };

    let mut data = Vec::with_capacity(len.min(MAX_RESERVE) as usize);
    reader.take(len).read_to_end(&mut data).map_err(io_error)?;
    if (data.len() as u64) < len {
        return Err(Error::Truncated {
            path: path_buf(),
            expected: header_len + len,
            found: header_len + data.len() as u64,
        });
    }
    if read_up_to(reader, &mut [0]).map_err(io_error)? > 0 {
        return Err(Error::TrailingData {
            path: path_buf(),
            expected: header_len + len,
        });
    }
    Ok(IdxArray { dims: shape, data })
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
        read_from(&mut &bytes[..], Path::new("mem.idx"), dims)
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
