//! Keras' `GRU` with its defaults (`reset_after=True`): from `a = x_t · W_x + b_x` and
//! `c = h_{t-1} · W_h + b_h`, each cut into the blocks `z, r, n`, the update gate
//! `z = σ(a_z + c_z)`, the reset gate `r = σ(a_r + c_r)`, the candidate `n = tanh(a_n + r ⊙ c_n)`
//! and `h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n`.
//!
//! Backward: `dn = dh_t ⊙ (1 - z) ⊙ (1 - n²)`, `dz = dh_t ⊙ (h_{t-1} - n) ⊙ z(1 - z)`,
//! `dr = dn ⊙ c_n ⊙ r(1 - r)`; `da = (dz, dr, dn)`, `dc = (dz, dr, dn ⊙ r)`, and `h_{t-1}` gets
//! `dh_t ⊙ z`, to which [`Recurrent`] adds `dc · W_hᵀ`.

use super::recurrent::{Cell, Recurrent};
use crate::activation::Linear;
use crate::kernels::{self, Isa};
#[cfg(feature = "onnx")]
use crate::onnx;

/// The cell of a [`Gru`]: the blocks `z, r, n` of its two products, which stay apart.
#[derive(Clone, Copy, Debug, Default)]
pub struct GruCell;

impl Cell for GruCell {
    const KIND: &'static str = "GRU";
    const GATES: usize = 3;
    const APART: bool = true;
    /// `a`, then `c`; after the step, `z, r, n` in place of `a`.
    type Kept<const U: usize> = [[f32; U]; 6];
    /// `h`.
    type State<const U: usize> = [f32; U];
    type Activation = Linear;

    /// ONNX's `GRU`, whose gates are Keras' `z, r, h`, with the reset gate after the recurrent
    /// product (`linear_before_reset = 1`).
    #[cfg(feature = "onnx")]
    fn onnx() -> Result<onnx::Recurrence, onnx::Error> {
        Ok(onnx::Recurrence {
            op: "GRU",
            gates: &[0, 1, 2],
            activations: None,
            linear_before_reset: true,
        })
    }

    fn forward<const U: usize>(kept: &mut [[f32; U]; 6], h: &mut [f32; U]) {
        // The gates through the vector kernels, side by side.
        let (a, c) = kept.as_flattened_mut().split_at_mut(3 * U);
        kernels::gru_gates(a, c, h);
    }

    /// [`kernels::gru_step`]: both products and the gates in one pass.
    fn infer_step<const U: usize>(
        x_t: &[f32],
        kernel: &[f32],
        recurrent: &[f32],
        bias: Option<&[f32]>,
        h: &mut [f32; U],
    ) -> bool {
        let h_prev = *h;
        let parts = [(x_t, kernel), (&h_prev[..], recurrent)];
        kernels::gru_step(Isa::selected(), parts, bias, h);
        true
    }

    fn backward<const U: usize>(
        [z, r, n, _, _, c_n]: &[[f32; U]; 6],
        h_prev: &[f32],
        out: Option<&[f32]>,
        dh: &mut [f32; U],
        da: &mut [f32],
        dc: &mut [f32],
    ) {
        // At their lengths, so that the loop runs without bounds checks.
        let (h_prev, da, dc) = (&h_prev[..U], &mut da[..3 * U], &mut dc[..3 * U]);
        if let Some(out) = out {
            dh.iter_mut().zip(out).for_each(|(d, out)| *d += out);
        }
        for u in 0..U {
            // h = z ⊙ h_prev + (1 - z) ⊙ n, n = tanh(a_n + r ⊙ c_n).
            let dn = dh[u] * (1.0 - z[u]) * (1.0 - n[u] * n[u]);
            let d_z = dh[u] * (h_prev[u] - n[u]) * z[u] * (1.0 - z[u]);
            let d_r = dn * c_n[u] * r[u] * (1.0 - r[u]);
            (da[u], da[U + u], da[2 * U + u]) = (d_z, d_r, dn);
            (dc[u], dc[U + u], dc[2 * U + u]) = (d_z, d_r, dn * r[u]);
            // h_prev reaches h directly through z; through W_h in the shell.
            dh[u] *= z[u];
        }
    }
}

/// Keras' `GRU(U)` with its defaults (`reset_after=True`, sigmoid gates, tanh candidate) over
/// `T` steps of `F` features: a [`Recurrent`] layer of [`GruCell`], from `h_0 = 0`. Its tensors
/// are Keras': `kernel` `W_x` (`F × 3U`), `recurrent_kernel` `W_h` (`U × 3U`) and `bias`
/// (`2 × 3U`: `b_x`, then `b_h`); as the reset gate scales only the recurrent part of the
/// candidate, the products with `W_x` and `W_h` stay apart. The output is the state itself, so
/// the layer's activation is [`Linear`].
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::Gru;
///
/// // All weights 0: z = r = ½ and n = 0 at every step, so h stays 0.
/// let gru = Gru::<2, 1, 1, 2, 1>::from_parameters(vec![0.0; 3], vec![0.0; 3], Some(vec![0.0; 6]));
/// let mut y = [[9.0]];
/// gru.forward(&[[1.0, 2.0]], &mut y, &mut gru.new_tape::<1>());
/// assert_eq!(y, [[0.0]]);
/// ```
pub type Gru<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> =
    Recurrent<GruCell, T, F, U, IN, OUT>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::Layer;
    use crate::layers::gradcheck::{
        PADDED, Padding, affine, check_masked_against_reference, off_centre, seeded, sequences,
        sigmoid, unroll_masked,
    };

    /// Every sample's `h_T` (or, with `all`, every `h_t`), in f64, from `w` (`[W_x; W_h]`),
    /// `bias` (`b_x` then `b_h`) and the samples `x`: Keras' GRU with `reset_after=True`.
    fn reference<const T: usize, const F: usize, const U: usize>(
        w: &[f64],
        bias: &[f64],
        x: &[f64],
        all: bool,
        padding: Padding<'_>,
    ) -> Vec<f64> {
        unroll_masked::<T, F, U>(x, all, padding, &[0.0; U], &|x_t, h| {
            let a = affine(x_t, &w[..F * 3 * U], &bias[..3 * U]);
            let c = affine(h, &w[F * 3 * U..], &bias[3 * U..]);
            for u in 0..U {
                let z = sigmoid(a[u] + c[u]);
                let r = sigmoid(a[U + u] + c[U + u]);
                let n = (a[2 * U + u] + r * c[2 * U + u]).tanh();
                h[u] = z * h[u] + (1.0 - z) * n;
            }
        })
    }

    /// A layer of 3 steps of 2 features into 4 units, its biases off-centre, against the f64
    /// reference, every output (the last state or every step's) in the loss, over `B` samples
    /// which `padding` may mask.
    fn check<const OUT: usize, const B: usize>(padding: Padding<'_>) {
        let gru = Gru::<3, 2, 4, 6, OUT>::keras_default(&mut seeded(5), true);
        let mut gru = gru.zero_output_for_mask(padding.zero_output);
        off_centre(gru.params.bias.as_deref_mut().unwrap());
        let (x, c) = (sequences::<6, B>(1), sequences::<OUT, B>(2));
        check_masked_against_reference(&gru, &gru.params, &x, padding.mask, &c, &|w, b, x| {
            reference::<3, 2, 4>(w, b, x, OUT == 12, padding)
        });
    }

    #[test]
    fn the_last_state_matches_an_f64_reference_forward_and_backward() {
        check::<4, 2>(Padding::NONE);
    }

    #[test]
    fn every_steps_state_matches_an_f64_reference_forward_and_backward() {
        check::<12, 2>(Padding::NONE);
    }

    #[test]
    fn padded_steps_keep_the_state_as_an_f64_reference_forward_and_backward() {
        for zero_output in [false, true] {
            let padding = Padding {
                mask: Some(&PADDED),
                zero_output,
            };
            check::<4, 4>(padding);
            check::<12, 4>(padding);
        }
    }

    #[test]
    fn keras_initialisation_and_parameter_count() {
        let gru = Gru::<2, 3, 4, 6, 4>::keras_default(&mut seeded(1), true);
        assert_eq!(gru.bias(), Some(&[0.0; 24][..]));
        assert_eq!(gru.parameter_count(), 3 * (3 * 4 + 4 * 4) + 2 * 3 * 4);
    }
}
