//! Finite-difference gradient checks shared by the layers' tests.
//!
//! The loss is `L = Σ c ⊙ y` for fixed coefficients `c`, so `dL/dy = c`; the analytic gradients
//! of [`Layer::backward`] are compared with central differences of `L`, accumulated in `f64`.

use super::{FlatParameters, NormalizationGrads};
use crate::activation::Activation;
use crate::layer::Layer;

/// The step of the central differences.
const EPS: f32 = 1e-2;
/// The largest relative error accepted, over `max(|analytic|, |numeric|, 1e-2)`.
const TOLERANCE: f32 = 1e-3;

fn flat<T: bytemuck::Pod>(rows: &[T]) -> &[f32] {
    bytemuck::cast_slice(rows)
}

fn flat_mut<T: bytemuck::Pod>(rows: &mut [T]) -> &mut [f32] {
    bytemuck::cast_slice_mut(rows)
}

/// `L = Σ c ⊙ y` after a forward pass of `x`.
fn objective<L: Layer, const B: usize>(
    layer: &L,
    x: &[L::In; B],
    c: &[L::Out; B],
    tape: &mut L::Tape<B>,
) -> f64 {
    let mut y: [L::Out; B] = bytemuck::Zeroable::zeroed();
    layer.forward(x, &mut y, tape);
    flat(&y)
        .iter()
        .zip(flat(c))
        .map(|(&y, &c)| f64::from(y) * f64::from(c))
        .sum()
}

/// Sets element `index` of parameter tensor `tensor` to `value`, returning the old value.
fn set_parameter<L: Layer>(
    layer: &mut L,
    grads: &mut L::Grads,
    tensor: usize,
    index: usize,
    value: f32,
) -> f32 {
    let mut old = f32::NAN;
    let mut seen = 0;
    layer.visit_parameters(grads, &mut |p, _| {
        if seen == tensor {
            old = core::mem::replace(&mut p[index], value);
        }
        seen += 1;
    });
    old
}

fn assert_close(analytic: f32, plus: f64, minus: f64, what: &str) {
    let numeric = ((plus - minus) / (2.0 * f64::from(EPS))) as f32;
    let rel = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1e-2);
    assert!(
        rel <= TOLERANCE,
        "{what}: analytic {analytic}, numeric {numeric}, relative error {rel}"
    );
}

/// Checks every parameter gradient and every input gradient of `layer` on the batch `x`
/// against central differences of `L = Σ c ⊙ y`. `tape` is reused for every forward pass.
/// Returns the analytic input gradient, for the callers that also check literal values.
pub(crate) fn check_gradients<L: Layer, const B: usize>(
    layer: &mut L,
    x: &[L::In; B],
    c: &[L::Out; B],
    tape: &mut L::Tape<B>,
) -> [L::In; B] {
    let mut y: [L::Out; B] = bytemuck::Zeroable::zeroed();
    layer.forward(x, &mut y, tape);
    let mut dz = *c;
    L::Activation::backprop_batch(&y, L::kept(tape), &mut dz);
    let mut dx: [L::In; B] = bytemuck::Zeroable::zeroed();
    let mut grads = layer.new_grads();
    layer.backward(x, &dz, Some(&mut dx), &mut grads, tape);

    let mut analytic: Vec<Vec<f32>> = Vec::new();
    layer.visit_parameters(&mut grads, &mut |_, g| analytic.push(g.to_vec()));
    for (t, g) in analytic.iter().enumerate() {
        for (i, &a) in g.iter().enumerate() {
            let old = set_parameter(layer, &mut grads, t, i, f32::NAN);
            set_parameter(layer, &mut grads, t, i, old + EPS);
            let plus = objective(layer, x, c, tape);
            set_parameter(layer, &mut grads, t, i, old - EPS);
            let minus = objective(layer, x, c, tape);
            set_parameter(layer, &mut grads, t, i, old);
            assert_close(a, plus, minus, &format!("parameter {t}, element {i}"));
        }
    }

    for (i, &a) in flat(&dx).iter().enumerate() {
        let (mut xp, mut xm) = (*x, *x);
        flat_mut(&mut xp)[i] += EPS;
        flat_mut(&mut xm)[i] -= EPS;
        let plus = objective(layer, &xp, c, tape);
        let minus = objective(layer, &xm, c, tape);
        assert_close(a, plus, minus, &format!("dx, element {i}"));
    }
    dx
}

/// A generator seeded with `seed`, for drawing layers the same way in every run.
pub(crate) fn seeded(seed: u64) -> rand::rngs::StdRng {
    rand::SeedableRng::seed_from_u64(seed)
}

/// Deterministic coefficients or inputs in `[-1, 1)`, none of them zero.
pub(crate) fn values<T: bytemuck::Pod, const B: usize>(seed: u32) -> [T; B] {
    let mut out: [T; B] = bytemuck::Zeroable::zeroed();
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    for v in flat_mut(&mut out) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *v = (state % 1999) as f32 / 1000.0 - 0.9985;
    }
    out
}

/// Inputs all distinct and at least 0.1 apart, so no finite-difference step of 1e-2 changes
/// which input of a window or channel is its maximum.
pub(crate) fn distinct<const N: usize, const B: usize>() -> [[f32; N]; B] {
    let mut x = [[0.0; N]; B];
    assert!(
        !(N * B).is_multiple_of(37),
        "37 must be prime to N · B = {}",
        N * B
    );
    for (i, v) in x.as_flattened_mut().iter_mut().enumerate() {
        // 37 is prime to N · B, so the values are a permutation.
        *v = ((i * 37) % (N * B)) as f32 * 0.1 - 1.0;
    }
    x
}

/// Deterministic inputs or coefficients in `[-1, 1)` for the recurrent layers, `seed` shifting
/// them: a batch of `B` rows of `N`.
pub(crate) fn sequences<const N: usize, const B: usize>(seed: usize) -> [[f32; N]; B] {
    core::array::from_fn(|b| {
        core::array::from_fn(|i| (((b * N + i) * 7 + seed * 13) % 17) as f32 / 8.5 - 1.0)
    })
}

/// Sets a recurrent layer's `bias` to values other than Keras' zeros and ones, so that every
/// gate of a reference check works off-centre.
pub(crate) fn off_centre(bias: &mut [f32]) {
    for (k, b) in bias.iter_mut().enumerate() {
        *b = (k % 5) as f32 * 0.2 - 0.3;
    }
}

/// `bias + x · w` in `f64`, `w` row-major with a column per value of `bias`: the
/// pre-activations of a reference.
pub(crate) fn affine(x: &[f64], w: &[f64], bias: &[f64]) -> Vec<f64> {
    let n = bias.len();
    let column = |k: usize| x.iter().enumerate().map(move |(j, x)| x * w[j * n + k]);
    (0..n).map(|k| bias[k] + column(k).sum::<f64>()).collect()
}

/// A recurrent reference in `f64` over every sample of `x`, `T` steps of `F` values: from the
/// state `zero`, `step(x_t, state)` updates the state, whose first `U` values are `h_t`. The
/// output is every `h_t` with `all`, each sample's last `h_T` otherwise.
pub(crate) fn unroll<const T: usize, const F: usize, const U: usize>(
    x: &[f64],
    all: bool,
    zero: &[f64],
    step: &dyn Fn(&[f64], &mut [f64]),
) -> Vec<f64> {
    unroll_masked::<T, F, U>(x, all, Padding::NONE, zero, step)
}

/// A mask of 4 samples of 3 steps: padding first, in the middle, last, and everywhere.
pub(crate) const PADDED: [bool; 12] = [
    false, true, true, //
    true, false, true, //
    true, true, false, //
    false, false, false,
];

/// Which steps of a batch a recurrent reference skips, and what it outputs there.
#[derive(Clone, Copy)]
pub(crate) struct Padding<'a> {
    /// One flag per step of each sample, `false` for padding; `None` for none.
    pub(crate) mask: Option<&'a [bool]>,
    /// Keras' `zero_output_for_mask`: zeros over padding, rather than the state again.
    pub(crate) zero_output: bool,
}

impl Padding<'_> {
    pub(crate) const NONE: Padding<'static> = Padding {
        mask: None,
        zero_output: false,
    };
}

/// [`unroll`] as Keras' `backend.rnn` runs it with a mask: over a padded step the state stands
/// and the output is the state again, or zeros with `zero_output` (the last output too).
pub(crate) fn unroll_masked<const T: usize, const F: usize, const U: usize>(
    x: &[f64],
    all: bool,
    padding: Padding<'_>,
    zero: &[f64],
    step: &dyn Fn(&[f64], &mut [f64]),
) -> Vec<f64> {
    let mut out = Vec::new();
    for (b, x) in x.chunks_exact(T * F).enumerate() {
        let mut state = zero.to_vec();
        let mut last = Vec::new();
        for (t, x_t) in x.chunks_exact(F).enumerate() {
            let data = padding.mask.is_none_or(|mask| mask[b * T + t]);
            if data {
                step(x_t, &mut state);
            }
            last = if data || !padding.zero_output {
                state[..U].to_vec()
            } else {
                vec![0.0; U]
            };
            if all {
                out.extend(&last);
            }
        }
        if !all {
            out.extend(&last);
        }
    }
    out
}

/// The logistic function, for `f64` references.
pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// An f64 implementation of a layer: every sample's outputs, flattened, from the layer's
/// weights, its bias and the batch's inputs.
pub(crate) type Reference<'a> = dyn Fn(&[f64], &[f64], &[f64]) -> Vec<f64> + 'a;

/// Checks `layer`, whose parameters are `params`, against `reference` on the batch `x`: its
/// forward pass and [`Layer::infer`] to within 1e-6, and every weight, bias and input gradient
/// of `L = Σ c ⊙ y` to a relative 1e-4 of central differences of the reference (step 1e-6).
/// In f64 the differences are exact enough for layers whose f32 differences are not, such as
/// recurrent ones through several tanh steps.
pub(crate) fn check_against_reference<L, const IN: usize, const OUT: usize, const B: usize>(
    layer: &L,
    params: &FlatParameters,
    x: &[[f32; IN]; B],
    c: &[[f32; OUT]; B],
    reference: &Reference<'_>,
) where
    L: Layer<In = [f32; IN], Out = [f32; OUT], Grads = FlatParameters>,
{
    check_masked_against_reference(layer, params, x, None, c, reference);
}

/// [`check_against_reference`] of a layer given `mask` (`B` rows of one flag per step) with
/// [`Layer::set_input_mask`], and each sample's row with [`Layer::infer_masked`]; `reference`
/// applies the same mask.
pub(crate) fn check_masked_against_reference<L, const IN: usize, const OUT: usize, const B: usize>(
    layer: &L,
    params: &FlatParameters,
    x: &[[f32; IN]; B],
    mask: Option<&[bool]>,
    c: &[[f32; OUT]; B],
    reference: &Reference<'_>,
) where
    L: Layer<In = [f32; IN], Out = [f32; OUT], Grads = FlatParameters>,
{
    let to_f64 = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
    let (w, b, x64) = (
        to_f64(params.weights()),
        to_f64(params.bias().unwrap_or(&[])),
        to_f64(x.as_flattened()),
    );
    let mut tape = layer.new_tape::<B>();
    layer.set_input_mask(&mut tape, mask);
    let mut y = [[0.0; OUT]; B];
    layer.forward(x, &mut y, &mut tape);
    let expected = reference(&w, &b, &x64);
    for (found, e) in y.as_flattened().iter().zip(&expected) {
        assert!(
            (f64::from(*found) - e).abs() < 1e-6,
            "forward {found}, reference {e}"
        );
    }
    for (sample, (x, y)) in x.iter().zip(&y).enumerate() {
        let mut single = [9.0; OUT];
        let steps = mask.map(|mask| mask.len() / B);
        let row = mask.zip(steps).map(|(mask, n)| &mask[sample * n..][..n]);
        layer.infer_masked(x, row, &mut single, &mut []);
        for (a, b) in single.iter().zip(y) {
            assert!((a - b).abs() < 1e-6, "infer {single:?}, forward {y:?}");
        }
    }

    let mut dz = *c;
    L::Activation::backprop_batch(&y, L::kept(&tape), &mut dz);
    let mut grads = layer.new_grads();
    let mut dx = [[0.0; IN]; B];
    layer.backward(x, &dz, Some(&mut dx), &mut grads, &mut tape);

    let objective = |w: &[f64], b: &[f64], x: &[f64]| -> f64 {
        let y = reference(w, b, x);
        y.iter()
            .zip(c.as_flattened())
            .map(|(y, &c)| y * f64::from(c))
            .sum()
    };
    let eps = 1e-6;
    let check = |analytic: &[f32], at: &[f64], objective: &dyn Fn(&[f64]) -> f64, what: &str| {
        for (k, &a) in analytic.iter().enumerate() {
            let nudged = |delta: f64| {
                let mut v = at.to_vec();
                v[k] += delta;
                objective(&v)
            };
            let numeric = (nudged(eps) - nudged(-eps)) / (2.0 * eps);
            let error = (f64::from(a) - numeric).abs() / numeric.abs().max(1e-2);
            assert!(
                error < 1e-4,
                "{what} {k}: backward {a}, f64 differences {numeric}"
            );
        }
    };
    check(grads.weights(), &w, &|w| objective(w, &b, &x64), "weight");
    if let Some(db) = grads.bias() {
        check(db, &b, &|b| objective(&w, b, &x64), "bias");
    }
    check(dx.as_flattened(), &x64, &|x| objective(&w, &b, x), "dx");
}

/// A normalization in `f64`: the outputs of the batch `x` (flattened) given `γ` and `β`.
pub(crate) type NormalizationReference<'a> = dyn Fn(&[f64], &[f64], &[f64]) -> Vec<f64> + 'a;

/// Checks a normalization `layer` (with `γ` and `β`) on the batch `x` against `reference`:
/// its forward pass to within 1e-6, and its gradients of `L = Σ c ⊙ y` with respect to the
/// input, `γ` and `β` to a relative 1e-4 of central differences of the reference (step 1e-6).
/// A normalization couples the values it normalizes together, so that a nudge moves every one
/// of their outputs: f32 differences would measure their rounding as much as the derivative.
pub(crate) fn check_normalization<L, const N: usize, const C: usize, const B: usize>(
    layer: &L,
    x: &[[f32; N]; B],
    c: &[[f32; N]; B],
    tape: &mut L::Tape<B>,
    reference: &NormalizationReference<'_>,
) where
    L: Layer<In = [f32; N], Out = [f32; N], Grads = NormalizationGrads<C>>,
{
    let wide = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
    let mut y = [[0.0; N]; B];
    layer.forward(x, &mut y, tape);
    let mut dz = *c;
    L::Activation::backprop_batch(&y, L::kept(tape), &mut dz);
    let (mut dx, mut grads) = ([[0.0; N]; B], layer.new_grads());
    layer.backward(x, &dz, Some(&mut dx), &mut grads, tape);

    // `γ` and `β` by name, 1 and 0 where the layer has none.
    let mut tensors = Vec::new();
    layer.visit_tensors(&mut |name, _, values| tensors.push((name.to_owned(), wide(values))));
    let tensor = |name: &str, otherwise: f64| {
        let found = tensors.iter().find(|(n, _)| n == name);
        found.map_or_else(|| vec![otherwise; C], |(_, values)| values.clone())
    };
    let (gamma, beta) = (tensor("gamma", 1.0), tensor("beta", 0.0));
    let x64 = wide(x.as_flattened());
    for (found, expected) in y.as_flattened().iter().zip(reference(&x64, &gamma, &beta)) {
        assert!(
            (f64::from(*found) - expected).abs() < 1e-6,
            "forward {found}, reference {expected}"
        );
    }
    let objective = |x: &[f64], gamma: &[f64], beta: &[f64]| -> f64 {
        let y = reference(x, gamma, beta);
        y.iter()
            .zip(c.as_flattened())
            .map(|(y, &c)| y * f64::from(c))
            .sum()
    };
    let check = |analytic: &[f32], at: &[f64], objective: &dyn Fn(&[f64]) -> f64, what: &str| {
        for (k, &a) in analytic.iter().enumerate() {
            let nudged = |delta: f64| {
                let mut v = at.to_vec();
                v[k] += delta;
                objective(&v)
            };
            let numeric = (nudged(1e-6) - nudged(-1e-6)) / 2e-6;
            let error = (f64::from(a) - numeric).abs() / numeric.abs().max(1e-2);
            assert!(
                error < 1e-4,
                "{what} {k}: backward {a}, f64 differences {numeric}"
            );
        }
    };
    check(
        dx.as_flattened(),
        &x64,
        &|x| objective(x, &gamma, &beta),
        "dx",
    );
    if let Some(dgamma) = grads.gamma() {
        check(dgamma, &gamma, &|gamma| objective(&x64, gamma, &beta), "dγ");
    }
    if let Some(dbeta) = grads.beta() {
        check(dbeta, &beta, &|beta| objective(&x64, &gamma, beta), "dβ");
    }
}
