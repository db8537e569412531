//! Raw IDX files for the tests of lazy sources: written from the bundled MNIST, shared by
//! tests/lazy_source.rs and tests/zero_alloc.rs (`mod raw_idx;`).

use std::fs;
use std::path::{Path, PathBuf};

use netdsl::prelude::*;

/// The first `n` training images of the bundled MNIST and their labels, written raw into
/// `dir` under MNIST's names, as IDX files; their paths.
pub fn write_raw(dir: &Path, n: usize) -> (PathBuf, PathBuf) {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let all = Dataset::mnist(&bundled, MnistSplit::Train).unwrap();
    let mut images = vec![0, 0, 8, 3];
    for dim in [n as u32, 28, 28] {
        images.extend(dim.to_be_bytes());
    }
    let mut labels = vec![0, 0, 8, 1];
    labels.extend((n as u32).to_be_bytes());
    for i in 0..n {
        images.extend(all.input(i).map(|p| (p * 255.0).round() as u8));
        labels.push(netdsl::metrics::argmax(&all.target(i)) as u8);
    }
    let (images_path, labels_path) = (
        dir.join("train-images.idx3-ubyte"),
        dir.join("train-labels.idx1-ubyte"),
    );
    fs::write(&images_path, images).unwrap();
    fs::write(&labels_path, labels).unwrap();
    (images_path, labels_path)
}
