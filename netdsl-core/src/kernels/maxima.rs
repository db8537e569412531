//! Max pooling whole rows of output pixels at once: a pixel's channels are often too few to
//! fill a vector (LeNet-5's first pool has 6), so the comparisons run along rows of the image.
//!
//! The code is plain Rust, which the compiler vectorizes; the paths differ only in the vector
//! instructions it is compiled for.

use super::isa::Isa;

/// Values of the image one block holds on the stack: the columns of its pixels' windows, all
/// channels. A row whose single window is wider goes pixel by pixel ([`MaxRows::fits`]).
const SPAN: usize = 256;

/// Rows of max-pooling windows over a channels-last image of one sample.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MaxRows {
    /// Where the first pixel's window starts (its top-left input, channel 0).
    pub first: usize,
    /// Rows of output pixels.
    pub rows: usize,
    /// Values between the windows of an output pixel and the one below it.
    pub down: usize,
    /// The window's side, `P`.
    pub size: usize,
    /// Values between two rows of the image.
    pub row: usize,
    /// Channels of a pixel: values between two columns of the image.
    pub channels: usize,
    /// Values between the windows of neighbouring output pixels (stride times channels).
    pub stride: usize,
}

impl MaxRows {
    /// The values the windows of `n >= 1` output pixels cover along a row of the image.
    fn span(&self, n: usize) -> usize {
        (n - 1) * self.stride + self.size * self.channels
    }

    /// Whether one window's columns fit a block: else pool the row pixel by pixel.
    pub fn fits(&self) -> bool {
        self.size
            .checked_mul(self.channels)
            .is_some_and(|span| span <= SPAN)
            && self.size >= 1
            && self.channels >= 1
            && self.stride >= 1
    }

    /// `y[o·C + c]`, for each output pixel `o` of the rows and channel `c`, is the greatest of
    /// the pixel's window in channel `c`; with `KEEP`, `kept` gets the index in `x` it came from.
    /// The winner is the greatest value, a NaN over any number, and among equals (or NaNs) the
    /// one of smallest index: the first in the window's row-by-row order, whatever the order of
    /// the comparisons.
    ///
    /// Block by block of output pixels: first down the window's rows, value by value along the
    /// image row (every channel of every column at once), then across the window's columns,
    /// for every starting column (those between two windows are computed and dropped).
    ///
    /// # Panics
    ///
    /// If the rows do not [`fit`](Self::fits), a window leaves `x`, `y` is not whole rows of
    /// pixels, `kept` (with `KEEP`) is shorter than `y`, or an index reaches `u32::MAX`.
    pub fn select<const KEEP: bool>(&self, isa: Isa, x: &[f32], y: &mut [f32], kept: &mut [u32]) {
        assert!(self.fits(), "a window too wide for a block");
        assert!(
            self.rows
                .checked_mul(self.channels)
                .is_some_and(|values| values > 0 && y.len().is_multiple_of(values)),
            "`y` holds whole rows of pixels"
        );
        assert!(!KEEP || kept.len() >= y.len(), "`kept` too short");
        let pixels = y.len() / self.channels / self.rows;
        if pixels == 0 {
            return;
        }
        let last = (pixels - 1)
            .checked_mul(self.stride)
            .zip((self.size - 1).checked_mul(self.row))
            .and_then(|(across, down)| across.checked_add(down))
            .zip((self.rows - 1).checked_mul(self.down))
            .and_then(|(last, rows)| last.checked_add(rows)?.checked_add(self.first))
            .and_then(|start| start.checked_add(self.size * self.channels));
        assert!(
            last.is_some_and(|end| end <= x.len() && end <= u32::MAX as usize),
            "a window leaves the image"
        );
        match isa {
            // SAFETY: AVX-512F supported (checked in the guard); the body is safe code.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if isa.is_supported() => unsafe { self.select_avx512::<KEEP>(x, y, kept) },
            // SAFETY: as above, for AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma if isa.is_supported() => unsafe { self.select_avx2::<KEEP>(x, y, kept) },
            _ => self.select_blocks::<KEEP>(x, y, kept),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn select_avx512<const KEEP: bool>(&self, x: &[f32], y: &mut [f32], kept: &mut [u32]) {
        self.select_blocks::<KEEP>(x, y, kept);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn select_avx2<const KEEP: bool>(&self, x: &[f32], y: &mut [f32], kept: &mut [u32]) {
        self.select_blocks::<KEEP>(x, y, kept);
    }

    /// [`MaxRows::select`] once checked.
    #[inline(always)]
    fn select_blocks<const KEEP: bool>(&self, x: &[f32], y: &mut [f32], kept: &mut [u32]) {
        let (channels, stride) = (self.channels, self.stride);
        let block = (SPAN - self.span(1)) / stride + 1;
        let (mut down, mut down_at) = ([0.0_f32; SPAN], [0_u32; SPAN]);
        let (mut across, mut across_at) = ([0.0_f32; SPAN], [0_u32; SPAN]);
        let outputs = y.len() / self.rows;
        let pixels = outputs / channels;
        for r in 0..self.rows {
            let y = &mut y[r * outputs..][..outputs];
            let kept = if KEEP {
                &mut kept[r * outputs..][..outputs]
            } else {
                &mut []
            };
            for p0 in (0..pixels).step_by(block) {
                let n = block.min(pixels - p0);
                let start = self.first + r * self.down + p0 * stride;
                let len = self.span(n);
                let (down, down_at) = (&mut down[..len], &mut down_at[..len]);
                down.copy_from_slice(&x[start..start + len]);
                for (j, at) in down_at.iter_mut().enumerate() {
                    // In range: `select` checked every index against u32::MAX.
                    *at = (start + j) as u32;
                }
                for py in 1..self.size {
                    let row = start + py * self.row;
                    take_later_if_greater(down, down_at, &x[row..row + len], row as u32);
                }
                let len = (n - 1) * stride + channels;
                let (across, across_at) = (&mut across[..len], &mut across_at[..len]);
                across.copy_from_slice(&down[..len]);
                across_at.copy_from_slice(&down_at[..len]);
                for px in 1..self.size {
                    let column = px * channels;
                    take_greater_or_first(
                        across,
                        across_at,
                        &down[column..column + len],
                        &down_at[column..column + len],
                    );
                }
                for q in 0..n {
                    let (from, to) = (q * stride, (p0 + q) * channels);
                    y[to..to + channels].copy_from_slice(&across[from..from + channels]);
                    if KEEP {
                        kept[to..to + channels].copy_from_slice(&across_at[from..from + channels]);
                    }
                }
            }
        }
    }
}

/// Whether `value` (from a later input than `best`) beats `best`: a greater value, or a NaN
/// over a number. As a mask of all ones or none, so that the compiler selects with bit
/// operations (and vectors) rather than branches, which data would make unpredictable.
#[inline(always)]
fn beats(value: f32, best: f32) -> u32 {
    u32::from((value > best) | (value.is_nan() & !best.is_nan())).wrapping_neg()
}

/// `best[j]` (from input `best_at[j]`) replaced by `values[j]` (from input `first + j`, a later
/// one) where that [`beats`] it.
#[inline(always)]
fn take_later_if_greater(best: &mut [f32], best_at: &mut [u32], values: &[f32], first: u32) {
    let pairs = best.iter_mut().zip(best_at.iter_mut()).zip(values);
    for (j, ((best, best_at), &value)) in pairs.enumerate() {
        let take = beats(value, *best);
        *best = f32::from_bits((value.to_bits() & take) | (best.to_bits() & !take));
        *best_at = ((first + j as u32) & take) | (*best_at & !take);
    }
}

/// `best[j]` (from input `best_at[j]`) replaced by `values[j]` (from input `at[j]`, before or
/// after it) where that [`beats`] it, or equals it (both NaN alike) and comes first.
#[inline(always)]
fn take_greater_or_first(best: &mut [f32], best_at: &mut [u32], values: &[f32], at: &[u32]) {
    let pairs = best
        .iter_mut()
        .zip(best_at.iter_mut())
        .zip(values.iter().zip(at));
    for ((best, best_at), (&value, &at)) in pairs {
        let tie = (value == *best) | (value.is_nan() & best.is_nan());
        let take = beats(value, *best) | u32::from(tie & (at < *best_at)).wrapping_neg();
        *best = f32::from_bits((value.to_bits() & take) | (best.to_bits() & !take));
        *best_at = (at & take) | (*best_at & !take);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each window scanned row by row, keeping the first maximum (a NaN over numbers).
    fn reference(r: &MaxRows, x: &[f32], pixels: usize) -> (Vec<f32>, Vec<u32>) {
        let (mut y, mut kept) = (Vec::new(), Vec::new());
        for (o, p) in (0..r.rows).flat_map(|o| (0..pixels).map(move |p| (o, p))) {
            for c in 0..r.channels {
                let first = r.first + o * r.down + p * r.stride + c;
                let mut best = (x[first], first);
                for py in 0..r.size {
                    for px in 0..r.size {
                        let i = first + py * r.row + px * r.channels;
                        if x[i] > best.0 || x[i].is_nan() && !best.0.is_nan() {
                            best = (x[i], i);
                        }
                    }
                }
                y.push(best.0);
                kept.push(best.1 as u32);
            }
        }
        (y, kept)
    }

    /// Values in quarters from -2 to 2 (many ties, and signed zeros), with NaNs of two payloads.
    fn image(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                match state % 23 {
                    0 => f32::from_bits(0x7fc0_0000 | i as u32),
                    1 => -0.0,
                    v => (v as f32 - 12.0) / 4.0,
                }
            })
            .collect()
    }

    #[test]
    fn rows_match_the_reference_on_every_path_and_shape() {
        // (height, width, channels, size, stride): LeNet-5's pools, overlapping windows,
        // strides wider than the window, rows of several blocks, a window a block barely holds.
        let shapes = [
            (28, 28, 6, 2, 2),
            (10, 10, 16, 2, 2),
            (5, 6, 3, 2, 1),
            (7, 9, 2, 3, 2),
            (6, 11, 1, 2, 3),
            (4, 64, 6, 2, 2),
            (3, 200, 1, 3, 1),
            (2, 2, 128, 2, 1),
        ];
        let isas = [Isa::Avx512, Isa::Avx2Fma, Isa::Neon, Isa::Portable];
        for (seed, &(h, w, c, size, stride)) in shapes.iter().enumerate() {
            let x = image(h * w * c, seed as u32);
            let (oh, ow) = ((h - size) / stride + 1, (w - size) / stride + 1);
            // The whole image, then its rows one at a time from the second.
            let whole = (0, oh);
            let single = (1..oh).map(|oy| (oy, 1));
            for (oy, rows) in [whole].into_iter().chain(single) {
                let r = MaxRows {
                    first: oy * stride * w * c,
                    rows,
                    down: stride * w * c,
                    size,
                    row: w * c,
                    channels: c,
                    stride: stride * c,
                };
                assert!(r.fits());
                let (expected, expected_kept) = reference(&r, &x, ow);
                let outputs = rows * ow * c;
                for isa in isas.into_iter().filter(|isa| isa.is_supported()) {
                    let (mut y, mut kept) = (vec![7.0; outputs], vec![0; outputs]);
                    r.select::<true>(isa, &x, &mut y, &mut kept);
                    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    let at = (h, w, c, size, stride, oy, isa);
                    assert_eq!(bits(&y), bits(&expected), "{at:?}");
                    assert_eq!(kept, expected_kept, "{at:?}");
                    let mut values = vec![7.0; outputs];
                    r.select::<false>(isa, &x, &mut values, &mut []);
                    assert_eq!(bits(&values), bits(&expected), "{at:?}");
                }
            }
        }
    }

    #[test]
    fn a_window_too_wide_for_a_block_does_not_fit() {
        let r = |channels| MaxRows {
            first: 0,
            rows: 1,
            down: 0,
            size: 2,
            row: 0,
            channels,
            stride: channels,
        };
        assert!(r(128).fits());
        assert!(!r(129).fits());
        assert!(!r(usize::MAX).fits());
    }

    #[test]
    #[should_panic(expected = "a window leaves the image")]
    fn a_window_past_the_image_is_refused() {
        let r = MaxRows {
            first: 0,
            rows: 1,
            down: 8,
            size: 2,
            row: 4,
            channels: 1,
            stride: 2,
        };
        // Two pixels need columns 0..4 of rows 0 and 1: 8 values, not 7.
        r.select::<false>(Isa::Portable, &[0.0; 7], &mut [0.0; 2], &mut []);
    }
}
