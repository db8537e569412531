//! Software prefetch: asks the cache hierarchy for memory that will be read soon, so that a
//! shuffled batch's rows arrive while the previous batch computes.

/// Bytes per cache line on every x86-64 CPU in use.
#[cfg(target_arch = "x86_64")]
const LINE: usize = 64;

/// Hints that `data` will be read soon. Does nothing on CPUs without a prefetch instruction.
#[inline]
pub fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = data.as_ptr().cast::<i8>();
        let len = core::mem::size_of_val(data);
        for offset in (0..len).step_by(LINE) {
            // SAFETY: `_mm_prefetch` needs SSE, part of the x86-64 baseline; a prefetch never
            // faults and has no architectural effect, and `offset < len` keeps the address inside
            // `data` anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetching_any_slice_is_harmless() {
        prefetch::<u8>(&[]);
        prefetch(&[1_u8; 1000]);
        prefetch(&[1.0_f32; 3]);
    }
}
