//! Reading the parts of a backup: its tensors of history, and the text of its header.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use safetensors::tensor::{Dtype, TensorView};

use super::BackupError;
use crate::weights;

/// The values of a one-dimensional tensor of `dtype`, each `N` little-endian bytes.
pub(super) fn values_of<const N: usize, T: FromLeBytes<N>>(
    view: &TensorView<'_>,
    dtype: Dtype,
    name: &str,
    path: &Path,
) -> Result<Vec<T>, BackupError> {
    if view.dtype() != dtype {
        return Err(weights::Error::WrongDtype {
            path: path.to_owned(),
            tensor: name.to_owned(),
            found: format!("{:?}", view.dtype()),
        }
        .into());
    }
    if view.shape().len() != 1 {
        return Err(BackupError::Malformed {
            path: path.to_owned(),
            reason: format!(
                "`{name}` has shape {:?}, expected one dimension",
                view.shape()
            ),
        });
    }
    // (safetensors checked that the data holds the shape's values, `N` bytes each.)
    Ok(view
        .data()
        .chunks_exact(N)
        .map(|bytes| T::from_le(bytes.try_into().unwrap_or([0; N])))
        .collect())
}

/// `f32` and `f64` from their little-endian bytes.
pub(super) trait FromLeBytes<const N: usize> {
    fn from_le(bytes: [u8; N]) -> Self;
}

impl FromLeBytes<4> for f32 {
    fn from_le(bytes: [u8; 4]) -> Self {
        f32::from_le_bytes(bytes)
    }
}

impl FromLeBytes<8> for f64 {
    fn from_le(bytes: [u8; 8]) -> Self {
        f64::from_le_bytes(bytes)
    }
}

/// The header's text metadata of the file at `path`.
pub(super) struct Text<'a> {
    pub(super) path: &'a Path,
    pub(super) metadata: BTreeMap<String, String>,
}

impl Text<'_> {
    pub(super) fn malformed(&self, reason: String) -> BackupError {
        BackupError::Malformed {
            path: self.path.to_owned(),
            reason,
        }
    }

    /// The value under `key`.
    pub(super) fn get(&self, key: &str) -> Result<&str, BackupError> {
        let value = self.metadata.get(key).map(String::as_str);
        value.ok_or_else(|| {
            self.malformed(format!(
                "its header has no `{key}`, which `BackupAndRestore` writes"
            ))
        })
    }

    /// The value under `key`, read as a `T`.
    pub(super) fn parse<T: FromStr>(&self, key: &str) -> Result<T, BackupError> {
        let value = self.get(key)?;
        value.parse().map_err(|_| {
            self.malformed(format!(
                "its header's `{key}` is `{value}`, not a {}",
                std::any::type_name::<T>()
            ))
        })
    }
}
