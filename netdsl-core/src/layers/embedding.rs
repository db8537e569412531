//! Embedding: each token id of a sample looks up its row of a trainable table.

use core::fmt;

use rand::Rng;

use super::parameter::Parameter;
use crate::activation::Linear;
use crate::buffer::Buffer;
use crate::init::Initializer;
use crate::layer::{Initialize, Layer, Row, TensorVisitor, TensorVisitorMut};
use crate::mask::StepMask;
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::tokens::{Tokens, index_of};

/// Keras' `Embedding(input_dim = V, output_dim = D)` on `T` tokens: row `id` of a `V × D` table
/// (Keras' `embeddings`) for each token, giving a sequence of `T` steps of `D` features
/// (`N = T · D` values).
///
/// With [`Embedding::with_mask_zero`] (Keras' `mask_zero=True`), id 0 is padding: the output
/// carries a mask of the steps whose id is not 0 ([`crate::mask`]), which the recurrent layers
/// after it read.
///
/// Its input is [`Tokens<T, V>`](Tokens), whose ids were checked against the vocabulary when
/// they were built; a row of them made some other way (bytes cast to tokens) with a value that
/// is not an id gives a step of NaN, never an out-of-bounds read, and no gradient. Tokens have
/// no gradient of their own: `dx`, when asked for, is set to zeros.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::Embedding;
/// use netdsl_core::tokens::Tokens;
///
/// // Three ids of a vocabulary of 4, two features each.
/// let table = [[0.0, 0.5], [1.0, 1.5], [2.0, 2.5], [3.0, 3.5]];
/// let embedding = Embedding::<3, 4, 2, 6>::from_table(table);
/// let mut y = [0.0; 6];
/// embedding.infer(&Tokens::new([2, 0, 2])?, &mut y);
/// assert_eq!(y, [2.0, 2.5, 0.0, 0.5, 2.0, 2.5]);
/// # Ok::<(), netdsl_core::tokens::TokenError>(())
/// ```
pub struct Embedding<const T: usize, const V: usize, const D: usize, const N: usize> {
    table: Parameter<[[f32; D]; V]>,
    /// Whether id 0 marks padding, masked in the output.
    mask_zero: bool,
}

impl<const T: usize, const V: usize, const D: usize, const N: usize> Embedding<T, V, D, N> {
    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = assert!(
        T >= 1 && D >= 1 && N == T * D,
        "`Embedding`: expected T and D of at least 1, and N = T * D"
    );

    /// A layer with Keras' initial table: `U(-0.05, 0.05)` ([`Initializer::Uniform`]).
    pub fn keras_default<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let () = Self::SHAPES_AGREE;
        let mut table = Parameter::<[[f32; D]; V]>::zeroed();
        Initializer::Uniform.fill(&[V, D], rng, table.make_mut().as_flattened_mut());
        Self {
            table,
            mask_zero: false,
        }
    }

    /// A layer with the given table, row `id` for token `id`.
    pub fn from_table(table: [[f32; D]; V]) -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            table: Parameter::copied(&table),
            mask_zero: false,
        }
    }

    /// The layer with id 0 as padding when `mask_zero` is true (Keras' `mask_zero=True`): its
    /// output carries the mask of the steps whose id is not 0.
    ///
    /// ```
    /// use netdsl_core::layer::Layer;
    /// use netdsl_core::layers::Embedding;
    /// use netdsl_core::tokens::Tokens;
    ///
    /// let embedding = Embedding::<3, 4, 1, 3>::from_table([[0.0], [1.0], [2.0], [3.0]])
    ///     .with_mask_zero(true);
    /// let (mut y, mut mask) = ([0.0; 3], [true; 3]);
    /// assert!(embedding.infer_masked(&Tokens::new([2, 3, 0])?, None, &mut y, &mut mask));
    /// assert_eq!((y, mask), ([2.0, 3.0, 0.0], [true, true, false]));
    /// # Ok::<(), netdsl_core::tokens::TokenError>(())
    /// ```
    pub fn with_mask_zero(mut self, mask_zero: bool) -> Self {
        self.mask_zero = mask_zero;
        self
    }

    /// Whether id 0 is padding.
    pub fn masks_zero(&self) -> bool {
        self.mask_zero
    }

    /// The table, `V` rows of `D`.
    pub fn table(&self) -> &[[f32; D]; V] {
        self.table.get()
    }

    /// The table, mutably.
    pub fn table_mut(&mut self) -> &mut [[f32; D]; V] {
        self.table.make_mut()
    }

    /// Writes each token's row into `y`.
    fn look_up(&self, x: &Tokens<T, V>, y: &mut [f32; N]) {
        let table = self.table();
        for (&id, step) in x.values().iter().zip(y.chunks_exact_mut(D)) {
            match index_of::<V>(id) {
                Some(row) => step.copy_from_slice(&table[row]),
                None => step.fill(f32::NAN),
            }
        }
    }
}

impl<const T: usize, const V: usize, const D: usize, const N: usize> Layer
    for Embedding<T, V, D, N>
{
    type In = Tokens<T, V>;
    type Out = [f32; N];
    type Activation = Linear;
    type Grads = Buffer<[[f32; D]; V]>;
    /// The mask of the batch's ids, with `mask_zero`.
    type Tape<const B: usize> = StepMask<T, B>;

    const KIND: &'static str = "Embedding";

    fn new_tape<const B: usize>(&self) -> StepMask<T, B> {
        StepMask::new()
    }

    fn forward<const B: usize>(
        &self,
        x: &[Tokens<T, V>; B],
        y: &mut [[f32; N]; B],
        mask: &mut StepMask<T, B>,
    ) {
        for (x, y) in x.iter().zip(y.iter_mut()) {
            self.look_up(x, y);
        }
        if self.mask_zero {
            for (x, mask) in x.iter().zip(mask.rows_mut()) {
                mask_of(x, mask);
            }
        }
    }

    fn infer(&self, x: &Tokens<T, V>, y: &mut [f32; N]) {
        self.look_up(x, y);
    }

    fn output_mask<const B: usize>(mask: &StepMask<T, B>) -> Option<&[bool]> {
        mask.flags()
    }

    fn infer_masked(
        &self,
        x: &Tokens<T, V>,
        _mask: Option<&[bool]>,
        y: &mut [f32; N],
        output_mask: &mut [bool],
    ) -> bool {
        self.look_up(x, y);
        let out = output_mask
            .get_mut(..T)
            .and_then(|out| <&mut [bool; T]>::try_from(out).ok());
        match out {
            Some(out) if self.mask_zero => {
                mask_of(x, out);
                true
            }
            _ => false,
        }
    }

    /// `d table[id] = Σ dz` of the steps whose token is `id`.
    fn backward<const B: usize>(
        &self,
        x: &[Tokens<T, V>; B],
        dz: &[[f32; N]; B],
        dx: Option<&mut [Tokens<T, V>; B]>,
        grads: &mut Buffer<[[f32; D]; V]>,
        _: &mut StepMask<T, B>,
    ) {
        grads.as_flattened_mut().fill(0.0);
        for (x, dz) in x.iter().zip(dz) {
            for (&id, dz) in x.values().iter().zip(dz.chunks_exact(D)) {
                if let Some(row) = index_of::<V>(id) {
                    grads[row].iter_mut().zip(dz).for_each(|(g, d)| *g += d);
                }
            }
        }
        if let Some(dx) = dx {
            dx.fill(Tokens::default());
        }
    }

    fn new_grads(&self) -> Buffer<[[f32; D]; V]> {
        Buffer::zeroed()
    }

    fn parameter_count(&self) -> usize {
        V * D
    }

    fn visit_parameters(
        &mut self,
        grads: &mut Buffer<[[f32; D]; V]>,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        visit(
            self.table.make_mut().as_flattened_mut(),
            grads.as_flattened_mut(),
        );
    }

    fn visit_gradients(
        grads: &mut Buffer<[[f32; D]; V]>,
        visit: &mut dyn FnMut(&mut [f32]),
    ) -> bool {
        visit(grads.as_flattened_mut());
        true
    }

    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        visit("embeddings", &[V, D], self.table().as_flattened());
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        visit(
            "embeddings",
            &[V, D],
            self.table.make_mut().as_flattened_mut(),
        );
    }

    /// `Gather` of the table's rows at the ids, cast to integers; with `mask_zero`, an error
    /// (the mask has no ONNX form here). An id outside the table is an error of the runtime,
    /// where netdsl's `predict` gives a step of NaN.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        if self.mask_zero {
            return Err(onnx::Error::UnsupportedLayer {
                kind: "Embedding(mask_zero=True)",
            });
        }
        let x = graph.reshape(x, &[T]);
        let to = vec![onnx::Attribute::int("to", i64::from(onnx::proto::INT64))];
        let ids = graph.node("Cast", &[&x.name], to, vec![T]);
        let table = graph.initializer("embeddings", &[V, D], self.table().as_flattened().to_vec());
        Ok(graph.node("Gather", &[&table, &ids.name], Vec::new(), vec![T, D]))
    }
}

/// Keras' mask of `mask_zero`: a step is data when its id is not 0.
fn mask_of<const T: usize, const V: usize>(x: &Tokens<T, V>, mask: &mut [bool; T]) {
    for (flag, &id) in mask.iter_mut().zip(x.values()) {
        *flag = id != 0.0;
    }
}

impl<const T: usize, const V: usize, const D: usize, const N: usize> Initialize
    for Embedding<T, V, D, N>
{
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::keras_default(rng)
    }
}

impl<const T: usize, const V: usize, const D: usize, const N: usize> Clone
    for Embedding<T, V, D, N>
{
    fn clone(&self) -> Self {
        Self {
            table: self.table.clone(),
            mask_zero: self.mask_zero,
        }
    }
}

impl<const T: usize, const V: usize, const D: usize, const N: usize> fmt::Debug
    for Embedding<T, V, D, N>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Embedding")
            .field("tokens", &T)
            .field("vocabulary", &V)
            .field("features", &D)
            .field("mask_zero", &self.mask_zero)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn layer() -> Embedding<2, 3, 2, 4> {
        Embedding::from_table([[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]])
    }

    #[test]
    fn forward_looks_up_each_token() {
        let x = [Tokens::new([2, 1]).unwrap(), Tokens::new([0, 0]).unwrap()];
        let mut y = [[9.0; 4]; 2];
        layer().forward(&x, &mut y, &mut StepMask::new());
        assert_eq!(y, [[2.0, 2.5, 1.0, 1.5], [0.0, 0.5, 0.0, 0.5]]);
    }

    #[test]
    fn backward_sums_the_gradients_of_each_tokens_steps() {
        let l = layer();
        let x = [Tokens::new([2, 2]).unwrap(), Tokens::new([0, 2]).unwrap()];
        let dz = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.25, -1.0, -2.0]];
        let mut grads = l.new_grads();
        let mut dx = [Tokens::new([1, 1]).unwrap(); 2];
        l.backward(&x, &dz, Some(&mut dx), &mut grads, &mut StepMask::new());
        // Row 2 collects three steps: (1, 2) + (3, 4) + (-1, -2); row 1 none.
        assert_eq!(*grads, [[0.5, 0.25], [0.0, 0.0], [3.0, 4.0]]);
        assert_eq!(dx, [Tokens::default(); 2]);
        // Overwritten, not added.
        l.backward(&x, &dz, None, &mut grads, &mut StepMask::new());
        assert_eq!(*grads, [[0.5, 0.25], [0.0, 0.0], [3.0, 4.0]]);
    }

    #[test]
    fn a_value_that_is_no_id_gives_nan_and_no_gradient() {
        let l = layer();
        // Tokens are plain values: bytes cast to them can hold anything.
        let x: [Tokens<2, 3>; 1] = [bytemuck::cast([1.0_f32, 3.0])];
        let mut y = [[0.0; 4]];
        l.forward(&x, &mut y, &mut StepMask::new());
        assert_eq!(y[0][..2], [1.0, 1.5]);
        assert!(y[0][2..].iter().all(|v| v.is_nan()), "{y:?}");
        let mut grads = l.new_grads();
        l.backward(&x, &[[1.0; 4]], None, &mut grads, &mut StepMask::new());
        assert_eq!(*grads, [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]);
    }

    #[test]
    fn mask_zero_marks_the_steps_of_id_0_as_padding() {
        let x = [Tokens::new([2, 0]).unwrap(), Tokens::new([0, 1]).unwrap()];
        let mut y = [[0.0; 4]; 2];
        let mut mask = StepMask::new();
        layer().forward(&x, &mut y, &mut mask);
        assert_eq!(
            Embedding::<2, 3, 2, 4>::output_mask(&mask),
            None,
            "no mask by default"
        );
        layer().with_mask_zero(true).forward(&x, &mut y, &mut mask);
        let flags = Embedding::<2, 3, 2, 4>::output_mask(&mask);
        assert_eq!(flags, Some(&[true, false, false, true][..]));
        // The padded steps still look up row 0, as Keras' do.
        assert_eq!(y, [[2.0, 2.5, 0.0, 0.5], [0.0, 0.5, 1.0, 1.5]]);
    }

    #[test]
    fn keras_default_draws_within_five_hundredths() {
        let l = Embedding::<4, 100, 8, 32>::keras_default(&mut StdRng::seed_from_u64(3));
        let table = l.table().as_flattened();
        assert!(table.iter().all(|v| v.abs() <= 0.05), "{table:?}");
        assert!(table.iter().any(|v| v.abs() > 0.04));
        let mut names = Vec::new();
        l.visit_tensors(&mut |name, shape, _| names.push((name.to_owned(), shape.to_vec())));
        assert_eq!(names, [("embeddings".to_owned(), vec![100, 8])]);
    }
}
