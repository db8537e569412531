//! Dense on a sequence: one fully connected layer applied to every step, as Keras' `Dense` acts
//! on the last axis of a `(steps, features)` input.

use core::fmt;

use rand::Rng;

use super::dense::{Dense, DenseGrads};
use crate::activation::{Activation, Keep, Kept};
use crate::init::Initializer;
use crate::kernels::{self, Isa};
use crate::layer::{Initialize, Layer, TensorVisitor, TensorVisitorMut};
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::regularizer::Regularizers;

/// `Dense<F, U, A>` on each of the `T` steps of a sequence of `F` features (`IN = T · F`),
/// giving `T` steps of `U` (`OUT = T · U`): Keras' `Dense(U)` on a `(T, F)` input, its kernel
/// `[F, U]` shared by the steps. Every step of a batch is one row of the same product.
///
/// The activation applies to each value on its own, so it must not be one that mixes a row's
/// values: `network!` refuses softmax here, which Keras would take over each step.
///
/// ```
/// use netdsl_core::activation::Linear;
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::{Dense, DenseSteps};
///
/// // Two steps of two features, each summed and doubled.
/// let dense = Dense::<2, 2, Linear>::from_parameters([[1.0, 2.0], [1.0, 2.0]], None);
/// let steps = DenseSteps::<2, 2, 2, 4, 4, Linear>::new(dense);
/// let mut y = [0.0; 4];
/// steps.infer(&[1.0, 2.0, 3.0, 4.0], &mut y);
/// assert_eq!(y, [3.0, 6.0, 7.0, 14.0]);
/// ```
pub struct DenseSteps<
    const T: usize,
    const F: usize,
    const U: usize,
    const IN: usize,
    const OUT: usize,
    A,
> {
    dense: Dense<F, U, A>,
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize, A>
    DenseSteps<T, F, U, IN, OUT, A>
{
    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = assert!(
        T >= 1 && IN == T * F && OUT == T * U,
        "`DenseSteps`: expected T of at least 1, IN = T * F and OUT = T * U"
    );

    /// `dense` applied to every step.
    pub fn new(dense: Dense<F, U, A>) -> Self {
        let () = Self::SHAPES_AGREE;
        Self { dense }
    }

    /// Keras' initial kernel (Glorot-uniform over `[F, U]`) and a zero bias when `bias` is
    /// true.
    pub fn glorot_uniform<R: Rng + ?Sized>(rng: &mut R, bias: bool) -> Self {
        Self::new(Dense::glorot_uniform(rng, bias))
    }

    /// The kernel (`[F, U]`) drawn by `kernel`, then the bias (`[U]`) by `bias` when given, as
    /// [`Dense::initialized`].
    pub fn initialized<R: Rng + ?Sized>(
        rng: &mut R,
        kernel: Initializer,
        bias: Option<Initializer>,
    ) -> Self {
        Self::new(Dense::initialized(rng, kernel, bias))
    }

    /// The layer, its weights penalized by `regularizers`, as [`Dense::with_regularizers`].
    pub fn with_regularizers(self, regularizers: Regularizers) -> Self {
        Self::new(self.dense.with_regularizers(regularizers))
    }

    /// The layer applied to each step.
    pub fn dense(&self) -> &Dense<F, U, A> {
        &self.dense
    }

    /// `[[f32; N]; B]` as its `B · N / W` rows of `W`: a batch of sequences as its steps.
    fn steps<const N: usize, const W: usize>(rows: &[[f32; N]]) -> &[[f32; W]] {
        bytemuck::cast_slice(rows)
    }

    /// [`DenseSteps::steps`], mutably.
    fn steps_mut<const N: usize, const W: usize>(rows: &mut [[f32; N]]) -> &mut [[f32; W]] {
        bytemuck::cast_slice_mut(rows)
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize, A> Layer
    for DenseSteps<T, F, U, IN, OUT, A>
where
    A: Activation,
{
    type In = [f32; IN];
    type Out = [f32; OUT];
    type Activation = A;
    type Grads = DenseGrads<F, U>;
    type Tape<const B: usize> = Kept<A, [f32; OUT], B>;

    const KIND: &'static str = "Dense";

    fn new_tape<const B: usize>(&self) -> Kept<A, [f32; OUT], B> {
        A::Keeps::new_batch()
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        y: &mut [[f32; OUT]; B],
        kept: &mut Kept<A, [f32; OUT], B>,
    ) {
        let (w, bias) = (self.dense.weights(), self.dense.bias());
        kernels::affine_rows(Isa::selected(), Self::steps(x), w, bias, Self::steps_mut(y));
        A::apply_batch(y, kept);
    }

    /// All steps in one product; or, for a narrow output over many features, each step as
    /// [`Dense`]'s single-row inference takes it (at most 8 outputs over 16 features or more), as streaming does.
    fn infer(&self, x: &[f32; IN], y: &mut [f32; OUT]) {
        if kernels::splits(U, F) {
            let (x, y) = (core::array::from_ref(x), core::array::from_mut(y));
            for (x, y) in Self::steps::<IN, F>(x)
                .iter()
                .zip(Self::steps_mut::<OUT, U>(y))
            {
                self.dense.infer_row(x, y);
            }
            return;
        }
        let (x, y) = (core::array::from_ref(x), core::array::from_mut(y));
        let (w, bias) = (self.dense.weights(), self.dense.bias());
        kernels::affine_rows(Isa::selected(), Self::steps(x), w, bias, Self::steps_mut(y));
        A::apply(&mut y[0]);
    }

    fn kept<const B: usize>(kept: &Kept<A, [f32; OUT], B>) -> &Kept<A, [f32; OUT], B> {
        kept
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        dz: &[[f32; OUT]; B],
        dx: Option<&mut [[f32; IN]; B]>,
        grads: &mut DenseGrads<F, U>,
        _kept: &mut Kept<A, [f32; OUT], B>,
    ) {
        let isa = Isa::selected();
        let (x_steps, dz_steps) = (Self::steps::<IN, F>(x), Self::steps::<OUT, U>(dz));
        kernels::weight_gradient_rows(isa, x_steps, dz_steps, &mut grads.weights);
        if let Some(db) = grads.bias.as_deref_mut() {
            kernels::column_sums(isa, dz.as_flattened(), U, db);
        }
        if let Some(dx) = dx {
            let w = self.dense.weights();
            kernels::input_gradient_rows(isa, dz_steps, w, Self::steps_mut(dx));
        }
    }

    fn regularization(&self) -> f64 {
        self.dense.regularization()
    }

    fn regularize(&self, grads: &mut DenseGrads<F, U>, scale: f32) -> f64 {
        self.dense.regularize(grads, scale)
    }

    fn new_grads(&self) -> DenseGrads<F, U> {
        self.dense.new_grads()
    }

    fn parameter_count(&self) -> usize {
        self.dense.parameter_count()
    }

    fn visit_parameters(
        &mut self,
        grads: &mut DenseGrads<F, U>,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        self.dense.visit_parameters(grads, visit);
    }

    fn visit_gradients(grads: &mut DenseGrads<F, U>, visit: &mut dyn FnMut(&mut [f32])) -> bool {
        Dense::<F, U, A>::visit_gradients(grads, visit)
    }

    /// Keras' `kernel` `[F, U]` and `bias` `[U]`, as for [`Dense`].
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        self.dense.visit_tensors(visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        self.dense.visit_tensors_mut(visit);
    }

    /// `MatMul` of each step by the kernel, the bias added, then the activation.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = graph.reshape(x, &[T, F]);
        let kernel = self.dense.weights().as_flattened().to_vec();
        let kernel = graph.initializer("kernel", &[F, U], kernel);
        let mut z = graph.node("MatMul", &[&x.name, &kernel], Vec::new(), vec![T, U]);
        if let Some(bias) = self.dense.bias() {
            let bias = graph.initializer("bias", &[U], bias.to_vec());
            z = graph.node("Add", &[&z.name, &bias], Vec::new(), vec![T, U]);
        }
        graph.activation(A::NAME, z)
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize, A>
    Initialize for DenseSteps<T, F, U, IN, OUT, A>
{
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::glorot_uniform(rng, true)
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize, A> Clone
    for DenseSteps<T, F, U, IN, OUT, A>
{
    fn clone(&self) -> Self {
        Self {
            dense: self.dense.clone(),
        }
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize, A>
    fmt::Debug for DenseSteps<T, F, U, IN, OUT, A>
where
    A: Activation,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DenseSteps")
            .field("steps", &T)
            .field("dense", &self.dense)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Linear, Tanh};
    use crate::layers::gradcheck::{check_gradients, seeded, values};

    fn layer() -> DenseSteps<2, 2, 3, 4, 6, Linear> {
        DenseSteps::new(Dense::from_parameters(
            [[1.0, 0.0, -1.0], [0.5, 2.0, 3.0]],
            Some([0.25, 0.0, 1.0]),
        ))
    }

    #[test]
    fn each_step_goes_through_the_same_dense_layer() {
        let mut y = [[0.0; 6]; 2];
        let x = [[1.0, 2.0, 0.0, -1.0], [0.0, 0.0, 1.0, 1.0]];
        layer().forward(&x, &mut y, &mut ());
        assert_eq!(
            y,
            [
                [2.25, 4.0, 6.0, -0.25, -2.0, -2.0],
                [0.25, 0.0, 1.0, 1.75, 2.0, 3.0]
            ]
        );
        let mut one = [0.0; 6];
        layer().infer(&x[0], &mut one);
        assert_eq!(one, y[0]);
    }

    #[test]
    fn backward_sums_the_steps_of_every_sample() {
        let l = layer();
        let x = [[1.0, 2.0, 0.0, -1.0]];
        let dz = [[1.0, 0.0, 2.0, 0.5, -1.0, 0.0]];
        let mut dx = [[9.0; 4]];
        let mut grads = l.new_grads();
        l.backward(&x, &dz, Some(&mut dx), &mut grads, &mut ());
        // dW = Σ_t x_tᵀ dz_t: (1, 2)ᵀ (1, 0, 2) + (0, -1)ᵀ (0.5, -1, 0).
        assert_eq!(grads.weights(), &[[1.0, 0.0, 2.0], [1.5, 1.0, 4.0]]);
        assert_eq!(grads.bias(), Some(&[1.5, -1.0, 2.0]));
        // dx_t = dz_t Wᵀ.
        assert_eq!(dx, [[-1.0, 6.5, 0.5, -1.75]]);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let mut l = DenseSteps::<3, 2, 4, 6, 12, Tanh>::glorot_uniform(&mut seeded(3), true);
        let c = values::<[f32; 12], 2>(1);
        // Tanh keeps its outputs, which the network holds: the tape is empty.
        check_gradients(&mut l, &values(2), &c, &mut ());
    }
}
