//! The matrix products of a dense layer, apart from the layer math.
//!
//! Shapes follow the layer: a batch `x` is `[[f32; I]; B]` (one row per sample) and weights
//! are `[[f32; O]; I]` (one row per input), so the inner loops run along contiguous output rows.
//! Each product runs on the fastest instruction set the CPU offers ([`Isa::selected`], decided
//! once per process): register-blocked AVX-512, AVX2+FMA or (on aarch64) NEON micro-kernels, or
//! a portable path.
//! [`reference`](mod@reference) holds the plain triple loops every path is tested against; the paths agree with
//! it to a relative error of about `1e-6 · √k` for sums of `k` products.
//!
//! Public are the entry points whose every argument is sound by its type: products over arrays
//! sized by const generics, elementwise kernels over slices of one length, [`Isa`] and
//! [`peak_flops`]. The slice-level kernels the layers are built on (products through strides or
//! offset tables, single-channel convolutions, col2im, column sums) take their geometry as
//! run-time numbers; they check it (with checked arithmetic: an overflow is out of bounds) but
//! stay crate-private, so the layers are their only callers and their signatures can change with
//! the layers.

// The convolutions' and pools' kernels, reachable only from layers that need `alloc`.
#[cfg(feature = "alloc")]
mod accumulate;
mod bf16;
/// The recurrent layers' gates, reachable only from layers that need `alloc`.
#[cfg(feature = "alloc")]
mod cells;
mod elementwise;
mod gemm;
mod isa;
mod mat_vec;
/// Max pooling's rows, reachable only from the pool layer, which needs `alloc`.
#[cfg(feature = "alloc")]
mod maxima;
#[cfg(feature = "std")]
mod peak;
#[cfg(feature = "alloc")]
mod plane;
mod prefetch;
pub mod reference;
mod simd;
#[cfg(feature = "parallel")]
pub(crate) mod team;
/// Without `parallel`, the team is the calling thread alone, behind the same interface.
#[cfg(all(feature = "alloc", not(feature = "parallel")))]
#[path = "team_alone.rs"]
pub(crate) mod team;
/// The optimizers' updates.
#[cfg(feature = "alloc")]
pub(crate) mod updates;

#[cfg(feature = "alloc")]
pub(crate) use accumulate::{add_windows, column_sums};
pub use bf16::{Bf16Path, Precision, round_bf16};
pub use elementwise::{
    Piecewise, axpy, axpy_with, erf, erf_with, exp, exp_with, gelu, gelu_backprop,
    gelu_backprop_with, gelu_with, piecewise, piecewise_with, scale_bytes, scale_bytes_with,
    sigmoid, sigmoid_with, tanh, tanh_with,
};
pub use isa::Isa;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use peak::peak_flops;
#[cfg(feature = "alloc")]
pub(crate) use plane::Plane;
pub use prefetch::prefetch;

#[cfg(feature = "alloc")]
pub(crate) use cells::{gru_gates, gru_step, lstm_gates, lstm_step};
pub(crate) use gemm::{Dots, Product};
#[cfg(feature = "alloc")]
pub(crate) use gemm::{Gather, Offsets};
#[cfg(feature = "alloc")]
pub(crate) use mat_vec::mat_vec;
pub(crate) use mat_vec::{mat_vec_interleaved, splits};
#[cfg(feature = "alloc")]
pub(crate) use maxima::MaxRows;

/// `y[b] = bias + x[b] · W` for every sample `b` (bias taken as zero when absent).
#[inline]
pub fn affine<const I: usize, const O: usize, const B: usize>(
    x: &[[f32; I]; B],
    w: &[[f32; O]; I],
    bias: Option<&[f32; O]>,
    y: &mut [[f32; O]; B],
) {
    affine_with(Isa::selected(), x, w, bias, y);
}

/// [`affine`] on a given instruction set (the portable one if the CPU lacks it).
pub fn affine_with<const I: usize, const O: usize, const B: usize>(
    isa: Isa,
    x: &[[f32; I]; B],
    w: &[[f32; O]; I],
    bias: Option<&[f32; O]>,
    y: &mut [[f32; O]; B],
) {
    affine_rows(isa, x, w, bias, y);
}

/// [`affine_with`] on any number of rows: the steps of a batch of sequences, say.
///
/// # Panics
///
/// If `x` and `y` differ in length.
pub fn affine_rows<const I: usize, const O: usize>(
    isa: Isa,
    x: &[[f32; I]],
    w: &[[f32; O]; I],
    bias: Option<&[f32; O]>,
    y: &mut [[f32; O]],
) {
    assert_eq!(
        x.len(),
        y.len(),
        "`affine_rows`: one output row per input row"
    );
    Product {
        m: x.len(),
        n: O,
        k: I,
        a: x.as_flattened(),
        a_row: I,
        a_col: 1,
        b: w.as_flattened(),
        ldb: O,
        bias: bias.map(|b| &b[..]),
        c: y.as_flattened_mut(),
        ldc: O,
    }
    .run(isa);
}

/// `dW = xᵀ · dz`: the weight gradient of a batch, overwriting `dw`.
#[inline]
pub fn weight_gradient<const I: usize, const O: usize, const B: usize>(
    x: &[[f32; I]; B],
    dz: &[[f32; O]; B],
    dw: &mut [[f32; O]; I],
) {
    weight_gradient_with(Isa::selected(), x, dz, dw);
}

/// [`weight_gradient`] on a given instruction set (the portable one if the CPU lacks it).
pub fn weight_gradient_with<const I: usize, const O: usize, const B: usize>(
    isa: Isa,
    x: &[[f32; I]; B],
    dz: &[[f32; O]; B],
    dw: &mut [[f32; O]; I],
) {
    weight_gradient_rows(isa, x, dz, dw);
}

/// [`weight_gradient_with`] summed over any number of rows.
///
/// # Panics
///
/// If `x` and `dz` differ in length.
pub fn weight_gradient_rows<const I: usize, const O: usize>(
    isa: Isa,
    x: &[[f32; I]],
    dz: &[[f32; O]],
    dw: &mut [[f32; O]; I],
) {
    assert_eq!(
        x.len(),
        dz.len(),
        "`weight_gradient_rows`: one gradient row per input row"
    );
    // Row i of dW sums over the rows: A(i, b) = x[b][i], read down a column of x.
    Product {
        m: I,
        n: O,
        k: x.len(),
        a: x.as_flattened(),
        a_row: 1,
        a_col: I,
        b: dz.as_flattened(),
        ldb: O,
        bias: None,
        c: dw.as_flattened_mut(),
        ldc: O,
    }
    .run(isa);
}

/// `dx = dz · Wᵀ`: the gradient with respect to the layer's input, overwriting `dx`.
#[inline]
pub fn input_gradient<const I: usize, const O: usize, const B: usize>(
    dz: &[[f32; O]; B],
    w: &[[f32; O]; I],
    dx: &mut [[f32; I]; B],
) {
    input_gradient_with(Isa::selected(), dz, w, dx);
}

/// [`input_gradient`] on a given instruction set (the portable one if the CPU lacks it).
pub fn input_gradient_with<const I: usize, const O: usize, const B: usize>(
    isa: Isa,
    dz: &[[f32; O]; B],
    w: &[[f32; O]; I],
    dx: &mut [[f32; I]; B],
) {
    input_gradient_rows(isa, dz, w, dx);
}

/// [`input_gradient_with`] on any number of rows.
///
/// # Panics
///
/// If `dz` and `dx` differ in length.
pub fn input_gradient_rows<const I: usize, const O: usize>(
    isa: Isa,
    dz: &[[f32; O]],
    w: &[[f32; O]; I],
    dx: &mut [[f32; I]],
) {
    assert_eq!(
        dz.len(),
        dx.len(),
        "`input_gradient_rows`: one input row per gradient row"
    );
    let rows = dz.len();
    if O <= WT_MAX_OUTPUTS {
        // Few outputs: dot products of `O` terms would spend about as long reducing their
        // vectors as multiplying. Instead `dx = dz · Wᵀ` as a product, `Wᵀ` transposed a block
        // of input columns at a time into a stack buffer (at most 32 KiB).
        let mut wt = [[0.0; WT_BLOCK]; O];
        for i0 in (0..I).step_by(WT_BLOCK) {
            let cols = WT_BLOCK.min(I - i0);
            for (o, row) in wt.iter_mut().enumerate() {
                for (t, w_row) in row.iter_mut().zip(&w[i0..i0 + cols]) {
                    *t = w_row[o];
                }
            }
            Product {
                m: rows,
                n: cols,
                k: O,
                a: dz.as_flattened(),
                a_row: O,
                a_col: 1,
                b: wt.as_flattened(),
                ldb: WT_BLOCK,
                bias: None,
                c: &mut dx.as_flattened_mut()[i0..],
                ldc: I,
            }
            .run(isa);
        }
        return;
    }
    // dx[b][i] = dz[b] · W[i]: both rows are contiguous along the summed outputs.
    Dots {
        m: rows,
        n: I,
        k: O,
        a: dz.as_flattened(),
        lda: O,
        bt: w.as_flattened(),
        ldbt: O,
        c: dx.as_flattened_mut(),
        ldc: I,
    }
    .run(isa);
}

/// [`affine`] in `precision`: with [`Precision::Bf16`], `x` and `W` rounded to bf16, the bias
/// and the sums f32, on [`Bf16Path::selected`] (f32 products where it is `None`).
#[inline]
pub fn affine_in<const I: usize, const O: usize, const B: usize>(
    precision: Precision,
    x: &[[f32; I]; B],
    w: &[[f32; O]; I],
    bias: Option<&[f32; O]>,
    y: &mut [[f32; O]; B],
) {
    match precision.bf16_path() {
        Some(path) => affine_bf16_with(path, x, w, bias, y),
        None => affine(x, w, bias, y),
    }
}

/// [`affine`] with bf16 operands on a given bf16 path (the portable one if the CPU lacks it).
///
/// ```
/// use netdsl_core::kernels::{affine_bf16_with, Bf16Path};
///
/// let x = [[1.0, 2.0], [3.0, 4.0]];
/// let w = [[1.0, 0.5, 0.0], [0.25, 1.0, 2.0]];
/// let mut y = [[0.0; 3]; 2];
/// affine_bf16_with(Bf16Path::Portable, &x, &w, Some(&[1.0, 0.0, -1.0]), &mut y);
/// assert_eq!(y, [[2.5, 2.5, 3.0], [5.0, 5.5, 7.0]]); // exact: every value is a bf16
/// ```
pub fn affine_bf16_with<const I: usize, const O: usize, const B: usize>(
    path: Bf16Path,
    x: &[[f32; I]; B],
    w: &[[f32; O]; I],
    bias: Option<&[f32; O]>,
    y: &mut [[f32; O]; B],
) {
    Product {
        m: B,
        n: O,
        k: I,
        a: x.as_flattened(),
        a_row: I,
        a_col: 1,
        b: w.as_flattened(),
        ldb: O,
        bias: bias.map(|b| &b[..]),
        c: y.as_flattened_mut(),
        ldc: O,
    }
    .run_bf16(path);
}

/// [`weight_gradient`] in `precision` (see [`affine_in`]).
#[inline]
pub fn weight_gradient_in<const I: usize, const O: usize, const B: usize>(
    precision: Precision,
    x: &[[f32; I]; B],
    dz: &[[f32; O]; B],
    dw: &mut [[f32; O]; I],
) {
    match precision.bf16_path() {
        Some(path) => weight_gradient_bf16_with(path, x, dz, dw),
        None => weight_gradient(x, dz, dw),
    }
}

/// [`weight_gradient`] with bf16 operands on a given bf16 path.
pub fn weight_gradient_bf16_with<const I: usize, const O: usize, const B: usize>(
    path: Bf16Path,
    x: &[[f32; I]; B],
    dz: &[[f32; O]; B],
    dw: &mut [[f32; O]; I],
) {
    Product {
        m: I,
        n: O,
        k: B,
        a: x.as_flattened(),
        a_row: 1,
        a_col: I,
        b: dz.as_flattened(),
        ldb: O,
        bias: None,
        c: dw.as_flattened_mut(),
        ldc: O,
    }
    .run_bf16(path);
}

/// [`input_gradient`] in `precision` (see [`affine_in`]).
#[inline]
pub fn input_gradient_in<const I: usize, const O: usize, const B: usize>(
    precision: Precision,
    dz: &[[f32; O]; B],
    w: &[[f32; O]; I],
    dx: &mut [[f32; I]; B],
) {
    match precision.bf16_path() {
        Some(path) => input_gradient_bf16_with(path, dz, w, dx),
        None => input_gradient(dz, w, dx),
    }
}

/// [`input_gradient`] with bf16 operands on a given bf16 path.
pub fn input_gradient_bf16_with<const I: usize, const O: usize, const B: usize>(
    path: Bf16Path,
    dz: &[[f32; O]; B],
    w: &[[f32; O]; I],
    dx: &mut [[f32; I]; B],
) {
    Dots {
        m: B,
        n: I,
        k: O,
        a: dz.as_flattened(),
        lda: O,
        bt: w.as_flattened(),
        ldbt: O,
        c: dx.as_flattened_mut(),
        ldc: I,
    }
    .run_bf16(path);
}

/// Input columns of `Wᵀ` transposed at a time by [`input_gradient_with`].
const WT_BLOCK: usize = 64;
/// The most outputs for which [`input_gradient_with`] transposes `W` (LeNet-5's 400 → 120
/// layer: 130 → 65 µs a step); wider layers sum long enough dot products.
const WT_MAX_OUTPUTS: usize = 128;

/// `full` in a test run, `miri` under Miri, which interprets a few thousand operations in the
/// time a CPU runs billions: a sweep keeps its shape and its paths with fewer values.
#[cfg(test)]
const fn sized(full: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { full }
}

/// `db = Σ_b dz[b]`: the bias gradient of a batch, overwriting `db`.
#[inline]
pub fn bias_gradient<const O: usize, const B: usize>(dz: &[[f32; O]; B], db: &mut [f32; O]) {
    db.fill(0.0);
    for row in dz {
        for (d, &g) in db.iter_mut().zip(row) {
            *d += g;
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1) with some exact zeros, as relu outputs have.
    fn filled<const R: usize, const C: usize>(seed: u32) -> Box<[[f32; C]; R]> {
        let mut m: Box<[[f32; C]; R]> = bytemuck::zeroed_box();
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        for v in m.as_flattened_mut() {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *v = if state.is_multiple_of(7) {
                0.0
            } else {
                (state % 2000) as f32 / 1000.0 - 1.0
            };
        }
        m
    }

    /// Sums of `k` products of values in [-1, 1) agree with the f64 reference to `1e-6 · k`
    /// (a loose bound on f32 rounding, met with a wide margin in practice).
    fn assert_close(found: &[f32], expected: &[f32], k: usize, what: &str) {
        let tol = 1e-6 * k.max(1) as f32;
        for (i, (f, e)) in found.iter().zip(expected).enumerate() {
            assert!(
                (f - e).abs() <= tol,
                "{what}[{i}]: found {f}, reference {e}, tolerance {tol}"
            );
        }
    }

    fn check_sizes<const I: usize, const O: usize, const B: usize>() {
        for isa in Isa::supported() {
            check_sizes_on::<I, O, B>(isa);
        }
    }

    fn check_sizes_on<const I: usize, const O: usize, const B: usize>(isa: Isa) {
        let name = isa.name();
        let x = filled::<B, I>(1);
        let w = filled::<I, O>(2);
        let dz = filled::<B, O>(3);
        let bias = filled::<1, O>(4);

        let (mut y, mut y_ref) = (filled::<B, O>(5), filled::<B, O>(6));
        affine_with(isa, &x, &w, Some(&bias[0]), &mut y);
        reference::affine(&x, &w, Some(&bias[0]), &mut y_ref);
        assert_close(
            y.as_flattened(),
            y_ref.as_flattened(),
            I,
            &format!("{name} affine {B}x{I}x{O}"),
        );

        affine_with(isa, &x, &w, None, &mut y);
        reference::affine(&x, &w, None, &mut y_ref);
        assert_close(
            y.as_flattened(),
            y_ref.as_flattened(),
            I,
            &format!("{name} affine without bias {B}x{I}x{O}"),
        );

        let (mut dw, mut dw_ref) = (filled::<I, O>(7), filled::<I, O>(8));
        weight_gradient_with(isa, &x, &dz, &mut dw);
        reference::weight_gradient(&x, &dz, &mut dw_ref);
        assert_close(
            dw.as_flattened(),
            dw_ref.as_flattened(),
            B,
            &format!("{name} weight_gradient {B}x{I}x{O}"),
        );

        let (mut dx, mut dx_ref) = (filled::<B, I>(9), filled::<B, I>(10));
        input_gradient_with(isa, &dz, &w, &mut dx);
        reference::input_gradient(&dz, &w, &mut dx_ref);
        assert_close(
            dx.as_flattened(),
            dx_ref.as_flattened(),
            O,
            &format!("{name} input_gradient {B}x{I}x{O}"),
        );

        let (mut db, mut db_ref) = ([1.0; O], [2.0; O]);
        bias_gradient(&dz, &mut db);
        reference::bias_gradient(&dz, &mut db_ref);
        assert_close(&db, &db_ref, B, &format!("bias_gradient {B}x{O}"));
    }

    /// Under Miri the larger sizes shrink but keep what they reach: more than `KC` summed
    /// inputs (97) so that accumulators go back to memory and return, one-row tiles of the
    /// zero-skipping path over a whole `KC` block (rows 4 + 1 on the portable path), more
    /// than `WT_BLOCK` inputs of a transposed `Wᵀ`, and more than `WT_MAX_OUTPUTS` outputs for
    /// the dot products.
    #[test]
    fn kernels_match_the_reference_on_odd_sizes() {
        check_sizes::<1, 1, 1>();
        check_sizes::<3, 17, 5>();
        check_sizes::<17, 3, 33>();
        check_sizes::<33, { sized(65, 17) }, 7>();
        check_sizes::<65, { sized(33, 9) }, { sized(32, 6) }>();
        check_sizes::<{ sized(784, 97) }, { sized(64, 9) }, { sized(32, 5) }>();
        check_sizes::<{ sized(784, 20) }, 17, 3>();
        check_sizes::<64, 10, 1>();
        check_sizes::<{ sized(200, 9) }, 130, { sized(9, 3) }>();
        check_sizes::<5, 0, 3>();
        check_sizes::<0, 5, 3>();
    }

    /// Convolution-like tables (overlapping windows, gaps between kernel rows) on odd sizes,
    /// with and without a bias, against the reference.
    #[test]
    fn gather_matches_the_reference_on_odd_sizes() {
        for isa in Isa::supported() {
            let sizes = [
                (1, 1, 1),
                (3, 17, 5),
                (17, 3, 33),
                (33, sized(65, 17), 7),
                (sized(65, 17), 25, 6),
            ];
            for (m, k, n) in sizes {
                let a = filled::<1, 4096>(11);
                let rows: Vec<usize> = (0..m).map(|i| (i * 37) % 1000).collect();
                let cols: Vec<usize> = (0..k).map(|kk| kk / 5 * 100 + kk % 5).collect();
                let b = filled::<65, 33>(12);
                let bias = filled::<1, 33>(13);
                for bias in [None, Some(&bias[0][..n])] {
                    let (mut c, mut c_ref) = (vec![1.0; m * n], vec![2.0; m * n]);
                    Gather {
                        n,
                        a: a.as_flattened(),
                        rows: &Offsets::new(rows.clone()),
                        cols: &Offsets::new(cols.clone()),
                        b: &b.as_flattened()[..k * n],
                        ldb: n,
                        bias,
                        c: &mut c,
                        ldc: n,
                    }
                    .run(isa);
                    reference::gather(
                        n,
                        a.as_flattened(),
                        &rows,
                        &cols,
                        b.as_flattened(),
                        bias,
                        &mut c_ref,
                    );
                    assert_close(&c, &c_ref, k, &format!("{} gather {m}x{k}x{n}", isa.name()));
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "A out of bounds")]
    fn gather_rejects_offsets_past_the_end() {
        Gather {
            n: 1,
            a: &[1.0; 4],
            rows: &Offsets::new(vec![0, 2]),
            cols: &Offsets::new(vec![0, 2]),
            b: &[1.0, 1.0],
            ldb: 1,
            bias: None,
            c: &mut [0.0; 2],
            ldc: 1,
        }
        .run(Isa::selected());
    }

    #[test]
    fn affine_of_literal_values() {
        // x = [1, 2], W = [[1, 0, -1], [0.5, 2, 3]], b = [0.25, 0, 1]
        let x = [[1.0, 2.0]];
        let w = [[1.0, 0.0, -1.0], [0.5, 2.0, 3.0]];
        let mut y = [[0.0; 3]];
        affine(&x, &w, Some(&[0.25, 0.0, 1.0]), &mut y);
        assert_eq!(y, [[2.25, 4.0, 6.0]]);
    }
}
