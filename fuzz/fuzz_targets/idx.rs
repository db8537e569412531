//! The IDX reader on arbitrary bytes, raw or gzipped, for one to three dimensions: it returns
//! an array or an error, never panics, and never holds more than the input can decompress to.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netdsl_core::data::idx::IdxFile;

fuzz_target!(|data: &[u8]| {
    for dims in 1..=3 {
        if let Ok(file) = IdxFile::from_bytes(data, dims, "fuzz".as_ref()) {
            let announced: usize = file.dims().iter().product();
            if let Ok(array) = file.read() {
                assert_eq!(array.data.len(), announced);
            }
        }
    }
});
