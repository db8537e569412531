//! Cross-attention between two branches from one input: Keras' `MultiHeadAttention` called as
//! `mha(query, value)`, the query the output of one branch and the value that of another.
//!
//! The two branches are a [`Join`] whose rule, [`Pair`], lays their outputs one after the other,
//! `[query | value]`; a cross-attention [`MultiHeadAttention`](super::MultiHeadAttention) reads
//! that pair. Each branch is a [`Layer`] (`network!` makes one network per branch).

use core::marker::PhantomData;

use bytemuck::Zeroable;
use rand::Rng;

use super::join::{Join, JoinGrads, JoinRule, JoinTape};
use crate::activation::Kept;
use crate::buffer::Buffer;
use crate::kernels::Precision;
use crate::layer::{Initialize, Layer, Row, TensorVisitor, TensorVisitorMut};
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::weights::{visit_prefixed, visit_prefixed_mut};

/// The join of two rows one after the other, `[a | b]`, into `O`: how a cross-attention reads
/// its query and its value.
pub struct Pair<O>(PhantomData<O>);

impl<O: Row> JoinRule for Pair<O> {
    const KIND: &'static str = "Pair";
    type Out<A: Row, B: Row> = O;

    fn join<A: Row, B: Row>(a: &A, b: &B, out: &mut O) {
        let (first, second) = out.values_mut().split_at_mut(A::WIDTH);
        first.copy_from_slice(a.values());
        second.copy_from_slice(b.values());
    }

    fn split<A: Row, B: Row>(grad: &O, a: &mut A, b: &mut B) {
        let (first, second) = grad.values().split_at(A::WIDTH);
        a.values_mut().copy_from_slice(first);
        b.values_mut().copy_from_slice(second);
    }

    /// A `Concat` of the two flat rows.
    #[cfg(feature = "onnx")]
    fn onnx<A: Row, B: Row>(
        graph: &mut onnx::Graph,
        a: onnx::Value,
        b: onnx::Value,
    ) -> Result<onnx::Value, onnx::Error> {
        let a = graph.reshape(a, &[A::WIDTH]);
        let b = graph.reshape(b, &[B::WIDTH]);
        let axis = vec![onnx::Attribute::int("axis", 1)];
        Ok(graph.node("Concat", &[&a.name, &b.name], axis, vec![O::WIDTH]))
    }
}

/// A query branch `Q` attending to a value branch `V` through the cross-attention `M`: Keras'
/// `MultiHeadAttention(num_heads, key_dim)(query = Q(x), value = V(x))`. `network!` writes it
/// `=> CrossAttention(Q's layers, V's layers, heads = 4, key_dim = 16) =>`.
///
/// Backward: the attention's backward from `dy` gives the gradients of the query and of the
/// value, each branch's backward runs from its own, and `dx` is the sum of the branches'.
///
/// ```
/// use netdsl_core::activation::Linear;
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::{Attend, Dense, MultiHeadAttention};
/// use netdsl_core::shape::{CrossAttention, Sequence};
///
/// // One query step (the input's sum) attends to two value steps (the input itself), one head
/// // of one value: q = 0, so both keys score 0 and the output is the values' mean.
/// let query = Dense::<2, 1, Linear>::from_parameters([[1.0], [1.0]], None);
/// let value = Dense::<2, 2, Linear>::from_parameters([[1.0, 0.0], [0.0, 1.0]], None);
/// type Mha = MultiHeadAttention<Sequence<1, 1, 1>, CrossAttention<1, 1, 1, 2, 2, 3>, false, Sequence<2, 1, 2>>;
/// let tensors: [&[f32]; 8] = [&[0.0], &[0.0], &[1.0], &[0.0], &[1.0], &[0.0], &[1.0], &[0.0]];
/// let attend = Attend::new(query, value, Mha::from_parameters(tensors));
/// let mut y = [0.0; 1];
/// attend.infer(&[2.0, 6.0], &mut y);
/// assert_eq!(y, [4.0]);
/// ```
pub struct Attend<Q, V, M: Layer> {
    sequences: Join<Pair<M::In>, Q, V>,
    attention: M,
    /// The name the attention's tensors start with: `multi_head_attention.query.kernel`.
    name: &'static str,
}

impl<Q, V, M: Layer> Attend<Q, V, M> {
    /// The query branch `query` and the value branch `value`, joined by `attention`, whose
    /// tensors are named as Keras names a first `MultiHeadAttention`'s:
    /// `multi_head_attention.query.kernel` (see [`Attend::named`]).
    pub const fn new(query: Q, value: V, attention: M) -> Self {
        Attend {
            sequences: Join::new(query, value),
            attention,
            name: "multi_head_attention",
        }
    }

    /// The join with its attention's tensors named `name.query.kernel` and so on
    /// ([`Layer::visit_tensors`]); the branches' tensors keep their own names. `network!`
    /// names it as Keras numbers it: `multi_head_attention_2`.
    #[must_use]
    pub const fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// The query branch.
    pub fn query(&self) -> &Q {
        self.sequences.first()
    }

    /// The value branch.
    pub fn value(&self) -> &V {
        self.sequences.second()
    }

    /// The attention.
    pub fn attention(&self) -> &M {
        &self.attention
    }
}

impl<Q: Clone, V: Clone, M: Layer + Clone> Clone for Attend<Q, V, M> {
    fn clone(&self) -> Self {
        Attend::new(
            self.query().clone(),
            self.value().clone(),
            self.attention.clone(),
        )
        .named(self.name)
    }
}

/// What an [`Attend`] keeps between the passes of a batch of `B`: the branches' tape, their
/// outputs as the attention reads them and the gradient with respect to those, and the
/// attention's tape.
pub struct AttendTape<Q: Layer, V: Layer, M: Layer, const B: usize> {
    branches: JoinTape<Q, V, B>,
    sequences: Buffer<[M::In; B]>,
    d_sequences: Buffer<[M::In; B]>,
    attention: M::Tape<B>,
}

/// The parameter gradients of an [`Attend`]: the branches', then the attention's.
pub struct AttendGrads<G, A> {
    branches: G,
    attention: A,
}

impl<Q, V, M> Layer for Attend<Q, V, M>
where
    Q: Layer,
    V: Layer<In = Q::In>,
    M: Layer,
{
    type In = Q::In;
    type Out = M::Out;
    type Activation = M::Activation;
    type Grads = AttendGrads<JoinGrads<Q::Grads, V::Grads>, M::Grads>;
    type Tape<const B: usize> = AttendTape<Q, V, M, B>;

    const KIND: &'static str = M::KIND;

    fn new_tape<const B: usize>(&self) -> Self::Tape<B> {
        AttendTape {
            branches: self.sequences.new_tape(),
            sequences: Buffer::zeroed(),
            d_sequences: Buffer::zeroed(),
            attention: self.attention.new_tape(),
        }
    }

    fn forward<const B: usize>(
        &self,
        x: &[Q::In; B],
        y: &mut [M::Out; B],
        tape: &mut Self::Tape<B>,
    ) {
        self.sequences
            .forward(x, &mut tape.sequences, &mut tape.branches);
        self.attention
            .forward(&tape.sequences, y, &mut tape.attention);
    }

    fn infer(&self, x: &Q::In, y: &mut M::Out) {
        let mut sequences = M::In::zeroed();
        self.sequences.infer(x, &mut sequences);
        self.attention.infer(&sequences, y);
    }

    fn kept<const B: usize>(tape: &Self::Tape<B>) -> &Kept<M::Activation, M::Out, B> {
        M::kept(&tape.attention)
    }

    fn backward<const B: usize>(
        &self,
        x: &[Q::In; B],
        dz: &[M::Out; B],
        dx: Option<&mut [Q::In; B]>,
        grads: &mut Self::Grads,
        tape: &mut Self::Tape<B>,
    ) {
        self.attention.backward(
            &tape.sequences,
            dz,
            Some(&mut tape.d_sequences),
            &mut grads.attention,
            &mut tape.attention,
        );
        self.sequences.backward(
            x,
            &tape.d_sequences,
            dx,
            &mut grads.branches,
            &mut tape.branches,
        );
    }

    fn set_training<const B: usize>(&self, tape: &mut Self::Tape<B>, training: bool) {
        self.sequences.set_training(&mut tape.branches, training);
        self.attention.set_training(&mut tape.attention, training);
    }

    fn set_precision<const B: usize>(&self, tape: &mut Self::Tape<B>, precision: Precision) {
        self.sequences.set_precision(&mut tape.branches, precision);
        self.attention.set_precision(&mut tape.attention, precision);
    }

    fn seed_tape<const B: usize>(&self, tape: &mut Self::Tape<B>, stream: u64) {
        self.sequences.seed_tape(&mut tape.branches, stream);
        self.attention.seed_tape(&mut tape.attention, stream);
    }

    fn set_rows<const B: usize>(&self, tape: &mut Self::Tape<B>, rows: usize) {
        self.sequences.set_rows(&mut tape.branches, rows);
        self.attention.set_rows(&mut tape.attention, rows);
    }

    fn update_state<const B: usize>(
        &mut self,
        tape: &Self::Tape<B>,
        thread: usize,
        threads: usize,
    ) {
        self.sequences.update_state(&tape.branches, thread, threads);
        self.attention
            .update_state(&tape.attention, thread, threads);
    }

    fn regularization(&self) -> f64 {
        self.sequences.regularization() + self.attention.regularization()
    }

    fn regularize(&self, grads: &mut Self::Grads, scale: f32) -> f64 {
        self.sequences.regularize(&mut grads.branches, scale)
            + self.attention.regularize(&mut grads.attention, scale)
    }

    fn new_grads(&self) -> Self::Grads {
        AttendGrads {
            branches: self.sequences.new_grads(),
            attention: self.attention.new_grads(),
        }
    }

    fn parameter_count(&self) -> usize {
        self.sequences.parameter_count() + self.attention.parameter_count()
    }

    fn non_trainable_count(&self) -> usize {
        self.sequences.non_trainable_count() + self.attention.non_trainable_count()
    }

    fn visit_non_trainable(&mut self, visit: &mut dyn FnMut(&mut [f32])) {
        self.sequences.visit_non_trainable(visit);
        self.attention.visit_non_trainable(visit);
    }

    /// The branches' parameters, then the attention's: Keras' order, the layers as its
    /// functional model lists them.
    fn visit_parameters(
        &mut self,
        grads: &mut Self::Grads,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        self.sequences.visit_parameters(&mut grads.branches, visit);
        self.attention.visit_parameters(&mut grads.attention, visit);
    }

    fn visit_gradients(grads: &mut Self::Grads, visit: &mut dyn FnMut(&mut [f32])) -> bool {
        Join::<Pair<M::In>, Q, V>::visit_gradients(&mut grads.branches, visit)
            && M::visit_gradients(&mut grads.attention, visit)
    }

    /// The branches' tensors under their own names, then the attention's after its name
    /// ([`Attend::named`]).
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        self.sequences.visit_tensors(visit);
        visit_prefixed(self.name, visit, |visit| {
            self.attention.visit_tensors(visit)
        });
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        self.sequences.visit_tensors_mut(visit);
        let attention = &mut self.attention;
        visit_prefixed_mut(self.name, visit, |visit| attention.visit_tensors_mut(visit));
    }

    /// The branches' nodes, their outputs side by side, then the attention's, in the scope of
    /// its name (`multi_head_attention/query/kernel`).
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let sequences = self.sequences.onnx(graph, x)?;
        graph.scoped(self.name, |graph| self.attention.onnx(graph, sequences))
    }
}

impl<Q: Initialize, V: Initialize, M: Layer + Initialize> Initialize for Attend<Q, V, M> {
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let query = Q::initialize(rng);
        let value = V::initialize(rng);
        Attend::new(query, value, M::initialize(rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Linear, Tanh};
    use crate::layers::gradcheck::{check_gradients, seeded, values};
    use crate::layers::{Dense, MultiHeadAttention};
    use crate::shape::{CrossAttention, Sequence};

    type Mha = MultiHeadAttention<
        Sequence<2, 3, 6>,
        CrossAttention<2, 2, 8, 16, 8, 14>,
        false,
        Sequence<4, 2, 8>,
    >;

    /// 2 query steps of 3 features and 4 value steps of 2, from an input of 6.
    type Small = Attend<Dense<6, 6, Tanh>, Dense<6, 8, Linear>, Mha>;

    fn small(seed: u64) -> Small {
        let mut rng = seeded(seed);
        let query = Dense::glorot_uniform(&mut rng, true);
        let value = Dense::glorot_uniform(&mut rng, true);
        Attend::new(query, value, Mha::keras_default(&mut rng))
    }

    #[test]
    fn backward_matches_finite_differences_through_both_branches() {
        let mut layer = small(11);
        let mut tape = layer.new_tape::<2>();
        check_gradients(
            &mut layer,
            &values(12),
            &values::<[f32; 6], 2>(13),
            &mut tape,
        );
    }

    #[test]
    fn infer_equals_the_batched_forward_pass() {
        let layer = small(14);
        let x = values::<[f32; 6], 3>(15);
        let mut y = [[0.0; 6]; 3];
        layer.forward(&x, &mut y, &mut layer.new_tape::<3>());
        for (x, y) in x.iter().zip(&y) {
            let mut one = [9.0; 6];
            layer.infer(x, &mut one);
            assert_eq!(&one, y);
        }
        assert_eq!(
            layer.parameter_count(),
            42 + 56 + (4 * 3 + 4) + 2 * (4 * 2 + 4) + 4 * 3 + 3
        );
    }
}
