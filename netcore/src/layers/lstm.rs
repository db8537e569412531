//! Long short-term memory: Keras' `LSTM`.

use core::fmt;

use rand::Rng;

use super::flat::FlatParameters;
use super::steps::Steps;
use crate::activation::{Elementwise, Linear, Tanh};
use crate::init::{self, Initializer};
use crate::kernels::{self, Isa, Product};
use crate::layer::{Initialize, Layer, TensorVisitor, TensorVisitorMut};

/// An LSTM layer over sequences of `T` steps of `F` features, with `U` units (Keras'
/// `LSTM(U)`): from `h_0 = c_0 = 0`, each step computes
/// `z = x_t · W_x + h_{t-1} · W_h + b`, cut into the gates `i = σ(z_i)`, `f = σ(z_f)`,
/// `g = tanh(z_g)`, `o = σ(z_o)`, then `c_t = f ⊙ c_{t-1} + i ⊙ g` and `h_t = o ⊙ tanh(c_t)`.
/// The output is `h_T` when `OUT = U`, or every `h_t`, step after step, when `OUT = T · U`
/// (`return_sequences=True`: a sequence for a recurrent layer after it).
///
/// A sample is its steps one after the other, `IN = T · F` values with `x_t` at `t · F`. The
/// gates are in Keras' order, `i, f, g, o`, each `U` columns of `W_x` (`F × 4U`, Keras'
/// `kernel`), `W_h` (`U × 4U`, its `recurrent_kernel`) and `b` (`4U`), so weights load from and
/// save to Keras' layout. As in [`super::SimpleRnn`], `W_x` and `W_h` are stored one above the
/// other and each step is one product of the batch's `[x_t | h_{t-1}]` rows; backpropagation
/// through time keeps every step's rows, gates and cell states in the cache, and the weight
/// gradient is one product over all of them. New layers draw `W_x` Glorot-uniform and `W_h`
/// with orthonormal rows, with a zero bias but for the forget gate's, 1 (Keras'
/// `unit_forget_bias`).
///
/// The output `h_T` is not an activation of a pre-activation, so the layer's
/// [`Layer::Activation`] is [`Linear`]: its backward pass takes `dL/dh_T`.
///
/// ```
/// use netcore::layer::Layer;
/// use netcore::layers::Lstm;
///
/// // One feature, one unit, one step, every weight 0 and every bias 0: each gate is σ(0) = ½
/// // (and g = tanh 0 = 0), so c = 0 and h = 0.
/// let lstm = Lstm::<1, 1, 1, 1, 1>::from_parameters(vec![0.0; 4], vec![0.0; 4], Some(vec![0.0; 4]));
/// let mut y = [[9.0]];
/// lstm.forward(&[[1.0]], &mut y, &mut lstm.new_cache::<1>());
/// assert_eq!(y, [[0.0]]);
/// ```
pub struct Lstm<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> {
    /// `[W_x; W_h]` (`F + U` rows of `4U`, gates `i, f, g, o`) and the bias (`4U` values).
    params: FlatParameters,
}

/// Parameter gradients of an [`Lstm`], laid out like its parameters: `[W_x; W_h]`, then the bias.
pub type LstmGrads = FlatParameters;

/// What an [`Lstm`] keeps between the passes of a batch, and its backward pass's scratch
/// space: allocated once by [`Layer::new_cache`].
pub struct LstmTape {
    /// Row `(b, t)`: `[x_t | h_{t-1}]` of sample `b`, `F + U` values.
    steps: Box<[f32]>,
    /// Row `(b, t)`: the gates `i, f, g, o` after their activations, `4U` values.
    gates: Box<[f32]>,
    /// Row `(b, t)`: `c_{t-1}` then, at `(b, t + 1)`, `c_t`: `T + 1` rows of `U` per sample.
    cells: Box<[f32]>,
    /// Row `(b, t)`: `tanh(c_t)`, `U` values.
    cells_tanh: Box<[f32]>,
    /// Row `(b, t)`: `dL/dz` of step `t`, `4U` values.
    step_grads: Box<[f32]>,
    /// One step's `z` for the batch, or its `dz · [W_x; W_h]ᵀ`.
    scratch: Box<[f32]>,
    /// `dL/dh` and `dL/dc` of the step being undone, `U` values per sample each.
    dh: Box<[f32]>,
    dc: Box<[f32]>,
    /// `[W_x; W_h]ᵀ`, `4U × (F + U)`.
    weights_t: Box<[f32]>,
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize>
    Lstm<T, F, U, IN, OUT>
{
    /// The width of a step's row, `[x_t | h_{t-1}]`.
    const WIDTH: usize = F + U;
    /// The gates' width, `4U`.
    const GATES: usize = 4 * U;
    /// The shape of its rows and weights.
    const STEPS: Steps = Steps {
        steps: T,
        features: F,
        width: F + U,
        n: 4 * U,
    };

    /// Evaluated by every constructor, so that sizes which disagree fail to compile.
    const SHAPES_AGREE: () = {
        assert!(
            T >= 1 && F >= 1 && U >= 1,
            "`Lstm`: steps, features and units must be at least 1"
        );
        assert!(IN == T * F, "`Lstm`: expected IN = T * F");
        assert!(
            OUT == U || OUT == T * U,
            "`Lstm`: expected OUT = U (the last state) or T * U (every step's)"
        );
    };

    /// Whether the output is every step's state (Keras' `return_sequences=True`), not just the
    /// last; with one step they are the same.
    const SEQUENCES: bool = OUT == T * U;

    /// Keras' initialisation: `W_x` Glorot-uniform (`fan_in = F`, `fan_out = 4U`), `W_h` with
    /// orthonormal rows, and, when `bias` is true, a bias of 1 for the forget gate and 0 for
    /// the others.
    pub fn keras_default<R: Rng + ?Sized>(rng: &mut R, bias: bool) -> Self {
        let kernel = Initializer::GlorotUniform.sample(&[F, 4 * U], rng);
        let recurrent = init::orthogonal_of_uniform_rows(U, 4 * U, rng);
        let bias = bias.then(|| {
            let mut b = vec![0.0; 4 * U];
            b[U..2 * U].fill(1.0);
            b
        });
        Self::from_parameters(kernel, recurrent, bias)
    }

    /// A layer with the given `W_x` (`F × 4U`, row-major, gates `i, f, g, o`), `W_h`
    /// (`U × 4U`) and optional bias (`4U`).
    ///
    /// # Panics
    ///
    /// If a tensor does not hold the values its shape needs.
    pub fn from_parameters(kernel: Vec<f32>, recurrent: Vec<f32>, bias: Option<Vec<f32>>) -> Self {
        let () = Self::SHAPES_AGREE;
        Isa::selected(); // see `Isa::selected`: decided before any hot path runs
        assert_eq!(
            kernel.len(),
            F * 4 * U,
            "`Lstm` kernel: expected F * 4U values"
        );
        assert_eq!(
            recurrent.len(),
            U * 4 * U,
            "`Lstm` recurrent kernel: expected U * 4U values"
        );
        if let Some(bias) = &bias {
            assert_eq!(bias.len(), 4 * U, "`Lstm` bias: expected 4U values");
        }
        let mut weights = kernel;
        weights.extend(recurrent);
        Self {
            params: FlatParameters::new(weights, bias),
        }
    }

    /// `W_x`, `F × 4U` row-major (Keras' `kernel`).
    pub fn kernel(&self) -> &[f32] {
        &self.params.weights[..F * 4 * U]
    }

    /// `W_h`, `U × 4U` row-major (Keras' `recurrent_kernel`).
    pub fn recurrent_kernel(&self) -> &[f32] {
        &self.params.weights[F * 4 * U..]
    }

    /// The bias, `4U` values, if the layer has one.
    pub fn bias(&self) -> Option<&[f32]> {
        self.params.bias()
    }

    /// Turns a step's `z` (`4U`) into its gates, in place, and returns `c_t` and `h_t` from
    /// `c_{t-1}`: `c = f ⊙ c_prev + i ⊙ g` into `c`, `tanh(c)` into `tanh_c`, `o ⊙ tanh(c)`
    /// into `h`.
    fn cell(z: &mut [f32], c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], h: &mut [f32]) {
        let (ifg, o) = z.split_at_mut(3 * U);
        let (i_f, g) = ifg.split_at_mut(2 * U);
        // The gates through the vector kernels: absolute errors of 3e-7 are nothing to a gate
        // (the `sigmoid` activation of a layer keeps the exact formula, for small
        // probabilities' relative precision).
        kernels::sigmoid(i_f);
        Tanh::apply_all(g);
        kernels::sigmoid(o);
        let (i, f) = i_f.split_at(U);
        for u in 0..U {
            c[u] = f[u] * c_prev[u] + i[u] * g[u];
        }
        tanh_c.copy_from_slice(c);
        Tanh::apply_all(tanh_c);
        for u in 0..U {
            h[u] = o[u] * tanh_c[u];
        }
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> Layer
    for Lstm<T, F, U, IN, OUT>
{
    type In = [f32; IN];
    type Out = [f32; OUT];
    type Activation = Linear;
    type Grads = LstmGrads;
    type Cache<const B: usize> = LstmTape;

    const KIND: &'static str = "LSTM";

    fn new_cache<const B: usize>(&self) -> LstmTape {
        let zeros = |n: usize| vec![0.0; n].into_boxed_slice();
        LstmTape {
            steps: zeros(B * T * Self::WIDTH),
            gates: zeros(B * T * Self::GATES),
            cells: zeros(B * (T + 1) * U),
            cells_tanh: zeros(B * T * U),
            step_grads: zeros(B * T * Self::GATES),
            scratch: zeros(B * Self::WIDTH.max(Self::GATES)),
            dh: zeros(B * U),
            dc: zeros(B * U),
            weights_t: zeros(Self::GATES * Self::WIDTH),
        }
    }

    fn forward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        y: &mut [[f32; OUT]; B],
        tape: &mut LstmTape,
    ) {
        let (width, gates) = (Self::WIDTH, Self::GATES);
        // Each step's row starts with its input; h_0 = c_0 = 0.
        Self::STEPS.load_inputs(x.as_flattened(), &mut tape.steps);
        for c_0 in tape.cells.chunks_exact_mut((T + 1) * U) {
            c_0[..U].fill(0.0);
        }
        for t in 0..T {
            // z = b + [x_t | h_{t-1}] · [W_x; W_h], one row of 4U per sample.
            let z = &mut tape.scratch[..B * gates];
            Self::STEPS.forward(B, t, &tape.steps, &self.params, z);
            for (b, z) in z.chunks_exact_mut(gates).enumerate() {
                let cells = &mut tape.cells[(b * (T + 1) + t) * U..][..2 * U];
                let (c_prev, c) = cells.split_at_mut(U);
                let tanh_c = &mut tape.cells_tanh[(b * T + t) * U..][..U];
                // h_t into `dh`, free until the backward pass; then where it goes.
                let h = &mut tape.dh[b * U..][..U];
                Self::cell(z, c_prev, c, tanh_c, h);
                tape.gates[(b * T + t) * gates..][..gates].copy_from_slice(z);
                if t + 1 < T {
                    tape.steps[(b * T + t + 1) * width + F..][..U].copy_from_slice(h);
                }
                if Self::SEQUENCES {
                    y[b][t * U..][..U].copy_from_slice(h);
                } else if t + 1 == T {
                    y[b].copy_from_slice(h);
                }
            }
        }
    }

    /// One sample's steps in stack buffers, a gate at a time: `x_t · W_x + b`, then that plus
    /// `h_{t-1} · W_h`, for the `U` columns of each gate.
    fn infer(&self, x: &[f32; IN], out: &mut [f32; OUT]) {
        let (kernel, recurrent) = self.params.weights.split_at(F * 4 * U);
        let (mut input, mut z) = ([0.0; U], [[0.0; U]; 4]);
        let (mut c, mut tanh_c, mut h) = ([0.0; U], [0.0; U], [0.0; U]); // c_0, h_0
        for (t, x_t) in x.chunks_exact(F).enumerate() {
            let h_prev = h;
            for (gate, z) in z.iter_mut().enumerate() {
                let bias = self.params.bias().map(|b| &b[gate * U..][..U]);
                Product {
                    m: 1,
                    n: U,
                    k: F,
                    a: x_t,
                    a_row: F,
                    a_col: 1,
                    b: &kernel[gate * U..],
                    ldb: 4 * U,
                    bias,
                    c: &mut input,
                    ldc: U,
                }
                .run(Isa::selected());
                Product {
                    m: 1,
                    n: U,
                    k: U,
                    a: &h_prev,
                    a_row: U,
                    a_col: 1,
                    b: &recurrent[gate * U..],
                    ldb: 4 * U,
                    bias: Some(&input),
                    c: z,
                    ldc: U,
                }
                .run(Isa::selected());
            }
            let c_prev = c;
            Self::cell(z.as_flattened_mut(), &c_prev, &mut c, &mut tanh_c, &mut h);
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
        _x: &[[f32; IN]; B],
        dz: &[[f32; OUT]; B],
        mut dx: Option<&mut [[f32; IN]; B]>,
        grads: &mut LstmGrads,
        tape: &mut LstmTape,
    ) {
        let (width, gates) = (Self::WIDTH, Self::GATES);
        Self::STEPS.transpose(&self.params.weights, &mut tape.weights_t);
        // The output is the states themselves: dL/dh_t comes from `dz` (for the last step only,
        // or every step's), plus what flows back from the step after; nothing flows into c_T.
        tape.dh.fill(0.0);
        tape.dc.fill(0.0);
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
                let row = (b * T + t) * gates;
                let (i, rest) = tape.gates[row..row + gates].split_at(U);
                let (f, rest) = rest.split_at(U);
                let (g, o) = rest.split_at(U);
                let c_prev = &tape.cells[(b * (T + 1) + t) * U..][..U];
                let tanh_c = &tape.cells_tanh[(b * T + t) * U..][..U];
                let dh = &tape.dh[b * U..][..U];
                let dc = &mut tape.dc[b * U..][..U];
                let dz = &mut tape.step_grads[row..row + gates];
                for u in 0..U {
                    // h = o ⊙ tanh(c): through o, and through c into the cell's own gradient.
                    let d_o = dh[u] * tanh_c[u];
                    dc[u] += dh[u] * o[u] * (1.0 - tanh_c[u] * tanh_c[u]);
                    let (d_i, d_f, d_g) = (dc[u] * g[u], dc[u] * c_prev[u], dc[u] * i[u]);
                    dz[u] = d_i * i[u] * (1.0 - i[u]);
                    dz[U + u] = d_f * f[u] * (1.0 - f[u]);
                    dz[2 * U + u] = d_g * (1.0 - g[u] * g[u]);
                    dz[3 * U + u] = d_o * o[u] * (1.0 - o[u]);
                    // c_{t-1} reaches c_t through the forget gate.
                    dc[u] *= f[u];
                }
            }
            if t == 0 && dx.is_none() {
                break;
            }
            // [dx_t | dh_{t-1}] = dz_t · [W_x; W_h]ᵀ.
            let back = &mut tape.scratch[..B * width];
            Self::STEPS.backward(B, t, &tape.step_grads, &tape.weights_t, back);
            for (b, back) in back.chunks_exact(width).enumerate() {
                if let Some(dx) = dx.as_deref_mut() {
                    dx[b][t * F..][..F].copy_from_slice(&back[..F]);
                }
                tape.dh[b * U..][..U].copy_from_slice(&back[F..]);
            }
        }
        Self::STEPS.weight_gradient(B, &tape.steps, &tape.step_grads, grads);
    }

    fn new_grads(&self) -> LstmGrads {
        self.params.zeros_like()
    }

    fn parameter_count(&self) -> usize {
        self.params.count()
    }

    fn visit_parameters(
        &mut self,
        grads: &mut LstmGrads,
        visit: &mut dyn FnMut(&mut [f32], &mut [f32]),
    ) {
        self.params.visit(grads, visit);
    }

    /// `kernel` `[F, 4U]`, `recurrent_kernel` `[U, 4U]` and `bias` `[4U]`, as in Keras.
    fn visit_tensors(&self, visit: &mut TensorVisitor<'_>) {
        self.params
            .visit_recurrent([F, 4 * U], [U, 4 * U], &[4 * U], visit);
    }

    fn visit_tensors_mut(&mut self, visit: &mut TensorVisitorMut<'_>) {
        self.params
            .visit_recurrent_mut([F, 4 * U], [U, 4 * U], &[4 * U], visit);
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> Initialize
    for Lstm<T, F, U, IN, OUT>
{
    /// [`Lstm::keras_default`], with a bias.
    fn initialize<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::keras_default(rng, true)
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> Clone
    for Lstm<T, F, U, IN, OUT>
{
    fn clone(&self) -> Self {
        Self {
            params: self.params.clone(),
        }
    }
}

impl<const T: usize, const F: usize, const U: usize, const IN: usize, const OUT: usize> fmt::Debug
    for Lstm<T, F, U, IN, OUT>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lstm")
            .field("steps", &T)
            .field("features", &F)
            .field("units", &U)
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

    /// `h_T` (or, with `all`, every `h_t`) of every sample, in f64, from `w` (`[W_x; W_h]`,
    /// gates `i, f, g, o`), `bias` and the samples `x`.
    fn reference<const T: usize, const F: usize, const U: usize>(
        w: &[f64],
        bias: &[f64],
        x: &[f64],
        all: bool,
    ) -> Vec<f64> {
        let mut out = Vec::new();
        for x in x.chunks_exact(T * F) {
            let (mut h, mut c) = (vec![0.0; U], vec![0.0; U]);
            for x_t in x.chunks_exact(F) {
                let z: Vec<f64> = (0..4 * U)
                    .map(|k| {
                        let from_x: f64 = (0..F).map(|j| x_t[j] * w[j * 4 * U + k]).sum();
                        let from_h: f64 = (0..U).map(|j| h[j] * w[(F + j) * 4 * U + k]).sum();
                        bias[k] + from_x + from_h
                    })
                    .collect();
                for u in 0..U {
                    let (i, f) = (sigmoid(z[u]), sigmoid(z[U + u]));
                    let (g, o) = (z[2 * U + u].tanh(), sigmoid(z[3 * U + u]));
                    c[u] = f * c[u] + i * g;
                    h[u] = o * c[u].tanh();
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

    /// A layer of 3 steps of 2 features into 4 units, its output `OUT`: the last state or
    /// every step's.
    fn layer<const OUT: usize>() -> Lstm<3, 2, 4, 6, OUT> {
        let mut lstm = Lstm::keras_default(&mut StdRng::seed_from_u64(5), true);
        // Bias values other than Keras' 0 and 1, so that every gate works off-centre.
        for (k, b) in lstm
            .params
            .bias
            .as_deref_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            *b = (k % 5) as f32 * 0.2 - 0.3;
        }
        lstm
    }

    #[test]
    fn the_last_state_matches_an_f64_reference_forward_and_backward() {
        let lstm = layer::<4>();
        let (x, c) = (values::<6, 2>(1), values::<4, 2>(2));
        check_against_reference(&lstm, &lstm.params, &x, &c, &|w, b, x| {
            reference::<3, 2, 4>(w, b, x, false)
        });
    }

    #[test]
    fn every_steps_state_matches_an_f64_reference_forward_and_backward() {
        let lstm = layer::<12>();
        let (x, c) = (values::<6, 2>(3), values::<12, 2>(4));
        check_against_reference(&lstm, &lstm.params, &x, &c, &|w, b, x| {
            reference::<3, 2, 4>(w, b, x, true)
        });
    }

    #[test]
    fn keras_initialisation_opens_the_forget_gate() {
        let lstm = Lstm::<2, 3, 4, 6, 4>::keras_default(&mut StdRng::seed_from_u64(1), true);
        let b = lstm.bias().unwrap();
        assert_eq!(&b[..4], &[0.0; 4]);
        assert_eq!(&b[4..8], &[1.0; 4]);
        assert_eq!(&b[8..], &[0.0; 8]);
        let w = lstm.recurrent_kernel();
        for i in 0..4 {
            for j in 0..4 {
                let dot: f32 = (0..16).map(|k| w[i * 16 + k] * w[j * 16 + k]).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-5, "rows {i} and {j}: {dot}");
            }
        }
        assert_eq!(lstm.parameter_count(), 4 * (3 * 4 + 4 * 4 + 4));
    }
}
