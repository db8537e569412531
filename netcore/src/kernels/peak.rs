//! The machine's single-core FMA peak, measured in-process, so benchmarks can state what
//! fraction of it the kernels reach.

use std::time::Instant;

use super::isa::Isa;
use super::simd::Simd;

/// Independent accumulators: enough to cover the FMA latency (4 cycles) on two FMA units.
const CHAINS: usize = 12;

/// FLOP/s of back-to-back fused multiply-adds on one core with `isa` (the portable path's
/// separate multiply and add counted as two FLOPs), over at least `seconds`.
pub fn peak_flops(isa: Isa, seconds: f64) -> f64 {
    let iterations = 1_000_000_u64;
    let mut flops = 0.0;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        let lanes = match isa {
            // SAFETY: the ISA is supported on this CPU (checked in the guard).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if isa.is_supported() => unsafe { fma_loop_avx512(iterations) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma if isa.is_supported() => unsafe { fma_loop_avx2(iterations) },
            // SAFETY: the portable path needs no CPU feature.
            _ => unsafe { fma_loop::<super::simd::Portable>(iterations) },
        };
        flops += 2.0 * (iterations * CHAINS as u64 * lanes as u64) as f64;
    }
    flops / start.elapsed().as_secs_f64()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_loop_avx512(iterations: u64) -> usize {
    // SAFETY: AVX-512F is enabled here and supported (the caller checked).
    unsafe { fma_loop::<super::simd::Avx512>(iterations) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop_avx2(iterations: u64) -> usize {
    // SAFETY: AVX2 and FMA are enabled here and supported (the caller checked).
    unsafe { fma_loop::<super::simd::Avx2Fma>(iterations) }
}

/// Runs `CHAINS` independent FMA chains and returns the lanes per vector.
///
/// # Safety
///
/// `S` usable here (see [`Simd`]).
#[inline(always)]
unsafe fn fma_loop<S: Simd>(iterations: u64) -> usize {
    // SAFETY: the caller provides `S`'s target features; no memory is accessed.
    unsafe {
        let (a, b) = (S::splat(0.999_9), S::splat(1e-6));
        let mut acc = [S::splat(1.0); CHAINS];
        for _ in 0..iterations {
            for acc in &mut acc {
                *acc = S::mul_add(*acc, a, b);
            }
        }
        let total: f32 = acc.iter().map(|&v| S::reduce(v)).sum();
        std::hint::black_box(total);
    }
    S::LANES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_path_reports_a_plausible_peak() {
        for isa in Isa::supported() {
            let flops = peak_flops(isa, 0.01);
            // Between 100 MFLOP/s (a slow emulator) and 1 TFLOP/s (no single core is faster).
            assert!(
                (1e8..1e12).contains(&flops),
                "{}: {flops} FLOP/s",
                isa.name()
            );
        }
    }
}
