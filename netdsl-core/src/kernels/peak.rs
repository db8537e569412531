//! The machine's single-core FMA peak, measured in-process, so benchmarks can state what
//! fraction of it the kernels reach.

use std::time::Instant;

use super::isa::Isa;
use super::simd::Simd;

/// Independent accumulators: enough to cover the FMA latency (4 cycles) on two FMA units.
const CHAINS: usize = 12;

/// FLOP/s of back-to-back fused multiply-adds on one core with `isa` (the portable path's
/// separate multiply and add counted as two FLOPs), over at least `seconds` (and at least one
/// block of a million multiply-adds per chain).
pub fn peak_flops(isa: Isa, seconds: f64) -> f64 {
    peak_flops_in_blocks(isa, seconds, 1_000_000)
}

/// [`peak_flops`], timing blocks of `iterations` multiply-adds per chain until `seconds` have
/// passed.
fn peak_flops_in_blocks(isa: Isa, seconds: f64, iterations: u64) -> f64 {
    let mut flops = 0.0;
    let start = Instant::now();
    loop {
        let lanes = match isa {
            // SAFETY: the ISA is supported on this CPU (checked in the guard).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if isa.is_supported() => unsafe { fma_loop_avx512(iterations) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma if isa.is_supported() => unsafe { fma_loop_avx2(iterations) },
            // SAFETY: #[cfg(all(target_arch = "aarch64", target_feature = "neon"))] is enabled for the whole build.
            #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
            Isa::Neon => unsafe { fma_loop::<super::simd::Neon>(iterations) },
            // SAFETY: the portable path needs no CPU feature.
            _ => unsafe { fma_loop::<super::simd::Portable>(iterations) },
        };
        flops += 2.0 * (iterations * CHAINS as u64 * lanes as u64) as f64;
        if start.elapsed().as_secs_f64() >= seconds {
            return flops / start.elapsed().as_secs_f64();
        }
    }
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

    /// The least a working path reports. Measured on the 2-core development machine: the
    /// portable path runs at 26 GFLOP/s optimised and at 0.1 GFLOP/s in an unoptimised build
    /// (`cargo test`'s debug profile, where every lane of every `mul_add` is a function call);
    /// each floor leaves a factor of 100 or more for slower or busier machines and emulators.
    /// aarch64 builds are tested under QEMU (`.ci/aarch64`), which emulates each fused
    /// multiply-add in software: NEON runs there at 0.07–0.2 GFLOP/s (measured on the same
    /// machine, the lower figure beside the other tests), so they take the unoptimised floor.
    /// Under Miri the clock counts interpreted instructions, so only a positive rate is
    /// required there.
    const FLOOR: f64 = if cfg!(miri) {
        0.0
    } else if cfg!(debug_assertions) || cfg!(target_arch = "aarch64") {
        1e6
    } else {
        1e8
    };

    /// Multiply-adds per chain in a block: fewer than `peak_flops` times, so that an
    /// unoptimised build's block takes 0.2 s, not 2 s; Miri interprets a few dozen in the time
    /// a CPU runs millions.
    const ITERATIONS: u64 = if cfg!(miri) { 16 } else { 100_000 };

    #[test]
    fn every_supported_path_reports_a_plausible_peak() {
        for isa in Isa::supported() {
            let flops = peak_flops_in_blocks(isa, 0.01, ITERATIONS);
            // Below 1 TFLOP/s: no single core is faster.
            assert!(
                flops > FLOOR && flops < 1e12,
                "{}: {flops} FLOP/s, expected {FLOOR:e} to 1e12",
                isa.name()
            );
        }
    }

    #[test]
    fn a_peak_over_no_time_still_times_one_block() {
        let flops = peak_flops_in_blocks(Isa::Portable, 0.0, ITERATIONS);
        assert!(flops.is_finite() && flops > 0.0, "{flops} FLOP/s");
    }
}
