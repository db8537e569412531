//! Matrix products in bf16 with f32 accumulation: [`Precision::Bf16`].
//!
//! One packing GEMM serves [`Product`](super::Product), [`Dots`](super::Dots) and
//! [`Gather`](super::Gather): a `KC × NC` panel of `B` (read through its two strides, so
//! row-major `B` and the transposed `Bt` of `Dots` alike, or through offset tables) is rounded
//! to bf16 into the "pairs along k" layout `[k / 2][n][2]`, which is both what `vdpbf16ps`
//! multiplies and AMX's B-tile format; an `MR`-row block of `A` (through strides or offset
//! tables) is rounded into rows of pairs, AMX's A-tile format. Through offset tables, values
//! are copied a run of consecutive offsets at a time, and a convolution's weight gradient runs
//! transposed so that its runs lie along the packed rows. The micro-kernels add the products to an f32 staging
//! block of `C`, which starts from the bias (or zero) on the first panel of `k` and from `C`
//! on the others. Rounding is to nearest, ties to even; the sums are f32. Every buffer is a
//! fixed-size array on the stack: nothing allocates.
//!
//! Three micro-kernels take the same packed operands: AMX tiles (`tdpbf16ps`, through `asm!`,
//! as the AMX intrinsics are unstable), AVX-512-BF16 (`vdpbf16ps`) and plain Rust, which
//! computes what `vdpbf16ps` does (each product of two bf16 values is exact in f32) and is
//! what Miri runs.

#[cfg(doc)]
use super::isa::Isa;

/// The precision of a layer's matrix products.
///
/// `F32` (the default) multiplies f32 operands. `Bf16` rounds both operands of every product
/// to bf16 (8 significant bits) and sums in f32, as Keras' `mixed_bfloat16` policy does, with
/// the weights, their gradients and the optimizer staying f32 ("master weights"). Unlike Keras,
/// which also keeps the layers' outputs in bf16, only the operands are rounded: outputs,
/// activations and gradients between layers stay f32, so it is a little more accurate.
///
/// The products run on the fastest bf16 hardware the CPU has ([`Bf16Path::selected`]): AMX
/// tiles, else AVX-512-BF16. On a CPU with neither, `Bf16` runs the f32 products, which are
/// faster there than bf16 emulated in software.
///
/// Set per tape with [`Layer::set_precision`](crate::layer::Layer::set_precision), or for a
/// whole fit or trainer:
///
/// ```
/// use netdsl_core::kernels::Precision;
///
/// assert_eq!(Precision::default(), Precision::F32);
/// assert_eq!(Precision::Bf16.name(), "bf16");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// f32 operands, f32 sums.
    #[default]
    F32,
    /// bf16 operands, f32 sums.
    Bf16,
}

impl Precision {
    /// `"f32"` or `"bf16"`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }

    /// `self`, with the bf16 path decided now if it is [`Precision::Bf16`]. Deciding reads the
    /// environment, which allocates, and on Linux asks for AMX's tile state, which only a
    /// process that computes in bf16 should; so whatever sets a precision calls this, and
    /// neither an f32 process nor the first bf16 step does it.
    #[inline]
    pub(crate) fn prepared(self) -> Self {
        if self == Precision::Bf16 {
            Bf16Path::selected();
        }
        self
    }

    /// The bf16 path products of this precision run on, or `None` for f32 products.
    #[inline]
    pub fn bf16_path(self) -> Option<Bf16Path> {
        match self {
            Precision::F32 => None,
            Precision::Bf16 => Bf16Path::selected(),
        }
    }
}

/// A path of the bf16 products.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Bf16Path {
    /// AMX tiles (`tdpbf16ps`): 16 × 16 blocks of `C` summed over 32 values of `k` per
    /// instruction.
    Amx,
    /// AVX-512-BF16 (`vdpbf16ps`): 16 lanes of `C`, each summing a pair of products.
    Avx512Bf16,
    /// Plain Rust computing what `vdpbf16ps` computes: the reference the others are tested
    /// against, and what `NETDSL_ISA=portable` runs (as under Miri).
    Portable,
}

impl Bf16Path {
    /// The name `NETDSL_ISA` selects the path by.
    pub fn name(self) -> &'static str {
        match self {
            Bf16Path::Amx => "amx",
            Bf16Path::Avx512Bf16 => "avx512bf16",
            Bf16Path::Portable => "portable",
        }
    }

    /// Whether this CPU (and operating system, which must grant AMX's tile data to the
    /// process) can run the path. Without the `std` feature only the portable path counts.
    pub fn is_supported(self) -> bool {
        match self {
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            Bf16Path::Amx => amx::enabled(),
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            Bf16Path::Avx512Bf16 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512bf16")
            }
            #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
            Bf16Path::Amx | Bf16Path::Avx512Bf16 => false,
            Bf16Path::Portable => true,
        }
    }

    /// The bf16 path of [`Precision::Bf16`], or `None` where it runs f32 products. By default
    /// the fastest hardware path: AMX, else AVX-512-BF16, else none. `NETDSL_ISA` (see
    /// [`Isa::selected`]) chooses: `amx` or `avx512bf16` that path (f32 work on AVX-512),
    /// `portable` the portable path, any other instruction set f32 products. A path the CPU
    /// cannot run gives f32 products, and says so on standard error once.
    ///
    /// Decided once per process, on the first call, as [`Isa::selected`].
    #[cfg(feature = "std")]
    pub fn selected() -> Option<Bf16Path> {
        static SELECTED: std::sync::OnceLock<Option<Bf16Path>> = std::sync::OnceLock::new();
        *SELECTED.get_or_init(|| {
            let requested = std::env::var("NETDSL_ISA").ok();
            let supported = |path: Bf16Path| path.is_supported();
            let (path, warning) = Bf16Path::choose(requested.as_deref(), supported);
            if let Some(warning) = warning {
                eprintln!("netdsl: {warning}");
            }
            path
        })
    }

    /// Without the `std` feature: f32 products.
    #[cfg(not(feature = "std"))]
    #[inline]
    pub fn selected() -> Option<Bf16Path> {
        None
    }

    /// The path for a `NETDSL_ISA` of `requested` where `supported` says which paths run, and
    /// what to warn about.
    #[cfg(feature = "std")]
    fn choose(
        requested: Option<&str>,
        supported: impl Fn(Bf16Path) -> bool,
    ) -> (Option<Bf16Path>, Option<String>) {
        let fastest = [Bf16Path::Amx, Bf16Path::Avx512Bf16]
            .into_iter()
            .find(|&path| supported(path));
        let Some(requested) = requested else {
            return (fastest, None);
        };
        let name = requested.trim().to_ascii_lowercase();
        match [Bf16Path::Amx, Bf16Path::Avx512Bf16, Bf16Path::Portable]
            .into_iter()
            .find(|path| path.name() == name)
        {
            Some(path) if supported(path) => (Some(path), None),
            Some(path) => (
                None,
                Some(format!(
                    "NETDSL_ISA={requested}: this CPU cannot run {}; bf16 precision runs f32 products",
                    path.name()
                )),
            ),
            // Another instruction set (or an unknown name, which `Isa::selected` reports).
            None => (None, None),
        }
    }
}

/// Rows of `C` per packed block of `A`: two AMX tiles of 16 rows.
const MR: usize = 32;
/// Columns of `C` per packed panel of `B`: four AMX tiles (or AVX-512 vectors) of 16.
const NC: usize = 64;
/// Values of `k` per packed panel: four AMX tile steps of 32.
const KC: usize = 128;

/// 64-byte alignment for the packed buffers, as AMX tile loads and AVX-512 loads prefer.
#[repr(C, align(64))]
struct Aligned<T>(T);

/// `A` rounded to bf16: `MR` rows of `KC / 2` pairs (the low half the even `k`).
type PackedA = Aligned<[[u32; KC / 2]; MR]>;
/// `B` rounded to bf16: `KC / 2` rows of pairs, `NC` pairs each (pair `j` of row `p` holds
/// `B[2p][j]` low and `B[2p + 1][j]` high).
type PackedB = Aligned<[[u32; NC]; KC / 2]>;
/// A block of `C` in f32.
type Stage = Aligned<[[f32; NC]; MR]>;

/// `x` rounded to the nearest bf16, ties to even; NaN stays NaN (quietened).
#[inline(always)]
pub(crate) fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        ((bits >> 16) | 0x40) as u16
    } else {
        (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16
    }
}

/// The f32 value of a bf16.
#[inline(always)]
pub(crate) fn from_bf16(x: u16) -> f32 {
    f32::from_bits(u32::from(x) << 16)
}

/// `x` rounded to bf16 and back: what [`Precision::Bf16`] multiplies instead of `x`.
#[inline]
pub fn round_bf16(x: f32) -> f32 {
    from_bf16(to_bf16(x))
}

#[inline(always)]
fn pair(lo: f32, hi: f32) -> u32 {
    u32::from(to_bf16(lo)) | (u32::from(to_bf16(hi)) << 16)
}

/// How an operand's value at `(r, c)` (`A(i, k)` or `B(k, j)`) is found in its storage.
#[derive(Clone, Copy)]
pub(crate) enum Operand<'a> {
    /// `a[r · row + c · col]`.
    Strided {
        a: &'a [f32],
        row: usize,
        col: usize,
    },
    /// `a[rows[r] + cols[c]]`: a convolution's im2col matrix (transposed, as the right operand
    /// of its weight gradient computed transposed).
    #[cfg(feature = "alloc")]
    Gathered {
        a: &'a [f32],
        rows: &'a [usize],
        cols: &'a [usize],
    },
}

/// `C(i, j) = init[j] + Σ_k A(i, k) · B(k, j)`, `C(i, j)` at `c[i · ldc + j · c_col]`, operands
/// rounded to bf16, sums in f32. The caller has checked every access in bounds (indexing
/// checks again: this is safe code up to the micro-kernels).
pub(crate) struct Bf16Product<'a> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Operand<'a>,
    pub b: Operand<'a>,
    pub bias: Option<&'a [f32]>,
    pub c: &'a mut [f32],
    pub ldc: usize,
    /// Between columns of `C`: 1, or `C` is written transposed.
    pub c_col: usize,
}

/// The runs of consecutive values in `offsets` (each one more than the one before), as
/// `(index of the first, length)`, into `runs`; how many there are. An im2col row of a
/// convolution is a few such runs (a window row's columns and channels), so it can be copied
/// run by run rather than value by value.
#[cfg(feature = "alloc")]
fn runs(offsets: &[usize], runs: &mut [(usize, usize)]) -> usize {
    let mut count = 0;
    for (i, &offset) in offsets.iter().enumerate() {
        if i > 0 && offset == offsets[i - 1].wrapping_add(1) {
            runs[count - 1].1 += 1;
        } else {
            runs[count] = (i, 1);
            count += 1;
        }
    }
    count
}

impl Bf16Product<'_> {
    /// Computes the product on `path` (the portable path if the CPU cannot run it).
    pub fn run(&mut self, path: Bf16Path) {
        match path {
            // SAFETY: AVX-512F, BW and BF16 were detected (`is_supported`).
            #[cfg(target_arch = "x86_64")]
            Bf16Path::Avx512Bf16 if path.is_supported() => unsafe { self.run_avx512bf16() },
            // SAFETY: AMX tiles and bf16, AVX-512F, BW and BF16 were detected and the tile data
            // granted (`is_supported`).
            #[cfg(target_arch = "x86_64")]
            Bf16Path::Amx if path.is_supported() => unsafe { self.run_amx() },
            // SAFETY: the portable kernel needs no CPU feature.
            _ => unsafe { self.drive::<PortableKernel>() },
        }
    }

    /// The AVX-512-BF16 path, packing compiled with AVX-512 too.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F, BW and BF16.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn run_avx512bf16(&mut self) {
        // SAFETY: the kernel's features by the caller.
        unsafe { self.drive::<avx512bf16::Kernel>() };
    }

    /// The AMX path.
    ///
    /// # Safety
    ///
    /// The CPU has AMX-TILE, AMX-BF16, AVX-512F, BW and BF16, and the process may use tile
    /// data.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn run_amx(&mut self) {
        // SAFETY: by the caller; the configuration is released at the end of the call.
        unsafe { amx::configure() };
        // SAFETY: AMX by the caller, configured above.
        unsafe { self.drive::<amx::Kernel>() };
        // SAFETY: as above.
        unsafe { amx::release() };
    }

    /// The blocked product: panels of `k`, panels of columns, blocks of rows.
    ///
    /// # Safety
    ///
    /// As for [`MicroKernel::block`]'s CPU features and configuration.
    #[inline(always)]
    unsafe fn drive<K: MicroKernel>(&mut self) {
        let (m, n, k) = (self.m, self.n, self.k);
        if m == 0 || n == 0 {
            return;
        }
        let mut a_pack: PackedA = Aligned([[0; KC / 2]; MR]);
        let mut b_pack: PackedB = Aligned([[0; NC]; KC / 2]);
        let mut stage: Stage = Aligned([[0.0; NC]; MR]);
        // One pass even when k is 0, so that C still receives its initial value.
        let mut k0 = 0;
        loop {
            let kc = KC.min(k - k0);
            let pairs = kc.next_multiple_of(K::K_STEP) / 2;
            for j0 in (0..n).step_by(NC) {
                let nc = NC.min(n - j0);
                if pairs > 0 {
                    // SAFETY: the kernel's features by the caller.
                    unsafe { self.pack_b::<K>(&mut b_pack.0, k0, kc, pairs, j0, nc) };
                }
                for i0 in (0..m).step_by(MR) {
                    let mr = MR.min(m - i0);
                    if pairs > 0 {
                        // SAFETY: as above.
                        unsafe { self.pack_a::<K>(&mut a_pack.0, i0, mr, k0, kc, pairs) };
                    }
                    if K::IN_PLACE && pairs > 0 && mr == MR && nc == NC && self.c_col == 1 {
                        let block = &mut self.c[i0 * self.ldc + j0..];
                        if block.len() >= (MR - 1) * self.ldc + NC {
                            let zero = k0 == 0 && self.bias.is_none();
                            if let (0, Some(bias)) = (k0, self.bias) {
                                for row in block.chunks_mut(self.ldc).take(MR) {
                                    row[..NC].copy_from_slice(&bias[j0..j0 + NC]);
                                }
                            }
                            // SAFETY: features by the caller; `pairs` as for `block`; the
                            // block's `MR` rows of `NC` values at stride `ldc` are in `block`.
                            let done = unsafe {
                                K::block_in_place(&a_pack, &b_pack, block, self.ldc, pairs, zero)
                            };
                            if done {
                                continue;
                            }
                        }
                    }
                    for (i, row) in stage.0.iter_mut().enumerate().take(mr) {
                        let row = &mut row[..nc];
                        if k0 == 0 {
                            match self.bias {
                                Some(bias) => row.copy_from_slice(&bias[j0..j0 + nc]),
                                None => row.fill(0.0),
                            }
                        } else if self.c_col == 1 {
                            let start = (i0 + i) * self.ldc + j0;
                            row.copy_from_slice(&self.c[start..start + nc]);
                        } else {
                            for (j, value) in row.iter_mut().enumerate() {
                                *value = self.c[(i0 + i) * self.ldc + (j0 + j) * self.c_col];
                            }
                        }
                    }
                    if pairs > 0 {
                        // SAFETY: features by the caller; `pairs` is a multiple of
                        // `K_STEP / 2` up to `KC / 2`, `mr <= MR`, `nc <= NC`.
                        unsafe { K::block(&a_pack, &b_pack, &mut stage, pairs, mr, nc) };
                    }
                    for (i, row) in stage.0.iter().enumerate().take(mr) {
                        if self.c_col == 1 {
                            let start = (i0 + i) * self.ldc + j0;
                            self.c[start..start + nc].copy_from_slice(&row[..nc]);
                        } else {
                            for (j, &value) in row[..nc].iter().enumerate() {
                                self.c[(i0 + i) * self.ldc + (j0 + j) * self.c_col] = value;
                            }
                        }
                    }
                }
            }
            k0 += kc;
            if k0 >= k {
                break;
            }
        }
    }

    /// Rounds rows `i0..i0 + mr` of `A` over `k0..k0 + kc` into `out`, zero up to `pairs`.
    ///
    /// # Safety
    ///
    /// `K`'s CPU features available.
    #[inline(always)]
    unsafe fn pack_a<K: MicroKernel>(
        &self,
        out: &mut [[u32; KC / 2]; MR],
        i0: usize,
        mr: usize,
        k0: usize,
        kc: usize,
        pairs: usize,
    ) {
        let full = kc / 2;
        match self.a {
            Operand::Strided { a, row, col: 1 } => {
                for (i, out) in out.iter_mut().enumerate().take(mr) {
                    let start = (i0 + i) * row + k0;
                    let src = &a[start..start + kc];
                    // SAFETY: the features by the caller.
                    unsafe { K::adjacent(src, &mut out[..full]) };
                    finish_row(out, src, full, pairs);
                }
            }
            Operand::Strided { a, row: 1, col } => {
                // `A` is a transposed row-major matrix: each k is a contiguous row of values.
                let mut column = [0; MR];
                for p in 0..full {
                    let lo = &a[(k0 + 2 * p) * col + i0..][..mr];
                    let hi = &a[(k0 + 2 * p + 1) * col + i0..][..mr];
                    // SAFETY: the features by the caller.
                    unsafe { K::pairs(lo, hi, &mut column[..mr]) };
                    for (out, &pair) in out.iter_mut().zip(&column[..mr]) {
                        out[p] = pair;
                    }
                }
                for (i, out) in out.iter_mut().enumerate().take(mr) {
                    if kc % 2 == 1 {
                        out[full] = pair(a[(k0 + kc - 1) * col + i0 + i], 0.0);
                    }
                    out[kc.div_ceil(2)..pairs].fill(0);
                }
            }
            Operand::Strided { a, row, col } => {
                for (i, out) in out.iter_mut().enumerate().take(mr) {
                    let at = |kk: usize| a[(i0 + i) * row + (k0 + kk) * col];
                    for (p, o) in out.iter_mut().enumerate().take(full) {
                        *o = pair(at(2 * p), at(2 * p + 1));
                    }
                    if kc % 2 == 1 {
                        out[full] = pair(at(kc - 1), 0.0);
                    }
                    out[kc.div_ceil(2)..pairs].fill(0);
                }
            }
            #[cfg(feature = "alloc")]
            Operand::Gathered { a, rows, cols } => {
                // Gathered in f32 a run at a time, then rounded as a contiguous row.
                let cols = &cols[k0..k0 + kc];
                let mut spans = [(0, 0); KC];
                let count = runs(cols, &mut spans);
                let spans = &spans[..count];
                let mut row = [0.0; KC];
                for (i, out) in out.iter_mut().enumerate().take(mr) {
                    let base = rows[i0 + i];
                    for &(at, len) in spans {
                        let start = base + cols[at];
                        row[at..at + len].copy_from_slice(&a[start..start + len]);
                    }
                    let src = &row[..kc];
                    // SAFETY: the features by the caller.
                    unsafe { K::adjacent(src, &mut out[..full]) };
                    finish_row(out, src, full, pairs);
                }
            }
        }
    }

    /// Rounds `B` over `k0..k0 + kc` and columns `j0..j0 + nc` into `out`, zero up to
    /// `pairs`.
    ///
    /// # Safety
    ///
    /// `K`'s CPU features available.
    #[inline(always)]
    unsafe fn pack_b<K: MicroKernel>(
        &self,
        out: &mut [[u32; NC]; KC / 2],
        k0: usize,
        kc: usize,
        pairs: usize,
        j0: usize,
        nc: usize,
    ) {
        let full = kc / 2;
        let (b, b_k, b_j) = match self.b {
            Operand::Strided { a, row, col } => (a, row, col),
            #[cfg(feature = "alloc")]
            Operand::Gathered { a, rows, cols } => {
                // Each pair of k is two rows of values gathered at the same columns: run by
                // run, two slices of the image side by side.
                let cols = &cols[j0..j0 + nc];
                let mut spans = [(0, 0); NC];
                let count = runs(cols, &mut spans);
                let spans = &spans[..count];
                for (p, out) in out.iter_mut().enumerate().take(kc.div_ceil(2)) {
                    let lo = rows[k0 + 2 * p];
                    let hi = rows.get(k0 + 2 * p + 1).filter(|_| 2 * p + 1 < kc);
                    for &(at, len) in spans {
                        let lo = &a[lo + cols[at]..][..len];
                        let out = &mut out[at..at + len];
                        match hi {
                            // SAFETY: the features by the caller.
                            Some(&hi) => unsafe { K::pairs(lo, &a[hi + cols[at]..][..len], out) },
                            None => {
                                for (o, &lo) in out.iter_mut().zip(lo) {
                                    *o = pair(lo, 0.0);
                                }
                            }
                        }
                    }
                }
                for row in &mut out[kc.div_ceil(2)..pairs] {
                    row[..nc].fill(0);
                }
                return;
            }
        };
        if b_j == 1 {
            for (p, out) in out.iter_mut().enumerate().take(full) {
                let lo = &b[(k0 + 2 * p) * b_k + j0..][..nc];
                let hi = &b[(k0 + 2 * p + 1) * b_k + j0..][..nc];
                // SAFETY: the features by the caller.
                unsafe { K::pairs(lo, hi, &mut out[..nc]) };
            }
            if kc % 2 == 1 {
                let lo = &b[(k0 + kc - 1) * b_k + j0..][..nc];
                for (o, &lo) in out[full].iter_mut().zip(lo) {
                    *o = pair(lo, 0.0);
                }
            }
        } else if b_k == 1 {
            // `B` is a transposed row-major matrix (`Dots`' `Bt`): each column is contiguous.
            let mut row = [0; KC / 2];
            for j in 0..nc {
                let src = &b[(j0 + j) * b_j + k0..][..kc];
                // SAFETY: the features by the caller.
                unsafe { K::adjacent(src, &mut row[..full]) };
                for (out, &pair) in out.iter_mut().zip(&row[..full]) {
                    out[j] = pair;
                }
                if kc % 2 == 1 {
                    out[full][j] = pair(src[kc - 1], 0.0);
                }
            }
        } else {
            let at = |kk: usize, j: usize| b[(k0 + kk) * b_k + (j0 + j) * b_j];
            for j in 0..nc {
                for (p, out) in out.iter_mut().enumerate().take(full) {
                    out[j] = pair(at(2 * p, j), at(2 * p + 1, j));
                }
                if kc % 2 == 1 {
                    out[full][j] = pair(at(kc - 1, j), 0.0);
                }
            }
        }
        for row in &mut out[kc.div_ceil(2)..pairs] {
            row[..nc].fill(0);
        }
    }
}

/// The end of a packed row of `A` read from contiguous `src`: the odd last value, then zeros
/// up to `pairs`.
#[inline(always)]
fn finish_row(out: &mut [u32; KC / 2], src: &[f32], full: usize, pairs: usize) {
    if src.len() % 2 == 1 {
        out[full] = pair(src[src.len() - 1], 0.0);
    }
    out[src.len().div_ceil(2)..pairs].fill(0);
}

/// A micro-kernel over packed operands.
trait MicroKernel {
    /// The packed `k` is a multiple of this (AMX sums 32 values per tile step).
    const K_STEP: usize;
    /// Whether [`MicroKernel::block_in_place`] computes whole blocks in `C`.
    const IN_PLACE: bool = false;

    /// `out[j] = pair(lo[j], hi[j])` for `j < out.len()` (`lo` and `hi` at least as long).
    ///
    /// # Safety
    ///
    /// The kernel's CPU features available.
    #[inline(always)]
    unsafe fn pairs(lo: &[f32], hi: &[f32], out: &mut [u32]) {
        for ((o, &lo), &hi) in out.iter_mut().zip(lo).zip(hi) {
            *o = pair(lo, hi);
        }
    }

    /// `out[p] = pair(src[2p], src[2p + 1])` for `p < out.len()` (`src` at least twice as
    /// long).
    ///
    /// # Safety
    ///
    /// The kernel's CPU features available.
    #[inline(always)]
    unsafe fn adjacent(src: &[f32], out: &mut [u32]) {
        for (o, two) in out.iter_mut().zip(src.chunks_exact(2)) {
            *o = pair(two[0], two[1]);
        }
    }

    /// `stage[i][j] += Σ_p Σ_h a[i][p].h · b[p][j].h` for `i < rows`, `j < cols`,
    /// `p < pairs` (the kernel may compute, and overwrite, the rest of the stage too).
    ///
    /// # Safety
    ///
    /// The kernel's CPU features available (and, for AMX, the tile configuration loaded);
    /// `pairs` a multiple of `K_STEP / 2`, at most `KC / 2`; `rows <= MR`, `cols <= NC`.
    unsafe fn block(
        a: &PackedA,
        b: &PackedB,
        stage: &mut Stage,
        pairs: usize,
        rows: usize,
        cols: usize,
    );

    /// A whole `MR × NC` block in place in `C`: `c[i · ldc + j] += Σ ...` (from zero when
    /// `zero`), returning whether the kernel does that (otherwise it did nothing, and the block
    /// goes through the stage). The default does not.
    ///
    /// # Safety
    ///
    /// As for [`MicroKernel::block`]; `c` holds `MR` rows of `NC` values at stride `ldc`.
    #[inline(always)]
    unsafe fn block_in_place(
        a: &PackedA,
        b: &PackedB,
        c: &mut [f32],
        ldc: usize,
        pairs: usize,
        zero: bool,
    ) -> bool {
        let _ = (a, b, c, ldc, pairs, zero);
        false
    }
}

/// Plain Rust, in `vdpbf16ps`' order: the odd product, then the even one, each exact in f32.
struct PortableKernel;

impl MicroKernel for PortableKernel {
    const K_STEP: usize = 2;

    #[inline(always)]
    unsafe fn block(
        a: &PackedA,
        b: &PackedB,
        stage: &mut Stage,
        pairs: usize,
        rows: usize,
        cols: usize,
    ) {
        for (a, c) in a.0.iter().zip(stage.0.iter_mut()).take(rows) {
            for (&a, b) in a.iter().zip(&b.0).take(pairs) {
                let (a_lo, a_hi) = (from_bf16(a as u16), from_bf16((a >> 16) as u16));
                for (c, &b) in c.iter_mut().zip(b).take(cols) {
                    *c += a_hi * from_bf16((b >> 16) as u16);
                    *c += a_lo * from_bf16(b as u16);
                }
            }
        }
    }
}

/// `vdpbf16ps`: 6 rows × 4 vectors of 16 columns of accumulators in registers.
#[cfg(target_arch = "x86_64")]
mod avx512bf16 {
    use super::{MR, MicroKernel, NC, PackedA, PackedB, Stage};
    use core::arch::x86_64::*;

    /// [`MicroKernel::pairs`] with `vcvtne2ps2bf16`, 16 pairs at a time.
    ///
    /// # Safety
    ///
    /// AVX-512F, BW and BF16 available.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn pairs(lo: &[f32], hi: &[f32], out: &mut [u32]) {
        let n = out.len().min(lo.len()).min(hi.len());
        // Lanes 0..16 from `lo`, 16..32 from `hi`, interleaved: lo0 hi0 lo1 hi1 ...
        let interleave = _mm512_set_epi16(
            31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20,
            4, 19, 3, 18, 2, 17, 1, 16, 0,
        );
        let mut j = 0;
        // SAFETY: each load reads 16 values at `j + 16 <= n` of `lo` and `hi`, each store
        // writes 16 at `j + 16 <= n` of `out`; `__m512bh` and `__m512i` are 64 bytes of bits.
        unsafe {
            while j + 16 <= n {
                let lo16 = _mm512_loadu_ps(lo.as_ptr().add(j));
                let hi16 = _mm512_loadu_ps(hi.as_ptr().add(j));
                let both: __m512i = core::mem::transmute(_mm512_cvtne2ps_pbh(hi16, lo16));
                let pairs = _mm512_permutexvar_epi16(interleave, both);
                _mm512_storeu_si512(out.as_mut_ptr().add(j).cast(), pairs);
                j += 16;
            }
        }
        for ((o, &lo), &hi) in out[j..n].iter_mut().zip(&lo[j..n]).zip(&hi[j..n]) {
            *o = super::pair(lo, hi);
        }
    }

    /// [`MicroKernel::adjacent`] with `vcvtne2ps2bf16`, 16 pairs at a time.
    ///
    /// # Safety
    ///
    /// AVX-512F, BW and BF16 available.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn adjacent(src: &[f32], out: &mut [u32]) {
        let n = out.len().min(src.len() / 2);
        let mut p = 0;
        // SAFETY: each load reads 16 values at `2p + 32 <= 2n <= src.len()`, each store
        // writes 16 pairs at `p + 16 <= n` of `out`.
        unsafe {
            while p + 16 <= n {
                let first = _mm512_loadu_ps(src.as_ptr().add(2 * p));
                let second = _mm512_loadu_ps(src.as_ptr().add(2 * p + 16));
                let both: __m512i = core::mem::transmute(_mm512_cvtne2ps_pbh(second, first));
                _mm512_storeu_si512(out.as_mut_ptr().add(p).cast(), both);
                p += 16;
            }
        }
        for (o, two) in out[p..n].iter_mut().zip(src[2 * p..].chunks_exact(2)) {
            *o = super::pair(two[0], two[1]);
        }
    }

    pub(super) struct Kernel;

    impl MicroKernel for Kernel {
        const K_STEP: usize = 2;
        const IN_PLACE: bool = true;

        #[inline(always)]
        unsafe fn pairs(lo: &[f32], hi: &[f32], out: &mut [u32]) {
            // SAFETY: the features by the caller.
            unsafe { pairs(lo, hi, out) }
        }

        #[inline(always)]
        unsafe fn adjacent(src: &[f32], out: &mut [u32]) {
            // SAFETY: the features by the caller.
            unsafe { adjacent(src, out) }
        }

        #[inline(always)]
        unsafe fn block(
            a: &PackedA,
            b: &PackedB,
            stage: &mut Stage,
            pairs: usize,
            rows: usize,
            cols: usize,
        ) {
            let c = stage.0.as_flattened_mut();
            // SAFETY: the target features by the caller; the stage holds `MR` rows of `NC`.
            unsafe {
                match cols.div_ceil(16) {
                    1 => rows_of::<1>(a, b, c, NC, pairs, rows, false),
                    2 => rows_of::<2>(a, b, c, NC, pairs, rows, false),
                    3 => rows_of::<3>(a, b, c, NC, pairs, rows, false),
                    _ => rows_of::<4>(a, b, c, NC, pairs, rows, false),
                }
            }
        }

        #[inline(always)]
        unsafe fn block_in_place(
            a: &PackedA,
            b: &PackedB,
            c: &mut [f32],
            ldc: usize,
            pairs: usize,
            zero: bool,
        ) -> bool {
            // SAFETY: the target features by the caller; `c` holds `MR` rows of `NC` at `ldc`.
            unsafe { rows_of::<{ NC / 16 }>(a, b, c, ldc, pairs, MR, zero) };
            true
        }
    }

    /// Rows `0..rows` of `c` (row stride `ldc`), `V` vectors of 16 columns.
    ///
    /// # Safety
    ///
    /// AVX-512F and BF16 available; `rows <= MR`, `pairs <= KC / 2`, `V <= NC / 16`, and `c`
    /// holds `rows` rows of `16 · V` values at stride `ldc`.
    #[inline(always)]
    unsafe fn rows_of<const V: usize>(
        a: &PackedA,
        b: &PackedB,
        c: &mut [f32],
        ldc: usize,
        pairs: usize,
        rows: usize,
        zero: bool,
    ) {
        let mut row = 0;
        // SAFETY: the target features by the caller; each tile's rows are below `rows`.
        unsafe {
            while row + 6 <= rows {
                tile::<6, V>(a, b, c, ldc, pairs, row, zero);
                row += 6;
            }
            match rows - row {
                1 => tile::<1, V>(a, b, c, ldc, pairs, row, zero),
                2 => tile::<2, V>(a, b, c, ldc, pairs, row, zero),
                3 => tile::<3, V>(a, b, c, ldc, pairs, row, zero),
                4 => tile::<4, V>(a, b, c, ldc, pairs, row, zero),
                5 => tile::<5, V>(a, b, c, ldc, pairs, row, zero),
                _ => {}
            }
        }
    }

    /// Rows `row..row + R` of `c`, columns `0..16 · V`, from zero when `zero`.
    ///
    /// # Safety
    ///
    /// AVX-512F and BF16 available; `row + R <= MR`, `pairs <= KC / 2`, `V <= NC / 16`; `c`
    /// holds rows `row..row + R` of `16 · V` values at stride `ldc`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn tile<const R: usize, const V: usize>(
        a: &PackedA,
        b: &PackedB,
        c: &mut [f32],
        ldc: usize,
        pairs: usize,
        row: usize,
        zero: bool,
    ) {
        let a = &a.0[row..row + R];
        let rows: [&mut [f32]; R] = {
            let mut rest = &mut c[row * ldc..];
            core::array::from_fn(|_| {
                let taken = core::mem::take(&mut rest);
                let at = ldc.min(taken.len());
                let (first, next) = taken.split_at_mut(at);
                rest = next;
                &mut first[..16 * V]
            })
        };
        // SAFETY: every load and store is of 16 lanes within a row of `16 · V` values or of
        // `NC` pairs (`v · 16 + 16 <= 16 · V <= NC`), in slices borrowed for the call;
        // `__m512i` and `__m512bh` are both 64 bytes of plain bits.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); V]; R];
            if !zero {
                for (acc, c) in acc.iter_mut().zip(rows.iter()) {
                    for (v, acc) in acc.iter_mut().enumerate() {
                        *acc = _mm512_loadu_ps(c.as_ptr().add(v * 16));
                    }
                }
            }
            for p in 0..pairs {
                let bv: [__m512bh; V] = core::array::from_fn(|v| {
                    core::mem::transmute(_mm512_loadu_si512(b.0[p].as_ptr().add(v * 16).cast()))
                });
                for (acc, a) in acc.iter_mut().zip(a) {
                    let av: __m512bh = core::mem::transmute(_mm512_set1_epi32(a[p] as i32));
                    for (acc, &bv) in acc.iter_mut().zip(&bv) {
                        *acc = _mm512_dpbf16_ps(*acc, av, bv);
                    }
                }
            }
            for (acc, c) in acc.iter().zip(rows) {
                for (v, &acc) in acc.iter().enumerate() {
                    _mm512_storeu_ps(c.as_mut_ptr().add(v * 16), acc);
                }
            }
        }
    }
}

/// AMX: the tile instructions through `asm!`, the permission to use tile data, detection.
#[cfg(target_arch = "x86_64")]
mod amx {
    use super::{KC, MR, MicroKernel, NC, PackedA, PackedB, Stage};
    use core::arch::asm;

    // The byte strides and offsets in the assembly below are written for these sizes: rows of
    // 256 bytes in all three buffers, and two 16-row tiles per block of rows.
    const _: () = assert!(KC == 128 && NC == 64 && MR == 32);

    /// Palette 1; eight tiles of 16 rows × 64 bytes: `tmm0..3` a 32 × 32 block of `C` (f32),
    /// `tmm4..5` two 16-row tiles of `A` (32 bf16 values of `k` per row), `tmm6..7` two tiles
    /// of `B` (16 rows of pairs of `k`, 16 columns).
    static CONFIG: [u8; 64] = {
        let mut config = [0; 64];
        config[0] = 1;
        let mut tile = 0;
        while tile < 8 {
            config[16 + 2 * tile] = 64;
            config[48 + tile] = 16;
            tile += 1;
        }
        config
    };

    /// Loads [`CONFIG`] into this thread's tile configuration.
    ///
    /// # Safety
    ///
    /// AMX-TILE available and tile data granted to the process.
    #[inline]
    pub(super) unsafe fn configure() {
        // SAFETY: by the caller; `CONFIG` is a valid palette-1 configuration of 64 bytes.
        unsafe {
            asm!("ldtilecfg [{0}]", in(reg) CONFIG.as_ptr(), options(nostack, readonly));
        }
    }

    /// Releases this thread's tiles.
    ///
    /// # Safety
    ///
    /// AMX-TILE available.
    #[inline]
    pub(super) unsafe fn release() {
        // SAFETY: by the caller.
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
    }

    pub(super) struct Kernel;

    impl MicroKernel for Kernel {
        const K_STEP: usize = 32;
        const IN_PLACE: bool = true;

        #[inline(always)]
        unsafe fn block_in_place(
            a: &PackedA,
            b: &PackedB,
            c: &mut [f32],
            ldc: usize,
            pairs: usize,
            zero: bool,
        ) -> bool {
            debug_assert!(c.len() >= (MR - 1) * ldc + NC);
            // SAFETY: configured by the caller, `pairs` a nonzero multiple of 16 up to
            // `KC / 2`; `c` holds the block's rows (the caller's contract).
            unsafe { in_place(a, b, c.as_mut_ptr(), ldc * 4, pairs / 16, zero) };
            true
        }

        #[inline(always)]
        unsafe fn pairs(lo: &[f32], hi: &[f32], out: &mut [u32]) {
            // SAFETY: the AMX path's CPU has AVX-512-BF16 too (`enabled`).
            unsafe { super::avx512bf16::pairs(lo, hi, out) }
        }

        #[inline(always)]
        unsafe fn adjacent(src: &[f32], out: &mut [u32]) {
            // SAFETY: as above.
            unsafe { super::avx512bf16::adjacent(src, out) }
        }

        #[inline(always)]
        unsafe fn block(
            a: &PackedA,
            b: &PackedB,
            stage: &mut Stage,
            pairs: usize,
            _rows: usize,
            cols: usize,
        ) {
            let steps = pairs / 16;
            let a = a.0.as_ptr().cast::<u8>();
            // Columns 32..64 only when the block has some.
            for half in 0..cols.div_ceil(32) {
                let b = b.0.as_ptr().cast::<u8>().wrapping_add(128 * half);
                let c = stage.0.as_mut_ptr().cast::<u8>().wrapping_add(128 * half);
                // SAFETY: AMX configured by the caller; `steps >= 1` as `pairs` is a nonzero
                // multiple of 16. Every tile access stays in its buffer: `C` tiles
                // cover rows 0..32 × bytes 128·half..128·half + 128 of the 32 × 256-byte stage;
                // `A` tiles rows 0..32 × 64 bytes from byte 64·s < 256 of the 32 × 256-byte
                // block; `B` tiles rows 16·s..16·s + 16 (< 64) × 64 bytes at byte
                // 128·half + 0 or 64 of the 64 × 256-byte panel. The stage is written only
                // through the mutable borrow.
                unsafe {
                    asm!(
                        "tileloadd tmm0, [{c} + {ld}*1]",
                        "tileloadd tmm1, [{c} + {ld}*1 + 64]",
                        "tileloadd tmm2, [{c} + {ld}*1 + 4096]",
                        "tileloadd tmm3, [{c} + {ld}*1 + 4160]",
                        "2:",
                        "tileloadd tmm4, [{a} + {ld}*1]",
                        "tileloadd tmm5, [{a} + {ld}*1 + 4096]",
                        "tileloadd tmm6, [{b} + {ld}*1]",
                        "tileloadd tmm7, [{b} + {ld}*1 + 64]",
                        "tdpbf16ps tmm0, tmm4, tmm6",
                        "tdpbf16ps tmm1, tmm4, tmm7",
                        "tdpbf16ps tmm2, tmm5, tmm6",
                        "tdpbf16ps tmm3, tmm5, tmm7",
                        "add {a}, 64",
                        "add {b}, 4096",
                        "dec {steps}",
                        "jnz 2b",
                        "tilestored [{c} + {ld}*1], tmm0",
                        "tilestored [{c} + {ld}*1 + 64], tmm1",
                        "tilestored [{c} + {ld}*1 + 4096], tmm2",
                        "tilestored [{c} + {ld}*1 + 4160], tmm3",
                        a = inout(reg) a => _,
                        b = inout(reg) b => _,
                        c = in(reg) c,
                        ld = in(reg) 256usize,
                        steps = inout(reg) steps => _,
                        options(nostack),
                    );
                }
            }
        }
    }

    /// The AMX tiles of a full block, `C` loaded from (or zeroed) and stored to `c` at byte
    /// stride `ld_c`.
    ///
    /// # Safety
    ///
    /// AMX configured; `steps >= 1`, at most `KC / 32`; `c` points to 32 rows of 64 values
    /// at stride `ld_c` bytes, all writable.
    #[inline(always)]
    unsafe fn in_place(
        a: &PackedA,
        b: &PackedB,
        c: *mut f32,
        ld_c: usize,
        steps: usize,
        zero: bool,
    ) {
        let a = a.0.as_ptr().cast::<u8>();
        let rows16 = 16 * ld_c;
        for half in 0..2 {
            let b = b.0.as_ptr().cast::<u8>().wrapping_add(128 * half);
            let c = c.cast::<u8>().wrapping_add(128 * half);
            let c16 = c.wrapping_add(rows16);
            // SAFETY: as for `Kernel::block`, with the `C` tiles rows 0..16 and 16..32 of the
            // caller's block (`c16` is row 16), bytes 128·half..128·half + 128 of each row.
            unsafe {
                if zero {
                    asm!(
                        "tilezero tmm0",
                        "tilezero tmm1",
                        "tilezero tmm2",
                        "tilezero tmm3",
                        options(nostack, nomem),
                    );
                } else {
                    asm!(
                        "tileloadd tmm0, [{c} + {ld}*1]",
                        "tileloadd tmm1, [{c} + {ld}*1 + 64]",
                        "tileloadd tmm2, [{c16} + {ld}*1]",
                        "tileloadd tmm3, [{c16} + {ld}*1 + 64]",
                        c = in(reg) c,
                        c16 = in(reg) c16,
                        ld = in(reg) ld_c,
                        options(nostack, readonly),
                    );
                }
                asm!(
                    "2:",
                    "tileloadd tmm4, [{a} + {ld}*1]",
                    "tileloadd tmm5, [{a} + {ld}*1 + 4096]",
                    "tileloadd tmm6, [{b} + {ld}*1]",
                    "tileloadd tmm7, [{b} + {ld}*1 + 64]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    "add {a}, 64",
                    "add {b}, 4096",
                    "dec {steps}",
                    "jnz 2b",
                    "tilestored [{c} + {ldc}*1], tmm0",
                    "tilestored [{c} + {ldc}*1 + 64], tmm1",
                    "tilestored [{c16} + {ldc}*1], tmm2",
                    "tilestored [{c16} + {ldc}*1 + 64], tmm3",
                    a = inout(reg) a => _,
                    b = inout(reg) b => _,
                    c = in(reg) c,
                    c16 = in(reg) c16,
                    ld = in(reg) 256usize,
                    ldc = in(reg) ld_c,
                    steps = inout(reg) steps => _,
                    options(nostack),
                );
            }
        }
    }

    /// Whether the CPU has AMX-TILE, AMX-BF16, AVX-512F, BW and BF16 and Linux granted this process
    /// the tile data (asked once).
    #[cfg(feature = "std")]
    pub(super) fn enabled() -> bool {
        static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *ENABLED.get_or_init(|| {
            // The packing converts with AVX-512-BF16, which every AMX CPU has.
            if !(std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512bf16"))
            {
                return false;
            }
            // CPUID leaf 7, subleaf 0, EDX: bit 22 AMX-BF16, bit 24 AMX-TILE (the
            // `is_x86_feature_detected!` names for them are unstable).
            #[allow(
                unused_unsafe,
                reason = "`__cpuid_count` is safe since Rust 1.94, not in 1.89"
            )]
            // SAFETY: every x86_64 CPU has CPUID, and leaf 7 exists on those with AVX-512.
            let leaf7 = unsafe { core::arch::x86_64::__cpuid_count(7, 0) };
            let amx = leaf7.edx & (1 << 22) != 0 && leaf7.edx & (1 << 24) != 0;
            amx && request_tile_data()
        })
    }

    /// Asks Linux for the permission to use AMX's tile data (`XFEATURE_XTILEDATA`), which it
    /// grants per process; without it a tile instruction faults.
    #[cfg(all(feature = "std", target_os = "linux"))]
    fn request_tile_data() -> bool {
        const SYS_ARCH_PRCTL: usize = 158;
        const ARCH_REQ_XCOMP_PERM: usize = 0x1023;
        const XFEATURE_XTILEDATA: usize = 18;
        let ret: isize;
        // SAFETY: the `arch_prctl` system call with `ARCH_REQ_XCOMP_PERM` only changes which
        // state components the process may use; it reads and writes no memory of ours. The
        // kernel clobbers `rcx` and `r11`.
        unsafe {
            asm!(
                "syscall",
                inlateout("rax") SYS_ARCH_PRCTL => ret,
                in("rdi") ARCH_REQ_XCOMP_PERM,
                in("rsi") XFEATURE_XTILEDATA,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret == 0
    }

    /// Elsewhere: no way to ask, so no AMX.
    #[cfg(all(feature = "std", not(target_os = "linux")))]
    fn request_tile_data() -> bool {
        false
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    //! Every path against products computed in f64: from the operands rounded to bf16 within
    //! `1e-6 · √k · Σ|a||b|` (the f32 sums' rounding), and from the f32 operands within
    //! `2^-7 · Σ|a||b|` plus that (bf16 keeps 8 significant bits, so rounding an operand
    //! changes it by at most 2^-8 of its value, and a product by at most about 2^-7).

    use super::*;
    use crate::kernels::{Dots, Gather, Offsets, Product};

    const PATHS: [Bf16Path; 3] = [Bf16Path::Amx, Bf16Path::Avx512Bf16, Bf16Path::Portable];

    /// The paths this CPU runs, saying which it skips.
    fn paths() -> Vec<Bf16Path> {
        PATHS
            .into_iter()
            .filter(|path| {
                let supported = path.is_supported();
                if !supported {
                    std::eprintln!("skipping the {} path: this CPU cannot run it", path.name());
                }
                supported
            })
            .collect()
    }

    /// Values in about ±2 from a small linear congruential generator.
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0
            })
            .collect()
    }

    /// Checks `c` against `A · B + bias` for `A(i, k)` and `B(k, j)` given as functions.
    #[expect(clippy::too_many_arguments, reason = "one shape and its operands")]
    fn check(
        what: &str,
        path: Bf16Path,
        m: usize,
        n: usize,
        k: usize,
        a: impl Fn(usize, usize) -> f32,
        b: impl Fn(usize, usize) -> f32,
        bias: Option<&[f32]>,
        c: &[f32],
        ldc: usize,
    ) {
        for i in 0..m {
            for j in 0..n {
                let init = bias.map_or(0.0, |bias| f64::from(bias[j]));
                let (mut rounded, mut exact, mut magnitude) = (init, init, init.abs());
                for kk in 0..k {
                    let (x, y) = (a(i, kk), b(kk, j));
                    rounded += f64::from(round_bf16(x)) * f64::from(round_bf16(y));
                    exact += f64::from(x) * f64::from(y);
                    magnitude += f64::from(x.abs()) * f64::from(y.abs());
                }
                let got = f64::from(c[i * ldc + j]);
                let sums = 1e-6 * (k.max(1) as f64).sqrt() * magnitude + 1e-30;
                assert!(
                    (got - rounded).abs() <= sums,
                    "{what} on {}, {m}×{n}×{k}, C[{i}][{j}] = {got}, from bf16 operands {rounded} (tolerance {sums})",
                    path.name()
                );
                let operands = magnitude / 128.0 + sums;
                assert!(
                    (got - exact).abs() <= operands,
                    "{what} on {}, {m}×{n}×{k}, C[{i}][{j}] = {got}, from f32 operands {exact} (tolerance {operands})",
                    path.name()
                );
            }
        }
    }

    /// Shapes on both sides of every block size (16, 32, 64, 128), odd `k`, tiny and empty.
    fn shapes() -> Vec<(usize, usize, usize)> {
        let mut shapes = vec![(1, 1, 1), (1, 1, 0), (2, 3, 5), (3, 17, 2), (5, 7, 33)];
        if !cfg!(miri) {
            shapes.extend([
                (33, 65, 129),
                (32, 64, 784),
                (7, 70, 31),
                (40, 10, 300),
                (64, 128, 256),
                (100, 3, 257),
                (31, 130, 64),
            ]);
        }
        shapes
    }

    #[test]
    fn products_match_the_reference_on_every_path() {
        for path in paths() {
            for (seed, &(m, n, k)) in shapes().iter().enumerate() {
                let (a, b) = (values(m * k, seed as u64), values(k * n, 100 + seed as u64));
                let bias = values(n, 200 + seed as u64);
                let mut c = vec![f32::NAN; m * n];
                Product {
                    m,
                    n,
                    k,
                    a: &a,
                    a_row: k,
                    a_col: 1,
                    b: &b,
                    ldb: n,
                    bias: Some(&bias),
                    c: &mut c,
                    ldc: n,
                }
                .run_bf16(path);
                let (at, bt) = (|i, kk| a[i * k + kk], |kk, j| b[kk * n + j]);
                check("X · W", path, m, n, k, at, bt, Some(&bias), &c, n);
            }
        }
    }

    #[test]
    fn transposed_and_strided_products_match_the_reference_on_every_path() {
        for path in paths() {
            for (seed, &(m, n, k)) in shapes().iter().enumerate() {
                // Xᵀ · dZ: A(i, k) = x[k][i], with x of m columns.
                let (x, dz) = (values(k * m, seed as u64), values(k * n, 7 + seed as u64));
                let mut c = vec![f32::NAN; m * n];
                Product {
                    m,
                    n,
                    k,
                    a: &x,
                    a_row: 1,
                    a_col: m,
                    b: &dz,
                    ldb: n,
                    bias: None,
                    c: &mut c,
                    ldc: n,
                }
                .run_bf16(path);
                let (at, bt) = (|i, kk| x[kk * m + i], |kk, j| dz[kk * n + j]);
                check("Xᵀ · dZ", path, m, n, k, at, bt, None, &c, n);
                // Neither stride 1, C with a wider row.
                let a = values(m * k * 3 + 2, 11 + seed as u64);
                let mut c = vec![f32::NAN; m * (n + 3)];
                Product {
                    m,
                    n,
                    k,
                    a: &a,
                    a_row: 1,
                    a_col: 2 * m + 1,
                    b: &dz,
                    ldb: n,
                    bias: None,
                    c: &mut c,
                    ldc: n + 3,
                }
                .run_bf16(path);
                let at = |i, kk| a[i + kk * (2 * m + 1)];
                check("strided A", path, m, n, k, at, bt, None, &c, n + 3);
            }
        }
    }

    #[test]
    fn dots_match_the_reference_on_every_path() {
        for path in paths() {
            for (seed, &(m, n, k)) in shapes().iter().enumerate() {
                let (a, bt) = (values(m * k, seed as u64), values(n * k, 3 + seed as u64));
                let mut c = vec![f32::NAN; m * n];
                Dots {
                    m,
                    n,
                    k,
                    a: &a,
                    lda: k,
                    bt: &bt,
                    ldbt: k,
                    c: &mut c,
                    ldc: n,
                }
                .run_bf16(path);
                let (at, b) = (|i, kk| a[i * k + kk], |kk, j| bt[j * k + kk]);
                check("dZ · Wᵀ", path, m, n, k, at, b, None, &c, n);
            }
        }
    }

    #[test]
    fn gathered_products_match_the_reference_on_every_path() {
        for path in paths() {
            for (seed, &(m, n, k)) in shapes().iter().enumerate() {
                // Overlapping windows: row i starts at 3i, tap k at 5k.
                let rows: Vec<usize> = (0..m).map(|i| 3 * i).collect();
                let cols: Vec<usize> = (0..k).map(|kk| 5 * kk).collect();
                let a = values(3 * m + 5 * k + 1, seed as u64);
                let (b, bias) = (values(k * n, 5 + seed as u64), values(n, 9));
                let mut c = vec![f32::NAN; m * n];
                Gather {
                    n,
                    a: &a,
                    rows: &Offsets::new(rows.clone()),
                    cols: &Offsets::new(cols.clone()),
                    b: &b,
                    ldb: n,
                    bias: Some(&bias),
                    c: &mut c,
                    ldc: n,
                }
                .run_bf16(path);
                let (at, bt) = (|i, kk| a[rows[i] + cols[kk]], |kk, j| b[kk * n + j]);
                check("gathered A", path, m, n, k, at, bt, Some(&bias), &c, n);
            }
        }
    }

    /// A convolution's tables, as `Conv2d` builds them: each output pixel's window start in a
    /// batch of `images` images of `h × w × c`, and each tap's offset in a window.
    fn convolution(
        images: usize,
        h: usize,
        w: usize,
        c: usize,
        k: usize,
    ) -> (Vec<usize>, Vec<usize>) {
        let (oh, ow) = (h - k + 1, w - k + 1);
        let windows = (0..images)
            .flat_map(|b| (0..oh).flat_map(move |oy| (0..ow).map(move |ox| (b, oy, ox))))
            .map(|(b, oy, ox)| ((b * h + oy) * w + ox) * c)
            .collect();
        let taps = (0..k)
            .flat_map(|ky| (0..k).flat_map(move |kx| (0..c).map(move |ch| (ky * w + kx) * c + ch)))
            .collect();
        (windows, taps)
    }

    #[test]
    fn convolution_gathers_match_the_reference_on_every_path() {
        // (images, height, width, channels, kernel, filters): LeNet-5's second layer, runs of
        // odd length, one channel, and more windows than a panel of `k` holds.
        let mut shapes = vec![(1, 6, 7, 3, 3, 5), (2, 5, 5, 1, 2, 3)];
        if !cfg!(miri) {
            shapes.extend([
                (2, 14, 14, 6, 5, 16),
                (3, 12, 12, 2, 3, 20),
                (1, 9, 9, 6, 5, 70),
            ]);
        }
        for path in paths() {
            for (seed, &(images, h, w, c, k, f)) in shapes.iter().enumerate() {
                let (windows, taps) = convolution(images, h, w, c, k);
                let image = values(images * h * w * c, seed as u64);
                let (weights, bias) = (values(taps.len() * f, 3), values(f, 4));
                let (windows_t, taps_t) =
                    (Offsets::new(windows.clone()), Offsets::new(taps.clone()));
                // Forward: runs along k, `A` packed run by run.
                let mut y = vec![f32::NAN; windows.len() * f];
                Gather {
                    n: f,
                    a: &image,
                    rows: &windows_t,
                    cols: &taps_t,
                    b: &weights,
                    ldb: f,
                    bias: Some(&bias),
                    c: &mut y,
                    ldc: f,
                }
                .run_bf16(path);
                let a = |i, kk| image[windows[i] + taps[kk]];
                let b = |kk, j| weights[kk * f + j];
                check(
                    "convolution",
                    path,
                    windows.len(),
                    f,
                    taps.len(),
                    a,
                    b,
                    Some(&bias),
                    &y,
                    f,
                );
                // Weight gradient: runs along i, computed transposed into a C with wider rows.
                let dz = values(windows.len() * f, 5 + seed as u64);
                let mut dw = vec![f32::NAN; taps.len() * (f + 1)];
                Gather {
                    n: f,
                    a: &image,
                    rows: &taps_t,
                    cols: &windows_t,
                    b: &dz,
                    ldb: f,
                    bias: None,
                    c: &mut dw,
                    ldc: f + 1,
                }
                .run_bf16(path);
                let a = |i, kk| image[taps[i] + windows[kk]];
                let b = |kk, j| dz[kk * f + j];
                check(
                    "weight gradient",
                    path,
                    taps.len(),
                    f,
                    windows.len(),
                    a,
                    b,
                    None,
                    &dw,
                    f + 1,
                );
                assert!(
                    dw.chunks_exact(f + 1).all(|row| row[f].is_nan()),
                    "past a row's end"
                );
            }
        }
    }

    #[test]
    fn runs_of_consecutive_offsets() {
        let mut spans = [(0, 0); 8];
        let count = runs(&[4, 5, 6, 10, 3, 4, 9], &mut spans);
        assert_eq!(&spans[..count], &[(0, 3), (3, 1), (4, 2), (6, 1)]);
        assert_eq!(runs(&[], &mut spans), 0);
        assert_eq!(Offsets::new(vec![4, 5, 6, 10, 3, 4, 9]).runs(), 4);
        assert_eq!(Offsets::new(vec![]).runs(), 0);
    }

    #[test]
    fn rounding_is_to_nearest_even_and_keeps_nan_and_infinities() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // Halfway between 1 and the next bf16 (1 + 2^-7): ties to the even 1.
        assert_eq!(round_bf16(1.0 + 1.0 / 256.0), 1.0);
        // Halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one.
        assert_eq!(round_bf16(1.0 + 3.0 / 256.0), 1.0 + 1.0 / 64.0);
        assert_eq!(round_bf16(1.0 + 1.0 / 256.0 + 1e-6), 1.0 + 1.0 / 128.0);
        assert_eq!(round_bf16(-2.5), -2.5);
        assert_eq!(round_bf16(f32::INFINITY), f32::INFINITY);
        assert_eq!(round_bf16(f32::NEG_INFINITY), f32::NEG_INFINITY);
        assert_eq!(round_bf16(f32::MAX), f32::INFINITY);
        assert!(round_bf16(f32::NAN).is_nan());
        // A NaN whose payload lies only in the low half stays NaN, not infinity.
        assert!(round_bf16(f32::from_bits(0x7f80_0001)).is_nan());
        for x in values(1000, 1) {
            let r = round_bf16(x);
            assert!((r - x).abs() <= x.abs() / 256.0, "{x} rounds to {r}");
        }
    }

    #[test]
    fn a_request_names_a_bf16_path_or_f32_products() {
        let all = |_: Bf16Path| true;
        let avx = |path: Bf16Path| path != Bf16Path::Amx;
        let none = |path: Bf16Path| path == Bf16Path::Portable;
        assert_eq!(Bf16Path::choose(None, all), (Some(Bf16Path::Amx), None));
        assert_eq!(
            Bf16Path::choose(None, avx),
            (Some(Bf16Path::Avx512Bf16), None)
        );
        assert_eq!(Bf16Path::choose(None, none), (None, None));
        assert_eq!(
            Bf16Path::choose(Some(" AVX512BF16"), all),
            (Some(Bf16Path::Avx512Bf16), None)
        );
        assert_eq!(
            Bf16Path::choose(Some("portable"), none),
            (Some(Bf16Path::Portable), None)
        );
        assert_eq!(Bf16Path::choose(Some("avx512"), all), (None, None));
        let (path, warning) = Bf16Path::choose(Some("amx"), avx);
        assert_eq!(path, None);
        assert!(warning.unwrap().contains("this CPU cannot run amx"));
    }
}
