//! Plain triple loops: the definitions the optimised kernels are tested against.

/// `y[b][o] = bias[o] + Σ_i x[b][i] w[i][o]`.
pub fn affine<const I: usize, const O: usize, const B: usize>(
    x: &[[f32; I]; B],
    w: &[[f32; O]; I],
    bias: Option<&[f32; O]>,
    y: &mut [[f32; O]; B],
) {
    for b in 0..B {
        for o in 0..O {
            let mut sum = bias.map_or(0.0, |bias| f64::from(bias[o]));
            for i in 0..I {
                sum += f64::from(x[b][i]) * f64::from(w[i][o]);
            }
            y[b][o] = sum as f32;
        }
    }
}

/// `dw[i][o] = Σ_b x[b][i] dz[b][o]`.
pub fn weight_gradient<const I: usize, const O: usize, const B: usize>(
    x: &[[f32; I]; B],
    dz: &[[f32; O]; B],
    dw: &mut [[f32; O]; I],
) {
    for i in 0..I {
        for o in 0..O {
            let mut sum = 0.0_f64;
            for b in 0..B {
                sum += f64::from(x[b][i]) * f64::from(dz[b][o]);
            }
            dw[i][o] = sum as f32;
        }
    }
}

/// `dx[b][i] = Σ_o dz[b][o] w[i][o]`.
pub fn input_gradient<const I: usize, const O: usize, const B: usize>(
    dz: &[[f32; O]; B],
    w: &[[f32; O]; I],
    dx: &mut [[f32; I]; B],
) {
    for b in 0..B {
        for i in 0..I {
            let mut sum = 0.0_f64;
            for o in 0..O {
                sum += f64::from(dz[b][o]) * f64::from(w[i][o]);
            }
            dx[b][i] = sum as f32;
        }
    }
}

/// `db[o] = Σ_b dz[b][o]`.
pub fn bias_gradient<const O: usize, const B: usize>(dz: &[[f32; O]; B], db: &mut [f32; O]) {
    for o in 0..O {
        db[o] = dz.iter().map(|row| f64::from(row[o])).sum::<f64>() as f32;
    }
}

/// `c[i][j] = bias[j] + Σ_k a[rows[i] + cols[k]] b[k][j]`, with `c` and `b` of row length `n`.
pub fn gather(
    n: usize,
    a: &[f32],
    rows: &[usize],
    cols: &[usize],
    b: &[f32],
    bias: Option<&[f32]>,
    c: &mut [f32],
) {
    for (i, &row) in rows.iter().enumerate() {
        for j in 0..n {
            let mut sum = bias.map_or(0.0, |bias| f64::from(bias[j]));
            for (k, &col) in cols.iter().enumerate() {
                sum += f64::from(a[row + col]) * f64::from(b[k * n + j]);
            }
            c[i * n + j] = sum as f32;
        }
    }
}
