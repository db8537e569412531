//! Optimizer updates as SIMD kernels: each rule reads a parameter, its gradient and `K` state
//! values per element and writes them back, on the selected instruction set. The formulas are
//! the optimizers' own (see `crate::optim`); here they only run wide.

use super::isa::Isa;
use super::simd::Simd;

/// One element-wise update rule with `K` state values per parameter.
pub(crate) trait Rule<const K: usize> {
    /// Updates the lanes of `w` and `state` from the gradient `g`.
    ///
    /// # Safety
    ///
    /// `S` usable here (see [`Simd`]).
    unsafe fn apply<S: Simd>(&self, w: &mut S::V, g: S::V, state: &mut [S::V; K]);
}

/// SGD with momentum `m`: `v ← m·v - lr·g`, then `w ← w + v` (or `w + m·v - lr·g`, Nesterov).
pub(crate) struct Momentum {
    pub lr: f32,
    pub momentum: f32,
    pub nesterov: bool,
}

impl Rule<1> for Momentum {
    #[inline(always)]
    unsafe fn apply<S: Simd>(&self, w: &mut S::V, g: S::V, [v]: &mut [S::V; 1]) {
        // SAFETY: the caller provides `S`'s target features.
        unsafe {
            let (m, step) = (S::splat(self.momentum), S::mul(S::splat(self.lr), g));
            *v = S::sub(S::mul(m, *v), step);
            *w = S::add(
                *w,
                if self.nesterov {
                    S::sub(S::mul(m, *v), step)
                } else {
                    *v
                },
            );
        }
    }
}

/// Adam(W): `w ← w - decay·w`, `m ← m + (1-β1)(g-m)`, `v ← v + (1-β2)(g²-v)`,
/// `w ← w - α·m/(√v + ε)`, with `α` and `decay` computed for the step by the caller.
pub(crate) struct AdamStep {
    pub alpha: f32,
    pub decay: f32,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
}

impl Rule<2> for AdamStep {
    #[inline(always)]
    unsafe fn apply<S: Simd>(&self, w: &mut S::V, g: S::V, [m, v]: &mut [S::V; 2]) {
        // SAFETY: the caller provides `S`'s target features.
        unsafe {
            *w = S::sub(*w, S::mul(S::splat(self.decay), *w));
            *m = S::add(*m, S::mul(S::sub(g, *m), S::splat(1.0 - self.beta_1)));
            *v = S::add(
                *v,
                S::mul(S::sub(S::mul(g, g), *v), S::splat(1.0 - self.beta_2)),
            );
            let step = S::div(
                S::mul(S::splat(self.alpha), *m),
                S::add(S::sqrt(*v), S::splat(self.epsilon)),
            );
            *w = S::sub(*w, step);
        }
    }
}

/// RMSprop: `v ← ρ·v + (1-ρ)·g²`, `w ← w - lr·g/√(v + ε)`.
pub(crate) struct RmsPropStep {
    pub lr: f32,
    pub rho: f32,
    pub epsilon: f32,
}

impl Rule<1> for RmsPropStep {
    #[inline(always)]
    unsafe fn apply<S: Simd>(&self, w: &mut S::V, g: S::V, [v]: &mut [S::V; 1]) {
        // SAFETY: the caller provides `S`'s target features.
        unsafe {
            *v = S::add(
                S::mul(S::splat(self.rho), *v),
                S::mul(S::splat(1.0 - self.rho), S::mul(g, g)),
            );
            let step = S::div(
                S::mul(S::splat(self.lr), g),
                S::sqrt(S::add(*v, S::splat(self.epsilon))),
            );
            *w = S::sub(*w, step);
        }
    }
}

/// Adagrad: `a ← a + g²`, `w ← w - lr·g/√(a + ε)`.
pub(crate) struct AdagradStep {
    pub lr: f32,
    pub epsilon: f32,
}

impl Rule<1> for AdagradStep {
    #[inline(always)]
    unsafe fn apply<S: Simd>(&self, w: &mut S::V, g: S::V, [a]: &mut [S::V; 1]) {
        // SAFETY: the caller provides `S`'s target features.
        unsafe {
            *a = S::add(*a, S::mul(g, g));
            let step = S::div(
                S::mul(S::splat(self.lr), g),
                S::sqrt(S::add(*a, S::splat(self.epsilon))),
            );
            *w = S::sub(*w, step);
        }
    }
}

/// Applies `rule` to every element of `params`, `grads` and the `states`.
///
/// # Panics
///
/// If the slices differ in length.
pub(crate) fn apply<R: Rule<K>, const K: usize>(
    isa: Isa,
    rule: &R,
    params: &mut [f32],
    grads: &[f32],
    states: [&mut [f32]; K],
) {
    let n = params.len();
    assert!(
        grads.len() == n && states.iter().all(|s| s.len() == n),
        "update: slices of different lengths"
    );
    match isa {
        // SAFETY: lengths checked above; AVX-512F supported (checked in the guard).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => unsafe { apply_avx512(rule, params, grads, states) },
        // SAFETY: as above, for AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => unsafe { apply_avx2(rule, params, grads, states) },
        // SAFETY: lengths checked above; #[cfg(all(target_arch = "aarch64", target_feature = "neon"))] is enabled for the whole build.
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        Isa::Neon => unsafe { apply_simd::<super::simd::Neon, R, K>(rule, params, grads, states) },
        // SAFETY: lengths checked above; no CPU feature needed.
        _ => unsafe { apply_simd::<super::simd::Portable, R, K>(rule, params, grads, states) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn apply_avx512<R: Rule<K>, const K: usize>(
    rule: &R,
    params: &mut [f32],
    grads: &[f32],
    states: [&mut [f32]; K],
) {
    // SAFETY: forwarded from the caller: equal lengths, AVX-512F enabled and supported.
    unsafe { apply_simd::<super::simd::Avx512, R, K>(rule, params, grads, states) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn apply_avx2<R: Rule<K>, const K: usize>(
    rule: &R,
    params: &mut [f32],
    grads: &[f32],
    states: [&mut [f32]; K],
) {
    // SAFETY: forwarded from the caller: equal lengths, AVX2 and FMA enabled and supported.
    unsafe { apply_simd::<super::simd::Avx2Fma, R, K>(rule, params, grads, states) }
}

/// # Safety
///
/// All slices of the same length, `S` usable here.
#[inline(always)]
unsafe fn apply_simd<S: Simd, R: Rule<K>, const K: usize>(
    rule: &R,
    params: &mut [f32],
    grads: &[f32],
    mut states: [&mut [f32]; K],
) {
    // SAFETY: each vector covers `min(LANES, len - i)` lanes from `i < len` of every slice,
    // all of length `len`; `S` as the caller says.
    unsafe {
        for i in (0..params.len()).step_by(S::LANES) {
            let mask = S::mask(S::LANES.min(params.len() - i));
            let mut w = S::load(params.as_ptr().add(i), mask);
            let g = S::load(grads.as_ptr().add(i), mask);
            let mut state: [S::V; K] =
                core::array::from_fn(|k| S::load(states[k].as_ptr().add(i), mask));
            rule.apply::<S>(&mut w, g, &mut state);
            S::store(params.as_mut_ptr().add(i), w, mask);
            // State decays geometrically where gradients stop (momentum, Adam's moments):
            // flushed before it turns subnormal, when every operation on it would take a
            // microcode assist a hundred times slower than a normal one.
            for (slice, value) in states.iter_mut().zip(state) {
                S::store(slice.as_mut_ptr().add(i), S::flush_subnormal(value), mask);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(n: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let f = |seed: f32| {
            (0..n)
                .map(|i| ((i as f32 + seed) * 0.37).sin())
                .collect::<Vec<_>>()
        };
        (
            f(1.0),
            f(2.0),
            f(3.0).iter().map(|x| x * 0.1).collect(),
            f(4.0).iter().map(|x| x.abs() + 0.01).collect(),
        )
    }

    fn assert_close(found: &[f32], expected: &[f32], what: &str) {
        for (i, (f, e)) in found.iter().zip(expected).enumerate() {
            assert!(
                (f - e).abs() <= 1e-6 * (1.0 + e.abs()),
                "{what}[{i}]: {f} vs {e}"
            );
        }
    }

    #[test]
    fn every_rule_matches_its_scalar_formula_on_every_path() {
        for n in [0, 1, 7, 16, 17, 33, 100] {
            let (w0, g, m0, v0) = inputs(n);
            for isa in Isa::supported() {
                let name = format!("{} n={n}", isa.name());
                for nesterov in [false, true] {
                    let (mut w, mut v) = (w0.clone(), m0.clone());
                    apply(
                        isa,
                        &Momentum {
                            lr: 0.1,
                            momentum: 0.9,
                            nesterov,
                        },
                        &mut w,
                        &g,
                        [&mut v],
                    );
                    let v_ref: Vec<f32> =
                        m0.iter().zip(&g).map(|(v, g)| 0.9 * v - 0.1 * g).collect();
                    let w_ref: Vec<f32> = (0..n)
                        .map(|i| {
                            w0[i]
                                + if nesterov {
                                    0.9 * v_ref[i] - 0.1 * g[i]
                                } else {
                                    v_ref[i]
                                }
                        })
                        .collect();
                    assert_close(&w, &w_ref, &format!("momentum {name}"));
                    assert_close(&v, &v_ref, &format!("velocity {name}"));
                }
                let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
                let step = AdamStep {
                    alpha: 0.01,
                    decay: 0.001,
                    beta_1: 0.9,
                    beta_2: 0.999,
                    epsilon: 1e-7,
                };
                apply(isa, &step, &mut w, &g, [&mut m, &mut v]);
                for i in 0..n {
                    let m_ref = m0[i] + (g[i] - m0[i]) * 0.1;
                    let v_ref = v0[i] + (g[i] * g[i] - v0[i]) * (1.0 - 0.999);
                    let w_ref = w0[i] - 0.001 * w0[i] - 0.01 * m_ref / (v_ref.sqrt() + 1e-7);
                    assert_close(
                        &[w[i], m[i], v[i]],
                        &[w_ref, m_ref, v_ref],
                        &format!("adam {name} [{i}]"),
                    );
                }
                let (mut w, mut v) = (w0.clone(), v0.clone());
                apply(
                    isa,
                    &RmsPropStep {
                        lr: 0.01,
                        rho: 0.9,
                        epsilon: 1e-7,
                    },
                    &mut w,
                    &g,
                    [&mut v],
                );
                for i in 0..n {
                    let v_ref = 0.9 * v0[i] + 0.1 * g[i] * g[i];
                    let w_ref = w0[i] - 0.01 * g[i] / (v_ref + 1e-7).sqrt();
                    assert_close(
                        &[w[i], v[i]],
                        &[w_ref, v_ref],
                        &format!("rmsprop {name} [{i}]"),
                    );
                }
                let (mut w, mut a) = (w0.clone(), v0.clone());
                apply(
                    isa,
                    &AdagradStep {
                        lr: 0.01,
                        epsilon: 1e-7,
                    },
                    &mut w,
                    &g,
                    [&mut a],
                );
                for i in 0..n {
                    let a_ref = v0[i] + g[i] * g[i];
                    let w_ref = w0[i] - 0.01 * g[i] / (a_ref + 1e-7).sqrt();
                    assert_close(
                        &[w[i], a[i]],
                        &[w_ref, a_ref],
                        &format!("adagrad {name} [{i}]"),
                    );
                }
            }
        }
    }

    /// A velocity that decays into the subnormal range is stored as zero on every path, while
    /// normal values, zeros and NaN (which must stay visible) are stored as computed.
    #[test]
    fn state_that_turns_subnormal_is_flushed_to_zero() {
        let tiny = f32::MIN_POSITIVE; // 0.9 · tiny is subnormal
        let v0 = [
            tiny,
            -tiny,
            2.0 * tiny,
            1.0,
            0.0,
            f32::NAN,
            tiny,
            1e-30,
            1e-39,
        ];
        let decayed = |v: f32| 0.9 * v;
        let expected = [
            0.0,
            0.0,
            decayed(2.0 * tiny),
            0.9,
            0.0,
            f32::NAN,
            0.0,
            decayed(1e-30),
            0.0,
        ];
        for isa in Isa::supported() {
            let (mut w, mut v) = ([0.0; 9], v0);
            let momentum = Momentum {
                lr: 0.1,
                momentum: 0.9,
                nesterov: false,
            };
            apply(isa, &momentum, &mut w, &[0.0; 9], [&mut v]);
            for (i, (found, expected)) in v.iter().zip(expected).enumerate() {
                assert!(
                    found.to_bits() == expected.to_bits() || (found.is_nan() && expected.is_nan()),
                    "{} v[{i}]: {found:e}, expected {expected:e}",
                    isa.name()
                );
            }
        }
    }
}
