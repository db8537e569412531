//! Time reversal of a sequence.

use rand::Rng;

use crate::activation::Linear;
use crate::layer::{Initialize, Layer};

/// A sequence of `T` steps of `F` features (`N = T · F` values) with its steps in the opposite
/// order: `y[t] = x[T - 1 - t]`. Backward: `dx[t] = dz[T - 1 - t]`.
///
/// How `Bidirectional` reads its sequence backwards, as Keras' `go_backwards=True` does, and
/// turns the backward layer's steps around again when it returns all of them.
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
    type Tape<const B: usize> = ();

    const KIND: &'static str = "Reverse";

    fn new_tape<const B: usize>(&self) {}

    fn forward<const B: usize>(&self, x: &[[f32; N]; B], y: &mut [[f32; N]; B], _: &mut ()) {
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
        _tape: &mut (),
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

    without_parameters!();
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
        let mut y = [[0.0; 6]; 1];
        layer.forward(&[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], &mut y, &mut ());
        assert_eq!(y, [[4.0, 5.0, 6.0, 1.0, 2.0, 3.0]]);
        let mut dx = [[0.0; 6]; 1];
        layer.backward(&[[0.0; 6]], &y, Some(&mut dx), &mut (), &mut ());
        assert_eq!(dx, [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]);
    }

    #[test]
    fn reverse_backward_matches_finite_differences() {
        let c = values::<[f32; 12], 2>(1);
        check_gradients(&mut Reverse::<4, 3, 12>::new(), &values(2), &c, &mut ());
    }
}
