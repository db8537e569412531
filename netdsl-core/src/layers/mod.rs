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
#[cfg(feature = "alloc")]
macro_rules! flat_parameters {
    () => {
        fn new_grads(&self) -> FlatParameters {
            self.params.zeros_like()
        }

        fn parameter_count(&self) -> usize {
            self.params.count()
        }

        fn regularization(&self) -> f64 {
            self.params.regularization()
        }

        fn regularize(&self, grads: &mut FlatParameters, scale: f32) -> f64 {
            self.params.regularize(grads, scale)
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

// Every layer kind needs `alloc` but dense, dropout, the normalizations, the reshapes, global
// pooling, zero padding, upsampling, masking and reversal, whose buffers are arrays sized by
// their const generics. The others keep buffers whose lengths are products of their sizes
// (`B * OH * OW`), which stable Rust cannot write as an array type.
mod batch_normalization;
#[cfg(feature = "alloc")]
mod conv1d;
#[cfg(feature = "alloc")]
mod conv2d;
#[cfg(feature = "alloc")]
mod cross_attention;
mod dense;
#[cfg(feature = "alloc")]
mod dense_steps;
mod dropout;
#[cfg(feature = "alloc")]
mod embedding;
#[cfg(feature = "alloc")]
mod flat;
mod global_pool;
#[cfg(all(test, feature = "alloc"))]
mod gradcheck;
#[cfg(feature = "alloc")]
mod gru;
mod join;
mod layer_normalization;
#[cfg(feature = "alloc")]
mod lstm;
mod masking;
#[cfg(feature = "alloc")]
mod multi_head_attention;
mod normalization;
mod parameter;
#[cfg(feature = "alloc")]
mod pool;
#[cfg(feature = "alloc")]
mod position_embedding;
#[cfg(feature = "alloc")]
mod recurrent;
mod reshape;
mod reverse;
#[cfg(feature = "alloc")]
mod rnn;
mod sine_position_encoding;
mod stream;
mod up_sampling;
mod zero_padding;

pub use batch_normalization::{BatchNormalization, BatchNormalizationTape};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use conv1d::{Conv1d, Conv1dGrads, Conv1dTape};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use conv2d::{Conv2d, Conv2dGrads, Conv2dTape};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use cross_attention::{Attend, AttendGrads, AttendTape, Pair};
pub use dense::{Dense, DenseGrads, DenseTape};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use dense_steps::DenseSteps;
pub use dropout::{Dropout, DropoutTape};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use embedding::Embedding;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use flat::FlatParameters;
pub use global_pool::{
    GlobalAvgPool, GlobalMax, GlobalMaxPool, GlobalMean, GlobalPool, GlobalReduce,
};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use gru::{Gru, GruCell};
pub use join::{
    Add, Bidirectional, BranchTape, Channels, Concatenate, Join, JoinGrads, JoinRule, JoinTape,
    Lines, Residual, ResidualTape, Sum,
};
pub use layer_normalization::LayerNormalization;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use lstm::{Lstm, LstmCell};
pub use masking::Masking;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use multi_head_attention::{
    MultiHeadAttention, MultiHeadAttentionGrads, MultiHeadAttentionTape,
};
pub use normalization::NormalizationGrads;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use pool::{AvgPool2d, Max, MaxPool2d, Mean, Pool2d, PoolGrid, PoolWindow, Reduce};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use position_embedding::PositionEmbedding;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use recurrent::{Cell, Recurrent, RecurrentTape};
pub use reshape::{Flatten, Reshape};
pub use reverse::Reverse;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use rnn::{SimpleRnn, SimpleRnnCell};
pub use sine_position_encoding::SinePositionEncoding;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use stream::CellState;
pub use up_sampling::UpSampling2d;
pub use zero_padding::ZeroPadding2d;
