//! Gated recurrent units: Keras' `GRU`.

use core::fmt;

use rand::Rng;

use super::flat::FlatParameters;
use crate::activation::{Elementwise, Linear, Tanh};
use crate::init::{self, Initializer};
use crate::kernels::{self, Isa, Product};
use crate::layer::{Initialize, Layer, TensorVisitor, TensorVisitorMut};

/// A GRU layer over sequences of `T` steps of `F` features, with `U` units: Keras' `GRU(U)`
/// with its defaults (`reset_after=True`, sigmoid gates, tanh candidate). From `h_0 = 0`, each
/// step computes `a = x_t · W_x + b_x` and `c = h_{t-1} · W_h + b_h`, each cut into the blocks
/// `z, r, n`, then the update gate `z = σ(a_z + c_z)`, the reset gate `r = σ(a_r + c_r)`, the
/// candidate `n = tanh(a_n + r ⊙ c_n)` and `h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n`. The output is
/// `h_T` when `OUT = U`, or every `h_t`, step after step, when `OUT = T · U`
/// (`return_sequences=True`).
///
/// The tensors are Keras': `kernel` `W_x` (`F × 3U`), `recurrent_kernel` `W_h` (`U × 3U`) and
/// `bias` (`2 × 3U`: `b_x`, then `b_h`). As the reset gate scales only the recurrent part of
/// the candidate, the two products stay apart: every step's `x_t · W_x` is one product over
/// the whole batch before the steps, and each step then takes one product with `W_h`. The
/// output is the state itself, so the layer's [`Layer::Activation`] is [`Linear`].
///
/// ```
/// use netcore::layer::Layer;
/// use netcore::layers::Gru;
///
/// // All weights 0: z = r = ½ and n = 0 at every step, so h stays 0.
/// let gru = Gru::<2, 1, 1, 2, 1>::from_parameters(vec![0.0; 3], vec![0.0; 3], Some(vec![0.0; 6]));
/// let mut y = [[9.0]];
/// gru.forward(&[[1.0, 2.0]], &mut y, &mut gru.new_cache::<1>());
/// assert_eq!(y, [[0.0]]);
/// ```
pub struct Gru<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> {
    /// `[W_x; W_h]` (`F + U` rows of `3U`, blocks `z, r, n`) and the bias (`b_x` then `b_h`,
    /// `3U` values each).
    params: FlatParameters,
}

/// Parameter gradients of a [`Gru`], laid out like its parameters.
pub type GruGrads = FlatParameters;

/// What a [`Gru`] keeps between the passes of a batch, and its backward pass's scratch space:
/// allocated once by [`Layer::new_cache`].
pub struct GruTape {
    /// Row `(b, t)`: `x_t · W_x + b_x`, `3U` values; in the backward pass, its gradient.
    inputs: Box<[f32]>,
    /// Row `(b, t)`: `h_{t-1} · W_h + b_h`, `3U` values.
    recurrent: Box<[f32]>,
    /// Row `(b, t)`: the gates `z, r` and the candidate `n` after their activations.
    gates: Box<[f32]>,
    /// Row `(b, t)`: `h_{t-1}`, `U` values.
    states: Box<[f32]>,
    /// Row `(b, t)`: the gradient of `h_{t-1} · W_h + b_h`, `3U` values.
    recurrent_grads: Box<[f32]>,
    /// `dL/dh` of the step being undone, `U` values per sample; in the forward pass, `h_t`.
    dh: Box<[f32]>,
    /// One step's `dc · W_hᵀ` for the batch, `U` values per sample.
    back: Box<[f32]>,
    /// `W_hᵀ` (`3U × U`) and `W_xᵀ` (`3U × F`).
    recurrent_t: Box<[f32]>,
    kernel_t: Box<[f32]>,
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize>
    Gru<T, F, U, IN, OUT>
{
    /// The width of the three blocks, `3U`.
    const BLOCKS: usize = 3 * U;

    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        assert!(
            T >= 1 && F >= 1 && U >= 1,
            "`Gru`: steps, features and units must be at least 1"
        );
        assert!(IN == T * F, "`Gru`: expected IN = T * F");
        assert!(
            OUT == U || OUT == T * U,
            "`Gru`: expected OUT = U (the last state) or T * U (every step's)"
        );
    };

    /// Whether the output is every step's state (Keras' `return_sequences=True`).
    const SEQUENCES: bool = OUT == T * U;

    /// Keras' initialisation: `W_x` Glorot-uniform (`fan_in = F`, `fan_out = 3U`), `W_h` with
    /// orthonormal rows, and a zero bias when `bias` is true.
    pub fn keras_default<R: Rng + ?Sized>(rng: &mut R, bias: bool) -> Self {
        let kernel = Initializer::GlorotUniform.sample(&[F, 3 * U], rng);
        let recurrent = init::orthogonal_of_uniform_rows(U, 3 * U, rng);
        Self::from_parameters(kernel, recurrent, bias.then(|| vec![0.0; 6 * U]))
    }

    /// A layer with the given `W_x` (`F × 3U`, row-major, blocks `z, r, n`), `W_h` (`U × 3U`)
    /// and optional bias (`b_x` then `b_h`, `6U` values).
    ///
    /// # Panics
    ///
    /// If a tensor does not hold the values its shape needs.
    pub fn from_parameters(kernel: Vec<f32>, recurrent: Vec<f32>, bias: Option<Vec<f32>>) -> Self {
        let () = Self::SHAPES_AGREE;
        Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        assert_eq!(
            kernel.len(),
            F * 3 * U,
            "`Gru` kernel: expected F * 3U values"
        );
        assert_eq!(
            recurrent.len(),
            U * 3 * U,
            "`Gru` recurrent kernel: expected U * 3U values"
        );
        if let Some(bias) = &bias {
            assert_eq!(bias.len(), 6 * U, "`Gru` bias: expected 2 * 3U values");
        }
        let mut weights = kernel;
        weights.extend(recurrent);
        Self {
            params: FlatParameters::new(weights, bias),
        }
    }

    /// `W_x`, `F × 3U` row-major (Keras' `kernel`).
    pub fn kernel(&self) -> &[f32] {
        &self.params.weights[..F * 3 * U]
    }

    /// `W_h`, `U × 3U` row-major (Keras' `recurrent_kernel`).
    pub fn recurrent_kernel(&self) -> &[f32] {
        &self.params.weights[F * 3 * U..]
    }

    /// The bias, `b_x` then `b_h`, if the layer has one.
    pub fn bias(&self) -> Option<&[f32]> {
        self.params.bias()
    }

    /// `b_x` and `b_h`, if the layer has a bias.
    fn biases(&self) -> (Option<&[f32]>, Option<&[f32]>) {
        match self.params.bias() {
            Some(b) => {
                let (x, h) = b.split_at(3 * U);
                (Some(x), Some(h))
            }
            None => (None, None),
        }
    }

    /// One step for one sample: the gates from `a` (`x_t · W_x + b_x`) and `c`
    /// (`h_{t-1} · W_h + b_h`) into `gates` (`z, r, n`), and `h_t` into `h`.
    fn cell(a: &[f32], c: &[f32], h_prev: &[f32], gates: &mut [f32], h: &mut [f32]) {
        let (zr, n) = gates.split_at_mut(2 * U);
        for ((g, a), c) in zr.iter_mut().zip(&a[..2 * U]).zip(&c[..2 * U]) {
            *g = a + c;
        }
        kernels::sigmoid(zr);
        let (z, r) = zr.split_at(U);
        for u in 0..U {
            n[u] = a[2 * U + u] + r[u] * c[2 * U + u];
        }
        Tanh::apply_all(n);
        for u in 0..U {
            h[u] = z[u] * h_prev[u] + (1.0 - z[u]) * n[u];
        }
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> Layer
    for Gru<T, F, U, IN, OUT>
{
    type In = [f32; IN];
    type Out = [f32; OUT];
    type Activation = Linear;
    type Grads = GruGrads;
    type Cache<const B: usize> = GruTape;

    const KIND: &'static str = "GRU";

    fn new_cache<const B: usize>(&self) -> GruTape {
        let zeros = |n: usize| vec![0.0; n].into_boxed_slice();
        let blocks = Self::BLOCKS;
        GruTape {
            inputs: zeros(B * T * blocks),
            recurrent: zeros(B * T * blocks),
            gates: zeros(B * T * blocks),
            states: zeros(B * T * U),
            recurrent_grads: zeros(B * T * blocks),
            dh: zeros(B * U),
            back: zeros(B * U),
            recurrent_t: zeros(blocks * U),
            kernel_t: zeros(blocks * F),
        }
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        y: &mut [[f32; OUT]; B],
        tape: &mut GruTape,
    ) {
        let blocks = Self::BLOCKS;
        let (kernel, recurrent) = self.params.weights.split_at(F * blocks);
        let (bias_x, bias_h) = self.biases();
        // Every step's x_t · W_x + b_x at once: the batch's steps are B · T rows of F.
        Product {
            m: B * T,
            n: blocks,
            k: F,
            a: x.as_flattened(),
            a_row: F,
            a_col: 1,
            b: kernel,
            ldb: blocks,
            bias: bias_x,
            c: &mut tape.inputs,
            ldc: blocks,
        }
        .run(Isa::selected());
        for states in tape.states.chunks_exact_mut(T * U) {
            states[..U].fill(0.0); // h_0
        }
        for t in 0..T {
            // h_{t-1} · W_h + b_h, for every sample, into its row (b, t).
            Product {
                m: B,
                n: blocks,
                k: U,
                a: &tape.states[t * U..],
                a_row: T * U,
                a_col: 1,
                b: recurrent,
                ldb: blocks,
                bias: bias_h,
                c: &mut tape.recurrent[t * blocks..],
                ldc: T * blocks,
            }
            .run(Isa::selected());
            for (b, (y, h)) in y.iter_mut().zip(tape.dh.chunks_exact_mut(U)).enumerate() {
                let row = b * T + t;
                Self::cell(
                    &tape.inputs[row * blocks..][..blocks],
                    &tape.recurrent[row * blocks..][..blocks],
                    &tape.states[row * U..][..U],
                    &mut tape.gates[row * blocks..][..blocks],
                    h,
                );
                if t + 1 < T {
                    tape.states[(row + 1) * U..][..U].copy_from_slice(h);
                }
                if Self::SEQUENCES {
                    y[t * U..][..U].copy_from_slice(h);
                } else if t + 1 == T {
                    y.copy_from_slice(h);
                }
            }
        }
    }

    /// One sample's steps in stack buffers, a block at a time.
    fn infer(&self, x: &[f32; IN], out: &mut [f32; OUT]) {
        let blocks = Self::BLOCKS;
        let (kernel, recurrent) = self.params.weights.split_at(F * blocks);
        let (bias_x, bias_h) = self.biases();
        let (mut a, mut c) = ([[0.0; U]; 3], [[0.0; U]; 3]);
        let (mut gates, mut h) = ([[0.0; U]; 3], [0.0; U]); // h_0
        for (t, x_t) in x.chunks_exact(F).enumerate() {
            let h_prev = h;
            for block in 0..3 {
                for (part, (weights, k, input, bias)) in [
                    (kernel, F, x_t, bias_x),
                    (recurrent, U, &h_prev[..], bias_h),
                ]
                .into_iter()
                .enumerate()
                {
                    Product {
                        m: 1,
                        n: U,
                        k,
                        a: input,
                        a_row: k,
                        a_col: 1,
                        b: &weights[block * U..],
                        ldb: blocks,
                        bias: bias.map(|b| &b[block * U..][..U]),
                        c: if part == 0 {
                            &mut a[block]
                        } else {
                            &mut c[block]
                        },
                        ldc: U,
                    }
                    .run(Isa::selected());
                }
            }
            Self::cell(
                a.as_flattened(),
                c.as_flattened(),
                &h_prev,
                gates.as_flattened_mut(),
                &mut h,
            );
            if Self::SEQUENCES {
                out[t * U..][..U].copy_from_slice(&h);
            }
        }
        if !Self::SEQUENCES {
            out.copy_from_slice(&h);
        }
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        dz: &[[f32; OUT]; B],
        dx: Option<&mut [[f32; IN]; B]>,
        grads: &mut GruGrads,
        tape: &mut GruTape,
    ) {
        let blocks = Self::BLOCKS;
        let (kernel, recurrent) = self.params.weights.split_at(F * blocks);
        for (j, row) in recurrent.chunks_exact(blocks).enumerate() {
            for (k, &w) in row.iter().enumerate() {
                tape.recurrent_t[k * U + j] = w;
            }
        }
        tape.dh.fill(0.0);
        for t in (0..T).rev() {
            if Self::SEQUENCES || t + 1 == T {
                let at = if Self::SEQUENCES { t * U } else { 0 };
                for (dh, dz) in tape.dh.chunks_exact_mut(U).zip(dz) {
                    dh.iter_mut()
                        .zip(&dz[at..at + U])
                        .for_each(|(d, g)| *d += g);
                }
            }
            for b in 0..B {
                let row = b * T + t;
                let gates = &tape.gates[row * blocks..][..blocks];
                let (z, rest) = gates.split_at(U);
                let (r, n) = rest.split_at(U);
                let c_n = &tape.recurrent[row * blocks + 2 * U..][..U];
                let h_prev = &tape.states[row * U..][..U];
                let dh = &mut tape.dh[b * U..][..U];
                let (da, dc) = (
                    &mut tape.inputs[row * blocks..][..blocks],
                    &mut tape.recurrent_grads[row * blocks..][..blocks],
                );
                for u in 0..U {
                    // h = z ⊙ h_prev + (1 - z) ⊙ n, n = tanh(a_n + r ⊙ c_n).
                    let dn = dh[u] * (1.0 - z[u]) * (1.0 - n[u] * n[u]);
                    let d_z = dh[u] * (h_prev[u] - n[u]) * z[u] * (1.0 - z[u]);
                    let d_r = dn * c_n[u] * r[u] * (1.0 - r[u]);
                    (da[u], da[U + u], da[2 * U + u]) = (d_z, d_r, dn);
                    (dc[u], dc[U + u], dc[2 * U + u]) = (d_z, d_r, dn * r[u]);
                    // h_prev reaches h directly through z; through W_h below.
                    dh[u] *= z[u];
                }
            }
            // dh_{t-1} += dc_t · W_hᵀ.
            Product {
                m: B,
                n: U,
                k: blocks,
                a: &tape.recurrent_grads[t * blocks..],
                a_row: T * blocks,
                a_col: 1,
                b: &tape.recurrent_t,
                ldb: U,
                bias: None,
                c: &mut tape.back,
                ldc: U,
            }
            .run(Isa::selected());
            for (dh, back) in tape.dh.iter_mut().zip(&*tape.back) {
                *dh += back;
            }
        }
        // The weight gradients over every step of the batch: W_x from the inputs, W_h from the
        // states before each step; the biases are their gradients' column sums.
        let (d_kernel, d_recurrent) = grads.weights.split_at_mut(F * blocks);
        Product {
            m: F,
            n: blocks,
            k: B * T,
            a: x.as_flattened(),
            a_row: 1,
            a_col: F,
            b: &tape.inputs,
            ldb: blocks,
            bias: None,
            c: d_kernel,
            ldc: blocks,
        }
        .run(Isa::selected());
        Product {
            m: U,
            n: blocks,
            k: B * T,
            a: &tape.states,
            a_row: 1,
            a_col: U,
            b: &tape.recurrent_grads,
            ldb: blocks,
            bias: None,
            c: d_recurrent,
            ldc: blocks,
        }
        .run(Isa::selected());
        if let Some(db) = grads.bias.as_deref_mut() {
            let (db_x, db_h) = db.split_at_mut(blocks);
            kernels::column_sums(Isa::selected(), &tape.inputs, blocks, db_x);
            kernels::column_sums(Isa::selected(), &tape.recurrent_grads, blocks, db_h);
        }
        // dx: every step's input gradient at once, as it feeds nothing back.
        if let Some(dx) = dx {
            for (j, row) in kernel.chunks_exact(blocks).enumerate() {
                for (k, &w) in row.iter().enumerate() {
                    tape.kernel_t[k * F + j] = w;
                }
            }
            Product {
                m: B * T,
                n: F,
                k: blocks,
                a: &tape.inputs,
                a_row: blocks,
                a_col: 1,
                b: &tape.kernel_t,
                ldb: F,
                bias: None,
                c: dx.as_flattened_mut(),
                ldc: F,
            }
            .run(Isa::selected());
        }
    }

    fn new_grads(&self) -> GruGrads {
        self.params.zeros_like()
    }

    fn parameter_count(&self) -> usize {
        self.params.count()
    }

    fn visit_parameters(
        &mut self,
        grads: &mut GruGrads,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        self.params.visit(grads, visit);
    }

    /// `kernel` `[F, 3U]`, `recurrent_kernel` `[U, 3U]` and `bias` `[2, 3U]`, as in Keras.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        self.params
            .visit_recurrent([F, 3 * U], [U, 3 * U], &[2, 3 * U], visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        self.params
            .visit_recurrent_mut([F, 3 * U], [U, 3 * U], &[2, 3 * U], visit);
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> Initialize
    for Gru<T, F, U, IN, OUT>
{
    /// [`Gru::keras_default`], with a bias.
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::keras_default(rng, true)
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> Clone
    for Gru<T, F, U, IN, OUT>
{
    fn clone(&self) -> Self {
        Self {
            params: self.params.clone(),
        }
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> fmt::Debug
    for Gru<T, F, U, IN, OUT>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gru")
            .field("steps", &T)
            .field("features", &F)
            .field("units", &U)
            .field("return_sequences", &Self::SEQUENCES)
            .field("bias", &self.params.bias.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::layers::gradcheck::check_against_reference;

    fn values<const N: usize, const B: usize>(seed: usize) -> [[f32; N]; B] {
        std::array::from_fn(|b| {
            std::array::from_fn(|i| (((b * N + i) * 7 + seed * 13) % 17) as f32 / 8.5 - 1.0)
        })
    }

    fn sigmoid(z: f64) -> f64 {
        1.0 / (1.0 + (-z).exp())
    }

    /// Every sample's `h_T` (or, with `all`, every `h_t`), in f64, from `w` (`[W_x; W_h]`),
    /// `bias` (`b_x` then `b_h`) and the samples `x`: Keras' GRU with `reset_after=True`.
    fn reference<const T: usize, const F: usize, const U: usize>(
        w: &[f64],
        bias: &[f64],
        x: &[f64],
        all: bool,
    ) -> Vec<f64> {
        let mut out = Vec::new();
        for x in x.chunks_exact(T * F) {
            let mut h = vec![0.0; U];
            for x_t in x.chunks_exact(F) {
                let a: Vec<f64> = (0..3 * U)
                    .map(|k| bias[k] + (0..F).map(|j| x_t[j] * w[j * 3 * U + k]).sum::<f64>())
                    .collect();
                let c: Vec<f64> = (0..3 * U)
                    .map(|k| {
                        bias[3 * U + k] + (0..U).map(|j| h[j] * w[(F + j) * 3 * U + k]).sum::<f64>()
                    })
                    .collect();
                for u in 0..U {
                    let z = sigmoid(a[u] + c[u]);
                    let r = sigmoid(a[U + u] + c[U + u]);
                    let n = (a[2 * U + u] + r * c[2 * U + u]).tanh();
                    h[u] = z * h[u] + (1.0 - z) * n;
                }
                if all {
                    out.extend(&h);
                }
            }
            if !all {
                out.extend(h);
            }
        }
        out
    }

    /// Forward, `infer` and backward of `gru` against the f64 reference, with every output in
    /// the loss.
    fn check<const OUT: usize>(gru: &Gru<3, 2, 4, 6, OUT>) {
        let (x, c) = (values::<6, 2>(1), values::<OUT, 2>(2));
        check_against_reference(gru, &gru.params, &x, &c, &|w, b, x| {
            reference::<3, 2, 4>(w, b, x, OUT == 12)
        });
    }

    fn layer<const OUT: usize>() -> Gru<3, 2, 4, 6, OUT> {
        let mut gru = Gru::keras_default(&mut StdRng::seed_from_u64(5), true);
        // Biases other than Keras' zeros, so that every gate works off-centre.
        for (k, b) in gru
            .params
            .bias
            .as_deref_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            *b = (k % 5) as f32 * 0.2 - 0.3;
        }
        gru
    }

    #[test]
    fn the_last_state_matches_an_f64_reference_forward_and_backward() {
        check(&layer::<4>());
    }

    #[test]
    fn every_steps_state_matches_an_f64_reference_forward_and_backward() {
        check(&layer::<12>());
    }

    #[test]
    fn keras_initialisation_and_parameter_count() {
        let gru = Gru::<2, 3, 4, 6, 4>::keras_default(&mut StdRng::seed_from_u64(1), true);
        assert_eq!(gru.bias(), Some(&[0.0; 24][..]));
        assert_eq!(gru.parameter_count(), 3 * (3 * 4 + 4 * 4) + 2 * 3 * 4);
    }
}
