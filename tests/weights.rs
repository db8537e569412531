//! Saving and loading weights (Keras' `save_weights` / `load_weights`): what round-trips, how
//! tensors are named, and every way a file or a network can fail to fit, each an error that
//! names the file and the tensor, leaving the network and any earlier file as they were.

use std::fs;
use std::path::{Path, PathBuf};

use netdsl::activation::Linear;
use netdsl::layer::Initialize;
use netdsl::prelude::*;
use netdsl::weights::Error;

mod parts {
    use netdsl::prelude::*;

    network! {
        /// A network used as a layer of another.
        pub struct Encoder<4 => Dense(3, tanh)>;
    }
}

network! {
    /// The MNIST classifier from the Keras tutorial.
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;

    /// The same shape with a narrower hidden layer.
    struct Narrow<784 => Dense(32, relu) => Dense(10, softmax)>;

    /// The tutorial's shape without biases.
    struct NoBias<784 => Dense(64, relu, bias = false) => Dense(10, softmax, bias = false)>;

    /// Convolutions and pools, as LeNet-5 has them.
    struct Small<(8, 8, 1)
        => Conv2d(2, 3, relu, padding = same) => MaxPool2d(2)
        => Flatten => Dense(3, softmax)>;

    /// A network inside a network.
    struct Outer<4 => parts::Encoder => Dense(2, sigmoid)>;

    /// A layer of our own whose parameter has no name.
    struct WithGain<3 => Gain>;

    /// A recurrent layer: three tensors.
    struct Recurrent<12 => Steps => Dense(2, softmax)>;

    /// A GRU, whose bias is two rows: Keras' `[2, 3U]`.
    struct Gated<(4, 3) => GRU(5) => Dense(2, softmax)>;

    /// Batch normalization, with its moving statistics, and layer normalization without `β`.
    struct Normalized<4 => Dense(3) => BatchNormalization(relu) => Dense(2) => LayerNorm(center = false)>;
}

/// 4 steps of 3 features into 5 units.
type Steps = netdsl::layers::SimpleRnn<4, 3, 5, 12, 5, netdsl::activation::Tanh>;

/// `y = g · x`: one parameter, and no `visit_tensors`, so it cannot be saved.
#[derive(Clone)]
struct Gain(f32);

impl Layer for Gain {
    type In = [f32; 3];
    type Out = [f32; 3];
    type Activation = Linear;
    type Grads = [f32; 1];
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Gain";

    fn new_tape<const B: usize>(&self) {}

    fn forward<const B: usize>(&self, x: &[[f32; 3]; B], y: &mut [[f32; 3]; B], _: &mut ()) {
        for (y, x) in y.iter_mut().flatten().zip(x.iter().flatten()) {
            *y = self.0 * x;
        }
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; 3]; B],
        dz: &[[f32; 3]; B],
        dx: Option<&mut [[f32; 3]; B]>,
        grads: &mut [f32; 1],
        _: &mut (),
    ) {
        grads[0] = x
            .iter()
            .flatten()
            .zip(dz.iter().flatten())
            .map(|(x, d)| x * d)
            .sum();
        if let Some(dx) = dx {
            for (dx, dz) in dx.iter_mut().flatten().zip(dz.iter().flatten()) {
                *dx = self.0 * dz;
            }
        }
    }

    fn new_grads(&self) -> [f32; 1] {
        [0.0]
    }

    fn parameter_count(&self) -> usize {
        1
    }

    fn visit_parameters(
        &mut self,
        grads: &mut [f32; 1],
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        visit(std::slice::from_mut(&mut self.0), grads);
    }
}

impl Initialize for Gain {
    fn initialize<R: netdsl::rand::Rng + ?Sized>(_: &mut R) -> Self {
        Gain(1.0)
    }
}

/// A fresh directory under the target directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("weights")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every parameter of `model`, in visiting order.
fn parameters<N: Network>(model: &mut N) -> Vec<f32> {
    let mut grads = model.new_grads();
    let mut all = Vec::new();
    model.visit_parameters(&mut grads, &mut |p, _| all.extend_from_slice(p));
    all
}

/// The names and shapes `model` gives its tensors.
fn tensors<N: Network>(model: &N) -> Vec<(String, Vec<usize>)> {
    let mut all = Vec::new();
    model.visit_tensors(&mut |name, shape, _| all.push((name.to_owned(), shape.to_vec())));
    all
}

fn mnist(seed: u64) -> Mnist {
    Mnist::new(&mut StdRng::seed_from_u64(seed))
}

#[test]
fn weights_round_trip_and_predict_the_same() {
    let path = scratch("round-trip").join("mnist.safetensors");
    let mut saved = mnist(1);
    saved.save_weights(&path).unwrap();
    let mut loaded = mnist(2);
    assert_ne!(parameters(&mut loaded), parameters(&mut saved));
    loaded.load_weights(&path).unwrap();
    assert_eq!(parameters(&mut loaded), parameters(&mut saved));
    let image: [f32; 784] = std::array::from_fn(|i| (i % 13) as f32 / 13.0);
    assert_eq!(loaded.predict(&image), saved.predict(&image));
}

#[test]
fn tensors_are_named_after_their_layers_in_keras_shapes() {
    assert_eq!(
        tensors(&mnist(1)),
        [
            ("dense_1.kernel".into(), vec![784, 64]),
            ("dense_1.bias".into(), vec![64]),
            ("dense_2.kernel".into(), vec![64, 10]),
            ("dense_2.bias".into(), vec![10]),
        ]
    );
    assert_eq!(
        tensors(&Small::new(&mut StdRng::seed_from_u64(1))),
        [
            ("conv2d_1.kernel".into(), vec![3, 3, 1, 2]),
            ("conv2d_1.bias".into(), vec![2]),
            ("dense_1.kernel".into(), vec![32, 3]),
            ("dense_1.bias".into(), vec![3]),
        ]
    );
    assert_eq!(
        tensors(&Recurrent::new(&mut StdRng::seed_from_u64(1))),
        [
            ("steps_1.kernel".into(), vec![3, 5]),
            ("steps_1.recurrent_kernel".into(), vec![5, 5]),
            ("steps_1.bias".into(), vec![5]),
            ("dense_1.kernel".into(), vec![5, 2]),
            ("dense_1.bias".into(), vec![2]),
        ]
    );
    assert_eq!(
        tensors(&Gated::new(&mut StdRng::seed_from_u64(1)))[..3],
        [
            ("gru_1.kernel".into(), vec![3, 15]),
            ("gru_1.recurrent_kernel".into(), vec![5, 15]),
            ("gru_1.bias".into(), vec![2, 15]),
        ]
    );
    let outer = tensors(&Outer::new(&mut StdRng::seed_from_u64(1)));
    let names: Vec<&str> = outer.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "encoder_1.dense_1.kernel",
            "encoder_1.dense_1.bias",
            "dense_1.kernel",
            "dense_1.bias"
        ]
    );
}

#[test]
fn image_recurrent_and_nested_networks_round_trip() {
    let dir = scratch("image-and-nested");
    let mut small = Small::new(&mut StdRng::seed_from_u64(1));
    small.save_weights(dir.join("small.safetensors")).unwrap();
    let mut other = Small::new(&mut StdRng::seed_from_u64(2));
    other.load_weights(dir.join("small.safetensors")).unwrap();
    assert_eq!(parameters(&mut other), parameters(&mut small));

    let mut recurrent = Recurrent::new(&mut StdRng::seed_from_u64(1));
    recurrent
        .save_weights(dir.join("recurrent.safetensors"))
        .unwrap();
    let mut other = Recurrent::new(&mut StdRng::seed_from_u64(2));
    other
        .load_weights(dir.join("recurrent.safetensors"))
        .unwrap();
    assert_eq!(parameters(&mut other), parameters(&mut recurrent));

    let mut gated = Gated::new(&mut StdRng::seed_from_u64(1));
    gated.save_weights(dir.join("gated.safetensors")).unwrap();
    let mut other = Gated::new(&mut StdRng::seed_from_u64(2));
    other.load_weights(dir.join("gated.safetensors")).unwrap();
    assert_eq!(parameters(&mut other), parameters(&mut gated));

    let mut outer = Outer::new(&mut StdRng::seed_from_u64(1));
    outer.save_weights(dir.join("outer.safetensors")).unwrap();
    let mut other = Outer::new(&mut StdRng::seed_from_u64(2));
    other.load_weights(dir.join("outer.safetensors")).unwrap();
    assert_eq!(parameters(&mut other), parameters(&mut outer));
}

#[test]
fn normalizations_save_and_load_their_moving_statistics_under_keras_names() {
    let mut saved = Normalized::new(&mut StdRng::seed_from_u64(1));
    let norm = &mut saved.batch_normalization_1;
    norm.moving_mean_mut().copy_from_slice(&[0.5, -0.25, 1.0]);
    norm.moving_variance_mut()
        .copy_from_slice(&[2.0, 0.75, 1.5]);
    norm.gamma_mut().unwrap().copy_from_slice(&[1.5, 0.5, -1.0]);
    let names: Vec<(String, Vec<usize>)> = tensors(&saved);
    assert_eq!(
        names[2..],
        [
            ("batch_normalization_1.gamma".into(), vec![3]),
            ("batch_normalization_1.beta".into(), vec![3]),
            ("batch_normalization_1.moving_mean".into(), vec![3]),
            ("batch_normalization_1.moving_variance".into(), vec![3]),
            ("dense_2.kernel".into(), vec![3, 2]),
            ("dense_2.bias".into(), vec![2]),
            ("layer_normalization_1.gamma".into(), vec![2]),
        ]
    );
    let path = scratch("normalized").join("normalized.safetensors");
    saved.save_weights(&path).unwrap();
    let mut loaded = Normalized::new(&mut StdRng::seed_from_u64(2));
    loaded.load_weights(&path).unwrap();
    let values = |model: &Normalized| {
        let mut all = Vec::new();
        model.visit_tensors(&mut |_, _, values| all.extend_from_slice(values));
        all
    };
    assert_eq!(values(&loaded), values(&saved));
    let norm = &loaded.batch_normalization_1;
    assert_eq!(norm.moving_variance(), &[2.0, 0.75, 1.5]);
    let x = [0.5, -1.0, 0.25, 2.0];
    assert_eq!(
        loaded.predict(&x),
        saved.predict(&x),
        "predict uses the moving statistics"
    );
}

/// Loads `path` into a fresh tutorial network, expecting an error, and checks that the network
/// kept its weights.
fn refused(path: &Path) -> Error {
    let mut model = mnist(3);
    let before = parameters(&mut model);
    let error = model.load_weights(path).unwrap_err();
    assert_eq!(
        parameters(&mut model),
        before,
        "a failed load changed the network"
    );
    error
}

#[test]
fn a_file_of_another_shape_is_refused_naming_the_tensor_and_both_shapes() {
    let path = scratch("shape").join("narrow.safetensors");
    Narrow::new(&mut StdRng::seed_from_u64(1))
        .save_weights(&path)
        .unwrap();
    let error = refused(&path);
    assert!(
        matches!(&error, Error::WrongShape { tensor, expected, found, .. }
            if tensor == "dense_1.kernel" && expected == &[784, 64] && found == &[784, 32]),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .ends_with("narrow.safetensors`: `dense_1.kernel` has shape [784, 32] in the file, the network needs [784, 64]"),
        "{error}"
    );
}

#[test]
fn missing_and_left_over_tensors_are_refused() {
    let dir = scratch("missing");
    NoBias::new(&mut StdRng::seed_from_u64(1))
        .save_weights(dir.join("no-bias.safetensors"))
        .unwrap();
    let error = refused(&dir.join("no-bias.safetensors"));
    assert!(
        matches!(&error, Error::Missing { tensor, .. } if tensor == "dense_1.bias"),
        "{error:?}"
    );

    mnist(1).save_weights(dir.join("bias.safetensors")).unwrap();
    let mut no_bias = NoBias::new(&mut StdRng::seed_from_u64(2));
    let error = no_bias
        .load_weights(dir.join("bias.safetensors"))
        .unwrap_err();
    assert!(
        matches!(&error, Error::Unexpected { tensor, .. } if tensor.ends_with(".bias")),
        "{error:?}"
    );
}

#[test]
fn unreadable_malformed_and_truncated_files_are_refused() {
    let dir = scratch("malformed");
    let error = refused(&dir.join("absent.safetensors"));
    assert!(
        matches!(error, Error::Io { action: "read", .. }),
        "{error:?}"
    );

    fs::write(
        dir.join("garbage.safetensors"),
        b"not a safetensors file at all",
    )
    .unwrap();
    let error = refused(&dir.join("garbage.safetensors"));
    assert!(matches!(error, Error::Malformed { .. }), "{error:?}");

    mnist(1)
        .save_weights(dir.join("whole.safetensors"))
        .unwrap();
    let whole = fs::read(dir.join("whole.safetensors")).unwrap();
    fs::write(dir.join("truncated.safetensors"), &whole[..whole.len() / 2]).unwrap();
    let error = refused(&dir.join("truncated.safetensors"));
    assert!(matches!(error, Error::Malformed { .. }), "{error:?}");
    assert!(
        error.to_string().contains("truncated.safetensors"),
        "{error}"
    );
}

/// A safetensors file written by hand: `header` is its JSON header, `data` its bytes.
fn handmade(path: &Path, header: &str, data: &[u8]) {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    fs::write(path, bytes).unwrap();
}

network! {
    /// Two inputs, one output: small enough to write its file by hand.
    struct Tiny<2 => Dense(1, linear)>;
}

#[test]
fn another_dtype_and_values_that_are_not_finite_are_refused() {
    let dir = scratch("dtype-and-nan");
    let f64s: Vec<u8> = [1.0_f64, 2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut data = f64s.clone();
    data.extend_from_slice(&0.5_f32.to_le_bytes());
    handmade(
        &dir.join("f64.safetensors"),
        r#"{"dense_1.kernel":{"dtype":"F64","shape":[2,1],"data_offsets":[0,16]},"dense_1.bias":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}"#,
        &data,
    );
    let mut tiny = Tiny::new(&mut StdRng::seed_from_u64(1));
    let before = parameters(&mut tiny);
    let error = tiny.load_weights(dir.join("f64.safetensors")).unwrap_err();
    assert!(
        matches!(&error, Error::WrongDtype { tensor, found, .. } if tensor == "dense_1.kernel" && found == "F64"),
        "{error:?}"
    );

    let data: Vec<u8> = [1.0_f32, f32::NAN, 0.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    handmade(
        &dir.join("nan.safetensors"),
        r#"{"dense_1.kernel":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"dense_1.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
        &data,
    );
    let error = tiny.load_weights(dir.join("nan.safetensors")).unwrap_err();
    assert!(
        matches!(&error, Error::NotFinite { tensor, .. } if tensor == "dense_1.kernel"),
        "{error:?}"
    );
    assert_eq!(parameters(&mut tiny), before);

    // The same file with finite values loads: the handmade format is right.
    let data: Vec<u8> = [1.0_f32, 2.0, 0.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    handmade(
        &dir.join("good.safetensors"),
        r#"{"dense_1.kernel":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"dense_1.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
        &data,
    );
    tiny.load_weights(dir.join("good.safetensors")).unwrap();
    assert_eq!(parameters(&mut tiny), [1.0, 2.0, 0.5]);
}

#[test]
fn a_failed_save_leaves_the_previous_file_as_it_was() {
    let dir = scratch("failed-save");
    let path = dir.join("model.safetensors");
    mnist(1).save_weights(&path).unwrap();
    let good = fs::read(&path).unwrap();

    // Weights that are not finite are not written over a good file.
    let mut diverged = mnist(2);
    let mut grads = diverged.new_grads();
    diverged.visit_parameters(&mut grads, &mut |p, _| p[0] = f32::NAN);
    let error = diverged.save_weights(&path).unwrap_err();
    assert!(
        matches!(&error, Error::NotFinite { tensor, .. } if tensor == "dense_1.kernel"),
        "{error:?}"
    );
    assert_eq!(fs::read(&path).unwrap(), good);

    // A write that fails (the target is a directory) leaves no half-written file behind.
    let error = mnist(2).save_weights(&dir).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Io {
                action: "write",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "only the good file");
    assert_eq!(fs::read(&path).unwrap(), good);

    let error = mnist(2)
        .save_weights(dir.join("no-such-dir").join("model.safetensors"))
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Io {
                action: "write",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_layer_whose_parameters_have_no_names_cannot_be_saved() {
    let path = scratch("unnamed").join("gain.safetensors");
    let model = WithGain::new(&mut StdRng::seed_from_u64(1));
    let error = model.save_weights(&path).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unnamed {
                named: 0,
                parameters: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!path.exists());
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_stays_one_and_the_file_it_names_is_replaced() {
    let dir = scratch("symlink");
    let real = dir.join("real.safetensors");
    let link = dir.join("link.safetensors");
    mnist(1).save_weights(&real).unwrap();
    std::os::unix::fs::symlink("real.safetensors", &link).unwrap();
    let mut saved = mnist(2);
    saved.save_weights(&link).unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a file"
    );
    let mut loaded = mnist(3);
    loaded.load_weights(&real).unwrap();
    assert_eq!(parameters(&mut loaded), parameters(&mut saved));
}

#[test]
fn a_save_removes_what_a_killed_save_left_behind() {
    let dir = scratch("orphans");
    let path = dir.join("mnist.safetensors");
    // What a save killed before its rename leaves: a temporary file named after the target.
    let orphan = dir.join(".mnist.safetensors.a1B2c3.netdsl-tmp");
    fs::write(&orphan, b"half a file").unwrap();
    let unrelated = dir.join(".other.safetensors.x.netdsl-tmp");
    fs::write(&unrelated, b"another target's").unwrap();
    mnist(1).save_weights(&path).unwrap();
    assert!(!orphan.exists(), "the orphan is removed");
    assert!(
        unrelated.exists(),
        "another target's temporary file is left alone"
    );
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn an_endless_file_is_refused_after_the_most_the_weights_can_take() {
    let mut model = mnist(1);
    let before = parameters(&mut model);
    let error = model.load_weights("/dev/zero").unwrap_err();
    assert!(
        matches!(error, Error::Malformed { .. }) && error.to_string().contains("longer than"),
        "{error}"
    );
    assert_eq!(parameters(&mut model), before);
}
