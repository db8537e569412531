//! Keras' `SimpleRNN`: `h_t = f(z_t)`, `z_t = x_t · W_x + h_{t-1} · W_h + b`, from `h_0 = 0`.
//!
//! Backward: `dz_t = f'(z_t) ⊙ dh_t` (plus what the output gives `z_t` directly) and
//! `dh_{t-1} = dz_t · W_hᵀ`, which [`Recurrent`] computes with the weight gradients.

use core::marker::PhantomData;

use super::recurrent::{Cell, Recurrent};
use crate::activation::{Activation, Keep};
#[cfg(feature = "onnx")]
use crate::onnx;

/// The cell of a [`SimpleRnn`]: `h_t = f(z_t)` for the activation `f = A`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimpleRnnCell<A>(PhantomData<A>);

impl<A: Activation> Cell for SimpleRnnCell<A> {
    const KIND: &'static str = "SimpleRNN";
    const GATES: usize = 1;
    const APART: bool = false;
    /// `z_t`, then what the activation's derivative reads: `h_t`, or `z_t` still.
    type Kept<const U: usize> = [f32; U];
    /// `h`.
    type State<const U: usize> = [f32; U];
    type Activation = A;

    /// ONNX's `RNN`, with the activation as ONNX names it (`tanh`, `relu` and `sigmoid` have one).
    #[cfg(feature = "onnx")]
    fn onnx() -> Result<onnx::Recurrence, onnx::Error> {
        let activation = match A::NAME {
            "tanh" => "Tanh",
            "relu" => "Relu",
            "sigmoid" => "Sigmoid",
            activation => return Err(onnx::Error::UnsupportedActivation { activation }),
        };
        Ok(onnx::Recurrence {
            op: "RNN",
            gates: &[0],
            activations: Some(activation),
            linear_before_reset: false,
        })
    }

    fn forward<const U: usize>(kept: &mut [f32; U], h: &mut [f32; U]) {
        A::Keeps::apply_into::<A>(kept, h);
    }

    fn backward<const U: usize>(
        at: &[f32; U],
        _h_prev: &[f32],
        out: Option<&[f32]>,
        dh: &mut [f32; U],
        dz: &mut [f32],
        _dz_rec: &mut [f32],
    ) {
        dz.copy_from_slice(dh);
        A::backprop(at, dz);
        if let Some(out) = out {
            dz.iter_mut().zip(out).for_each(|(d, out)| *d += out);
        }
        *dh = [0.0; U];
    }
}

/// Keras' `SimpleRNN(U, activation)` over `T` steps of `F` features (an MNIST image read row
/// by row is 28 steps of 28 pixels): `h_t = f(x_t · W_x + h_{t-1} · W_h + b)` from `h_0 = 0`, a
/// [`Recurrent`] layer of [`SimpleRnnCell`]. `W_x` is `F × U` (Keras' `kernel`), `W_h` `U × U`
/// (`recurrent_kernel`); new layers draw `W_x` Glorot-uniform, `W_h` orthogonal and a zero bias.
///
/// ```
/// use netdsl_core::activation::Linear;
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::SimpleRnn;
///
/// // One feature, one unit, two steps: h_1 = 2·x_1 + 0.5, h_2 = 2·x_2 + 3·h_1 + 0.5.
/// let rnn = SimpleRnn::<2, 1, 1, 2, 1, Linear>::from_parameters(vec![2.0], vec![3.0], Some(vec![0.5]));
/// let mut y = [[0.0]];
/// rnn.forward(&[[1.0, 10.0]], &mut y, &mut rnn.new_tape::<1>());
/// assert_eq!(y, [[2.0 * 10.0 + 3.0 * 2.5 + 0.5]]);
/// ```
///
/// Sizes that disagree are rejected when the layer is built:
///
/// ```compile_fail
/// use netdsl_core::activation::Tanh;
/// use netdsl_core::layers::SimpleRnn;
///
/// // 28 steps of 28 features are 784 inputs, not 783.
/// let rnn = SimpleRnn::<28, 28, 64, 783, 64, Tanh>::from_parameters(vec![0.0; 28 * 64], vec![0.0; 64 * 64], None);
/// ```
pub type SimpleRnn<
    const T: usize,
    const F: usize,
    const U: usize,
    const IN: usize,
    const OUT: usize,
    A,
> = Recurrent<SimpleRnnCell<A>, T, F, U, IN, OUT>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Linear, Sigmoid, Silu, Tanh};
    use crate::layer::Layer;
    use crate::layers::gradcheck::{
        PADDED, Padding, affine, check_against_reference, check_gradients,
        check_masked_against_reference, seeded, sequences, sigmoid, unroll, unroll_masked,
    };

    #[test]
    fn backward_of_literal_values() {
        // h_1 = 2·x_1 + 0.5 = 2.5, h_2 = 2·x_2 + 3·h_1 + 0.5 = 28 (x = [1, 10]), linear.
        type Rnn = SimpleRnn<2, 1, 1, 2, 1, Linear>;
        let rnn = Rnn::from_parameters(vec![2.0], vec![3.0], Some(vec![0.5]));
        let (x, mut y, mut dx) = ([[1.0, 10.0]], [[0.0]], [[9.0; 2]]);
        let (mut tape, mut grads) = (rnn.new_tape::<1>(), rnn.new_grads());
        rnn.forward(&x, &mut y, &mut tape);
        assert_eq!(y, [[28.0]]);
        rnn.backward(&x, &[[1.0]], Some(&mut dx), &mut grads, &mut tape);
        // dz_2 = 1, dz_1 = 3: dW_x = 10·1 + 1·3, dW_h = h_1·1 + h_0·3, db = 1 + 3.
        assert_eq!(grads.weights(), &[13.0, 2.5]);
        assert_eq!(grads.bias(), Some(&[4.0][..]));
        // dx_2 = 2·1, dx_1 = 2·3.
        assert_eq!(dx, [[6.0, 2.0]]);
    }

    #[test]
    fn simple_rnn_backward_matches_finite_differences() {
        // Sigmoid with a bias and linear without, over 4 steps of 3 features. Tanh is checked
        // below against an f64 reference: through four steps of it, f32 differences of this
        // layer stray by 1.4e-3 on one weight, at steps of 0.01 and 0.0025 alike.
        let mut rng = seeded(3);
        let mut sigmoid = SimpleRnn::<4, 3, 5, 12, 5, Sigmoid>::keras_default(&mut rng, true);
        let (x, c) = (sequences::<12, 3>(1), sequences::<5, 3>(2));
        let mut tape = sigmoid.new_tape::<3>();
        check_gradients(&mut sigmoid, &x, &c, &mut tape);
        let mut linear = SimpleRnn::<4, 3, 2, 12, 2, Linear>::keras_default(&mut rng, false);
        let (x, c) = (sequences::<12, 2>(3), sequences::<2, 2>(4));
        let mut tape = linear.new_tape::<2>();
        check_gradients(&mut linear, &x, &c, &mut tape);
    }

    #[test]
    fn every_steps_state_matches_finite_differences_and_infer() {
        // `return_sequences`: 4 steps of 3 states each, every one in the loss.
        let mut rng = seeded(4);
        let mut rnn = SimpleRnn::<4, 3, 3, 12, 12, Sigmoid>::keras_default(&mut rng, true);
        let x = sequences::<12, 2>(5);
        let mut tape = rnn.new_tape::<2>();
        check_gradients(&mut rnn, &x, &sequences::<12, 2>(6), &mut tape);
        let mut batch = [[0.0; 12]; 2];
        rnn.forward(&x, &mut batch, &mut tape);
        let last = SimpleRnn::<4, 3, 3, 12, 3, Sigmoid>::from_parameters(
            rnn.kernel().to_vec(),
            rnn.recurrent_kernel().to_vec(),
            rnn.bias().map(<[f32]>::to_vec),
        );
        for (x, states) in x.iter().zip(&batch) {
            let mut y = [9.0; 12];
            rnn.infer(x, &mut y);
            for (a, b) in y.iter().zip(states) {
                assert!((a - b).abs() < 1e-6, "infer {y:?}, forward {states:?}");
            }
            // The last of the states is what the layer without sequences gives.
            let mut h = [9.0; 3];
            last.infer(x, &mut h);
            assert_eq!(h, y[9..]);
        }
    }

    /// Every sample's `h_T` in f64, from `w` (`[W_x; W_h]`), `bias` and the samples `x`,
    /// with tanh.
    fn reference<const T: usize, const F: usize, const U: usize>(
        w: &[f64],
        bias: &[f64],
        x: &[f64],
    ) -> Vec<f64> {
        unroll::<T, F, U>(x, false, &[0.0; U], &|x_t, h| {
            let z = affine(&[x_t, h].concat(), w, bias);
            h.iter_mut().zip(z).for_each(|(h, z)| *h = z.tanh());
        })
    }

    /// Every sample's `h_T` (or, with `all`, every `h_t`) in f64 with the activation `f`, over
    /// the steps `padding` leaves.
    fn masked_reference<const T: usize, const F: usize, const U: usize>(
        (w, bias, x): (&[f64], &[f64], &[f64]),
        all: bool,
        padding: Padding<'_>,
        f: fn(f64) -> f64,
    ) -> Vec<f64> {
        unroll_masked::<T, F, U>(x, all, padding, &[0.0; U], &|x_t, h| {
            let z = affine(&[x_t, h].concat(), w, bias);
            h.iter_mut().zip(z).for_each(|(h, z)| *h = f(z));
        })
    }

    /// 3 steps of 2 features into 4 units with activation `A` (`f` in f64), over the samples of
    /// [`PADDED`], against the f64 reference: both outputs, both outputs over padding.
    fn check_padded<A: Activation>(f: fn(f64) -> f64) {
        fn one<A: Activation, const OUT: usize>(f: fn(f64) -> f64, zero_output: bool) {
            let rnn = SimpleRnn::<3, 2, 4, 6, OUT, A>::keras_default(&mut seeded(2), true);
            let rnn = rnn.zero_output_for_mask(zero_output);
            let padding = Padding {
                mask: Some(&PADDED),
                zero_output,
            };
            let (x, c) = (sequences::<6, 4>(5), sequences::<OUT, 4>(6));
            check_masked_against_reference(&rnn, &rnn.params, &x, padding.mask, &c, &|w, b, x| {
                masked_reference::<3, 2, 4>((w, b, x), OUT == 12, padding, f)
            });
        }
        for zero_output in [false, true] {
            one::<A, 4>(f, zero_output);
            one::<A, 12>(f, zero_output);
        }
    }

    #[test]
    fn padded_steps_keep_the_state_as_an_f64_reference_forward_and_backward() {
        // Tanh's derivative reads its outputs, silu's its inputs: an output over padding is
        // undone through the pre-activations of the state it repeats.
        check_padded::<Tanh>(f64::tanh);
        check_padded::<Silu>(|z| z * sigmoid(z));
    }

    #[test]
    fn tanh_matches_an_f64_reference_forward_and_backward() {
        // Through four tanh steps f32 differences of this layer stray by 1.4e-3 on one weight,
        // at steps of 0.01 and 0.0025 alike; f64 ones agree with the backward pass.
        let rnn = SimpleRnn::<4, 3, 5, 12, 5, Tanh>::keras_default(&mut seeded(3), true);
        let (x, c) = (sequences::<12, 3>(1), sequences::<5, 3>(2));
        check_against_reference(&rnn, &rnn.params, &x, &c, &|w, b, x| {
            reference::<4, 3, 5>(w, b, x)
        });
    }
}
