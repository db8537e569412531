//! The trait `network!` implements for every network it generates.

use crate::layer::Layer;
use crate::summary::Summary;

/// A whole network: a [`Layer`] made of layers, with a summary and single-sample prediction.
///
/// `network!` writes the [`Layer`] implementation out layer by layer — forward passes in order,
/// backward passes in reverse — and nothing is interpreted at run time. Its
/// [`Layer::Cache`] is the network's tape, every intermediate the backward pass needs; its
/// inputs and outputs are plain arrays (`[f32; 784]`), so a sample of the wrong width is a type
/// error. The training loop in [`crate::train`] drives a network through these two traits, and
/// a network is itself a layer of bigger networks.
///
/// By hand, one training step is:
///
/// ```text
/// model.forward(&x, &mut y, &mut tape);                    // y: the outputs of the batch
/// loss.delta(&y[b], &t[b], 1.0 / B as f32, &mut dz[b]);    // for every sample b
/// model.backward(&x, &dz, None, &mut grads, &mut tape);    // dz: dL/dz of the output layer
/// optimizer.step(&mut model, &grads);
/// ```
pub trait Network: Layer {
    /// The layer table, as Keras' `model.summary()` prints it.
    fn summary(&self) -> Summary;

    /// The output for one sample, computed in stack buffers: no tape, no allocation.
    fn predict(&self, x: &Self::In) -> Self::Out {
        let mut y = bytemuck::Zeroable::zeroed();
        self.infer(x, &mut y);
        y
    }
}
