//! The round-trip fixtures of tests/fixtures/interop/<framework>/<case>: the weights file the
//! Python tool `netdsl_keras` wrote (netdsl's names, Keras' shapes) and `<case>.io.safetensors`
//! with a batch of 2 and the framework's output on it. Shared by tests/interop_keras.rs and
//! tests/interop_torch.rs (`mod interop;`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netdsl::layer::Row;
use netdsl::prelude::*;
use safetensors::SafeTensors;

/// The tolerance: `|netdsl - framework| <= TOLERANCE · scale`, the scale being the largest
/// magnitude of the framework's output (a value near zero is compared with its tensor's scale,
/// as tests/keras_fixture does).
const TOLERANCE: f32 = 1e-5;

/// The tensors of a safetensors file, by name: shape and values.
pub fn read(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = SafeTensors::deserialize(&bytes).expect("a safetensors file");
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

fn fixture(framework: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/interop")
        .join(framework)
        .join(file)
}

/// Loads the tool's weights for `case` into `net` with `load_weights`, predicts the fixture's
/// batch and compares with the framework's output; then saves the weights with `save_weights`
/// and checks the file holds the tool's tensors, name for name (so that the tool reads what
/// netdsl writes, the way back to Keras). Returns the largest error relative to the output's
/// scale.
pub fn check<N>(mut net: N, framework: &str, case: &str) -> f32
where
    N: Network,
    N::In: Row,
    N::Out: Row,
{
    let weights = fixture(framework, &format!("{case}.safetensors"));
    net.load_weights(&weights)
        .unwrap_or_else(|e| panic!("{case}: load_weights: {e}"));
    let io = read(&fixture(framework, &format!("{case}.io.safetensors")));
    let (input, expected) = (&io["input"].1, &io["output"].1);
    let (width, out) = (<N::In as Row>::WIDTH, <N::Out as Row>::WIDTH);
    assert_eq!(input.len(), 2 * width, "{case}: the input's width");
    assert_eq!(expected.len(), 2 * out, "{case}: the output's width");
    let scale = expected
        .iter()
        .fold(0.0_f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let mut worst = 0.0_f32;
    for b in 0..2 {
        let mut x = <N::In as bytemuck::Zeroable>::zeroed();
        x.values_mut().copy_from_slice(&input[b * width..][..width]);
        let y = net.predict(&x);
        for (i, (&found, &want)) in y.values().iter().zip(&expected[b * out..]).enumerate() {
            let error = (found - want).abs() / scale;
            assert!(
                error <= TOLERANCE,
                "{case}: output[{b}][{i}]: netdsl {found}, {framework} {want}, error {error:.2e} of the scale {scale}"
            );
            worst = worst.max(error);
        }
    }

    let saved = std::env::temp_dir().join(format!(
        "netdsl-interop-{framework}-{case}-{}.safetensors",
        std::process::id()
    ));
    net.save_weights(&saved)
        .unwrap_or_else(|e| panic!("{case}: save_weights: {e}"));
    let (ours, tools) = (read(&saved), read(&weights));
    std::fs::remove_file(&saved).ok();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        tools.keys().collect::<Vec<_>>(),
        "{case}: the names netdsl saves and the tool's"
    );
    assert_eq!(
        ours, tools,
        "{case}: the tensors netdsl saves and the tool's"
    );
    eprintln!("{framework} {case}: largest error {worst:.2e} of the output's scale");
    worst
}
