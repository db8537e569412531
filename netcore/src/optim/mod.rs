//! Optimizers: how a gradient becomes a parameter update.

mod sgd;

pub use sgd::Sgd;

use crate::layer::Layer;

/// A rule that updates parameters from their gradients.
///
/// A network's parameters reach the optimizer as flat tensors in a fixed order; `offset` is a
/// tensor's position in the concatenation of all of them, so an optimizer keeps its state
/// (velocities, moments) in one buffer allocated by [`Optimizer::prepare`].
pub trait Optimizer {
    /// Allocates state for `parameter_count` parameters. Called once, before the first step.
    fn prepare(&mut self, parameter_count: usize);

    /// Updates one parameter tensor from its gradient.
    fn update(&mut self, offset: usize, params: &mut [f32], grads: &[f32]);

    /// Updates every parameter of `network` from `grads`.
    fn step<N: Layer>(&mut self, network: &mut N, grads: &N::Grads)
    where
        Self: Sized,
    {
        let mut offset = 0;
        network.visit_parameters(grads, &mut |params, grads| {
            self.update(offset, params, grads);
            offset += params.len();
        });
    }
}
