//! Keras 3 parity of the regularizers. Each file of tests/fixtures/keras/regularizers (written by
//! python/fixtures/regularizers.py, whose top says how) holds a tiny Keras model's initial
//! weights, 8 samples, the penalty of its regularizers (`sum(model.losses)`), `evaluate`'s loss,
//! the history of a `fit` with SGD (3 epochs of 2 steps, no shuffling, the samples as validation
//! data) and the weights after it. The same network written in the DSL, given those weights and
//! trained alike, must report the same penalty, losses and validation losses and end with the
//! same weights, within a relative 1e-5.

use std::collections::HashMap;
use std::path::Path;

use netdsl::prelude::*;
use safetensors::SafeTensors;

network! {
    struct Regularized<4
        => Dense(5, tanh, kernel_regularizer = l1_l2(l1 = 0.01, l2 = 0.02), bias_regularizer = l2(0.05))
        => Dense(3, softmax, kernel_regularizer = l2(0.1), bias_regularizer = l1(0.01))>;

    struct RegularizedLstm<12
        => Reshape(6, 2)
        => Conv1D(3, 2, tanh, kernel_regularizer = l2(0.05), bias_regularizer = l2(0.1))
        => LSTM(4, kernel_regularizer = l2(0.02), recurrent_regularizer = l2(0.03),
            bias_regularizer = l2(0.04))
        => Dense(2, softmax)>;
}

const TOLERANCE: f32 = 1e-5;

/// A fixture's tensors by name: shape and values.
type Tensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// A fixture's tensors by name, and its metadata.
fn read(case: &str) -> (Tensors, HashMap<String, String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras/regularizers")
        .join(format!("{case}.safetensors"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, header) = SafeTensors::read_metadata(&bytes).expect("a safetensors file");
    let metadata = header.metadata().clone().unwrap_or_default();
    let file = SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let tensors = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, (view.shape().to_vec(), values))
        })
        .collect();
    (tensors, metadata)
}

fn assert_close(what: &str, found: f32, keras: f32) {
    let error = (found - keras).abs() / keras.abs().max(1.0);
    assert!(
        error <= TOLERANCE,
        "{what}: netdsl {found}, Keras {keras}, relative error {error:.2e}"
    );
}

/// Trains `net` as the fixture `case` trained its Keras model, and compares.
fn check<N, const IN: usize, const OUT: usize>(mut net: N, case: &str)
where
    N: Network<In = [f32; IN], Out = [f32; OUT]> + Sync,
    N::Tape<4>: Send,
    N::Grads: Send,
    CategoricalCrossentropy: Loss<N::Activation>,
{
    let (tensors, metadata) = read(case);
    let get = |name: &str| &tensors.get(name).unwrap_or_else(|| panic!("no `{name}`")).1;
    net.visit_tensors_mut(&mut |name, shape, values| {
        let (keras_shape, keras) = &tensors[name];
        assert_eq!(shape, &keras_shape[..], "{case}: the shape of `{name}`");
        values.copy_from_slice(keras);
    });
    let inputs: Vec<[f32; IN]> = bytemuck::cast_slice(get("input")).to_vec();
    let targets: Vec<[f32; OUT]> = bytemuck::cast_slice(get("target")).to_vec();
    let data = Dataset::from_arrays(inputs, targets).unwrap();

    assert_close(
        &format!("{case}: penalty"),
        net.regularization() as f32,
        get("penalty")[0],
    );
    let mut trainer = Trainer::<_, _, _, 4>::new(&net, Sgd::new(0.1), CategoricalCrossentropy);
    let evaluated = trainer.evaluate(&net, &data).loss;
    assert_close(&format!("{case}: evaluate"), evaluated, get("evaluate")[0]);
    let options = Fit::epochs(3)
        .shuffle(false)
        .validation_data(&data)
        .verbose(Verbose::Silent);
    let history = trainer.fit(&mut net, &data, options).unwrap();
    for (epoch, (&found, &keras)) in history.loss.iter().zip(get("loss")).enumerate() {
        assert_close(
            &format!("{case}: loss of epoch {}", epoch + 1),
            found,
            keras,
        );
    }
    for (epoch, (&found, &keras)) in history.val_loss.iter().zip(get("val_loss")).enumerate() {
        assert_close(
            &format!("{case}: val_loss of epoch {}", epoch + 1),
            found,
            keras,
        );
    }
    let mut worst = 0.0_f32;
    net.visit_tensors(&mut |name, _, values| {
        let keras = get(&format!("final.{name}"));
        let scale = keras.iter().fold(1.0_f32, |m, v| m.max(v.abs()));
        for (i, (&found, &keras)) in values.iter().zip(keras).enumerate() {
            let error = (found - keras).abs() / scale;
            worst = worst.max(error);
            assert!(
                error <= TOLERANCE,
                "{case}: `{name}`[{i}] after training: netdsl {found}, Keras {keras}"
            );
        }
    });
    println!(
        "{case} ({}; Keras {}): penalty {}, loss {:?}, worst relative error of the trained weights {worst:.2e}",
        metadata["network"],
        metadata["keras"],
        net.regularization(),
        history.loss
    );
}

#[test]
fn dense_regularizers_match_keras_fit_evaluate_and_trained_weights() {
    check(Regularized::new(&mut StdRng::seed_from_u64(0)), "dense");
}

#[test]
fn conv1d_and_lstm_regularizers_match_keras_fit_evaluate_and_trained_weights() {
    check(RegularizedLstm::new(&mut StdRng::seed_from_u64(0)), "lstm");
}
