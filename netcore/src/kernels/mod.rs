//! The matrix products of a dense layer, apart from the layer math.
//!
//! Shapes follow the layer: a batch `x` is `[[f32; I]; B]` (one row per sample) and weights
//! are `[[f32; O]; I]` (one row per input), so every inner loop runs along a contiguous output
//! row and vectorises. [`reference`] holds the plain triple loops the tests compare against.

mod portable;
pub mod reference;

/// `y[b] = bias + x[b] · W` for every sample `b` (bias taken as zero when absent).
#[inline]
pub fn affine<const I: usize, const O: usize, const B: usize>(
    x: &[[f32; I]; B],
    w: &[[f32; O]; I],
    bias: Option<&[f32; O]>,
    y: &mut [[f32; O]; B],
) {
    portable::affine(x, w, bias, y);
}

/// `dW = xᵀ · dz`: the weight gradient of a batch, overwriting `dw`.
#[inline]
pub fn weight_gradient<const I: usize, const O: usize, const B: usize>(
    x: &[[f32; I]; B],
    dz: &[[f32; O]; B],
    dw: &mut [[f32; O]; I],
) {
    portable::weight_gradient(x, dz, dw);
}

/// `dx = dz · Wᵀ`: the gradient with respect to the layer's input, overwriting `dx`.
#[inline]
pub fn input_gradient<const I: usize, const O: usize, const B: usize>(
    dz: &[[f32; O]; B],
    w: &[[f32; O]; I],
    dx: &mut [[f32; I]; B],
) {
    portable::input_gradient(dz, w, dx);
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

#[cfg(test)]
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

    fn assert_close(found: &[f32], expected: &[f32], what: &str) {
        for (i, (f, e)) in found.iter().zip(expected).enumerate() {
            let tol = 1e-5 * (1.0 + e.abs()) * 64.0;
            assert!(
                (f - e).abs() <= tol,
                "{what}[{i}]: found {f}, reference {e}"
            );
        }
    }

    fn check_sizes<const I: usize, const O: usize, const B: usize>() {
        let x = filled::<B, I>(1);
        let w = filled::<I, O>(2);
        let dz = filled::<B, O>(3);
        let bias = filled::<1, O>(4);

        let (mut y, mut y_ref) = (filled::<B, O>(5), filled::<B, O>(6));
        affine(&x, &w, Some(&bias[0]), &mut y);
        reference::affine(&x, &w, Some(&bias[0]), &mut y_ref);
        assert_close(
            y.as_flattened(),
            y_ref.as_flattened(),
            &format!("affine {B}x{I}x{O}"),
        );

        affine(&x, &w, None, &mut y);
        reference::affine(&x, &w, None, &mut y_ref);
        assert_close(
            y.as_flattened(),
            y_ref.as_flattened(),
            &format!("affine without bias {B}x{I}x{O}"),
        );

        let (mut dw, mut dw_ref) = (filled::<I, O>(7), filled::<I, O>(8));
        weight_gradient(&x, &dz, &mut dw);
        reference::weight_gradient(&x, &dz, &mut dw_ref);
        assert_close(
            dw.as_flattened(),
            dw_ref.as_flattened(),
            &format!("weight_gradient {B}x{I}x{O}"),
        );

        let (mut dx, mut dx_ref) = (filled::<B, I>(9), filled::<B, I>(10));
        input_gradient(&dz, &w, &mut dx);
        reference::input_gradient(&dz, &w, &mut dx_ref);
        assert_close(
            dx.as_flattened(),
            dx_ref.as_flattened(),
            &format!("input_gradient {B}x{I}x{O}"),
        );

        let (mut db, mut db_ref) = ([1.0; O], [2.0; O]);
        bias_gradient(&dz, &mut db);
        reference::bias_gradient(&dz, &mut db_ref);
        assert_close(&db, &db_ref, &format!("bias_gradient {B}x{O}"));
    }

    #[test]
    fn kernels_match_the_reference_on_odd_sizes() {
        check_sizes::<1, 1, 1>();
        check_sizes::<3, 17, 5>();
        check_sizes::<17, 3, 33>();
        check_sizes::<33, 65, 7>();
        check_sizes::<65, 33, 32>();
        check_sizes::<784, 64, 32>();
        check_sizes::<784, 17, 3>();
        check_sizes::<64, 10, 1>();
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
