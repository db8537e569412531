//! Layers that only change how the shape of a row is read: `Flatten` and `Reshape`.

use rand::Rng;

use crate::activation::Linear;
use crate::layer::{Initialize, Layer};
#[cfg(feature = "onnx")]
use crate::onnx;

/// Defines a parameterless layer that passes its `N` values through unchanged.
macro_rules! identity_layer {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name<const N: usize>;

        impl<const N: usize> $name<N> {
            /// The layer.
            pub const fn new() -> Self {
                Self
            }
        }

        impl<const N: usize> Layer for $name<N> {
            type In = [f32; N];
            type Out = [f32; N];
            type Activation = Linear;
            type Grads = ();
            type Tape<const B: usize> = ();

            const KIND: &'static str = stringify!($name);

            fn new_tape<const B: usize>(&self) {}

            fn forward<const B: usize>(
                &self,
                x: &[[f32; N]; B],
                y: &mut [[f32; N]; B],
                _: &mut (),
            ) {
                y.copy_from_slice(x);
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
                    dx.copy_from_slice(dz);
                }
            }

            fn infer(&self, x: &[f32; N], y: &mut [f32; N]) {
                y.copy_from_slice(x);
            }

            /// A `Reshape` to the flat row (Keras flattens channels-last, as netdsl's rows
            /// are laid out); the layer after reshapes it to the shape it reads.
            #[cfg(feature = "onnx")]
            fn onnx(
                &self,
                graph: &mut onnx::Graph,
                x: onnx::Value,
            ) -> Result<onnx::Value, onnx::Error> {
                Ok(graph.reshape(x, &[N]))
            }

            without_parameters!();
        }

        /// The layer has no parameters: `network!` builds it with `new()`.
        impl<const N: usize> Initialize for $name<N> {
            fn initialize<R: Rng + ?Sized>(_rng: &mut R) -> Self {
                Self
            }
        }
    };
}

identity_layer!(
    /// Flattening: `y = x`, an `H × W × C` image read as a row of `N = H · W · C` values.
    ///
    /// Backward: `dx = dz`.
    ///
    /// Images are already stored as flat channels-last rows, which is the order Keras'
    /// `Flatten` produces from an `(H, W, C)` tensor, so no value moves: only the shape
    /// `network!` tracks changes, and with it what the next layer may be.
    ///
    /// ```
    /// use netdsl_core::layer::Layer;
    /// use netdsl_core::layers::Flatten;
    ///
    /// let mut y = [[0.0; 4]; 1];
    /// Flatten::<4>::new().forward(&[[1.0, 2.0, 3.0, 4.0]], &mut y, &mut ());
    /// assert_eq!(y, [[1.0, 2.0, 3.0, 4.0]]);
    /// ```
    Flatten
);

identity_layer!(
    /// Reshaping: `y = x`, the `N` values of a row read with another shape of `N` values.
    ///
    /// Backward: `dx = dz`.
    ///
    /// As with Keras' `Reshape`, the values keep their row-major (channels-last) order; only
    /// the shape `network!` tracks changes.
    ///
    /// ```
    /// use netdsl_core::layer::Layer;
    /// use netdsl_core::layers::Reshape;
    ///
    /// let mut y = [[0.0; 4]; 1];
    /// Reshape::<4>::new().forward(&[[1.0, 2.0, 3.0, 4.0]], &mut y, &mut ());
    /// assert_eq!(y, [[1.0, 2.0, 3.0, 4.0]]);
    /// ```
    Reshape
);

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::layers::gradcheck::{check_gradients, values};

    #[test]
    fn forward_and_backward_pass_values_through() {
        let x = [[1.0, -2.0, 3.5], [0.0, 4.0, -0.25]];
        let dz = [[0.5, 1.0, -1.0], [2.0, 0.0, 3.0]];
        let mut y = [[9.0; 3]; 2];
        let mut dx = [[9.0; 3]; 2];
        Flatten::<3>::new().forward(&x, &mut y, &mut ());
        Flatten::<3>::new().backward(&x, &dz, Some(&mut dx), &mut (), &mut ());
        assert_eq!((y, dx), (x, dz));
        let (mut y, mut dx) = ([[9.0; 3]; 2], [[9.0; 3]; 2]);
        Reshape::<3>::new().forward(&x, &mut y, &mut ());
        Reshape::<3>::new().backward(&x, &dz, Some(&mut dx), &mut (), &mut ());
        assert_eq!((y, dx), (x, dz));
        assert_eq!(
            (Flatten::<3>::KIND, Reshape::<3>::KIND),
            ("Flatten", "Reshape")
        );
    }

    #[test]
    fn flatten_backward_matches_finite_differences() {
        let c = values::<[f32; 12], 3>(1);
        check_gradients(&mut Flatten::<12>::new(), &values(2), &c, &mut ());
    }

    #[test]
    fn reshape_backward_matches_finite_differences() {
        let c = values::<[f32; 12], 3>(3);
        check_gradients(&mut Reshape::<12>::new(), &values(4), &c, &mut ());
    }
}
