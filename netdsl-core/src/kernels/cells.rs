//! The gate math of an LSTM and a GRU step in one pass over the units: every gate of a vector of
//! units computed side by side (independent chains the CPU overlaps), rather than one
//! elementwise kernel per gate, each a chain of its own. With few units a step is mostly this
//! latency. Each lane takes exactly the operations the layers' plain loops with [`super::tanh`]
//! and [`super::sigmoid`] took, in the same order, so the results are the same bits.
//!
//! For inference, [`lstm_step`] and [`gru_step`] take a whole step in one kernel: the step's
//! product summed in registers as [`super::mat_vec`] sums it, then the same gate arithmetic on
//! those registers, writing only the new state.

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
    // SAFETY: the pointers are the slices' whose lengths the assert checked.
    unsafe { lstm_gates_with(Isa::selected(), lstm) };
}

/// [`lstm_gates`] on `isa`.
///
/// # Safety
///
/// `lstm`'s pointers hold what [`lstm_gates`] checks, none overlapping.
unsafe fn lstm_gates_with(isa: Isa, lstm: Lstm) {
    match isa {
        // SAFETY: the pointers hold what the caller vouches for; AVX-512F checked by the guard.
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
    // SAFETY: the pointers are the slices' whose lengths the assert checked.
    unsafe { gru_gates_with(Isa::selected(), gru) };
}

/// [`gru_gates`] on `isa`.
///
/// # Safety
///
/// `gru`'s pointers hold what [`gru_gates`] checks, `gates` and `h` overlapping nothing.
unsafe fn gru_gates_with(isa: Isa, gru: Gru) {
    match isa {
        // SAFETY: the pointers hold what the caller vouches for; AVX-512F checked by the guard.
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

/// An LSTM's step of inference in one pass over its weights: `z = b + x · W_x + h_prev · W_h`
/// (`parts = [(x, W_x), (h_prev, W_h)]`, each `W` row-major of `4U` columns), each column summed
/// as [`super::mat_vec`] sums it (from the bias, then row after row, one fused multiply-add
/// each), and [`lstm_gates`]' arithmetic on it in registers: `c ← f ⊙ c + i ⊙ g`,
/// `h = o ⊙ tanh(c)`. The same bits as `mat_vec` then `lstm_gates`, with one dispatch on the
/// instruction set and nothing kept for a backward pass.
///
/// # Panics
///
/// If `h_prev` or `c` does not hold `U = h.len()` values, a `W` fewer than its `x`'s length
/// times `4U`, or the bias fewer than `4U`.
pub(crate) fn lstm_step(
    isa: Isa,
    parts: [(&[f32], &[f32]); 2],
    bias: Option<&[f32]>,
    c: &mut [f32],
    h: &mut [f32],
) {
    assert!(c.len() == h.len(), "LSTM step: expected U values of c");
    let step = Step::checked(parts, bias, 4, 1, c.as_mut_ptr(), h);
    run::<true>(isa, step);
}

/// A GRU's step of inference in one pass: `a = b_x + x · W_x` and `c = b_h + h_prev · W_h`
/// (`parts` as for [`lstm_step`], `3U` columns; the bias `b_x` then `b_h`, `6U` values), each
/// column summed as [`super::mat_vec`] sums it, and [`gru_gates`]' arithmetic on them in
/// registers into `h`. The same bits as `mat_vec` twice then `gru_gates`.
///
/// # Panics
///
/// If `h_prev` does not hold `U = h.len()` values, a `W` fewer than its `x`'s length times
/// `3U`, or the bias fewer than `6U`.
pub(crate) fn gru_step(
    isa: Isa,
    parts: [(&[f32], &[f32]); 2],
    bias: Option<&[f32]>,
    h: &mut [f32],
) {
    let step = Step::checked(parts, bias, 3, 2, core::ptr::null_mut(), h);
    run::<false>(isa, step);
}

/// The operands of [`lstm_step`] and [`gru_step`]: `x` (`features` values) and `W_x`
/// (`features` rows of `gates · units`), `h_prev` (`units`) and `W_h` (`units` rows), the bias
/// (`gates · units` values per product) if any; an LSTM's `c` (`units`, in place; null for a
/// GRU) and the new `h` (`units`), which overlap no operand.
#[derive(Clone, Copy)]
struct Step {
    x: *const f32,
    features: usize,
    w_x: *const f32,
    h_prev: *const f32,
    w_h: *const f32,
    bias: Option<*const f32>,
    c: *mut f32,
    h: *mut f32,
    units: usize,
}

impl Step {
    /// The operands, their lengths checked for `gates` blocks of `h.len()` columns and
    /// `products` biases.
    ///
    /// # Panics
    ///
    /// If an operand is too short.
    fn checked(
        [(x, w_x), (h_prev, w_h)]: [(&[f32], &[f32]); 2],
        bias: Option<&[f32]>,
        gates: usize,
        products: usize,
        c: *mut f32,
        h: &mut [f32],
    ) -> Step {
        let units = h.len();
        let fits = |rows: usize, w: &[f32]| {
            (units.checked_mul(gates))
                .and_then(|cols| cols.checked_mul(rows))
                .is_some_and(|len| len <= w.len())
        };
        assert!(
            h_prev.len() == units
                && fits(x.len(), w_x)
                && fits(units, w_h)
                && bias.is_none_or(|bias| fits(products, bias)),
            "fused step: expected U values of h, W_x and W_h of their rows of GATES · U, and the bias"
        );
        Step {
            x: x.as_ptr(),
            features: x.len(),
            w_x: w_x.as_ptr(),
            h_prev: h_prev.as_ptr(),
            w_h: w_h.as_ptr(),
            bias: bias.map(<[f32]>::as_ptr),
            c,
            h: h.as_mut_ptr(),
            units,
        }
    }
}

/// The most units an AVX-512 CPU steps with 256-bit vectors (in AVX-512VL's 32 registers):
/// their shorter division makes the chain of a short step's gates shorter (an LSTM(8)'s step
/// 50 ns against 70 in 512-bit vectors), but from 16 units on, 512-bit vectors are faster.
#[cfg(target_arch = "x86_64")]
const NARROW_UNITS: usize = 8;

/// Whether this CPU has AVX-512VL (AVX-512 on 256-bit vectors, in 32 registers).
#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn avx512vl() -> bool {
    std::arch::is_x86_feature_detected!("avx512vl")
}

/// Whether the build enables AVX-512VL, without `std` to detect it.
#[cfg(all(target_arch = "x86_64", not(feature = "std")))]
fn avx512vl() -> bool {
    cfg!(target_feature = "avx512vl")
}

/// [`lstm_step`] (`LSTM`) or [`gru_step`] on `isa`, `step` checked by [`Step::checked`].
fn run<const LSTM: bool>(isa: Isa, step: Step) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => {
            if step.units <= NARROW_UNITS && Isa::Avx2Fma.is_supported() && avx512vl() {
                // SAFETY: the operands hold what `Step::checked` checked; AVX-512F, AVX-512VL,
                // AVX2 and FMA checked here.
                unsafe { step_avx512_narrow::<LSTM>(step) }
            } else {
                // SAFETY: as above, for AVX-512F.
                unsafe { step_avx512::<LSTM>(step) }
            }
        }
        // SAFETY: the operands hold what `Step::checked` checked; AVX2 and FMA checked by the
        // guard.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => unsafe { step_avx2::<LSTM>(step) },
        // SAFETY: as above; NEON is enabled for the whole build.
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        Isa::Neon => unsafe { steps::<super::simd::Neon, 4, LSTM>(step) },
        // SAFETY: as above; the portable path needs no CPU feature.
        _ => unsafe { steps::<super::simd::Portable, 2, LSTM>(step) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn step_avx512<const LSTM: bool>(step: Step) {
    // SAFETY: forwarded from the caller: in bounds, AVX-512F supported and enabled here. Four
    // vectors of units are 16 sums of an LSTM's, 24 of a GRU's, in 32 registers.
    unsafe { steps::<super::simd::Avx512, 4, LSTM>(step) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
unsafe fn step_avx512_narrow<const LSTM: bool>(step: Step) {
    // SAFETY: forwarded from the caller: in bounds, AVX2, FMA and AVX-512VL supported and
    // enabled here; with VL, 256-bit vectors have 32 registers.
    unsafe { steps::<super::simd::Avx2Fma, 4, LSTM>(step) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn step_avx2<const LSTM: bool>(step: Step) {
    // SAFETY: forwarded from the caller: in bounds, AVX2 and FMA supported and enabled here;
    // two vectors of units are 8 sums of an LSTM's, 12 of a GRU's, in 16 registers.
    unsafe { steps::<super::simd::Avx2Fma, 2, LSTM>(step) }
}

/// The units in blocks of up to `MAX` vectors (a power of two: 1, 2 or 4), each block's sums in
/// registers over every row of both products, then its gates.
///
/// # Safety
///
/// `step` as [`Step::checked`] makes it; `S` usable here.
#[inline(always)]
unsafe fn steps<S: Simd, const MAX: usize, const LSTM: bool>(step: Step) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if step.units.is_multiple_of(S::LANES) {
            blocks::<S, MAX, LSTM, true>(step);
        } else {
            blocks::<S, MAX, LSTM, false>(step);
        }
    }
}

/// [`steps`], every vector whole when `FULL` (`units` a multiple of the lanes).
///
/// # Safety
///
/// As for [`steps`].
#[inline(always)]
unsafe fn blocks<S: Simd, const MAX: usize, const LSTM: bool, const FULL: bool>(step: Step) {
    let mut j = 0;
    while j < step.units {
        let vectors = (step.units - j).div_ceil(S::LANES);
        // SAFETY: the block's units `j..j + width` are below `units`, at least `NV - 1` whole
        // vectors of them; the caller vouches for the rest.
        j += unsafe {
            if MAX >= 4 && vectors >= 4 {
                block::<S, 4, LSTM, FULL>(step, j)
            } else if MAX >= 2 && vectors >= 2 {
                block::<S, 2, LSTM, FULL>(step, j)
            } else {
                block::<S, 1, LSTM, FULL>(step, j)
            }
        };
    }
}

/// A vector from `at`: every lane when `FULL`, else those of `mask`.
///
/// # Safety
///
/// As for [`Simd::load`] (every lane readable when `FULL`).
#[inline(always)]
unsafe fn load<S: Simd, const FULL: bool>(at: *const f32, mask: S::Mask) -> S::V {
    // SAFETY: forwarded from the caller.
    unsafe {
        if FULL {
            S::load_full(at)
        } else {
            S::load(at, mask)
        }
    }
}

/// [`load`]'s store.
///
/// # Safety
///
/// As for [`Simd::store`] (every lane writable when `FULL`).
#[inline(always)]
unsafe fn store<S: Simd, const FULL: bool>(at: *mut f32, value: S::V, mask: S::Mask) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if FULL {
            S::store_full(at, value);
        } else {
            S::store(at, value, mask);
        }
    }
}

/// Units `j..j + width` of the step, `width` the lesser of `NV` vectors and the units left;
/// returns `width`.
///
/// # Safety
///
/// As for [`steps`], with `j < units` and at least `NV - 1` whole vectors of units from `j`.
#[inline(always)]
unsafe fn block<S: Simd, const NV: usize, const LSTM: bool, const FULL: bool>(
    p: Step,
    j: usize,
) -> usize {
    let (u, lanes) = (p.units, S::LANES);
    let width = (NV * lanes).min(u - j);
    let gates = if LSTM { 4 } else { 3 };
    let cols = gates * u;
    // SAFETY: vector `v` of the block covers units `j + v · LANES` onwards, below `units` (the
    // caller vouches for `NV - 1` whole vectors, and `width` reaches into the last), its mask
    // keeping its lanes below `units` (every lane when `FULL`, `units` a multiple of the
    // lanes). So gate `g`'s column `g · units + j + v · LANES` of row `k` is inside its `W`
    // (`rows · cols` values), of the bias (`cols` per product) and `c`, `h`, `h_prev` at
    // `j + v · LANES` are inside theirs; `x_k`, `h_prev_k` are read for `k` below their
    // lengths. `S` as the caller says.
    unsafe {
        // Closures would not take the instruction set's target features: plain loops only.
        let mut masks: [S::Mask; NV] = [S::mask(0); NV];
        for (v, mask) in masks.iter_mut().enumerate() {
            *mask = S::mask((width - v * lanes).min(lanes));
        }
        // The sums of each product, from its bias (`b_x`, then `b_h` apart).
        let mut sums: [[[S::V; NV]; 4]; 2] = [[[S::zero(); NV]; 4]; 2];
        if let Some(b) = p.bias {
            for (product, sums) in sums.iter_mut().enumerate().take(if LSTM { 1 } else { 2 }) {
                for (g, sums) in sums.iter_mut().enumerate().take(gates) {
                    for (v, sum) in sums.iter_mut().enumerate() {
                        let at = b.add(product * cols + g * u + j + v * lanes);
                        *sum = load::<S, FULL>(at, masks[v]);
                    }
                }
            }
        }
        // Row after row of `W`, `x_k` times its columns, one chain per column: an LSTM's one
        // chain over `[x | h_prev]`, as `mat_vec` of the two parts sums it; a GRU's `a` over
        // `x` and `c` over `h_prev`.
        let parts = [(p.x, p.w_x, p.features), (p.h_prev, p.w_h, u)];
        for (part, (x, w, rows)) in parts.into_iter().enumerate() {
            let sums = &mut sums[if LSTM { 0 } else { part }];
            for k in 0..rows {
                let (row, x_k) = (w.add(k * cols + j), S::splat(*x.add(k)));
                for (g, sums) in sums.iter_mut().enumerate().take(gates) {
                    for (v, sum) in sums.iter_mut().enumerate() {
                        let w = load::<S, FULL>(row.add(g * u + v * lanes), masks[v]);
                        *sum = S::mul_add(x_k, w, *sum);
                    }
                }
            }
        }
        let [z, c] = sums;
        for (v, &mask) in masks.iter().enumerate() {
            let at = j + v * lanes;
            if LSTM {
                // As `lstm_simd`.
                let i = sigmoid_vector::<S>(z[0][v]);
                let f = sigmoid_vector::<S>(z[1][v]);
                let g = tanh_vector::<S>(z[2][v]);
                let o = sigmoid_vector::<S>(z[3][v]);
                let c_prev = load::<S, FULL>(p.c.add(at), mask);
                let c = S::add(S::mul(f, c_prev), S::mul(i, g));
                store::<S, FULL>(p.c.add(at), c, mask);
                store::<S, FULL>(p.h.add(at), S::mul(o, tanh_vector::<S>(c)), mask);
            } else {
                // As `gru_simd`, `a` in `z`.
                let a = z;
                let z = sigmoid_vector::<S>(S::add(a[0][v], c[0][v]));
                let r = sigmoid_vector::<S>(S::add(a[1][v], c[1][v]));
                let n = tanh_vector::<S>(S::add(a[2][v], S::mul(r, c[2][v])));
                let h = load::<S, FULL>(p.h_prev.add(at), mask);
                let h = S::add(S::mul(z, h), S::mul(S::sub(S::splat(1.0), z), n));
                store::<S, FULL>(p.h.add(at), h, mask);
            }
        }
    }
    width
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

    /// Weights small enough that the gates do not saturate.
    fn weights(len: usize, seed: usize) -> Vec<f32> {
        values(len, seed).into_iter().map(|w| w * 0.15).collect()
    }

    /// Unit counts with whole and partial vectors, one and several blocks, on every path (the
    /// narrow AVX-512 one up to 32).
    fn step_units() -> &'static [usize] {
        if cfg!(miri) {
            &[1, 9, 16]
        } else {
            &[1, 5, 8, 9, 16, 17, 24, 32, 33, 40, 64, 65, 100]
        }
    }

    /// `mat_vec` then `lstm_gates`, on `isa`: the new `h` and `c`.
    fn lstm_unfused(
        isa: Isa,
        parts: [(&[f32], &[f32]); 2],
        bias: Option<&[f32]>,
        c0: &[f32],
    ) -> (Vec<f32>, Vec<f32>) {
        let u = c0.len();
        let mut z = vec![0.0; 4 * u];
        crate::kernels::mat_vec(isa, &parts, bias, &mut z);
        let (mut c_prev, mut tanh_c, mut h, mut c) =
            (vec![0.0; u], vec![0.0; u], vec![0.0; u], c0.to_vec());
        let lstm = Lstm {
            gates: z.as_mut_ptr(),
            c_prev: c_prev.as_mut_ptr(),
            tanh_c: tanh_c.as_mut_ptr(),
            h: h.as_mut_ptr(),
            c: c.as_mut_ptr(),
            units: u,
        };
        // SAFETY: `z` holds `4U` values and the others `U`, none overlapping.
        unsafe { lstm_gates_with(isa, lstm) };
        (h, c)
    }

    /// `mat_vec` twice then `gru_gates`, on `isa`: the new `h`.
    fn gru_unfused(isa: Isa, [x, h0]: [(&[f32], &[f32]); 2], bias: Option<&[f32]>) -> Vec<f32> {
        let u = h0.0.len();
        let (mut a, mut c, mut h) = (vec![0.0; 3 * u], vec![0.0; 3 * u], h0.0.to_vec());
        crate::kernels::mat_vec(isa, &[x], bias, &mut a);
        crate::kernels::mat_vec(isa, &[h0], bias.map(|b| &b[3 * u..]), &mut c);
        let gru = Gru {
            gates: a.as_mut_ptr(),
            rec: c.as_ptr(),
            h: h.as_mut_ptr(),
            units: u,
        };
        // SAFETY: `a` and `c` hold `3U` values and `h` `U`, none overlapping.
        unsafe { gru_gates_with(isa, gru) };
        h
    }

    #[test]
    fn fused_steps_equal_mat_vec_then_the_gates_to_the_bit_on_every_path() {
        for isa in Isa::supported() {
            for &u in step_units() {
                for (features, with_bias) in [(1, true), (3, false), (2, true)] {
                    let (x, h0, c0) = (values(features, 7), values(u, 8), values(u, 9));
                    // LSTM.
                    let (w_x, w_h) = (weights(features * 4 * u, 10), weights(4 * u * u, 11));
                    let bias = values(4 * u, 12);
                    let bias = with_bias.then_some(&bias[..]);
                    let parts: [(&[f32], &[f32]); 2] = [(&x, &w_x), (&h0, &w_h)];
                    let (h, c) = lstm_unfused(isa, parts, bias, &c0);
                    let (mut h_fused, mut c_fused) = (vec![f32::NAN; u], c0.clone());
                    lstm_step(isa, parts, bias, &mut c_fused, &mut h_fused);
                    let case = format!("{}, {u} units, {features} features", isa.name());
                    assert_eq!((h_fused, c_fused), (h, c), "LSTM, {case}");
                    // GRU.
                    let (w_x, w_h) = (weights(features * 3 * u, 13), weights(3 * u * u, 14));
                    let bias = values(6 * u, 15);
                    let bias = with_bias.then_some(&bias[..]);
                    let parts: [(&[f32], &[f32]); 2] = [(&x, &w_x), (&h0, &w_h)];
                    let h = gru_unfused(isa, parts, bias);
                    let mut h_fused = vec![f32::NAN; u];
                    gru_step(isa, parts, bias, &mut h_fused);
                    assert_eq!(h_fused, h, "GRU, {case}");
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "fused step")]
    fn a_fused_step_with_a_short_recurrent_kernel_is_refused() {
        let (x, h0, mut h) = ([1.0], [0.0; 2], [0.0; 2]);
        gru_step(
            Isa::Portable,
            [(&x, &[0.0; 6]), (&h0, &[0.0; 11])],
            None,
            &mut h,
        );
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
