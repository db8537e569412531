//! Saving and loading a network's weights as [safetensors](https://huggingface.co/docs/safetensors),
//! Keras' `save_weights` / `load_weights`: every parameter tensor under its layer's name
//! (`"dense_1.kernel"`, `"conv2d_1.bias"`), and the tensors kept without training
//! (`"batch_normalization_1.moving_mean"`), f32, little-endian, in Keras' shapes.
//!
//! A save writes a temporary file beside the target and renames it over the target, so a save
//! that fails, or is killed, leaves the previous file as it was; the directory is synced after
//! the rename, a symbolic link stays one (the file it names is replaced), and the next save
//! removes what a killed one left behind (`.{name}.*.netdsl-tmp`). A load checks the whole file against the
//! network first — every tensor present, of type f32, of the network's shape and finite, and
//! none left over — and changes the network only if all of it fits.
//!
//! ```
//! use netdsl_core::activation::{Relu, Softmax};
//! use netdsl_core::layers::Dense;
//! use netdsl_core::weights;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("dense.safetensors");
//! let trained = Dense::<2, 3, Relu>::from_parameters([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], Some([0.5; 3]));
//! weights::save(&trained, &path)?;
//!
//! let mut fresh = Dense::<2, 3, Relu>::from_parameters([[0.0; 3]; 2], Some([0.0; 3]));
//! weights::load(&mut fresh, &path)?;
//! assert_eq!(fresh.weights(), trained.weights());
//!
//! // A layer of another shape is refused, and keeps its own weights.
//! let mut other = Dense::<2, 4, Softmax>::from_parameters([[0.0; 4]; 2], Some([0.0; 4]));
//! let error = weights::load(&mut other, &path).unwrap_err();
//! assert!(error.to_string().contains("`kernel` has shape [2, 3] in the file, the network needs [2, 4]"));
//! assert_eq!(other.weights(), &[[0.0; 4]; 2]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "safetensors")]
#[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
mod embed;

#[cfg(feature = "safetensors")]
pub use embed::{embed, embed_bytes};

#[cfg(feature = "safetensors")]
use std::collections::{HashMap, HashSet};
#[cfg(any(feature = "safetensors", feature = "onnx"))]
use std::io;
#[cfg(any(feature = "safetensors", feature = "onnx"))]
use std::io::Write;
#[cfg(any(feature = "safetensors", feature = "onnx"))]
use std::path::{Path, PathBuf};

#[cfg(feature = "safetensors")]
use safetensors::tensor::TensorView;
#[cfg(feature = "safetensors")]
use safetensors::tensor::{Dtype, SafeTensors};

#[cfg(feature = "safetensors")]
use crate::layer::Layer;
use crate::layer::{TensorVisitor, TensorVisitorMut};

#[cfg(feature = "safetensors")]
#[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
/// Everything that can go wrong saving or loading weights. Each names the file, and the tensor
/// where one is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read, or the new one written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file is not a valid safetensors file.
    #[error("`{}` is not a safetensors file: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the safetensors reader found wrong.
        reason: String,
    },
    /// The network has a tensor the file lacks.
    #[error("`{}` has no tensor `{tensor}`", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
    },
    /// The file has a tensor the network does not.
    #[error("`{}` has a tensor `{tensor}` that the network does not have", path.display())]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
    },
    /// A tensor in the file is not of 32-bit floats.
    #[error("`{}`: `{tensor}` holds {found}, expected F32", path.display())]
    WrongDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The type the file gives it.
        found: String,
    },
    /// A tensor in the file is not of the network's shape for it.
    #[error("`{}`: `{tensor}` has shape {found:?} in the file, the network needs {expected:?}", path.display())]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The network's shape.
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
    /// A tensor holds NaN or an infinity: in the file when loading, in the network when saving
    /// (which would overwrite a good file with weights that cannot be used).
    #[error("`{}`: `{tensor}` holds a value that is not finite", path.display())]
    NotFinite {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
    },
    /// The layers' named tensors do not cover all their parameters: a layer with parameters
    /// does not implement [`Layer::visit_tensors`] and [`Layer::visit_tensors_mut`].
    #[error("`{}`: the network's named tensors hold {named} values but it has {parameters} parameters; a layer with parameters does not implement `Layer::visit_tensors`", path.display())]
    Unnamed {
        /// The file.
        path: PathBuf,
        /// Values in named tensors.
        named: usize,
        /// [`Layer::parameter_count`] and [`Layer::non_trainable_count`]: every value a file
        /// of the network holds.
        parameters: usize,
    },
    /// Two tensors of the network have the same name.
    #[error("`{}`: the network names two tensors `{tensor}`", path.display())]
    DuplicateName {
        /// The file.
        path: PathBuf,
        /// The name.
        tensor: String,
    },
    /// A layer gives a tensor a shape that does not hold its values.
    #[error("`{}`: the network gives `{tensor}` the shape {shape:?}, which does not hold its {values} values", path.display())]
    ShapeOfValues {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The shape the layer gives.
        shape: Vec<usize>,
        /// The values it visits.
        values: usize,
    },
}

#[cfg(feature = "safetensors")]
#[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
/// Writes every parameter tensor of `network` to `path` as safetensors, replacing the file
/// only once the new one is complete.
///
/// # Errors
///
/// [`Error::NotFinite`] if a weight is NaN or infinite, [`Error::Unnamed`],
/// [`Error::DuplicateName`] or [`Error::ShapeOfValues`] if the layers' tensors do not cover
/// their parameters one to one, and
/// [`Error::Io`] if the file cannot be written. The file at `path` is then unchanged.
pub fn save<N: Layer + ?Sized>(network: &N, path: &Path) -> Result<(), Error> {
    let tensors = named_tensors(network, path)?;
    let mut bytes = Vec::with_capacity(tensors.len());
    for tensor in &tensors {
        if tensor.values.iter().any(|v| !v.is_finite()) {
            return Err(Error::NotFinite {
                path: path.to_owned(),
                tensor: tensor.name.clone(),
            });
        }
        bytes.push(
            tensor
                .values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
    }
    let views = tensors.iter().zip(&bytes).map(|(tensor, bytes)| {
        let view = TensorView::new(Dtype::F32, tensor.shape.clone(), bytes)
            .expect("`named_tensors` checked that each shape holds its values");
        (tensor.name.as_str(), view)
    });
    let write_error = |source| Error::Io {
        action: "write",
        path: path.to_owned(),
        source,
    };
    let file = safetensors::serialize(views, None).map_err(|e| write_error(io::Error::other(e)))?;
    write_atomically(path, &file).map_err(write_error)
}

#[cfg(feature = "safetensors")]
#[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
/// Reads the weights at `path` into `network`, checking the whole file first: on any error
/// `network` is unchanged.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read, [`Error::Malformed`] if it is not safetensors,
/// [`Error::Missing`], [`Error::Unexpected`], [`Error::WrongDtype`], [`Error::WrongShape`] or
/// [`Error::NotFinite`] if its tensors do not fit the network, and [`Error::Unnamed`],
/// [`Error::DuplicateName`] or [`Error::ShapeOfValues`] if the network's own tensors do not
/// cover its parameters.
pub fn load<N: Layer + ?Sized>(network: &mut N, path: &Path) -> Result<(), Error> {
    let expected = named_tensors(&*network, path)?;
    let values: usize = expected.iter().map(|tensor| tensor.values.len()).sum();
    let bytes = read_at_most(path, file_size_limit(values))?;
    load_checked(network, expected, &bytes, path)
}

#[cfg(feature = "safetensors")]
#[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
/// [`load`] from the bytes of a safetensors file already in memory (embedded with
/// `include_bytes!`, say); errors name `origin` as their file.
///
/// ```
/// use netdsl_core::activation::Relu;
/// use netdsl_core::layers::Dense;
/// use netdsl_core::weights;
///
/// let mut layer = Dense::<2, 3, Relu>::from_parameters([[0.0; 3]; 2], Some([0.0; 3]));
/// let error = weights::load_bytes(&mut layer, b"not safetensors", "memory".as_ref()).unwrap_err();
/// assert!(error.to_string().starts_with("`memory` is not a safetensors file"));
/// ```
///
/// # Errors
///
/// As [`load`], but for [`Error::Io`].
pub fn load_bytes<N: Layer + ?Sized>(
    network: &mut N,
    bytes: &[u8],
    origin: &Path,
) -> Result<(), Error> {
    let expected = named_tensors(&*network, origin)?;
    load_checked(network, expected, bytes, origin)
}

#[cfg(feature = "safetensors")]
/// Checks `bytes` against the `expected` tensors of `network`, then writes them into it.
fn load_checked<N: Layer + ?Sized>(
    network: &mut N,
    expected: Vec<Named>,
    bytes: &[u8],
    path: &Path,
) -> Result<(), Error> {
    let file = parse(bytes, path)?;
    let values = read_expected(&file, &expected, path, true)?;
    refuse_others(&file, |name| values.contains_key(name), path)?;
    // Everything fits: copy each tensor to its place.
    network.visit_tensors_mut(&mut |name, _, dst| {
        if let Some(src) = values.get(name).filter(|src| src.len() == dst.len()) {
            dst.copy_from_slice(src);
        }
    });
    Ok(())
}

#[cfg(feature = "safetensors")]
/// `bytes` read as a safetensors file, or why they are not one.
pub(crate) fn parse<'b>(bytes: &'b [u8], path: &Path) -> Result<SafeTensors<'b>, Error> {
    SafeTensors::deserialize(bytes).map_err(|e| Error::Malformed {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(feature = "safetensors")]
/// The values of each `expected` tensor in `file`, by name, once each is found there, of type
/// f32 and of its shape, and (if `finite`) holds no NaN or infinity.
pub(crate) fn read_expected(
    file: &SafeTensors<'_>,
    expected: &[Named],
    path: &Path,
    finite: bool,
) -> Result<HashMap<String, Vec<f32>>, Error> {
    let mut values = HashMap::with_capacity(expected.len());
    for tensor in expected {
        let name = tensor.name.as_str();
        let view = file.tensor(name).map_err(|_| Error::Missing {
            path: path.to_owned(),
            tensor: tensor.name.clone(),
        })?;
        if view.dtype() != Dtype::F32 {
            return Err(Error::WrongDtype {
                path: path.to_owned(),
                tensor: tensor.name.clone(),
                found: format!("{:?}", view.dtype()),
            });
        }
        if view.shape() != tensor.shape {
            return Err(Error::WrongShape {
                path: path.to_owned(),
                tensor: tensor.name.clone(),
                expected: tensor.shape.clone(),
                found: view.shape().to_vec(),
            });
        }
        let read: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if finite && read.iter().any(|v| !v.is_finite()) {
            return Err(Error::NotFinite {
                path: path.to_owned(),
                tensor: tensor.name.clone(),
            });
        }
        values.insert(tensor.name.clone(), read);
    }
    Ok(values)
}

#[cfg(feature = "safetensors")]
/// [`Error::Unexpected`] for the first tensor of `file` that is not `known`.
pub(crate) fn refuse_others(
    file: &SafeTensors<'_>,
    known: impl Fn(&str) -> bool,
    path: &Path,
) -> Result<(), Error> {
    match file.names().into_iter().find(|name| !known(name)) {
        Some(extra) => Err(Error::Unexpected {
            path: path.to_owned(),
            tensor: extra.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Runs `visit_layer` with a visitor that puts `prefix.` in front of each tensor's name and
/// hands it on to `visit`: how a network names the tensors of its layer `prefix`
/// (`"dense_1.kernel"`). Without the `alloc` feature the name is built in a buffer of
/// [`NAME_CAPACITY`] bytes and cut (at a character boundary) if longer.
pub fn visit_prefixed(
    prefix: &str,
    visit: &mut TensorVisitor<'_>,
    visit_layer: impl FnOnce(&mut TensorVisitor<'_>),
) {
    let mut name = Name::default();
    visit_layer(&mut |tensor, shape, values| {
        visit(name.joined(prefix, tensor), shape, values);
    });
}

/// [`visit_prefixed`], for [`Layer::visit_tensors_mut`].
pub fn visit_prefixed_mut(
    prefix: &str,
    visit: &mut TensorVisitorMut<'_>,
    visit_layer: impl FnOnce(&mut TensorVisitorMut<'_>),
) {
    let mut name = Name::default();
    visit_layer(&mut |tensor, shape, values| {
        visit(name.joined(prefix, tensor), shape, values);
    });
}

/// The longest tensor name [`visit_prefixed`] builds without the `alloc` feature, in bytes.
pub const NAME_CAPACITY: usize = 256;

/// The buffer `prefix.tensor` names are built in, reused for every tensor of a layer.
#[derive(Default)]
struct Name {
    #[cfg(feature = "alloc")]
    text: alloc::string::String,
    #[cfg(not(feature = "alloc"))]
    text: NameBuffer,
}

impl Name {
    fn joined(&mut self, prefix: &str, tensor: &str) -> &str {
        #[cfg(feature = "alloc")]
        {
            self.text.clear();
            self.text.extend([prefix, ".", tensor]);
            &self.text
        }
        #[cfg(not(feature = "alloc"))]
        {
            self.text.len = 0;
            for part in [prefix, ".", tensor] {
                let room = NAME_CAPACITY - self.text.len;
                let mut take = part.len().min(room);
                while !part.is_char_boundary(take) {
                    take -= 1;
                }
                self.text.bytes[self.text.len..self.text.len + take]
                    .copy_from_slice(&part.as_bytes()[..take]);
                self.text.len += take;
            }
            // Whole characters of `str`s were copied, so the bytes are UTF-8.
            core::str::from_utf8(&self.text.bytes[..self.text.len]).unwrap_or_default()
        }
    }
}

#[cfg(not(feature = "alloc"))]
struct NameBuffer {
    bytes: [u8; NAME_CAPACITY],
    len: usize,
}

#[cfg(not(feature = "alloc"))]
impl Default for NameBuffer {
    fn default() -> Self {
        NameBuffer {
            bytes: [0; NAME_CAPACITY],
            len: 0,
        }
    }
}

#[cfg(feature = "safetensors")]
/// One parameter tensor, copied out of a network.
pub(crate) struct Named {
    pub(crate) name: String,
    pub(crate) shape: Vec<usize>,
    pub(crate) values: Vec<f32>,
}

#[cfg(feature = "safetensors")]
/// The network's tensors, checked to cover its parameters once each, each in a shape that
/// holds its values.
fn named_tensors<N: Layer + ?Sized>(network: &N, path: &Path) -> Result<Vec<Named>, Error> {
    let parameters = network.parameter_count() + network.non_trainable_count();
    named_tensors_of(|visit| network.visit_tensors(visit), parameters, path)
}

#[cfg(feature = "safetensors")]
/// The tensors `visit_tensors` visits, checked to cover the `parameters` values of a network
/// (trainable or not) once each, each in a shape that holds its values.
pub(crate) fn named_tensors_of(
    visit_tensors: impl FnOnce(&mut TensorVisitor<'_>),
    parameters: usize,
    path: &Path,
) -> Result<Vec<Named>, Error> {
    let mut tensors = Vec::new();
    visit_tensors(&mut |name, shape, values| {
        tensors.push(Named {
            name: name.to_owned(),
            shape: shape.to_vec(),
            values: values.to_vec(),
        });
    });
    let named = tensors.iter().map(|t| t.values.len()).sum();
    if named != parameters {
        return Err(Error::Unnamed {
            path: path.to_owned(),
            named,
            parameters,
        });
    }
    if let Some(bad) = tensors
        .iter()
        .find(|t| t.shape.iter().product::<usize>() != t.values.len())
    {
        return Err(Error::ShapeOfValues {
            path: path.to_owned(),
            tensor: bad.name.clone(),
            shape: bad.shape.clone(),
            values: bad.values.len(),
        });
    }
    let mut seen = HashSet::new();
    if let Some(twice) = tensors.iter().find(|t| !seen.insert(t.name.as_str())) {
        return Err(Error::DuplicateName {
            path: path.to_owned(),
            tensor: twice.name.clone(),
        });
    }
    Ok(tensors)
}

#[cfg(feature = "safetensors")]
/// The largest file that can hold `values` f32 values: safetensors' 8-byte header length,
/// its JSON header (which the format caps at 100 MB), and the data.
pub(crate) fn file_size_limit(values: usize) -> u64 {
    8 + 100_000_000 + 4 * values as u64
}

#[cfg(feature = "safetensors")]
/// The file at `path`, if it is at most `limit` bytes; a longer one (or an endless one, such as
/// `/dev/zero`) is refused after `limit + 1` bytes.
pub(crate) fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    let io_error = |source| Error::Io {
        action: "read",
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(file, limit + 1), &mut bytes).map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Err(Error::Malformed {
            path: path.to_owned(),
            reason: format!(
                "it is longer than the {limit} bytes a file of this network's weights can take"
            ),
        });
    }
    Ok(bytes)
}

#[cfg(any(feature = "safetensors", feature = "onnx"))]
/// What temporary files of saves to `target` are named: `.{name}.` + random + `.netdsl-tmp`,
/// so that a save killed midway leaves a file the next save recognises and removes.
const TEMPORARY_SUFFIX: &str = ".netdsl-tmp";

#[cfg(any(feature = "safetensors", feature = "onnx"))]
/// Writes `bytes` to a new file beside `path`, syncs it, renames it over `path` and syncs the
/// directory, so that once this returns the new file survives a power loss, and until the
/// rename the old one is untouched. A `path` that is a symbolic link keeps it: the file it
/// points to is replaced.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = resolve_links(path)?;
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::other("the path names no file"))?
        .to_string_lossy();
    let prefix = format!(".{name}.");
    remove_stale_temporaries(dir, &prefix);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(TEMPORARY_SUFFIX);
    // A temporary file is private (0600); the saved file gets what any new file would.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut file = builder.tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(&target).map_err(|e| e.error)?;
    sync_directory(dir)
}

#[cfg(any(feature = "safetensors", feature = "onnx"))]
/// `path` with its symbolic links followed to the file they name (which need not exist yet).
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_owned();
    // As many links as Linux follows before it gives up with ELOOP.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&path)?;
                path = match path.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

#[cfg(any(feature = "safetensors", feature = "onnx"))]
/// Removes what saves to the same target that were killed midway left behind. A save to the
/// same file running at this moment in another process loses its temporary file and fails
/// with an error; the target stays whole either way.
fn remove_stale_temporaries(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(TEMPORARY_SUFFIX) {
            // Best effort: one that cannot be removed is tried again at the next save.
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(any(feature = "safetensors", feature = "onnx"))]
/// Makes the directory's latest rename durable (on Unix; elsewhere the rename is as durable
/// as the platform makes it).
fn sync_directory(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(all(test, feature = "safetensors"))]
mod tests {
    use super::*;
    use crate::activation::Linear;

    /// Two parameters, named as `names` says with `shape`: a layer that breaks the contract.
    struct Misnamed {
        values: [f32; 2],
        names: [&'static str; 2],
        shape: &'static [usize],
    }

    impl Layer for Misnamed {
        type In = [f32; 1];
        type Out = [f32; 1];
        type Activation = Linear;
        type Grads = ();
        type Tape<const B: usize> = ();
        const KIND: &'static str = "Misnamed";

        fn new_tape<const B: usize>(&self) {}
        fn forward<const B: usize>(&self, x: &[[f32; 1]; B], y: &mut [[f32; 1]; B], _: &mut ()) {
            y.copy_from_slice(x);
        }
        fn backward<const B: usize>(
            &self,
            _: &[[f32; 1]; B],
            _: &[[f32; 1]; B],
            _: Option<&mut [[f32; 1]; B]>,
            _: &mut (),
            _: &mut (),
        ) {
        }
        fn new_grads(&self) {}
        fn parameter_count(&self) -> usize {
            2
        }
        fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}
        fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
            visit(self.names[0], self.shape, &self.values[..1]);
            visit(self.names[1], self.shape, &self.values[1..]);
        }
    }

    fn saved(layer: &Misnamed) -> Error {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("misnamed.safetensors");
        let error = save(layer, &path).unwrap_err();
        assert!(!path.exists(), "nothing written");
        error
    }

    #[test]
    fn two_tensors_of_one_name_are_refused() {
        let layer = Misnamed {
            values: [1.0, 2.0],
            names: ["w", "w"],
            shape: &[1],
        };
        let error = saved(&layer);
        assert!(
            matches!(&error, Error::DuplicateName { tensor, .. } if tensor == "w"),
            "{error:?}"
        );
    }

    #[test]
    fn a_shape_that_does_not_hold_its_values_is_refused() {
        let layer = Misnamed {
            values: [1.0, 2.0],
            names: ["a", "b"],
            shape: &[3],
        };
        let error = saved(&layer);
        assert!(
            matches!(&error, Error::ShapeOfValues { tensor, values: 1, .. } if tensor == "a"),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("`a` the shape [3], which does not hold its 1 values")
        );
    }

    #[test]
    fn prefixed_names_join_the_layer_and_the_tensor() {
        let mut names = Vec::new();
        visit_prefixed(
            "dense_1",
            &mut |name, _, _| names.push(name.to_owned()),
            |visit| {
                visit("kernel", &[1], &[0.0]);
                visit("bias", &[1], &[0.0]);
            },
        );
        assert_eq!(names, ["dense_1.kernel", "dense_1.bias"]);
    }
}
