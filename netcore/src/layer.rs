//! The trait every layer of a network implements.

use crate::activation::Activation;

/// One layer: parameters with compile-time sizes, a batched forward pass and its backward.
///
/// A layer ends with an [`Activation`] (use [`crate::activation::Linear`] for none). The
/// forward pass applies it; the backward pass starts *after* it, from `dz = dL/dz`, the
/// gradient with respect to the pre-activation output. The network in between undoes the
/// activation with [`Activation::backprop`], or lets the loss do it in one fused step for the
/// output layer (softmax with cross-entropy gives `dz = y - t`).
///
/// Batches are arrays of `B` rows, `B` a `const` chosen by the caller, so a layer never
/// allocates: every buffer is owned by the caller and sized by its type.
pub trait Layer {
    /// One input row, `[f32; I]`.
    type In: Copy;
    /// One output row, `[f32; O]`.
    type Out: Copy;
    /// The activation the forward pass ends with.
    type Activation: Activation;
    /// The gradients of this layer's parameters, shaped like the parameters.
    type Grads;

    /// The layer's kind as `summary()` prints it, e.g. `"Dense"`.
    const KIND: &'static str;

    /// `y = f(layer(x))` for every row of the batch.
    fn forward<const B: usize>(&self, x: &[Self::In; B], y: &mut [Self::Out; B]);

    /// Writes the parameter gradients of the batch into `grads` (overwriting, not adding) and,
    /// when `dx` is given, the gradient with respect to the input.
    fn backward<const B: usize>(
        &self,
        x: &[Self::In; B],
        dz: &[Self::Out; B],
        dx: Option<&mut [Self::In; B]>,
        grads: &mut Self::Grads,
    );

    /// Gradient buffers for this layer, allocated once.
    fn new_grads(&self) -> Self::Grads;

    /// The number of trainable parameters.
    fn parameter_count(&self) -> usize;

    /// Calls `visit` with each parameter tensor and its gradient, flattened, in a fixed order.
    fn visit_parameters(&mut self, grads: &Self::Grads, visit: &mut dyn FnMut(&mut [f32], &[f32]));
}
