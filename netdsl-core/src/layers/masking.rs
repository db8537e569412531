//! Keras' `Masking`: step `t` of a sample is padding when each of its features equals the mask
//! value, `m_t = ∃ f: x_{t,f} ≠ mask_value`; `y_t = m_t · x_t`, and the output carries the mask
//! `m` for the recurrent layers after it (see [`crate::mask`]).
//!
//! Backward: `dx_t = m_t · dz_t`.

use rand::Rng;

use crate::activation::Linear;
use crate::layer::{Initialize, Layer};
use crate::mask::StepMask;

/// Keras' `Masking(mask_value)` over `T` steps of `F` features (`N = T · F` values): a step
/// whose features all equal `mask_value` is padding, which the layer zeroes and its output's
/// mask marks, so that a recurrent layer after it leaves its state as it was there
/// ([`crate::mask`] says how the mask travels). Keras' comparison is `!=`, so a NaN feature is
/// data. `network!` writes it `=> Masking =>` or `=> Masking(mask_value = -1.0) =>`.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::Masking;
///
/// // Two steps of two features, padded with -1: the second step is padding.
/// let masking = Masking::<2, 2, 4>::new(-1.0);
/// let (mut y, mut mask) = ([9.0; 4], [true; 2]);
/// assert!(masking.infer_masked(&[0.5, -1.0, -1.0, -1.0], None, &mut y, &mut mask));
/// assert_eq!((y, mask), ([0.5, -1.0, 0.0, 0.0], [true, false]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Masking<const T: usize, const F: usize, const N: usize> {
    mask_value: f32,
}

impl<const T: usize, const F: usize, const N: usize> Masking<T, F, N> {
    /// The layer, masking the steps whose features all equal `mask_value` (Keras' default is 0).
    pub const fn new(mask_value: f32) -> Self {
        const { assert!(T * F == N, "Masking<T, F, N>: N must be T · F") };
        Masking { mask_value }
    }

    /// The value that marks padding.
    pub fn mask_value(&self) -> f32 {
        self.mask_value
    }

    /// Whether `step` is data: some feature differs from the mask value.
    fn is_data(&self, step: &[f32]) -> bool {
        step.iter().any(|&v| v != self.mask_value)
    }

    /// `y = m · x` step by step, each step's flag written into `mask`.
    fn masked(&self, x: &[f32; N], y: &mut [f32; N], mask: &mut [bool; T]) {
        let steps = x.chunks_exact(F).zip(y.chunks_exact_mut(F));
        for ((x, y), data) in steps.zip(mask) {
            *data = self.is_data(x);
            if *data {
                y.copy_from_slice(x);
            } else {
                y.fill(0.0);
            }
        }
    }
}

impl<const T: usize, const F: usize, const N: usize> Default for Masking<T, F, N> {
    /// Keras' default, `mask_value = 0`.
    fn default() -> Self {
        Self::new(0.0)
    }
}

impl<const T: usize, const F: usize, const N: usize> Layer for Masking<T, F, N> {
    type In = [f32; N];
    type Out = [f32; N];
    type Activation = Linear;
    type Grads = ();
    type Tape<const B: usize> = StepMask<T, B>;

    const KIND: &'static str = "Masking";

    fn new_tape<const B: usize>(&self) -> StepMask<T, B> {
        StepMask::new()
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; N]; B],
        y: &mut [[f32; N]; B],
        tape: &mut StepMask<T, B>,
    ) {
        for ((x, y), mask) in x.iter().zip(y).zip(tape.rows_mut()) {
            self.masked(x, y, mask);
        }
    }

    fn backward<const B: usize>(
        &self,
        _x: &[[f32; N]; B],
        dz: &[[f32; N]; B],
        dx: Option<&mut [[f32; N]; B]>,
        _grads: &mut (),
        tape: &mut StepMask<T, B>,
    ) {
        let Some(dx) = dx else {
            return;
        };
        // Every step is data until a forward pass has measured the batch.
        let rows = tape.rows();
        for (b, (dx, dz)) in dx.iter_mut().zip(dz).enumerate() {
            let steps = dx.chunks_exact_mut(F).zip(dz.chunks_exact(F));
            for (t, (dx, dz)) in steps.enumerate() {
                if rows.is_none_or(|rows| rows[b][t]) {
                    dx.copy_from_slice(dz);
                } else {
                    dx.fill(0.0);
                }
            }
        }
    }

    fn output_mask<const B: usize>(tape: &StepMask<T, B>) -> Option<&[bool]> {
        tape.flags()
    }

    fn infer(&self, x: &[f32; N], y: &mut [f32; N]) {
        self.masked(x, y, &mut [true; T]);
    }

    fn infer_masked(
        &self,
        x: &[f32; N],
        _mask: Option<&[bool]>,
        y: &mut [f32; N],
        output_mask: &mut [bool],
    ) -> bool {
        let mut mask = [true; T];
        self.masked(x, y, &mut mask);
        let Some(out) = output_mask.get_mut(..T) else {
            return false;
        };
        out.copy_from_slice(&mask);
        true
    }

    without_parameters!();
}

/// The layer has no parameters: `network!` builds it with its mask value.
impl<const T: usize, const F: usize, const N: usize> Initialize for Masking<T, F, N> {
    fn initialize<R: Rng + ?Sized>(_rng: &mut R) -> Self {
        Self::default()
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::layers::gradcheck::{check_gradients, values};

    #[test]
    fn steps_of_the_mask_value_are_zeroed_and_masked() {
        // Three steps of two features: padding, data with one feature at the mask value, NaN.
        let masking = Masking::<3, 2, 6>::new(-1.0);
        let x = [[-1.0, -1.0, 2.0, -1.0, f32::NAN, -1.0]];
        let (mut y, mut tape) = ([[9.0; 6]], masking.new_tape::<1>());
        masking.forward(&x, &mut y, &mut tape);
        assert_eq!(y[0][..4], [0.0, 0.0, 2.0, -1.0]);
        assert!(y[0][4].is_nan() && y[0][5] == -1.0, "{y:?}");
        let mask = Masking::<3, 2, 6>::output_mask(&tape);
        assert_eq!(mask, Some(&[false, true, true][..]));
        let mut dx = [[9.0; 6]];
        let dz = [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]];
        masking.backward(&x, &dz, Some(&mut dx), &mut (), &mut tape);
        assert_eq!(dx, [[0.0, 0.0, 3.0, 4.0, 5.0, 6.0]]);
    }

    #[test]
    fn inference_agrees_with_the_batch_and_writes_the_mask_when_asked() {
        let masking = Masking::<2, 3, 6>::default();
        let x = [
            [0.0, 0.0, 0.0, 0.5, 0.0, 0.0],
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ];
        let (mut y, mut tape) = ([[0.0; 6]; 2], masking.new_tape::<2>());
        masking.forward(&x, &mut y, &mut tape);
        assert_eq!(tape.rows(), Some(&[[false, true], [true, false]]));
        for ((x, y), rows) in x.iter().zip(&y).zip(tape.rows().unwrap()) {
            let (mut one, mut mask) = ([9.0; 6], [true; 2]);
            assert!(masking.infer_masked(x, None, &mut one, &mut mask));
            assert_eq!((&one, &mask), (y, rows));
            // Without room for the mask, none is written.
            assert!(!masking.infer_masked(x, None, &mut one, &mut []));
            masking.infer(x, &mut one);
            assert_eq!(&one, y);
        }
    }

    #[test]
    fn masking_backward_matches_finite_differences() {
        // Random values: no step is padding, and the layer is the identity.
        let mut masking = Masking::<4, 3, 12>::default();
        let mut tape = masking.new_tape::<2>();
        check_gradients(&mut masking, &values(2), &values(1), &mut tape);
    }
}
