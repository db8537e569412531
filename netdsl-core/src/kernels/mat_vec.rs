//! `y = init + Σ_s x_s · W_s` for one row: a recurrent step's product of `[x_t | h_{t-1}]` with
//! `[W_x; W_h]`, given as the two parts that are stored apart.
//!
//! [`super::Product`] is tuned for batches: with one row its tiles are at most four vectors
//! wide, so a wide `W` is read in several strided passes with few independent sums. Here a
//! block of up to sixteen vectors (AVX-512's 256 columns, an LSTM of 64 units) stays in
//! registers while `W` is read once, row after row. Each column is summed in the order
//! `Product` sums it, from `init` and over the parts' rows in turn, one fused multiply-add each,
//! so the two give the same bits. [`mat_vec_interleaved`], for a narrow `y` over many rows
//! ([`splits`]), does not: one chain of `k` dependent multiply-adds would take `4k` cycles (a
//! `Dense(1)` after 64 units: 256), so four interleaved sums run side by side and are added at
//! the end.

use super::isa::Isa;
use super::simd::Simd;

/// `y[j] = init[j] + Σ_s Σ_k parts[s].0[k] · parts[s].1[k · n + j]` for `j < n = y.len()`:
/// each part a row `x` and a row-major `W` of `x.len()` rows of `n`; `init` is zeros when
/// `None`.
///
/// # Panics
///
/// If a part's `W` holds fewer than `x.len() · n` values, or `init` fewer than `n`.
#[cfg_attr(
    not(feature = "alloc"),
    allow(dead_code, reason = "the recurrent layers, which need `alloc`, use it")
)]
pub(crate) fn mat_vec(isa: Isa, parts: &[(&[f32], &[f32])], init: Option<&[f32]>, y: &mut [f32]) {
    run(isa, parts, init, y, false);
}

/// `y = init + x · W` as [`mat_vec`] of one part, but in four interleaved sums where
/// [`splits`] says so: within float rounding of the batch product, not to the bit.
///
/// # Panics
///
/// As [`mat_vec`].
pub(crate) fn mat_vec_interleaved(
    isa: Isa,
    x: &[f32],
    w: &[f32],
    init: Option<&[f32]>,
    y: &mut [f32],
) {
    run(isa, &[(x, w)], init, y, splits(y.len(), x.len()));
}

/// [`mat_vec`], or with `split` (one part, [`splits`]) [`mat_vec_interleaved`].
fn run(isa: Isa, parts: &[(&[f32], &[f32])], init: Option<&[f32]>, y: &mut [f32], split: bool) {
    let n = y.len();
    for (x, w) in parts {
        assert!(
            x.len().checked_mul(n).is_some_and(|len| len <= w.len()),
            "W out of bounds"
        );
    }
    assert!(
        init.is_none_or(|init| init.len() >= n),
        "init out of bounds"
    );
    match isa {
        // SAFETY: in bounds by the asserts; AVX-512F checked by the guard.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => unsafe { mat_vec_avx512(parts, init, y, split) },
        // SAFETY: as above, for AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => unsafe { mat_vec_avx2(parts, init, y, split) },
        // SAFETY: in bounds by the asserts; NEON is enabled for the whole build.
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        Isa::Neon => unsafe { blocks::<super::simd::Neon, 8>(parts, init, y, split) },
        // SAFETY: in bounds by the asserts; the portable path needs no CPU feature.
        _ => unsafe { blocks::<super::simd::Portable, 4>(parts, init, y, split) },
    }
}

/// Whether [`mat_vec_interleaved`] sums `y` of `n` columns over `k` rows in four interleaved
/// sums rather than one: at most 8 columns (one vector, two on NEON) and 16 rows or more. The
/// dense layers' single-row inference takes it under the same rule, so that it agrees with
/// streaming to the bit.
pub(crate) fn splits(n: usize, k: usize) -> bool {
    n <= SPLIT_COLUMNS && k >= SPLIT_ROWS
}

/// The widest `y` [`splits`] applies to.
const SPLIT_COLUMNS: usize = 8;
/// The fewest rows [`splits`] applies to.
const SPLIT_ROWS: usize = 16;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn mat_vec_avx512(
    parts: &[(&[f32], &[f32])],
    init: Option<&[f32]>,
    y: &mut [f32],
    split: bool,
) {
    // SAFETY: forwarded from the caller: in bounds, AVX-512F supported and enabled here. Its 32
    // registers hold 16 sums with room for the loads.
    unsafe { blocks::<super::simd::Avx512, 16>(parts, init, y, split) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn mat_vec_avx2(
    parts: &[(&[f32], &[f32])],
    init: Option<&[f32]>,
    y: &mut [f32],
    split: bool,
) {
    // SAFETY: forwarded from the caller: in bounds, AVX2 and FMA supported and enabled here. Its
    // 16 registers hold 8 sums with room for the loads.
    unsafe { blocks::<super::simd::Avx2Fma, 8>(parts, init, y, split) }
}

/// The columns of `y` in blocks of a power of two of vectors, the widest first: at most `MAX`,
/// and no more than the columns left fill (the last vector of the last block masked); or, with
/// `split` and one part, [`interleaved`]'s interleaved sums.
///
/// # Safety
///
/// Every part's `W` holds `x.len() · y.len()` values, `init` (if any) `y.len()`, and `S` is
/// usable here.
#[inline(always)]
unsafe fn blocks<S: Simd, const MAX: usize>(
    parts: &[(&[f32], &[f32])],
    init: Option<&[f32]>,
    y: &mut [f32],
    split: bool,
) {
    let n = y.len();
    if let [part] = parts
        && split
    {
        // SAFETY: `n <= 8` columns, one vector or two (NEON's four lanes); the rest as the
        // caller says.
        unsafe {
            if n <= S::LANES {
                interleaved::<S, 1>(*part, init, y);
            } else {
                interleaved::<S, 2>(*part, init, y);
            }
        }
        return;
    }
    let mut col = 0;
    while col < n {
        let vectors = (n - col).div_ceil(S::LANES).min(MAX);
        // SAFETY: the block's columns `col..col + width` are below `n`, and the caller vouches
        // for the rest.
        let width = unsafe {
            if vectors >= 16 {
                block::<S, 16>(parts, init, y, col)
            } else if vectors >= 8 {
                block::<S, 8>(parts, init, y, col)
            } else if vectors >= 4 {
                block::<S, 4>(parts, init, y, col)
            } else if vectors >= 2 {
                block::<S, 2>(parts, init, y, col)
            } else {
                block::<S, 1>(parts, init, y, col)
            }
        };
        col += width;
    }
}

/// Columns `col..col + width` of `y`, `width` the lesser of `NV` vectors and the columns left,
/// their sums in registers over every row of every part; returns `width`.
///
/// # Safety
///
/// As for [`blocks`], with `col < y.len()`, and at least `NV - 1` whole vectors of columns
/// from `col` (the last may be partial).
#[inline(always)]
unsafe fn block<S: Simd, const NV: usize>(
    parts: &[(&[f32], &[f32])],
    init: Option<&[f32]>,
    y: &mut [f32],
    col: usize,
) -> usize {
    let width = (NV * S::LANES).min(y.len() - col);
    // SAFETY: in the whole body, vector `v` of the block starts at column `col + v · LANES`,
    // below `n` as the caller vouches (`width` reaches into every vector), and its mask keeps
    // its lanes below `n`; every row `k` of a part's `W` starts at `k · n`, within its
    // `x.len() · n` values. `S` is usable as the caller says.
    unsafe {
        let masks: [S::Mask; NV] =
            core::array::from_fn(|v| S::mask((width - v * S::LANES).min(S::LANES)));
        let mut acc: [S::V; NV] = core::array::from_fn(|v| match init {
            Some(init) => S::load(init.as_ptr().add(col + v * S::LANES), masks[v]),
            None => S::zero(),
        });
        let n = y.len();
        for (x, w) in parts {
            for (k, &x_k) in x.iter().enumerate() {
                let row = w.as_ptr().add(k * n + col);
                let x_k = S::splat(x_k);
                for (v, acc) in acc.iter_mut().enumerate() {
                    *acc = S::mul_add(x_k, S::load(row.add(v * S::LANES), masks[v]), *acc);
                }
            }
        }
        for (v, acc) in acc.into_iter().enumerate() {
            S::store(y.as_mut_ptr().add(col + v * S::LANES), acc, masks[v]);
        }
    }
    width
}

/// All `n` columns of `y` (`NV` vectors, the last possibly partial) over the rows of one part,
/// row `k` into sum `k mod 4`; `y = init + ((s_0 + s_1) + (s_2 + s_3))`.
///
/// # Safety
///
/// As for [`blocks`], with `y` of `NV - 1` whole vectors at least and `NV` at most.
#[inline(always)]
unsafe fn interleaved<S: Simd, const NV: usize>(
    (x, w): (&[f32], &[f32]),
    init: Option<&[f32]>,
    y: &mut [f32],
) {
    let n = y.len();
    // SAFETY: vector `v` starts at column `v · LANES < n`, its mask keeping its lanes below `n`;
    // row `k` of `W` starts at `k · n`, within its `x.len() · n` values. `S` as the caller says.
    unsafe {
        let masks: [S::Mask; NV] =
            core::array::from_fn(|v| S::mask((n - v * S::LANES).min(S::LANES)));
        let mut sums: [[S::V; NV]; 4] = [[S::zero(); NV]; 4];
        let row = |k: usize, x_k: f32, sum: &mut [S::V; NV]| {
            let (row, x_k) = (w.as_ptr().add(k * n), S::splat(x_k));
            for (v, sum) in sum.iter_mut().enumerate() {
                *sum = S::mul_add(x_k, S::load(row.add(v * S::LANES), masks[v]), *sum);
            }
        };
        // Four rows at a time, each into its own sum, the indices constant once unrolled.
        let quads = x.chunks_exact(4);
        let (rest, whole) = (quads.remainder(), x.len() - quads.remainder().len());
        for (q, quad) in quads.enumerate() {
            for (s, &x_k) in quad.iter().enumerate() {
                row(4 * q + s, x_k, &mut sums[s]);
            }
        }
        for (s, &x_k) in rest.iter().enumerate() {
            row(whole + s, x_k, &mut sums[s]);
        }
        for v in 0..NV {
            let sum = S::add(
                S::add(sums[0][v], sums[1][v]),
                S::add(sums[2][v], sums[3][v]),
            );
            let sum = match init {
                Some(init) => S::add(S::load(init.as_ptr().add(v * S::LANES), masks[v]), sum),
                None => sum,
            };
            S::store(y.as_mut_ptr().add(v * S::LANES), sum, masks[v]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `init + x1 · W1 + x2 · W2` in f64.
    fn reference(parts: &[(&[f32], &[f32])], init: Option<&[f32]>, n: usize) -> Vec<f64> {
        (0..n)
            .map(|j| {
                let start = init.map_or(0.0, |init| f64::from(init[j]));
                parts.iter().fold(start, |sum, (x, w)| {
                    sum + (x.iter().enumerate())
                        .map(|(k, &x_k)| f64::from(x_k) * f64::from(w[k * n + j]))
                        .sum::<f64>()
                })
            })
            .collect()
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 31 + seed * 17) % 23) as f32 / 11.0 - 1.0)
            .collect()
    }

    #[test]
    fn every_path_matches_the_reference_on_odd_sizes() {
        // Miri runs the portable path alone, and fewer sizes.
        let sizes: &[usize] = if cfg!(miri) {
            &[1, 5, 9, 33]
        } else {
            &[1, 3, 8, 15, 16, 17, 33, 64, 100, 192, 256, 257, 300]
        };
        for isa in Isa::supported() {
            for &n in sizes {
                for (k1, k2) in [(1, 0), (1, 8), (3, 5), (0, 0), (16, 0), (37, 0), (1, 32)] {
                    let (x1, x2) = (values(k1, 1), values(k2, 2));
                    let (w1, w2) = (values(k1 * n, 3), values(k2 * n, 4));
                    let init = values(n, 5);
                    let parts: [(&[f32], &[f32]); 2] = [(&x1, &w1), (&x2, &w2)];
                    for init in [None, Some(&init[..])] {
                        let mut y = vec![f32::NAN; n];
                        if k2 == 0 {
                            mat_vec_interleaved(isa, &x1, &w1, init, &mut y);
                        } else {
                            mat_vec(isa, &parts, init, &mut y);
                        }
                        let expected = reference(&parts, init, n);
                        for (j, (&found, expected)) in y.iter().zip(expected).enumerate() {
                            let error = (f64::from(found) - expected).abs();
                            assert!(
                                error <= 1e-5 * (1.0 + expected.abs()),
                                "{} n {n} k {k1}+{k2} column {j}: {found}, expected {expected}",
                                isa.name()
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn sums_as_product_does_to_the_bit() {
        // The recurrent layers' inference and their forward pass read the same columns.
        let (n, k) = (40, 9);
        let (x, w, init) = (values(k, 6), values(k * n, 7), values(n, 8));
        for isa in Isa::supported() {
            let mut y = vec![0.0; n];
            mat_vec(isa, &[(&x, &w)], Some(&init), &mut y);
            let mut c = vec![0.0; n];
            super::super::Product {
                m: 1,
                n,
                k,
                a: &x,
                a_row: k,
                a_col: 1,
                b: &w,
                ldb: n,
                bias: Some(&init),
                c: &mut c,
                ldc: n,
            }
            .run(isa);
            assert_eq!(y, c, "{}", isa.name());
        }
    }

    #[test]
    #[should_panic(expected = "W out of bounds")]
    fn a_short_matrix_is_refused() {
        let mut y = [0.0; 4];
        mat_vec(Isa::Portable, &[(&[1.0, 2.0], &[0.0; 7])], None, &mut y);
    }
}
