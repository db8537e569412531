//! Networks that are not chains: a residual block (`y = f(x + g(x))`) and branches from one
//! input joined by addition or by concatenation on the last axis.
//!
//! Each branch is a [`Layer`] (`network!` makes one network per branch), so a join is written
//! once for every kind of branch. A branch's tape keeps its output and a buffer for the
//! gradient arriving at it, allocated with the tape like every other buffer of a batch.
//!
//! A join given the mask of its input ([`crate::mask`]) gives it to each branch, as Keras gives
//! a tensor's mask to every layer reading it; the mask of the join's output is `network!`'s to
//! work out (a `Bidirectional` that returns every step passes its input's on).

use core::marker::PhantomData;

use bytemuck::Zeroable;
use rand::Rng;

use crate::activation::{Activation, Keep, Kept, Linear};
use crate::buffer::Buffer;
use crate::kernels::Precision;
use crate::layer::{Initialize, Layer, Row, TensorVisitor, TensorVisitorMut};
#[cfg(feature = "onnx")]
use crate::onnx;

/// What a branch keeps between the passes of a batch of `B`: its output, the gradient of the
/// loss with respect to it, and its own tape.
pub struct BranchTape<L: Layer, const B: usize> {
    output: Buffer<[L::Out; B]>,
    grad: Buffer<[L::Out; B]>,
    tape: L::Tape<B>,
}

impl<L: Layer, const B: usize> BranchTape<L, B> {
    fn new(layer: &L) -> Self {
        BranchTape {
            output: Buffer::zeroed(),
            grad: Buffer::zeroed(),
            tape: layer.new_tape::<B>(),
        }
    }

    /// The branch's output for the last batch passed forward.
    pub fn output(&self) -> &[L::Out; B] {
        &self.output
    }

    /// Runs the branch forward on `x`, keeping its output.
    fn forward(&mut self, layer: &L, x: &[L::In; B]) {
        layer.forward(x, &mut self.output, &mut self.tape);
    }

    /// Runs the branch backward from the gradient of the loss with respect to its output
    /// (after its activation), which the join has written into `self.grad`; the activation is
    /// undone first, from what it kept.
    fn backward(
        &mut self,
        layer: &L,
        x: &[L::In; B],
        dx: Option<&mut [L::In; B]>,
        grads: &mut L::Grads,
    ) {
        L::Activation::backprop_batch(&self.output, L::kept(&self.tape), &mut self.grad);
        layer.backward(x, &self.grad, dx, grads, &mut self.tape);
    }
}

/// `a + b`, value by value.
fn sum<R: Row>(a: &R, b: &R) -> R {
    let mut out = *a;
    for (o, b) in out.values_mut().iter_mut().zip(b.values()) {
        *o += b;
    }
    out
}

/// A residual block: `y = f(x + g(x))`, `g` a chain of layers that keeps the shape of its input
/// (Keras: `f(layers.add([x, g(x)]))`). `network!` writes it
/// `=> Residual(Conv2d(32, 3, linear, padding = same) => Conv2d(32, 3, linear, padding = same), relu) =>`.
///
/// Backward, from `dz = dL/d(x + g(x))`: `g`'s backward from `dz`, and `dx = dz + dx_g`.
///
/// ```
/// use netdsl_core::activation::{Linear, Relu};
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::{Dense, Residual};
///
/// // g(x) = 2x, so y = relu(x + 2x).
/// let block = Residual::<_, Relu>::new(Dense::<2, 2, Linear>::from_parameters(
///     [[2.0, 0.0], [0.0, 2.0]],
///     None,
/// ));
/// let mut y = [0.0; 2];
/// block.infer(&[1.0, -1.0], &mut y);
/// assert_eq!(y, [3.0, 0.0]);
/// ```
pub struct Residual<L, A> {
    inner: L,
    activation: PhantomData<A>,
}

impl<L, A> Residual<L, A> {
    /// The block around the chain `inner`.
    pub const fn new(inner: L) -> Self {
        Residual {
            inner,
            activation: PhantomData,
        }
    }

    /// The chain `g`.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// The chain `g`, mutably.
    pub fn inner_mut(&mut self) -> &mut L {
        &mut self.inner
    }
}

impl<L: Clone, A> Clone for Residual<L, A> {
    fn clone(&self) -> Self {
        Residual::new(self.inner.clone())
    }
}

impl<L: core::fmt::Debug, A: Activation> core::fmt::Debug for Residual<L, A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Residual")
            .field("inner", &self.inner)
            .field("activation", &A::NAME)
            .finish()
    }
}

/// What a [`Residual`] block keeps between the passes of a batch of `B`: the chain's tape, and
/// what the block's activation keeps ([`Layer::kept`]: nothing, or the sums `x + g(x)`).
pub struct ResidualTape<L: Layer, const B: usize, K = ()> {
    branch: BranchTape<L, B>,
    kept: K,
}

impl<L, A> Layer for Residual<L, A>
where
    L: Layer<Out = <L as Layer>::In>,
    A: Activation,
{
    type In = L::In;
    type Out = L::In;
    type Activation = A;
    type Grads = L::Grads;
    type Tape<const B: usize> = ResidualTape<L, B, Kept<A, L::In, B>>;

    const KIND: &'static str = "Residual";

    fn new_tape<const B: usize>(&self) -> Self::Tape<B> {
        ResidualTape {
            branch: BranchTape::new(&self.inner),
            kept: A::Keeps::new_batch(),
        }
    }

    fn forward<const B: usize>(
        &self,
        x: &[L::In; B],
        y: &mut [L::In; B],
        tape: &mut Self::Tape<B>,
    ) {
        tape.branch.forward(&self.inner, x);
        for ((y, x), g) in y.iter_mut().zip(x).zip(tape.branch.output.iter()) {
            *y = sum(x, g);
        }
        A::apply_batch(y, &mut tape.kept);
    }

    fn kept<const B: usize>(tape: &Self::Tape<B>) -> &Kept<A, L::In, B> {
        &tape.kept
    }

    fn infer(&self, x: &L::In, y: &mut L::In) {
        self.infer_masked(x, None, y, &mut []);
    }

    fn infer_masked(
        &self,
        x: &L::In,
        mask: Option<&[bool]>,
        y: &mut L::In,
        _output_mask: &mut [bool],
    ) -> bool {
        let mut g = L::In::zeroed();
        self.inner.infer_masked(x, mask, &mut g, &mut []);
        *y = sum(x, &g);
        A::apply(y.values_mut());
        false
    }

    fn set_input_mask<const B: usize>(&self, tape: &mut Self::Tape<B>, mask: Option<&[bool]>) {
        self.inner.set_input_mask(&mut tape.branch.tape, mask);
    }

    fn backward<const B: usize>(
        &self,
        x: &[L::In; B],
        dz: &[L::In; B],
        dx: Option<&mut [L::In; B]>,
        grads: &mut L::Grads,
        tape: &mut Self::Tape<B>,
    ) {
        tape.branch.grad.copy_from_slice(dz);
        match dx {
            Some(dx) => {
                tape.branch.backward(&self.inner, x, Some(&mut *dx), grads);
                for (dx, dz) in dx.iter_mut().zip(dz) {
                    *dx = sum(dx, dz);
                }
            }
            None => tape.branch.backward(&self.inner, x, None, grads),
        }
    }

    fn set_training<const B: usize>(&self, tape: &mut Self::Tape<B>, training: bool) {
        self.inner.set_training(&mut tape.branch.tape, training);
    }

    fn set_precision<const B: usize>(&self, tape: &mut Self::Tape<B>, precision: Precision) {
        self.inner.set_precision(&mut tape.branch.tape, precision);
    }

    fn seed_tape<const B: usize>(&self, tape: &mut Self::Tape<B>, stream: u64) {
        self.inner.seed_tape(&mut tape.branch.tape, stream);
    }

    fn set_rows<const B: usize>(&self, tape: &mut Self::Tape<B>, rows: usize) {
        self.inner.set_rows(&mut tape.branch.tape, rows);
    }

    fn update_state<const B: usize>(
        &mut self,
        tape: &Self::Tape<B>,
        thread: usize,
        threads: usize,
    ) {
        self.inner.update_state(&tape.branch.tape, thread, threads);
    }

    fn regularization(&self) -> f64 {
        self.inner.regularization()
    }

    fn regularize(&self, grads: &mut L::Grads, scale: f32) -> f64 {
        self.inner.regularize(grads, scale)
    }

    fn new_grads(&self) -> L::Grads {
        self.inner.new_grads()
    }

    fn parameter_count(&self) -> usize {
        self.inner.parameter_count()
    }

    fn non_trainable_count(&self) -> usize {
        self.inner.non_trainable_count()
    }

    fn visit_non_trainable(&mut self, visit: &mut dyn FnMut(&mut [f32])) {
        self.inner.visit_non_trainable(visit);
    }

    fn visit_parameters(
        &mut self,
        grads: &mut L::Grads,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        self.inner.visit_parameters(grads, visit);
    }

    fn visit_gradients(grads: &mut L::Grads, visit: &mut dyn FnMut(&mut [f32])) -> bool {
        L::visit_gradients(grads, visit)
    }

    /// The chain's tensors under their own names: `network!` numbers the layers of a block
    /// with those of the network around it, as Keras does, so the names are unique.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        self.inner.visit_tensors(visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        self.inner.visit_tensors_mut(visit);
    }

    /// The chain's nodes, an `Add` of its input, then the activation.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let y = self.inner.onnx(graph, x.clone())?;
        let x = graph.reshape(x, &y.shape);
        let z = graph.node("Add", &[&x.name, &y.name], Vec::new(), y.shape.clone());
        graph.activation(A::NAME, z)
    }
}

impl<L: Initialize, A> Initialize for Residual<L, A> {
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Residual::new(L::initialize(rng))
    }
}

/// Two branches from one input, joined value by value (`Add`) or along the last axis
/// (`Concatenate`): `J` says how.
pub struct Join<J, L1, L2> {
    first: L1,
    second: L2,
    join: PhantomData<J>,
}

impl<J, L1, L2> Join<J, L1, L2> {
    /// The join of the branches `first` and `second`.
    pub const fn new(first: L1, second: L2) -> Self {
        Join {
            first,
            second,
            join: PhantomData,
        }
    }

    /// The first branch.
    pub fn first(&self) -> &L1 {
        &self.first
    }

    /// The second branch.
    pub fn second(&self) -> &L2 {
        &self.second
    }
}

impl<J, L1: Clone, L2: Clone> Clone for Join<J, L1, L2> {
    fn clone(&self) -> Self {
        Join::new(self.first.clone(), self.second.clone())
    }
}

impl<J: JoinRule, L1: core::fmt::Debug, L2: core::fmt::Debug> core::fmt::Debug for Join<J, L1, L2> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct(J::KIND)
            .field("first", &self.first)
            .field("second", &self.second)
            .finish()
    }
}

/// How a [`Join`] combines its branches' outputs, and splits the gradient of the result
/// between them.
pub trait JoinRule {
    /// The join's kind, as `summary()` prints it.
    const KIND: &'static str;
    /// The joined row.
    type Out<A: Row, B: Row>: Row;
    /// The joined row of the branches' rows `a` and `b`.
    fn join<A: Row, B: Row>(a: &A, b: &B, out: &mut Self::Out<A, B>);
    /// The gradients of the branches' rows given that of the joined row.
    fn split<A: Row, B: Row>(grad: &Self::Out<A, B>, a: &mut A, b: &mut B);

    /// The join's ONNX nodes, from the branches' outputs `a` and `b` (of rows `A` and `B`);
    /// by default there are none, and the export is [`onnx::Error::UnsupportedLayer`].
    ///
    /// # Errors
    ///
    /// An [`onnx::Error`] naming what has no ONNX form.
    #[cfg(feature = "onnx")]
    fn onnx<A: Row, B: Row>(
        graph: &mut onnx::Graph,
        a: onnx::Value,
        b: onnx::Value,
    ) -> Result<onnx::Value, onnx::Error> {
        let _ = (graph, a, b);
        Err(onnx::Error::UnsupportedLayer { kind: Self::KIND })
    }
}

/// Addition of branches of one shape (Keras' `Add`): `y = a + b`, `da = db = dy`.
pub struct Sum;

impl JoinRule for Sum {
    const KIND: &'static str = "Add";
    type Out<A: Row, B: Row> = A;

    /// `Add`.
    #[cfg(feature = "onnx")]
    fn onnx<A: Row, B: Row>(
        graph: &mut onnx::Graph,
        a: onnx::Value,
        b: onnx::Value,
    ) -> Result<onnx::Value, onnx::Error> {
        let b = graph.reshape(b, &a.shape);
        Ok(graph.node("Add", &[&a.name, &b.name], Vec::new(), a.shape.clone()))
    }

    fn join<A: Row, B: Row>(a: &A, b: &B, out: &mut A) {
        for ((o, a), b) in out.values_mut().iter_mut().zip(a.values()).zip(b.values()) {
            *o = a + b;
        }
    }

    fn split<A: Row, B: Row>(grad: &A, a: &mut A, b: &mut B) {
        a.values_mut().copy_from_slice(grad.values());
        b.values_mut().copy_from_slice(grad.values());
    }
}

/// Concatenation on the last axis (Keras' `Concatenate(axis=-1)`) of branches whose rows are
/// `POSITIONS` positions (pixels, time steps, or 1 for vectors) of their own number of
/// channels, into `O`, of the sum of theirs: at each position, the first branch's channels,
/// then the second's.
pub struct Channels<O, const POSITIONS: usize>(PhantomData<O>);

impl<O: Row, const POSITIONS: usize> Channels<O, POSITIONS> {
    /// The channels of each branch at a position, checked as the join is compiled.
    const fn channels(a: usize, b: usize) -> (usize, usize) {
        assert!(
            a.is_multiple_of(POSITIONS) && b.is_multiple_of(POSITIONS) && a + b == O::WIDTH,
            "Concatenate: the branches' rows do not split into positions of channels that add up to the output's"
        );
        (a / POSITIONS, b / POSITIONS)
    }
}

impl<O: Row, const POSITIONS: usize> JoinRule for Channels<O, POSITIONS> {
    const KIND: &'static str = "Concatenate";
    type Out<A: Row, B: Row> = O;

    /// `Concat` of each position's channels.
    #[cfg(feature = "onnx")]
    fn onnx<A: Row, B: Row>(
        graph: &mut onnx::Graph,
        a: onnx::Value,
        b: onnx::Value,
    ) -> Result<onnx::Value, onnx::Error> {
        let (ca, cb) = const { Self::channels(A::WIDTH, B::WIDTH) };
        let a = graph.reshape(a, &[POSITIONS, ca]);
        let b = graph.reshape(b, &[POSITIONS, cb]);
        let axis = vec![onnx::Attribute::int("axis", 2)];
        Ok(graph.node(
            "Concat",
            &[&a.name, &b.name],
            axis,
            vec![POSITIONS, ca + cb],
        ))
    }

    fn join<A: Row, B: Row>(a: &A, b: &B, out: &mut O) {
        let (ca, cb) = const { Self::channels(A::WIDTH, B::WIDTH) };
        let rows = out.values_mut().chunks_exact_mut(ca + cb);
        for ((o, a), b) in rows
            .zip(a.values().chunks_exact(ca.max(1)))
            .zip(b.values().chunks_exact(cb.max(1)))
        {
            o[..ca].copy_from_slice(a);
            o[ca..].copy_from_slice(b);
        }
    }

    fn split<A: Row, B: Row>(grad: &O, a: &mut A, b: &mut B) {
        let (ca, cb) = const { Self::channels(A::WIDTH, B::WIDTH) };
        let rows = grad.values().chunks_exact(ca + cb);
        for ((g, a), b) in rows
            .zip(a.values_mut().chunks_exact_mut(ca.max(1)))
            .zip(b.values_mut().chunks_exact_mut(cb.max(1)))
        {
            a.copy_from_slice(&g[..ca]);
            b.copy_from_slice(&g[ca..]);
        }
    }
}

/// Keras' `Add` of two branches: `y = first(x) + second(x)`. More branches nest:
/// `Add<A, Add<B, C>>`.
///
/// ```
/// use netdsl_core::activation::Linear;
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::{Add, Dense};
///
/// let double = Dense::<2, 2, Linear>::from_parameters([[2.0, 0.0], [0.0, 2.0]], None);
/// let swap = Dense::<2, 2, Linear>::from_parameters([[0.0, 1.0], [1.0, 0.0]], None);
/// let mut y = [0.0; 2];
/// Add::new(double, swap).infer(&[1.0, 10.0], &mut y);
/// assert_eq!(y, [12.0, 21.0]);
/// ```
pub type Add<L1, L2> = Join<Sum, L1, L2>;

/// Keras' `Concatenate` (on the last axis) of two branches whose outputs have `POSITIONS`
/// positions each, into rows `O`. More branches nest: `Concatenate<A, Concatenate<B, C, ..>, ..>`.
///
/// ```
/// use netdsl_core::activation::Linear;
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::{Concatenate, Dense};
///
/// let double = Dense::<2, 2, Linear>::from_parameters([[2.0, 0.0], [0.0, 2.0]], None);
/// let total = Dense::<2, 1, Linear>::from_parameters([[1.0], [1.0]], None);
/// let mut y = [0.0; 3];
/// Concatenate::<_, _, [f32; 3], 1>::new(double, total).infer(&[1.0, 10.0], &mut y);
/// assert_eq!(y, [2.0, 20.0, 11.0]);
/// ```
pub type Concatenate<L1, L2, O, const POSITIONS: usize> = Join<Channels<O, POSITIONS>, L1, L2>;

/// The two lines of a bidirectional recurrent layer concatenated on the last axis, as
/// [`Channels`] does; only the name differs, so that `summary()` says `Bidirectional`.
pub struct Lines<O, const POSITIONS: usize>(PhantomData<O>);

impl<O: Row, const POSITIONS: usize> JoinRule for Lines<O, POSITIONS> {
    const KIND: &'static str = "Bidirectional";
    type Out<A: Row, B: Row> = O;

    /// As [`Channels`]: each step's states side by side.
    #[cfg(feature = "onnx")]
    fn onnx<A: Row, B: Row>(
        graph: &mut onnx::Graph,
        a: onnx::Value,
        b: onnx::Value,
    ) -> Result<onnx::Value, onnx::Error> {
        Channels::<O, POSITIONS>::onnx::<A, B>(graph, a, b)
    }

    fn join<A: Row, B: Row>(a: &A, b: &B, out: &mut O) {
        Channels::<O, POSITIONS>::join(a, b, out);
    }

    fn split<A: Row, B: Row>(grad: &O, a: &mut A, b: &mut B) {
        Channels::<O, POSITIONS>::split(grad, a, b);
    }
}

/// Keras' `Bidirectional` wrapper with its `concat` merge: the recurrent layer `L1` over the
/// sequence and `L2` (a `Reverse`, a copy of the layer, and when it returns every step another
/// `Reverse`) over the reversed one, concatenated on the last axis. `network!` writes it
/// `=> Bidirectional(LSTM(32)) =>`.
pub type Bidirectional<L1, L2, O, const POSITIONS: usize> = Join<Lines<O, POSITIONS>, L1, L2>;

/// What a [`Join`] keeps between the passes of a batch of `B`: each branch's tape, and the
/// second branch's gradient with respect to the input, before it is added to the first's.
pub struct JoinTape<L1: Layer, L2: Layer, const B: usize> {
    first: BranchTape<L1, B>,
    second: BranchTape<L2, B>,
    second_dx: Buffer<[L1::In; B]>,
}

/// The parameter gradients of a [`Join`]: each branch's.
pub struct JoinGrads<G1, G2> {
    first: G1,
    second: G2,
}

impl<J, L1, L2> Layer for Join<J, L1, L2>
where
    J: JoinRule,
    L1: Layer,
    L2: Layer<In = L1::In>,
{
    type In = L1::In;
    type Out = J::Out<L1::Out, L2::Out>;
    type Activation = Linear;
    type Grads = JoinGrads<L1::Grads, L2::Grads>;
    type Tape<const B: usize> = JoinTape<L1, L2, B>;

    const KIND: &'static str = J::KIND;

    fn new_tape<const B: usize>(&self) -> JoinTape<L1, L2, B> {
        JoinTape {
            first: BranchTape::new(&self.first),
            second: BranchTape::new(&self.second),
            second_dx: Buffer::zeroed(),
        }
    }

    fn forward<const B: usize>(
        &self,
        x: &[L1::In; B],
        y: &mut [Self::Out; B],
        tape: &mut JoinTape<L1, L2, B>,
    ) {
        tape.first.forward(&self.first, x);
        tape.second.forward(&self.second, x);
        let outputs = tape.first.output.iter().zip(tape.second.output.iter());
        for (y, (a, b)) in y.iter_mut().zip(outputs) {
            J::join(a, b, y);
        }
    }

    fn infer(&self, x: &L1::In, y: &mut Self::Out) {
        self.infer_masked(x, None, y, &mut []);
    }

    fn infer_masked(
        &self,
        x: &L1::In,
        mask: Option<&[bool]>,
        y: &mut Self::Out,
        _output_mask: &mut [bool],
    ) -> bool {
        let (mut a, mut b) = (L1::Out::zeroed(), L2::Out::zeroed());
        self.first.infer_masked(x, mask, &mut a, &mut []);
        self.second.infer_masked(x, mask, &mut b, &mut []);
        J::join(&a, &b, y);
        false
    }

    fn set_input_mask<const B: usize>(
        &self,
        tape: &mut JoinTape<L1, L2, B>,
        mask: Option<&[bool]>,
    ) {
        self.first.set_input_mask(&mut tape.first.tape, mask);
        self.second.set_input_mask(&mut tape.second.tape, mask);
    }

    fn backward<const B: usize>(
        &self,
        x: &[L1::In; B],
        dz: &[Self::Out; B],
        dx: Option<&mut [L1::In; B]>,
        grads: &mut Self::Grads,
        tape: &mut JoinTape<L1, L2, B>,
    ) {
        let (first, second) = (&mut tape.first, &mut tape.second);
        // Each branch's share of the gradient, split once into the buffers its pass reads.
        for ((dz, a), b) in dz
            .iter()
            .zip(first.grad.iter_mut())
            .zip(second.grad.iter_mut())
        {
            J::split(dz, a, b);
        }
        match dx {
            Some(dx) => {
                first.backward(&self.first, x, Some(&mut *dx), &mut grads.first);
                let second_dx = &mut *tape.second_dx;
                second.backward(&self.second, x, Some(&mut *second_dx), &mut grads.second);
                for (dx, other) in dx.iter_mut().zip(second_dx.iter()) {
                    *dx = sum(dx, other);
                }
            }
            None => {
                first.backward(&self.first, x, None, &mut grads.first);
                second.backward(&self.second, x, None, &mut grads.second);
            }
        }
    }

    fn set_training<const B: usize>(&self, tape: &mut JoinTape<L1, L2, B>, training: bool) {
        self.first.set_training(&mut tape.first.tape, training);
        self.second.set_training(&mut tape.second.tape, training);
    }

    fn set_precision<const B: usize>(&self, tape: &mut JoinTape<L1, L2, B>, precision: Precision) {
        self.first.set_precision(&mut tape.first.tape, precision);
        self.second.set_precision(&mut tape.second.tape, precision);
    }

    fn seed_tape<const B: usize>(&self, tape: &mut JoinTape<L1, L2, B>, stream: u64) {
        self.first.seed_tape(&mut tape.first.tape, stream);
        self.second.seed_tape(&mut tape.second.tape, stream);
    }

    fn set_rows<const B: usize>(&self, tape: &mut JoinTape<L1, L2, B>, rows: usize) {
        self.first.set_rows(&mut tape.first.tape, rows);
        self.second.set_rows(&mut tape.second.tape, rows);
    }

    fn update_state<const B: usize>(
        &mut self,
        tape: &JoinTape<L1, L2, B>,
        thread: usize,
        threads: usize,
    ) {
        self.first.update_state(&tape.first.tape, thread, threads);
        self.second.update_state(&tape.second.tape, thread, threads);
    }

    fn regularization(&self) -> f64 {
        self.first.regularization() + self.second.regularization()
    }

    fn regularize(&self, grads: &mut Self::Grads, scale: f32) -> f64 {
        self.first.regularize(&mut grads.first, scale)
            + self.second.regularize(&mut grads.second, scale)
    }

    fn new_grads(&self) -> Self::Grads {
        JoinGrads {
            first: self.first.new_grads(),
            second: self.second.new_grads(),
        }
    }

    fn parameter_count(&self) -> usize {
        self.first.parameter_count() + self.second.parameter_count()
    }

    fn non_trainable_count(&self) -> usize {
        self.first.non_trainable_count() + self.second.non_trainable_count()
    }

    fn visit_non_trainable(&mut self, visit: &mut dyn FnMut(&mut [f32])) {
        self.first.visit_non_trainable(visit);
        self.second.visit_non_trainable(visit);
    }

    fn visit_parameters(
        &mut self,
        grads: &mut Self::Grads,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        self.first.visit_parameters(&mut grads.first, visit);
        self.second.visit_parameters(&mut grads.second, visit);
    }

    fn visit_gradients(grads: &mut Self::Grads, visit: &mut dyn FnMut(&mut [f32])) -> bool {
        L1::visit_gradients(&mut grads.first, visit)
            && L2::visit_gradients(&mut grads.second, visit)
    }

    /// Each branch's tensors under their own names (unique: see [`Residual::visit_tensors`]).
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        self.first.visit_tensors(visit);
        self.second.visit_tensors(visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        self.first.visit_tensors_mut(visit);
        self.second.visit_tensors_mut(visit);
    }

    /// Each branch's nodes from the same input, then the rule's ([`JoinRule::onnx`]).
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let a = self.first.onnx(graph, x.clone())?;
        let b = self.second.onnx(graph, x)?;
        J::onnx::<L1::Out, L2::Out>(graph, a, b)
    }
}

impl<J, L1: Initialize, L2: Initialize> Initialize for Join<J, L1, L2> {
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let first = L1::initialize(rng);
        Join::new(first, L2::initialize(rng))
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::activation::{Relu, Sigmoid, Tanh};
    use crate::layers::Dense;
    use crate::layers::gradcheck::{check_gradients, seeded, values};

    fn double() -> Dense<2, 2, Linear> {
        Dense::from_parameters([[2.0, 0.0], [0.0, 2.0]], None)
    }

    fn swap() -> Dense<2, 2, Linear> {
        Dense::from_parameters([[0.0, 1.0], [1.0, 0.0]], Some([0.5, -0.5]))
    }

    #[test]
    fn residual_of_literal_values() {
        let block = Residual::<_, Relu>::new(double());
        let mut tape = block.new_tape::<2>();
        let x = [[1.0, -1.0], [0.5, 2.0]];
        let mut y = [[0.0; 2]; 2];
        block.forward(&x, &mut y, &mut tape);
        assert_eq!(y, [[3.0, 0.0], [1.5, 6.0]]);
        // dz arrives after relu: the gradient flows through the identity and through 2x.
        let dz = [[1.0, 0.0], [2.0, -1.0]];
        let (mut dx, mut grads) = ([[0.0; 2]; 2], block.new_grads());
        block.backward(&x, &dz, Some(&mut dx), &mut grads, &mut tape);
        assert_eq!(dx, [[3.0, 0.0], [6.0, -3.0]]);
        // dW = xᵀ dz.
        assert_eq!(grads.weights(), &[[2.0, -0.5], [3.0, -2.0]]);
    }

    #[test]
    fn add_and_concatenate_of_literal_values() {
        let add = Add::new(double(), swap());
        let mut tape = add.new_tape::<1>();
        let mut y = [[0.0; 2]];
        add.forward(&[[1.0, 10.0]], &mut y, &mut tape);
        assert_eq!(y, [[12.5, 20.5]]);
        let mut dx = [[0.0; 2]];
        let mut grads = add.new_grads();
        add.backward(
            &[[1.0, 10.0]],
            &[[1.0, 3.0]],
            Some(&mut dx),
            &mut grads,
            &mut tape,
        );
        // Both branches get dz: 2·dz + swap(dz).
        assert_eq!(dx, [[5.0, 7.0]]);

        // Two positions of 1 and 2 channels: [a0, b0, b1, a1, b2, b3].
        let a = Dense::<2, 2, Linear>::from_parameters([[1.0, 0.0], [0.0, 1.0]], None);
        let b = Dense::<2, 4, Linear>::from_parameters([[1.0, 2.0, 3.0, 4.0], [0.0; 4]], None);
        let concat = Concatenate::<_, _, [f32; 6], 2>::new(a, b);
        let mut tape = concat.new_tape::<1>();
        let mut y = [[0.0; 6]];
        concat.forward(&[[1.0, 5.0]], &mut y, &mut tape);
        assert_eq!(y, [[1.0, 1.0, 2.0, 5.0, 3.0, 4.0]]);
        let mut dx = [[0.0; 2]];
        let mut grads = concat.new_grads();
        let dz = [[1.0, 0.5, 0.25, 2.0, 0.0, 1.0]];
        concat.backward(&[[1.0, 5.0]], &dz, Some(&mut dx), &mut grads, &mut tape);
        // a gets (1, 2), b gets (0.5, 0.25, 0, 1): dx = (1 + 0.5 + 0.5 + 0 + 4, 2).
        assert_eq!(dx, [[6.0, 2.0]]);
        assert_eq!(concat.parameter_count(), 4 + 8);
        assert_eq!(
            <Concatenate<Dense<2, 2, Linear>, Dense<2, 4, Linear>, [f32; 6], 2> as Layer>::KIND,
            "Concatenate"
        );
    }

    #[test]
    fn inference_agrees_with_the_batch() {
        let mut rng = seeded(5);
        let block =
            Residual::<_, Tanh>::new(Dense::<4, 4, Sigmoid>::glorot_uniform(&mut rng, true));
        let x = values::<[f32; 4], 3>(9);
        let mut y = [[0.0; 4]; 3];
        block.forward(&x, &mut y, &mut block.new_tape());
        for (x, y) in x.iter().zip(&y) {
            let mut one = [0.0; 4];
            block.infer(x, &mut one);
            assert_eq!(&one, y);
        }
    }

    #[test]
    fn residual_backward_matches_finite_differences() {
        let mut rng = seeded(1);
        let mut block =
            Residual::<_, Sigmoid>::new(Dense::<3, 3, Tanh>::glorot_uniform(&mut rng, true));
        let mut tape = block.new_tape::<2>();
        check_gradients(&mut block, &values(2), &values::<[f32; 3], 2>(3), &mut tape);
    }

    #[test]
    fn joins_backward_match_finite_differences() {
        let mut rng = seeded(4);
        let mut add = Add::new(
            Dense::<3, 4, Tanh>::glorot_uniform(&mut rng, true),
            Dense::<3, 4, Sigmoid>::glorot_uniform(&mut rng, true),
        );
        let mut tape = add.new_tape::<2>();
        check_gradients(&mut add, &values(5), &values::<[f32; 4], 2>(6), &mut tape);

        let mut concat = Concatenate::<_, _, [f32; 6], 2>::new(
            Dense::<3, 2, Tanh>::glorot_uniform(&mut rng, true),
            Dense::<3, 4, Sigmoid>::glorot_uniform(&mut rng, true),
        );
        let mut tape = concat.new_tape::<2>();
        check_gradients(
            &mut concat,
            &values(7),
            &values::<[f32; 6], 2>(8),
            &mut tape,
        );
    }
}
