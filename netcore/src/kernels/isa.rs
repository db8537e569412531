//! Which instruction set the kernels use, detected once per process.

use std::sync::OnceLock;

/// An instruction-set path of the kernels. Every path computes the same products; results may
/// differ in the last bits because the SIMD paths fuse multiply and add (one rounding) where the
/// portable path rounds twice, and because sums are accumulated in a different order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// AVX-512F: 16 lanes, fused multiply-add.
    Avx512,
    /// AVX2 with FMA: 8 lanes, fused multiply-add.
    Avx2Fma,
    /// Plain Rust on arrays of 8 lanes, vectorised by the compiler for whatever the build
    /// targets.
    Portable,
}

impl Isa {
    /// The name used in benchmark tables and by `NETDSL_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2Fma => "avx2+fma",
            Isa::Portable => "portable",
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx512 | Isa::Avx2Fma => false,
            Isa::Portable => true,
        }
    }

    /// Every path this CPU can run, fastest first.
    pub fn supported() -> impl Iterator<Item = Isa> {
        [Isa::Avx512, Isa::Avx2Fma, Isa::Portable]
            .into_iter()
            .filter(|isa| isa.is_supported())
    }

    /// The path the kernels use: the fastest this CPU supports, unless the environment variable
    /// `NETDSL_ISA` names another (`avx512`, `avx2+fma` or `portable`), which benchmarks use to
    /// compare paths; a name that is unknown or not supported by this CPU selects `portable`.
    ///
    /// Decided once per process, on the first call. Reading the environment allocates, so
    /// layer constructors and `Trainer::new` call this before any hot path runs.
    pub fn selected() -> Isa {
        static SELECTED: OnceLock<Isa> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            let requested = std::env::var("NETDSL_ISA").ok();
            let mut supported = Isa::supported();
            match requested {
                Some(name) => supported
                    .find(|isa| isa.name() == name)
                    .unwrap_or(Isa::Portable),
                None => supported.next().unwrap_or(Isa::Portable),
            }
        })
    }
}
