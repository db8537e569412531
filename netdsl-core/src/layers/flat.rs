//! Weights and an optional bias kept as flat runs of values: the parameters of the layers whose
//! weights are not a plain matrix (convolutions, recurrent layers), and their gradients.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

use crate::layer::{TensorVisitor, TensorVisitorMut};
use crate::regularizer::Regularizers;

/// A layer's weights and optional bias, each one flat run of values; the layout of their
/// gradients too ([`super::Conv2dGrads`], and those of a [`super::Recurrent`] layer). The
/// weights are the kernel, then, for a recurrent layer, the recurrent kernel; each tensor has
/// its regularizer (none in gradients).
#[derive(Clone)]
pub struct FlatParameters {
    pub(super) weights: Box<[f32]>,
    pub(super) bias: Option<Box<[f32]>>,
    /// How many of the weights are the kernel; the rest are the recurrent kernel.
    kernel_len: usize,
    regularizers: Regularizers,
}

impl FlatParameters {
    pub(super) fn new(weights: Vec<f32>, bias: Option<Vec<f32>>) -> Self {
        Self {
            kernel_len: weights.len(),
            weights: weights.into_boxed_slice(),
            bias: bias.map(Vec::into_boxed_slice),
            regularizers: Regularizers::NONE,
        }
    }

    /// The parameters, penalized by `regularizers`, the first `kernel_len` weights being the
    /// kernel and the rest the recurrent kernel.
    pub(super) fn regularized(mut self, regularizers: Regularizers, kernel_len: usize) -> Self {
        self.regularizers = regularizers;
        self.kernel_len = kernel_len.min(self.weights.len());
        self
    }

    /// The regularizers.
    pub(super) fn regularizers(&self) -> &Regularizers {
        &self.regularizers
    }

    /// The penalty of the tensors: [`crate::layer::Layer::regularization`].
    pub(super) fn regularization(&self) -> f64 {
        let r = &self.regularizers;
        let (kernel, recurrent) = self.weights.split_at(self.kernel_len);
        let bias = self.bias.as_deref().map_or(0.0, |b| r.bias.penalty(b));
        r.kernel.penalty(kernel) + r.recurrent_kernel.penalty(recurrent) + bias
    }

    /// Adds `scale` times the penalty's gradient to `grads`, laid out alike, and returns the
    /// penalty: [`crate::layer::Layer::regularize`].
    pub(super) fn regularize(&self, grads: &mut FlatParameters, scale: f32) -> f64 {
        let r = &self.regularizers;
        if r.is_none() {
            return 0.0;
        }
        let (kernel, recurrent) = self.weights.split_at(self.kernel_len);
        let (dk, dr) = grads.weights.split_at_mut(self.kernel_len);
        let mut penalty = r.kernel.add_gradient(kernel, scale, dk);
        penalty += r.recurrent_kernel.add_gradient(recurrent, scale, dr);
        if let (Some(b), Some(db)) = (self.bias.as_deref(), grads.bias.as_deref_mut()) {
            penalty += r.bias.add_gradient(b, scale, db);
        }
        penalty
    }

    /// Zeros laid out alike: a layer's gradient buffers.
    pub(super) fn zeros_like(&self) -> Self {
        let zeros = |n: usize| vec![0.0; n].into_boxed_slice();
        Self {
            weights: zeros(self.weights.len()),
            bias: self.bias.as_ref().map(|b| zeros(b.len())),
            kernel_len: self.kernel_len,
            regularizers: Regularizers::NONE,
        }
    }

    /// The weights, in the layer's own layout.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The bias, if the layer has one.
    pub fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
    }

    /// How many values there are.
    pub(super) fn count(&self) -> usize {
        self.weights.len() + self.bias.as_ref().map_or(0, |b| b.len())
    }

    /// Calls `visit` with the weights and then the bias, each beside its gradient in `grads`:
    /// [`crate::layer::Layer::visit_parameters`].
    pub(super) fn visit(
        &mut self,
        grads: &mut FlatParameters,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        visit(&mut self.weights, &mut grads.weights);
        if let (Some(b), Some(db)) = (self.bias.as_deref_mut(), grads.bias.as_deref_mut()) {
            visit(b, db);
        }
    }

    /// Calls `visit` with each tensor as gradients, in the order of [`FlatParameters::visit`].
    pub(super) fn visit_gradients(&mut self, visit: &mut dyn FnMut(&mut [f32])) -> bool {
        visit(&mut self.weights);
        if let Some(b) = self.bias.as_deref_mut() {
            visit(b);
        }
        true
    }

    /// Calls `visit` with a recurrent layer's tensors under Keras' names: `kernel`, the first
    /// `kernel[0] · kernel[1]` weights, `recurrent_kernel`, the rest, and `bias` of shape `bias`.
    pub(super) fn visit_recurrent(
        &self,
        kernel: [usize; 2],
        recurrent: [usize; 2],
        bias: &[usize],
        visit: &mut TensorVisitor<'_>,
    ) {
        let (k, r) = self.weights.split_at(kernel[0] * kernel[1]);
        visit("kernel", &kernel, k);
        visit("recurrent_kernel", &recurrent, r);
        if let Some(b) = self.bias.as_deref() {
            visit("bias", bias, b);
        }
    }

    /// [`FlatParameters::visit_recurrent`], mutably.
    pub(super) fn visit_recurrent_mut(
        &mut self,
        kernel: [usize; 2],
        recurrent: [usize; 2],
        bias: &[usize],
        visit: &mut TensorVisitorMut<'_>,
    ) {
        let (k, r) = self.weights.split_at_mut(kernel[0] * kernel[1]);
        visit("kernel", &kernel, k);
        visit("recurrent_kernel", &recurrent, r);
        if let Some(b) = self.bias.as_deref_mut() {
            visit("bias", bias, b);
        }
    }
}
