//! Multi-head self-attention: Keras' `MultiHeadAttention` called with one sequence as its query,
//! key and value.

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
use crate::shape::{Attention, AttentionShape, Sequence, SequenceShape};

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
pub struct MultiHeadAttention<S, A, const CAUSAL: bool> {
    /// The eight tensors one after another, in Keras' order (see the type's documentation).
    params: FlatParameters,
    /// The shapes are types only.
    types: PhantomData<(S, A)>,
}

/// Parameter gradients of a [`MultiHeadAttention`] layer, laid out like its parameters: the
/// eight tensors' gradients one after another, in Keras' order.
pub type MultiHeadAttentionGrads = FlatParameters;

/// What a [`MultiHeadAttention`] keeps between the forward and backward passes of a batch, and
/// the scratch space of its backward pass: allocated once by [`Layer::new_tape`].
pub struct MultiHeadAttentionTape {
    /// Each step's query, key and value side by side, `[q | k | v]`: `B · T` rows of `3 · H · K`
    /// values. Side by side, their gradients make `dx` one product.
    qkv: Box<[f32]>,
    /// The attention probabilities of each sample and head, `T × T` each (query by key).
    probs: Box<[f32]>,
    /// The heads' outputs side by side, the output projection's input: `B · T` rows of `H · K`.
    heads: Box<[f32]>,
    /// One sample's keys (forward) or values (backward) transposed, `H · K` rows of `T`, so that
    /// `Q_h · K_hᵀ` and `dO_h · V_hᵀ` read their second operand by rows.
    transposed: Box<[f32]>,
    /// `dL/d heads`, laid out as `heads`.
    d_heads: Box<[f32]>,
    /// `dL/d [q | k | v]`, laid out as `qkv`.
    d_qkv: Box<[f32]>,
    /// One head's `dL/d scores`, `T × T`.
    d_scores: Box<[f32]>,
    /// `[W_q W_k W_v]ᵀ`, `3 · H · K` rows of `F`: the three projections' kernels, transposed
    /// and stacked for `dx`.
    projections_t: Box<[f32]>,
    /// `W_oᵀ`, `F` rows of `H · K`.
    output_t: Box<[f32]>,
    /// The column sums of `d_qkv`: the three projections' bias gradients side by side.
    bias_sums: Box<[f32]>,
}

/// Where one sample's projections lie in a buffer: projection `j` (0 the queries, 1 the keys,
/// 2 the values) of step `t`, head `h`, at `j · step + t · row + h · K`. The batch side by side
/// (`step = H · K`, `row = 3 · H · K`), a single sample's `[f32; TK]` one after another
/// (`step = TK`, `row = H · K`).
#[derive(Clone, Copy)]
struct Layout {
    step: usize,
    row: usize,
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

impl<S: SequenceShape, A: AttentionShape, const CAUSAL: bool> MultiHeadAttention<S, A, CAUSAL> {
    /// Steps, `T`.
    const T: usize = S::STEPS;
    /// Features of a step, `F`.
    const F: usize = S::FEATURES;
    /// Heads, `H`.
    const H: usize = A::HEADS;
    /// Values of one head's query, key and value, `K`.
    const K: usize = A::KEY_DIM;
    /// Values of every head of one step, `H · K`.
    const HK: usize = A::HEADS * A::KEY_DIM;
    /// One input projection's kernel and bias, `F · H · K + H · K` values.
    const PROJECTION: usize = (Self::F + 1) * Self::HK;
    /// Where the output projection's kernel starts, after the three input projections.
    const OUTPUT: usize = 3 * Self::PROJECTION;
    /// Where the output projection's bias starts.
    const OUTPUT_BIAS: usize = Self::OUTPUT + Self::HK * Self::F;
    /// The number of parameters.
    const COUNT: usize = Self::OUTPUT_BIAS + Self::F;

    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        let (t, f, h, k) = (S::STEPS, S::FEATURES, A::HEADS, A::KEY_DIM);
        assert!(
            t >= 1 && f >= 1 && h >= 1 && k >= 1,
            "`MultiHeadAttention`: expected at least one step, feature, head and value per head"
        );
        assert!(S::LEN == t * f, "`MultiHeadAttention`: expected N = T * F");
        assert!(
            A::PROJECTED == t * h * k,
            "`MultiHeadAttention`: expected TK = T * H * K"
        );
        assert!(
            A::SCORES == t * t,
            "`MultiHeadAttention`: expected TT = T * T"
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

    /// A layer with the given tensors, in Keras' order and layouts: `query.kernel` `[F, H, K]`,
    /// `query.bias` `[H, K]`, `key.kernel`, `key.bias`, `value.kernel`, `value.bias`,
    /// `attention_output.kernel` `[H, K, F]`, `attention_output.bias` `[F]`, each flattened.
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
        let (f, h, k) = (Self::F, Self::H, Self::K);
        let (kernel, bias) = (([f, h, k], 3), ([h, k, 0], 2));
        let (output_kernel, output_bias) = (([h, k, f], 3), ([f, 0, 0], 1));
        [
            kernel,
            bias,
            kernel,
            bias,
            kernel,
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

    /// Where input projection `j`'s kernel starts (0 the queries, 1 the keys, 2 the values).
    const fn kernel_at(j: usize) -> usize {
        j * Self::PROJECTION
    }

    /// Where input projection `j`'s bias starts, right after its kernel.
    const fn bias_at(j: usize) -> usize {
        Self::kernel_at(j) + Self::F * Self::HK
    }

    /// `1 / √K` as Keras applies it: worked out in f64 (Python's `1.0 / math.sqrt(key_dim)`),
    /// then rounded to f32.
    fn scale() -> f32 {
        (1.0 / (Self::K as f64).sqrt()) as f32
    }

    /// The queries, keys and values of `rows` steps of `x` (`F` values each), into `qkv` laid
    /// out as `layout` says: one product of all the rows per projection.
    fn project(&self, isa: Isa, x: &[f32], rows: usize, qkv: &mut [f32], layout: Layout) {
        let w = &self.params.weights;
        for j in 0..3 {
            Product {
                m: rows,
                n: Self::HK,
                k: Self::F,
                a: x,
                a_row: Self::F,
                a_col: 1,
                b: &w[Self::kernel_at(j)..],
                ldb: Self::HK,
                bias: Some(&w[Self::bias_at(j)..][..Self::HK]),
                c: &mut qkv[j * layout.step..],
                ldc: layout.row,
            }
            .run(isa);
        }
    }

    /// Head `h` of one sample: its scores `Q_h · K_hᵀ` into `scores` (`T × T`), turned into
    /// probabilities there, and its output `P · V_h` into its columns of `heads` (`T` rows of
    /// `H · K`). `projections` are the sample's queries, keys and values and their layout,
    /// `keys_t` its keys transposed (`H · K` rows of `T`).
    fn attend(
        isa: Isa,
        projections: (&[f32], Layout),
        h: usize,
        keys_t: &[f32],
        scores: &mut [f32],
        heads: &mut [f32],
    ) {
        Self::scores(isa, projections, h, keys_t, scores);
        softmax::<CAUSAL>(isa, scores, Self::T, Self::scale());
        Self::weigh_values(isa, projections, h, scores, heads);
    }

    /// `Q_h · K_hᵀ` into `scores` (`T × T`), the queries read in place, the keys from `keys_t`.
    fn scores(
        isa: Isa,
        (qkv, layout): (&[f32], Layout),
        h: usize,
        keys_t: &[f32],
        scores: &mut [f32],
    ) {
        let (t, k) = (Self::T, Self::K);
        Product {
            m: t,
            n: t,
            k,
            a: &qkv[h * k..],
            a_row: layout.row,
            a_col: 1,
            b: &keys_t[h * k * t..],
            ldb: t,
            bias: None,
            c: scores,
            ldc: t,
        }
        .run(isa);
    }

    /// `P · V_h` into head `h`'s columns of `heads`, the values read in place.
    fn weigh_values(
        isa: Isa,
        (qkv, layout): (&[f32], Layout),
        h: usize,
        probs: &[f32],
        heads: &mut [f32],
    ) {
        let (t, k) = (Self::T, Self::K);
        Product {
            m: t,
            n: k,
            k: t,
            a: probs,
            a_row: t,
            a_col: 1,
            b: &qkv[2 * layout.step + h * k..],
            ldb: layout.row,
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
            n: Self::F,
            k: Self::HK,
            a: heads,
            a_row: Self::HK,
            a_col: 1,
            b: &w[Self::OUTPUT..],
            ldb: Self::F,
            bias: Some(&w[Self::OUTPUT_BIAS..]),
            c: y,
            ldc: Self::F,
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
        let (f, hk) = (Self::F, Self::HK);
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

    /// Head `h` of sample `b`, backward: from the sample's rows of `dL/d heads`, the head's
    /// columns of the sample's rows of `dL/d [q | k | v]`, given the head's probabilities and
    /// the sample's values transposed (in `transposed`).
    fn attend_backward(isa: Isa, tape: &mut MultiHeadAttentionTape, b: usize, h: usize) {
        let (t, k, hk) = (Self::T, Self::K, Self::HK);
        let (row, at) = (3 * hk, h * k);
        let qkv = &tape.qkv[b * t * row..];
        let probs = &tape.probs[(b * Self::H + h) * t * t..][..t * t];
        let (values_t, d_scores) = (&tape.transposed, &mut tape.d_scores);
        let d_heads = &tape.d_heads[b * t * hk..];
        let d_qkv = &mut tape.d_qkv[b * t * row..];
        // dP = dO_h · V_hᵀ
        Product {
            m: t,
            n: t,
            k,
            a: &d_heads[at..],
            a_row: hk,
            a_col: 1,
            b: &values_t[at * t..],
            ldb: t,
            bias: None,
            c: d_scores,
            ldc: t,
        }
        .run(isa);
        // dV_h = Pᵀ · dO_h, Pᵀ read down the columns of P.
        Product {
            m: t,
            n: k,
            k: t,
            a: probs,
            a_row: 1,
            a_col: t,
            b: &d_heads[at..],
            ldb: hk,
            bias: None,
            c: &mut d_qkv[2 * hk + at..],
            ldc: row,
        }
        .run(isa);
        softmax_backward(probs, d_scores, t, Self::scale());
        // dQ_h = dS · K_h
        Product {
            m: t,
            n: k,
            k: t,
            a: d_scores,
            a_row: t,
            a_col: 1,
            b: &qkv[hk + at..],
            ldb: row,
            bias: None,
            c: &mut d_qkv[at..],
            ldc: row,
        }
        .run(isa);
        // dK_h = dSᵀ · Q_h
        Product {
            m: t,
            n: k,
            k: t,
            a: d_scores,
            a_row: 1,
            a_col: t,
            b: &qkv[at..],
            ldb: row,
            bias: None,
            c: &mut d_qkv[hk + at..],
            ldc: row,
        }
        .run(isa);
    }

    /// The input projections' backward pass over `rows` steps, from `dL/d [q | k | v]` in the
    /// tape: `dW_j = xᵀ · dL/d proj_j` and `db_j = Σ dL/d proj_j` into `grads` and, when asked,
    /// `dx = [dQ dK dV] · [W_q W_k W_v]ᵀ`, one product for the three.
    fn projections_backward(
        &self,
        isa: Isa,
        x: &[f32],
        rows: usize,
        dx: Option<&mut [f32]>,
        grads: &mut FlatParameters,
        tape: &mut MultiHeadAttentionTape,
    ) {
        let (f, hk) = (Self::F, Self::HK);
        for j in 0..3 {
            Product {
                m: f,
                n: hk,
                k: rows,
                a: x,
                a_row: 1,
                a_col: f,
                b: &tape.d_qkv[j * hk..],
                ldb: 3 * hk,
                bias: None,
                c: &mut grads.weights[Self::kernel_at(j)..],
                ldc: hk,
            }
            .run(isa);
        }
        kernels::column_sums(isa, &tape.d_qkv, 3 * hk, &mut tape.bias_sums);
        for (j, sums) in tape.bias_sums.chunks_exact(hk).enumerate() {
            grads.weights[Self::bias_at(j)..][..hk].copy_from_slice(sums);
        }
        let Some(dx) = dx else { return };
        for j in 0..3 {
            let w = &self.params.weights[Self::kernel_at(j)..];
            transpose(w, hk, f, hk, &mut tape.projections_t[j * hk * f..]);
        }
        Product {
            m: rows,
            n: f,
            k: 3 * hk,
            a: &tape.d_qkv,
            a_row: 3 * hk,
            a_col: 1,
            b: &tape.projections_t,
            ldb: f,
            bias: None,
            c: dx,
            ldc: f,
        }
        .run(isa);
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

/// One head's scores, `t × t` (query by key), scaled by `scale` and turned into probabilities
/// in place: each row a softmax over the keys its query sees, all of them or, when `CAUSAL`,
/// those up to its own step, the others getting exactly 0.
fn softmax<const CAUSAL: bool>(isa: Isa, scores: &mut [f32], t: usize, scale: f32) {
    for (i, row) in scores.chunks_exact_mut(t).enumerate() {
        let (seen, future) = row.split_at_mut(if CAUSAL { i + 1 } else { t });
        // Subtracting the maximum keeps `exp` finite; it cancels in the ratio.
        let max = seen.iter_mut().fold(f32::NEG_INFINITY, |max, s| {
            *s *= scale;
            max.max(*s)
        });
        seen.iter_mut().for_each(|s| *s -= max);
        // e^-∞ = 0: a key the query must not see gets no weight, exactly.
        future.fill(f32::NEG_INFINITY);
    }
    // One call for every row: `t` is often less than a vector or two.
    kernels::exp_with(isa, scores);
    for row in scores.chunks_exact_mut(t) {
        let inverse = 1.0 / row.iter().sum::<f32>();
        row.iter_mut().for_each(|p| *p *= inverse);
    }
}

/// `dS = (dP - rowsum(P ⊙ dP)) ⊙ P · scale` in place of `dP`, each row of `t`: the softmax's
/// backward pass, then the scale's. A masked score's `P` is 0, and so is its gradient.
fn softmax_backward(probs: &[f32], d: &mut [f32], t: usize, scale: f32) {
    for (p, d) in probs.chunks_exact(t).zip(d.chunks_exact_mut(t)) {
        let dot: f32 = p.iter().zip(d.iter()).map(|(p, d)| p * d).sum();
        for (d, &p) in d.iter_mut().zip(p) {
            *d = (*d - dot) * p * scale;
        }
    }
}

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
        let zeros = |n: usize| vec![0.0; n].into_boxed_slice();
        let (rows, hk) = (B * T, H * K);
        MultiHeadAttentionTape {
            qkv: zeros(rows * 3 * hk),
            probs: zeros(B * H * TT),
            heads: zeros(rows * hk),
            transposed: zeros(TK),
            d_heads: zeros(rows * hk),
            d_qkv: zeros(rows * 3 * hk),
            d_scores: zeros(TT),
            projections_t: zeros(3 * hk * F),
            output_t: zeros(F * hk),
            bias_sums: zeros(3 * hk),
        }
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
        let layout = Layout {
            step: hk,
            row: 3 * hk,
        };
        self.project(isa, x.as_flattened(), B * T, &mut tape.qkv, layout);
        for b in 0..B {
            let qkv = &tape.qkv[b * T * layout.row..];
            transpose(&qkv[layout.step..], layout.row, T, hk, &mut tape.transposed);
            for h in 0..H {
                let scores = &mut tape.probs[(b * H + h) * TT..][..TT];
                let heads = &mut tape.heads[b * T * hk..];
                Self::attend(isa, (qkv, layout), h, &tape.transposed, scores, heads);
            }
        }
        self.output(isa, &tape.heads, B * T, y.as_flattened_mut());
    }

    /// One sample on the stack: its queries, keys and values (`[f32; TK]` each, one after
    /// another), its keys transposed, one head's scores at a time and the heads' outputs.
    fn infer(&self, x: &[f32; N], y: &mut [f32; N]) {
        let isa = Isa::selected();
        let layout = Layout {
            step: TK,
            row: H * K,
        };
        let mut qkv = [[0.0; TK]; 3];
        self.project(isa, x, T, qkv.as_flattened_mut(), layout);
        let qkv = qkv.as_flattened();
        let mut keys_t = [0.0; TK];
        transpose(&qkv[TK..], layout.row, T, H * K, &mut keys_t);
        let (mut scores, mut heads) = ([0.0; TT], [0.0; TK]);
        for h in 0..H {
            Self::attend(isa, (qkv, layout), h, &keys_t, &mut scores, &mut heads);
        }
        self.output(isa, &heads, T, y);
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
        let sample = T * 3 * hk;
        for b in 0..B {
            let values = &tape.qkv[b * sample + 2 * hk..];
            transpose(values, 3 * hk, T, hk, &mut tape.transposed);
            for h in 0..H {
                Self::attend_backward(isa, tape, b, h);
            }
        }
        let dx = dx.map(|dx| dx.as_flattened_mut());
        self.projections_backward(isa, x.as_flattened(), B * T, dx, grads, tape);
    }

    flat_parameters!();

    /// The eight tensors under Keras' names and in its shapes, in its order.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        Self::tensors(&self.params.weights, visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        Self::tensors_mut(&mut self.params.weights, visit);
    }
}

impl<S: SequenceShape, A: AttentionShape, const CAUSAL: bool> Initialize
    for MultiHeadAttention<S, A, CAUSAL>
{
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::keras_default(rng)
    }
}

impl<S, A, const CAUSAL: bool> Clone for MultiHeadAttention<S, A, CAUSAL> {
    fn clone(&self) -> Self {
        Self {
            params: self.params.clone(),
            types: PhantomData,
        }
    }
}

impl<S, A, const CAUSAL: bool> fmt::Debug for MultiHeadAttention<S, A, CAUSAL>
where
    S: Default + fmt::Debug,
    A: Default + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiHeadAttention")
            .field("input", &S::default())
            .field("attention", &A::default())
            .field("causal", &CAUSAL)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::gradcheck::{affine, check_against_reference, seeded, values};

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

    /// Multi-head self-attention in f64, straight from its definition, for every sample of `x`
    /// (`t` steps of `f` features), with the parameters `w` in Keras' order.
    fn reference(
        (t, f, h, k): (usize, usize, usize, usize),
        causal: bool,
        w: &[f64],
        x: &[f64],
    ) -> Vec<f64> {
        let hk = h * k;
        let projection = (f + 1) * hk;
        let (out_kernel, out_bias) = w[3 * projection..].split_at(hk * f);
        let scale = 1.0 / (k as f64).sqrt();
        let mut out = Vec::new();
        for x in x.chunks_exact(t * f) {
            let [q, keys, v] = [0, 1, 2].map(|j| {
                let (kernel, bias) = w[j * projection..][..projection].split_at(f * hk);
                x.chunks_exact(f)
                    .map(|x| affine(x, kernel, bias))
                    .collect::<Vec<_>>()
            });
            let mut heads = vec![vec![0.0; hk]; t];
            for head in (0..h).map(|h| h * k..(h + 1) * k) {
                for i in 0..t {
                    let seen = if causal { i + 1 } else { t };
                    let scores: Vec<f64> = (0..seen)
                        .map(|j| {
                            let dot = q[i][head.clone()].iter().zip(&keys[j][head.clone()]);
                            dot.map(|(a, b)| a * b).sum::<f64>() * scale
                        })
                        .collect();
                    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for (j, e) in e.iter().enumerate() {
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
    fn random<S: SequenceShape, A: AttentionShape, const CAUSAL: bool>(
        seed: u64,
    ) -> MultiHeadAttention<S, A, CAUSAL> {
        let mut l = MultiHeadAttention::<S, A, CAUSAL>::keras_default(&mut seeded(seed));
        MultiHeadAttention::<S, A, CAUSAL>::tensors_mut(
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

    /// Checks `l` against [`reference`] on a batch of 3: forward, infer, and the gradients of
    /// every tensor and of the input against f64 central differences.
    fn check<S, A, const CAUSAL: bool, const N: usize>(
        l: MultiHeadAttention<S, A, CAUSAL>,
        seed: u32,
    ) where
        S: SequenceShape,
        A: AttentionShape,
        MultiHeadAttention<S, A, CAUSAL>:
            Layer<In = [f32; N], Out = [f32; N], Grads = FlatParameters>,
    {
        let x = values::<[f32; N], 3>(seed);
        let coefficients = values::<[f32; N], 3>(seed + 1);
        let sizes = (S::STEPS, S::FEATURES, A::HEADS, A::KEY_DIM);
        check_against_reference(&l, &l.params, &x, &coefficients, &|w, b, x| {
            assert!(b.is_empty(), "every tensor is among the weights");
            reference(sizes, CAUSAL, w, x)
        });
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn backward_matches_f64_differences_with_several_heads() {
        check(random::<Sequence<4, 3, 12>, Attention<2, 3, 24, 16>, false>(1), 1);
        check(random::<Sequence<5, 2, 10>, Attention<3, 2, 30, 25>, false>(2), 2);
    }

    #[test]
    #[rustfmt::skip] // one layer a line
    fn causal_backward_matches_f64_differences_with_several_heads() {
        check(random::<Sequence<4, 3, 12>, Attention<2, 3, 24, 16>, true>(3), 3);
        check(random::<Sequence<5, 2, 10>, Attention<3, 2, 30, 25>, true>(4), 4);
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
        let mut layer = random::<Sequence<3, 2, 6>, Attention<2, 2, 12, 9>, false>(7);
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
        let (t, hk, heads) = (16, 64, 4);
        let layout = Layout {
            step: hk,
            row: 3 * hk,
        };
        let mut keys_t = vec![0.0; 1024 * B];
        for b in 0..B {
            let keys = &tape.qkv[b * t * layout.row + hk..];
            transpose(keys, layout.row, t, hk, &mut keys_t[b * 1024..]);
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
            let projections = (&tape.qkv[b * t * layout.row..], layout);
            L::scores(isa, projections, h, &keys_t[b * 1024..], &mut scores);
        });
        let pv = products(&mut |b, h| {
            let projections = (&tape.qkv[b * t * layout.row..], layout);
            let probs = &tape.probs[(b * heads + h) * 256..][..256];
            L::weigh_values(isa, projections, h, probs, &mut tape.heads[b * t * hk..]);
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
