//! Register-blocked matrix products, written once over [`Simd`] and compiled for each path: for
//! AVX-512, for AVX2+FMA (each behind `#[target_feature]`), for NEON on aarch64 and portably.
//!
//! Two shapes cover a dense layer:
//!
//! - [`Product`]: `C = init + A · B` with `B` row-major. `A` is addressed through strides, so the
//!   same kernel computes `X · W` (the forward pass, `A = X`) and `Xᵀ · dZ` (the weight gradient,
//!   `A = Xᵀ` read column-wise from `X`).
//! - [`Dots`]: `C = A · Btᵀ` where both operands are contiguous along the summed axis: the input
//!   gradient `dZ · Wᵀ`, whose rows of `W` are the rows of `Bt`.
//! - [`Gather`]: `C = init + A · B` where `A(i, k) = a[rows[i] + cols[k]]` through two tables of
//!   [`Offsets`]: a convolution's patches read in place from the image (implicit im2col), so
//!   that no patch matrix is written out.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

#[cfg(feature = "alloc")]
use super::bf16::Precision;
use super::bf16::{Bf16Path, Bf16Product, Operand};
use super::isa::Isa;
use super::simd::Simd;

/// The most vectors of `C` columns one micro-kernel computes. Each entry point picks its tile,
/// `R` rows (samples, for the forward pass) by `NV <= MAX_VECTORS` vectors, so that the `R × NV`
/// accumulators, `NV` vectors of `B` and a broadcast fit the instruction set's registers: 6 × 4
/// of AVX-512's 32 (and of NEON's 32), 6 × 2 of AVX2's 16, 4 × 1 of the portable path's 8-lane
/// arrays.
const MAX_VECTORS: usize = 4;
/// Rows of `B` summed before the accumulators go back to memory, so that a `KC × 64` panel of `B`
/// (24 KiB with AVX-512) stays in the L1 cache while every row block of `A` passes over it.
const KC: usize = 96;

/// `C[i][j] = init[j] + Σ_k A(i, k) · B[k][j]` for `i < m`, `j < n`, `k < k_len`, where
/// `A(i, k) = a[i · a_row + k · a_col]`, `init` is `bias` or zero, and `B`, `C` are row-major
/// with row strides `ldb`, `ldc`.
pub(crate) struct Product<'a> {
    /// Rows of `C`.
    pub m: usize,
    /// Columns of `C`.
    pub n: usize,
    /// The summed dimension.
    pub k: usize,
    /// `A`'s elements.
    pub a: &'a [f32],
    /// Distance in `a` between consecutive rows of `A`.
    pub a_row: usize,
    /// Distance in `a` between consecutive columns of `A`.
    pub a_col: usize,
    /// `B`, row-major.
    pub b: &'a [f32],
    /// Row stride of `B`.
    pub ldb: usize,
    /// Added to every row of `C` (at least `n` values), or zero.
    pub bias: Option<&'a [f32]>,
    /// `C`, row-major, overwritten.
    pub c: &'a mut [f32],
    /// Row stride of `C`.
    pub ldc: usize,
}

/// `C[i][j] = Σ_k A[i][k] · Bt[j][k]`, all row-major with row strides `lda`, `ldbt`, `ldc`.
pub(crate) struct Dots<'a> {
    /// Rows of `C`.
    pub m: usize,
    /// Columns of `C`.
    pub n: usize,
    /// The summed dimension.
    pub k: usize,
    /// `A`, row-major.
    pub a: &'a [f32],
    /// Row stride of `A`.
    pub lda: usize,
    /// `Bt`, row-major: row `j` of `Bt` is column `j` of `B`.
    pub bt: &'a [f32],
    /// Row stride of `Bt`.
    pub ldbt: usize,
    /// `C`, row-major, overwritten.
    pub c: &'a mut [f32],
    /// Row stride of `C`.
    pub ldc: usize,
}

/// Offsets into an operand's storage, with their largest value kept so that a [`Gather`] checks
/// its bounds in constant time.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug)]
pub(crate) struct Offsets {
    offsets: Box<[usize]>,
    max: usize,
    /// Runs of consecutive offsets (each one more than the one before).
    runs: usize,
}

#[cfg(feature = "alloc")]
impl Offsets {
    /// Wraps `offsets`.
    pub fn new(offsets: Vec<usize>) -> Self {
        let max = offsets.iter().copied().max().unwrap_or(0);
        let breaks = offsets.windows(2).filter(|w| w[1] != w[0].wrapping_add(1));
        Self {
            runs: usize::from(!offsets.is_empty()) + breaks.count(),
            offsets: offsets.into_boxed_slice(),
            max,
        }
    }

    /// How many runs of consecutive offsets there are: one for `0, 1, 2`, three for `0, 2, 4`.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// How many offsets there are.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// The offsets.
    pub fn as_slice(&self) -> &[usize] {
        &self.offsets
    }
}

/// `C[i][j] = init[j] + Σ_k a[rows[i] + cols[k]] · B[k][j]` for `i < rows.len()`,
/// `j < n`, `k < cols.len()`: a [`Product`] whose `A` is gathered through offset tables.
///
/// With `rows` the top-left corner of each output pixel's window and `cols` the offset of each
/// tap within a window, `A` is the im2col matrix of a convolution without being written out;
/// swapped, it is that matrix transposed, for the weight gradient.
#[cfg(feature = "alloc")]
pub(crate) struct Gather<'a> {
    /// Columns of `C`.
    pub n: usize,
    /// The storage `A` is gathered from.
    pub a: &'a [f32],
    /// Where each row of `A` starts in `a`: one offset per row of `C`.
    pub rows: &'a Offsets,
    /// Added to a row's start for each column of `A`: one offset per row of `B`.
    pub cols: &'a Offsets,
    /// `B`, row-major.
    pub b: &'a [f32],
    /// Row stride of `B`.
    pub ldb: usize,
    /// Added to every row of `C` (at least `n` values), or zero.
    pub bias: Option<&'a [f32]>,
    /// `C`, row-major, overwritten.
    pub c: &'a mut [f32],
    /// Row stride of `C`.
    pub ldc: usize,
}

/// Whether `rows × cols` elements with row stride `row` and column stride `col` fit in `len`:
/// the last one, `(rows - 1) · row + (cols - 1) · col`, is below `len`. An offset that
/// overflows `usize` is out of bounds, never a wrapped small number.
fn fits(len: usize, rows: usize, cols: usize, row: usize, col: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let last = (rows - 1)
        .checked_mul(row)
        .zip((cols - 1).checked_mul(col))
        .and_then(|(r, c)| r.checked_add(c));
    last.is_some_and(|last| last < len)
}

impl Product<'_> {
    /// Computes the product with the selected instruction set.
    ///
    /// # Panics
    ///
    /// If a stride or size would take an operand out of its slice.
    pub fn run(&mut self, isa: Isa) {
        assert!(
            fits(self.a.len(), self.m, self.k, self.a_row, self.a_col),
            "A out of bounds"
        );
        assert!(
            fits(self.b.len(), self.k, self.n, self.ldb, 1),
            "B out of bounds"
        );
        assert!(
            fits(self.c.len(), self.m, self.n, self.ldc, 1),
            "C out of bounds"
        );
        assert!(
            self.bias.is_none_or(|bias| bias.len() >= self.n),
            "bias out of bounds"
        );
        let (m, k) = (self.m, self.k);
        let ops = Operands {
            a: self.a.as_ptr(),
            rows: Stride(self.a_row),
            cols: Stride(self.a_col),
            b: self.b.as_ptr(),
            ldb: self.ldb,
            bias: self.bias.map(<[f32]>::as_ptr),
            c: self.c.as_mut_ptr(),
            ldc: self.ldc,
        };
        // SAFETY: the asserts above keep every access in bounds: each offset the kernels
        // compute is at most an operand's last one, which `fits` computed without overflow.
        unsafe { dispatch(isa, ops, m, self.n, k) }
    }

    /// Computes the product in `precision` ([`Isa::selected`] for f32).
    #[cfg(feature = "alloc")]
    pub fn run_in(&mut self, precision: Precision) {
        match precision.bf16_path() {
            Some(path) => self.run_bf16(path),
            None => self.run(Isa::selected()),
        }
    }

    /// Computes the product with bf16 operands on `path`.
    ///
    /// # Panics
    ///
    /// If a stride or size would take an operand out of its slice.
    pub fn run_bf16(&mut self, path: Bf16Path) {
        Bf16Product {
            m: self.m,
            n: self.n,
            k: self.k,
            a: Operand::Strided {
                a: self.a,
                row: self.a_row,
                col: self.a_col,
            },
            b: Operand::Strided {
                a: self.b,
                row: self.ldb,
                col: 1,
            },
            bias: self.bias,
            c: &mut *self.c,
            ldc: self.ldc,
            c_col: 1,
        }
        .run(path);
    }
}

#[cfg(feature = "alloc")]
impl Gather<'_> {
    /// Computes the product with the selected instruction set.
    ///
    /// # Panics
    ///
    /// If an offset or size would take an operand out of its slice.
    pub fn run(&mut self, isa: Isa) {
        let (m, k) = (self.rows.len(), self.cols.len());
        assert!(
            m == 0
                || k == 0
                || (self.rows.max)
                    .checked_add(self.cols.max)
                    .is_some_and(|last| last < self.a.len()),
            "A out of bounds"
        );
        assert!(
            fits(self.b.len(), k, self.n, self.ldb, 1),
            "B out of bounds"
        );
        assert!(
            fits(self.c.len(), m, self.n, self.ldc, 1),
            "C out of bounds"
        );
        assert!(
            self.bias.is_none_or(|bias| bias.len() >= self.n),
            "bias out of bounds"
        );
        let ops = Operands {
            a: self.a.as_ptr(),
            rows: Table(self.rows.offsets.as_ptr()),
            cols: Table(self.cols.offsets.as_ptr()),
            b: self.b.as_ptr(),
            ldb: self.ldb,
            bias: self.bias.map(<[f32]>::as_ptr),
            c: self.c.as_mut_ptr(),
            ldc: self.ldc,
        };
        // SAFETY: the asserts above keep every access in bounds: every `rows[i] + cols[k]` is at
        // most `rows.max + cols.max`, which does not overflow.
        unsafe { dispatch(isa, ops, m, self.n, k) }
    }

    /// Computes the product in `precision` ([`Isa::selected`] for f32).
    pub fn run_in(&mut self, precision: Precision) {
        match precision.bf16_path() {
            Some(path) => self.run_bf16(path),
            None => self.run(Isa::selected()),
        }
    }

    /// Computes the product with bf16 operands on `path`.
    ///
    /// # Panics
    ///
    /// If an offset or size would take an operand out of its slice.
    pub fn run_bf16(&mut self, path: Bf16Path) {
        let (rows, cols) = (self.rows.as_slice(), self.cols.as_slice());
        // Rounding gathers `A` into packed blocks, a run of consecutive offsets at a time; the
        // runs are along `k` in a convolution's forward pass (a window row's columns and
        // channels) but along `i` in its weight gradient (the taps), where the product runs
        // transposed, `Cᵀ = Bᵀ · Aᵀ`, with `Aᵀ` gathered as the right operand.
        if self.bias.is_none() && self.rows.runs() * cols.len() < self.cols.runs() * rows.len() {
            Bf16Product {
                m: self.n,
                n: rows.len(),
                k: cols.len(),
                a: Operand::Strided {
                    a: self.b,
                    row: 1,
                    col: self.ldb,
                },
                b: Operand::Gathered {
                    a: self.a,
                    rows: cols,
                    cols: rows,
                },
                bias: None,
                c: &mut *self.c,
                ldc: 1,
                c_col: self.ldc,
            }
            .run(path);
            return;
        }
        Bf16Product {
            m: rows.len(),
            n: self.n,
            k: cols.len(),
            a: Operand::Gathered {
                a: self.a,
                rows,
                cols,
            },
            b: Operand::Strided {
                a: self.b,
                row: self.ldb,
                col: 1,
            },
            bias: self.bias,
            c: &mut *self.c,
            ldc: self.ldc,
            c_col: 1,
        }
        .run(path);
    }
}

/// Runs [`product`] on `isa`'s micro-kernels.
///
/// # Safety
///
/// Every access `ops` makes for an `m × n` result summed over `k` is in bounds.
unsafe fn dispatch<RI: Index, CI: Index>(
    isa: Isa,
    ops: Operands<RI, CI>,
    m: usize,
    n: usize,
    k: usize,
) {
    match isa {
        // SAFETY: in bounds by the caller, and `isa` is only `Avx512` where
        // `Isa::is_supported` said so (the guard checks it).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => unsafe { product_avx512(ops, m, n, k) },
        // SAFETY: as above, for AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => unsafe { product_avx2(ops, m, n, k) },
        // SAFETY: in bounds by the caller; #[cfg(all(target_arch = "aarch64", target_feature = "neon"))] is enabled for the whole build (see `Neon`).
        // Its 32 registers hold 6 × 4 accumulators, as AVX-512's do.
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        Isa::Neon => unsafe { product::<super::simd::Neon, 6, 4, RI, CI>(ops, m, n, k) },
        // SAFETY: in bounds as above; the portable path needs no CPU feature.
        _ => unsafe { product::<super::simd::Portable, 4, 1, RI, CI>(ops, m, n, k) },
    }
}

impl Dots<'_> {
    /// Computes the dot products with the selected instruction set.
    ///
    /// # Panics
    ///
    /// If a stride or size would take an operand out of its slice.
    pub fn run(&mut self, isa: Isa) {
        assert!(
            fits(self.a.len(), self.m, self.k, self.lda, 1),
            "A out of bounds"
        );
        assert!(
            fits(self.bt.len(), self.n, self.k, self.ldbt, 1),
            "Bt out of bounds"
        );
        assert!(
            fits(self.c.len(), self.m, self.n, self.ldc, 1),
            "C out of bounds"
        );
        match isa {
            // SAFETY: in bounds by the asserts; AVX-512 checked as for `Product::run`.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if isa.is_supported() => unsafe { dots_avx512(self) },
            // SAFETY: as above, for AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma if isa.is_supported() => unsafe { dots_avx2(self) },
            // SAFETY: in bounds by the asserts; #[cfg(all(target_arch = "aarch64", target_feature = "neon"))] is enabled for the whole build.
            #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
            Isa::Neon => unsafe { dots::<super::simd::Neon>(self) },
            // SAFETY: in bounds as above; no CPU feature needed.
            _ => unsafe { dots::<super::simd::Portable>(self) },
        }
    }

    /// Computes the dot products with bf16 operands on `path`: `B(k, j) = Bt[j][k]`.
    ///
    /// # Panics
    ///
    /// If a stride or size would take an operand out of its slice.
    pub fn run_bf16(&mut self, path: Bf16Path) {
        Bf16Product {
            m: self.m,
            n: self.n,
            k: self.k,
            a: Operand::Strided {
                a: self.a,
                row: self.lda,
                col: 1,
            },
            b: Operand::Strided {
                a: self.bt,
                row: 1,
                col: self.ldbt,
            },
            bias: None,
            c: &mut *self.c,
            ldc: self.ldc,
            c_col: 1,
        }
        .run(path);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn product_avx512<RI: Index, CI: Index>(
    ops: Operands<RI, CI>,
    m: usize,
    n: usize,
    k: usize,
) {
    // SAFETY: forwarded from the caller: in bounds, AVX-512F supported and enabled here.
    unsafe { product::<super::simd::Avx512, 6, 4, RI, CI>(ops, m, n, k) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn product_avx2<RI: Index, CI: Index>(ops: Operands<RI, CI>, m: usize, n: usize, k: usize) {
    // SAFETY: forwarded from the caller: in bounds, AVX2 and FMA supported and enabled here.
    unsafe { product::<super::simd::Avx2Fma, 6, 2, RI, CI>(ops, m, n, k) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dots_avx512(d: &mut Dots) {
    // SAFETY: forwarded from the caller.
    unsafe { dots::<super::simd::Avx512>(d) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dots_avx2(d: &mut Dots) {
    // SAFETY: forwarded from the caller.
    unsafe { dots::<super::simd::Avx2Fma>(d) }
}

/// How the micro-kernels find `A(i, k)`: at `a[rows.at(i) + cols.at(k)]`.
trait Index: Copy {
    /// The `i`-th offset.
    ///
    /// # Safety
    ///
    /// `i` within the table, for a [`Table`].
    unsafe fn at(self, i: usize) -> usize;
}

/// Offsets `i · stride`.
#[derive(Clone, Copy)]
struct Stride(usize);

impl Index for Stride {
    #[inline(always)]
    unsafe fn at(self, i: usize) -> usize {
        i * self.0
    }
}

/// Offsets read from the table of an [`Offsets`].
#[cfg(feature = "alloc")]
#[derive(Clone, Copy)]
struct Table(*const usize);

#[cfg(feature = "alloc")]
impl Index for Table {
    #[inline(always)]
    unsafe fn at(self, i: usize) -> usize {
        // SAFETY: the caller keeps `i` within the table.
        unsafe { *self.0.add(i) }
    }
}

/// Raw pointers and addressing of a [`Product`] or [`Gather`], for the micro-kernels.
#[derive(Clone, Copy)]
struct Operands<RI, CI> {
    a: *const f32,
    rows: RI,
    cols: CI,
    b: *const f32,
    ldb: usize,
    bias: Option<*const f32>,
    c: *mut f32,
    ldc: usize,
}

/// `C = init + A · B` for an `m × n` result summed over `k`, in `R`-row tiles.
///
/// # Safety
///
/// Every access of `ops` in bounds (checked by [`Product::run`] or [`Gather::run`]) and `S`
/// usable here; `1 <= NV <= MAX_VECTORS`.
#[inline(always)]
unsafe fn product<S: Simd, const R: usize, const NV: usize, RI: Index, CI: Index>(
    ops: Operands<RI, CI>,
    m: usize,
    n: usize,
    k: usize,
) {
    let block = NV * S::LANES;
    // One pass even when k is 0, so that C still receives its initial value.
    let mut k0 = 0;
    loop {
        let k1 = (k0 + KC).min(k);
        let first = k0 == 0;
        for col in (0..n).step_by(block) {
            let width = block.min(n - col);
            let vectors = width.div_ceil(S::LANES);
            // SAFETY: `1 <= valid <= LANES` for each mask; the trait contract holds here.
            let masks: [S::Mask; MAX_VECTORS] = core::array::from_fn(|v| unsafe {
                S::mask((width.saturating_sub(v * S::LANES)).clamp(1, S::LANES))
            });
            // SAFETY: columns `col..col + width` are in bounds, `vectors <= NV`; a single
            // vector needs few accumulators, so its tiles can take twice the rows (12 × 1 fits
            // the registers of AVX-512 and AVX2 alike) and share each load of B among them.
            unsafe {
                if vectors == 1 && R * NV >= 12 {
                    column_block::<S, 12, 1, RI, CI>(ops, m, col, k0..k1, 1, &masks, first);
                } else {
                    column_block::<S, R, NV, RI, CI>(ops, m, col, k0..k1, vectors, &masks, first);
                }
            }
        }
        if k1 >= k {
            break;
        }
        k0 = k1;
    }
}

/// Every row of one block of columns: `R`-row tiles, then the rows left over in the largest
/// tiles that fit.
///
/// # Safety
///
/// As for [`tile`], for rows `0..m` and the block's `vectors <= NV` column vectors.
#[inline(always)]
unsafe fn column_block<S: Simd, const R: usize, const NV: usize, RI: Index, CI: Index>(
    ops: Operands<RI, CI>,
    m: usize,
    col: usize,
    k: core::ops::Range<usize>,
    vectors: usize,
    masks: &[S::Mask; MAX_VECTORS],
    first: bool,
) {
    let mut row = 0;
    // SAFETY: for each call, rows `row..row + rows` are below `m`; the rest as the caller says.
    unsafe {
        while row + R <= m {
            tile_for_width::<S, R, NV, RI, CI>(ops, row, col, k.clone(), vectors, masks, first);
            row += R;
        }
        if R > 6 && row + 6 <= m {
            tile_for_width::<S, 6, NV, RI, CI>(ops, row, col, k.clone(), vectors, masks, first);
            row += 6;
        }
        if R > 4 && row + 4 <= m {
            tile_for_width::<S, 4, NV, RI, CI>(ops, row, col, k.clone(), vectors, masks, first);
            row += 4;
        }
        if row + 2 <= m {
            tile_for_width::<S, 2, NV, RI, CI>(ops, row, col, k.clone(), vectors, masks, first);
            row += 2;
        }
        while row < m {
            tile_for_width::<S, 1, NV, RI, CI>(ops, row, col, k.clone(), vectors, masks, first);
            row += 1;
        }
    }
}

/// Picks the micro-kernel for the number of column vectors of this block.
///
/// # Safety
///
/// As for [`tile`], with `vectors <= NV`.
#[inline(always)]
unsafe fn tile_for_width<S: Simd, const R: usize, const NV: usize, RI: Index, CI: Index>(
    ops: Operands<RI, CI>,
    row: usize,
    col: usize,
    k: core::ops::Range<usize>,
    vectors: usize,
    masks: &[S::Mask; MAX_VECTORS],
    first: bool,
) {
    // SAFETY: forwarded; the block's `vectors` column vectors are in bounds under their masks.
    unsafe {
        match vectors {
            v if v >= NV => tile::<S, R, NV, RI, CI>(ops, row, col, k, masks, first),
            1 => tile::<S, R, 1, RI, CI>(ops, row, col, k, masks, first),
            2 => tile::<S, R, 2, RI, CI>(ops, row, col, k, masks, first),
            _ => tile::<S, R, 3, RI, CI>(ops, row, col, k, masks, first),
        }
    }
}

/// The micro-kernel: an `R × NV·LANES` block of `C` at (`row`, `col`), summed over `k`, its
/// accumulators in registers. The first pass over `k` starts from the bias (or zero), later
/// passes from what `C` holds.
///
/// # Safety
///
/// The block, its rows of `A` over `k` and its columns of `B` must be in bounds under `masks`,
/// and `S` usable here.
#[inline(always)]
unsafe fn tile<S: Simd, const R: usize, const NV: usize, RI: Index, CI: Index>(
    ops: Operands<RI, CI>,
    row: usize,
    col: usize,
    k: core::ops::Range<usize>,
    masks: &[S::Mask; MAX_VECTORS],
    first: bool,
) {
    // SAFETY: in the whole body, every pointer stays within the block the caller vouches
    // for; the trait contract holds because the caller runs with `S`'s target features.
    unsafe {
        let c = ops.c.add(row * ops.ldc + col);
        let mut acc: [[S::V; NV]; R] = [[S::zero(); NV]; R];
        for (r, acc_row) in acc.iter_mut().enumerate() {
            for (v, a) in acc_row.iter_mut().enumerate() {
                *a = match (first, ops.bias) {
                    (false, _) => S::load(c.add(r * ops.ldc + v * S::LANES), masks[v]),
                    (true, Some(bias)) => S::load(bias.add(col + v * S::LANES), masks[v]),
                    (true, None) => S::zero(),
                };
            }
        }
        // Where each of the tile's rows of A starts; `ops.cols` adds the column.
        let starts: [usize; R] = core::array::from_fn(|r| ops.rows.at(row + r));
        let fma_row = |acc: &mut [[S::V; NV]; R], kk: usize, a_k: [f32; R]| {
            let b = ops.b.add(kk * ops.ldb + col);
            let b_k: [S::V; NV] = core::array::from_fn(|v| S::load(b.add(v * S::LANES), masks[v]));
            for r in 0..R {
                let x = S::splat(a_k[r]);
                for v in 0..NV {
                    acc[r][v] = S::mul_add(x, b_k[v], acc[r][v]);
                }
            }
        };
        if R == 1 {
            // A single row (one sample, as in `predict`) skips its zero inputs: MNIST pixels and
            // relu outputs are mostly zero, and each skip saves reading a row of B. The nonzero
            // positions are listed first without branches, so the data's pattern of zeros costs
            // no mispredictions. (With several rows, zeros rarely line up across all of them.)
            // Only whole offsets are added to `ops.a`: with `k` empty, the row's start alone may
            // lie past the end of `a`.
            let mut nonzero = [0_usize; KC];
            let mut count = 0;
            let at = |kk: usize| ops.a.add(starts[0] + ops.cols.at(kk));
            for kk in k {
                nonzero[count] = kk;
                count += usize::from(*at(kk) != 0.0);
            }
            for &kk in &nonzero[..count] {
                fma_row(&mut acc, kk, [*at(kk); R]);
            }
        } else {
            for kk in k {
                let col = ops.a.add(ops.cols.at(kk));
                fma_row(&mut acc, kk, core::array::from_fn(|r| *col.add(starts[r])));
            }
        }
        for (r, acc_row) in acc.iter().enumerate() {
            for (v, a) in acc_row.iter().enumerate() {
                S::store(c.add(r * ops.ldc + v * S::LANES), *a, masks[v]);
            }
        }
    }
}

/// Dot products, four columns of `C` at a time sharing each load of `A`.
///
/// # Safety
///
/// Every operand of `d` in bounds (checked by [`Dots::run`]) and `S` usable here.
#[inline(always)]
unsafe fn dots<S: Simd>(d: &mut Dots) {
    const GROUP: usize = 4;
    // SAFETY: in the whole body, indices stay below m, n, k, which `Dots::run` checked
    // against the slices; masks enable only the lanes below k. Rows of `A` and `Bt` are only
    // addressed at an element `k0 < k`: with `k` zero, `a` and `bt` may be empty.
    unsafe {
        let (a, bt, c) = (d.a.as_ptr(), d.bt.as_ptr(), d.c.as_mut_ptr());
        for i in 0..d.m {
            for j0 in (0..d.n).step_by(GROUP) {
                let group = GROUP.min(d.n - j0);
                let mut acc = [S::zero(); GROUP];
                for k0 in (0..d.k).step_by(S::LANES) {
                    let mask = S::mask(S::LANES.min(d.k - k0));
                    let x = S::load(a.add(i * d.lda + k0), mask);
                    for (g, acc) in acc.iter_mut().enumerate().take(group) {
                        let y = S::load(bt.add((j0 + g) * d.ldbt + k0), mask);
                        *acc = S::mul_add(x, y, *acc);
                    }
                }
                for (g, acc) in acc.iter().enumerate().take(group) {
                    *c.add(i * d.ldc + j0 + g) = S::reduce(*acc);
                }
            }
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    //! A literal product through offset tables, and arguments whose bounds wrap around
    //! `usize`: each must be refused, never run.

    use super::*;

    #[test]
    fn gather_of_literal_values() {
        // A 1-D "image" [1, 2, 3, 4] convolved with the 2-tap filter [10, 1]: windows start at
        // 0, 1 and 2.
        let image = [1.0, 2.0, 3.0, 4.0];
        for isa in Isa::supported() {
            let mut y = [0.0; 3];
            Gather {
                n: 1,
                a: &image,
                rows: &Offsets::new(vec![0, 1, 2]),
                cols: &Offsets::new(vec![0, 1]),
                b: &[10.0, 1.0],
                ldb: 1,
                bias: None,
                c: &mut y,
                ldc: 1,
            }
            .run(isa);
            assert_eq!(y, [12.0, 23.0, 34.0], "{}", isa.name());
        }
    }

    /// With nothing to sum, `C` receives its initial value, and `A`, which may be empty, is not
    /// addressed at all: not even a row's start, which Miri would report past its allocation.
    #[test]
    fn products_over_nothing_write_their_initial_value() {
        for isa in Isa::supported() {
            let mut c = [9.0; 6];
            Product {
                m: 3,
                n: 2,
                k: 0,
                a: &[],
                a_row: 5,
                a_col: 1,
                b: &[],
                ldb: 2,
                bias: Some(&[1.0, 2.0]),
                c: &mut c,
                ldc: 2,
            }
            .run(isa);
            assert_eq!(c, [1.0, 2.0, 1.0, 2.0, 1.0, 2.0], "{} product", isa.name());

            let mut c = [9.0; 6];
            Dots {
                m: 2,
                n: 3,
                k: 0,
                a: &[],
                lda: 4,
                bt: &[],
                ldbt: 4,
                c: &mut c,
                ldc: 3,
            }
            .run(isa);
            assert_eq!(c, [0.0; 6], "{} dots", isa.name());
        }
    }

    const HALF: usize = 1 << 63;

    fn product(m: usize, n: usize, k: usize, strides: [usize; 4], lens: [usize; 3]) {
        let [a_row, a_col, ldb, ldc] = strides;
        Product {
            m,
            n,
            k,
            a: &vec![1.0; lens[0]],
            a_row,
            a_col,
            b: &vec![1.0; lens[1]],
            ldb,
            bias: None,
            c: &mut vec![0.0; lens[2]],
            ldc,
        }
        .run(Isa::selected());
    }

    #[test]
    #[should_panic(expected = "A out of bounds")]
    fn product_refuses_an_a_whose_extent_wraps() {
        // (2 - 1) · usize::MAX + (2 - 1) · 1 wraps to 0 < 1: A(1, 0) would be a[-1].
        product(2, 1, 2, [usize::MAX, 1, 1, 1], [1, 2, 2]);
    }

    #[test]
    #[should_panic(expected = "A out of bounds")]
    fn product_refuses_an_a_whose_row_stride_times_rows_wraps() {
        // (3 - 1) · 2⁶³ wraps to 0 < 1.
        product(3, 1, 1, [HALF, 1, 1, 1], [1, 1, 3]);
    }

    #[test]
    #[should_panic(expected = "B out of bounds")]
    fn product_refuses_a_b_whose_extent_wraps() {
        // (2 - 1) · usize::MAX + (2 - 1) wraps to 0 < 1.
        product(1, 2, 2, [2, 1, usize::MAX, 2], [2, 1, 2]);
    }

    #[test]
    #[should_panic(expected = "C out of bounds")]
    fn product_refuses_a_c_whose_extent_wraps() {
        // (3 - 1) · 2⁶³ wraps to 0 < 1: rows 1 and 2 of C would be written outside it.
        product(3, 1, 1, [1, 1, 1, HALF], [3, 1, 1]);
    }

    fn dots(m: usize, n: usize, k: usize, strides: [usize; 3], lens: [usize; 3]) {
        let [lda, ldbt, ldc] = strides;
        Dots {
            m,
            n,
            k,
            a: &vec![1.0; lens[0]],
            lda,
            bt: &vec![1.0; lens[1]],
            ldbt,
            c: &mut vec![0.0; lens[2]],
            ldc,
        }
        .run(Isa::selected());
    }

    #[test]
    #[should_panic(expected = "A out of bounds")]
    fn dots_refuse_an_a_whose_extent_wraps() {
        // (2 - 1) · usize::MAX + (2 - 1) wraps to 0 < 1.
        dots(2, 1, 2, [usize::MAX, 2, 1], [1, 2, 2]);
    }

    #[test]
    #[should_panic(expected = "Bt out of bounds")]
    fn dots_refuse_a_bt_whose_extent_wraps() {
        // (3 - 1) · 2⁶³ wraps to 0 < 1.
        dots(1, 3, 1, [1, HALF, 3], [1, 1, 3]);
    }

    #[test]
    #[should_panic(expected = "C out of bounds")]
    fn dots_refuse_a_c_whose_extent_wraps() {
        // (2 - 1) · usize::MAX + (2 - 1) wraps to 0 < 1.
        dots(2, 2, 1, [1, 1, usize::MAX], [2, 2, 1]);
    }

    fn gather(
        rows: Vec<usize>,
        cols: Vec<usize>,
        n: usize,
        ldb: usize,
        ldc: usize,
        lens: [usize; 3],
    ) {
        Gather {
            n,
            a: &vec![1.0; lens[0]],
            rows: &Offsets::new(rows),
            cols: &Offsets::new(cols),
            b: &vec![1.0; lens[1]],
            ldb,
            bias: None,
            c: &mut vec![0.0; lens[2]],
            ldc,
        }
        .run(Isa::selected());
    }

    #[test]
    #[should_panic(expected = "A out of bounds")]
    fn gather_refuses_offsets_whose_sum_wraps() {
        // rows.max + cols.max = usize::MAX + 1 wraps to 0 < 4: A(1, 0) would be a[-1].
        gather(vec![0, usize::MAX], vec![0, 1], 1, 1, 1, [4, 2, 2]);
    }

    #[test]
    #[should_panic(expected = "B out of bounds")]
    fn gather_refuses_a_b_whose_extent_wraps() {
        // (3 - 1) · 2⁶³ wraps to 0 < 1.
        gather(vec![0], vec![0, 0, 0], 1, HALF, 1, [1, 1, 1]);
    }

    #[test]
    #[should_panic(expected = "C out of bounds")]
    fn gather_refuses_a_c_whose_extent_wraps() {
        // (2 - 1) · usize::MAX + (2 - 1) wraps to 0 < 1.
        gather(vec![0, 0], vec![0], 2, 2, usize::MAX, [1, 2, 1]);
    }
}
