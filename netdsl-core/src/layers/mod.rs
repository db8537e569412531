//! Layers, one per file.

/// The [`Layer`](crate::layer::Layer) methods of a layer without parameters (whose `Grads` is
/// `()`), written once for all of them: no gradients, no parameters, nothing to visit.
macro_rules! without_parameters {
    () => {
        fn new_grads(&self) {}

        fn parameter_count(&self) -> usize {
            0
        }

        fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}

        fn visit_gradients(_: &mut (), _: &mut dyn FnMut(&mut [f32])) -> bool {
            true
        }
    };
}
#[cfg(all(test, feature = "std"))] // for the test layers of `train`
pub(crate) use without_parameters;

/// The [`Layer`](crate::layer::Layer) methods of a layer whose parameters are the
/// [`FlatParameters`] in its `params` field, and its gradients alike (`Grads` is
/// `FlatParameters`), written once for all of them.
macro_rules! flat_parameters {
    () => {
        fn new_grads(&self) -> FlatParameters {
            self.params.zeros_like()
        }

        fn parameter_count(&self) -> usize {
            self.params.count()
        }

        fn visit_parameters(
            &mut self,
            grads: &mut FlatParameters,
            visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
        ) {
            self.params.visit(grads, visit);
        }

        fn visit_gradients(grads: &mut FlatParameters, visit: &mut dyn FnMut(&mut [f32])) -> bool {
            grads.visit_gradients(visit)
        }
    };
}

mod conv2d;
mod dense;
mod dropout;
mod flat;
#[cfg(test)]
mod gradcheck;
mod gru;
mod lstm;
mod pool;
mod recurrent;
mod reshape;
mod rnn;

pub use conv2d::{Conv2d, Conv2dGrads, Conv2dTape};
pub use dense::{Dense, DenseGrads};
pub use dropout::{Dropout, DropoutTape};
pub use flat::FlatParameters;
pub use gru::{Gru, GruCell};
pub use lstm::{Lstm, LstmCell};
pub use pool::{AvgPool2d, Max, MaxPool2d, Mean, Pool2d, PoolWindow, Reduce};
pub use recurrent::{Cell, Recurrent, RecurrentTape};
pub use reshape::{Flatten, Reshape};
pub use rnn::{SimpleRnn, SimpleRnnCell};
