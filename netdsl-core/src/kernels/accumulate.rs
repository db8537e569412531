//! Sums a convolution's backward pass needs besides its products: the bias gradient (a sum of
//! the rows of a channels-last gradient) and col2im (patch gradients added back onto the image
//! through the windows they came from).

use super::isa::Isa;
use super::simd::Simd;

/// The longest block of rows [`column_sums`] accumulates on the stack: a whole number of rows
/// and of 16-lane vectors, for every width up to 16 and many more.
const BLOCK: usize = 256;

/// `sums[j] = Σ_r values[r · width + j]`: the column sums of a row-major matrix of `width`
/// columns, such as a convolution's bias gradient from its channels-last output gradient,
/// overwriting `sums`.
///
/// # Panics
///
/// If `width` is 0, `values` is not made of whole rows, or `sums` is not `width` long.
pub(crate) fn column_sums(isa: Isa, values: &[f32], width: usize, sums: &mut [f32]) {
    assert!(
        width > 0 && values.len().is_multiple_of(width),
        "column_sums: {} values are not rows of {width}",
        values.len()
    );
    assert_eq!(sums.len(), width, "column_sums: one sum per column");
    sums.fill(0.0);
    // The smallest whole number of rows that is also a whole number of the widest vectors:
    // summed a block at a time when it fits the stack buffer, a row at a time otherwise.
    let block = width / gcd(width, 16) * 16;
    if block > BLOCK {
        add_blocks_with(isa, values, sums);
        return;
    }
    let mut acc = [0.0_f32; BLOCK];
    let whole = values.len() / block * block;
    add_blocks_with(isa, &values[..whole], &mut acc[..block]);
    let rows = acc[..block].chunks_exact(width);
    for row in rows.chain(values[whole..].chunks_exact(width)) {
        for (sum, &v) in sums.iter_mut().zip(row) {
            *sum += v;
        }
    }
}

/// `acc += block` for every `acc.len()`-long block of `values`, on `isa`.
fn add_blocks_with(isa: Isa, values: &[f32], acc: &mut [f32]) {
    assert!(values.len().is_multiple_of(acc.len()), "whole blocks");
    match isa {
        // SAFETY: whole blocks, checked above; AVX-512F supported (checked in the guard).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => unsafe { add_blocks_avx512(values, acc) },
        // SAFETY: as above, for AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => unsafe { add_blocks_avx2(values, acc) },
        // SAFETY: whole blocks, checked above; #[cfg(all(target_arch = "aarch64", target_feature = "neon"))] is enabled for the whole build.
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        Isa::Neon => unsafe { add_blocks::<super::simd::Neon>(values, acc) },
        // SAFETY: whole blocks, checked above; no CPU feature needed.
        _ => unsafe { add_blocks::<super::simd::Portable>(values, acc) },
    }
}

/// `image[windows[i] - base + r · row_stride + j] += patches[(i · rows + r) · run + j]` for
/// every window `i`, `r < rows` and `j < run`: col2im, adding each window's patch gradient
/// back onto the pixels it was read from, a run of `run` contiguous values per window row.
/// Overlapping windows add up, in order.
///
/// # Panics
///
/// If a window starts below `base`, a run leaves `image`, or `patches` holds fewer than
/// `windows.len() · rows · run` values (a size that overflows `usize` is too large for any
/// slice).
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_windows(
    isa: Isa,
    patches: &[f32],
    windows: &[usize],
    base: usize,
    rows: usize,
    run: usize,
    row_stride: usize,
    image: &mut [f32],
) {
    let values = rows
        .checked_mul(run)
        .and_then(|patch| patch.checked_mul(windows.len()));
    assert!(
        values.is_some_and(|values| values <= patches.len()),
        "add_windows: patches too short"
    );
    if windows.is_empty() || rows == 0 || run == 0 {
        return;
    }
    let (low, high) = windows
        .iter()
        .fold((usize::MAX, 0), |(l, h), &w| (l.min(w), h.max(w)));
    assert!(low >= base, "add_windows: a window starts below `base`");
    // One past the last value the last window writes.
    let end = (rows - 1)
        .checked_mul(row_stride)
        .and_then(|rows| rows.checked_add(run))
        .and_then(|extent| extent.checked_add(high - base));
    assert!(
        end.is_some_and(|end| end <= image.len()),
        "add_windows: a window leaves the image"
    );
    let geometry = Windows {
        base,
        rows,
        run,
        row_stride,
    };
    match isa {
        // SAFETY: every run lies inside `image` and `patches` by the asserts; AVX-512F
        // supported (checked in the guard).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => unsafe {
            add_windows_avx512(geometry, patches, windows, image);
        },
        // SAFETY: as above, for AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => unsafe {
            add_windows_avx2(geometry, patches, windows, image);
        },
        // SAFETY: as above; #[cfg(all(target_arch = "aarch64", target_feature = "neon"))] is enabled for the whole build.
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        Isa::Neon => unsafe {
            add_windows_simd::<super::simd::Neon>(geometry, patches, windows, image);
        },
        // SAFETY: as above; no CPU feature needed.
        _ => unsafe {
            add_windows_simd::<super::simd::Portable>(geometry, patches, windows, image);
        },
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Where [`add_windows`] puts each patch.
#[derive(Clone, Copy)]
struct Windows {
    base: usize,
    rows: usize,
    run: usize,
    row_stride: usize,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_blocks_avx512(values: &[f32], acc: &mut [f32]) {
    // SAFETY: forwarded from the caller: whole blocks, AVX-512F enabled and supported.
    unsafe { add_blocks::<super::simd::Avx512>(values, acc) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_blocks_avx2(values: &[f32], acc: &mut [f32]) {
    // SAFETY: forwarded from the caller: whole blocks, AVX2 and FMA enabled and supported.
    unsafe { add_blocks::<super::simd::Avx2Fma>(values, acc) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_windows_avx512(g: Windows, patches: &[f32], windows: &[usize], image: &mut [f32]) {
    // SAFETY: forwarded from the caller: runs in bounds, AVX-512F enabled and supported.
    unsafe { add_windows_simd::<super::simd::Avx512>(g, patches, windows, image) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_windows_avx2(g: Windows, patches: &[f32], windows: &[usize], image: &mut [f32]) {
    // SAFETY: forwarded from the caller: runs in bounds, AVX2 and FMA enabled and supported.
    unsafe { add_windows_simd::<super::simd::Avx2Fma>(g, patches, windows, image) }
}

/// `acc += block` for every `acc.len()`-long block of `values`, vector by vector.
///
/// # Safety
///
/// `values.len()` a multiple of `acc.len()`, and `S` usable here.
#[inline(always)]
unsafe fn add_blocks<S: Simd>(values: &[f32], acc: &mut [f32]) {
    let len = acc.len();
    // SAFETY: each vector covers `min(LANES, len - i)` lanes from `i < len` of `acc` and of a
    // block of `values`, which is `len` long; `S` as the caller says.
    unsafe {
        for block in values.chunks_exact(len) {
            for i in (0..len).step_by(S::LANES) {
                let mask = S::mask(S::LANES.min(len - i));
                let (sum, v) = (acc.as_mut_ptr().add(i), block.as_ptr().add(i));
                S::store(sum, S::add(S::load(sum, mask), S::load(v, mask)), mask);
            }
        }
    }
}

/// [`add_windows`] on `S`.
///
/// # Safety
///
/// The bounds [`add_windows`] asserts, and `S` usable here.
#[inline(always)]
unsafe fn add_windows_simd<S: Simd>(
    g: Windows,
    patches: &[f32],
    windows: &[usize],
    image: &mut [f32],
) {
    // SAFETY: run `r` of window `i` reads `patches[(i·rows + r)·run..][..run]` and writes
    // `image[w - base + r·row_stride..][..run]`, both inside their slices as asserted; each
    // vector covers `min(LANES, run - j)` lanes of them. Pointers are formed only at a run's
    // start, which is inside its slice, except `src` after the last run: one past the end of
    // `windows.len() · rows · run <= patches.len()` values at most. `S` as the caller says.
    unsafe {
        let mut src = patches.as_ptr();
        for &window in windows {
            let start = window - g.base;
            for r in 0..g.rows {
                let dst = image.as_mut_ptr().add(start + r * g.row_stride);
                for j in (0..g.run).step_by(S::LANES) {
                    let mask = S::mask(S::LANES.min(g.run - j));
                    let (d, s) = (dst.add(j), src.add(j));
                    S::store(d, S::add(S::load(d, mask), S::load(s, mask)), mask);
                }
                src = src.add(g.run);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::sized;

    /// Deterministic values in [-1, 1).
    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + seed * 104_729) % 2000) as f32 / 1000.0 - 1.0)
            .collect()
    }

    #[test]
    fn column_sums_match_the_plain_sums_on_every_path() {
        // Widths that divide the block and ones that do not (17, 300), rows that fill no
        // whole block, and a single row.
        for (width, rows) in [
            (1, 5),
            (3, 7),
            (6, sized(3200, 100)),
            (16, 33),
            (17, 65),
            (300, 3),
            (6, 1),
        ] {
            let data = values(width * rows, width);
            let expected: Vec<f64> = (0..width)
                .map(|j| (0..rows).map(|r| f64::from(data[r * width + j])).sum())
                .collect();
            for isa in Isa::supported() {
                let mut sums = vec![9.0; width];
                column_sums(isa, &data, width, &mut sums);
                for (j, (&found, &e)) in sums.iter().zip(&expected).enumerate() {
                    let tol = 1e-6 * rows as f64;
                    assert!(
                        (f64::from(found) - e).abs() <= tol,
                        "{} width {width}, rows {rows}, column {j}: {found} against {e}",
                        isa.name()
                    );
                }
            }
        }
    }

    #[test]
    fn column_sums_of_literal_values() {
        for isa in Isa::supported() {
            let mut sums = [0.0; 3];
            column_sums(isa, &[1.0, 2.0, 3.0, 10.0, 20.0, 30.0], 3, &mut sums);
            assert_eq!(sums, [11.0, 22.0, 33.0], "{}", isa.name());
        }
    }

    #[test]
    fn column_sums_of_no_rows_are_zero() {
        let mut sums = [9.0; 4];
        column_sums(Isa::selected(), &[], 4, &mut sums);
        assert_eq!(sums, [0.0; 4]);
    }

    #[test]
    #[should_panic(expected = "not rows of 4")]
    fn column_sums_reject_a_partial_row() {
        column_sums(Isa::selected(), &[1.0; 6], 4, &mut [0.0; 4]);
    }

    /// The definition, one value at a time.
    fn add_windows_plainly(
        patches: &[f32],
        windows: &[usize],
        base: usize,
        (rows, run, row_stride): (usize, usize, usize),
        image: &mut [f32],
    ) {
        for (i, &w) in windows.iter().enumerate() {
            for r in 0..rows {
                for j in 0..run {
                    image[w - base + r * row_stride + j] += patches[(i * rows + r) * run + j];
                }
            }
        }
    }

    #[test]
    fn add_windows_of_literal_values() {
        // A 3×3 image and two 2×2 windows, at pixels 0 and 4 (the top-left and bottom-right).
        let patches = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0];
        for isa in Isa::supported() {
            let mut image = [0.0; 9];
            add_windows(isa, &patches, &[0, 4], 0, 2, 2, 3, &mut image);
            let expected = [1.0, 2.0, 0.0, 3.0, 14.0, 20.0, 0.0, 30.0, 40.0];
            assert_eq!(image, expected, "{}", isa.name());
        }
    }

    #[test]
    fn add_windows_matches_the_definition_on_every_path() {
        // LeNet-5's second convolution (5×5 windows of 6 channels over a 14×14 image, so runs
        // of 30; an 8×8 image under Miri), runs shorter and longer than a vector, and
        // overlapping windows.
        for (side, k, channels) in [(sized(14, 8), 5, 6), (5, 2, 1), (9, 3, 17), (4, 4, 3)] {
            let out = side - k + 1;
            let row_stride = side * channels;
            let base = 1000;
            let windows: Vec<usize> = (0..out * out)
                .map(|p| base + (p / out * side + p % out) * channels)
                .collect();
            let (rows, run) = (k, k * channels);
            let patches = values(windows.len() * rows * run, side);
            let start = values(side * side * channels, 1);
            let mut expected = start.clone();
            add_windows_plainly(
                &patches,
                &windows,
                base,
                (rows, run, row_stride),
                &mut expected,
            );
            for isa in Isa::supported() {
                let mut image = start.clone();
                add_windows(
                    isa, &patches, &windows, base, rows, run, row_stride, &mut image,
                );
                for (p, (&found, &e)) in image.iter().zip(&expected).enumerate() {
                    assert!(
                        (found - e).abs() <= 1e-5,
                        "{} side {side}, kernel {k}, channels {channels}, value {p}: {found} against {e}",
                        isa.name()
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "patches too short")]
    fn add_windows_refuses_a_patch_count_that_wraps() {
        // 2 windows · 2⁶³ rows · 1 wraps to 0 <= 1 patch value (rows at stride 0 stay inside).
        let mut image = [0.0; 1];
        add_windows(
            Isa::selected(),
            &[1.0],
            &[0, 0],
            0,
            1 << 63,
            1,
            0,
            &mut image,
        );
    }

    #[test]
    #[should_panic(expected = "leaves the image")]
    fn add_windows_refuses_a_row_stride_that_wraps() {
        // (2 - 1) · usize::MAX + 1 wraps to 0 <= 1: the second row would be image[-1].
        let mut image = [0.0; 1];
        add_windows(
            Isa::selected(),
            &[1.0; 2],
            &[0],
            0,
            2,
            1,
            usize::MAX,
            &mut image,
        );
    }

    #[test]
    #[should_panic(expected = "leaves the image")]
    fn add_windows_refuses_a_window_start_that_wraps() {
        // usize::MAX - 0 + 0 + 1 wraps to 0 <= 1: the window would be image[-1].
        let mut image = [0.0; 1];
        add_windows(
            Isa::selected(),
            &[1.0],
            &[usize::MAX],
            0,
            1,
            1,
            1,
            &mut image,
        );
    }

    #[test]
    #[should_panic(expected = "leaves the image")]
    fn add_windows_rejects_a_window_past_the_image() {
        let mut image = [0.0; 9];
        add_windows(Isa::selected(), &[1.0; 4], &[5], 0, 2, 2, 3, &mut image);
    }
}
