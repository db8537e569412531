//! Which instruction set the kernels use, detected once per process.

/// An instruction-set path of the kernels. Every path computes the same products; results may
/// differ in the last bits because the SIMD paths fuse multiply and add (one rounding) where the
/// portable path rounds twice, and because sums are accumulated in a different order.
///
/// Non-exhaustive: paths are added as CPUs gain instructions worth using.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// AVX-512F: 16 lanes, fused multiply-add.
    Avx512,
    /// AVX2 with FMA: 8 lanes, fused multiply-add.
    Avx2Fma,
    /// NEON (Advanced SIMD) on aarch64, part of every aarch64 CPU that runs a standard
    /// library: 4 lanes, fused multiply-add.
    Neon,
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
            Isa::Neon => "neon",
            Isa::Portable => "portable",
        }
    }

    /// Whether this CPU can run the path. Without the `std` feature, which detects the CPU's
    /// features at run time, the x86 paths count as supported when the build enables their
    /// instructions for the whole crate (`-C target-feature`, `-C target-cpu`).
    pub fn is_supported(self) -> bool {
        match self {
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            Isa::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(all(target_arch = "x86_64", not(feature = "std")))]
            Isa::Avx512 => cfg!(target_feature = "avx512f"),
            #[cfg(all(target_arch = "x86_64", not(feature = "std")))]
            Isa::Avx2Fma => cfg!(all(target_feature = "avx2", target_feature = "fma")),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx512 | Isa::Avx2Fma => false,
            // Decided at compile time: the kernels' NEON path is built where the target enables
            // NEON for the whole crate, as every aarch64 target with a standard library does.
            Isa::Neon => cfg!(all(target_arch = "aarch64", target_feature = "neon")),
            Isa::Portable => true,
        }
    }

    /// Every path, fastest first within each architecture.
    const ALL: [Isa; 4] = [Isa::Avx512, Isa::Avx2Fma, Isa::Neon, Isa::Portable];

    /// Every path this CPU can run, fastest first.
    pub fn supported() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.is_supported())
    }

    /// The path the kernels use: the fastest this CPU supports, unless the environment variable
    /// `NETDSL_ISA` names another (`avx512`, `avx2+fma`, `neon` or `portable`, in any case), which
    /// benchmarks use to compare paths. The names of the bf16 paths, `amx` and `avx512bf16`
    /// (see [`Bf16Path::selected`](super::Bf16Path::selected)), select `avx512` for the f32
    /// work. A name that is unknown, or a path this CPU cannot run, selects `portable`, and says
    /// so on standard error once.
    ///
    /// Decided once per process, on the first call. Reading the environment allocates, so
    /// layer constructors and `Trainer::new` call this before any hot path runs.
    ///
    /// Without the `std` feature there is no environment to read: the path is the fastest the
    /// build enables (on a microcontroller, `portable`).
    #[cfg(feature = "std")]
    pub fn selected() -> Isa {
        static SELECTED: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *SELECTED.get_or_init(|| {
            let requested = std::env::var("NETDSL_ISA").ok();
            let (isa, warning) = Isa::choose(requested.as_deref(), Isa::supported());
            if let Some(warning) = warning {
                eprintln!("netdsl: {warning}");
            }
            isa
        })
    }

    /// The path the kernels use: the fastest the build enables, decided at compile time.
    #[cfg(not(feature = "std"))]
    #[inline]
    pub fn selected() -> Isa {
        Isa::supported().next().unwrap_or(Isa::Portable)
    }

    #[cfg(feature = "std")]
    /// The path for a `NETDSL_ISA` of `requested` on a CPU that runs `supported` (fastest
    /// first), and what to warn about when the request cannot be followed.
    fn choose(
        requested: Option<&str>,
        mut supported: impl Iterator<Item = Isa>,
    ) -> (Isa, Option<String>) {
        let Some(requested) = requested else {
            return (supported.next().unwrap_or(Isa::Portable), None);
        };
        let mut name = requested.trim().to_ascii_lowercase();
        if name == "amx" || name == "avx512bf16" {
            // A bf16 path's CPU does its f32 work with AVX-512.
            name = String::from(Isa::Avx512.name());
        }
        let known = Isa::ALL.into_iter().find(|isa| isa.name() == name);
        match known {
            Some(isa) if supported.any(|s| s == isa) => (isa, None),
            Some(isa) => (
                Isa::Portable,
                Some(format!(
                    "NETDSL_ISA={requested}: this CPU cannot run {}; using portable",
                    isa.name()
                )),
            ),
            None => (
                Isa::Portable,
                Some(format!(
                    "NETDSL_ISA={requested} is not a path; expected avx512, avx2+fma, neon, portable, amx or avx512bf16; using portable"
                )),
            ),
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2Fma, Isa::Portable];

    #[test]
    fn a_request_is_followed_in_any_case_and_a_bad_one_is_said() {
        assert_eq!(Isa::choose(None, ALL.into_iter()), (Isa::Avx512, None));
        assert_eq!(
            Isa::choose(Some("AVX2+FMA"), ALL.into_iter()),
            (Isa::Avx2Fma, None)
        );
        assert_eq!(
            Isa::choose(Some(" portable "), ALL.into_iter()),
            (Isa::Portable, None)
        );
        let (isa, warning) = Isa::choose(Some("avx-512"), ALL.into_iter());
        assert_eq!(isa, Isa::Portable);
        assert!(warning.unwrap().contains(
            "is not a path; expected avx512, avx2+fma, neon, portable, amx or avx512bf16"
        ));
        assert_eq!(
            Isa::choose(Some("AMX"), ALL.into_iter()),
            (Isa::Avx512, None)
        );
        assert_eq!(
            Isa::choose(Some("avx512bf16"), ALL.into_iter()),
            (Isa::Avx512, None)
        );
        let (isa, warning) = Isa::choose(Some("avx512"), [Isa::Portable].into_iter());
        assert_eq!(isa, Isa::Portable);
        assert!(warning.unwrap().contains("this CPU cannot run avx512"));
    }

    #[test]
    fn neon_is_chosen_on_aarch64_and_refused_elsewhere() {
        let aarch64 = [Isa::Neon, Isa::Portable];
        assert_eq!(Isa::choose(None, aarch64.into_iter()), (Isa::Neon, None));
        assert_eq!(
            Isa::choose(Some("NEON"), aarch64.into_iter()),
            (Isa::Neon, None)
        );
        let x86 = [Isa::Avx512, Isa::Avx2Fma, Isa::Portable];
        let (isa, warning) = Isa::choose(Some("neon"), x86.into_iter());
        assert_eq!(isa, Isa::Portable);
        assert!(warning.unwrap().contains("this CPU cannot run neon"));
        assert_eq!(
            Isa::Neon.is_supported(),
            cfg!(target_arch = "aarch64"),
            "NEON is supported exactly on aarch64"
        );
        // This process's own choice: NEON by default on aarch64, and a path `NETDSL_ISA` names
        // if this CPU runs it (as `.ci/aarch64` checks with `NETDSL_ISA=portable`).
        match std::env::var("NETDSL_ISA") {
            Err(_) if cfg!(target_arch = "aarch64") => {
                assert_eq!(Isa::selected(), Isa::Neon, "the default path on aarch64");
            }
            Ok(requested) => {
                let name = requested.trim().to_ascii_lowercase();
                if let Some(isa) = Isa::supported().find(|isa| isa.name() == name) {
                    assert_eq!(Isa::selected(), isa, "NETDSL_ISA={requested}");
                }
            }
            Err(_) => {}
        }
    }
}
