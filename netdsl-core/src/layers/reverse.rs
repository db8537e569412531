//! Time reversal of a sequence, and of its mask.

use rand::Rng;

use crate::activation::Linear;
use crate::layer::{Initialize, Layer};
use crate::mask::StepMask;
#[cfg(feature = "onnx")]
use crate::onnx;

/// A sequence of `T` steps of `F` features (`N = T · F` values) with its steps in the opposite
/// order: `y[t] = x[T - 1 - t]`. Backward: `dx[t] = dz[T - 1 - t]`.
///
/// How `Bidirectional` reads its sequence backwards, as Keras' `go_backwards=True` does, and
/// turns the backward layer's steps around again when it returns all of them. The mask of its
/// input ([`crate::mask`]), if it is given one, comes out reversed too: step `t` of the output
/// is padding where step `T - 1 - t` of the input was.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::Reverse;
///
/// let mut y = [0.0; 6];
/// Reverse::<3, 2, 6>::new().infer(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut y);
/// assert_eq!(y, [5.0, 6.0, 3.0, 4.0, 1.0, 2.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reverse<const T: usize, const F: usize, const N: usize>;

impl<const T: usize, const F: usize, const N: usize> Reverse<T, F, N> {
    /// The layer.
    pub const fn new() -> Self {
        const { assert!(T * F == N, "Reverse<T, F, N>: N must be T · F") };
        Self
    }

    /// `to[t] = from[T - 1 - t]`, step by step.
    fn reversed(from: &[f32; N], to: &mut [f32; N]) {
        for (to, from) in to.chunks_exact_mut(F).zip(from.chunks_exact(F).rev()) {
            to.copy_from_slice(from);
        }
    }
}

impl<const T: usize, const F: usize, const N: usize> Layer for Reverse<T, F, N> {
    type In = [f32; N];
    type Out = [f32; N];
    type Activation = Linear;
    type Grads = ();
    /// The reversed mask of the input, if it has one.
    type Tape<const B: usize> = StepMask<T, B>;

    const KIND: &'static str = "Reverse";

    fn new_tape<const B: usize>(&self) -> StepMask<T, B> {
        StepMask::new()
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; N]; B],
        y: &mut [[f32; N]; B],
        _: &mut StepMask<T, B>,
    ) {
        for (x, y) in x.iter().zip(y) {
            Self::reversed(x, y);
        }
    }

    fn backward<const B: usize>(
        &self,
        _x: &[[f32; N]; B],
        dz: &[[f32; N]; B],
        dx: Option<&mut [[f32; N]; B]>,
        _grads: &mut (),
        _tape: &mut StepMask<T, B>,
    ) {
        if let Some(dx) = dx {
            for (dz, dx) in dz.iter().zip(dx) {
                Self::reversed(dz, dx);
            }
        }
    }

    fn infer(&self, x: &[f32; N], y: &mut [f32; N]) {
        Self::reversed(x, y);
    }

    /// The mask depends on nothing but the input's: reversed once, here, for every pass.
    fn set_input_mask<const B: usize>(&self, tape: &mut StepMask<T, B>, mask: Option<&[bool]>) {
        tape.set(mask);
        if mask.is_some() {
            tape.rows_mut().iter_mut().for_each(|row| row.reverse());
        }
    }

    fn output_mask<const B: usize>(tape: &StepMask<T, B>) -> Option<&[bool]> {
        tape.flags()
    }

    fn infer_masked(
        &self,
        x: &[f32; N],
        mask: Option<&[bool]>,
        y: &mut [f32; N],
        output_mask: &mut [bool],
    ) -> bool {
        Self::reversed(x, y);
        let (Some(mask), Some(out)) = (mask.and_then(|m| m.get(..T)), output_mask.get_mut(..T))
        else {
            return false;
        };
        out.iter_mut()
            .zip(mask.iter().rev())
            .for_each(|(to, &from)| *to = from);
        true
    }

    without_parameters!();

    /// A `Gather` of the steps, last to first (rather than a `Slice` of step -1, which tract
    /// cannot optimise).
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = graph.reshape(x, &[T, F]);
        let steps: Vec<i64> = (0..T as i64).rev().collect();
        let steps = graph.int64s("steps", &steps);
        let axis = vec![onnx::Attribute::int("axis", 1)];
        Ok(graph.node("Gather", &[&x.name, &steps], axis, vec![T, F]))
    }
}

/// The layer has no parameters: `network!` builds it with `new()`.
impl<const T: usize, const F: usize, const N: usize> Initialize for Reverse<T, F, N> {
    fn initialize<R: Rng + ?Sized>(_rng: &mut R) -> Self {
        Self::new()
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::layers::gradcheck::{check_gradients, values};

    #[test]
    fn steps_come_back_in_the_opposite_order() {
        let layer = Reverse::<2, 3, 6>::new();
        let (mut y, mut tape) = ([[0.0; 6]; 1], layer.new_tape());
        layer.forward(&[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], &mut y, &mut tape);
        assert_eq!(y, [[4.0, 5.0, 6.0, 1.0, 2.0, 3.0]]);
        let mut dx = [[0.0; 6]; 1];
        layer.backward(&[[0.0; 6]], &y, Some(&mut dx), &mut (), &mut tape);
        assert_eq!(dx, [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]);
    }

    #[test]
    fn the_mask_comes_back_reversed_or_not_at_all() {
        let layer = Reverse::<3, 1, 3>::new();
        let mut tape = layer.new_tape::<2>();
        assert_eq!(Reverse::<3, 1, 3>::output_mask(&tape), None);
        let mask = [true, true, false, false, true, true];
        layer.set_input_mask(&mut tape, Some(&mask));
        let reversed = [false, true, true, true, true, false];
        assert_eq!(Reverse::<3, 1, 3>::output_mask(&tape), Some(&reversed[..]));
        let (mut y, mut out) = ([0.0; 3], [true; 3]);
        assert!(layer.infer_masked(&[1.0, 2.0, 0.0], Some(&mask[..3]), &mut y, &mut out));
        assert_eq!((y, out), ([0.0, 2.0, 1.0], [false, true, true]));
        assert!(!layer.infer_masked(&[1.0, 2.0, 0.0], None, &mut y, &mut out));
        layer.set_input_mask(&mut tape, None);
        assert_eq!(Reverse::<3, 1, 3>::output_mask(&tape), None);
    }

    #[test]
    fn reverse_backward_matches_finite_differences() {
        let mut layer = Reverse::<4, 3, 12>::new();
        let mut tape = layer.new_tape::<2>();
        check_gradients(&mut layer, &values(2), &values(1), &mut tape);
    }
}
