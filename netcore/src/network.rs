//! The trait `network!` implements for every network it generates.

use crate::activation::Activation;
use crate::summary::Summary;

/// A whole network: its layers' forward passes in order, their backward passes in reverse.
///
/// `network!` writes the implementation out layer by layer; nothing is interpreted at run time.
/// Inputs and outputs are plain arrays (`[f32; 784]`), so a sample of the wrong width is a type
/// error. The training loop in [`crate::train`] drives a network through this trait.
pub trait Network {
    /// One input sample, `[f32; IN]`.
    type Input: bytemuck::Pod;
    /// One output sample, `[f32; OUT]`.
    type Output: bytemuck::Pod;
    /// The activation of the output layer, which decides the losses the network can train with.
    type OutputActivation: Activation;
    /// Every intermediate of a batch of `B` samples that the backward pass needs, allocated once.
    type Tape<const B: usize>;
    /// The gradients of every parameter, shaped like the parameters, allocated once.
    type Grads;

    /// Allocates a tape for batches of `B` samples.
    fn new_tape<const B: usize>(&self) -> Self::Tape<B>;

    /// Allocates gradient buffers.
    fn new_grads(&self) -> Self::Grads;

    /// Runs the batch through every layer, keeping what the backward pass needs in `tape`, and
    /// returns the outputs (which live in the tape).
    fn forward<'t, const B: usize>(
        &self,
        x: &[Self::Input; B],
        tape: &'t mut Self::Tape<B>,
    ) -> &'t [Self::Output; B];

    /// Back-propagates `output_delta` (`dL/dz` of the output layer's pre-activation, as
    /// [`crate::loss::Loss::delta`] gives it) through the batch last passed to
    /// [`Network::forward`] with this `tape`, writing every parameter gradient into `grads`.
    fn backward<const B: usize>(
        &self,
        x: &[Self::Input; B],
        tape: &mut Self::Tape<B>,
        output_delta: &[Self::Output; B],
        grads: &mut Self::Grads,
    );

    /// The output for one sample, computed in stack buffers: no tape, no allocation.
    fn predict(&self, x: &Self::Input) -> Self::Output;

    /// Calls `visit` with each parameter tensor and its gradient, flattened, layer by layer in
    /// a fixed order. Optimizers update parameters through this.
    fn visit_parameters(&mut self, grads: &Self::Grads, visit: &mut dyn FnMut(&mut [f32], &[f32]));

    /// The number of trainable parameters.
    fn parameter_count(&self) -> usize;

    /// The layer table, as Keras' `model.summary()` prints it.
    fn summary(&self) -> Summary;
}
