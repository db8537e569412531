//! Keras' `LSTM`: from `z = x_t · W_x + h_{t-1} · W_h + b`, cut into the gates `i = σ(z_i)`,
//! `f = σ(z_f)`, `g = tanh(z_g)`, `o = σ(z_o)`: `c_t = f ⊙ c_{t-1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`.
//!
//! Backward: `dc_t += dh_t ⊙ o ⊙ (1 - tanh²(c_t))`, then `dz_i = dc_t ⊙ g ⊙ i(1 - i)`,
//! `dz_f = dc_t ⊙ c_{t-1} ⊙ f(1 - f)`, `dz_g = dc_t ⊙ i ⊙ (1 - g²)`,
//! `dz_o = dh_t ⊙ tanh(c_t) ⊙ o(1 - o)`, and `dc_{t-1} = dc_t ⊙ f`; [`Recurrent`] adds
//! `dh_{t-1} = dz · W_hᵀ`.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

use super::recurrent::{Cell, Recurrent};
use crate::activation::Linear;
use crate::kernels::{self, Isa};
#[cfg(feature = "onnx")]
use crate::onnx;

/// The cell of an [`Lstm`]: four gates in Keras' order `i, f, g, o`, and a cell state `c`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LstmCell;

impl Cell for LstmCell {
    const KIND: &'static str = "LSTM";
    const GATES: usize = 4;
    const APART: bool = false;
    /// The gates `i, f, g, o` (`z` until the step), `c_{t-1}` and `tanh(c_t)`.
    type Kept<const U: usize> = [[f32; U]; 6];
    /// `h` and `c`.
    type State<const U: usize> = [[f32; U]; 2];
    type Activation = Linear;

    /// ONNX's `LSTM`, whose gates are `i, o, f, c`.
    #[cfg(feature = "onnx")]
    fn onnx() -> Result<onnx::Recurrence, onnx::Error> {
        Ok(onnx::Recurrence {
            op: "LSTM",
            gates: &[0, 3, 1, 2],
            activations: None,
            linear_before_reset: false,
        })
    }

    /// Keras' `unit_forget_bias`: 1 for the forget gate.
    fn initial_bias<const U: usize>(mut bias: Vec<f32>) -> Vec<f32> {
        bias[U..2 * U].fill(1.0);
        bias
    }

    fn forward<const U: usize>(kept: &mut [[f32; U]; 6], [h, c]: &mut [[f32; U]; 2]) {
        // The gates through the vector kernels, all four side by side: absolute errors of 3e-7
        // are nothing to a gate (the `sigmoid` activation of a layer keeps the exact formula,
        // for small probabilities' relative precision).
        let (gates, rest) = kept.split_at_mut(4);
        let (c_prev, tanh_c) = rest.split_at_mut(1);
        kernels::lstm_gates(
            gates.as_flattened_mut(),
            c_prev.as_flattened_mut(),
            tanh_c.as_flattened_mut(),
            h,
            c,
        );
    }

    /// [`kernels::lstm_step`]: the product and the gates in one pass.
    fn infer_step<const U: usize>(
        x_t: &[f32],
        kernel: &[f32],
        recurrent: &[f32],
        bias: Option<&[f32]>,
        [h, c]: &mut [[f32; U]; 2],
    ) -> bool {
        let h_prev = *h;
        let parts = [(x_t, kernel), (&h_prev[..], recurrent)];
        kernels::lstm_step(Isa::selected(), parts, bias, c, h);
        true
    }

    fn backward<const U: usize>(
        [i, f, g, o, c_prev, tanh_c]: &[[f32; U]; 6],
        _h_prev: &[f32],
        out: Option<&[f32]>,
        [dh, dc]: &mut [[f32; U]; 2],
        dz: &mut [f32],
        _dz_rec: &mut [f32],
    ) {
        // At its length, so that the loop runs without bounds checks.
        let dz = &mut dz[..4 * U];
        if let Some(out) = out {
            dh.iter_mut().zip(out).for_each(|(d, out)| *d += out);
        }
        for u in 0..U {
            // h = o ⊙ tanh(c): through o, and through c into the cell's own gradient.
            let d_o = dh[u] * tanh_c[u];
            dc[u] += dh[u] * o[u] * (1.0 - tanh_c[u] * tanh_c[u]);
            let (d_i, d_f, d_g) = (dc[u] * g[u], dc[u] * c_prev[u], dc[u] * i[u]);
            dz[u] = d_i * i[u] * (1.0 - i[u]);
            dz[U + u] = d_f * f[u] * (1.0 - f[u]);
            dz[2 * U + u] = d_g * (1.0 - g[u] * g[u]);
            dz[3 * U + u] = d_o * o[u] * (1.0 - o[u]);
            // c_{t-1} reaches c_t through the forget gate.
            dc[u] *= f[u];
        }
        // h_{t-1} reaches h_t only through W_h.
        *dh = [0.0; U];
    }
}

/// Keras' `LSTM(U)` over `T` steps of `F` features: a [`Recurrent`] layer of [`LstmCell`], from
/// `h_0 = c_0 = 0`. Its gates are in Keras' order, `i, f, g, o`, each `U` columns of `W_x`
/// (`F × 4U`, Keras' `kernel`), `W_h` (`U × 4U`, `recurrent_kernel`) and `b` (`4U`). New layers
/// draw `W_x` Glorot-uniform and `W_h` with orthonormal rows, with a zero bias but for the
/// forget gate's, 1 (Keras' `unit_forget_bias`). The output `h_t` is no activation of a
/// pre-activation, so the layer's activation is [`Linear`]: its backward pass takes `dL/dh_t`.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::Lstm;
///
/// // One feature, one unit, one step. W_x's columns are the gates i, f, g, o: only the
/// // candidate g sees x, so i = f = o = σ(0) = ½ and g = tanh(x).
/// let w_x = vec![0.0, 0.0, 1.0, 0.0];
/// let lstm = Lstm::<1, 1, 1, 1, 1>::from_parameters(w_x, vec![0.0; 4], None);
/// let mut h = [[0.0]];
/// lstm.forward(&[[2.0]], &mut h, &mut lstm.new_tape::<1>());
/// // c = f · c_0 + i · g = ½ tanh 2, and h = o · tanh c.
/// let c = 0.5 * 2f32.tanh();
/// assert!((h[0][0] - 0.5 * c.tanh()).abs() < 1e-6);
/// ```
pub type Lstm<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> =
    Recurrent<LstmCell, T, F, U, IN, OUT>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::gradcheck::{
        PADDED, Padding, affine, check_masked_against_reference, off_centre, seeded, sequences,
        sigmoid, unroll_masked,
    };

    /// `h_T` (or, with `all`, every `h_t`) of every sample, in f64, from `w` (`[W_x; W_h]`,
    /// gates `i, f, g, o`), `bias` and the samples `x`.
    fn reference<const T: usize, const F: usize, const U: usize>(
        w: &[f64],
        bias: &[f64],
        x: &[f64],
        all: bool,
        padding: Padding<'_>,
    ) -> Vec<f64> {
        unroll_masked::<T, F, U>(x, all, padding, &vec![0.0; 2 * U], &|x_t, state| {
            let z = affine(&[x_t, &state[..U]].concat(), w, bias);
            let (h, c) = state.split_at_mut(U);
            for u in 0..U {
                let (i, f) = (sigmoid(z[u]), sigmoid(z[U + u]));
                let (g, o) = (z[2 * U + u].tanh(), sigmoid(z[3 * U + u]));
                c[u] = f * c[u] + i * g;
                h[u] = o * c[u].tanh();
            }
        })
    }

    /// A layer of 3 steps of 2 features into 4 units, its bias off-centre, against the f64
    /// reference, every output (the last state or every step's) in the loss, over `B` samples
    /// which `padding` may mask.
    fn check<const OUT: usize, const B: usize>(seed: usize, padding: Padding<'_>) {
        let lstm = Lstm::<3, 2, 4, 6, OUT>::keras_default(&mut seeded(5), true);
        let mut lstm = lstm.zero_output_for_mask(padding.zero_output);
        off_centre(lstm.params.bias.as_deref_mut().unwrap());
        let (x, c) = (sequences::<6, B>(seed), sequences::<OUT, B>(seed + 1));
        check_masked_against_reference(&lstm, &lstm.params, &x, padding.mask, &c, &|w, b, x| {
            reference::<3, 2, 4>(w, b, x, OUT == 12, padding)
        });
    }

    #[test]
    fn the_last_state_matches_an_f64_reference_forward_and_backward() {
        check::<4, 2>(1, Padding::NONE);
    }

    #[test]
    fn every_steps_state_matches_an_f64_reference_forward_and_backward() {
        check::<12, 2>(3, Padding::NONE);
    }

    #[test]
    fn padded_steps_keep_the_state_as_an_f64_reference_forward_and_backward() {
        for zero_output in [false, true] {
            let padding = Padding {
                mask: Some(&PADDED),
                zero_output,
            };
            check::<4, 4>(1, padding);
            check::<12, 4>(3, padding);
        }
    }

    #[test]
    fn keras_initialisation_opens_the_forget_gate() {
        let lstm = Lstm::<2, 3, 4, 6, 4>::keras_default(&mut seeded(1), true);
        let bias = [[0.0; 4], [1.0; 4], [0.0; 4], [0.0; 4]];
        assert_eq!(lstm.bias(), Some(bias.as_flattened()));
    }
}
