//! ONNX export (`Network::export_onnx`): the graphs each model becomes, the errors of what has
//! no ONNX form, and the files of the parity check against onnxruntime.
//!
//! `every_model_writes_its_onnx_file_input_and_predictions` trains each model for one epoch on
//! 4,096 MNIST images, then writes its ONNX file, 64 MNIST test images (or their rows as a sequence) and netdsl's predictions for them,
//! into `$NETDSL_ONNX_DIR` when set (a scratch directory otherwise), with a `manifest.json`;
//! `python/onnx/check_export.py` runs each file with onnxruntime and compares (`.ci/run` does
//! both).

use std::path::{Path, PathBuf};

use netdsl::layer::Row;
use netdsl::onnx::{self, proto::ModelProto};
use netdsl::optim::Adam;
use netdsl::prelude::*;
use prost::Message;

network! {
    /// The tutorial's MLP.
    struct Mlp<784 => Dense(64, relu) => Dense(10, softmax)>;

    /// LeNet-5 as tests/lenet5.rs trains it.
    struct LeNet5<(28, 28, 1)
        => Conv2d(6, 5, relu, padding = same) => MaxPool2d(2)
        => Conv2d(16, 5, relu) => MaxPool2d(2)
        => Flatten => Dense(120, relu) => Dense(84, relu) => Dense(10, softmax)>;

    /// MNIST rows as 28 steps: `SimpleRNN(64)`.
    struct MnistRnn<(28, 28) => SimpleRNN(64) => Dense(10, softmax)>;

    /// The same with `LSTM(64)`.
    struct MnistLstm<(28, 28) => LSTM(64) => Dense(10, softmax)>;

    /// The same with `GRU(64)`.
    struct MnistGru<(28, 28) => GRU(64) => Dense(10, softmax)>;

    /// Stacked: every step of an LSTM into a GRU, then a SimpleRNN with relu.
    struct Stacked<(28, 28)
        => LSTM(32, return_sequences = true) => Dropout(0.5)
        => GRU(32, return_sequences = true) => SimpleRNN(16, relu) => Dense(10, softmax)>;

    /// Both ways: a bidirectional LSTM returning every step, then a bidirectional GRU.
    struct BothWays<(28, 28)
        => Bidirectional(LSTM(16, return_sequences = true))
        => Bidirectional(GRU(16)) => Dense(10, softmax)>;

    /// Joins: a residual block and a concatenation of two convolutions, average pooling.
    struct Joins<(28, 28, 1)
        => Conv2d(4, 3, tanh) => AvgPool2d(2)
        => Residual(Conv2d(4, 3, relu, padding = same) => Conv2d(4, 3, padding = same), relu)
        => Concatenate(Conv2d(2, 3, sigmoid), Conv2d(3, 3, elu))
        => Flatten => Dense(10, softmax)>;

    /// Every activation with an ONNX form, one per layer.
    struct Activations<784
        => Dense(32, gelu) => Dense(32, silu) => Dense(32, leaky_relu) => Dense(32, hard_sigmoid)
        => Dense(32, relu6) => Dense(32, elu) => Dense(32, selu) => Dense(32, softplus)
        => Dense(32, softsign) => Dense(32, sigmoid) => Dense(32, exponential)
        => Dense(32, gelu_tanh) => Dense(32, hard_tanh) => Dense(32, sparse_sigmoid)
        => Dense(32, hard_shrink) => Dense(32, soft_shrink) => Dense(32, tanh_shrink)
        => Dense(32, log_sigmoid) => Dense(32, mish) => Dense(32, hard_silu) => Dense(32, squareplus)
        => Dense(10, log_softmax)>;

    /// Padding, upsampling, batch normalization, global pooling.
    struct Images<(28, 28, 1)
        => ZeroPadding2D(((1, 0), (2, 1))) => Conv2d(8, 3, stride = 2) => BatchNormalization(relu)
        => UpSampling2D((2, 1)) => MaxPool2d(2) => Conv2d(8, 3, padding = same)
        => BatchNormalization => GlobalAveragePooling2D => Dense(10, softmax)>;

    /// Rows as a sequence: dilated and strided 1-D convolutions, positions, layer
    /// normalization, `Dense` on each step, global pooling.
    struct Steps<(28, 28)
        => Conv1D(16, 3, tanh, padding = same, dilation_rate = 2) => Conv1D(16, 2, relu, strides = 2)
        => Conv1D(8, 2, padding = causal, dilation_rate = 2)
        => PositionEmbedding(sequence_length = 20) => SinePositionEncoding => LayerNormalization
        => Dense(12, gelu) => GlobalMaxPooling1D => Dense(10, softmax)>;

    /// Token ids: MNIST's pixels, as 16 levels, looked up.
    struct TokenNet<784 => Embedding(16, 4) => Conv1D(8, 28, relu, strides = 28) => GlobalAveragePooling1D => Dense(10, softmax)>;

    /// Attention: rows as steps, a causal self-attention, then keras_hub's transformer block,
    /// post-norm and pre-norm.
    struct Attention<(28, 28)
        => Dense(32) => MultiHeadAttention(heads = 4, key_dim = 8, causal = true)
        => TransformerEncoder(heads = 2, ff = 64)
        => TransformerEncoder(heads = 4, ff = 32, norm = pre)
        => GlobalAveragePooling1D => Dense(10, softmax)>;

    /// Cross-attention: 28 query steps attend causally to 26 value steps, then with a key
    /// branch of its own.
    struct Cross<(28, 28)
        => CrossAttention(Dense(16, tanh), Conv1D(12, 3), heads = 2, key_dim = 8, causal = true)
        => CrossAttention(Dense(16), Conv1D(8, 3), Conv1D(6, 3, relu), heads = 4)
        => GlobalAveragePooling1D => Dense(10, softmax)>;

    /// Masks have no ONNX form here.
    struct Masked<(5, 2) => Masking => LSTM(3) => Dense(2, softmax)>;
}

const SAMPLES: usize = 64;

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

/// 64 test images, each 784 values in [0, 1].
fn images() -> Vec<[f32; 784]> {
    let test = Dataset::mnist(bundled(), MnistSplit::Test).unwrap();
    (0..SAMPLES).map(|i| test.input(i)).collect()
}

/// `model` after one epoch of Adam over 4,096 training images, so that its outputs are those of
/// a network that has learnt something (confident softmax outputs, not a uniform 0.1).
macro_rules! trained {
    ($model:expr, $train:expr) => {{
        let mut model = $model;
        let mut trainer =
            Trainer::<_, _, _, 32>::new(&model, Adam::default(), CategoricalCrossentropy);
        let options = Fit::epochs(1).seed(17).verbose(Verbose::Silent);
        trainer.fit(&mut model, $train, options).unwrap();
        model
    }};
}

fn decode(bytes: &[u8]) -> ModelProto {
    ModelProto::decode(bytes).unwrap()
}

fn ops(model: &ModelProto) -> Vec<&str> {
    let graph = model.graph.as_ref().unwrap();
    graph.node.iter().map(|n| n.op_type.as_str()).collect()
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Writes `name.onnx`, `name.input.f32` and `name.output.f32` into `dir` and returns the
/// manifest entry.
fn write<N: Network<Out = [f32; OUT]>, const OUT: usize>(
    dir: &Path,
    name: &str,
    model: &N,
    inputs: &[[f32; 784]],
) -> String {
    model.export_onnx(dir.join(format!("{name}.onnx"))).unwrap();
    let width = <N::In as Row>::WIDTH;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for image in inputs {
        let mut row: N::In = bytemuck::Zeroable::zeroed();
        row.values_mut().copy_from_slice(&image[..width]);
        x.extend_from_slice(row.values());
        y.extend_from_slice(&model.predict(&row));
    }
    std::fs::write(dir.join(format!("{name}.input.f32")), le_bytes(&x)).unwrap();
    std::fs::write(dir.join(format!("{name}.output.f32")), le_bytes(&y)).unwrap();
    format!(
        r#"{{"name": "{name}", "samples": {}, "inputs": {width}, "outputs": {OUT}}}"#,
        inputs.len()
    )
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "trains eight models on 4,096 MNIST images, a minute unoptimised: run with --release"
)]
fn every_model_writes_its_onnx_file_input_and_predictions() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("NETDSL_ONNX_DIR")
        .map_or_else(|| scratch.path().to_owned(), PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    let images = images();
    // The pixels in 16 levels, as ids of the token network.
    let levels: Vec<[f32; 784]> = images
        .iter()
        .map(|image| image.map(|v| (v * 15.0).round()))
        .collect();
    let mut train = Dataset::mnist(bundled(), MnistSplit::Train).unwrap();
    train.split_off(4096);
    let train = &train;
    let rng = &mut StdRng::seed_from_u64(17);
    let entries = [
        write(&dir, "mlp", &trained!(Mlp::new(rng), train), &images),
        write(&dir, "lenet5", &trained!(LeNet5::new(rng), train), &images),
        write(
            &dir,
            "simple_rnn",
            &trained!(MnistRnn::new(rng), train),
            &images,
        ),
        write(&dir, "lstm", &trained!(MnistLstm::new(rng), train), &images),
        write(&dir, "gru", &trained!(MnistGru::new(rng), train), &images),
        write(
            &dir,
            "stacked",
            &trained!(Stacked::new(rng), train),
            &images,
        ),
        write(
            &dir,
            "bidirectional",
            &trained!(BothWays::new(rng), train),
            &images,
        ),
        write(&dir, "joins", &trained!(Joins::new(rng), train), &images),
        write(&dir, "activations", &Activations::new(rng), &images),
        write(&dir, "images", &trained!(Images::new(rng), train), &images),
        write(&dir, "steps", &trained!(Steps::new(rng), train), &images),
        write(&dir, "tokens", &TokenNet::new(rng), &levels),
        write(
            &dir,
            "attention",
            &trained!(Attention::new(rng), train),
            &images,
        ),
        write(&dir, "cross", &trained!(Cross::new(rng), train), &images),
    ];
    let manifest = format!("{{\"models\": [\n  {}\n]}}\n", entries.join(",\n  "));
    std::fs::write(dir.join("manifest.json"), manifest).unwrap();
    for name in [
        "mlp",
        "lenet5",
        "simple_rnn",
        "lstm",
        "gru",
        "stacked",
        "bidirectional",
        "joins",
        "activations",
        "images",
        "steps",
        "tokens",
        "attention",
        "cross",
    ] {
        let bytes = std::fs::read(dir.join(format!("{name}.onnx"))).unwrap();
        let model = decode(&bytes);
        assert_eq!(model.opset_import[0].version, onnx::OPSET, "{name}");
        assert_eq!(ops(&model).last(), Some(&"Identity"), "{name}");
    }
}

#[test]
fn the_mlp_is_two_gemms_with_keras_kernels_named_after_the_layers() {
    let model = Mlp::new(&mut StdRng::seed_from_u64(1));
    let proto = decode(&onnx::to_bytes(&model).unwrap());
    assert_eq!(ops(&proto), ["Gemm", "Relu", "Gemm", "Softmax", "Identity"]);
    let graph = proto.graph.as_ref().unwrap();
    let names: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dense_1/kernel",
            "dense_1/bias",
            "dense_2/kernel",
            "dense_2/bias"
        ]
    );
    assert_eq!(graph.initializer[0].dims, [784, 64]);
    assert_eq!(
        graph.initializer[0].float_data,
        model.dense_1.weights().as_flattened()
    );
    assert_eq!(graph.input[0].name, "input");
    assert_eq!(graph.output[0].name, "output");
}

#[test]
fn lenet5_transposes_around_its_convolutions_and_pools() {
    let model = LeNet5::new(&mut StdRng::seed_from_u64(1));
    let proto = decode(&onnx::to_bytes(&model).unwrap());
    let ops = ops(&proto);
    assert_eq!(
        ops,
        [
            "Reshape",
            "Transpose",
            "Conv",
            "Transpose",
            "Relu",
            "Transpose",
            "MaxPool",
            "Transpose",
            "Transpose",
            "Conv",
            "Transpose",
            "Relu",
            "Transpose",
            "MaxPool",
            "Transpose",
            "Reshape",
            "Gemm",
            "Relu",
            "Gemm",
            "Relu",
            "Gemm",
            "Softmax",
            "Identity"
        ],
        "{ops:?}"
    );
    let graph = proto.graph.as_ref().unwrap();
    let kernel = graph
        .initializer
        .iter()
        .find(|t| t.name == "conv2d_1/kernel")
        .unwrap();
    // Keras' [5, 5, 1, 6] (HWIO) becomes ONNX's [6, 1, 5, 5] (OIHW): filter 3, row 2, column 4.
    assert_eq!(kernel.dims, [6, 1, 5, 5]);
    let (keras, onnx) = (model.conv2d_1.weights(), &kernel.float_data);
    assert_eq!(onnx[(3 * 5 + 2) * 5 + 4], keras[(2 * 5 + 4) * 6 + 3]);
}

#[test]
fn an_lstm_moves_its_gates_to_onnx_order() {
    let model = MnistLstm::new(&mut StdRng::seed_from_u64(1));
    let proto = decode(&onnx::to_bytes(&model).unwrap());
    let graph = proto.graph.as_ref().unwrap();
    let lstm = graph.node.iter().find(|n| n.op_type == "LSTM").unwrap();
    assert_eq!(lstm.input.len(), 4);
    let w = graph
        .initializer
        .iter()
        .find(|t| t.name == "lstm_1/kernel")
        .unwrap();
    assert_eq!(w.dims, [1, 256, 28]);
    // ONNX's second gate, o, is Keras' fourth: W[0, 64 + u, f] = kernel[f, 3·64 + u].
    let kernel = model.lstm_1.kernel();
    let (u, f) = (5, 7);
    assert_eq!(
        w.float_data[(64 + u) * 28 + f],
        kernel[f * 256 + 3 * 64 + u]
    );
    let b = graph
        .initializer
        .iter()
        .find(|t| t.name == "lstm_1/bias")
        .unwrap();
    // Keras' forget gate starts at 1 (its second block), ONNX's third.
    assert!(b.float_data[128..192].iter().all(|&v| v == 1.0));
    assert!(b.float_data[256..].iter().all(|&v| v == 0.0));
}

#[test]
fn a_gru_resets_after_its_recurrent_product() {
    let model = MnistGru::new(&mut StdRng::seed_from_u64(1));
    let proto = decode(&onnx::to_bytes(&model).unwrap());
    let graph = proto.graph.as_ref().unwrap();
    let gru = graph.node.iter().find(|n| n.op_type == "GRU").unwrap();
    let reset = gru
        .attribute
        .iter()
        .find(|a| a.name == "linear_before_reset")
        .unwrap();
    assert_eq!(reset.i, 1);
}

#[test]
fn a_mask_is_an_error_naming_the_layer_and_writes_nothing() {
    let model = Masked::new(&mut StdRng::seed_from_u64(1));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("masked.onnx");
    let error = model.export_onnx(&path).unwrap_err();
    assert_eq!(
        error.to_string(),
        "layer `Masking` has no ONNX form in netdsl"
    );
    assert!(!path.exists());
}

#[test]
fn an_unwritable_path_is_an_error_and_leaves_the_old_file() {
    let model = Mlp::new(&mut StdRng::seed_from_u64(1));
    let dir = tempfile::tempdir().unwrap();
    let error = model
        .export_onnx(dir.path().join("missing/model.onnx"))
        .unwrap_err();
    assert!(matches!(error, onnx::Error::Io { .. }), "{error}");
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, b"old").unwrap();
    Masked::new(&mut StdRng::seed_from_u64(1))
        .export_onnx(&path)
        .unwrap_err();
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
}
