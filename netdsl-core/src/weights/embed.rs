//! Weights as Rust source, for a build script: the tensors of a safetensors file written as
//! `static` arrays, so that a program with no file system and no heap (a microcontroller's
//! firmware) carries its trained weights in its binary, in flash, and builds its network from
//! them with [`Dense::from_static`](crate::layers::Dense::from_static).

use core::fmt::Write as _;
use std::collections::HashSet;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors};

use super::Error;

/// Reads the safetensors file at `path` and returns Rust source that declares each of its
/// tensors as a `pub static`: named in upper snake case (`dense_1.kernel` becomes
/// `DENSE_1_KERNEL`), typed as nested arrays of the tensor's shape (`[[f32; 64]; 784]` for a
/// kernel of shape `[784, 64]`), with values written so that they read back bit for bit.
/// Tensors come in the order of their names.
///
/// In a build script, with netdsl as a build dependency:
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let out = std::path::Path::new(&std::env::var("OUT_DIR")?).join("weights.rs");
/// std::fs::write(out, netdsl_core::weights::embed("mnist.safetensors".as_ref())?)?;
/// println!("cargo::rerun-if-changed=mnist.safetensors");
/// # Ok(())
/// # }
/// ```
///
/// and in the program, whose network is then a `static` too:
///
/// ```ignore
/// mod weights {
///     include!(concat!(env!("OUT_DIR"), "/weights.rs"));
/// }
///
/// static MODEL: Mnist = Mnist {
///     dense_1: Dense::from_static(&weights::DENSE_1_KERNEL, Some(&weights::DENSE_1_BIAS)),
///     dense_2: Dense::from_static(&weights::DENSE_2_KERNEL, Some(&weights::DENSE_2_BIAS)),
/// };
/// ```
///
/// A tensor of another shape than its layer's is then a type error, caught as the program
/// compiles.
///
/// ```
/// use netdsl_core::activation::Relu;
/// use netdsl_core::layers::Dense;
/// use netdsl_core::weights;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("dense.safetensors");
/// let layer = Dense::<2, 3, Relu>::from_parameters([[1.0, 0.5, -2.0], [0.1, 0.0, 3e-8]], Some([0.25; 3]));
/// weights::save(&layer, &path)?;
///
/// let source = weights::embed(&path)?;
/// assert!(source.contains("pub static BIAS: [f32; 3] = [0.25, 0.25, 0.25];"));
/// assert!(source.contains("pub static KERNEL: [[f32; 3]; 2] = [\n    [1.0, 0.5, -2.0],\n    [0.1, 0.0, 3e-8],\n];"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::Malformed`] if it is not safetensors;
/// [`Error::WrongDtype`] for a tensor not of f32, [`Error::NotFinite`] for one holding NaN or an
/// infinity, and [`Error::DuplicateName`] for two tensors whose names make the same Rust name.
pub fn embed(path: &Path) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    embed_bytes(&bytes, path)
}

/// [`embed`] from the bytes of a safetensors file in memory; errors name `origin` as their file.
///
/// # Errors
///
/// As [`embed`], but for [`Error::Io`].
pub fn embed_bytes(bytes: &[u8], origin: &Path) -> Result<String, Error> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| Error::Malformed {
        path: origin.to_owned(),
        reason: e.to_string(),
    })?;
    let mut names = file.names();
    names.sort_unstable();
    let mut source = format!(
        "// The tensors of `{}`, written by netdsl's `weights::embed`. Do not edit: rebuild.\n",
        origin.display()
    );
    let mut idents = HashSet::new();
    for name in names {
        let view = file.tensor(name).map_err(|e| Error::Malformed {
            path: origin.to_owned(),
            reason: e.to_string(),
        })?;
        let fault = |tensor: &str| (origin.to_owned(), tensor.to_owned());
        if view.dtype() != Dtype::F32 {
            let (path, tensor) = fault(name);
            let found = format!("{:?}", view.dtype());
            return Err(Error::WrongDtype {
                path,
                tensor,
                found,
            });
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if values.iter().any(|v| !v.is_finite()) {
            let (path, tensor) = fault(name);
            return Err(Error::NotFinite { path, tensor });
        }
        let ident = rust_name(name);
        if !idents.insert(ident.clone()) {
            let (path, tensor) = fault(name);
            return Err(Error::DuplicateName { path, tensor });
        }
        write_static(&mut source, name, &ident, view.shape(), &values);
    }
    Ok(source)
}

/// `dense_1.kernel` as a Rust constant's name: `DENSE_1_KERNEL`. Characters that cannot be in
/// an identifier become `_`, and a name that would start with a digit gets one in front.
fn rust_name(tensor: &str) -> String {
    let mut ident: String = tensor
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if !ident.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        ident.insert(0, '_');
    }
    ident
}

/// Appends `pub static IDENT: [[f32; 64]; 784] = [...];` with one line per innermost row.
fn write_static(source: &mut String, tensor: &str, ident: &str, shape: &[usize], values: &[f32]) {
    let ty = shape
        .iter()
        .rev()
        .fold(String::from("f32"), |inner, n| format!("[{inner}; {n}]"));
    // `write!` to a `String` cannot fail.
    let _ = write!(
        source,
        "\n/// `{tensor}`, of shape {shape:?}.\npub static {ident}: {ty} = "
    );
    write_values(source, shape, values, 0);
    source.push_str(";\n");
}

/// `values` (row-major, of `shape`) as a nested array literal: the innermost arrays on one
/// line each, indented by `depth`. Each value is written as Rust's `Debug` writes it, the
/// shortest text that reads back as the same `f32`.
fn write_values(source: &mut String, shape: &[usize], values: &[f32], depth: usize) {
    match shape {
        [] => {
            let _ = write!(source, "{:?}", values.first().copied().unwrap_or(0.0));
        }
        [_] => {
            source.push('[');
            for (i, v) in values.iter().enumerate() {
                let _ = write!(source, "{}{v:?}", if i == 0 { "" } else { ", " });
            }
            source.push(']');
        }
        [n, rest @ ..] => {
            let stride = values.len() / (*n).max(1);
            source.push_str("[\n");
            for i in 0..*n {
                source.push_str(&"    ".repeat(depth + 1));
                write_values(
                    source,
                    rest,
                    &values[i * stride..(i + 1) * stride],
                    depth + 1,
                );
                source.push_str(",\n");
            }
            source.push_str(&"    ".repeat(depth));
            source.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_rust_identifiers() {
        assert_eq!(rust_name("dense_1.kernel"), "DENSE_1_KERNEL");
        assert_eq!(
            rust_name("encoder_1.dense_2.bias"),
            "ENCODER_1_DENSE_2_BIAS"
        );
        assert_eq!(rust_name("2d-conv.w"), "_2D_CONV_W");
    }

    #[test]
    fn values_are_written_to_read_back_bit_for_bit() {
        let values = [0.1_f32, -0.0, 1e-45, f32::MAX, 3.0, 1.0 / 3.0];
        let mut source = String::new();
        write_values(&mut source, &[6], &values, 0);
        assert_eq!(source, "[0.1, -0.0, 1e-45, 3.4028235e38, 3.0, 0.33333334]");
        let read: Vec<f32> = source
            .trim_matches(['[', ']'])
            .split(", ")
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(
            read.iter()
                .zip(values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }

    #[test]
    fn shapes_become_nested_arrays() {
        let mut source = String::new();
        write_static(&mut source, "t", "T", &[2, 1, 2], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            source,
            "\n/// `t`, of shape [2, 1, 2].\npub static T: [[[f32; 2]; 1]; 2] = [\n    [\n        [1.0, 2.0],\n    ],\n    [\n        [3.0, 4.0],\n    ],\n];\n"
        );
        let mut scalar = String::new();
        write_static(&mut scalar, "s", "S", &[], &[0.5]);
        assert!(scalar.ends_with("pub static S: f32 = 0.5;\n"));
    }

    #[test]
    fn a_bad_file_or_tensor_is_an_error() {
        let origin = Path::new("w.safetensors");
        let error = embed_bytes(b"not a file", origin).unwrap_err();
        assert!(matches!(error, Error::Malformed { .. }), "{error}");

        let tensors = |name: &str, dtype, data: &[u8]| {
            let view =
                safetensors::tensor::TensorView::new(dtype, vec![data.len() / 4], data).unwrap();
            safetensors::serialize([(name, view)], None).unwrap()
        };
        let ints = tensors("a.b", Dtype::I32, &[0; 8]);
        let error = embed_bytes(&ints, origin).unwrap_err();
        assert!(
            error.to_string().contains("`a.b` holds I32, expected F32"),
            "{error}"
        );

        let nan = tensors("a.b", Dtype::F32, &f32::NAN.to_le_bytes());
        let error = embed_bytes(&nan, origin).unwrap_err();
        assert!(matches!(error, Error::NotFinite { .. }), "{error}");

        let one = 1.0_f32.to_le_bytes();
        let a = safetensors::tensor::TensorView::new(Dtype::F32, vec![1], &one).unwrap();
        let b = safetensors::tensor::TensorView::new(Dtype::F32, vec![1], &one).unwrap();
        let clash = safetensors::serialize([("a.b", a), ("a_b", b)], None).unwrap();
        let error = embed_bytes(&clash, origin).unwrap_err();
        assert!(matches!(error, Error::DuplicateName { .. }), "{error}");
    }
}
