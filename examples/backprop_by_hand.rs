//! Backpropagation checked by hand on the textbook network: one input `x1`, two sigmoid hidden
//! units `h1`, `h2` without bias, one sigmoid output `o1` without bias, and the error
//! `E = ½ (y - o1)²`.
//!
//! For every weight it prints three numbers side by side: the gradient from the backward pass
//! `network!` generated, a central finite-difference estimate, and the closed-form chain rule.
//! With `w11` the weight from `x1` to `h1` and `w21` the weight from `h1` to `o1`:
//!
//! ```text
//! dE/dw21 = (o1 - y) · o1 (1 - o1) · h1
//! dE/dw11 = (o1 - y) · o1 (1 - o1) · w21 · h1 (1 - h1) · x1
//! ```
//!
//! The formula often quoted for the first layer, `dE/dw11 = (o1 - y) · o1 (1 - o1) · x1`, stops
//! the chain rule one layer early: it omits the factor `w21 · h1 (1 - h1)`, the way the error
//! reaches `h1` through `w21` and the hidden sigmoid. The table prints that formula too, so the
//! difference is visible.
//!
//! Run it with `cargo run --example backprop_by_hand`.

use netdsl::layers::Dense;
use netdsl::prelude::*;

network! {
    #[derive(Clone)]
    /// 1 input, 2 sigmoid hidden units, 1 sigmoid output, no biases.
    pub struct Textbook<1 => Dense(2, sigmoid, bias = false) => Dense(1, sigmoid, bias = false)>;
}

/// Inputs, target and weights of the worked example.
const X1: f32 = 0.5;
const Y: f32 = 1.0;
const HIDDEN_WEIGHTS: [[f32; 2]; 1] = [[0.15, -0.4]]; // w11, w12
const OUTPUT_WEIGHTS: [[f32; 1]; 2] = [[0.8], [-0.3]]; // w21, w22

/// `E = ½ (y - o1)²` for the network as it stands.
fn error(net: &Textbook) -> f64 {
    let o1 = f64::from(net.predict(&[X1])[0]);
    0.5 * (f64::from(Y) - o1).powi(2)
}

/// Central difference of `E` in one weight, computed in f64 from f32 forward passes.
fn numeric(net: &Textbook, nudge: impl Fn(&mut Textbook, f32)) -> f64 {
    let eps = 1e-2_f32;
    let (mut plus, mut minus) = (net.clone(), net.clone());
    nudge(&mut plus, eps);
    nudge(&mut minus, -eps);
    (error(&plus) - error(&minus)) / (2.0 * f64::from(eps))
}

fn main() {
    let mut net = Textbook {
        dense_1: Dense::from_parameters(HIDDEN_WEIGHTS, None),
        dense_2: Dense::from_parameters(OUTPUT_WEIGHTS, None),
    };

    // Forward pass on one sample, keeping the intermediates.
    let x = [[X1]];
    let mut tape = net.new_tape::<1>();
    let mut o = [[0.0]];
    net.forward(&x, &mut o, &mut tape);
    let o1 = o[0][0];
    let [h1, h2] = tape.dense_1[0];

    // E = ½ (y - o1)² is not one of the Keras losses (their MSE is (y - o1)², twice as large),
    // so the output delta dE/dz = (o1 - y) · o1 (1 - o1) is written out here and handed to the
    // generated backward pass.
    let delta = [[(o1 - Y) * o1 * (1.0 - o1)]];
    let mut grads = net.new_grads();
    net.backward(&x, &delta, None, &mut grads, &mut tape);

    let (w21, w22) = (OUTPUT_WEIGHTS[0][0], OUTPUT_WEIGHTS[1][0]);
    let d = (o1 - Y) * o1 * (1.0 - o1);
    println!(
        "x1 = {X1}, y = {Y}: h1 = {h1:.6}, h2 = {h2:.6}, o1 = {o1:.6}, E = {:.6}\n",
        error(&net)
    );
    println!(
        "{:<7}{:>14}{:>14}{:>14}   closed form",
        "weight", "backward", "numeric", "chain rule"
    );
    let rows: [(&str, f32, f64, f32, &str); 4] = [
        (
            "w11",
            grads.dense_1.weights()[0][0],
            numeric(&net, |n, e| n.dense_1.weights_mut()[0][0] += e),
            d * w21 * h1 * (1.0 - h1) * X1,
            "(o1-y)·o1(1-o1)·w21·h1(1-h1)·x1",
        ),
        (
            "w12",
            grads.dense_1.weights()[0][1],
            numeric(&net, |n, e| n.dense_1.weights_mut()[0][1] += e),
            d * w22 * h2 * (1.0 - h2) * X1,
            "(o1-y)·o1(1-o1)·w22·h2(1-h2)·x1",
        ),
        (
            "w21",
            grads.dense_2.weights()[0][0],
            numeric(&net, |n, e| n.dense_2.weights_mut()[0][0] += e),
            d * h1,
            "(o1-y)·o1(1-o1)·h1",
        ),
        (
            "w22",
            grads.dense_2.weights()[1][0],
            numeric(&net, |n, e| n.dense_2.weights_mut()[1][0] += e),
            d * h2,
            "(o1-y)·o1(1-o1)·h2",
        ),
    ];
    for (name, backward, numeric, closed, formula) in rows {
        println!("{name:<7}{backward:>14.8}{numeric:>14.8}{closed:>14.8}   {formula}");
    }
    println!(
        "\nThe often-quoted dE/dw11 = (o1-y)·o1(1-o1)·x1 = {:.8} omits w21·h1(1-h1) = {:.8}.",
        d * X1,
        w21 * h1 * (1.0 - h1)
    );

    // One gradient-descent step lowers the error.
    let before = error(&net);
    let mut sgd = Sgd::new(0.5);
    sgd.prepare(net.parameter_count());
    sgd.step(&mut net, &mut grads);
    println!(
        "one SGD step at learning rate 0.5: E {before:.6} -> {:.6}",
        error(&net)
    );
}
