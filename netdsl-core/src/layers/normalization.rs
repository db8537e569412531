//! What batch and layer normalization share: the scale `γ` and offset `β` they apply after
//! normalizing (each optional, Keras' `scale` and `center`), their gradients, and the affine
//! map `x · scale + shift` a normalization with known statistics comes down to, computed as
//! Keras computes it.

#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

use super::parameter::Parameter;
use crate::buffer::Buffer;
use crate::layer::{TensorVisitor, TensorVisitorMut};

/// `γ` (`gamma`, Keras' `scale`) and `β` (`beta`, Keras' `center`) of a normalization over
/// `C` channels, either of them left out when Keras' option is false.
#[derive(Clone)]
pub(crate) struct Affine<const C: usize> {
    gamma: Option<Parameter<[f32; C]>>,
    beta: Option<Parameter<[f32; C]>>,
}

impl<const C: usize> Affine<C> {
    /// Keras' initial values: `γ = 1` and `β = 0`.
    #[cfg(feature = "alloc")]
    pub(crate) fn new() -> Self {
        Affine {
            gamma: Some(ones()),
            beta: Some(Parameter::zeroed()),
        }
    }

    /// Borrowed from `static`s (see [`Parameter`]).
    pub(crate) const fn from_static(
        gamma: Option<&'static [f32; C]>,
        beta: Option<&'static [f32; C]>,
    ) -> Self {
        Affine {
            gamma: match gamma {
                Some(gamma) => Some(Parameter::from_static(gamma)),
                None => None,
            },
            beta: match beta {
                Some(beta) => Some(Parameter::from_static(beta)),
                None => None,
            },
        }
    }

    /// With `γ` (at 1) or without it.
    #[cfg(feature = "alloc")]
    pub(crate) fn set_scale(&mut self, scale: bool) {
        if scale != self.gamma.is_some() {
            self.gamma = scale.then(ones);
        }
    }

    /// With `β` (at 0) or without it.
    #[cfg(feature = "alloc")]
    pub(crate) fn set_center(&mut self, center: bool) {
        if center != self.beta.is_some() {
            self.beta = center.then(Parameter::zeroed);
        }
    }

    pub(crate) fn gamma(&self) -> Option<&[f32; C]> {
        self.gamma.as_ref().map(Parameter::get)
    }

    pub(crate) fn beta(&self) -> Option<&[f32; C]> {
        self.beta.as_ref().map(Parameter::get)
    }

    #[cfg(feature = "alloc")]
    pub(crate) fn gamma_mut(&mut self) -> Option<&mut [f32; C]> {
        self.gamma.as_mut().map(Parameter::make_mut)
    }

    #[cfg(feature = "alloc")]
    pub(crate) fn beta_mut(&mut self) -> Option<&mut [f32; C]> {
        self.beta.as_mut().map(Parameter::make_mut)
    }

    /// `γ` of channel `c`, 1 without it.
    #[inline(always)]
    pub(crate) fn gamma_at(gamma: Option<&[f32; C]>, c: usize) -> f32 {
        gamma.map_or(1.0, |gamma| gamma[c])
    }

    /// The trainable parameters: `C` for each of `γ` and `β` present.
    pub(crate) fn count(&self) -> usize {
        C * (usize::from(self.gamma.is_some()) + usize::from(self.beta.is_some()))
    }

    pub(crate) fn new_grads(&self) -> NormalizationGrads<C> {
        NormalizationGrads {
            gamma: self.gamma.is_some().then(Buffer::zeroed),
            beta: self.beta.is_some().then(Buffer::zeroed),
        }
    }

    /// `γ` then `β`, Keras' order of the trainable weights, each with its gradient.
    pub(crate) fn visit_parameters(
        &mut self,
        grads: &mut NormalizationGrads<C>,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        let gamma = self.gamma.as_mut().and_then(Parameter::get_mut);
        if let (Some(gamma), Some(dgamma)) = (gamma, grads.gamma.as_deref_mut()) {
            visit(gamma, dgamma);
        }
        let beta = self.beta.as_mut().and_then(Parameter::get_mut);
        if let (Some(beta), Some(dbeta)) = (beta, grads.beta.as_deref_mut()) {
            visit(beta, dbeta);
        }
    }

    pub(crate) fn visit_gradients(
        grads: &mut NormalizationGrads<C>,
        visit: &mut dyn FnMut(&mut [f32]),
    ) -> bool {
        for grad in [grads.gamma.as_deref_mut(), grads.beta.as_deref_mut()]
            .into_iter()
            .flatten()
        {
            visit(grad);
        }
        true
    }

    /// `gamma` and `beta` of shape `[C]`, as Keras names them.
    pub(crate) fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        if let Some(gamma) = self.gamma() {
            visit("gamma", &[C], gamma);
        }
        if let Some(beta) = self.beta() {
            visit("beta", &[C], beta);
        }
    }

    pub(crate) fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        if let Some(gamma) = self.gamma.as_mut().and_then(Parameter::get_mut) {
            visit("gamma", &[C], gamma);
        }
        if let Some(beta) = self.beta.as_mut().and_then(Parameter::get_mut) {
            visit("beta", &[C], beta);
        }
    }

    /// `scale = γ / √(σ² + ε)` and `shift = β - μ · scale` of channel `c`, given `μ` and
    /// `1 / √(σ² + ε)`: the normalization of the channel is then `x · scale + shift`, in
    /// this order of operations, as TensorFlow's `batch_normalization` computes it.
    #[inline(always)]
    pub(crate) fn coefficients(&self, c: usize, mean: f32, inv_std: f32) -> (f32, f32) {
        let scale = Self::gamma_at(self.gamma(), c) * inv_std;
        let shift = match self.beta() {
            Some(beta) => beta[c] - mean * scale,
            None => -(mean * scale),
        };
        (scale, shift)
    }
}

/// A tensor of ones on the heap.
#[cfg(feature = "alloc")]
pub(crate) fn ones<const C: usize>() -> Parameter<[f32; C]> {
    let mut ones = Parameter::<[f32; C]>::zeroed();
    ones.make_mut().fill(1.0);
    ones
}

/// `1 / √(σ² + ε)`, worked out in `f64` and rounded once.
#[inline]
pub(crate) fn inverse_std(variance: f64, epsilon: f32) -> f32 {
    (1.0 / (variance + f64::from(epsilon)).sqrt()) as f32
}

/// The parameter gradients of a normalization, shaped like its parameters: `dL/dγ` and
/// `dL/dβ`, each present when the layer has the parameter.
pub struct NormalizationGrads<const C: usize> {
    gamma: Option<Buffer<[f32; C]>>,
    beta: Option<Buffer<[f32; C]>>,
}

impl<const C: usize> NormalizationGrads<C> {
    /// `dL/dγ`, if the layer scales.
    pub fn gamma(&self) -> Option<&[f32; C]> {
        self.gamma.as_deref()
    }

    /// `dL/dβ`, if the layer centers.
    pub fn beta(&self) -> Option<&[f32; C]> {
        self.beta.as_deref()
    }

    /// Both, mutably, for the layers to write.
    pub(crate) fn parts_mut(&mut self) -> (Option<&mut [f32; C]>, Option<&mut [f32; C]>) {
        (self.gamma.as_deref_mut(), self.beta.as_deref_mut())
    }
}
