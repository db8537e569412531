//! The matrix work the recurrent layers share. Each keeps, for every sample `b` and step `t`,
//! the row `[x_t | h_{t-1}]` (`width = features + units` values, at row `b · steps + t`), so
//! that a step is one product of the batch's rows with the stacked weights `[W_x; W_h]`
//! (`width × n`: `n = units` for a simple RNN, `4 · units` for an LSTM's gates), and the weight
//! gradient one product over every row of the batch.

use super::flat::FlatParameters;
use crate::kernels::{self, Isa, Product};

/// The shape of a recurrent layer's rows and weights.
pub(super) struct Steps {
    /// Steps per sample.
    pub(super) steps: usize,
    /// Inputs per step.
    pub(super) features: usize,
    /// `features + units`: a row, and the rows of `[W_x; W_h]`.
    pub(super) width: usize,
    /// Columns of `[W_x; W_h]`.
    pub(super) n: usize,
}

impl Steps {
    /// Writes each sample of `x` (`steps · features` values each) into the first `features`
    /// values of its rows, and zeroes `h_0`.
    pub(super) fn load_inputs(&self, x: &[f32], rows: &mut [f32]) {
        let (width, per_sample) = (self.width, self.steps * self.width);
        let samples = x.chunks_exact(self.steps * self.features);
        for (x, rows) in samples.zip(rows.chunks_exact_mut(per_sample)) {
            for (x_t, row) in x
                .chunks_exact(self.features)
                .zip(rows.chunks_exact_mut(width))
            {
                row[..self.features].copy_from_slice(x_t);
            }
            rows[self.features..width].fill(0.0);
        }
    }

    /// `z = b + [x_t | h_{t-1}] · [W_x; W_h]` for the `batch` samples' step `t`: `batch` rows
    /// of `n` in `z`.
    pub(super) fn forward(
        &self,
        batch: usize,
        t: usize,
        rows: &[f32],
        params: &FlatParameters,
        z: &mut [f32],
    ) {
        Product {
            m: batch,
            n: self.n,
            k: self.width,
            a: &rows[t * self.width..],
            a_row: self.steps * self.width,
            a_col: 1,
            b: params.weights(),
            ldb: self.n,
            bias: params.bias(),
            c: z,
            ldc: self.n,
        }
        .run(Isa::selected());
    }

    /// `[W_x; W_h]ᵀ` (`n × width`) into `weights_t`, for [`Steps::backward`].
    pub(super) fn transpose(&self, weights: &[f32], weights_t: &mut [f32]) {
        for (j, row) in weights.chunks_exact(self.n).enumerate() {
            for (k, &w) in row.iter().enumerate() {
                weights_t[k * self.width + j] = w;
            }
        }
    }

    /// `[dx_t | dh_{t-1}] = dz_t · [W_x; W_h]ᵀ` for the `batch` samples' step `t`, from the
    /// step gradients (row `b · steps + t`, `n` values each): `batch` rows of `width` in `back`.
    pub(super) fn backward(
        &self,
        batch: usize,
        t: usize,
        step_grads: &[f32],
        weights_t: &[f32],
        back: &mut [f32],
    ) {
        Product {
            m: batch,
            n: self.width,
            k: self.n,
            a: &step_grads[t * self.n..],
            a_row: self.steps * self.n,
            a_col: 1,
            b: weights_t,
            ldb: self.width,
            bias: None,
            c: back,
            ldc: self.width,
        }
        .run(Isa::selected());
    }

    /// `dW = Σ_(b,t) [x_t | h_{t-1}]ᵀ · dz_t` and `db = Σ_(b,t) dz_t` over every row of the
    /// batch, overwriting `grads`.
    pub(super) fn weight_gradient(
        &self,
        batch: usize,
        rows: &[f32],
        step_grads: &[f32],
        grads: &mut FlatParameters,
    ) {
        Product {
            m: self.width,
            n: self.n,
            k: batch * self.steps,
            a: rows,
            a_row: 1,
            a_col: self.width,
            b: step_grads,
            ldb: self.n,
            bias: None,
            c: &mut grads.weights,
            ldc: self.n,
        }
        .run(Isa::selected());
        if let Some(db) = grads.bias.as_deref_mut() {
            kernels::column_sums(Isa::selected(), step_grads, self.n, db);
        }
    }
}
