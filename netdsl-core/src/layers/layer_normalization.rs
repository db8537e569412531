//! Layer normalization: each sample's values along the last axis normalized by their own
//! statistics, the same way in training and inference.

use core::fmt;
use core::marker::PhantomData;

#[cfg(feature = "alloc")]
use rand::Rng;

use super::normalization::{Affine, NormalizationGrads, inverse_std};
use crate::activation::{Activation, Keep, Kept, Linear};
#[cfg(feature = "alloc")]
use crate::layer::Initialize;
use crate::layer::{Layer, TensorVisitor, TensorVisitorMut};
#[cfg(feature = "onnx")]
use crate::onnx;

/// Layer normalization (Keras' `LayerNormalization`): `y = f(γ · (x - μ) / √(σ² + ε) + β)`,
/// `μ` and `σ²` the mean and biased variance of each group of `C` values along the last axis.
///
/// Backward, from `dz = dL/dz`, per group with `x̂ = (x - μ) / √(σ² + ε)` and `g = γ · dz`:
/// `dβ = Σ dz`, `dγ = Σ dz · x̂` (over every group of the batch), and
/// `dx = (g - mean(g) - x̂ · mean(g · x̂)) / √(σ² + ε)`.
///
/// A row of `N` values is `N / C` groups of `C`, the last axis (element `(p, c)` at
/// `p · C + c`): a vector's `C = N` values, the channels of each pixel of an image, the
/// features of each step of a sequence, as Keras' `LayerNormalization(axis=-1)` normalizes
/// them. Each sample is normalized on its own, so training and inference are the same and
/// the layer keeps no state besides `γ` (`gamma`) and `β` (`beta`), one per value of the group
/// and trainable; either can be left out ([`LayerNormalization::scale`],
/// [`LayerNormalization::center`]). Keras' default `epsilon`: 0.001.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::LayerNormalization;
///
/// // One sample of two groups of two values; ε = 12 makes the arithmetic exact.
/// let norm = LayerNormalization::<4, 2>::new().epsilon(12.0);
/// let mut y = [0.0; 4];
/// norm.infer(&[0.0, 4.0, 5.0, 5.0], &mut y);
/// // (0, 4): mean 2, variance 4, so x̂ = (x - 2) / √(4 + 12); (5, 5) has no spread.
/// assert_eq!(y, [-0.5, 0.5, 0.0, 0.0]);
/// ```
pub struct LayerNormalization<const N: usize, const C: usize, A = Linear> {
    affine: Affine<C>,
    epsilon: f32,
    activation: PhantomData<A>,
}

impl<const N: usize, const C: usize, A> LayerNormalization<N, C, A> {
    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = assert!(
        C >= 1 && N >= C && N.is_multiple_of(C),
        "`LayerNormalization`: expected rows of N values in groups of C, N a multiple of C"
    );

    /// Keras' defaults: `γ = 1`, `β = 0` and `epsilon` 0.001.
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            affine: Affine::new(),
            epsilon: 1e-3,
            activation: PhantomData,
        }
    }

    /// A layer whose `γ` and `β` (either may be left out) are `static`s, borrowed rather than
    /// copied, as [`Dense::from_static`](super::Dense::from_static). With Keras' `epsilon`;
    /// set another with [`LayerNormalization::epsilon`], also a `const fn`.
    pub const fn from_static(
        gamma: Option<&'static [f32; C]>,
        beta: Option<&'static [f32; C]>,
    ) -> Self {
        let () = Self::SHAPES_AGREE;
        Self {
            affine: Affine::from_static(gamma, beta),
            epsilon: 1e-3,
            activation: PhantomData,
        }
    }

    /// With `epsilon` added to the variance before its square root.
    ///
    /// # Panics
    ///
    /// If `epsilon` is not a finite value above 0.
    pub const fn epsilon(mut self, epsilon: f32) -> Self {
        assert!(
            epsilon > 0.0 && epsilon.is_finite(),
            "`LayerNormalization` epsilon: expected a finite value above 0"
        );
        self.epsilon = epsilon;
        self
    }

    /// With `β` (at 0), Keras' `center=True`, or without it.
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn center(mut self, center: bool) -> Self {
        self.affine.set_center(center);
        self
    }

    /// With `γ` (at 1), Keras' `scale=True`, or without it.
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn scale(mut self, scale: bool) -> Self {
        self.affine.set_scale(scale);
        self
    }

    /// `γ`, if the layer scales.
    pub fn gamma(&self) -> Option<&[f32; C]> {
        self.affine.gamma()
    }

    /// `β`, if the layer centers.
    pub fn beta(&self) -> Option<&[f32; C]> {
        self.affine.beta()
    }

    /// `γ`, mutably (copied to the heap first if it was a `static`).
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn gamma_mut(&mut self) -> Option<&mut [f32; C]> {
        self.affine.gamma_mut()
    }

    /// `β`, mutably (copied to the heap first if it was a `static`).
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn beta_mut(&mut self) -> Option<&mut [f32; C]> {
        self.affine.beta_mut()
    }

    /// `μ` and `1 / √(σ² + ε)` of one group of `C` values, worked out in `f64`.
    #[inline]
    fn statistics(&self, group: &[f32]) -> (f32, f32) {
        let count = C as f64;
        let mean = group.iter().map(|&x| f64::from(x)).sum::<f64>() / count;
        let variance = group
            .iter()
            .map(|&x| (f64::from(x) - mean) * (f64::from(x) - mean))
            .sum::<f64>()
            / count;
        (mean as f32, inverse_std(variance, self.epsilon))
    }

    /// One row, before the activation: `x · (γ · s) + (β - μ · γ · s)` for each group, with
    /// `s = 1 / √(σ² + ε)`, in Keras' order of operations.
    fn normalize(&self, x: &[f32; N], y: &mut [f32; N]) {
        for (y, x) in y.chunks_exact_mut(C).zip(x.chunks_exact(C)) {
            self.normalize_group(x, y);
        }
    }

    /// One group of `C` values of [`LayerNormalization::normalize`]: one step of a sequence,
    /// which streaming normalizes alone.
    pub(super) fn normalize_group(&self, x: &[f32], y: &mut [f32]) {
        let (mean, inv_std) = self.statistics(x);
        for (c, (y, &x)) in y.iter_mut().zip(x).enumerate() {
            let (scale, shift) = self.affine.coefficients(c, mean, inv_std);
            *y = x * scale + shift;
        }
    }
}

impl<const N: usize, const C: usize, A: Activation> Layer for LayerNormalization<N, C, A> {
    type In = [f32; N];
    type Out = [f32; N];
    type Activation = A;
    type Grads = NormalizationGrads<C>;
    type Tape<const B: usize> = Kept<A, [f32; N], B>;

    const KIND: &'static str = "LayerNormalization";

    fn new_tape<const B: usize>(&self) -> Kept<A, [f32; N], B> {
        A::Keeps::new_batch()
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; N]; B],
        y: &mut [[f32; N]; B],
        kept: &mut Kept<A, [f32; N], B>,
    ) {
        for (y, x) in y.iter_mut().zip(x) {
            self.normalize(x, y);
        }
        A::apply_batch(y, kept);
    }

    fn kept<const B: usize>(kept: &Kept<A, [f32; N], B>) -> &Kept<A, [f32; N], B> {
        kept
    }

    /// The statistics of each group are worked out again from `x`, which is cheaper than
    /// keeping them: the tape holds only what the activation keeps.
    fn backward<const B: usize>(
        &self,
        x: &[[f32; N]; B],
        dz: &[[f32; N]; B],
        mut dx: Option<&mut [[f32; N]; B]>,
        grads: &mut NormalizationGrads<C>,
        _kept: &mut Kept<A, [f32; N], B>,
    ) {
        let gamma = self.affine.gamma();
        let (mut dgamma, mut dbeta) = grads.parts_mut();
        for g in [dgamma.as_deref_mut(), dbeta.as_deref_mut()]
            .into_iter()
            .flatten()
        {
            g.fill(0.0);
        }
        for (b, (x, dz)) in x.iter().zip(dz).enumerate() {
            for (p, (x, dz)) in x.chunks_exact(C).zip(dz.chunks_exact(C)).enumerate() {
                let (mean, inv_std) = self.statistics(x);
                let xhat = |x: f32| (x - mean) * inv_std;
                if let Some(dgamma) = dgamma.as_deref_mut() {
                    for ((g, &x), &dz) in dgamma.iter_mut().zip(x).zip(dz) {
                        *g += dz * xhat(x);
                    }
                }
                if let Some(dbeta) = dbeta.as_deref_mut() {
                    for (g, &dz) in dbeta.iter_mut().zip(dz) {
                        *g += dz;
                    }
                }
                let Some(dx) = dx.as_deref_mut() else {
                    continue;
                };
                // With g = γ · dz: the means of g and of g · x̂ over the group.
                let (mut sum_g, mut sum_g_xhat) = (0.0_f64, 0.0_f64);
                for (c, (&x, &dz)) in x.iter().zip(dz).enumerate() {
                    let g = Affine::gamma_at(gamma, c) * dz;
                    sum_g += f64::from(g);
                    sum_g_xhat += f64::from(g * xhat(x));
                }
                let (mean_g, mean_g_xhat) =
                    ((sum_g / C as f64) as f32, (sum_g_xhat / C as f64) as f32);
                let dx = &mut dx[b][p * C..][..C];
                for (c, ((dx, &x), &dz)) in dx.iter_mut().zip(x).zip(dz).enumerate() {
                    let g = Affine::gamma_at(gamma, c) * dz;
                    *dx = inv_std * (g - mean_g - xhat(x) * mean_g_xhat);
                }
            }
        }
    }

    fn infer(&self, x: &[f32; N], y: &mut [f32; N]) {
        self.normalize(x, y);
        A::apply(y);
    }

    fn new_grads(&self) -> NormalizationGrads<C> {
        self.affine.new_grads()
    }

    fn parameter_count(&self) -> usize {
        self.affine.count()
    }

    fn visit_parameters(
        &mut self,
        grads: &mut NormalizationGrads<C>,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        self.affine.visit_parameters(grads, visit);
    }

    fn visit_gradients(
        grads: &mut NormalizationGrads<C>,
        visit: &mut dyn FnMut(&mut [f32]),
    ) -> bool {
        Affine::<C>::visit_gradients(grads, visit)
    }

    /// `gamma` and `beta`, each of shape `[C]`, as Keras names them.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        self.affine.visit_tensors(visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        self.affine.visit_tensors_mut(visit);
    }

    /// The statistics of each group of `C` values (`ReduceMean`s along the last axis), then
    /// `(x - μ) · s · γ + β` and the activation.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = if x.shape.last() == Some(&C) {
            x
        } else {
            graph.reshape(x, &[N / C, C])
        };
        let (shape, mut reduced) = (x.shape.clone(), x.shape.clone());
        if let Some(last) = reduced.last_mut() {
            *last = 1;
        }
        let last_axis = || vec![onnx::Attribute::ints("axes", &[-1])];
        let mean = graph.node("ReduceMean", &[&x.name], last_axis(), reduced.clone());
        let d = graph.node("Sub", &[&x.name, &mean.name], Vec::new(), shape.clone());
        let square = graph.node("Mul", &[&d.name, &d.name], Vec::new(), shape.clone());
        let variance = graph.node("ReduceMean", &[&square.name], last_axis(), reduced.clone());
        let epsilon = graph.scalar(self.epsilon);
        let v = graph.node(
            "Add",
            &[&variance.name, &epsilon],
            Vec::new(),
            reduced.clone(),
        );
        let std = graph.node("Sqrt", &[&v.name], Vec::new(), reduced);
        let mut z = graph.node("Div", &[&d.name, &std.name], Vec::new(), shape.clone());
        if let Some(gamma) = self.affine.gamma() {
            let gamma = graph.initializer("gamma", &[C], gamma.to_vec());
            z = graph.node("Mul", &[&z.name, &gamma], Vec::new(), shape.clone());
        }
        if let Some(beta) = self.affine.beta() {
            let beta = graph.initializer("beta", &[C], beta.to_vec());
            z = graph.node("Add", &[&z.name, &beta], Vec::new(), shape);
        }
        graph.activation(A::NAME, z)
    }
}

#[cfg(feature = "alloc")]
impl<const N: usize, const C: usize, A> Initialize for LayerNormalization<N, C, A> {
    /// Keras' defaults ([`LayerNormalization::new`]); nothing is drawn.
    fn initialize<R: Rng + ?Sized>(_rng: &mut R) -> Self {
        Self::new()
    }
}

impl<const N: usize, const C: usize, A> Clone for LayerNormalization<N, C, A> {
    /// Owned tensors are copied; `static` ones stay borrowed.
    fn clone(&self) -> Self {
        Self {
            affine: self.affine.clone(),
            epsilon: self.epsilon,
            activation: PhantomData,
        }
    }
}

impl<const N: usize, const C: usize, A: Activation> fmt::Debug for LayerNormalization<N, C, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerNormalization")
            .field("values", &N)
            .field("group", &C)
            .field("epsilon", &self.epsilon)
            .field("center", &self.beta().is_some())
            .field("scale", &self.gamma().is_some())
            .field("activation", &A::NAME)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::activation::Sigmoid;
    use crate::layers::gradcheck::{check_gradients, check_normalization, values};

    /// Groups of two, `γ = (2, -1)`, `β = (0.5, 1)`, `ε = 12`.
    fn layer() -> LayerNormalization<4, 2> {
        let mut norm = LayerNormalization::new().epsilon(12.0);
        norm.gamma_mut().unwrap().copy_from_slice(&[2.0, -1.0]);
        norm.beta_mut().unwrap().copy_from_slice(&[0.5, 1.0]);
        norm
    }

    /// Groups (0, 4), (2, 6) and (10, 6): variance 4, so `1 / √(4 + 12) = 0.25`; (3, 3): no
    /// spread, `1 / √12`.
    const X: [[f32; 4]; 2] = [[0.0, 4.0, 3.0, 3.0], [2.0, 6.0, 10.0, 6.0]];

    #[test]
    fn each_group_is_normalized_on_its_own() {
        let norm = layer();
        let mut y = [[0.0; 4]; 2];
        norm.forward(&X, &mut y, &mut ());
        // x̂ = (-0.5, 0.5), (0, 0), (-0.5, 0.5), (0.5, -0.5); y = (2 x̂ + 0.5, -x̂ + 1).
        assert_eq!(y, [[-0.5, 0.5, 0.5, 1.0], [-0.5, 0.5, 1.5, 1.5]]);
        for (x, y) in X.iter().zip(&y) {
            let mut single = [0.0; 4];
            norm.infer(x, &mut single);
            assert_eq!(&single, y, "infer computes as the batch does");
        }
    }

    #[test]
    fn backward_of_literal_values() {
        let norm = layer();
        let dz = [[1.0, 3.0, 2.0, 0.0], [0.0, 1.0, -1.0, 1.0]];
        let (mut dx, mut grads) = ([[9.0; 4]; 2], norm.new_grads());
        norm.backward(&X, &dz, Some(&mut dx), &mut grads, &mut ());
        // dγ = Σ dz x̂ = (-0.5 + 0 + 0 - 0.5, 1.5 + 0 + 0.5 - 0.5), dβ = Σ dz.
        assert_eq!(grads.gamma(), Some(&[-1.0, 1.5]));
        assert_eq!(grads.beta(), Some(&[2.0, 5.0]));
        // Group (0, 4): g = (2, -3), mean(g) = -0.5, mean(g x̂) = (-1 - 1.5) / 2 = -1.25;
        // dx = (g + 0.5 + 1.25 x̂) / 4 = (2.5 - 0.625, -2.5 + 0.625) / 4. (3, 3) has x̂ = 0:
        // dx = (g - mean(g)) / √12 with g = (4, 0). (2, 6): g = (0, -1), dx = (g + 0.5 + 0.25 x̂) / 4;
        // (10, 6): g = (-2, -1), dx = (g + 1.5 + 0.25 x̂) / 4. A group of two has dx₀ = -dx₁.
        let inv = 1.0 / 12.0_f32.sqrt();
        let expected = [
            [0.46875, -0.46875, 2.0 * inv, -2.0 * inv],
            [0.09375, -0.09375, -0.09375, 0.09375],
        ];
        for (found, expected) in dx.as_flattened().iter().zip(expected.as_flattened()) {
            assert!((found - expected).abs() < 1e-6, "{dx:?}");
        }
    }

    /// Inputs in [-4, 4): the steps of the finite differences (0.01) must be small beside the
    /// spread of a group, or its curvature (through `1 / σ`) swamps them.
    fn spread<const N: usize, const B: usize>(seed: u32) -> [[f32; N]; B] {
        values::<[f32; N], B>(seed).map(|row| row.map(|x| 4.0 * x))
    }

    #[test]
    fn backward_matches_finite_differences_on_vectors_and_groups() {
        let mut norm = LayerNormalization::<5, 5, Sigmoid>::new();
        norm.gamma_mut()
            .unwrap()
            .copy_from_slice(&[1.5, -0.5, 0.75, 1.0, 2.0]);
        norm.beta_mut()
            .unwrap()
            .copy_from_slice(&[0.1, -0.2, 0.3, 0.0, 0.5]);
        check_gradients(&mut norm, &spread(1), &values::<[f32; 5], 3>(2), &mut ());

        // A sequence of 4 steps of 3 features.
        let mut steps = LayerNormalization::<12, 3>::new();
        steps
            .gamma_mut()
            .unwrap()
            .copy_from_slice(&[0.5, 2.0, -1.0]);
        check_gradients(&mut steps, &spread(3), &values::<[f32; 12], 2>(4), &mut ());
    }

    /// Layer normalization of groups of `gamma.len()` values, then a sigmoid, in `f64`.
    fn reference(x: &[f64], gamma: &[f64], beta: &[f64]) -> Vec<f64> {
        let group = gamma.len();
        let mut y = Vec::new();
        for x in x.chunks_exact(group) {
            let mean = x.iter().sum::<f64>() / group as f64;
            let variance = x.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / group as f64;
            for (c, x) in x.iter().enumerate() {
                let z = gamma[c] * (x - mean) / (variance + 1e-3).sqrt() + beta[c];
                y.push(1.0 / (1.0 + (-z).exp()));
            }
        }
        y
    }

    #[test]
    fn backward_matches_f64_finite_differences() {
        // Two samples of three groups of four, the inputs in [-1, 1): some groups have little
        // spread, where f32 differences of a step of 0.01 would be swamped by curvature.
        let mut norm = LayerNormalization::<12, 4, Sigmoid>::new();
        norm.gamma_mut()
            .unwrap()
            .copy_from_slice(&[1.5, -0.5, 0.75, 2.0]);
        norm.beta_mut()
            .unwrap()
            .copy_from_slice(&[0.1, -0.2, 0.3, 0.0]);
        let (x, c) = (values::<[f32; 12], 2>(5), values::<[f32; 12], 2>(6));
        check_normalization(&norm, &x, &c, &mut (), &reference);
    }

    #[test]
    fn without_center_and_scale_it_has_no_parameters() {
        let mut norm = LayerNormalization::<4, 2>::new()
            .epsilon(12.0)
            .center(false)
            .scale(false);
        assert_eq!(norm.parameter_count(), 0);
        assert_eq!(norm.non_trainable_count(), 0);
        let mut y = [0.0; 4];
        norm.infer(&X[0], &mut y);
        assert_eq!(y, [-0.5, 0.5, 0.0, 0.0]);
        let mut names = 0;
        norm.visit_tensors_mut(&mut |_, _, _| names += 1);
        assert_eq!(names, 0);
        let mut with = layer();
        let mut names = Vec::new();
        with.visit_tensors_mut(&mut |name, shape, _| names.push(format!("{name}{shape:?}")));
        assert_eq!(names, ["gamma[2]", "beta[2]"]);
    }

    #[test]
    #[should_panic(expected = "epsilon: expected a finite value above 0")]
    fn a_negative_epsilon_is_rejected() {
        let _ = LayerNormalization::<4, 2>::new().epsilon(-1e-3);
    }
}
