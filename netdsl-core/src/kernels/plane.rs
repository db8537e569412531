//! Convolutions of single-channel images at stride 1 with the output pixels across the vector
//! lanes: the first layer of a network on grey images, where there are few filters.
//!
//! As a matrix product with the filters across the lanes ([`super::Gather`]), LeNet-5's first
//! layer would fill 6 of AVX-512's 16 lanes and broadcast every pixel of every window for just 6
//! multiply-adds. Here a tap's weight is broadcast once for a whole run of output pixels, which a
//! stride of 1 and a single channel make one contiguous load from the image. The price is a
//! transposition: the products come out filter by filter, the layer's output and gradient are
//! channels-last.

use super::isa::Isa;
use super::simd::Simd;

/// Filters computed together: their accumulators, for two vectors of pixels (four of NEON's
/// narrower ones), stay in registers.
const FILTERS: usize = 6;
/// The most output pixels one pass computes: two vectors of AVX-512 (or AVX2, or portable, or
/// four of NEON).
const RUN: usize = 32;
/// The widest vector, in lanes.
const MAX_LANES: usize = 16;
/// Runs of output pixels whose gradients the weight gradient transposes at a time: enough to
/// amortise moving its accumulators, few enough for the transposed block to stay in L1.
const CHUNK: usize = 16;
/// Kernel columns whose weight gradients are accumulated together.
const TAPS: usize = 5;

/// The geometry of a single-channel, stride-1 convolution over padded images: `images` images
/// of `height × width` pixels, row-major, whose every `kernel × kernel` window at output pixel
/// `(oy, ox)` starts at pixel `(oy, ox)`. The caller pads the images so that all windows lie
/// inside: `out_height + kernel - 1 <= height`, likewise for widths.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plane {
    /// Images in the batch.
    pub images: usize,
    /// Rows of each (padded) image.
    pub height: usize,
    /// Columns of each (padded) image, its row stride.
    pub width: usize,
    /// The kernel's height and width, `K`.
    pub kernel: usize,
    /// Output channels, `F`.
    pub filters: usize,
    /// Output rows.
    pub out_height: usize,
    /// Output columns.
    pub out_width: usize,
}

impl Plane {
    /// `out[i][oy][ox][f] = bias[f] + Σ_{ky,kx} image[i][oy + ky][ox + kx] · w[ky][kx][f]`:
    /// the convolution, channels-last, overwriting `out`.
    ///
    /// # Panics
    ///
    /// If a window leaves its image or a slice is too short for the geometry.
    pub fn forward(
        &self,
        isa: Isa,
        image: &[f32],
        weights: &[f32],
        bias: Option<&[f32]>,
        out: &mut [f32],
    ) {
        self.check(image, weights);
        assert!(
            self.outputs().is_some_and(|n| n <= out.len()),
            "output too short"
        );
        assert!(
            bias.is_none_or(|b| b.len() >= self.filters),
            "bias too short"
        );
        match isa {
            // SAFETY: `check` and the asserts keep every access in bounds; AVX-512F is
            // supported where the guard says so.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if isa.is_supported() => unsafe {
                forward_avx512(self, image, weights, bias, out)
            },
            // SAFETY: as above, for AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma if isa.is_supported() => unsafe {
                forward_avx2(self, image, weights, bias, out)
            },
            // SAFETY: in bounds as above; #[cfg(all(target_arch = "aarch64", target_feature = "neon"))] is enabled for the whole build. Four vectors
            // of 4 pixels: 6 × 4 accumulators of its 32 registers.
            #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
            Isa::Neon => unsafe {
                forward::<super::simd::Neon, 4>(self, image, weights, bias, out)
            },
            // SAFETY: in bounds as above; no CPU feature needed.
            _ => unsafe { forward::<super::simd::Portable, 2>(self, image, weights, bias, out) },
        }
    }

    /// The scratch space [`Plane::weight_gradient`] needs, in values.
    ///
    /// # Panics
    ///
    /// If it overflows `usize`.
    pub fn scratch_len(&self) -> usize {
        product(&[self.kernel, self.kernel, self.filters, MAX_LANES])
            .zip(product(&[CHUNK, self.filters, RUN]))
            .and_then(|(partial, transposed)| partial.checked_add(transposed))
            .expect("a plane's scratch space overflows `usize`")
    }

    /// `dw[ky][kx][f] = Σ_{i,oy,ox} image[i][oy + ky][ox + kx] · dz[i][oy][ox][f]`: the weight
    /// gradient, from the channels-last output gradient `dz`, overwriting `dw`. `scratch` holds
    /// [`Plane::scratch_len`] values; their contents do not matter.
    ///
    /// # Panics
    ///
    /// If a window leaves its image or a slice is too short for the geometry.
    pub fn weight_gradient(
        &self,
        isa: Isa,
        image: &[f32],
        dz: &[f32],
        dw: &mut [f32],
        scratch: &mut [f32],
    ) {
        self.check(image, dw);
        assert!(
            self.outputs().is_some_and(|n| n <= dz.len()),
            "output gradient too short"
        );
        assert!(scratch.len() >= self.scratch_len(), "scratch too short");
        match isa {
            // SAFETY: `check` and the asserts keep every access in bounds; AVX-512F is
            // supported where the guard says so.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if isa.is_supported() => unsafe {
                weight_gradient_avx512(self, image, dz, dw, scratch)
            },
            // SAFETY: as above, for AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma if isa.is_supported() => unsafe {
                weight_gradient_avx2(self, image, dz, dw, scratch)
            },
            // SAFETY: in bounds as above; #[cfg(all(target_arch = "aarch64", target_feature = "neon"))] is enabled for the whole build. AVX-512's
            // tile, which fits the same 32 registers.
            #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
            Isa::Neon => unsafe {
                weight_gradient::<super::simd::Neon, 2, 3>(self, image, dz, dw, scratch)
            },
            // SAFETY: in bounds as above; no CPU feature needed.
            _ => unsafe {
                weight_gradient::<super::simd::Portable, 2, 1>(self, image, dz, dw, scratch)
            },
        }
    }

    /// Checks the geometry against the images and the weights (or their gradient). Every size
    /// is computed with checked arithmetic: one that overflows is too large for any slice.
    fn check(&self, image: &[f32], weights: &[f32]) {
        // The last window's last row and column: `out - 1 + kernel - 1 < side`.
        let inside = |out: usize, side: usize| {
            self.kernel >= 1
                && out
                    .checked_add(self.kernel - 1)
                    .is_some_and(|end| end <= side)
        };
        assert!(
            inside(self.out_height, self.height) && inside(self.out_width, self.width),
            "a window leaves the image"
        );
        assert!(
            product(&[self.images, self.height, self.width]).is_some_and(|n| n <= image.len()),
            "images too short"
        );
        assert!(
            product(&[self.kernel, self.kernel, self.filters]).is_some_and(|n| n <= weights.len()),
            "weights too short"
        );
    }

    /// Output values of the batch (`None` if they overflow `usize`).
    fn outputs(&self) -> Option<usize> {
        product(&[self.images, self.out_height, self.out_width, self.filters])
    }
}

/// The product of `factors`, or `None` if it overflows `usize`.
fn product(factors: &[usize]) -> Option<usize> {
    factors.iter().try_fold(1_usize, |p, &f| p.checked_mul(f))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn forward_avx512(
    plane: &Plane,
    image: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    // SAFETY: forwarded from the caller: in bounds, AVX-512F supported and enabled here.
    unsafe { forward::<super::simd::Avx512, 2>(plane, image, weights, bias, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx2(
    plane: &Plane,
    image: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    // SAFETY: forwarded from the caller: in bounds, AVX2 and FMA supported and enabled here.
    unsafe { forward::<super::simd::Avx2Fma, 2>(plane, image, weights, bias, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn weight_gradient_avx512(
    plane: &Plane,
    image: &[f32],
    dz: &[f32],
    dw: &mut [f32],
    scratch: &mut [f32],
) {
    // SAFETY: forwarded from the caller: in bounds, AVX-512F supported and enabled here.
    unsafe { weight_gradient::<super::simd::Avx512, 2, 3>(plane, image, dz, dw, scratch) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weight_gradient_avx2(
    plane: &Plane,
    image: &[f32],
    dz: &[f32],
    dw: &mut [f32],
    scratch: &mut [f32],
) {
    // SAFETY: forwarded from the caller: in bounds, AVX2 and FMA supported and enabled here.
    unsafe { weight_gradient::<super::simd::Avx2Fma, 2, 1>(plane, image, dz, dw, scratch) }
}

/// Runs of output pixels are taken [`CHUNK`] at a time, their `dz` transposed filter by filter
/// (permuted whole where [`Layout`] has a plan, value by value otherwise)
/// into the scratch. Then for each kernel row and group of `FG` filters, `TAPS × FG`
/// accumulators stay in registers while every run of the chunk adds its pixels times its
/// gradients, lane by lane; they go to per-weight partial sums in the scratch once per chunk,
/// and those are summed across lanes at the end.
///
/// # Safety
///
/// The geometry checked by [`Plane::weight_gradient`], `S` usable here, `NV · LANES <= RUN`,
/// `S::LANES <= MAX_LANES`.
#[inline(always)]
unsafe fn weight_gradient<S: Layout, const NV: usize, const FG: usize>(
    p: &Plane,
    image: &[f32],
    dz: &[f32],
    dw: &mut [f32],
    scratch: &mut [f32],
) {
    let (k, filters) = (p.kernel, p.filters);
    let block = NV * S::LANES;
    let runs_per_row = p.out_width.div_ceil(block);
    let runs = p.images * p.out_height * runs_per_row;
    let (partial, dz_t) = scratch[..p.scratch_len()].split_at_mut(k * k * filters * MAX_LANES);
    partial.fill(0.0);
    // SAFETY: `S` usable here, as the caller says.
    let plan = unsafe { S::plan_lines(filters) };
    // SAFETY: the trait contract holds, as the caller says.
    let all = unsafe { S::mask(S::LANES) };
    // SAFETY: in the whole body, pixels as in `forward`; `dz` at
    // `((i·OH + oy)·OW + ox)·F + f` with `ox < out_width`, `f < filters`; `partial` at
    // `((ky·K + kx)·F + f)·MAX_LANES` plus under `LANES`, and `dz_t` at `(c·F + f)·RUN` plus
    // under `NV · LANES <= RUN`, with `c < CHUNK`: inside their parts of `scratch`. Pointers
    // into the image and `dz` are formed only at values read, or (for an empty vector, see
    // `vectors`) one past the end at most.
    unsafe {
        let (partial, dz_t) = (partial.as_mut_ptr(), dz_t.as_mut_ptr());
        let mut starts = [0_usize; CHUNK];
        let mut masks = [[S::mask(0); NV]; CHUNK];
        let mut offsets = [[0_usize; NV]; CHUNK];
        for first in (0..runs).step_by(CHUNK) {
            let chunk = CHUNK.min(runs - first);
            for c in 0..chunk {
                let run = first + c;
                let (row, ox) = (run / runs_per_row, run % runs_per_row * block);
                let (i, oy) = (row / p.out_height, row % p.out_height);
                let valid = block.min(p.out_width - ox);
                starts[c] = (i * p.height + oy) * p.width + ox;
                (masks[c], offsets[c]) = vectors::<S, NV>(valid);
                let pixels = dz.as_ptr().add((row * p.out_width + ox) * filters);
                let run_t = dz_t.add(c * filters * RUN);
                if let Some(plan) = &plan {
                    S::to_lines::<NV>(plan, pixels, filters, valid, run_t);
                    continue;
                }
                for f in 0..filters {
                    let line = run_t.add(f * RUN);
                    // Stepped from pixel to pixel (indexing each as `j · filters + f` measured a
                    // fifth slower with AVX-512), never past the run's last pixel: `valid >= 1`.
                    let mut pixel = pixels.add(f);
                    *line = *pixel;
                    for j in 1..valid {
                        pixel = pixel.add(filters);
                        *line.add(j) = *pixel;
                    }
                    // Lanes past a short run meet masked (zero) pixels: keep them finite.
                    for j in valid..block {
                        *line.add(j) = 0.0;
                    }
                }
            }
            for ky in 0..k {
                for kx0 in (0..k).step_by(TAPS) {
                    for f0 in (0..filters).step_by(FG) {
                        let mut acc = [[S::zero(); FG]; TAPS];
                        for c in 0..chunk {
                            let line = image.as_ptr().add(starts[c] + ky * p.width + kx0);
                            let run_t = dz_t.add((c * filters + f0) * RUN);
                            let grads: [[S::V; NV]; FG] = core::array::from_fn(|f| {
                                // Filters past the end repeat the last one, never stored.
                                let line = run_t.add(f.min(filters - 1 - f0) * RUN);
                                core::array::from_fn(|v| S::load(line.add(v * S::LANES), all))
                            });
                            for (t, acc) in acc.iter_mut().enumerate() {
                                if kx0 + t >= k {
                                    break;
                                }
                                let x: [S::V; NV] = core::array::from_fn(|v| {
                                    S::load(line.add(t + offsets[c][v]), masks[c][v])
                                });
                                for (acc, grads) in acc.iter_mut().zip(&grads) {
                                    for v in 0..NV {
                                        *acc = S::mul_add(x[v], grads[v], *acc);
                                    }
                                }
                            }
                        }
                        for (t, acc) in acc.iter().enumerate().take(k - kx0) {
                            for (f, &acc) in acc.iter().enumerate().take(filters - f0) {
                                let sum = partial
                                    .add(((ky * k + kx0 + t) * filters + f0 + f) * MAX_LANES);
                                S::store(sum, S::add(S::load(sum, all), acc), all);
                            }
                        }
                    }
                }
            }
        }
        let partial = core::slice::from_raw_parts(partial, k * k * filters * MAX_LANES);
        for (w, sums) in dw.iter_mut().zip(partial.chunks_exact(MAX_LANES)) {
            *w = sums[..S::LANES].iter().sum();
        }
    }
}

/// A run of `valid` output pixels over `NV` vectors: each vector's mask, and the offset in the
/// run it is loaded from: `v · LANES` for a vector holding pixels, `valid` for an empty one.
/// An empty vector's load reads nothing, but its pointer must lie inside the image all the
/// same: for tap `kx < kernel` of a run starting at column `ox`, offset `valid` points at
/// column `ox + valid + kx <= out_width + kernel - 1 <= width` of the image row, at most one
/// past the row's end, so at most one past the end of the image.
///
/// # Safety
///
/// `S` usable here.
#[inline(always)]
unsafe fn vectors<S: Simd, const NV: usize>(valid: usize) -> ([S::Mask; NV], [usize; NV]) {
    let masks = core::array::from_fn(|v| {
        // SAFETY: at most `LANES` lanes; `S` as the caller says.
        unsafe { S::mask(valid.saturating_sub(v * S::LANES).min(S::LANES)) }
    });
    (masks, core::array::from_fn(|v| (v * S::LANES).min(valid)))
}

/// How a kernel moves a run's values between lines of one filter, whose lanes are pixels, and
/// channels-last pixels of `filters` values each: value by value in the kernels themselves,
/// unless the vector instruction set has a [`Layout::Plan`] to permute whole vectors.
///
/// # Safety
///
/// As [`Simd`]; a plan's moves touch only the values their arguments describe.
unsafe trait Layout: Simd {
    /// The permutes for a number of filters, prepared once per call of a kernel.
    type Plan;

    /// The plan of [`Layout::to_pixels`] for `filters` filters, if there is one.
    ///
    /// # Safety
    ///
    /// The instruction set usable here.
    unsafe fn plan_pixels(filters: usize) -> Option<Self::Plan>;

    /// The plan of [`Layout::to_lines`] for `filters` filters, if there is one.
    ///
    /// # Safety
    ///
    /// The instruction set usable here.
    unsafe fn plan_lines(filters: usize) -> Option<Self::Plan>;

    /// Writes the first `valid` pixels of the run in `lines` (line `f` is filter `f`'s values,
    /// `NV` vectors of pixels; `filters <= FILTERS` of them) channels-last to `out`:
    /// `out[j · filters + f] = lines[f][j]`.
    ///
    /// # Safety
    ///
    /// The instruction set usable here; `plan` from [`Layout::plan_pixels`] for `filters`;
    /// `valid <= NV · LANES`; `valid · filters` values writable at `out`.
    unsafe fn to_pixels<const NV: usize>(
        plan: &Self::Plan,
        lines: &[[Self::V; NV]; FILTERS],
        filters: usize,
        valid: usize,
        out: *mut f32,
    );

    /// Reads `valid` channels-last pixels of `filters` values at `pixels` into `filters` lines
    /// of `NV · LANES` values, `RUN` apart at `lines`: `lines[f · RUN + j] = pixels[j · filters
    /// + f]`, and zero for `valid <= j < NV · LANES`.
    ///
    /// # Safety
    ///
    /// The instruction set usable here; `plan` from [`Layout::plan_lines`] for `filters`;
    /// `1 <= valid <= NV · LANES <= RUN`; `valid · filters` values readable at `pixels`,
    /// `filters · RUN` writable at `lines`.
    unsafe fn to_lines<const NV: usize>(
        plan: &Self::Plan,
        pixels: *const f32,
        filters: usize,
        valid: usize,
        lines: *mut f32,
    );
}

/// The instruction sets without a plan: the kernels move value by value.
macro_rules! value_by_value {
    ($($simd:ty),*) => {$(
        // SAFETY: no plan, so no move of its own.
        unsafe impl Layout for $simd {
            type Plan = core::convert::Infallible;

            unsafe fn plan_pixels(_: usize) -> Option<Self::Plan> {
                None
            }

            unsafe fn plan_lines(_: usize) -> Option<Self::Plan> {
                None
            }

            unsafe fn to_pixels<const NV: usize>(
                plan: &Self::Plan,
                _: &[[Self::V; NV]; FILTERS],
                _: usize,
                _: usize,
                _: *mut f32,
            ) {
                match *plan {}
            }

            unsafe fn to_lines<const NV: usize>(
                plan: &Self::Plan,
                _: *const f32,
                _: usize,
                _: usize,
                _: *mut f32,
            ) {
                match *plan {}
            }
        }
    )*};
}

value_by_value!(super::simd::Portable);
#[cfg(target_arch = "x86_64")]
value_by_value!(super::simd::Avx2Fma);
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
value_by_value!(super::simd::Neon);

/// AVX-512's plans: two-source permutes (`vpermt2ps`), ⌈sources / 2⌉ for each vector moved.
#[cfg(target_arch = "x86_64")]
mod permutes {
    use core::arch::x86_64::*;

    use super::{FILTERS, Layout, RUN};
    use crate::kernels::simd::{Avx512, Simd};

    /// Up to 16 output vectors, each gathered from up to 16 source vectors of 16 lanes: for
    /// output `o` and pair `p` of sources (`2p` and `2p + 1`), the index of each lane in the
    /// pair (`vpermt2ps`' 32 lanes) and the mask of the lanes that come from the pair.
    pub(super) struct Plan {
        index: [[[i32; 16]; 8]; 16],
        mask: [[__mmask16; 8]; 16],
        /// Pairs of source vectors.
        pairs: usize,
    }

    impl Plan {
        /// The plan of `outputs` vectors whose lane `l` of output `o` is lane `i` of source
        /// vector `s` for `(s, i) = source(o, l)`, with `s < 16`, `i < 16`.
        fn new(
            outputs: usize,
            sources: usize,
            source: impl Fn(usize, usize) -> (usize, usize),
        ) -> Self {
            let mut plan = Plan {
                index: [[[0; 16]; 8]; 16],
                mask: [[0; 8]; 16],
                pairs: sources.div_ceil(2),
            };
            for o in 0..outputs {
                for l in 0..16 {
                    let (s, i) = source(o, l);
                    plan.index[o][s / 2][l] = (i + 16 * (s % 2)) as i32;
                    plan.mask[o][s / 2] |= 1 << l;
                }
            }
            plan
        }

        /// Output `o` gathered from `sources` (zero past the last one).
        ///
        /// # Safety
        ///
        /// AVX-512F usable here; `o < 16`.
        #[inline(always)]
        unsafe fn gather(&self, o: usize, sources: &[__m512; 16]) -> __m512 {
            // SAFETY: AVX-512F by the caller; the index array holds 16 lanes.
            unsafe {
                let mut out = _mm512_setzero_ps();
                for p in 0..self.pairs {
                    let mask = self.mask[o][p];
                    if mask != 0 {
                        let index = _mm512_loadu_si512(self.index[o][p].as_ptr().cast());
                        let both =
                            _mm512_permutex2var_ps(sources[2 * p], index, sources[2 * p + 1]);
                        out = _mm512_mask_mov_ps(out, mask, both);
                    }
                }
                out
            }
        }
    }

    // SAFETY: the moves below read and write only the values their contracts describe, with
    // masked loads and stores at the edges.
    unsafe impl Layout for Avx512 {
        type Plan = Plan;

        unsafe fn plan_pixels(filters: usize) -> Option<Plan> {
            // Output vector `q` holds channels-last values `16q..16q + 16`: value `g` is filter
            // `g % F` of pixel `g / F`, lane `g / F` of line `g % F`.
            (1..=FILTERS).contains(&filters).then(|| {
                Plan::new(filters, filters, |q, l| {
                    let g = 16 * q + l;
                    (g % filters, g / filters)
                })
            })
        }

        unsafe fn plan_lines(filters: usize) -> Option<Plan> {
            // Line `f`'s lane `l` is value `l·F + f` of 16 channels-last pixels: lane `g % 16`
            // of their `g / 16`-th vector.
            (1..=16).contains(&filters).then(|| {
                Plan::new(filters, filters, |f, l| {
                    let g = l * filters + f;
                    (g / 16, g % 16)
                })
            })
        }

        #[inline(always)]
        unsafe fn to_pixels<const NV: usize>(
            plan: &Plan,
            lines: &[[__m512; NV]; FILTERS],
            filters: usize,
            valid: usize,
            out: *mut f32,
        ) {
            // SAFETY: AVX-512F by the caller; stores only the first `valid · filters` values
            // at `out`, the first lane of each inside them.
            unsafe {
                for v in 0..NV {
                    let pixels = valid.saturating_sub(16 * v).min(16);
                    if pixels == 0 {
                        break;
                    }
                    let mut sources = [_mm512_setzero_ps(); 16];
                    for (source, line) in sources.iter_mut().zip(lines).take(filters) {
                        *source = line[v];
                    }
                    let values = pixels * filters;
                    let at = out.add(16 * v * filters);
                    for q in 0..values.div_ceil(16) {
                        let vector = plan.gather(q, &sources);
                        let lanes = (values - 16 * q).min(16);
                        Avx512::store(at.add(16 * q), vector, Avx512::mask(lanes));
                    }
                }
            }
        }

        #[inline(always)]
        unsafe fn to_lines<const NV: usize>(
            plan: &Plan,
            pixels: *const f32,
            filters: usize,
            valid: usize,
            lines: *mut f32,
        ) {
            // SAFETY: AVX-512F by the caller; loads only the first `valid · filters` values at
            // `pixels` (a pointer is formed only at a value read), stores `NV · 16 <= RUN`
            // values of each of the `filters` lines.
            unsafe {
                for v in 0..NV {
                    let count = valid.saturating_sub(16 * v).min(16);
                    let values = count * filters;
                    let mut sources = [_mm512_setzero_ps(); 16];
                    for (q, source) in sources.iter_mut().enumerate().take(values.div_ceil(16)) {
                        let at = pixels.add(16 * (v * filters + q));
                        *source = Avx512::load(at, Avx512::mask((values - 16 * q).min(16)));
                    }
                    for f in 0..filters {
                        let line = lines.add(f * RUN + 16 * v);
                        Avx512::store_full(line, plan.gather(f, &sources));
                    }
                }
            }
        }
    }
}

/// The taps of one run of output pixels for one group of filters.
struct Taps {
    /// The run's first pixel, tap (0, 0).
    image: *const f32,
    /// The image's row stride.
    width: usize,
    /// The kernel's side.
    kernel: usize,
    /// The group's first filter's weight of tap (0, 0).
    weights: *const f32,
    /// Filters in all: the weights' stride from tap to tap.
    filters: usize,
    /// Filters in the group, up to [`FILTERS`].
    group: usize,
}

impl Taps {
    /// Adds every tap's pixels times its weights to the group's accumulators. With `FULL`,
    /// the group has [`FILTERS`] filters; without it, those past `group` multiply by zero.
    ///
    /// # Safety
    ///
    /// `S` usable here; every tap's pixels (as `masks` and `offsets` select them) and weights
    /// of the group's filters inside their slices.
    #[inline(always)]
    unsafe fn add_to<S: Simd, const NV: usize, const FULL: bool>(
        &self,
        acc: &mut [[S::V; NV]; FILTERS],
        masks: &[S::Mask; NV],
        offsets: &[usize; NV],
    ) {
        // SAFETY: as the caller says.
        unsafe {
            for ky in 0..self.kernel {
                let line = self.image.add(ky * self.width);
                for kx in 0..self.kernel {
                    let x: [S::V; NV] =
                        core::array::from_fn(|v| S::load(line.add(kx + offsets[v]), masks[v]));
                    let w = self.weights.add((ky * self.kernel + kx) * self.filters);
                    for (f, acc) in acc.iter_mut().enumerate() {
                        let w = S::splat(if FULL || f < self.group {
                            *w.add(f)
                        } else {
                            0.0
                        });
                        for v in 0..NV {
                            acc[v] = S::mul_add(w, x[v], acc[v]);
                        }
                    }
                }
            }
        }
    }
}

/// Runs of `NV` vectors of output pixels by groups of [`FILTERS`] filters: the accumulators of a
/// group go into the channels-last output permuted whole where [`Layout`] has a plan for the
/// filters (AVX-512, one group), else through a small buffer value by value.
///
/// # Safety
///
/// The geometry checked by [`Plane::forward`], `S` usable here, `NV · LANES <= RUN`.
#[inline(always)]
unsafe fn forward<S: Layout, const NV: usize>(
    p: &Plane,
    image: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let (k, filters) = (p.kernel, p.filters);
    let block = NV * S::LANES;
    let mut run = [[0.0_f32; RUN]; FILTERS];
    let plan = if filters <= FILTERS {
        // SAFETY: `S` usable here, as the caller says.
        unsafe { S::plan_pixels(filters) }
    } else {
        None
    };
    // SAFETY: in the whole body, pixels read are `(oy + ky, ox + kx)` with
    // `oy < out_height`, `ox < out_width` (the masks stop at `out_width`) and
    // `ky, kx < kernel`, inside the image by the checked geometry, and an empty vector's pointer
    // one past the end at most (see `vectors`); weights `(ky·K + kx)·F + f` with `f < filters`;
    // outputs `((i·OH + oy)·OW + ox)·F + f` inside `out`.
    unsafe {
        for i in 0..p.images {
            let img = image.as_ptr().add(i * p.height * p.width);
            for oy in 0..p.out_height {
                let out_row = out
                    .as_mut_ptr()
                    .add((i * p.out_height + oy) * p.out_width * filters);
                for ox in (0..p.out_width).step_by(block) {
                    let valid = block.min(p.out_width - ox);
                    let (masks, offsets) = vectors::<S, NV>(valid);
                    for f0 in (0..filters).step_by(FILTERS) {
                        let group = FILTERS.min(filters - f0);
                        let mut acc: [[S::V; NV]; FILTERS] = core::array::from_fn(|f| {
                            let b = match bias {
                                Some(b) if f < group => b[f0 + f],
                                _ => 0.0,
                            };
                            [S::splat(b); NV]
                        });
                        let taps = Taps {
                            image: img.add(oy * p.width + ox),
                            width: p.width,
                            kernel: k,
                            weights: weights.as_ptr().add(f0),
                            filters,
                            group,
                        };
                        // A whole group without a test on each filter of each tap.
                        if group == FILTERS {
                            taps.add_to::<S, NV, true>(&mut acc, &masks, &offsets);
                        } else {
                            taps.add_to::<S, NV, false>(&mut acc, &masks, &offsets);
                        }
                        if let Some(plan) = &plan {
                            S::to_pixels(plan, &acc, filters, valid, out_row.add(ox * filters));
                            continue;
                        }
                        for (row, acc) in run.iter_mut().zip(&acc) {
                            for (v, &a) in acc.iter().enumerate() {
                                S::store(row.as_mut_ptr().add(v * S::LANES), a, S::mask(S::LANES));
                            }
                        }
                        for j in 0..valid {
                            let pixel = out_row.add((ox + j) * filters + f0);
                            for (f, row) in run.iter().enumerate().take(group) {
                                *pixel.add(f) = row[j];
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::sized;

    /// The definition, in f64.
    fn reference(p: &Plane, image: &[f32], weights: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let mut out = Vec::new();
        for i in 0..p.images {
            for oy in 0..p.out_height {
                for ox in 0..p.out_width {
                    for f in 0..p.filters {
                        let mut sum = bias.map_or(0.0, |b| f64::from(b[f]));
                        for ky in 0..p.kernel {
                            for kx in 0..p.kernel {
                                let x = image[(i * p.height + oy + ky) * p.width + ox + kx];
                                let w = weights[(ky * p.kernel + kx) * p.filters + f];
                                sum += f64::from(x) * f64::from(w);
                            }
                        }
                        out.push(sum as f32);
                    }
                }
            }
        }
        out
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761) | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// Odd sizes: filters below, at and above a group, output rows shorter and longer than a
    /// run of pixels, windows not reaching the image's last column. Under Miri, the larger
    /// images shrink to rows of one or two runs of the portable path's 16 pixels, the second
    /// short enough to leave a vector empty, and the one-filter shape takes more than a
    /// chunk (16) of runs for the weight gradient.
    const SHAPES: [(usize, usize, usize, usize, usize); 8] = [
        (1, 1, 1, 1, 1),
        // The most filters a plane takes, and an odd few: AVX-512's permutes pair up vectors.
        (1, 6, 21, 3, 15),
        (2, 5, 19, 2, 3),
        (sized(2, 3), sized(5, 8), 5, 3, 1),
        // LeNet-5's first layer (under Miri, one smaller image of the same kernel and filters).
        (sized(3, 1), sized(32, 7), sized(32, 20), 5, 6),
        (1, sized(9, 5), sized(40, 24), 3, 7),
        (sized(2, 1), sized(7, 4), sized(35, 20), 2, 13),
        (1, 4, 4, 4, 5),
    ];

    fn plane(images: usize, height: usize, width: usize, kernel: usize, filters: usize) -> Plane {
        Plane {
            images,
            height,
            width,
            kernel,
            filters,
            out_height: height + 1 - kernel,
            // One column short of the widest output: windows need not reach the edge.
            out_width: (width + 1 - kernel).max(2) - 1,
        }
    }

    #[test]
    fn forward_and_weight_gradient_of_literal_values() {
        // One 2×3 image [[1, 2, 3], [4, 5, 6]] and a 2×2 kernel.
        let image = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let geometry = |filters| Plane {
            images: 1,
            height: 2,
            width: 3,
            kernel: 2,
            filters,
            out_height: 1,
            out_width: 2,
        };
        for isa in Isa::supported() {
            // Two filters, `w[ky][kx][f]`: the window's sum, and its top-left tap.
            let weights = [1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
            let mut out = [0.0; 4];
            geometry(2).forward(isa, &image, &weights, Some(&[0.5, 0.0]), &mut out);
            assert_eq!(out, [12.5, 1.0, 16.5, 2.0], "{} forward", isa.name());

            // One filter, output gradients 1 and 10: dw[ky][kx] = x(ky, kx) + 10 x(ky, kx + 1).
            let plane = geometry(1);
            let mut dw = [0.0; 4];
            let mut scratch = vec![0.0; plane.scratch_len()];
            plane.weight_gradient(isa, &image, &[1.0, 10.0], &mut dw, &mut scratch);
            assert_eq!(
                dw,
                [21.0, 32.0, 54.0, 65.0],
                "{} weight gradient",
                isa.name()
            );
        }
    }

    #[test]
    fn forward_matches_the_reference_on_every_path() {
        for (images, height, width, kernel, filters) in SHAPES {
            let plane = plane(images, height, width, kernel, filters);
            let image = values(images * height * width, 1);
            let weights = values(kernel * kernel * filters, 2);
            let bias = values(filters, 3);
            for bias in [None, Some(&bias[..])] {
                let expected = reference(&plane, &image, &weights, bias);
                for isa in Isa::supported() {
                    let mut out = vec![f32::NAN; expected.len()];
                    plane.forward(isa, &image, &weights, bias, &mut out);
                    for (j, (o, e)) in out.iter().zip(&expected).enumerate() {
                        assert!(
                            (o - e).abs() <= 1e-5 * (kernel * kernel) as f32,
                            "{} {plane:?} out[{j}]: {o} vs {e}",
                            isa.name()
                        );
                    }
                }
            }
        }
    }

    /// The definition of the weight gradient, in f64.
    fn reference_weight_gradient(p: &Plane, image: &[f32], dz: &[f32]) -> Vec<f32> {
        let mut dw = Vec::new();
        for ky in 0..p.kernel {
            for kx in 0..p.kernel {
                for f in 0..p.filters {
                    let mut sum = 0.0_f64;
                    for i in 0..p.images {
                        for oy in 0..p.out_height {
                            for ox in 0..p.out_width {
                                let x = image[(i * p.height + oy + ky) * p.width + ox + kx];
                                let g = dz
                                    [((i * p.out_height + oy) * p.out_width + ox) * p.filters + f];
                                sum += f64::from(x) * f64::from(g);
                            }
                        }
                    }
                    dw.push(sum as f32);
                }
            }
        }
        dw
    }

    #[test]
    fn weight_gradient_matches_the_reference_on_every_path() {
        for (images, height, width, kernel, filters) in SHAPES {
            let plane = plane(images, height, width, kernel, filters);
            let image = values(images * height * width, 4);
            let dz = values(images * plane.out_height * plane.out_width * filters, 5);
            let expected = reference_weight_gradient(&plane, &image, &dz);
            let summed = images * plane.out_height * plane.out_width;
            for isa in Isa::supported() {
                let mut dw = vec![f32::NAN; expected.len()];
                // Leftovers from an earlier call must not leak in.
                let mut scratch = vec![f32::NAN; plane.scratch_len()];
                plane.weight_gradient(isa, &image, &dz, &mut dw, &mut scratch);
                for (j, (o, e)) in dw.iter().zip(&expected).enumerate() {
                    assert!(
                        (o - e).abs() <= 1e-5 * summed as f32,
                        "{} {plane:?} dw[{j}]: {o} vs {e}",
                        isa.name()
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "a window leaves the image")]
    fn windows_outside_the_image_are_rejected() {
        let plane = Plane {
            images: 1,
            height: 4,
            width: 4,
            kernel: 3,
            filters: 1,
            out_height: 3,
            out_width: 2,
        };
        plane.forward(Isa::selected(), &[0.0; 16], &[0.0; 9], None, &mut [0.0; 6]);
    }

    /// 2³² × 2³² images and a 2³²-wide kernel: `images · height · width` and
    /// `kernel · kernel · filters` both wrap to 0, so empty slices would pass for them.
    const WRAPPING: Plane = Plane {
        images: 1,
        height: 1 << 32,
        width: 1 << 32,
        kernel: 1 << 32,
        filters: 1,
        out_height: 1,
        out_width: 1,
    };

    #[test]
    #[should_panic(expected = "images too short")]
    fn forward_refuses_a_geometry_whose_sizes_wrap() {
        WRAPPING.forward(Isa::selected(), &[0.0], &[0.0], None, &mut [0.0]);
    }

    #[test]
    #[should_panic(expected = "images too short")]
    fn weight_gradient_refuses_a_geometry_whose_sizes_wrap() {
        // The scratch size wraps as well: 0 · 16 + 16 · 32.
        let mut scratch = vec![0.0; CHUNK * RUN];
        WRAPPING.weight_gradient(Isa::selected(), &[0.0], &[0.0], &mut [0.0], &mut scratch);
    }
}
