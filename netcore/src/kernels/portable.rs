//! Safe, portable kernels: loops ordered so the compiler vectorises along contiguous rows.

/// Samples processed together, so each weight row is read once per group instead of once per
/// sample.
const GROUP: usize = 4;

/// Independent partial sums of a dot product, so the compiler can keep them in vector lanes
/// without reassociating floating-point additions on its own.
const LANES: usize = 8;

pub fn affine<const I: usize, const O: usize, const B: usize>(
    x: &[[f32; I]; B],
    w: &[[f32; O]; I],
    bias: Option<&[f32; O]>,
    y: &mut [[f32; O]; B],
) {
    for row in y.iter_mut() {
        match bias {
            Some(bias) => *row = *bias,
            None => row.fill(0.0),
        }
    }
    let mut x_groups = x.chunks_exact(GROUP);
    let mut y_groups = y.chunks_exact_mut(GROUP);
    for (xs, ys) in (&mut x_groups).zip(&mut y_groups) {
        let [y0, y1, y2, y3] = ys else {
            unreachable!("chunks_exact yields GROUP rows")
        };
        for (i, w_row) in w.iter().enumerate() {
            let (a0, a1, a2, a3) = (xs[0][i], xs[1][i], xs[2][i], xs[3][i]);
            // Relu outputs and MNIST pixels are mostly zero: skipping them is a large saving.
            if a0 == 0.0 && a1 == 0.0 && a2 == 0.0 && a3 == 0.0 {
                continue;
            }
            for o in 0..O {
                let wv = w_row[o];
                y0[o] += a0 * wv;
                y1[o] += a1 * wv;
                y2[o] += a2 * wv;
                y3[o] += a3 * wv;
            }
        }
    }
    for (x_row, y_row) in x_groups.remainder().iter().zip(y_groups.into_remainder()) {
        for (&a, w_row) in x_row.iter().zip(w) {
            if a != 0.0 {
                for (yv, &wv) in y_row.iter_mut().zip(w_row) {
                    *yv += a * wv;
                }
            }
        }
    }
}

pub fn weight_gradient<const I: usize, const O: usize, const B: usize>(
    x: &[[f32; I]; B],
    dz: &[[f32; O]; B],
    dw: &mut [[f32; O]; I],
) {
    for (i, dw_row) in dw.iter_mut().enumerate() {
        dw_row.fill(0.0);
        for (x_row, dz_row) in x.iter().zip(dz) {
            let a = x_row[i];
            if a != 0.0 {
                for (d, &g) in dw_row.iter_mut().zip(dz_row) {
                    *d += a * g;
                }
            }
        }
    }
}

pub fn input_gradient<const I: usize, const O: usize, const B: usize>(
    dz: &[[f32; O]; B],
    w: &[[f32; O]; I],
    dx: &mut [[f32; I]; B],
) {
    for (dz_row, dx_row) in dz.iter().zip(dx.iter_mut()) {
        for (d, w_row) in dx_row.iter_mut().zip(w) {
            *d = dot(dz_row, w_row);
        }
    }
}

#[inline(always)]
fn dot<const O: usize>(a: &[f32; O], b: &[f32; O]) -> f32 {
    let mut partial = [0.0_f32; LANES];
    let (a_chunks, a_rest) = a.as_chunks::<LANES>();
    let (b_chunks, b_rest) = b.as_chunks::<LANES>();
    for (ac, bc) in a_chunks.iter().zip(b_chunks) {
        for l in 0..LANES {
            partial[l] += ac[l] * bc[l];
        }
    }
    let mut sum: f32 = partial.iter().sum();
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += x * y;
    }
    sum
}
