//! The gate math of an LSTM and a GRU step in one pass over the units: every gate of a vector of
//! units computed side by side (independent chains the CPU overlaps), rather than one
//! elementwise kernel per gate, each a chain of its own. With few units a step is mostly this
//! latency. Each lane takes exactly the operations the layers' plain loops with [`super::tanh`]
//! and [`super::sigmoid`] took, in the same order, so the results are the same bits.

use super::elementwise::tanh_vector;
use super::isa::Isa;
use super::simd::Simd;

/// An LSTM step's gates, from the pre-activations `z = [z_i | z_f | z_g | z_o]` (`4U` values of
/// `gates`, replaced by `i, f, g, o`) and the state `h`, `c` (`U` each): `c_prev ← c`,
/// `c ← f ⊙ c + i ⊙ g`, `tanh_c ← tanh(c)`, `h ← o ⊙ tanh_c`.
///
/// # Panics
///
/// If `gates` does not hold four times `U = h.len()` values, or another slice not `U`.
pub(crate) fn lstm_gates(
    gates: &mut [f32],
    c_prev: &mut [f32],
    tanh_c: &mut [f32],
    h: &mut [f32],
    c: &mut [f32],
) {
    let units = h.len();
    assert!(
        units.checked_mul(4) == Some(gates.len())
            && [c_prev.len(), tanh_c.len(), c.len()] == [units; 3],
        "LSTM gates: expected 4U gates and U of each state"
    );
    let lstm = Lstm {
        gates: gates.as_mut_ptr(),
        c_prev: c_prev.as_mut_ptr(),
        tanh_c: tanh_c.as_mut_ptr(),
        h: h.as_mut_ptr(),
        c: c.as_mut_ptr(),
        units,
    };
    let isa = Isa::selected();
    match isa {
        // SAFETY: the slices hold what the assert checked; AVX-512F checked by the guard.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => unsafe { lstm_avx512(lstm) },
        // SAFETY: as above, for AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => unsafe { lstm_avx2(lstm) },
        // SAFETY: as above; NEON is enabled for the whole build.
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        Isa::Neon => unsafe { lstm_simd::<super::simd::Neon>(lstm) },
        // SAFETY: as above; the portable path needs no CPU feature.
        _ => unsafe { lstm_simd::<super::simd::Portable>(lstm) },
    }
}

/// A GRU step's gates, from `a = [a_z | a_r | a_n]` (`3U` values of `gates`, replaced by
/// `z, r, n`) and `c = [c_z | c_r | c_n]` (`3U`): `z = σ(a_z + c_z)`, `r = σ(a_r + c_r)`,
/// `n = tanh(a_n + r ⊙ c_n)` and `h ← z ⊙ h + (1 - z) ⊙ n`.
///
/// # Panics
///
/// If `gates` or `rec` does not hold three times `U = h.len()` values.
pub(crate) fn gru_gates(gates: &mut [f32], rec: &[f32], h: &mut [f32]) {
    let units = h.len();
    assert!(
        units
            .checked_mul(3)
            .is_some_and(|n| n == gates.len() && n == rec.len()),
        "GRU gates: expected 3U gates and recurrent values"
    );
    let gru = Gru {
        gates: gates.as_mut_ptr(),
        rec: rec.as_ptr(),
        h: h.as_mut_ptr(),
        units,
    };
    let isa = Isa::selected();
    match isa {
        // SAFETY: the slices hold what the assert checked; AVX-512F checked by the guard.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => unsafe { gru_avx512(gru) },
        // SAFETY: as above, for AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => unsafe { gru_avx2(gru) },
        // SAFETY: as above; NEON is enabled for the whole build.
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        Isa::Neon => unsafe { gru_simd::<super::simd::Neon>(gru) },
        // SAFETY: as above; the portable path needs no CPU feature.
        _ => unsafe { gru_simd::<super::simd::Portable>(gru) },
    }
}

/// The operands of [`lstm_gates`]: `4 · units` gates, `units` of the rest.
#[derive(Clone, Copy)]
struct Lstm {
    gates: *mut f32,
    c_prev: *mut f32,
    tanh_c: *mut f32,
    h: *mut f32,
    c: *mut f32,
    units: usize,
}

/// The operands of [`gru_gates`]: `3 · units` gates and recurrent values, `units` of `h`.
#[derive(Clone, Copy)]
struct Gru {
    gates: *mut f32,
    rec: *const f32,
    h: *mut f32,
    units: usize,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn lstm_avx512(lstm: Lstm) {
    // SAFETY: forwarded from the caller: in bounds, AVX-512F supported and enabled here.
    unsafe { lstm_simd::<super::simd::Avx512>(lstm) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn lstm_avx2(lstm: Lstm) {
    // SAFETY: forwarded from the caller: in bounds, AVX2 and FMA supported and enabled here.
    unsafe { lstm_simd::<super::simd::Avx2Fma>(lstm) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gru_avx512(gru: Gru) {
    // SAFETY: forwarded from the caller: in bounds, AVX-512F supported and enabled here.
    unsafe { gru_simd::<super::simd::Avx512>(gru) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gru_avx2(gru: Gru) {
    // SAFETY: forwarded from the caller: in bounds, AVX2 and FMA supported and enabled here.
    unsafe { gru_simd::<super::simd::Avx2Fma>(gru) }
}

/// `σ(x) = (1 + tanh(x / 2)) / 2`, as [`super::sigmoid`] computes it.
///
/// # Safety
///
/// `S` usable here.
#[inline(always)]
unsafe fn sigmoid_vector<S: Simd>(x: S::V) -> S::V {
    // SAFETY: arithmetic under `S`, which the caller vouches for.
    unsafe {
        let half = S::splat(0.5);
        S::mul_add(half, tanh_vector::<S>(S::mul(half, x)), half)
    }
}

/// [`lstm_gates`], a vector of units at a time.
///
/// # Safety
///
/// `gates` holds `4 · units` values and the other pointers `units` each, none overlapping;
/// `S` usable here.
#[inline(always)]
unsafe fn lstm_simd<S: Simd>(p: Lstm) {
    let u = p.units;
    // SAFETY: each vector covers lanes `j..j + valid` with `j < units` and `j + valid <= units`
    // (its mask), so every pointer formed is inside its operand: `gates + g · units + j` for
    // the gate `g < 4`. `S` as the caller says.
    unsafe {
        for j in (0..u).step_by(S::LANES) {
            let mask = S::mask(S::LANES.min(u - j));
            let at = |g: usize| p.gates.add(g * u + j);
            let i = sigmoid_vector::<S>(S::load(at(0), mask));
            let f = sigmoid_vector::<S>(S::load(at(1), mask));
            let g = tanh_vector::<S>(S::load(at(2), mask));
            let o = sigmoid_vector::<S>(S::load(at(3), mask));
            let c_prev = S::load(p.c.add(j), mask);
            let c = S::add(S::mul(f, c_prev), S::mul(i, g));
            let tanh_c = tanh_vector::<S>(c);
            for (gate, v) in [i, f, g, o].into_iter().enumerate() {
                S::store(at(gate), v, mask);
            }
            S::store(p.c_prev.add(j), c_prev, mask);
            S::store(p.c.add(j), c, mask);
            S::store(p.tanh_c.add(j), tanh_c, mask);
            S::store(p.h.add(j), S::mul(o, tanh_c), mask);
        }
    }
}

/// [`gru_gates`], a vector of units at a time.
///
/// # Safety
///
/// `gates` and `rec` hold `3 · units` values and `h` `units`, `gates` and `h` overlapping
/// nothing; `S` usable here.
#[inline(always)]
unsafe fn gru_simd<S: Simd>(p: Gru) {
    let u = p.units;
    // SAFETY: as in `lstm_simd`: lanes `j..j + valid` of each block of `units`, within `gates`
    // and `rec` (3 blocks) and `h`. `S` as the caller says.
    unsafe {
        for j in (0..u).step_by(S::LANES) {
            let mask = S::mask(S::LANES.min(u - j));
            let (a, c) = (
                |g: usize| p.gates.add(g * u + j),
                |g: usize| p.rec.add(g * u + j),
            );
            let z = sigmoid_vector::<S>(S::add(S::load(a(0), mask), S::load(c(0), mask)));
            let r = sigmoid_vector::<S>(S::add(S::load(a(1), mask), S::load(c(1), mask)));
            let n = S::add(S::load(a(2), mask), S::mul(r, S::load(c(2), mask)));
            let n = tanh_vector::<S>(n);
            let h = S::load(p.h.add(j), mask);
            let h = S::add(S::mul(z, h), S::mul(S::sub(S::splat(1.0), z), n));
            S::store(a(0), z, mask);
            S::store(a(1), r, mask);
            S::store(a(2), n, mask);
            S::store(p.h.add(j), h, mask);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{sigmoid, tanh};

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 37 + seed * 11) % 29) as f32 / 5.0 - 2.9)
            .collect()
    }

    /// Odd unit counts, to reach the masked tails.
    const UNITS: [usize; 5] = [1, 7, 16, 17, 33];

    #[test]
    fn lstm_gates_equal_the_elementwise_kernels_to_the_bit() {
        for u in UNITS {
            let (z, h0, c0) = (values(4 * u, 1), values(u, 2), values(u, 3));
            // The plain loops over the elementwise kernels.
            let mut gates = z.clone();
            sigmoid(&mut gates[..2 * u]);
            tanh(&mut gates[2 * u..3 * u]);
            sigmoid(&mut gates[3 * u..]);
            let (i, f, g, o) = (
                &gates[..u],
                &gates[u..2 * u],
                &gates[2 * u..3 * u],
                &gates[3 * u..],
            );
            let c: Vec<f32> = (0..u).map(|k| f[k] * c0[k] + i[k] * g[k]).collect();
            let mut tanh_c = c.clone();
            tanh(&mut tanh_c);
            let h: Vec<f32> = (0..u).map(|k| o[k] * tanh_c[k]).collect();
            // The fused kernel.
            let (mut fused, mut c_prev, mut tanh_fused) = (z.clone(), vec![9.0; u], vec![9.0; u]);
            let (mut h_fused, mut c_fused) = (h0.clone(), c0.clone());
            lstm_gates(
                &mut fused,
                &mut c_prev,
                &mut tanh_fused,
                &mut h_fused,
                &mut c_fused,
            );
            assert_eq!(fused, gates, "gates, {u} units");
            assert_eq!(
                (c_prev, c_fused, tanh_fused, h_fused),
                (c0, c, tanh_c, h),
                "{u} units"
            );
        }
    }

    #[test]
    fn gru_gates_equal_the_elementwise_kernels_to_the_bit() {
        for u in UNITS {
            let (a, rec, h0) = (values(3 * u, 4), values(3 * u, 5), values(u, 6));
            let mut gates = a.clone();
            for (a, c) in gates[..2 * u].iter_mut().zip(&rec[..2 * u]) {
                *a += c;
            }
            sigmoid(&mut gates[..2 * u]);
            for k in 0..u {
                gates[2 * u + k] += gates[u + k] * rec[2 * u + k];
            }
            tanh(&mut gates[2 * u..]);
            let (z, n) = (&gates[..u], &gates[2 * u..]);
            let h: Vec<f32> = (0..u).map(|k| z[k] * h0[k] + (1.0 - z[k]) * n[k]).collect();
            let (mut fused, mut h_fused) = (a.clone(), h0.clone());
            gru_gates(&mut fused, &rec, &mut h_fused);
            assert_eq!((fused, h_fused), (gates, h), "{u} units");
        }
    }

    #[test]
    #[should_panic(expected = "LSTM gates")]
    fn lstm_gates_of_the_wrong_length_are_refused() {
        let mut one = [0.0; 1];
        lstm_gates(
            &mut [0.0; 3],
            &mut [0.0; 1],
            &mut [0.0; 1],
            &mut one,
            &mut [0.0; 1],
        );
    }
}
