//! Fixed sinusoidal position encoding (Vaswani et al.), added to each step.

use core::fmt;

use rand::Rng;

#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

use crate::activation::Linear;
use crate::buffer::Buffer;
use crate::layer::{Initialize, Layer};
#[cfg(feature = "onnx")]
use crate::onnx;

/// `y_t = x_t + E_t` for each of the `T` steps of `F` features (`N = T · F`), where feature
/// `i` of position `t` is `sin(t · ω_i)` for even `i` and `cos(t · ω_i)` for odd `i`, with
/// `ω_i = max_wavelength^(-2⌊i/2⌋ / F)`: keras_hub's `SinePositionEncoding` (its formula and
/// its default `max_wavelength` of 10,000), added to its input as its models add it. No
/// parameters; the table is computed once, in `f64`, when the layer is built.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::SinePositionEncoding;
///
/// let encoding = SinePositionEncoding::<2, 2, 4>::default();
/// let mut y = [0.0; 4];
/// encoding.infer(&[0.0; 4], &mut y);
/// // Position 0: sin 0, cos 0; position 1: sin 1, cos 1 (ω = 1 for the first pair).
/// assert_eq!(y, [0.0, 1.0, 1f64.sin() as f32, 1f64.cos() as f32]);
/// ```
pub struct SinePositionEncoding<const T: usize, const F: usize, const N: usize> {
    table: Buffer<[f32; N]>,
    max_wavelength: f32,
}

impl<const T: usize, const F: usize, const N: usize> SinePositionEncoding<T, F, N> {
    /// keras_hub's default longest wavelength.
    pub const DEFAULT_MAX_WAVELENGTH: f32 = 10_000.0;

    /// The encoding with the given longest wavelength.
    ///
    /// # Panics
    ///
    /// If `max_wavelength` is not a finite number above 0.
    pub fn new(max_wavelength: f32) -> Self {
        const {
            assert!(
                T >= 1 && F >= 1 && N == T * F,
                "`SinePositionEncoding`: N must be T · F"
            )
        };
        assert!(
            max_wavelength.is_finite() && max_wavelength > 0.0,
            "`SinePositionEncoding`: max_wavelength must be a finite number above 0, found {max_wavelength}"
        );
        let mut table: Buffer<[f32; N]> = Buffer::zeroed();
        let wavelength = f64::from(max_wavelength);
        for (t, row) in table.chunks_exact_mut(F).enumerate() {
            for (i, value) in row.iter_mut().enumerate() {
                let frequency = wavelength.powf(-((2 * (i / 2)) as f64) / F as f64);
                let angle = t as f64 * frequency;
                *value = if i % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
            }
        }
        Self {
            table,
            max_wavelength,
        }
    }

    /// The encodings added, step after step.
    pub fn table(&self) -> &[f32; N] {
        &self.table
    }
}

impl<const T: usize, const F: usize, const N: usize> Default for SinePositionEncoding<T, F, N> {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_WAVELENGTH)
    }
}

impl<const T: usize, const F: usize, const N: usize> Layer for SinePositionEncoding<T, F, N> {
    type In = [f32; N];
    type Out = [f32; N];
    type Activation = Linear;
    type Grads = ();
    type Tape<const B: usize> = ();

    const KIND: &'static str = "SinePositionEncoding";

    fn new_tape<const B: usize>(&self) {}

    fn forward<const B: usize>(&self, x: &[[f32; N]; B], y: &mut [[f32; N]; B], _: &mut ()) {
        for (x, y) in x.iter().zip(y) {
            self.infer(x, y);
        }
    }

    fn infer(&self, x: &[f32; N], y: &mut [f32; N]) {
        for ((y, x), e) in y.iter_mut().zip(x).zip(self.table.iter()) {
            *y = x + e;
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
            dx.copy_from_slice(dz);
        }
    }

    without_parameters!();

    /// An `Add` of the encoding, a constant.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = graph.reshape(x, &[T, F]);
        let table = graph.initializer("encoding", &[T, F], self.table.to_vec());
        Ok(graph.node("Add", &[&x.name, &table], Vec::new(), vec![T, F]))
    }
}

impl<const T: usize, const F: usize, const N: usize> Initialize for SinePositionEncoding<T, F, N> {
    fn initialize<R: Rng + ?Sized>(_rng: &mut R) -> Self {
        Self::default()
    }
}

impl<const T: usize, const F: usize, const N: usize> Clone for SinePositionEncoding<T, F, N> {
    fn clone(&self) -> Self {
        // The table follows from the wavelength.
        Self::new(self.max_wavelength)
    }
}

impl<const T: usize, const F: usize, const N: usize> fmt::Debug for SinePositionEncoding<T, F, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinePositionEncoding")
            .field("steps", &T)
            .field("features", &F)
            .field("max_wavelength", &self.max_wavelength)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_follows_keras_hubs_formula() {
        let encoding = SinePositionEncoding::<3, 4, 12>::new(100.0);
        // ω = 1, 1, 100^(-2/4) = 0.1, 0.1.
        let expected: Vec<f32> = (0..3)
            .flat_map(|t| {
                let t = f64::from(t);
                [t.sin(), t.cos(), (0.1 * t).sin(), (0.1 * t).cos()].map(|v| v as f32)
            })
            .collect();
        assert_eq!(encoding.table()[..], expected[..]);
        let mut dx = [[0.0; 12]];
        encoding.backward(&[[0.0; 12]], &[[2.0; 12]], Some(&mut dx), &mut (), &mut ());
        assert_eq!(dx, [[2.0; 12]]);
    }

    #[test]
    #[should_panic(expected = "max_wavelength must be a finite number above 0")]
    fn a_wavelength_of_zero_is_refused() {
        let _ = SinePositionEncoding::<1, 2, 2>::new(0.0);
    }
}
