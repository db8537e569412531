//! Fully connected layer.

use core::fmt;
use core::marker::PhantomData;

#[cfg(feature = "alloc")]
use rand::Rng;

use super::parameter::Parameter;
use crate::activation::{Activation, Keep, Kept};
use crate::buffer::Buffer;
#[cfg(feature = "alloc")]
use crate::init::Initializer;
use crate::kernels::{self, Isa, Precision};
use crate::layer::{Layer, TensorVisitor, TensorVisitorMut};
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::regularizer::Regularizers;

/// Fully connected layer: `y = f(x · W + b)`.
///
/// Backward, from `dz = dL/dz`: `dW = xᵀ · dz`, `db = Σ_batch dz`, `dx = dz · Wᵀ`.
///
/// `I` inputs, `O` outputs, activation `A`. Weights are stored input-major, `W[i][o]`, so the
/// batch loops run along contiguous output rows. This is Keras' `(in, out)` kernel layout;
/// PyTorch's `nn.Linear.weight` is `(out, in)` and must be transposed when imported. The
/// parameters live on the heap or in `static`s ([`Dense::from_static`]), so a
/// `Dense<784, 64, Relu>` is four words on the stack.
///
/// Its [`Layer::Tape`], a [`DenseTape`], holds what the activation keeps for the backward pass
/// ([`Kept`]): nothing for most activations, a buffer of the batch's pre-activations for those
/// whose derivative reads them (`Silu`, `Gelu`, ...); and the precision of its products
/// ([`Layer::set_precision`]).
///
/// ```
/// use netdsl_core::activation::Relu;
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::Dense;
///
/// let layer = Dense::<2, 3, Relu>::from_parameters(
///     [[1.0, 0.0, -1.0], [0.5, 2.0, 3.0]],
///     Some([0.25, 0.0, 1.0]),
/// );
/// let mut y = [[0.0; 3]; 1];
/// layer.forward(&[[1.0, -2.0]], &mut y, &mut layer.new_tape());
/// assert_eq!(y, [[0.25, 0.0, 0.0]]); // relu(0.25, -4, -6)
/// ```
pub struct Dense<const I: usize, const O: usize, A> {
    weights: Parameter<[[f32; O]; I]>,
    bias: Option<Parameter<[f32; O]>>,
    regularizers: Regularizers,
    activation: PhantomData<A>,
}

/// The tape of a [`Dense`] layer: what its activation keeps of a batch, and the precision of
/// its products.
pub struct DenseTape<A: Activation, const O: usize, const B: usize> {
    kept: Kept<A, [f32; O], B>,
    precision: Precision,
}

/// Parameter gradients of a [`Dense`] layer, shaped like its parameters.
pub struct DenseGrads<const I: usize, const O: usize> {
    pub(super) weights: Buffer<[[f32; O]; I]>,
    pub(super) bias: Option<Buffer<[f32; O]>>,
}

impl<const I: usize, const O: usize, A> Dense<I, O, A> {
    /// Glorot-uniform weights (Keras' default): `W ~ U(-l, l)`, `l = √(6 / (I + O))`, and a
    /// zero bias when `bias` is true.
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn glorot_uniform<R: Rng + ?Sized>(rng: &mut R, bias: bool) -> Self {
        Self::initialized(
            rng,
            Initializer::GlorotUniform,
            bias.then_some(Initializer::Zeros),
        )
    }

    /// Weights drawn by `kernel` (shape `[I, O]`), then a bias drawn by `bias` (shape `[O]`)
    /// when given: Keras' `kernel_initializer` and `bias_initializer`. With Glorot-uniform and
    /// zeros, the layer [`Dense::glorot_uniform`] makes, from the same draws.
    ///
    /// ```
    /// use netdsl_core::activation::Linear;
    /// use netdsl_core::init::Initializer;
    /// use netdsl_core::layers::Dense;
    /// use rand::SeedableRng;
    /// use rand::rngs::StdRng;
    ///
    /// let rng = &mut StdRng::seed_from_u64(0);
    /// let layer = Dense::<4, 2, Linear>::initialized(rng, Initializer::HeNormal, Some(Initializer::Ones));
    /// assert_eq!(layer.bias(), Some(&[1.0, 1.0]));
    /// ```
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn initialized<R: Rng + ?Sized>(
        rng: &mut R,
        kernel: Initializer,
        bias: Option<Initializer>,
    ) -> Self {
        crate::kernels::Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        let mut weights = Parameter::<[[f32; O]; I]>::zeroed();
        kernel.fill(&[I, O], rng, weights.make_mut().as_flattened_mut());
        let bias = bias.map(|init| {
            let mut bias = Parameter::<[f32; O]>::zeroed();
            init.fill(&[O], rng, bias.make_mut());
            bias
        });
        Self {
            weights,
            bias,
            regularizers: Regularizers::NONE,
            activation: PhantomData,
        }
    }

    /// The layer, its weights penalized by `regularizers` (`kernel` and `bias`; a dense layer
    /// has no recurrent kernel, and ignores that one): Keras' `kernel_regularizer` and
    /// `bias_regularizer`. See [`crate::regularizer`].
    pub const fn with_regularizers(mut self, regularizers: Regularizers) -> Self {
        self.regularizers = regularizers;
        self
    }

    /// The regularizers of its weights ([`Regularizers::NONE`] unless set).
    pub const fn regularizers(&self) -> &Regularizers {
        &self.regularizers
    }

    /// A layer with the given weights (`W[i][o]`, Keras' layout) and optional bias.
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn from_parameters(weights: [[f32; O]; I], bias: Option<[f32; O]>) -> Self {
        crate::kernels::Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        Self {
            weights: Parameter::copied(&weights),
            bias: bias.as_ref().map(Parameter::copied),
            regularizers: Regularizers::NONE,
            activation: PhantomData,
        }
    }

    /// A layer whose weights and bias are `static`s, borrowed rather than copied: how a
    /// program carries a trained network in its binary (in a microcontroller's flash), with no
    /// heap. A `const fn`, so a whole network can be a `static` too.
    ///
    /// With the `alloc` feature the layer can still be trained or loaded into: its first change
    /// copies the parameters to the heap. Without it they cannot change:
    /// [`Layer::visit_parameters`] and [`Layer::visit_tensors_mut`] skip them.
    ///
    /// ```
    /// use netdsl_core::activation::Relu;
    /// use netdsl_core::layer::Layer;
    /// use netdsl_core::layers::Dense;
    ///
    /// static WEIGHTS: [[f32; 3]; 2] = [[1.0, 0.0, -1.0], [0.5, 2.0, 3.0]];
    /// static BIAS: [f32; 3] = [0.25, 0.0, 1.0];
    /// static LAYER: Dense<2, 3, Relu> = Dense::from_static(&WEIGHTS, Some(&BIAS));
    ///
    /// let mut y = [0.0; 3];
    /// LAYER.infer(&[1.0, -2.0], &mut y);
    /// assert_eq!(y, [0.25, 0.0, 0.0]);
    /// ```
    pub const fn from_static(
        weights: &'static [[f32; O]; I],
        bias: Option<&'static [f32; O]>,
    ) -> Self {
        Self {
            weights: Parameter::from_static(weights),
            bias: match bias {
                Some(bias) => Some(Parameter::from_static(bias)),
                None => None,
            },
            regularizers: Regularizers::NONE,
            activation: PhantomData,
        }
    }

    /// One row through [`kernels::mat_vec_interleaved`] and the activation: a streaming step,
    /// and the single-row inference of a narrow layer ([`kernels::splits`]), to the bit alike.
    pub(crate) fn infer_row(&self, x: &[f32; I], y: &mut [f32; O])
    where
        A: Activation,
    {
        let (w, bias) = (self.weights().as_flattened(), self.bias().map(|b| &b[..]));
        kernels::mat_vec_interleaved(Isa::selected(), x, w, bias, y);
        A::apply(y);
    }

    /// The weights, `W[i][o]`.
    pub fn weights(&self) -> &[[f32; O]; I] {
        self.weights.get()
    }

    /// The weights, mutably (copied to the heap first if they were [`Dense::from_static`]).
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn weights_mut(&mut self) -> &mut [[f32; O]; I] {
        self.weights.make_mut()
    }

    /// The bias, if the layer has one.
    pub fn bias(&self) -> Option<&[f32; O]> {
        self.bias.as_ref().map(Parameter::get)
    }

    /// The bias, mutably, if the layer has one (copied to the heap first if it was
    /// [`Dense::from_static`]).
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn bias_mut(&mut self) -> Option<&mut [f32; O]> {
        self.bias.as_mut().map(Parameter::make_mut)
    }
}

impl<const I: usize, const O: usize> DenseGrads<I, O> {
    /// `dL/dW`, shaped like the weights.
    pub fn weights(&self) -> &[[f32; O]; I] {
        &self.weights
    }

    /// `dL/db`, if the layer has a bias.
    pub fn bias(&self) -> Option<&[f32; O]> {
        self.bias.as_deref()
    }
}

impl<const I: usize, const O: usize, A: Activation> Layer for Dense<I, O, A> {
    type In = [f32; I];
    type Out = [f32; O];
    type Activation = A;
    type Grads = DenseGrads<I, O>;
    type Tape<const B: usize> = DenseTape<A, O, B>;

    const KIND: &'static str = "Dense";

    fn new_tape<const B: usize>(&self) -> DenseTape<A, O, B> {
        DenseTape {
            kept: A::Keeps::new_batch(),
            precision: Precision::F32,
        }
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; I]; B],
        y: &mut [[f32; O]; B],
        tape: &mut DenseTape<A, O, B>,
    ) {
        kernels::affine_in(tape.precision, x, self.weights(), self.bias(), y);
        A::apply_batch(y, &mut tape.kept);
    }

    /// The batch path on one row, keeping nothing; or, for a narrow output (at most 8) over 16
    /// inputs or more, four interleaved sums, which streaming takes too: one chain of
    /// dependent multiply-adds would be slow.
    fn infer(&self, x: &[f32; I], y: &mut [f32; O]) {
        if kernels::splits(O, I) {
            self.infer_row(x, y);
            return;
        }
        kernels::affine(
            core::array::from_ref(x),
            self.weights(),
            self.bias(),
            core::array::from_mut(y),
        );
        A::apply(y);
    }

    fn kept<const B: usize>(tape: &DenseTape<A, O, B>) -> &Kept<A, [f32; O], B> {
        &tape.kept
    }

    fn set_precision<const B: usize>(&self, tape: &mut DenseTape<A, O, B>, precision: Precision) {
        tape.precision = precision.prepared();
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; I]; B],
        dz: &[[f32; O]; B],
        dx: Option<&mut [[f32; I]; B]>,
        grads: &mut DenseGrads<I, O>,
        tape: &mut DenseTape<A, O, B>,
    ) {
        kernels::weight_gradient_in(tape.precision, x, dz, &mut grads.weights);
        if let Some(db) = grads.bias.as_deref_mut() {
            kernels::bias_gradient(dz, db);
        }
        if let Some(dx) = dx {
            kernels::input_gradient_in(tape.precision, dz, self.weights(), dx);
        }
    }

    fn regularization(&self) -> f64 {
        let kernel = self
            .regularizers
            .kernel
            .penalty(self.weights().as_flattened());
        kernel
            + self
                .bias()
                .map_or(0.0, |b| self.regularizers.bias.penalty(b))
    }

    fn regularize(&self, grads: &mut DenseGrads<I, O>, scale: f32) -> f64 {
        let Regularizers { kernel, bias, .. } = self.regularizers;
        let dw = grads.weights.as_flattened_mut();
        let mut penalty = kernel.add_gradient(self.weights().as_flattened(), scale, dw);
        if let (Some(b), Some(db)) = (self.bias(), grads.bias.as_deref_mut()) {
            penalty += bias.add_gradient(b, scale, db);
        }
        penalty
    }

    fn new_grads(&self) -> DenseGrads<I, O> {
        DenseGrads {
            weights: Buffer::zeroed(),
            bias: self.bias.is_some().then(Buffer::zeroed),
        }
    }

    fn parameter_count(&self) -> usize {
        I * O + if self.bias.is_some() { O } else { 0 }
    }

    fn visit_parameters(
        &mut self,
        grads: &mut DenseGrads<I, O>,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        if let Some(w) = self.weights.get_mut() {
            visit(w.as_flattened_mut(), grads.weights.as_flattened_mut());
        }
        let bias = self.bias.as_mut().and_then(Parameter::get_mut);
        if let (Some(b), Some(db)) = (bias, grads.bias.as_deref_mut()) {
            visit(b, db);
        }
    }

    fn visit_gradients(grads: &mut DenseGrads<I, O>, visit: &mut dyn FnMut(&mut [f32])) -> bool {
        visit(grads.weights.as_flattened_mut());
        if let Some(db) = grads.bias.as_deref_mut() {
            visit(db);
        }
        true
    }

    /// `kernel` of shape `[I, O]` and `bias` of shape `[O]`, as in Keras.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        visit("kernel", &[I, O], self.weights().as_flattened());
        if let Some(b) = self.bias() {
            visit("bias", &[O], b);
        }
    }

    /// `Gemm(x, kernel, bias)` then the activation.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = graph.reshape(x, &[I]);
        let kernel = graph.initializer("kernel", &[I, O], self.weights().as_flattened().to_vec());
        let bias = self
            .bias()
            .map(|b| graph.initializer("bias", &[O], b.to_vec()));
        let inputs: Vec<&str> = [Some(x.name.as_str()), Some(&kernel), bias.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let z = graph.node("Gemm", &inputs, Vec::new(), vec![O]);
        graph.activation(A::NAME, z)
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        if let Some(w) = self.weights.get_mut() {
            visit("kernel", &[I, O], w.as_flattened_mut());
        }
        if let Some(b) = self.bias.as_mut().and_then(Parameter::get_mut) {
            visit("bias", &[O], b);
        }
    }
}

impl<const I: usize, const O: usize, A> Clone for Dense<I, O, A> {
    /// Owned parameters are copied; `static` ones stay borrowed.
    fn clone(&self) -> Self {
        Self {
            weights: self.weights.clone(),
            bias: self.bias.clone(),
            regularizers: self.regularizers,
            activation: PhantomData,
        }
    }
}

impl<const I: usize, const O: usize, A: Activation> fmt::Debug for Dense<I, O, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dense")
            .field("inputs", &I)
            .field("outputs", &O)
            .field("activation", &A::NAME)
            .field("bias", &self.bias.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::activation::{Linear, Sigmoid};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn layer() -> Dense<2, 3, Linear> {
        Dense::from_parameters([[1.0, 0.0, -1.0], [0.5, 2.0, 3.0]], Some([0.25, 0.0, 1.0]))
    }

    #[test]
    fn forward_of_literal_values() {
        let mut y = [[0.0; 3]; 2];
        layer().forward(&[[1.0, 2.0], [0.0, -1.0]], &mut y, &mut layer().new_tape());
        assert_eq!(y, [[2.25, 4.0, 6.0], [-0.25, -2.0, -2.0]]);
    }

    #[test]
    fn backward_of_literal_values() {
        let l = layer();
        let x = [[1.0, 2.0], [0.0, -1.0]];
        let dz = [[1.0, 0.0, 2.0], [0.5, -1.0, 0.0]];
        let mut dx = [[9.0; 2]; 2];
        let mut grads = l.new_grads();
        l.backward(&x, &dz, Some(&mut dx), &mut grads, &mut l.new_tape());
        // dW = xᵀ dz: row 0 = 1·dz0 + 0·dz1, row 1 = 2·dz0 - 1·dz1
        assert_eq!(grads.weights(), &[[1.0, 0.0, 2.0], [1.5, 1.0, 4.0]]);
        assert_eq!(grads.bias(), Some(&[1.5, -1.0, 2.0]));
        // dx = dz Wᵀ: sample 0 = (1 - 2, 0.5 + 6), sample 1 = (0.5, 0.25 - 2)
        assert_eq!(dx, [[-1.0, 6.5], [0.5, -1.75]]);
    }

    static WEIGHTS: [[f32; 3]; 2] = [[1.0, 0.0, -1.0], [0.5, 2.0, 3.0]];
    static BIAS: [f32; 3] = [0.25, 0.0, 1.0];

    #[test]
    fn a_layer_of_statics_computes_like_an_owned_one_and_is_copied_when_changed() {
        let mut borrowed = Dense::<2, 3, Linear>::from_static(&WEIGHTS, Some(&BIAS));
        let (mut a, mut b) = ([[0.0; 3]; 2], [[0.0; 3]; 2]);
        let x = [[1.0, 2.0], [0.0, -1.0]];
        borrowed.forward(&x, &mut a, &mut borrowed.new_tape());
        layer().forward(&x, &mut b, &mut layer().new_tape());
        assert_eq!(a, b);
        assert!(core::ptr::eq(borrowed.weights(), &WEIGHTS));

        // An optimizer's step through `visit_parameters`: the statics stay as they are.
        let mut grads = borrowed.new_grads();
        borrowed.backward(
            &x,
            &[[1.0; 3]; 2],
            None,
            &mut grads,
            &mut borrowed.new_tape(),
        );
        borrowed.visit_parameters(&mut grads, &mut |w, g| {
            w.iter_mut().zip(g.iter()).for_each(|(w, g)| *w -= g);
        });
        assert_eq!(borrowed.weights(), &[[0.0, -1.0, -2.0], [-0.5, 1.0, 2.0]]);
        assert_eq!(borrowed.bias(), Some(&[-1.75, -2.0, -1.0]));
        assert_eq!(WEIGHTS, [[1.0, 0.0, -1.0], [0.5, 2.0, 3.0]]);
        assert_eq!(BIAS, [0.25, 0.0, 1.0]);
    }

    #[test]
    fn backward_overwrites_previous_gradients() {
        let l = layer();
        let mut grads = l.new_grads();
        let x = [[1.0, 2.0]];
        let dz = [[1.0, 1.0, 1.0]];
        l.backward(&x, &dz, None, &mut grads, &mut l.new_tape());
        l.backward(&x, &dz, None, &mut grads, &mut l.new_tape());
        assert_eq!(grads.weights(), &[[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]);
    }

    #[test]
    fn glorot_uniform_stays_within_its_limit_and_zeroes_the_bias() {
        let mut rng = StdRng::seed_from_u64(1);
        let l = Dense::<784, 64, Sigmoid>::glorot_uniform(&mut rng, true);
        let limit = (6.0_f32 / (784.0 + 64.0)).sqrt();
        let w = l.weights().as_flattened();
        assert!(w.iter().all(|v| v.abs() <= limit));
        let mean = w.iter().sum::<f32>() / w.len() as f32;
        let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / w.len() as f32;
        // U(-l, l) has variance l²/3.
        let expected = limit * limit / 3.0;
        assert!(
            (var - expected).abs() < 0.02 * expected,
            "variance {var}, expected {expected}"
        );
        assert_eq!(l.bias(), Some(&[0.0; 64]));
        assert_eq!(l.parameter_count(), 784 * 64 + 64);
        let no_bias = Dense::<784, 64, Sigmoid>::glorot_uniform(&mut rng, false);
        assert_eq!(no_bias.parameter_count(), 784 * 64);
    }

    #[test]
    fn dense_backward_matches_finite_differences() {
        // L = Σ_b,o c[b][o] · y[b][o] with a sigmoid layer, so dL/dy = c.
        let mut rng = StdRng::seed_from_u64(3);
        let mut l = Dense::<3, 4, Sigmoid>::glorot_uniform(&mut rng, true);
        l.bias_mut()
            .unwrap()
            .copy_from_slice(&[0.1, -0.2, 0.3, 0.05]);
        let x = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]];
        let c = [[1.0, -2.0, 0.5, 1.5], [0.3, 0.7, -1.1, 2.0]];
        let objective = |l: &Dense<3, 4, Sigmoid>, x: &[[f32; 3]; 2]| -> f64 {
            let mut y = [[0.0; 4]; 2];
            l.forward(x, &mut y, &mut l.new_tape());
            y.as_flattened()
                .iter()
                .zip(c.as_flattened())
                .map(|(y, c)| f64::from(y * c))
                .sum()
        };
        let mut y = [[0.0; 4]; 2];
        l.forward(&x, &mut y, &mut l.new_tape());
        let mut dz = c;
        Sigmoid::backprop_batch(&y, &(), &mut dz);
        let mut dx = [[0.0; 3]; 2];
        let mut grads = l.new_grads();
        l.backward(&x, &dz, Some(&mut dx), &mut grads, &mut l.new_tape());

        let eps = 1e-2;
        let check = |analytic: f32, plus: f64, minus: f64, what: &str| {
            let numeric = ((plus - minus) / (2.0 * eps as f64)) as f32;
            let rel = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1e-2);
            assert!(
                rel <= 1e-3,
                "{what}: analytic {analytic}, numeric {numeric}, relative error {rel}"
            );
        };
        for i in 0..3 {
            for o in 0..4 {
                let mut p = l.clone();
                p.weights_mut()[i][o] += eps;
                let mut m = l.clone();
                m.weights_mut()[i][o] -= eps;
                check(
                    grads.weights()[i][o],
                    objective(&p, &x),
                    objective(&m, &x),
                    &format!("dW[{i}][{o}]"),
                );
            }
        }
        for o in 0..4 {
            let mut p = l.clone();
            p.bias_mut().unwrap()[o] += eps;
            let mut m = l.clone();
            m.bias_mut().unwrap()[o] -= eps;
            check(
                grads.bias().unwrap()[o],
                objective(&p, &x),
                objective(&m, &x),
                &format!("db[{o}]"),
            );
        }
        for b in 0..2 {
            for i in 0..3 {
                let (mut xp, mut xm) = (x, x);
                xp[b][i] += eps;
                xm[b][i] -= eps;
                check(
                    dx[b][i],
                    objective(&l, &xp),
                    objective(&l, &xm),
                    &format!("dx[{b}][{i}]"),
                );
            }
        }
    }
}
