//! The trait every layer of a network implements, and the helpers `network!` builds on.

use rand::Rng;

use crate::activation::{Activation, Keep, Kept};
use crate::kernels::Precision;

/// One sample's values: `[f32; N]`, whose width the type carries.
///
/// `network!` reads a layer's widths through this trait (`<L::In as Row>::WIDTH`), so a layer
/// defined elsewhere — another network, a type of yours — needs no other declaration of them.
pub trait Row: bytemuck::Pod {
    /// The number of values.
    const WIDTH: usize;

    /// The values, as a slice.
    fn values(&self) -> &[f32] {
        bytemuck::cast_slice(core::slice::from_ref(self))
    }

    /// The values, as a mutable slice.
    fn values_mut(&mut self) -> &mut [f32] {
        bytemuck::cast_slice_mut(core::slice::from_mut(self))
    }
}

impl<const N: usize> Row for [f32; N] {
    const WIDTH: usize = N;
}

/// What [`Layer::visit_tensors`] calls with each parameter tensor: its name, shape and values.
pub type TensorVisitor<'a> = dyn FnMut(&str, &[usize], &[f32]) + 'a;

/// What [`Layer::visit_tensors_mut`] calls with each parameter tensor.
pub type TensorVisitorMut<'a> = dyn FnMut(&str, &[usize], &mut [f32]) + 'a;

/// One layer: parameters with compile-time sizes, a batched forward pass and its backward.
///
/// A layer ends with an [`Activation`] (use [`crate::activation::Linear`] for none). The
/// forward pass applies it; the backward pass starts *after* it, from `dz = dL/dz`, the
/// gradient with respect to the pre-activation output. The network in between undoes the
/// activation with [`Activation::backprop_batch`], from the layer's outputs and what
/// [`Layer::kept`] returns, or lets the loss do it in one fused step for the output layer
/// (softmax with cross-entropy gives `dz = y - t`).
///
/// Batches are arrays of `B` rows, `B` a `const` chosen by the caller, so a layer never
/// allocates: every buffer is owned by the caller and sized by its type. The network keeps each
/// layer's input and output for the backward pass; anything else a layer needs between its
/// forward and backward passes lives in its [`Layer::Tape`], allocated once per batch size,
/// including the pre-activations of an activation whose derivative reads them (see
/// [`Layer::kept`]).
///
/// Every network `network!` defines is also a `Layer`, so networks compose; a type of your own
/// implementing `Layer` (and [`Initialize`]) is used in `network!` by name, as `=> Scale2x =>`.
///
/// # Example: a layer of your own
///
/// A layer without parameters that doubles its input, `y = 2x`, `dx = 2 dz`:
///
/// ```
/// use netdsl_core::activation::Linear;
/// use netdsl_core::layer::{Initialize, Layer};
///
/// /// Doubles each of its 64 inputs.
/// struct Scale2x;
///
/// impl Layer for Scale2x {
///     type In = [f32; 64];
///     type Out = [f32; 64];
///     type Activation = Linear;
///     type Grads = ();
///     type Tape<const B: usize> = ();
///     const KIND: &'static str = "Scale2x";
///
///     fn new_tape<const B: usize>(&self) {}
///
///     fn forward<const B: usize>(&self, x: &[[f32; 64]; B], y: &mut [[f32; 64]; B], _: &mut ()) {
///         for (y, x) in y.iter_mut().flatten().zip(x.iter().flatten()) {
///             *y = 2.0 * x;
///         }
///     }
///
///     fn backward<const B: usize>(
///         &self,
///         _x: &[[f32; 64]; B],
///         dz: &[[f32; 64]; B],
///         dx: Option<&mut [[f32; 64]; B]>,
///         _grads: &mut (),
///         _tape: &mut (),
///     ) {
///         if let Some(dx) = dx {
///             for (dx, dz) in dx.iter_mut().flatten().zip(dz.iter().flatten()) {
///                 *dx = 2.0 * dz;
///             }
///         }
///     }
///
///     fn new_grads(&self) {}
///     fn parameter_count(&self) -> usize { 0 }
///     fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}
/// }
///
/// /// How `network!`'s `new(&mut rng)` builds it.
/// impl Initialize for Scale2x {
///     fn initialize<R: rand::Rng + ?Sized>(_rng: &mut R) -> Self {
///         Scale2x
///     }
/// }
///
/// let mut y = [[0.0; 64]; 2];
/// Scale2x.forward(&[[1.5; 64]; 2], &mut y, &mut ());
/// assert_eq!(y, [[3.0; 64]; 2]);
/// let mut dx = [[0.0; 64]; 2];
/// Scale2x.backward(&[[1.5; 64]; 2], &[[0.25; 64]; 2], Some(&mut dx), &mut (), &mut ());
/// assert_eq!(dx, [[0.5; 64]; 2]);
/// ```
///
/// With it in scope, `network! { struct Net<64 => Scale2x => Dense(10, softmax)>; }` compiles,
/// and `network! { struct Net<32 => Scale2x => ...>; }` does not: its input width is checked
/// against the 64 `Scale2x` takes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a layer",
    label = "not a layer",
    note = "a layer of `network!` is `Dense(..)`, a network defined with `network!`, or a type implementing `netdsl::layer::Layer`"
)]
pub trait Layer {
    /// One input row, `[f32; I]`.
    type In: Row;
    /// One output row, `[f32; O]`.
    type Out: Row;
    /// The activation the forward pass ends with.
    type Activation: Activation;
    /// The gradients of this layer's parameters, shaped like the parameters.
    type Grads;
    /// What the layer keeps between the forward and backward passes of a batch of `B`, besides
    /// its input and output; `()` for most layers, the whole tape for a network used as a layer.
    type Tape<const B: usize>;

    /// The layer's kind as `summary()` prints it, e.g. `"Dense"`.
    const KIND: &'static str;

    /// Allocates the tape for batches of `B` samples.
    fn new_tape<const B: usize>(&self) -> Self::Tape<B>;

    /// `y = f(layer(x))` for every row of the batch.
    fn forward<const B: usize>(
        &self,
        x: &[Self::In; B],
        y: &mut [Self::Out; B],
        tape: &mut Self::Tape<B>,
    );

    /// `y = f(layer(x))` for one sample, without allocating. The default runs
    /// [`Layer::forward`] on a batch of one with a fresh tape: override it if
    /// [`Layer::new_tape`] allocates.
    fn infer(&self, x: &Self::In, y: &mut Self::Out) {
        let mut tape = self.new_tape::<1>();
        self.forward(
            core::array::from_ref(x),
            core::array::from_mut(y),
            &mut tape,
        );
    }

    /// Writes the parameter gradients of the batch last passed to [`Layer::forward`] with
    /// `tape` into `grads` (overwriting, not adding) and, when `dx` is given, the gradient with
    /// respect to the input.
    fn backward<const B: usize>(
        &self,
        x: &[Self::In; B],
        dz: &[Self::Out; B],
        dx: Option<&mut [Self::In; B]>,
        grads: &mut Self::Grads,
        tape: &mut Self::Tape<B>,
    );

    /// What the activation kept of the batch last passed to [`Layer::forward`] with `tape`,
    /// which [`Activation::backprop_batch`] reads: nothing (`()`) for an activation whose
    /// derivative reads its outputs ([`Outputs`](crate::activation::Outputs): relu, sigmoid,
    /// tanh, softmax, ...), the batch's pre-activations for one that reads its inputs
    /// ([`Inputs`](crate::activation::Inputs): silu, gelu, mish, hard_silu).
    ///
    /// The default returns nothing, and fits every layer whose activation reads its outputs. A
    /// layer ending with an activation that reads its inputs keeps them in its tape, handing
    /// them to [`Activation::apply_batch`] in its forward pass, and returns them here; with the
    /// default, a network using it does not build (`cargo build`, not `cargo check`, reports
    /// it: the check is a constant evaluated when the default is compiled for that layer):
    ///
    /// ```compile_fail,E0080
    /// use netdsl_core::activation::{Activation, Silu};
    /// use netdsl_core::layer::Layer;
    ///
    /// /// `y = silu(x)` on 4 values, keeping nothing for its backward pass.
    /// struct Forgetful;
    ///
    /// impl Layer for Forgetful {
    ///     type In = [f32; 4];
    ///     type Out = [f32; 4];
    ///     type Activation = Silu;
    ///     type Grads = ();
    ///     type Tape<const B: usize> = ();
    ///     const KIND: &'static str = "Forgetful";
    ///
    ///     fn new_tape<const B: usize>(&self) {}
    ///     fn forward<const B: usize>(&self, x: &[[f32; 4]; B], y: &mut [[f32; 4]; B], _: &mut ()) {
    ///         *y = *x;
    ///         y.iter_mut().for_each(|y| Silu::apply(y));
    ///     }
    ///     fn backward<const B: usize>(
    ///         &self,
    ///         _: &[[f32; 4]; B],
    ///         dz: &[[f32; 4]; B],
    ///         dx: Option<&mut [[f32; 4]; B]>,
    ///         _: &mut (),
    ///         _: &mut (),
    ///     ) {
    ///         dx.map(|dx| *dx = *dz);
    ///     }
    ///     fn new_grads(&self) {}
    ///     fn parameter_count(&self) -> usize { 0 }
    ///     fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}
    /// }
    ///
    /// // What a network's backward pass asks of it, which the default cannot give: "a layer
    /// // whose activation reads its inputs [...] keeps them in its tape: implement `Layer::kept`"
    /// let _ = Forgetful::kept::<1>(&());
    /// ```
    fn kept<const B: usize>(tape: &Self::Tape<B>) -> &Kept<Self::Activation, Self::Out, B> {
        let _ = tape;
        <<Self::Activation as Activation>::Keeps as Keep>::nothing_kept()
    }

    /// The mask of the output of the batch last passed to [`Layer::forward`] with `tape`: `B`
    /// rows of one flag per step of the output sequence, `false` where a step is padding (see
    /// [`crate::mask`]), or `None` when the output carries no mask of the layer's making.
    ///
    /// The default makes none. A layer that makes masks (`Masking`) keeps the batch's in its
    /// tape, in a [`StepMask`](crate::mask::StepMask), and returns it here; `network!` hands it
    /// to the layers after it that read masks, through [`Layer::set_input_mask`].
    fn output_mask<const B: usize>(tape: &Self::Tape<B>) -> Option<&[bool]> {
        let _ = tape;
        None
    }

    /// Gives the layer the mask of its input, `B` rows of one flag per step (see
    /// [`crate::mask`]), for the forward passes with `tape` from now on and their backward
    /// passes; `None` takes it back (a new tape has none).
    ///
    /// The default ignores it. A layer that reads masks (a recurrent layer, which leaves its
    /// state as it was over a padded step) copies it into its tape, where its backward pass
    /// finds it too; `network!` calls this before the layer's forward pass.
    fn set_input_mask<const B: usize>(&self, _tape: &mut Self::Tape<B>, _mask: Option<&[bool]>) {}

    /// [`Layer::infer`] of one sample whose steps `mask` says are data or padding (its first
    /// flags, one per step), writing the mask of the output into the start of `output_mask`
    /// (one flag per step) when the layer makes one, and returning whether it did. An empty
    /// `output_mask` asks for none: the layer writes nothing and returns `false`.
    ///
    /// The default infers without the mask and makes none, which fits every layer that neither
    /// reads nor makes masks. Single-sample inference (`predict`) of a network reads and hands
    /// on masks through it, as its forward pass does through [`Layer::set_input_mask`] and
    /// [`Layer::output_mask`].
    fn infer_masked(
        &self,
        x: &Self::In,
        mask: Option<&[bool]>,
        y: &mut Self::Out,
        output_mask: &mut [bool],
    ) -> bool {
        let _ = (mask, output_mask);
        self.infer(x, y);
        false
    }

    /// Tells the layer whether the batches that `tape` goes with from now on are training
    /// batches (`fit`) or not (`evaluate`, `predict`; a new tape starts out not training). Only
    /// layers that behave differently, such as dropout, care, and keep the mode in their tape
    /// rather than in the layer, so that each thread of a parallel `fit` sets its own tape while
    /// all of them share the layer; networks pass it on to their layers' tapes.
    fn set_training<const B: usize>(&self, _tape: &mut Self::Tape<B>, _training: bool) {}

    /// Sets the precision of the matrix products of the passes with `tape` from now on (a new
    /// tape starts out [`Precision::F32`]): [`Precision::Bf16`] rounds their operands to bf16
    /// and sums in f32, on AMX or AVX-512-BF16 where the CPU has them (see [`Precision`]).
    /// Weights and gradients stay f32. Kept in the tape, as the training mode is, so that a
    /// trainer's tapes train in bf16 while another tape of the same network infers in f32.
    ///
    /// The default ignores it. `Dense`, `Conv1d`, `Conv2d` and the recurrent layers keep it;
    /// networks and joins pass it on to their layers; the others (attention and `DenseSteps`
    /// among them) compute in f32 whatever the precision.
    ///
    /// ```
    /// use netdsl_core::activation::Linear;
    /// use netdsl_core::kernels::Precision;
    /// use netdsl_core::layer::Layer;
    /// use netdsl_core::layers::Dense;
    ///
    /// let dense = Dense::<3, 2, Linear>::from_parameters([[1.0, 0.0], [0.5, 1.0], [0.0, 2.0]], None);
    /// let mut tape = dense.new_tape::<1>();
    /// dense.set_precision(&mut tape, Precision::Bf16);
    /// let mut y = [[0.0; 2]];
    /// dense.forward(&[[1.0, 2.0, 1.0 / 3.0]], &mut y, &mut tape);
    /// // 1/3 in bf16 is 0.333984375: the second output shows the rounding (where the CPU
    /// // computes bf16; elsewhere it is the f32 product).
    /// assert!((y[0][1] - (2.0 + 2.0 / 3.0)).abs() < 4e-3);
    /// ```
    fn set_precision<const B: usize>(&self, _tape: &mut Self::Tape<B>, _precision: Precision) {}

    /// Moves the random generators in `tape` (dropout's masks) to stream `stream` of the
    /// layer's seed. `fit` gives each thread's tape a stream of its own before every step,
    /// from the optimizer's step count and the thread, so that threads draw different values
    /// and a resumed fit draws what the fit it resumes would have; stream 0 is where
    /// [`Layer::new_tape`] starts. Layers without randomness keep the default, which does
    /// nothing; networks pass it on to their layers.
    fn seed_tape<const B: usize>(&self, _tape: &mut Self::Tape<B>, _stream: u64) {}

    /// Tells the layer that only the first `rows` rows of the batches that `tape` goes with
    /// from now on are samples, the others padding: the last batch of an epoch may hold fewer
    /// than `B` samples, and `fit` fills the rest of the batch with whatever the rows held
    /// before, ignores their outputs and gives them a zero gradient. A new tape takes all `B`
    /// rows as samples. Only layers that mix the samples of a batch care, such as batch
    /// normalization, which leaves the padding out of its statistics (and gives it no input
    /// gradient); networks pass it on to their layers.
    fn set_rows<const B: usize>(&self, _tape: &mut Self::Tape<B>, _rows: usize) {}

    /// Moves the state the layer keeps without training it (batch normalization's moving
    /// statistics, see [`Layer::visit_non_trainable`]) by what the last forward pass with
    /// `tape` measured, if that pass trained.
    ///
    /// `fit` calls it once per training step, after the optimizer's update, with the tape of
    /// each of the `threads` threads that trained the step (one without `Fit::threads`),
    /// `thread` going from 0 up: the state moves by the mean of what the threads measured, each
    /// on its own `B` samples, as Keras' layers under TensorFlow's `MirroredStrategy` do. A
    /// moving average `m ← m · momentum + batch · (1 - momentum)` thus decays `m` when `thread`
    /// is 0 and adds `batch_k · (1 - momentum) / threads` for each thread `k`. Layers without
    /// such state keep the default, which does nothing; networks pass it on to their layers.
    fn update_state<const B: usize>(
        &mut self,
        _tape: &Self::Tape<B>,
        _thread: usize,
        _threads: usize,
    ) {
    }

    /// The penalty of the layer's weights, Keras' regularization losses: the sum of each
    /// regularized tensor's [`Regularizer::penalty`](crate::regularizer::Regularizer::penalty)
    /// (see [`crate::regularizer`]). `evaluate` and `fit`'s validation add it to each batch's
    /// mean loss, as Keras 3 does. The default is 0; networks add up their layers'.
    fn regularization(&self) -> f64 {
        0.0
    }

    /// Adds `scale` times the gradient of [`Layer::regularization`] to `grads`, which
    /// [`Layer::backward`] wrote, and returns the penalty. `fit` calls it after each thread's
    /// backward pass, with `scale` the thread's share of the step's samples, so that the
    /// threads' gradients sum to the penalty's once. Allocates nothing. The default adds nothing
    /// and returns 0; networks pass it on to their layers.
    fn regularize(&self, grads: &mut Self::Grads, scale: f32) -> f64 {
        let _ = (grads, scale);
        0.0
    }

    /// Gradient buffers for this layer, allocated once.
    fn new_grads(&self) -> Self::Grads;

    /// The number of trainable parameters.
    fn parameter_count(&self) -> usize;

    /// The number of values the layer keeps without training them: Keras' non-trainable
    /// weights, such as batch normalization's moving mean and variance. They are saved with the
    /// weights ([`Layer::visit_tensors`]) and moved by [`Layer::update_state`], never by an
    /// optimizer. The default is 0; networks add up their layers'.
    fn non_trainable_count(&self) -> usize {
        0
    }

    /// Calls `visit` with each tensor the layer keeps without training it, flattened, in a
    /// fixed order ([`Layer::non_trainable_count`] values in all). Optimizers never see them;
    /// `fit`'s callbacks do, after the parameters, so that `EarlyStopping` restores a whole
    /// model as Keras' `get_weights` and `set_weights` would. The default visits nothing;
    /// networks visit their layers'.
    fn visit_non_trainable(&mut self, _visit: &mut dyn FnMut(&mut [f32])) {}

    /// Calls `visit` with each parameter tensor and its gradient, flattened, in a fixed order.
    /// Optimizers update parameters through this, clipping the gradients in place first if
    /// asked to.
    fn visit_parameters(
        &mut self,
        grads: &mut Self::Grads,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    );

    /// Calls `visit` with each gradient tensor of `grads`, in the order of
    /// [`Layer::visit_parameters`], without the layer, and returns `true`; or returns `false`
    /// having visited nothing, or not all. The default returns `false`.
    ///
    /// On several threads, `fit` sums the gradients of two threads in place when the network
    /// visits them this way, and otherwise copies one thread's first: the same result, a few
    /// microseconds slower a step. Every layer of netdsl and every network `network!` defines
    /// visits them.
    fn visit_gradients(grads: &mut Self::Grads, visit: &mut dyn FnMut(&mut [f32])) -> bool {
        let _ = (grads, visit);
        false
    }

    /// Calls `visit` with each parameter tensor's name, shape and values, for
    /// [saving](crate::weights): Keras' names (`"kernel"`, `"bias"`) and shapes (`[inputs,
    /// units]` for a dense kernel), the non-trainable tensors included (batch normalization's
    /// `"moving_mean"`), as Keras saves them. Networks visit their layers with the layer's name
    /// in front (`"dense_1.kernel"`). Layers without parameters keep the default, which visits
    /// nothing; a layer with parameters that keeps it cannot be saved (an error, not a silent
    /// loss).
    /// Implementations spell the argument with the alias: `visit: &mut TensorVisitor<'_>`.
    fn visit_tensors(&self, _visit: &mut TensorVisitor<'_>) {}

    /// [`Layer::visit_tensors`] with the values mutable, for loading: the same names and shapes.
    fn visit_tensors_mut(&mut self, _visit: &mut TensorVisitorMut<'_>) {}

    /// Writes the layer's ONNX nodes into `graph`, reading the batch `x` (`x.shape` is what the
    /// layer before made of its rows: reshape it with [`Graph::reshape`] to the shape you need),
    /// and returns the value they output, with its shape; for
    /// [`Network::export_onnx`](crate::network::Network::export_onnx). Networks write their
    /// layers' in turn, each in the [scope](crate::onnx::Graph::scoped) of its name. The default is
    /// [`Error::UnsupportedLayer`], so a layer of yours without this method makes the export an
    /// error naming its [`Layer::KIND`], never a wrong graph.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedLayer`] or [`Error::UnsupportedActivation`], for the layer or a part
    /// of it that has no ONNX form.
    ///
    /// [`Graph::reshape`]: crate::onnx::Graph::reshape
    /// [`Error::UnsupportedLayer`]: crate::onnx::Error::UnsupportedLayer
    /// [`Error::UnsupportedActivation`]: crate::onnx::Error::UnsupportedActivation
    #[cfg(feature = "onnx")]
    #[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
    fn onnx(
        &self,
        graph: &mut crate::onnx::Graph,
        x: crate::onnx::Value,
    ) -> Result<crate::onnx::Value, crate::onnx::Error> {
        let _ = (graph, x);
        Err(crate::onnx::Error::UnsupportedLayer { kind: Self::KIND })
    }
}

/// How `network!`'s `new(&mut rng)` builds a layer given by name (a network, or a type of
/// yours): networks draw fresh weights, parameterless layers just exist.
#[diagnostic::on_unimplemented(
    message = "`network!` cannot build `{Self}` with `new(&mut rng)`",
    label = "`Initialize` is not implemented for this layer",
    note = "implement `netdsl::layer::Initialize` for `{Self}` to say how a new network creates it"
)]
pub trait Initialize {
    /// A new layer, drawing any random weights from `rng`.
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self;
}

/// Views a batch of rows as a batch of another row type of the same width: how `network!`
/// feeds a layer given by name, whose input type it cannot name. The widths are equal whenever
/// the network compiles, because `network!` asserts it at compile time.
///
/// # Panics
///
/// If the two batches differ in size, which the compile-time width checks rule out.
#[inline(always)]
pub fn reinterpret<A: bytemuck::Pod, B: bytemuck::Pod>(batch: &A) -> &B {
    bytemuck::cast_ref(batch)
}

/// [`reinterpret`], mutably.
///
/// # Panics
///
/// As for [`reinterpret`].
#[inline(always)]
pub fn reinterpret_mut<A: bytemuck::Pod, B: bytemuck::Pod>(batch: &mut A) -> &mut B {
    bytemuck::cast_mut(batch)
}
