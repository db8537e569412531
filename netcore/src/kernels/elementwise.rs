//! Elementwise kernels over long slices: scaling bytes into floats (gathering a batch of
//! images) and `y += αx` (the SGD update).

use super::isa::Isa;
use super::simd::Simd;

/// `dst[i] = src[i] as f32 · scale` on the selected instruction set. Exactly the scalar result
/// on every path: a conversion and one rounded multiply.
///
/// # Panics
///
/// If the slices differ in length.
pub fn scale_bytes(src: &[u8], scale: f32, dst: &mut [f32]) {
    scale_bytes_with(Isa::selected(), src, scale, dst);
}

/// [`scale_bytes`] on a given instruction set (the portable one if the CPU lacks it).
pub fn scale_bytes_with(isa: Isa, src: &[u8], scale: f32, dst: &mut [f32]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "scale_bytes: slices of different lengths"
    );
    match isa {
        // SAFETY: lengths checked above; AVX-512F supported (checked in the guard).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => unsafe { scale_bytes_avx512(src, scale, dst) },
        // SAFETY: as above, for AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => unsafe { scale_bytes_avx2(src, scale, dst) },
        // SAFETY: lengths checked above; no CPU feature needed.
        _ => unsafe { scale_bytes_simd::<super::simd::Portable>(src, scale, dst) },
    }
}

/// `y[i] += alpha · x[i]` on the selected instruction set (fused on the SIMD paths).
///
/// # Panics
///
/// If the slices differ in length.
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    axpy_with(Isa::selected(), alpha, x, y);
}

/// [`axpy`] on a given instruction set (the portable one if the CPU lacks it).
pub fn axpy_with(isa: Isa, alpha: f32, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "axpy: slices of different lengths");
    match isa {
        // SAFETY: lengths checked above; AVX-512F supported (checked in the guard).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => unsafe { axpy_avx512(alpha, x, y) },
        // SAFETY: as above, for AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => unsafe { axpy_avx2(alpha, x, y) },
        // SAFETY: lengths checked above; no CPU feature needed.
        _ => unsafe { axpy_simd::<super::simd::Portable>(alpha, x, y) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scale_bytes_avx512(src: &[u8], scale: f32, dst: &mut [f32]) {
    // SAFETY: forwarded from the caller: equal lengths, AVX-512F enabled and supported.
    unsafe { scale_bytes_simd::<super::simd::Avx512>(src, scale, dst) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn scale_bytes_avx2(src: &[u8], scale: f32, dst: &mut [f32]) {
    // SAFETY: forwarded from the caller: equal lengths, AVX2 and FMA enabled and supported.
    unsafe { scale_bytes_simd::<super::simd::Avx2Fma>(src, scale, dst) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn axpy_avx512(alpha: f32, x: &[f32], y: &mut [f32]) {
    // SAFETY: forwarded from the caller.
    unsafe { axpy_simd::<super::simd::Avx512>(alpha, x, y) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_avx2(alpha: f32, x: &[f32], y: &mut [f32]) {
    // SAFETY: forwarded from the caller.
    unsafe { axpy_simd::<super::simd::Avx2Fma>(alpha, x, y) }
}

/// # Safety
///
/// `src` and `dst` of equal length, `S` usable here.
#[inline(always)]
unsafe fn scale_bytes_simd<S: Simd>(src: &[u8], scale: f32, dst: &mut [f32]) {
    let full = dst.len() / S::LANES * S::LANES;
    // SAFETY: every full vector lies below `full <= len` in both slices; `S` as the caller says.
    unsafe {
        let factor = S::splat(scale);
        let mask = S::mask(S::LANES);
        for i in (0..full).step_by(S::LANES) {
            let v = S::mul(S::load_bytes(src.as_ptr().add(i)), factor);
            S::store(dst.as_mut_ptr().add(i), v, mask);
        }
    }
    for (d, &s) in dst[full..].iter_mut().zip(&src[full..]) {
        *d = f32::from(s) * scale;
    }
}

/// # Safety
///
/// `x` and `y` of equal length, `S` usable here.
#[inline(always)]
unsafe fn axpy_simd<S: Simd>(alpha: f32, x: &[f32], y: &mut [f32]) {
    // SAFETY: each vector covers `min(LANES, len - i)` lanes starting at `i < len` of both
    // slices; `S` as the caller says.
    unsafe {
        let a = S::splat(alpha);
        for i in (0..y.len()).step_by(S::LANES) {
            let mask = S::mask(S::LANES.min(y.len() - i));
            let (xp, yp) = (x.as_ptr().add(i), y.as_mut_ptr().add(i));
            S::store(
                yp,
                S::mul_add(a, S::load(xp, mask), S::load(yp, mask)),
                mask,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_bytes_matches_the_scalar_definition_on_every_path() {
        for len in [0, 1, 7, 8, 15, 16, 17, 33, 784] {
            let src: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let expected: Vec<f32> = src.iter().map(|&b| f32::from(b) * (1.0 / 255.0)).collect();
            for isa in Isa::supported() {
                let mut dst = vec![9.0; len];
                scale_bytes_with(isa, &src, 1.0 / 255.0, &mut dst);
                assert_eq!(dst, expected, "{} scale_bytes of {len} bytes", isa.name());
            }
        }
    }

    #[test]
    fn axpy_matches_the_scalar_definition_on_every_path() {
        for len in [0, 1, 7, 8, 15, 16, 17, 33, 650] {
            let x: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let y: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            for isa in Isa::supported() {
                let mut out = y.clone();
                axpy_with(isa, -0.01, &x, &mut out);
                for (i, ((o, x), y)) in out.iter().zip(&x).zip(&y).enumerate() {
                    let expected = y - 0.01 * x;
                    assert!(
                        (o - expected).abs() <= 1e-7,
                        "{} axpy[{i}] of {len}: {o} vs {expected}",
                        isa.name()
                    );
                }
            }
        }
    }
}
