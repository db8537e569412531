//! Multi-head attention: Keras' `MultiHeadAttention` called with one sequence as its query, key
//! and value (self-attention), or with a query sequence and a value sequence (cross-attention),
//! with Keras' causal and padding masks.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;
#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

use core::fmt;
use core::marker::PhantomData;

use rand::Rng;

use super::flat::FlatParameters;
use crate::activation::Linear;
use crate::init::Initializer;
use crate::kernels::{self, Isa, Product};
use crate::layer::{Initialize, Layer, TensorVisitor, TensorVisitorMut};
#[cfg(feature = "onnx")]
use crate::onnx;
use crate::shape::{Attention, AttentionShape, CrossAttention, Sequence, SequenceShape};

/// Multi-head self-attention: `y = concat_h(softmax(Q_h · K_hᵀ / √K) · V_h) · W_o + b_o`, where
/// `Q = x · W_q + b_q`, `K = x · W_k + b_k`, `V = x · W_v + b_v`, and head `h` reads columns
/// `h·K .. (h+1)·K` of each. With `CAUSAL`, step `i` attends to steps `j <= i` only.
///
/// Backward, from `dy`: `dW_o = Oᵀ · dy`, `dO = dy · W_oᵀ`; per head `dV_h = P_hᵀ · dO_h`,
/// `dS_h = P_h ⊙ (dO_h · V_hᵀ - rowsum(P_h ⊙ dO_h · V_hᵀ)) / √K`, `dQ_h = dS_h · K_h`,
/// `dK_h = dS_hᵀ · Q_h`; then `dW_q = xᵀ · dQ` (and alike for `k` and `v`), and
/// `dx = dQ · W_qᵀ + dK · W_kᵀ + dV · W_vᵀ`.
///
/// This is Keras 3's `MultiHeadAttention(num_heads = H, key_dim = K)` called as `mha(x, x)`,
/// with its defaults (`value_dim = K`, an output of `F` features, biases, no dropout), and
/// `use_causal_mask = CAUSAL`. The type is `MultiHeadAttention<Sequence<T, F, N>, Attention<H,
/// K, TK, TT>, CAUSAL>` (see [`crate::shape`]): a sequence of `T` steps of `F` features
/// (`N = T · F`) in and out, `TK = T · H · K` and `TT = T · T`, which a layer checks when it is
/// built (sizes that disagree do not compile).
///
/// Cross-attention, `mha(query, value)`, is `MultiHeadAttention<Sequence<T_q, F_q, N_q>,
/// CrossAttention<H, K, QK, VK, QV, IN>, CAUSAL, Sequence<T_v, F_v, N_v>>`: it reads each
/// sample's query sequence followed by its value sequence (`IN = N_q + N_v` values, as a
/// [`Attend`](super::Attend) join of two branches gives them), the keys and
/// values are projected from the value sequence (Keras' default `key = value`) and the output
/// has the query's shape. Query step `i` sees value step `j <= i` under `CAUSAL`, as Keras'
/// lower-triangular mask of `T_q × T_v` has it.
///
/// Given a padding mask ([`Layer::set_input_mask`], [`Layer::infer_masked`]), self-attention
/// leaves the padded steps out of every step's keys, as Keras' `query_mask & value_mask` does,
/// and passes the mask on. A padded query step sees no key, and Keras then gives every key the
/// same weight (its scores all become one large negative number): so does this layer, and the
/// scores of such a step get no gradient, as Keras' `where` gives them none.
///
/// As Keras computes it (on TensorFlow, whose `dot_product_attention` runs for these arguments;
/// its other path, taken with dropout or when the scores are returned, scales the queries
/// first), the scores are `(Q_h · K_hᵀ) · (1/√K)`, the scale rounded to f32 and applied after
/// the product; a masked score takes no part in the softmax and gets a probability of exactly 0,
/// as Keras' large negative score does; the softmax is `e^(s - max) · (1 / Σ e^(s - max))`,
/// TensorFlow's order, on the vectorised [`kernels::exp`].
///
/// The tensors are Keras' own, in its order and shapes: `query.kernel` `[F, H, K]`,
/// `query.bias` `[H, K]`, `key.kernel`, `key.bias`, `value.kernel`, `value.bias` (alike), then
/// `attention_output.kernel` `[H, K, F]` and `attention_output.bias` `[F]`. They are stored one
/// after another in that order, so that [`Layer::visit_parameters`] visits them (as one slice,
/// with their gradients laid out alike) in the order [`Layer::visit_tensors`] names them.
///
/// Every product runs on the kernels' SIMD matrix product: each projection as one product of
/// the batch's `B · T` rows, and each head of each sample as products of `T × K` blocks read in
/// place through their strides. [`Layer::infer`] keeps its buffers on the stack (`5 · TK + TT`
/// values), allocating nothing.
///
/// ```
/// use netdsl_core::layer::Layer;
/// use netdsl_core::layers::MultiHeadAttention;
/// use netdsl_core::shape::{Attention, Sequence};
///
/// // Two steps of one feature, one head of one value: q = ln 3 · x, k = x, v = 2x + 1.
/// type Mha = MultiHeadAttention<Sequence<2, 1, 2>, Attention<1, 1, 2, 4>, false>;
/// let ln3 = 3.0_f32.ln();
/// // In Keras' order: query kernel and bias, key, value, then the output's.
/// let tensors: [&[f32]; 8] = [&[ln3], &[0.0], &[1.0], &[0.0], &[2.0], &[1.0], &[1.0], &[0.5]];
/// let layer = Mha::from_parameters(tensors);
/// let mut y = [0.0; 2];
/// layer.infer(&[0.0, 1.0], &mut y);
/// // Step 0 scores (0, 0): half of each value, (1 + 3) / 2, plus 0.5. Step 1 scores
/// // (0, ln 3): a quarter of 1 and three quarters of 3, plus 0.5.
/// assert!((y[0] - 2.5).abs() < 1e-6 && (y[1] - 3.0).abs() < 1e-6);
/// ```
///
/// Sizes that disagree are rejected when the layer is built:
///
/// ```compile_fail,E0080
/// use netdsl_core::layers::MultiHeadAttention;
/// use netdsl_core::shape::{Attention, Sequence};
/// use rand::SeedableRng;
///
/// // 5 steps of 2 heads of 3 values are TK = 30 values, not 24.
/// type Mha = MultiHeadAttention<Sequence<5, 4, 20>, Attention<2, 3, 24, 25>, false>;
/// let layer = Mha::keras_default(&mut rand::rngs::StdRng::seed_from_u64(0));
/// ```
pub struct MultiHeadAttention<S, A, const CAUSAL: bool, V = S, Keys = V> {
    /// The eight tensors one after another, in Keras' order (see the type's documentation).
    params: FlatParameters,
    /// The shapes are types only.
    types: PhantomData<(S, A, V, Keys)>,
}

/// Parameter gradients of a [`MultiHeadAttention`] layer, laid out like its parameters: the
/// eight tensors' gradients one after another, in Keras' order.
pub type MultiHeadAttentionGrads = FlatParameters;

/// What a [`MultiHeadAttention`] keeps between the forward and backward passes of a batch, and
/// the scratch space of its backward pass: allocated once by [`Layer::new_tape`].
pub struct MultiHeadAttentionTape {
    /// The batch's queries, keys and values. Self-attention keeps each step's side by side,
    /// `[q | k | v]`: `B · T` rows of `3 · H · K` values, so that their gradients make `dx` one
    /// product. Cross-attention keeps the queries (`B · T_q` rows of `H · K`), then each value
    /// step's key and value side by side (`B · T_v` rows of `2 · H · K`).
    qkv: Box<[f32]>,
    /// The attention probabilities of each sample and head, `T_q × T_v` each (query by key).
    probs: Box<[f32]>,
    /// The heads' outputs side by side, the output projection's input: `B · T_q` rows of `H · K`.
    heads: Box<[f32]>,
    /// One sample's keys (forward) or values (backward) transposed, `H · K` rows of `T_v`, so
    /// that `Q_h · K_hᵀ` and `dO_h · V_hᵀ` read their second operand by rows.
    transposed: Box<[f32]>,
    /// `dL/d heads`, laid out as `heads`.
    d_heads: Box<[f32]>,
    /// `dL/d` queries, keys and values, laid out as `qkv`.
    d_qkv: Box<[f32]>,
    /// One head's `dL/d scores`, `T_q × T_v`.
    d_scores: Box<[f32]>,
    /// The input projections' kernels transposed and stacked for `dx`: `[W_q W_k W_v]ᵀ`, or
    /// for cross-attention `W_qᵀ` then `[W_k W_v]ᵀ`.
    projections_t: Box<[f32]>,
    /// `W_oᵀ`, `F_q` rows of `H · K`.
    output_t: Box<[f32]>,
    /// The column sums of `d_qkv`: the three projections' bias gradients side by side.
    bias_sums: Box<[f32]>,
    /// Cross-attention only: the batch's query sequences, then its value sequences, each
    /// gathered from the rows `[query | value]` the layer reads; then the same for `dx`.
    inputs: Box<[f32]>,
    d_inputs: Box<[f32]>,
    /// The mask of the batch's steps (`B · T`, true for data), given by
    /// [`Layer::set_input_mask`]; read when `masked`.
    mask: Box<[bool]>,
    masked: bool,
}

/// Where one sample's queries, keys and values lie in buffers: the query of step `t`, head
/// `h`, at `q + t · q_row + h · K`, its key at `k + t · kv_row + h · K` and its value at
/// `v + t · kv_row + h · K`.
#[derive(Clone, Copy)]
struct Places {
    q: usize,
    k: usize,
    v: usize,
    q_row: usize,
    kv_row: usize,
}

impl Places {
    /// Sample `b` of a batch whose steps hold `[q | k | v]` side by side, `t` steps of `hk`
    /// values each per sample: self-attention's tape.
    fn fused(b: usize, t: usize, hk: usize) -> Self {
        let base = b * t * 3 * hk;
        Places {
            q: base,
            k: base + hk,
            v: base + 2 * hk,
            q_row: 3 * hk,
            kv_row: 3 * hk,
        }
    }

    /// Sample `b` of a batch of `batch` whose queries come first (`tq` rows of `hk` per
    /// sample), then its keys and values side by side (`tv` rows of `2 · hk`): cross-attention's
    /// tape.
    fn split(b: usize, batch: usize, (tq, tv): (usize, usize), hk: usize) -> Self {
        let k = batch * tq * hk + b * tv * 2 * hk;
        Places {
            q: b * tq * hk,
            k,
            v: k + hk,
            q_row: hk,
            kv_row: 2 * hk,
        }
    }

    /// One sample's queries, keys and values, each `t` rows of `hk` one after another in
    /// buffers of their own (`q` in one, `k` then `v` in another, `tk` values apart).
    fn separate(tk: usize, hk: usize) -> Self {
        Places {
            q: 0,
            k: 0,
            v: tk,
            q_row: hk,
            kv_row: hk,
        }
    }
}

/// The padding masks one sample's attention reads: which query steps and which key (value)
/// steps are data. A query step of padding, or one that sees no key of data, attends to every
/// key alike, as Keras' equal large negative scores make it; its scores get no gradient.
#[derive(Clone, Copy, Default)]
struct Masks<'a> {
    query: Option<&'a [bool]>,
    value: Option<&'a [bool]>,
}

impl<'a> Masks<'a> {
    /// The same mask for queries and keys, self-attention's.
    fn both(mask: Option<&'a [bool]>) -> Self {
        Masks {
            query: mask,
            value: mask,
        }
    }

    /// Sample `b`'s flags of `t` steps, when `masked`.
    fn sample(mask: &'a [bool], masked: bool, b: usize, t: usize) -> Option<&'a [bool]> {
        masked.then(|| &mask[b * t..][..t])
    }

    /// Whether query `i` may see key `j`: both data and, when `CAUSAL`, `j <= i`.
    fn sees<const CAUSAL: bool>(&self, i: usize, j: usize) -> bool {
        (!CAUSAL || j <= i) && self.query.is_none_or(|m| m[i]) && self.value.is_none_or(|m| m[j])
    }
}

/// The tensors' names, in Keras' order.
const NAMES: [&str; 8] = [
    "query.kernel",
    "query.bias",
    "key.kernel",
    "key.bias",
    "value.kernel",
    "value.bias",
    "attention_output.kernel",
    "attention_output.bias",
];

impl<S: SequenceShape, A: AttentionShape, const CAUSAL: bool, V: SequenceShape, Keys: SequenceShape>
    MultiHeadAttention<S, A, CAUSAL, V, Keys>
{
    /// Query steps, `T_q` (all the steps, in self-attention).
    const TQ: usize = S::STEPS;
    /// Features of a query step, `F_q`, and of an output step.
    const FQ: usize = S::FEATURES;
    /// Key and value steps, `T_v`.
    const TV: usize = V::STEPS;
    /// Features of a value step, `F_v`.
    const FV: usize = V::FEATURES;
    /// Features of a key step, `F_k`: `F_v` but where the keys have a sequence of their own.
    const FK: usize = Keys::FEATURES;
    /// Whether the keys are a sequence of their own, after the value's in each row the layer
    /// reads (Keras' `mha(query, value, key)`), rather than the values'.
    const SEPARATE_KEYS: bool = A::INPUT != 0 && A::INPUT == S::LEN + V::LEN + Keys::LEN;
    /// Heads, `H`.
    const H: usize = A::HEADS;
    /// Values of one head's query, key and value, `K`.
    const K: usize = A::KEY_DIM;
    /// Values of every head of one step, `H · K`.
    const HK: usize = A::HEADS * A::KEY_DIM;
    /// The query projection's kernel and bias, `F_q · H · K + H · K` values.
    const QUERY: usize = (Self::FQ + 1) * Self::HK;
    /// The key projection's kernel and bias, `F_k · H · K + H · K` values.
    const KEY: usize = (Self::FK + 1) * Self::HK;
    /// The value projection's kernel and bias, `F_v · H · K + H · K` values.
    const VALUE: usize = (Self::FV + 1) * Self::HK;
    /// Where the output projection's kernel starts, after the three input projections.
    const OUTPUT: usize = Self::QUERY + Self::KEY + Self::VALUE;
    /// Where the output projection's bias starts.
    const OUTPUT_BIAS: usize = Self::OUTPUT + Self::HK * Self::FQ;
    /// The number of parameters.
    const COUNT: usize = Self::OUTPUT_BIAS + Self::FQ;

    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        let (tq, tv, h, k) = (S::STEPS, V::STEPS, A::HEADS, A::KEY_DIM);
        assert!(
            tq >= 1
                && tv >= 1
                && S::FEATURES >= 1
                && V::FEATURES >= 1
                && Keys::FEATURES >= 1
                && h >= 1
                && k >= 1,
            "`MultiHeadAttention`: expected at least one step, feature, head and value per head"
        );
        assert!(
            S::LEN == tq * S::FEATURES
                && V::LEN == tv * V::FEATURES
                && Keys::LEN == Keys::STEPS * Keys::FEATURES,
            "`MultiHeadAttention`: expected N = T * F"
        );
        assert!(
            Keys::STEPS == tv,
            "`MultiHeadAttention`: expected as many key steps as value steps (a key for each value)"
        );
        assert!(
            A::PROJECTED == tq * h * k,
            "`MultiHeadAttention`: expected TK = T * H * K (QK = T_q * H * K)"
        );
        assert!(
            A::VALUES_PROJECTED == tv * h * k,
            "`MultiHeadAttention`: expected VK = T_v * H * K"
        );
        assert!(
            A::SCORES == tq * tv,
            "`MultiHeadAttention`: expected TT = T * T (QV = T_q * T_v)"
        );
        assert!(
            A::INPUT == 0
                || (A::INPUT == S::LEN + V::LEN && Keys::FEATURES == V::FEATURES)
                || A::INPUT == S::LEN + V::LEN + Keys::LEN,
            "`MultiHeadAttention`: expected IN = N_q + N_v, or N_q + N_v + N_k with keys of their own"
        );
    };

    /// Keras' initial weights: every kernel Glorot-uniform with Keras' fans of its shape
    /// ([`crate::init::fans`]: `(H · F, K · F)` for `[F, H, K]`, `(K · H, F · H)` for
    /// `[H, K, F]`), drawn in Keras' order, and every bias zero.
    pub fn keras_default<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let () = Self::SHAPES_AGREE;
        Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        let mut params = vec![0.0; Self::COUNT];
        Self::tensors_mut(&mut params, &mut |name, shape, tensor| {
            if name.ends_with("kernel") {
                Initializer::GlorotUniform.fill(shape, rng, tensor);
            }
        });
        Self::with(params)
    }

    /// A layer with the given tensors, in Keras' order and layouts: `query.kernel` `[F_q, H,
    /// K]`, `query.bias` `[H, K]`, `key.kernel` `[F_v, H, K]`, `key.bias`, `value.kernel`
    /// `[F_v, H, K]`, `value.bias`, `attention_output.kernel` `[H, K, F_q]`,
    /// `attention_output.bias` `[F_q]`, each flattened.
    ///
    /// # Panics
    ///
    /// If a tensor does not hold the values of its shape.
    pub fn from_parameters(tensors: [&[f32]; 8]) -> Self {
        let () = Self::SHAPES_AGREE;
        Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        let mut params = Vec::with_capacity(Self::COUNT);
        for ((name, (dims, rank)), tensor) in NAMES.iter().zip(Self::shapes()).zip(tensors) {
            let shape = &dims[..rank];
            let expected: usize = shape.iter().product();
            assert_eq!(
                tensor.len(),
                expected,
                "`MultiHeadAttention` `{name}` of shape {shape:?}: expected {expected} values, found {}",
                tensor.len()
            );
            params.extend_from_slice(tensor);
        }
        Self::with(params)
    }

    /// A layer of `params`, its eight tensors one after another.
    fn with(params: Vec<f32>) -> Self {
        Self {
            params: FlatParameters::new(params, None),
            types: PhantomData,
        }
    }

    /// The tensors' shapes in Keras' order: each one's axes, and how many of the three count.
    fn shapes() -> [([usize; 3], usize); 8] {
        let (fq, fk, fv, h, k) = (Self::FQ, Self::FK, Self::FV, Self::H, Self::K);
        let bias = ([h, k, 0], 2);
        let (output_kernel, output_bias) = (([h, k, fq], 3), ([fq, 0, 0], 1));
        [
            ([fq, h, k], 3),
            bias,
            ([fk, h, k], 3),
            bias,
            ([fv, h, k], 3),
            bias,
            output_kernel,
            output_bias,
        ]
    }

    /// Calls `visit` with each tensor of `params` (all of them, in Keras' order): its name,
    /// shape and values.
    fn tensors(params: &[f32], visit: &mut TensorVisitor<'_>) {
        let mut rest = params;
        for (name, (dims, rank)) in NAMES.iter().zip(Self::shapes()) {
            let shape = &dims[..rank];
            let (tensor, after) = rest.split_at(shape.iter().product());
            visit(name, shape, tensor);
            rest = after;
        }
    }

    /// [`Self::tensors`], mutably.
    fn tensors_mut(params: &mut [f32], visit: &mut TensorVisitorMut<'_>) {
        let mut rest = params;
        for (name, (dims, rank)) in NAMES.iter().zip(Self::shapes()) {
            let shape = &dims[..rank];
            let (tensor, after) = rest.split_at_mut(shape.iter().product());
            visit(name, shape, tensor);
            rest = after;
        }
    }

    /// The features input projection `j` reads (0 the queries, 1 the keys, 2 the values).
    const fn features(j: usize) -> usize {
        match j {
            0 => Self::FQ,
            1 => Self::FK,
            _ => Self::FV,
        }
    }

    /// Where input projection `j`'s kernel starts.
    const fn kernel_at(j: usize) -> usize {
        match j {
            0 => 0,
            1 => Self::QUERY,
            _ => Self::QUERY + Self::KEY,
        }
    }

    /// Where input projection `j`'s bias starts, right after its kernel.
    const fn bias_at(j: usize) -> usize {
        Self::kernel_at(j) + Self::features(j) * Self::HK
    }

    /// `1 / √K` as Keras applies it: worked out in f64 (Python's `1.0 / math.sqrt(key_dim)`),
    /// then rounded to f32.
    fn scale() -> f32 {
        (1.0 / (Self::K as f64).sqrt()) as f32
    }

    /// Input projection `j` of `rows` steps of `x` into `out`, its rows `ldc` apart: one
    /// product of all the rows.
    fn project(&self, isa: Isa, j: usize, x: &[f32], rows: usize, out: &mut [f32], ldc: usize) {
        let w = &self.params.weights;
        let features = Self::features(j);
        Product {
            m: rows,
            n: Self::HK,
            k: features,
            a: x,
            a_row: features,
            a_col: 1,
            b: &w[Self::kernel_at(j)..],
            ldb: Self::HK,
            bias: Some(&w[Self::bias_at(j)..][..Self::HK]),
            c: out,
            ldc,
        }
        .run(isa);
    }

    /// One sample's attention: its keys transposed into `keys_t`, then for each head `h` its
    /// scores turned into probabilities at `h · stride` in `probs` (`T_q × T_v`; a stride of 0
    /// reuses one block) and its output `P · V_h` into its columns of `heads` (`T_q` rows of
    /// `H · K`). The queries are read from `q`, the keys and values from `kv`, where `places`
    /// says.
    fn attend(
        isa: Isa,
        (q, kv, places): (&[f32], &[f32], Places),
        masks: Masks<'_>,
        keys_t: &mut [f32],
        (probs, stride): (&mut [f32], usize),
        heads: &mut [f32],
    ) {
        let (tq, tv, hk) = (Self::TQ, Self::TV, Self::HK);
        transpose(&kv[places.k..], places.kv_row, tv, hk, keys_t);
        for h in 0..Self::H {
            let scores = &mut probs[h * stride..][..tq * tv];
            Self::scores(isa, (&q[places.q..], places.q_row), h, keys_t, scores);
            softmax::<CAUSAL>(isa, scores, tv, Self::scale(), masks);
            Self::weigh_values(isa, scores, (&kv[places.v..], places.kv_row), h, heads);
        }
    }

    /// `Q_h · K_hᵀ` into `scores` (`T_q × T_v`): the queries read in place from `q`, their
    /// steps `q_row` apart, the keys from `keys_t` (`H · K` rows of `T_v`).
    fn scores(isa: Isa, (q, q_row): (&[f32], usize), h: usize, keys_t: &[f32], scores: &mut [f32]) {
        let (tq, tv, k) = (Self::TQ, Self::TV, Self::K);
        Product {
            m: tq,
            n: tv,
            k,
            a: &q[h * k..],
            a_row: q_row,
            a_col: 1,
            b: &keys_t[h * k * tv..],
            ldb: tv,
            bias: None,
            c: scores,
            ldc: tv,
        }
        .run(isa);
    }

    /// `P · V_h` into head `h`'s columns of `heads` (rows of `H · K`), the values read in place
    /// from `v`, their steps `v_row` apart.
    fn weigh_values(
        isa: Isa,
        probs: &[f32],
        (v, v_row): (&[f32], usize),
        h: usize,
        heads: &mut [f32],
    ) {
        let (tq, tv, k) = (Self::TQ, Self::TV, Self::K);
        Product {
            m: tq,
            n: k,
            k: tv,
            a: probs,
            a_row: tv,
            a_col: 1,
            b: &v[h * k..],
            ldb: v_row,
            bias: None,
            c: &mut heads[h * k..],
            ldc: Self::HK,
        }
        .run(isa);
    }

    /// `y = heads · W_o + b_o` for `rows` steps: one product.
    fn output(&self, isa: Isa, heads: &[f32], rows: usize, y: &mut [f32]) {
        let w = &self.params.weights;
        Product {
            m: rows,
            n: Self::FQ,
            k: Self::HK,
            a: heads,
            a_row: Self::HK,
            a_col: 1,
            b: &w[Self::OUTPUT..],
            ldb: Self::FQ,
            bias: Some(&w[Self::OUTPUT_BIAS..]),
            c: y,
            ldc: Self::FQ,
        }
        .run(isa);
    }

    /// The output projection's backward pass over `rows` steps: `dW_o = headsᵀ · dy` and
    /// `db_o = Σ dy` into `grads`, and `dL/d heads = dy · W_oᵀ` into the tape.
    fn output_backward(
        &self,
        isa: Isa,
        dy: &[f32],
        rows: usize,
        grads: &mut FlatParameters,
        tape: &mut MultiHeadAttentionTape,
    ) {
        let (f, hk) = (Self::FQ, Self::HK);
        let (kernel, bias) = grads.weights[Self::OUTPUT..].split_at_mut(hk * f);
        Product {
            m: hk,
            n: f,
            k: rows,
            a: &tape.heads,
            a_row: 1,
            a_col: hk,
            b: dy,
            ldb: f,
            bias: None,
            c: kernel,
            ldc: f,
        }
        .run(isa);
        kernels::column_sums(isa, dy, f, bias);
        transpose(
            &self.params.weights[Self::OUTPUT..],
            f,
            hk,
            f,
            &mut tape.output_t,
        );
        Product {
            m: rows,
            n: hk,
            k: f,
            a: dy,
            a_row: f,
            a_col: 1,
            b: &tape.output_t,
            ldb: hk,
            bias: None,
            c: &mut tape.d_heads,
            ldc: hk,
        }
        .run(isa);
    }

    /// Every head of sample `b`, backward: from the sample's rows of `dL/d heads`, its
    /// queries', keys' and values' gradients into `d_qkv` where `places` says, given the heads'
    /// probabilities.
    fn attend_backward(
        isa: Isa,
        tape: &mut MultiHeadAttentionTape,
        b: usize,
        places: Places,
        masks: Masks<'_>,
    ) {
        let (tq, tv, k, hk) = (Self::TQ, Self::TV, Self::K, Self::HK);
        let qkv = &tape.qkv;
        transpose(
            &qkv[places.v..],
            places.kv_row,
            tv,
            hk,
            &mut tape.transposed,
        );
        let d_heads = &tape.d_heads[b * tq * hk..];
        for h in 0..Self::H {
            let at = h * k;
            let probs = &tape.probs[(b * Self::H + h) * tq * tv..][..tq * tv];
            let (values_t, d_scores) = (&tape.transposed, &mut tape.d_scores);
            let d_qkv = &mut tape.d_qkv;
            // dP = dO_h · V_hᵀ
            Product {
                m: tq,
                n: tv,
                k,
                a: &d_heads[at..],
                a_row: hk,
                a_col: 1,
                b: &values_t[at * tv..],
                ldb: tv,
                bias: None,
                c: d_scores,
                ldc: tv,
            }
            .run(isa);
            // dV_h = Pᵀ · dO_h, Pᵀ read down the columns of P.
            Product {
                m: tv,
                n: k,
                k: tq,
                a: probs,
                a_row: 1,
                a_col: tv,
                b: &d_heads[at..],
                ldb: hk,
                bias: None,
                c: &mut d_qkv[places.v + at..],
                ldc: places.kv_row,
            }
            .run(isa);
            softmax_backward::<CAUSAL>(probs, d_scores, tv, Self::scale(), masks);
            // dQ_h = dS · K_h
            Product {
                m: tq,
                n: k,
                k: tv,
                a: d_scores,
                a_row: tv,
                a_col: 1,
                b: &qkv[places.k + at..],
                ldb: places.kv_row,
                bias: None,
                c: &mut d_qkv[places.q + at..],
                ldc: places.q_row,
            }
            .run(isa);
            // dK_h = dSᵀ · Q_h
            Product {
                m: tv,
                n: k,
                k: tq,
                a: d_scores,
                a_row: 1,
                a_col: tv,
                b: &qkv[places.q + at..],
                ldb: places.q_row,
                bias: None,
                c: &mut d_qkv[places.k + at..],
                ldc: places.kv_row,
            }
            .run(isa);
        }
    }

    /// `dW_j = xᵀ · dL/d proj_j` for input projection `j` over `rows` steps of `x`, its
    /// gradients read from `d`, rows `ld` apart.
    fn kernel_gradient(
        isa: Isa,
        j: usize,
        (x, rows): (&[f32], usize),
        (d, ld): (&[f32], usize),
        grads: &mut FlatParameters,
    ) {
        Product {
            m: Self::features(j),
            n: Self::HK,
            k: rows,
            a: x,
            a_row: 1,
            a_col: Self::features(j),
            b: d,
            ldb: ld,
            bias: None,
            c: &mut grads.weights[Self::kernel_at(j)..],
            ldc: Self::HK,
        }
        .run(isa);
    }

    /// `db_j = Σ dL/d proj_j` for every input projection: the column sums of each block of
    /// `blocks` (its first projection, how many lie side by side in its rows, its rows), into
    /// `sums` and then `grads`.
    fn bias_gradients(
        isa: Isa,
        blocks: &[(usize, usize, &[f32])],
        grads: &mut FlatParameters,
        sums: &mut [f32],
    ) {
        let hk = Self::HK;
        for &(first, count, d) in blocks {
            let sums = &mut sums[first * hk..][..count * hk];
            kernels::column_sums(isa, d, count * hk, sums);
            for (i, sums) in sums.chunks_exact(hk).enumerate() {
                grads.weights[Self::bias_at(first + i)..][..hk].copy_from_slice(sums);
            }
        }
    }

    /// `dx = [dproj_j ...] · [W_j ...]ᵀ` for the `count` input projections from `first`
    /// (which read the same input), their gradients side by side in the `rows` rows of `d`,
    /// `ld` apart: one product, the kernels transposed and stacked into `stacked` first.
    fn input_gradient(
        &self,
        isa: Isa,
        (first, count): (usize, usize),
        (d, rows, ld): (&[f32], usize, usize),
        stacked: &mut [f32],
        dx: &mut [f32],
    ) {
        let (hk, features) = (Self::HK, Self::features(first));
        for i in 0..count {
            let w = &self.params.weights[Self::kernel_at(first + i)..];
            transpose(w, hk, features, hk, &mut stacked[i * hk * features..]);
        }
        Product {
            m: rows,
            n: features,
            k: count * hk,
            a: d,
            a_row: ld,
            a_col: 1,
            b: stacked,
            ldb: features,
            bias: None,
            c: dx,
            ldc: features,
        }
        .run(isa);
    }

    /// A batch of `batch` gathered by cross-attention: its query sequences, its value
    /// sequences and its key sequences (the values', where the keys have none of their own).
    fn inputs(inputs: &[f32], batch: usize) -> (&[f32], &[f32], &[f32]) {
        let (queries, rest) = inputs.split_at(batch * S::LEN);
        let (values, keys) = rest.split_at(batch * V::LEN);
        (
            queries,
            values,
            if Self::SEPARATE_KEYS { keys } else { values },
        )
    }

    /// The tape for a batch of `b`; cross-attention's also gathers its inputs.
    fn tape(batch: usize, cross: bool) -> MultiHeadAttentionTape {
        let zeros = |n: usize| vec![0.0; n].into_boxed_slice();
        let (tq, tv, hk) = (Self::TQ, Self::TV, Self::HK);
        let projected = batch * (tq + 2 * tv) * hk;
        let keys = if Self::SEPARATE_KEYS { Keys::LEN } else { 0 };
        let inputs = if cross {
            batch * (S::LEN + V::LEN + keys)
        } else {
            0
        };
        MultiHeadAttentionTape {
            qkv: zeros(projected),
            probs: zeros(batch * Self::H * tq * tv),
            heads: zeros(batch * tq * hk),
            transposed: zeros(tv * hk),
            d_heads: zeros(batch * tq * hk),
            d_qkv: zeros(projected),
            d_scores: zeros(tq * tv),
            projections_t: zeros(hk * (Self::FQ + Self::FK + Self::FV)),
            output_t: zeros(Self::FQ * hk),
            bias_sums: zeros(3 * hk),
            inputs: zeros(inputs),
            d_inputs: zeros(inputs),
            mask: vec![true; batch * tq].into_boxed_slice(),
            masked: false,
        }
    }
}

/// `dst[c · rows + r] = src[r · row + c]` for `r < rows`, `c < cols`: a `rows × cols` block read
/// with row stride `row`, written transposed (`cols` rows of `rows`).
fn transpose(src: &[f32], row: usize, rows: usize, cols: usize, dst: &mut [f32]) {
    for r in 0..rows {
        for (c, &v) in src[r * row..][..cols].iter().enumerate() {
            dst[c * rows + r] = v;
        }
    }
}

/// One head's scores, `T_q` rows of `tv` (query by key), scaled by `scale` and turned into
/// probabilities in place: each row a softmax over the keys its query sees (all of them or,
/// when `CAUSAL`, those up to its own step, and of data where `masks` says), the others
/// getting exactly 0. A row that sees no key gives each the same weight, `1 / tv`, as Keras'
/// scores, all set to one large negative number, do.
fn softmax<const CAUSAL: bool>(
    isa: Isa,
    scores: &mut [f32],
    tv: usize,
    scale: f32,
    masks: Masks<'_>,
) {
    let unmasked = masks.query.is_none() && masks.value.is_none();
    for (i, row) in scores.chunks_exact_mut(tv).enumerate() {
        // Subtracting the maximum keeps `exp` finite; it cancels in the ratio.
        let mut max = f32::NEG_INFINITY;
        if unmasked {
            let (seen, future) = row.split_at_mut(if CAUSAL { (i + 1).min(tv) } else { tv });
            for s in seen.iter_mut() {
                *s *= scale;
                max = max.max(*s);
            }
            // e^-∞ = 0: a key the query must not see gets no weight, exactly.
            future.fill(f32::NEG_INFINITY);
        } else {
            for (j, s) in row.iter_mut().enumerate() {
                if masks.sees::<CAUSAL>(i, j) {
                    *s *= scale;
                    max = max.max(*s);
                } else {
                    *s = f32::NEG_INFINITY;
                }
            }
            if max == f32::NEG_INFINITY {
                row.fill(0.0);
                continue;
            }
        }
        row.iter_mut().for_each(|s| *s -= max);
    }
    // One call for every row: `tv` is often less than a vector or two.
    kernels::exp_with(isa, scores);
    for row in scores.chunks_exact_mut(tv) {
        let inverse = 1.0 / row.iter().sum::<f32>();
        row.iter_mut().for_each(|p| *p *= inverse);
    }
}

/// `dS = (dP - rowsum(P ⊙ dP)) ⊙ P · scale` in place of `dP`, each row of `tv`: the softmax's
/// backward pass, then the scale's. A hidden score's `P` is 0, and so is its gradient; a row
/// that sees no key has none either (Keras' scores there are a constant).
fn softmax_backward<const CAUSAL: bool>(
    probs: &[f32],
    d: &mut [f32],
    tv: usize,
    scale: f32,
    masks: Masks<'_>,
) {
    let unmasked = masks.query.is_none() && masks.value.is_none();
    for (i, (p, d)) in probs
        .chunks_exact(tv)
        .zip(d.chunks_exact_mut(tv))
        .enumerate()
    {
        if !unmasked && !(0..tv).any(|j| masks.sees::<CAUSAL>(i, j)) {
            d.fill(0.0);
            continue;
        }
        let dot: f32 = p.iter().zip(d.iter()).map(|(p, d)| p * d).sum();
        for (d, &p) in d.iter_mut().zip(p) {
            *d = (*d - dot) * p * scale;
        }
    }
}

/// Keras' tensors of `layer`, by name, for its ONNX form.
#[cfg(feature = "onnx")]
fn tensors_of<L: Layer>(layer: &L) -> Vec<(String, Vec<f32>)> {
    let mut tensors = Vec::new();
    layer.visit_tensors(&mut |name, _, values| tensors.push((name.to_owned(), values.to_vec())));
    tensors
}

/// The ONNX form of `H` heads of `K` values, causal or not, of the layer of kind `.0`.
#[cfg(feature = "onnx")]
struct Heads<const H: usize, const K: usize, const CAUSAL: bool>(&'static str);

#[cfg(feature = "onnx")]
impl<const H: usize, const K: usize, const CAUSAL: bool> Heads<H, K, CAUSAL> {
    /// The projections as `MatMul`s of Keras' kernels read `[F, H·K]` (and `[H·K, F]` for the
    /// output), the heads as a dimension of their own: `softmax(Q/√K · Kᵀ (+ the causal mask,
    /// -∞ where a key comes after its query)) · V`, the heads side by side again, then the
    /// output projection, back to the query's features. `query` is `[T_q, F_q]`, `value` and
    /// `key` `[T_v, F_v]` and `[T_v, F_k]`.
    fn onnx(
        &self,
        graph: &mut onnx::Graph,
        mut tensors: Vec<(String, Vec<f32>)>,
        query: &onnx::Value,
        value: &onnx::Value,
        key: &onnx::Value,
    ) -> Result<onnx::Value, onnx::Error> {
        let kind = self.0;
        let mut take = |name: &str| {
            let at = tensors.iter().position(|(n, _)| n == name)?;
            Some(tensors.swap_remove(at).1)
        };
        let missing = || onnx::Error::UnsupportedLayer { kind };
        let mut project = |graph: &mut onnx::Graph,
                           name: &str,
                           x: &onnx::Value|
         -> Result<onnx::Value, onnx::Error> {
            let (t, f) = (x.shape[0], x.shape[1]);
            let kernel = take(&format!("{name}.kernel")).ok_or_else(missing)?;
            let kernel = graph.initializer(&format!("{name}/kernel"), &[f, H * K], kernel);
            let mut y = graph.node("MatMul", &[&x.name, &kernel], Vec::new(), vec![t, H * K]);
            if let Some(bias) = take(&format!("{name}.bias")) {
                let bias = graph.initializer(&format!("{name}/bias"), &[H * K], bias);
                y = graph.node("Add", &[&y.name, &bias], Vec::new(), vec![t, H * K]);
            }
            let y = graph.reshape(y, &[t, H, K]);
            Ok(graph.transpose(&y, &[0, 2, 1, 3]))
        };
        let (tq, fq, tv) = (query.shape[0], query.shape[1], value.shape[0]);
        let q = project(graph, "query", query)?;
        let k = project(graph, "key", key)?;
        let v = project(graph, "value", value)?;
        let scale = graph.scalar(1.0 / (K as f32).sqrt());
        let q = graph.node("Mul", &[&q.name, &scale], Vec::new(), vec![H, tq, K]);
        let k = graph.transpose(&k, &[0, 1, 3, 2]);
        let mut scores = graph.node("MatMul", &[&q.name, &k.name], Vec::new(), vec![H, tq, tv]);
        if CAUSAL {
            let mask = (0..tq * tv)
                .map(|at| {
                    if at % tv > at / tv {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
                .collect();
            let mask = graph.initializer("causal_mask", &[tq, tv], mask);
            scores = graph.node("Add", &[&scores.name, &mask], Vec::new(), vec![H, tq, tv]);
        }
        let last = vec![onnx::Attribute::int("axis", -1)];
        let weights = graph.node("Softmax", &[&scores.name], last, vec![H, tq, tv]);
        let heads = graph.node(
            "MatMul",
            &[&weights.name, &v.name],
            Vec::new(),
            vec![H, tq, K],
        );
        let heads = graph.transpose(&heads, &[0, 2, 1, 3]);
        let heads = graph.reshape(heads, &[tq, H * K]);
        let kernel = take("attention_output.kernel").ok_or_else(missing)?;
        let kernel = graph.initializer("attention_output/kernel", &[H * K, fq], kernel);
        let mut y = graph.node("MatMul", &[&heads.name, &kernel], Vec::new(), vec![tq, fq]);
        if let Some(bias) = take("attention_output.bias") {
            let bias = graph.initializer("attention_output/bias", &[fq], bias);
            y = graph.node("Add", &[&y.name, &bias], Vec::new(), vec![tq, fq]);
        }
        Ok(y)
    }
}

/// Self-attention: one sequence is the query, the key and the value.
impl<
    const T: usize,
    const F: usize,
    const N: usize,
    const H: usize,
    const K: usize,
    const TK: usize,
    const TT: usize,
    const CAUSAL: bool,
> Layer for MultiHeadAttention<Sequence<T, F, N>, Attention<H, K, TK, TT>, CAUSAL>
{
    type In = [f32; N];
    type Out = [f32; N];
    type Activation = Linear;
    type Grads = MultiHeadAttentionGrads;
    type Tape<const B: usize> = MultiHeadAttentionTape;

    const KIND: &'static str = "MultiHeadAttention";

    fn new_tape<const B: usize>(&self) -> MultiHeadAttentionTape {
        Self::tape(B, false)
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; N]; B],
        y: &mut [[f32; N]; B],
        tape: &mut MultiHeadAttentionTape,
    ) {
        let isa = Isa::selected();
        let hk = H * K;
        // The batch's projections side by side in each row, `[q | k | v]`.
        for j in 0..3 {
            let out = &mut tape.qkv[j * hk..];
            self.project(isa, j, x.as_flattened(), B * T, out, 3 * hk);
        }
        for b in 0..B {
            let places = Places::fused(b, T, hk);
            let masks = Masks::both(Masks::sample(&tape.mask, tape.masked, b, T));
            Self::attend(
                isa,
                (&tape.qkv, &tape.qkv, places),
                masks,
                &mut tape.transposed,
                (&mut tape.probs[b * H * TT..], TT),
                &mut tape.heads[b * T * hk..],
            );
        }
        self.output(isa, &tape.heads, B * T, y.as_flattened_mut());
    }

    fn infer(&self, x: &[f32; N], y: &mut [f32; N]) {
        self.infer_masked(x, None, y, &mut []);
    }

    /// One sample on the stack: its queries, its keys and values (`[f32; TK]` each), its keys
    /// transposed, one head's scores at a time and the heads' outputs.
    fn infer_masked(
        &self,
        x: &[f32; N],
        mask: Option<&[bool]>,
        y: &mut [f32; N],
        _output_mask: &mut [bool],
    ) -> bool {
        let isa = Isa::selected();
        let hk = H * K;
        let mut q = [0.0; TK];
        let mut kv = [[0.0; TK]; 2];
        self.project(isa, 0, x, T, &mut q, hk);
        for (j, out) in kv.iter_mut().enumerate() {
            self.project(isa, j + 1, x, T, out, hk);
        }
        let (mut keys_t, mut scores, mut heads) = ([0.0; TK], [0.0; TT], [0.0; TK]);
        Self::attend(
            isa,
            (&q, kv.as_flattened(), Places::separate(TK, hk)),
            Masks::both(mask.map(|m| &m[..T])),
            &mut keys_t,
            (&mut scores, 0),
            &mut heads,
        );
        self.output(isa, &heads, T, y);
        // The output carries the input's mask on, as Keras' does: `network!` routes it.
        false
    }

    fn set_input_mask<const B: usize>(
        &self,
        tape: &mut MultiHeadAttentionTape,
        mask: Option<&[bool]>,
    ) {
        tape.masked = mask.is_some();
        if let Some(mask) = mask {
            tape.mask.copy_from_slice(&mask[..B * T]);
        }
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; N]; B],
        dz: &[[f32; N]; B],
        dx: Option<&mut [[f32; N]; B]>,
        grads: &mut MultiHeadAttentionGrads,
        tape: &mut MultiHeadAttentionTape,
    ) {
        let isa = Isa::selected();
        let hk = H * K;
        self.output_backward(isa, dz.as_flattened(), B * T, grads, tape);
        // The mask is the tape's, which the pass writes into: moved out meanwhile (an empty
        // box in its place allocates nothing).
        let mask = core::mem::take(&mut tape.mask);
        for b in 0..B {
            let masks = Masks::both(Masks::sample(&mask, tape.masked, b, T));
            Self::attend_backward(isa, tape, b, Places::fused(b, T, hk), masks);
        }
        tape.mask = mask;
        let x = x.as_flattened();
        for j in 0..3 {
            let d = (&tape.d_qkv[j * hk..], 3 * hk);
            Self::kernel_gradient(isa, j, (x, B * T), d, grads);
        }
        Self::bias_gradients(isa, &[(0, 3, &tape.d_qkv)], grads, &mut tape.bias_sums);
        if let Some(dx) = dx {
            let d = (&tape.d_qkv[..], B * T, 3 * hk);
            self.input_gradient(
                isa,
                (0, 3),
                d,
                &mut tape.projections_t,
                dx.as_flattened_mut(),
            );
        }
    }

    flat_parameters!();

    /// The eight tensors under Keras' names and in its shapes, in its order.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        Self::tensors(&self.params.weights, visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        Self::tensors_mut(&mut self.params.weights, visit);
    }

    /// The projections as `MatMul`s of Keras' kernels read `[F, H·K]` (and `[H·K, F]` for the
    /// output), the heads as a dimension of their own: `softmax(Q/√K · Kᵀ (+ the causal mask,
    /// -∞ above the diagonal)) · V`, the heads side by side again, then the output projection.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = graph.reshape(x, &[T, F]);
        let heads = Heads::<H, K, CAUSAL>(Self::KIND);
        heads.onnx(graph, tensors_of(self), &x, &x, &x)
    }
}

/// Cross-attention: the query sequence, the value sequence and, where the keys have a sequence
/// of their own, the key sequence, one after another in each row the layer reads, `[query |
/// value | key]`, as an [`Attend`](super::Attend) join of two or three branches (`network!`'s
/// `CrossAttention`) gives them; otherwise the keys are the values, Keras' default.
impl<
    const TQ: usize,
    const FQ: usize,
    const NQ: usize,
    const TV: usize,
    const FV: usize,
    const NV: usize,
    const H: usize,
    const K: usize,
    const QK: usize,
    const VK: usize,
    const QV: usize,
    const IN: usize,
    const CAUSAL: bool,
    Keys: SequenceShape,
> Layer
    for MultiHeadAttention<
        Sequence<TQ, FQ, NQ>,
        CrossAttention<H, K, QK, VK, QV, IN>,
        CAUSAL,
        Sequence<TV, FV, NV>,
        Keys,
    >
{
    type In = [f32; IN];
    type Out = [f32; NQ];
    type Activation = Linear;
    type Grads = MultiHeadAttentionGrads;
    type Tape<const B: usize> = MultiHeadAttentionTape;

    const KIND: &'static str = "MultiHeadAttention";

    fn new_tape<const B: usize>(&self) -> MultiHeadAttentionTape {
        Self::tape(B, true)
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        y: &mut [[f32; NQ]; B],
        tape: &mut MultiHeadAttentionTape,
    ) {
        let isa = Isa::selected();
        let (hk, kv_at) = (H * K, B * TQ * H * K);
        // Each sequence of the batch gathered, so that each projection is one product.
        let (queries, rest) = tape.inputs.split_at_mut(B * NQ);
        let (values, keys) = rest.split_at_mut(B * NV);
        for (b, x) in x.iter().enumerate() {
            let (query, rest) = x.split_at(NQ);
            let (value, key) = rest.split_at(NV);
            queries[b * NQ..][..NQ].copy_from_slice(query);
            values[b * NV..][..NV].copy_from_slice(value);
            if Self::SEPARATE_KEYS {
                keys[b * Keys::LEN..][..Keys::LEN].copy_from_slice(key);
            }
        }
        let (queries, values, keys) = Self::inputs(&tape.inputs, B);
        self.project(isa, 0, queries, B * TQ, &mut tape.qkv, hk);
        for (j, x) in [(1, keys), (2, values)] {
            let out = &mut tape.qkv[kv_at + (j - 1) * hk..];
            self.project(isa, j, x, B * TV, out, 2 * hk);
        }
        for b in 0..B {
            Self::attend(
                isa,
                (&tape.qkv, &tape.qkv, Places::split(b, B, (TQ, TV), hk)),
                Masks::default(),
                &mut tape.transposed,
                (&mut tape.probs[b * H * QV..], QV),
                &mut tape.heads[b * TQ * hk..],
            );
        }
        self.output(isa, &tape.heads, B * TQ, y.as_flattened_mut());
    }

    /// One sample on the stack: its queries (`[f32; QK]`), keys and values (`[f32; VK]`
    /// each), its keys transposed, one head's scores at a time and the heads' outputs.
    fn infer(&self, x: &[f32; IN], y: &mut [f32; NQ]) {
        let isa = Isa::selected();
        let hk = H * K;
        let (query, rest) = x.split_at(NQ);
        let (value, key) = rest.split_at(NV);
        let key = if Self::SEPARATE_KEYS { key } else { value };
        let mut q = [0.0; QK];
        let mut kv = [[0.0; VK]; 2];
        self.project(isa, 0, query, TQ, &mut q, hk);
        self.project(isa, 1, key, TV, &mut kv[0], hk);
        self.project(isa, 2, value, TV, &mut kv[1], hk);
        let (mut keys_t, mut scores, mut heads) = ([0.0; VK], [0.0; QV], [0.0; QK]);
        Self::attend(
            isa,
            (&q, kv.as_flattened(), Places::separate(VK, hk)),
            Masks::default(),
            &mut keys_t,
            (&mut scores, 0),
            &mut heads,
        );
        self.output(isa, &heads, TQ, y);
    }

    fn backward<const B: usize>(
        &self,
        _x: &[[f32; IN]; B],
        dz: &[[f32; NQ]; B],
        dx: Option<&mut [[f32; IN]; B]>,
        grads: &mut MultiHeadAttentionGrads,
        tape: &mut MultiHeadAttentionTape,
    ) {
        let isa = Isa::selected();
        let (hk, kv_at) = (H * K, B * TQ * H * K);
        self.output_backward(isa, dz.as_flattened(), B * TQ, grads, tape);
        for b in 0..B {
            let places = Places::split(b, B, (TQ, TV), hk);
            Self::attend_backward(isa, tape, b, places, Masks::default());
        }
        let (queries, values, keys) = Self::inputs(&tape.inputs, B);
        let (d_queries, d_keys_values) = tape.d_qkv.split_at(kv_at);
        Self::kernel_gradient(isa, 0, (queries, B * TQ), (d_queries, hk), grads);
        for (j, x) in [(1, keys), (2, values)] {
            let d = (&d_keys_values[(j - 1) * hk..], 2 * hk);
            Self::kernel_gradient(isa, j, (x, B * TV), d, grads);
        }
        let blocks = [(0, 1, d_queries), (1, 2, d_keys_values)];
        Self::bias_gradients(isa, &blocks, grads, &mut tape.bias_sums);
        let Some(dx) = dx else { return };
        let (dq, rest) = tape.d_inputs.split_at_mut(B * NQ);
        let (dv, dk) = rest.split_at_mut(B * NV);
        let (query_t, keys_values_t) = tape.projections_t.split_at_mut(hk * FQ);
        self.input_gradient(isa, (0, 1), (d_queries, B * TQ, hk), query_t, dq);
        let keys_values = (d_keys_values, B * TV, 2 * hk);
        if Self::SEPARATE_KEYS {
            let (key_t, value_t) = keys_values_t.split_at_mut(hk * Keys::FEATURES);
            self.input_gradient(isa, (1, 1), keys_values, key_t, dk);
            let values = (&d_keys_values[hk..], B * TV, 2 * hk);
            self.input_gradient(isa, (2, 1), values, value_t, dv);
        } else {
            // The keys are the values: one product for both gradients.
            self.input_gradient(isa, (1, 2), keys_values, keys_values_t, dv);
        }
        for (b, dx) in dx.iter_mut().enumerate() {
            let (query, rest) = dx.split_at_mut(NQ);
            let (value, key) = rest.split_at_mut(NV);
            query.copy_from_slice(&dq[b * NQ..][..NQ]);
            value.copy_from_slice(&dv[b * NV..][..NV]);
            if Self::SEPARATE_KEYS {
                key.copy_from_slice(&dk[b * Keys::LEN..][..Keys::LEN]);
            }
        }
    }

    flat_parameters!();

    /// The eight tensors under Keras' names and in its shapes, in its order.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        Self::tensors(&self.params.weights, visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        Self::tensors_mut(&mut self.params.weights, visit);
    }

    /// The query, value and keys sliced from the row (the keys are the values when the row
    /// holds none of their own), then the heads as for self-attention.
    #[cfg(feature = "onnx")]
    fn onnx(&self, graph: &mut onnx::Graph, x: onnx::Value) -> Result<onnx::Value, onnx::Error> {
        let x = graph.reshape(x, &[IN]);
        let slice = |graph: &mut onnx::Graph, from: usize, steps: usize, features: usize| {
            let starts = graph.int64s("starts", &[from as i64]);
            let ends = graph.int64s("ends", &[(from + steps * features) as i64]);
            let axes = graph.int64s("axes", &[1]);
            let inputs = [x.name.as_str(), &starts, &ends, &axes];
            let part = graph.node("Slice", &inputs, Vec::new(), vec![steps * features]);
            graph.reshape(part, &[steps, features])
        };
        let query = slice(graph, 0, TQ, FQ);
        let value = slice(graph, NQ, TV, FV);
        let key = if IN == NQ + NV {
            value.clone()
        } else {
            slice(graph, NQ + NV, Keys::STEPS, Keys::FEATURES)
        };
        let heads = Heads::<H, K, CAUSAL>(Self::KIND);
        heads.onnx(graph, tensors_of(self), &query, &value, &key)
    }
}

impl<S, A, const CAUSAL: bool, V, Keys> Initialize for MultiHeadAttention<S, A, CAUSAL, V, Keys>
where
    S: SequenceShape,
    A: AttentionShape,
    V: SequenceShape,
    Keys: SequenceShape,
{
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::keras_default(rng)
    }
}

impl<S, A, const CAUSAL: bool, V, Keys> Clone for MultiHeadAttention<S, A, CAUSAL, V, Keys> {
    fn clone(&self) -> Self {
        Self {
            params: self.params.clone(),
            types: PhantomData,
        }
    }
}

impl<S, A, const CAUSAL: bool, V, Keys> fmt::Debug for MultiHeadAttention<S, A, CAUSAL, V, Keys>
where
    S: Default + fmt::Debug,
    A: Default + fmt::Debug,
    V: Default + fmt::Debug,
    Keys: Default + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiHeadAttention")
            .field("query", &S::default())
            .field("value", &V::default())
            .field("key", &Keys::default())
            .field("attention", &A::default())
            .field("causal", &CAUSAL)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::gradcheck::{affine, check_masked_against_reference, seeded, values};

    /// The hand-worked case of the type's documentation: two steps of one feature, one head of
    /// one value, `q = ln 3 · x`, `k = x`, `v = 2x + 1`, `y = o + 0.5`.
    type Tiny<const CAUSAL: bool> =
        MultiHeadAttention<Sequence<2, 1, 2>, Attention<1, 1, 2, 4>, CAUSAL>;

    fn tiny<const CAUSAL: bool>() -> Tiny<CAUSAL> {
        let ln3 = 3.0_f32.ln();
        Tiny::from_parameters([
            &[ln3],
            &[0.0],
            &[1.0],
            &[0.0],
            &[2.0],
            &[1.0],
            &[1.0],
            &[0.5],
        ])
    }

    /// Forward and backward of `tiny` on `x = (0, 1)` with `dy = (1, 1)`: the output, the
    /// probabilities, the eight gradients in Keras' order and `dx`.
    fn run_tiny<const CAUSAL: bool>() -> ([f32; 2], Vec<f32>, Vec<f32>, [f32; 2]) {
        let layer = tiny::<CAUSAL>();
        let x = [[0.0, 1.0]];
        let mut tape = layer.new_tape::<1>();
        let mut y = [[0.0; 2]];
        layer.forward(&x, &mut y, &mut tape);
        let mut grads = layer.new_grads();
        let mut dx = [[9.0; 2]];
        layer.backward(&x, &[[1.0, 1.0]], Some(&mut dx), &mut grads, &mut tape);
        (y[0], tape.probs.to_vec(), grads.weights().to_vec(), dx[0])
    }

    fn assert_close(found: &[f32], expected: &[f32], what: &str) {
        for (i, (f, e)) in found.iter().zip(expected).enumerate() {
            assert!(
                (f - e).abs() <= 1e-6,
                "{what}[{i}]: found {f}, expected {e}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{what}");
    }

    #[test]
    fn two_steps_of_one_head_give_the_hand_worked_values() {
        let (y, probs, grads, dx) = run_tiny::<false>();
        let ln3 = 3.0_f32.ln();
        // Step 0 scores (0, 0), step 1 (0, ln 3); v = (1, 3).
        assert_close(&probs, &[0.5, 0.5, 0.25, 0.75], "probabilities");
        assert_close(&y, &[2.5, 3.0], "y");
        // dO = dy = (1, 1); dV = Pᵀ dO = (0.75, 1.25); dP_ij = v_j; dS = P ⊙ (dP - P·dP):
        // (-1/2, 1/2) and (-3/8, 3/8); dq = dS · k = (1/2, 3/8); dk = dSᵀ · q = ±3/8 ln 3.
        #[rustfmt::skip]
        let expected = [
            0.375, 0.875,           // dW_q = Σ x dq, db_q = Σ dq
            0.375 * ln3, 0.0,       // dW_k = Σ x dk, db_k = Σ dk: a shared shift of the scores
            1.25, 2.0,              // dW_v = Σ x dv, db_v = Σ dv
            4.5, 2.0,               // dW_o = Σ o dy (o = (2, 2.5)), db_o = Σ dy
        ];
        assert_close(&grads, &expected, "gradients");
        // dx = ln 3 · dq + dk + 2 dv.
        assert_close(&dx, &[1.5 + 0.125 * ln3, 2.5 + 0.75 * ln3], "dx");
    }

    #[test]
    fn a_causal_mask_hides_the_future_exactly() {
        let (y, probs, grads, dx) = run_tiny::<true>();
        let ln3 = 3.0_f32.ln();
        // Step 0 sees only itself: its weight on step 1 is exactly 0, as Keras' is.
        assert_eq!(probs[..2], [1.0, 0.0]);
        assert_close(&probs[2..], &[0.25, 0.75], "probabilities of step 1");
        assert_close(&y, &[1.5, 3.0], "y");
        // dV = (1.25, 0.75); step 0's score gradients vanish; dq = (0, 3/8).
        #[rustfmt::skip]
        let expected = [
            0.375, 0.375,
            0.375 * ln3, 0.0,
            0.75, 2.0,
            3.5, 2.0, // o = (1, 2.5)
        ];
        assert_close(&grads, &expected, "gradients");
        assert_close(&dx, &[2.5 - 0.375 * ln3, 1.5 + 0.75 * ln3], "dx");

        // Whatever step 1 holds, step 0's output stays the same, to the bit.
        let layer = tiny::<true>();
        for later in [-3.0, 0.5, 40.0] {
            let mut y = [0.0; 2];
            layer.infer(&[0.0, later], &mut y);
            assert_eq!(y[0], 1.5, "step 0 with step 1 at {later}");
        }
    }

    /// The sizes of an attention: query steps and features, value steps and features, heads,
    /// values per head.
    #[derive(Clone, Copy)]
    struct Sizes {
        tq: usize,
        fq: usize,
        tv: usize,
        fv: usize,
        /// Features of a key step; 0 when the keys are the values.
        fk: usize,
        h: usize,
        k: usize,
    }

    impl Sizes {
        fn of<S: SequenceShape, A: AttentionShape, V: SequenceShape, Keys: SequenceShape>() -> Self
        {
            let separate = A::INPUT != 0 && A::INPUT == S::LEN + V::LEN + Keys::LEN;
            Sizes {
                tq: S::STEPS,
                fq: S::FEATURES,
                tv: V::STEPS,
                fv: V::FEATURES,
                fk: if separate { Keys::FEATURES } else { 0 },
                h: A::HEADS,
                k: A::KEY_DIM,
            }
        }
    }

    /// Multi-head attention in f64, straight from its definition, for every sample of `x`,
    /// with the parameters `w` in Keras' order: self-attention of `t` steps of `f` features,
    /// or with `cross` each sample's query sequence followed by its value sequence and, where
    /// `s.fk` is not 0, its key sequence. `mask`
    /// (self-attention) holds each sample's flags; a query that sees no key weighs every key
    /// alike, as Keras does.
    fn reference(
        s: Sizes,
        (causal, cross): (bool, bool),
        mask: Option<&[bool]>,
        w: &[f64],
        x: &[f64],
    ) -> Vec<f64> {
        let hk = s.h * s.k;
        let fk = if s.fk == 0 { s.fv } else { s.fk };
        let (query, key, value) = ((s.fq + 1) * hk, (fk + 1) * hk, (s.fv + 1) * hk);
        let (out_kernel, out_bias) = w[query + key + value..].split_at(hk * s.fq);
        let scale = 1.0 / (s.k as f64).sqrt();
        let sample = match cross {
            true => s.tq * s.fq + s.tv * s.fv + s.tv * s.fk,
            false => s.tq * s.fq,
        };
        let mut out = Vec::new();
        for (b, x) in x.chunks_exact(sample).enumerate() {
            let (xq, rest) = if cross {
                x.split_at(s.tq * s.fq)
            } else {
                (x, x)
            };
            let (xv, xk) = match (cross, s.fk) {
                (true, 0) => (rest, rest),
                (true, _) => rest.split_at(s.tv * s.fv),
                (false, _) => (x, x),
            };
            let project = |at: usize, features: usize, x: &[f64]| {
                let (kernel, bias) = w[at..][..(features + 1) * hk].split_at(features * hk);
                x.chunks_exact(features)
                    .map(|x| affine(x, kernel, bias))
                    .collect::<Vec<_>>()
            };
            let q = project(0, s.fq, xq);
            let keys = project(query, fk, xk);
            let v = project(query + key, s.fv, xv);
            let flags = mask.map(|m| &m[b * s.tq..][..s.tq]);
            let sees =
                |i: usize, j: usize| (!causal || j <= i) && flags.is_none_or(|m| m[i] && m[j]);
            let mut heads = vec![vec![0.0; hk]; s.tq];
            for head in (0..s.h).map(|h| h * s.k..(h + 1) * s.k) {
                for i in 0..s.tq {
                    let seen: Vec<usize> = (0..s.tv).filter(|&j| sees(i, j)).collect();
                    if seen.is_empty() {
                        for v in &v {
                            for c in head.clone() {
                                heads[i][c] += v[c] / s.tv as f64;
                            }
                        }
                        continue;
                    }
                    let scores: Vec<f64> = seen
                        .iter()
                        .map(|&j| {
                            let dot = q[i][head.clone()].iter().zip(&keys[j][head.clone()]);
                            dot.map(|(a, b)| a * b).sum::<f64>() * scale
                        })
                        .collect();
                    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for (&j, e) in seen.iter().zip(&e) {
                        for c in head.clone() {
                            heads[i][c] += e / sum * v[j][c];
                        }
                    }
                }
            }
            for o in &heads {
                out.extend(affine(o, out_kernel, out_bias));
            }
        }
        out
    }

    /// A Keras-default layer of these sizes with biases of distinct values, so that every
    /// bias moves the outputs (Keras' zeros would leave the key bias's gradient untested).
    fn random<S, A, const CAUSAL: bool, V, Keys>(
        seed: u64,
    ) -> MultiHeadAttention<S, A, CAUSAL, V, Keys>
    where
        S: SequenceShape,
        A: AttentionShape,
        V: SequenceShape,
        Keys: SequenceShape,
    {
        let mut l = MultiHeadAttention::<S, A, CAUSAL, V, Keys>::keras_default(&mut seeded(seed));
        MultiHeadAttention::<S, A, CAUSAL, V, Keys>::tensors_mut(
            &mut l.params.weights,
            &mut |name, _, values| {
                if name.ends_with("bias") {
                    for (i, b) in values.iter_mut().enumerate() {
                        *b = 0.1 * (i % 7) as f32 - 0.3;
                    }
                }
            },
        );
        l
    }

    /// Checks `l` against [`reference`] on a batch of 3, given `mask` (3 rows of flags, for
    /// self-attention): forward, infer, and the gradients of every tensor and of the input
    /// against f64 central differences.
    fn check<S, A, const CAUSAL: bool, V, Keys, const IN: usize, const OUT: usize>(
        l: MultiHeadAttention<S, A, CAUSAL, V, Keys>,
        seed: u32,
        mask: Option<&[bool]>,
    ) where
        S: SequenceShape,
        A: AttentionShape,
        V: SequenceShape,
        Keys: SequenceShape,
        MultiHeadAttention<S, A, CAUSAL, V, Keys>:
            Layer<In = [f32; IN], Out = [f32; OUT], Grads = FlatParameters>,
    {
        let x = values::<[f32; IN], 3>(seed);
        let coefficients = values::<[f32; OUT], 3>(seed + 1);
        let sizes = Sizes::of::<S, A, V, Keys>();
        let cross = A::INPUT != 0;
        check_masked_against_reference(&l, &l.params, &x, mask, &coefficients, &|w, b, x| {
            assert!(b.is_empty(), "every tensor is among the weights");
            reference(sizes, (CAUSAL, cross), mask, w, x)
        });
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn backward_matches_f64_differences_with_several_heads() {
        check(random::<Sequence<4, 3, 12>, Attention<2, 3, 24, 16>, false, _, _>(1), 1, None);
        check(random::<Sequence<5, 2, 10>, Attention<3, 2, 30, 25>, false, _, _>(2), 2, None);
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn causal_backward_matches_f64_differences_with_several_heads() {
        check(random::<Sequence<4, 3, 12>, Attention<2, 3, 24, 16>, true, _, _>(3), 3, None);
        check(random::<Sequence<5, 2, 10>, Attention<3, 2, 30, 25>, true, _, _>(4), 4, None);
    }

    /// Padding at the end, at the start and in the middle of a sample, a sample of padding
    /// only, one of data only.
    #[rustfmt::skip]
    const PADDED: [bool; 12] = [
        true, true, false, false,
        false, true, false, true,
        false, false, false, false,
    ];

    #[test]
    #[rustfmt::skip] // one layer a line
    fn masked_backward_matches_f64_differences() {
        type Small<const CAUSAL: bool> =
            MultiHeadAttention<Sequence<4, 3, 12>, Attention<2, 3, 24, 16>, CAUSAL>;
        check(random::<_, _, false, _, _>(5) as Small<false>, 5, Some(&PADDED));
        check(random::<_, _, true, _, _>(6) as Small<true>, 6, Some(&PADDED));
        let all = [true; 12];
        check(random::<_, _, false, _, _>(7) as Small<false>, 7, Some(&all));
    }

    #[test]
    fn a_padded_step_is_left_out_and_a_padded_query_weighs_every_step_alike() {
        let layer = tiny::<false>();
        let mut y = [0.0; 2];
        layer.infer_masked(&[0.0, 1.0], Some(&[true, false]), &mut y, &mut []);
        // Step 0 sees only itself: v = 1, plus 0.5. Step 1 is padding: (1 + 3) / 2 + 0.5.
        assert!(
            (y[0] - 1.5).abs() < 1e-6 && (y[1] - 2.5).abs() < 1e-6,
            "{y:?}"
        );
        // The batched pass agrees, and what the padded step holds does not reach step 0.
        let mut tape = layer.new_tape::<2>();
        layer.set_input_mask::<2>(&mut tape, Some(&[true, false, true, false]));
        let mut batch = [[0.0; 2]; 2];
        layer.forward(&[[0.0, 1.0], [0.0, 7.0]], &mut batch, &mut tape);
        assert_eq!(batch[0], y);
        assert_eq!(batch[1][0], y[0]);
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn cross_attention_backward_matches_f64_differences() {
        // 3 query steps of 4 features attend to 5 value steps of 2: IN = 12 + 10.
        type Cross<const CAUSAL: bool> = MultiHeadAttention<
            Sequence<3, 4, 12>, CrossAttention<2, 3, 18, 30, 15, 22>, CAUSAL, Sequence<5, 2, 10>,
        >;
        check(random::<_, _, false, _, _>(8) as Cross<false>, 8, None);
        check(random::<_, _, true, _, _>(9) as Cross<true>, 9, None);
        // More queries than values, one head.
        type Wide = MultiHeadAttention<
            Sequence<6, 2, 12>, CrossAttention<1, 4, 24, 16, 24, 24>, false, Sequence<4, 3, 12>,
        >;
                check(random::<_, _, false, _, _>(10) as Wide, 10, None);
        // Keys of their own: 4 steps of 1 feature, after the values in each row.
        type Keyed<const CAUSAL: bool> = MultiHeadAttention<
            Sequence<3, 4, 12>, CrossAttention<2, 3, 18, 24, 12, 24>, CAUSAL, Sequence<4, 2, 8>,
            Sequence<4, 1, 4>,
        >;
        check(random::<_, _, false, _, _>(11) as Keyed<false>, 11, None);
        check(random::<_, _, true, _, _>(12) as Keyed<true>, 12, None);
    }

    /// The ViT example's sizes: 16 patches of width 64, 4 heads of 16.
    type Vit<const CAUSAL: bool> =
        MultiHeadAttention<Sequence<16, 64, 1024>, Attention<4, 16, 1024, 256>, CAUSAL>;

    fn infer_equals_forward<const CAUSAL: bool>() {
        let layer = Vit::<CAUSAL>::keras_default(&mut seeded(5));
        let x = values::<[f32; 1024], 3>(5);
        let mut y = [[0.0; 1024]; 3];
        layer.forward(&x, &mut y, &mut layer.new_tape::<3>());
        for (x, y) in x.iter().zip(&y) {
            let mut single = [9.0; 1024];
            layer.infer(x, &mut single);
            // The same products and softmax on the same rows, in the same order.
            assert_eq!(single, *y, "causal {CAUSAL}");
        }
    }

    #[test]
    fn infer_equals_the_batched_forward_pass() {
        infer_equals_forward::<false>();
        infer_equals_forward::<true>();
    }

    #[test]
    fn keras_default_draws_kernels_with_keras_fans_and_zero_biases() {
        let layer = Vit::<false>::keras_default(&mut seeded(6));
        // Keras' fans of `[F, H, K]` are (H · F, K · F), of `[H, K, F]` (K · H, F · H).
        let projection = (6.0_f32 / (4.0 * 64.0 + 16.0 * 64.0)).sqrt();
        let output = (6.0_f32 / (16.0 * 4.0 + 64.0 * 4.0)).sqrt();
        let mut seen = Vec::new();
        layer.visit_tensors(&mut |name, shape, values| {
            seen.push((name.to_owned(), shape.to_vec()));
            let limit = match name {
                "attention_output.kernel" => output,
                _ if name.ends_with("kernel") => projection,
                _ => 0.0,
            };
            assert!(
                values.iter().all(|w| w.abs() <= limit),
                "{name} within {limit}"
            );
            assert!(
                values.iter().any(|w| w.abs() >= 0.9 * limit),
                "{name} spans {limit}"
            );
        });
        let expected: Vec<(String, Vec<usize>)> = [
            ("query.kernel", vec![64, 4, 16]),
            ("query.bias", vec![4, 16]),
            ("key.kernel", vec![64, 4, 16]),
            ("key.bias", vec![4, 16]),
            ("value.kernel", vec![64, 4, 16]),
            ("value.bias", vec![4, 16]),
            ("attention_output.kernel", vec![4, 16, 64]),
            ("attention_output.bias", vec![64]),
        ]
        .into_iter()
        .map(|(name, shape)| (name.to_owned(), shape))
        .collect();
        assert_eq!(seen, expected);
        // Keras' `count_params()`: 4 · 64 · 64 + 3 · 64 + 64.
        assert_eq!(layer.parameter_count(), 16_640);
    }

    #[test]
    fn parameters_are_visited_in_the_order_of_the_tensors() {
        let mut layer = random::<Sequence<3, 2, 6>, Attention<2, 2, 12, 9>, false, _, _>(7);
        let mut named = Vec::new();
        layer.visit_tensors(&mut |_, _, values| named.extend_from_slice(values));
        let mut grads = layer.new_grads();
        let mut visited = Vec::new();
        layer.visit_parameters(&mut grads, &mut |p, g| {
            assert_eq!(p.len(), g.len());
            visited.extend_from_slice(p);
        });
        assert_eq!(visited, named);
        assert_eq!(visited.len(), layer.parameter_count());
    }

    /// Best time in seconds of `runs` runs of `f`.
    #[cfg(feature = "std")]
    fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
        (0..runs)
            .map(|_| {
                let start = std::time::Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// GFLOP/s on `isa` of the `Q_h · K_hᵀ` products of every head of a batch of `B` at the ViT
    /// sizes, and of its `P · V_h` products, each kind timed alone on the operands a forward
    /// pass left in the tape, read as the forward pass reads them.
    #[cfg(feature = "std")]
    fn vit_products<const B: usize>(isa: Isa) -> (f64, f64) {
        type L = Vit<false>;
        let layer = L::keras_default(&mut seeded(8));
        let x = values::<[f32; 1024], B>(8);
        let mut tape = layer.new_tape::<B>();
        layer.forward(&x, &mut [[0.0; 1024]; B], &mut tape);
        let (t, hk, heads, row) = (16, 64, 4, 3 * 64);
        let mut keys_t = vec![0.0; 1024 * B];
        for b in 0..B {
            let keys = &tape.qkv[b * t * row + hk..];
            transpose(keys, row, t, hk, &mut keys_t[b * 1024..]);
        }
        let mut scores = vec![0.0; 256];
        let flops = (B * heads) as f64 * 2.0 * 16.0 * 16.0 * 16.0;
        let products = |product: &mut dyn FnMut(usize, usize)| {
            let seconds = best_of(200, || {
                for _ in 0..20 {
                    for b in 0..B {
                        (0..heads).for_each(|h| product(b, h));
                    }
                }
            });
            20.0 * flops / seconds / 1e9
        };
        let qk = products(&mut |b, h| {
            let queries = (&tape.qkv[b * t * row..], row);
            L::scores(isa, queries, h, &keys_t[b * 1024..], &mut scores);
        });
        let pv = products(&mut |b, h| {
            let values = (&tape.qkv[b * t * row + 2 * hk..], row);
            let probs = &tape.probs[(b * heads + h) * 256..][..256];
            L::weigh_values(isa, probs, values, h, &mut tape.heads[b * t * hk..]);
        });
        (qk, pv)
    }

    /// The share of the FMA peak of attention's own products at the ViT example's sizes, and
    /// the whole layer's time per sample; asserts only that the SIMD paths beat the portable
    /// one on these products, the figures being the point: run it in release,
    /// `cargo test --release -p netdsl-core --lib multi_head_attention -- --ignored --nocapture`.
    #[test]
    #[cfg(feature = "std")]
    #[ignore = "a timing: run in release with --ignored --nocapture"]
    fn vit_sizes_products_and_layer_timing() {
        const B: usize = 32;
        let (qk_portable, pv_portable) = vit_products::<B>(Isa::Portable);
        for isa in Isa::supported() {
            let peak = kernels::peak_flops(isa, 0.5) / 1e9;
            let (qk, pv) = vit_products::<B>(isa);
            println!(
                "{}: peak {peak:.1} GFLOP/s; Q·Kᵀ (16×16 · 16×16) {qk:.1} GFLOP/s = {:.0} % of peak; P·V {pv:.1} GFLOP/s = {:.0} %",
                isa.name(),
                100.0 * qk / peak,
                100.0 * pv / peak
            );
            if isa != Isa::Portable {
                assert!(
                    qk > qk_portable && pv > pv_portable,
                    "{}: Q·Kᵀ {qk:.1}, P·V {pv:.1} GFLOP/s, portable {qk_portable:.1}, {pv_portable:.1}",
                    isa.name()
                );
            }
        }

        let mut layer = Vit::<false>::keras_default(&mut seeded(9));
        let x: Box<[[f32; 1024]; B]> = Box::new(values(9));
        let mut y: Box<[[f32; 1024]; B]> = Box::new([[0.0; 1024]; B]);
        let mut dx: Box<[[f32; 1024]; B]> = Box::new([[0.0; 1024]; B]);
        let (mut tape, mut grads) = (layer.new_tape::<B>(), layer.new_grads());
        let forward = best_of(50, || layer.forward(&x, &mut y, &mut tape));
        let both = best_of(50, || {
            layer.forward(&x, &mut y, &mut tape);
            layer.backward(&x, &y, Some(&mut dx), &mut grads, &mut tape);
        });
        let mut single = [0.0; 1024];
        let infer = best_of(50, || {
            for x in x.iter() {
                layer.infer(x, &mut single);
            }
        });
        // Multiply-adds of one sample: the four projections, 16 · 64 · 64 each, and per head
        // 16 · 16 · 16 for each of Q·Kᵀ and P·V; backward twice the forward's.
        let forward_flops = 2.0 * (4.0 * 16.0 * 64.0 * 64.0 + 4.0 * 2.0 * 4096.0);
        let peak = kernels::peak_flops(Isa::selected(), 0.5) / 1e9;
        let per_sample = both / B as f64;
        println!(
            "{}: forward {:.2} µs, forward + backward {:.2} µs per sample (batch {B}, {:.0} % of peak); infer {:.2} µs",
            Isa::selected().name(),
            1e6 * forward / B as f64,
            1e6 * per_sample,
            100.0 * 3.0 * forward_flops / per_sample / 1e9 / peak,
            1e6 * infer / B as f64,
        );
        layer.visit_parameters(&mut grads, &mut |_, g| {
            assert!(g.iter().all(|g| g.is_finite()))
        });
    }
}
