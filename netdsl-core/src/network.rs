//! The trait `network!` implements for every network it generates.

#[cfg(any(feature = "safetensors", feature = "onnx"))]
use std::path::Path;

use crate::layer::Layer;
#[cfg(feature = "alloc")]
use crate::summary::Summary;
#[cfg(feature = "safetensors")]
use crate::weights;

/// A whole network: a [`Layer`] made of layers, with a summary and single-sample prediction.
///
/// `network!` writes the [`Layer`] implementation out layer by layer — forward passes in order,
/// backward passes in reverse — and nothing is interpreted at run time. Its
/// [`Layer::Tape`] is the network's tape, every intermediate the backward pass needs; its
/// inputs and outputs are plain arrays (`[f32; 784]`), so a sample of the wrong width is a type
/// error. The training loop in [`crate::train`] drives a network through these two traits, and
/// a network is itself a layer of bigger networks.
///
/// By hand, one training step is:
///
/// ```text
/// model.set_training(&mut tape, true);                     // once: dropout drops, batch
///                                                          // normalization uses the batch
/// model.forward(&x, &mut y, &mut tape);                    // y: the outputs of the batch
/// let kept = Model::kept(&tape);                           // what the output activation kept
/// loss.deltas(&y, kept, &t, B, 1.0 / B as f32, &mut dz);   // dz: dL/dz of the output layer
/// model.backward(&x, &dz, None, &mut grads, &mut tape);
/// optimizer.step(&mut model, &grads);
/// model.update_state(&tape, 0, 1);                         // moving statistics
/// ```
pub trait Network: Layer {
    /// The layer table, as Keras' `model.summary()` prints it: a join as the layers of its
    /// branches and the layer merging them, as in Keras' functional model (see [`Summary`]).
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    fn summary(&self) -> Summary;

    /// The output for one sample: no tape, no allocation. The hidden layers' buffers are on the
    /// stack up to [`INFER_STACK_BUDGET`](crate::inference::INFER_STACK_BUDGET) bytes and in
    /// storage allocated with the network above it (see [`crate::inference`]), so a wide
    /// network does not overflow a thread's stack. The output itself is returned by value:
    /// for an output wider than the budget, call [`Layer::infer`] with a boxed buffer.
    fn predict(&self, x: &Self::In) -> Self::Out {
        let mut y = bytemuck::Zeroable::zeroed();
        self.infer(x, &mut y);
        y
    }

    #[cfg(feature = "safetensors")]
    #[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
    /// Writes every weight to `path` as safetensors (Keras' `model.save_weights`), each tensor
    /// under its layer's name (`"dense_1.kernel"`). The file is replaced only once the new one
    /// is complete; see [`weights`] for the format.
    ///
    /// # Errors
    ///
    /// As [`weights::save`]: a weight that is not finite, or the file cannot be written. The
    /// file at `path` is then unchanged.
    fn save_weights(&self, path: impl AsRef<Path>) -> Result<(), weights::Error>
    where
        Self: Sized,
    {
        weights::save(self, path.as_ref())
    }

    #[cfg(feature = "safetensors")]
    #[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
    /// Reads weights saved by [`Network::save_weights`] (Keras' `model.load_weights`), after
    /// checking every tensor of the file against this network's names, shapes and types.
    ///
    /// # Errors
    ///
    /// As [`weights::load`]: an unreadable or malformed file, or a tensor missing, left over,
    /// of another type or shape, or not finite. The network is then unchanged.
    fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<(), weights::Error>
    where
        Self: Sized,
    {
        weights::load(self, path.as_ref())
    }

    #[cfg(feature = "onnx")]
    #[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
    /// Writes the network to `path` as an ONNX graph for inference, which onnxruntime, tract or
    /// TensorRT run: input `"input"` `[batch, IN]`, output `"output"` `[batch, OUT]`, what
    /// [`Network::predict`] computes, to float rounding. The file is replaced only once the new
    /// one is complete; see [`crate::onnx`] for the graph. A network with masks
    /// has no ONNX form here: an error naming the layer, and nothing written.
    ///
    /// The guide's "Exporting to ONNX" has a runnable example, with `network!`.
    ///
    /// # Errors
    ///
    /// As [`crate::onnx::export`]: a layer or activation with no ONNX form, or the file cannot
    /// be written. The file at `path` is then unchanged.
    fn export_onnx(&self, path: impl AsRef<Path>) -> Result<(), crate::onnx::Error>
    where
        Self: Sized,
    {
        crate::onnx::export(self, path.as_ref())
    }
}
