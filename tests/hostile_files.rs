//! Files built to hurt the loaders: a gzip bomb and a raw file announcing far more data than
//! they hold fail from their headers, before the data is read or memory is reserved for it, and
//! gzip files of several members (as `pigz` or `cat a.gz b.gz` write them) read as `gzip -d`
//! reads them.

use std::io::Write;

use allocation_counter::measure;
use flate2::Compression;
use flate2::write::GzEncoder;
use netdsl::data::idx::{IdxFile, read_idx};
use netdsl::data::{Dataset, Error, MnistSplit};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// An IDX header of unsigned bytes with these dimensions.
fn header(dims: &[u32]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes
}

#[test]
fn a_gzip_bomb_fails_from_its_header_without_allocating_the_file_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train-images.idx3-ubyte.gz");
    // 2³¹ images (1.7 TB) announced; 256 MB of zeros behind the header compress to about 1 MB.
    let mut plain = header(&[1 << 31, 28, 28]);
    plain.resize(plain.len() + (1 << 28), 0);
    let bomb = gzip(&plain);
    drop(plain);
    std::fs::write(&path, &bomb).unwrap();
    let mut result = None;
    let info = measure(|| result = Some(IdxFile::open(&path, 3).map(|file| file.dims().to_vec())));
    let error = result.unwrap().unwrap_err();
    assert!(matches!(error, Error::ImplausibleSize { .. }), "{error}");
    assert!(
        info.bytes_max < bomb.len() as u64,
        "{} bytes allocated at most for a {}-byte file",
        info.bytes_max,
        bomb.len()
    );
}

#[test]
fn a_raw_file_announcing_more_than_it_holds_fails_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.idx1-ubyte");
    let mut bytes = header(&[1 << 31]);
    bytes.extend([3; 100]);
    std::fs::write(&path, &bytes).unwrap();
    let mut result = None;
    let info = measure(|| result = Some(read_idx(&path, 1)));
    let error = result.unwrap().unwrap_err();
    assert!(
        matches!(error, Error::Truncated { found: 108, .. }),
        "{error}"
    );
    assert!(info.bytes_max < 64 * 1024, "{info:?}");
}

#[test]
fn mnist_headers_that_disagree_fail_before_either_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    // Ten labels, and images announcing 200,000: plausible for the file's size, but not for
    // the labels.
    let mut images = header(&[200_000, 28, 28]);
    images.resize(images.len() + 200_000 * 784, 0);
    std::fs::write(dir.path().join("t10k-images.idx3-ubyte.gz"), gzip(&images)).unwrap();
    drop(images);
    let mut labels = header(&[10]);
    labels.extend([1; 10]);
    std::fs::write(dir.path().join("t10k-labels.idx1-ubyte"), &labels).unwrap();
    let mut result = None;
    let info = measure(|| result = Some(Dataset::mnist(dir.path(), MnistSplit::Test)));
    let error = result.unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            Error::CountMismatch {
                images: 200_000,
                labels: 10,
                ..
            }
        ),
        "{error}"
    );
    assert!(info.bytes_max < 1 << 20, "{info:?}");
}

#[test]
fn a_gzip_file_of_several_members_reads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.idx1-ubyte.gz");
    let mut plain = header(&[6]);
    plain.extend([1, 2, 3, 4, 5, 6]);
    let (first, second) = plain.split_at(10);
    let mut members = gzip(first);
    members.extend(gzip(second));
    std::fs::write(&path, &members).unwrap();
    let labels = read_idx(&path, 1).expect("both members are read");
    assert_eq!(labels.dims, [6]);
    assert_eq!(labels.data, [1, 2, 3, 4, 5, 6]);
}
