//! One vector abstraction, four implementations (AVX-512, AVX2+FMA, NEON, portable), so the
//! micro-kernels in [`super::gemm`] are written once.
//!
//! The methods are `#[inline(always)]` and carry no target features of their own: inlined into
//! a `#[target_feature]` entry point, their intrinsics compile with that entry point's features.
//! NEON needs no such entry point: it is part of every aarch64 target with a standard library,
//! so the whole crate is compiled with it there.

#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

/// A vector of `LANES` f32 values and the operations the kernels need.
///
/// # Safety
///
/// Implementations for an instruction set may only be called, after inlining, inside a function
/// compiled with that instruction set's target features on a CPU that supports them. Loads and
/// stores touch exactly the lanes their mask enables.
#[cfg_attr(
    not(feature = "alloc"),
    allow(
        dead_code,
        reason = "the optimizers' updates, which need `alloc`, use every method"
    )
)]
pub(crate) unsafe trait Simd {
    /// Lanes per vector.
    const LANES: usize;
    /// The vector.
    type V: Copy;
    /// Which lanes a load or store touches.
    type Mask: Copy;

    /// The first `valid` lanes, `valid <= LANES` (none when 0: loads read zeros and stores
    /// write nothing).
    ///
    /// # Safety
    ///
    /// As for every method: see the trait.
    unsafe fn mask(valid: usize) -> Self::Mask;
    /// All lanes zero.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn zero() -> Self::V;
    /// Every lane `x`.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn splat(x: f32) -> Self::V;
    /// `a * b + c`, fused where the hardware can.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a * b`.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `a + b`.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a - b`.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// `a / b`.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// `√a`, correctly rounded.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn sqrt(a: Self::V) -> Self::V;
    /// The smaller of `a` and `b`, lane by lane. Where `b` is NaN the lane is NaN (where only `a`
    /// is, it is `b` on x86 and NaN on NEON): callers pass their bound as `a` and the data as
    /// `b`, so that NaN data stays NaN on every path.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    /// The larger of `a` and `b`, lane by lane, NaN as for [`Simd::min`].
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// `a` limited to `[-limit, limit]` lane by lane; NaN lanes stay NaN.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn clamp(a: Self::V, limit: f32) -> Self::V;
    /// `2^n` for lanes holding whole numbers `n` from -126 to 127, the normal powers of two:
    /// `n + 127` written into the exponent bits above a zero mantissa. Other lanes give
    /// unspecified values.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn pow2(n: Self::V) -> Self::V;
    /// `a` with its subnormal lanes (magnitude below `f32::MIN_POSITIVE`) set to zero; NaN
    /// lanes are kept.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn flush_subnormal(a: Self::V) -> Self::V;
    /// `|a|` lane by lane: the sign bit cleared, so NaN lanes stay NaN.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn abs(a: Self::V) -> Self::V;
    /// `then` in the lanes where `a < b`, `otherwise` in the others, lane by lane. The
    /// comparison is ordered: a lane where `a` or `b` is NaN takes `otherwise`.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn select_less(a: Self::V, b: Self::V, then: Self::V, otherwise: Self::V) -> Self::V;
    /// The sum of the lanes.
    ///
    /// # Safety
    ///
    /// See the trait.
    unsafe fn reduce(v: Self::V) -> f32;
    /// `LANES` bytes from `p`, each converted to f32.
    ///
    /// # Safety
    ///
    /// `p` must be valid for reads of `LANES` bytes; see the trait.
    unsafe fn load_bytes(p: *const u8) -> Self::V;
    /// Loads the masked lanes from `p`, the others reading as zero.
    ///
    /// # Safety
    ///
    /// `p` must be valid for reads of the masked lanes.
    unsafe fn load(p: *const f32, mask: Self::Mask) -> Self::V;
    /// Stores the masked lanes of `v` to `p`.
    ///
    /// # Safety
    ///
    /// `p` must be valid for writes of the masked lanes.
    unsafe fn store(p: *mut f32, v: Self::V, mask: Self::Mask);
    /// `LANES` values from `p`: [`Simd::load`] with every lane enabled, which an instruction
    /// set whose masked loads cost more does unmasked.
    ///
    /// # Safety
    ///
    /// `p` valid for reads of `LANES` values; see the trait.
    #[inline(always)]
    unsafe fn load_full(p: *const f32) -> Self::V {
        // SAFETY: forwarded from the caller: every lane is readable.
        unsafe { Self::load(p, Self::mask(Self::LANES)) }
    }
    /// [`Simd::store`] with every lane enabled, as [`Simd::load_full`].
    ///
    /// # Safety
    ///
    /// `p` valid for writes of `LANES` values; see the trait.
    #[inline(always)]
    unsafe fn store_full(p: *mut f32, v: Self::V) {
        // SAFETY: forwarded from the caller: every lane is writable.
        unsafe { Self::store(p, v, Self::mask(Self::LANES)) }
    }
}

/// Plain Rust: arrays of 8 lanes the compiler vectorises, multiply and add rounded separately
/// (a fused `mul_add` would be a slow library call on CPUs without FMA).
pub(super) struct Portable;

// SAFETY: plain Rust, valid on every CPU; `load` and `store` touch only the first `mask` lanes.
unsafe impl Simd for Portable {
    const LANES: usize = 8;
    type V = [f32; 8];
    type Mask = usize;

    #[inline(always)]
    unsafe fn mask(valid: usize) -> usize {
        valid
    }
    #[inline(always)]
    unsafe fn zero() -> [f32; 8] {
        [0.0; 8]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> [f32; 8] {
        [x; 8]
    }
    #[inline(always)]
    unsafe fn mul_add(a: [f32; 8], b: [f32; 8], c: [f32; 8]) -> [f32; 8] {
        core::array::from_fn(|l| a[l] * b[l] + c[l])
    }
    #[inline(always)]
    unsafe fn mul(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        core::array::from_fn(|l| a[l] * b[l])
    }
    #[inline(always)]
    unsafe fn add(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        core::array::from_fn(|l| a[l] + b[l])
    }
    #[inline(always)]
    unsafe fn sub(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        core::array::from_fn(|l| a[l] - b[l])
    }
    #[inline(always)]
    unsafe fn div(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        core::array::from_fn(|l| a[l] / b[l])
    }
    #[inline(always)]
    unsafe fn sqrt(a: [f32; 8]) -> [f32; 8] {
        a.map(f32::sqrt)
    }
    #[inline(always)]
    unsafe fn min(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        // As x86's `minps`: `b` unless `a < b`, so a NaN in either gives `b`.
        core::array::from_fn(|l| if a[l] < b[l] { a[l] } else { b[l] })
    }
    #[inline(always)]
    unsafe fn max(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        // As x86's `maxps`: `b` unless `a > b`.
        core::array::from_fn(|l| if a[l] > b[l] { a[l] } else { b[l] })
    }
    #[inline(always)]
    unsafe fn clamp(a: [f32; 8], limit: f32) -> [f32; 8] {
        // Comparisons with NaN are false, so NaN falls through unchanged.
        a.map(|x| {
            if x > limit {
                limit
            } else if x < -limit {
                -limit
            } else {
                x
            }
        })
    }
    #[inline(always)]
    unsafe fn pow2(n: [f32; 8]) -> [f32; 8] {
        // Adding `1.5 · 2^23` puts a whole `n` in the low bits of the sum (`0x4B40_0000 + n`),
        // which integer lanes then shift into the exponent: no float-to-integer conversion,
        // whose saturating `as` would not vectorise.
        n.map(|n| {
            f32::from_bits((n + 12_582_912.0).to_bits().wrapping_sub(0x4B40_0000 - 127) << 23)
        })
    }
    #[inline(always)]
    unsafe fn flush_subnormal(a: [f32; 8]) -> [f32; 8] {
        a.map(|x| if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x })
    }
    #[inline(always)]
    unsafe fn abs(a: [f32; 8]) -> [f32; 8] {
        a.map(f32::abs)
    }
    #[inline(always)]
    unsafe fn select_less(
        a: [f32; 8],
        b: [f32; 8],
        then: [f32; 8],
        otherwise: [f32; 8],
    ) -> [f32; 8] {
        // Comparisons with NaN are false.
        core::array::from_fn(|l| if a[l] < b[l] { then[l] } else { otherwise[l] })
    }
    #[inline(always)]
    unsafe fn reduce(v: [f32; 8]) -> f32 {
        ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))
    }
    #[inline(always)]
    unsafe fn load_bytes(p: *const u8) -> [f32; 8] {
        // SAFETY: the caller guarantees 8 readable bytes at `p`.
        core::array::from_fn(|l| f32::from(unsafe { *p.add(l) }))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, mask: usize) -> [f32; 8] {
        // A whole vector as one fixed-size read, which the compiler keeps in vector registers;
        // a copy of a run-time length goes through memory.
        if mask == 8 {
            // SAFETY: the caller guarantees 8 readable lanes at `p`.
            return unsafe { p.cast::<[f32; 8]>().read_unaligned() };
        }
        let mut v = [0.0; 8];
        // SAFETY: the caller guarantees `mask` readable lanes at `p`.
        unsafe { core::ptr::copy_nonoverlapping(p, v.as_mut_ptr(), mask) };
        v
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: [f32; 8], mask: usize) {
        if mask == 8 {
            // SAFETY: the caller guarantees 8 writable lanes at `p`.
            return unsafe { p.cast::<[f32; 8]>().write_unaligned(v) };
        }
        // SAFETY: the caller guarantees `mask` writable lanes at `p`.
        unsafe { core::ptr::copy_nonoverlapping(v.as_ptr(), p, mask) };
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{Avx2Fma, Avx512};

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
pub(super) use aarch64::Neon;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    use super::Simd;

    /// AVX-512F, 16 lanes; masks are native `__mmask16`.
    pub struct Avx512;

    // SAFETY: used only inside `#[target_feature(enable = "avx512f")]` entry points, which are
    // called only after `Isa::Avx512.is_supported()`; masked loads and stores touch only the
    // enabled lanes and do not fault on the others.
    unsafe impl Simd for Avx512 {
        const LANES: usize = 16;
        type V = __m512;
        type Mask = __mmask16;

        #[inline(always)]
        unsafe fn mask(valid: usize) -> __mmask16 {
            ((1_u32 << valid) - 1) as __mmask16
        }
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            // SAFETY: the caller runs this in an avx512f context (trait contract).
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sub(a: __m512, b: __m512) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_sub_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn div(a: __m512, b: __m512) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_div_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sqrt(a: __m512) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_sqrt_ps(a) }
        }
        #[inline(always)]
        unsafe fn min(a: __m512, b: __m512) -> __m512 {
            // `b` unless `a < b`: a NaN in either gives `b`.
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_min_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: __m512, b: __m512) -> __m512 {
            // `b` unless `a > b`.
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_max_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn clamp(a: __m512, limit: f32) -> __m512 {
            // `min` and `max` return their second operand when either is NaN: `a` goes second.
            // SAFETY: as above, the trait contract gives the target features.
            unsafe {
                let high = _mm512_min_ps(_mm512_set1_ps(limit), a);
                _mm512_max_ps(_mm512_set1_ps(-limit), high)
            }
        }
        #[inline(always)]
        unsafe fn pow2(n: __m512) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe {
                let biased = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
                _mm512_castsi512_ps(_mm512_slli_epi32::<23>(biased))
            }
        }
        #[inline(always)]
        unsafe fn flush_subnormal(a: __m512) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe {
                // Ordered comparison: NaN lanes are not subnormal and pass through.
                let subnormal = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(
                    _mm512_abs_ps(a),
                    _mm512_set1_ps(f32::MIN_POSITIVE),
                );
                _mm512_mask_mov_ps(a, subnormal, _mm512_setzero_ps())
            }
        }
        #[inline(always)]
        unsafe fn abs(a: __m512) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_abs_ps(a) }
        }
        #[inline(always)]
        unsafe fn select_less(a: __m512, b: __m512, then: __m512, otherwise: __m512) -> __m512 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe {
                // Ordered comparison: false where either lane is NaN.
                let less = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b);
                _mm512_mask_blend_ps(less, otherwise, then)
            }
        }
        #[inline(always)]
        unsafe fn reduce(v: __m512) -> f32 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm512_reduce_add_ps(v) }
        }
        #[inline(always)]
        unsafe fn load_bytes(p: *const u8) -> __m512 {
            // SAFETY: the caller guarantees 16 readable bytes at `p`; target features as above.
            unsafe { _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(p.cast()))) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32, mask: __mmask16) -> __m512 {
            // SAFETY: the caller guarantees the masked lanes are readable; the others are not
            // accessed by a masked load.
            unsafe { _mm512_maskz_loadu_ps(mask, p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512, mask: __mmask16) {
            // SAFETY: the caller guarantees the masked lanes are writable; the others are not
            // accessed by a masked store.
            unsafe { _mm512_mask_storeu_ps(p, mask, v) }
        }
    }

    /// AVX2 with FMA, 8 lanes; masks are vectors whose enabled lanes have the sign bit set.
    pub struct Avx2Fma;

    /// `MASKS[8 - n..16 - n]` enables the first `n` lanes.
    static MASKS: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

    // SAFETY: used only inside `#[target_feature(enable = "avx2,fma")]` entry points, which are
    // called only after `Isa::Avx2Fma.is_supported()`; `maskload`/`maskstore` touch only the
    // enabled lanes and do not fault on the others.
    unsafe impl Simd for Avx2Fma {
        const LANES: usize = 8;
        type V = __m256;
        type Mask = __m256i;

        #[inline(always)]
        unsafe fn mask(valid: usize) -> __m256i {
            // SAFETY: `valid <= 8`, so the 8 lanes read lie within `MASKS`; avx context as
            // for the other methods.
            unsafe { _mm256_loadu_si256(MASKS.as_ptr().add(8 - valid).cast()) }
        }
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            // SAFETY: the caller runs this in an avx2+fma context (trait contract).
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sub(a: __m256, b: __m256) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm256_sub_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn div(a: __m256, b: __m256) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm256_div_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sqrt(a: __m256) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm256_sqrt_ps(a) }
        }
        #[inline(always)]
        unsafe fn min(a: __m256, b: __m256) -> __m256 {
            // `b` unless `a < b`: a NaN in either gives `b`.
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm256_min_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: __m256, b: __m256) -> __m256 {
            // `b` unless `a > b`.
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm256_max_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn clamp(a: __m256, limit: f32) -> __m256 {
            // `min` and `max` return their second operand when either is NaN: `a` goes second.
            // SAFETY: as above, the trait contract gives the target features.
            unsafe {
                let high = _mm256_min_ps(_mm256_set1_ps(limit), a);
                _mm256_max_ps(_mm256_set1_ps(-limit), high)
            }
        }
        #[inline(always)]
        unsafe fn load_bytes(p: *const u8) -> __m256 {
            // SAFETY: the caller guarantees 8 readable bytes at `p`; target features as above.
            unsafe { _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast()))) }
        }
        #[inline(always)]
        unsafe fn pow2(n: __m256) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe {
                let biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
                _mm256_castsi256_ps(_mm256_slli_epi32::<23>(biased))
            }
        }
        #[inline(always)]
        unsafe fn flush_subnormal(a: __m256) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe {
                let magnitude = _mm256_andnot_ps(_mm256_set1_ps(-0.0), a);
                // Ordered comparison: NaN lanes are not subnormal and pass through.
                let subnormal =
                    _mm256_cmp_ps::<_CMP_LT_OQ>(magnitude, _mm256_set1_ps(f32::MIN_POSITIVE));
                _mm256_andnot_ps(subnormal, a)
            }
        }
        #[inline(always)]
        unsafe fn abs(a: __m256) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), a) }
        }
        #[inline(always)]
        unsafe fn select_less(a: __m256, b: __m256, then: __m256, otherwise: __m256) -> __m256 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe {
                // Ordered comparison: false (all bits clear) where either lane is NaN.
                let less = _mm256_cmp_ps::<_CMP_LT_OQ>(a, b);
                _mm256_blendv_ps(otherwise, then, less)
            }
        }
        #[inline(always)]
        unsafe fn reduce(v: __m256) -> f32 {
            // SAFETY: as above, the trait contract gives the target features.
            unsafe {
                let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
                let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
                _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehdup_ps(pairs)))
            }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32, mask: __m256i) -> __m256 {
            // SAFETY: the caller guarantees the masked lanes are readable.
            unsafe { _mm256_maskload_ps(p, mask) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256, mask: __m256i) {
            // SAFETY: the caller guarantees the masked lanes are writable.
            unsafe { _mm256_maskstore_ps(p, mask, v) }
        }
        #[inline(always)]
        unsafe fn load_full(p: *const f32) -> __m256 {
            // SAFETY: the caller guarantees 8 readable lanes.
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store_full(p: *mut f32, v: __m256) {
            // SAFETY: the caller guarantees 8 writable lanes.
            unsafe { _mm256_storeu_ps(p, v) }
        }
    }
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod aarch64 {
    use core::arch::aarch64::*;

    use super::Simd;

    /// NEON (Advanced SIMD), 4 lanes, fused multiply-add. NEON has no masked loads or stores:
    /// a mask is the number of valid lanes, and a partial vector goes through a 4-lane buffer
    /// on the stack, of which only the valid lanes are copied from or to memory.
    pub struct Neon;

    // SAFETY: compiled only where the target enables NEON for the whole crate (every aarch64
    // target with a standard library), so every CPU the build runs on has it; `load` and `store`
    // touch only the first `mask` lanes, copying a partial vector through a stack buffer.
    unsafe impl Simd for Neon {
        const LANES: usize = 4;
        type V = float32x4_t;
        type Mask = usize;

        #[inline(always)]
        unsafe fn mask(valid: usize) -> usize {
            valid
        }
        #[inline(always)]
        unsafe fn zero() -> float32x4_t {
            // SAFETY: NEON is enabled for the whole build (see the `unsafe impl`).
            unsafe { vdupq_n_f32(0.0) }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> float32x4_t {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vdupq_n_f32(x) }
        }
        #[inline(always)]
        unsafe fn mul_add(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
            // `vfmaq_f32(c, a, b)` is `c + a · b`, rounded once.
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vfmaq_f32(c, a, b) }
        }
        #[inline(always)]
        unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vmulq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vaddq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn sub(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vsubq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn div(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vdivq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn sqrt(a: float32x4_t) -> float32x4_t {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vsqrtq_f32(a) }
        }
        #[inline(always)]
        unsafe fn min(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            // `fmin`: NaN when either lane is NaN.
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vminq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            // `fmax`: NaN when either lane is NaN.
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vmaxq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn clamp(a: float32x4_t, limit: f32) -> float32x4_t {
            // `fmin` and `fmax` return NaN when either operand is NaN, so NaN lanes stay NaN.
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vmaxq_f32(vdupq_n_f32(-limit), vminq_f32(vdupq_n_f32(limit), a)) }
        }
        #[inline(always)]
        unsafe fn pow2(n: float32x4_t) -> float32x4_t {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe {
                let biased = vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127));
                vreinterpretq_f32_s32(vshlq_n_s32::<23>(biased))
            }
        }
        #[inline(always)]
        unsafe fn flush_subnormal(a: float32x4_t) -> float32x4_t {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe {
                // `|a| < MIN_POSITIVE`, ordered: false for NaN lanes, which are kept.
                let subnormal = vcaltq_f32(a, vdupq_n_f32(f32::MIN_POSITIVE));
                vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(a), subnormal))
            }
        }
        #[inline(always)]
        unsafe fn abs(a: float32x4_t) -> float32x4_t {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vabsq_f32(a) }
        }
        #[inline(always)]
        unsafe fn select_less(
            a: float32x4_t,
            b: float32x4_t,
            then: float32x4_t,
            otherwise: float32x4_t,
        ) -> float32x4_t {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe {
                // `fcmgt` with swapped operands: false where either lane is NaN.
                vbslq_f32(vcltq_f32(a, b), then, otherwise)
            }
        }
        #[inline(always)]
        unsafe fn reduce(v: float32x4_t) -> f32 {
            // SAFETY: as above, NEON is enabled for the whole build.
            unsafe { vaddvq_f32(v) }
        }
        #[inline(always)]
        unsafe fn load_bytes(p: *const u8) -> float32x4_t {
            // Only 4 bytes are readable, half a 64-bit NEON load: through a buffer.
            let mut bytes = [0_u8; 8];
            // SAFETY: the caller guarantees 4 readable bytes at `p`; `bytes` holds 8.
            unsafe { core::ptr::copy_nonoverlapping(p, bytes.as_mut_ptr(), 4) };
            // SAFETY: `bytes` is 8 readable bytes; NEON as above.
            unsafe {
                let widened = vmovl_u16(vget_low_u16(vmovl_u8(vld1_u8(bytes.as_ptr()))));
                vcvtq_f32_u32(widened)
            }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32, mask: usize) -> float32x4_t {
            if mask == 4 {
                // SAFETY: the caller guarantees 4 readable lanes at `p`; `ld1` needs no
                // alignment beyond the element's.
                return unsafe { vld1q_f32(p) };
            }
            let mut lanes = [0.0_f32; 4];
            // SAFETY: the caller guarantees `mask` (< 4) readable lanes at `p`; `lanes` has 4,
            // and is then read whole.
            unsafe {
                core::ptr::copy_nonoverlapping(p, lanes.as_mut_ptr(), mask);
                vld1q_f32(lanes.as_ptr())
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: float32x4_t, mask: usize) {
            if mask == 4 {
                // SAFETY: the caller guarantees 4 writable lanes at `p`.
                return unsafe { vst1q_f32(p, v) };
            }
            let mut lanes = [0.0_f32; 4];
            // SAFETY: `lanes` is 4 writable lanes; the caller guarantees `mask` (< 4) writable
            // lanes at `p`, the only ones copied there.
            unsafe {
                vst1q_f32(lanes.as_mut_ptr(), v);
                core::ptr::copy_nonoverlapping(lanes.as_ptr(), p, mask);
            }
        }
    }
}
