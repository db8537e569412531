//! Learned position embedding: a trainable vector per position, added to each step.

use core::fmt;

use rand::Rng;

use super::parameter::Parameter;
use crate::activation::Linear;
use crate::buffer::Buffer;
use crate::init::Initializer;
use crate::kernels::{self, Isa};
use crate::layer::{Initialize, Layer, TensorVisitor, TensorVisitorMut};
#[cfg(feature = "onnx")]
use crate::onnx;

/// `y_t = x_t + P_t` for each of the `T` steps of `F` features (`N = T · F`), `P` a trainable
/// table of `L ≥ T` positions (`LN = L · F` values): keras_hub's `PositionEmbedding(
/// sequence_length = L)` added to its input, as its `TokenAndPositionEmbedding` adds it. A
/// table longer than the sequence serves its first `T` rows; the others get no gradient.
///
/// Its tensor is keras_hub's `embeddings`, `[L, F]`, Glorot-uniform at first.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::PositionEmbedding;
///
/// // Two steps of two features; a table of three positions, the last unused.
/// let positions = PositionEmbedding::<2, 2, 4, 3, 6>::from_table([0.5, 1.0, -1.0, 0.0, 9.0, 9.0]);
/// let mut y = [0.0; 4];
/// positions.infer(&[1.0, 1.0, 2.0, 2.0], &mut y);
/// assert_eq!(y, [1.5, 2.0, 1.0, 2.0]);
/// ```
pub struct PositionEmbedding<
    const T: usize,
    const F: usize,
    const N: usize,
    const L: usize,
    const LN: usize,
> {
    table: Parameter<[f32; LN]>,
}

impl<const T: usize, const F: usize, const N: usize, const L: usize, const LN: usize>
    PositionEmbedding<T, F, N, L, LN>
{
    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = assert!(
        T >= 1 && F >= 1 && N == T * F && L >= T && LN == L * F,
        "`PositionEmbedding`: expected N = T * F, a table of L >= T positions and LN = L * F"
    );

    /// keras_hub's initial table: Glorot-uniform over `[L, F]`.
    pub fn glorot_uniform<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let () = Self::SHAPES_AGREE;
        let mut table = Parameter::<[f32; LN]>::zeroed();
        Initializer::GlorotUniform.fill(&[L, F], rng, table.make_mut());
        Self { table }
    }

    /// A layer with the given table, `L` rows of `F`.
    pub fn from_table(table: [f32; LN]) -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            table: Parameter::copied(&table),
        }
    }

    /// The table, `L` rows of `F`.
    pub fn table(&self) -> &[f32; LN] {
        self.table.get()
    }

    /// The rows the sequence reads.
    fn used(&self) -> &[f32] {
        &self.table()[..N]
    }
}

impl<const T: usize, const F: usize, const N: usize, const L: usize, const LN: usize> Layer
    for PositionEmbedding<T, F, N, L, LN>
{
    type In = [f32; N];
    type Out = [f32; N];
    type Activation = Linear;
    type Grads = Buffer<[f32; LN]>;
    type Tape<const B: usize> = ();

    const KIND: &'static str = "PositionEmbedding";

    fn new_tape<const B: usize>(&self) {}

    fn forward<const B: usize>(&self, x: &[[f32; N]; B], y: &mut [[f32; N]; B], _: &mut ()) {
        for (x, y) in x.iter().zip(y) {
            self.infer(x, y);
        }
    }

    fn infer(&self, x: &[f32; N], y: &mut [f32; N]) {
        for ((y, x), p) in y.iter_mut().zip(x).zip(self.used()) {
            *y = x + p;
        }
    }

    /// `dP_t = Σ_b dz_t`, `dx = dz`.
    fn backward<const B: usize>(
        &self,
        _x: &[[f32; N]; B],
        dz: &[[f32; N]; B],
        dx: Option<&mut [[f32; N]; B]>,
        grads: &mut Buffer<[f32; LN]>,
        _: &mut (),
    ) {
        let (used, unused) = grads.split_at_mut(N);
        kernels::column_sums(Isa::selected(), dz.as_flattened(), N, used);
        unused.fill(0.0);
        if let Some(dx) = dx {
            dx.copy_from_slice(dz);
        }
    }

    fn new_grads(&self) -> Buffer<[f32; LN]> {
        Buffer::zeroed()
    }

    fn parameter_count(&self) -> usize {
        LN
    }

    fn visit_parameters(
        &mut self,
        grads: &mut Buffer<[f32; LN]>,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        visit(self.table.make_mut(), &mut grads[..]);
    }

    fn visit_gradients(grads: &mut Buffer<[f32; LN]>, visit: &mut dyn FnMut(&mut [f32])) -> bool {
        visit(&mut grads[..]);
        true
    }

    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        visit("embeddings", &[L, F], self.table());
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        visit("embeddings", &[L, F], self.table.make_mut());
    }

    /// An `Add` of the first `T` rows of the table.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = graph.reshape(x, &[T, F]);
        let table = graph.initializer("embeddings", &[T, F], self.used().to_vec());
        Ok(graph.node("Add", &[&x.name, &table], Vec::new(), vec![T, F]))
    }
}

impl<const T: usize, const F: usize, const N: usize, const L: usize, const LN: usize> Initialize
    for PositionEmbedding<T, F, N, L, LN>
{
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::glorot_uniform(rng)
    }
}

impl<const T: usize, const F: usize, const N: usize, const L: usize, const LN: usize> Clone
    for PositionEmbedding<T, F, N, L, LN>
{
    fn clone(&self) -> Self {
        Self {
            table: self.table.clone(),
        }
    }
}

impl<const T: usize, const F: usize, const N: usize, const L: usize, const LN: usize> fmt::Debug
    for PositionEmbedding<T, F, N, L, LN>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PositionEmbedding")
            .field("steps", &T)
            .field("features", &F)
            .field("sequence_length", &L)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::gradcheck::{check_gradients, seeded, values};

    #[test]
    fn backward_sums_each_positions_gradient_over_the_batch() {
        let l = PositionEmbedding::<2, 1, 2, 3, 3>::from_table([1.0, 2.0, 3.0]);
        let mut grads = l.new_grads();
        let mut dx = [[0.0; 2]; 2];
        let dz = [[1.0, 2.0], [0.5, -1.0]];
        l.backward(&[[0.0; 2]; 2], &dz, Some(&mut dx), &mut grads, &mut ());
        assert_eq!(*grads, [1.5, 1.0, 0.0]);
        assert_eq!(dx, dz);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let mut l = PositionEmbedding::<3, 2, 6, 4, 8>::glorot_uniform(&mut seeded(5));
        let c = values::<[f32; 6], 2>(1);
        check_gradients(&mut l, &values(2), &c, &mut ());
    }
}
