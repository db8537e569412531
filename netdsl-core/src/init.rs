//! Keras' weight initialisers, by name: the values a layer's parameters start from.
//!
//! An [`Initializer`] fills a tensor of a given shape, drawing from `rng` one value at a time in
//! the tensor's row-major order, so a seeded model is the same on every run. Fans are Keras'
//! (`compute_fans`): a kernel `[in, out]` has `fan_in = in` and `fan_out = out`, a convolution
//! kernel `[kh, kw, in, out]` multiplies both by its window `kh · kw`, and a vector `[n]` has
//! both equal to `n`.
//!
//! | name | values |
//! |---|---|
//! | `glorot_uniform` | `U(-l, l)`, `l = √(6 / (fan_in + fan_out))` (Keras' default kernel) |
//! | `glorot_normal` | truncated `N(0, σ²)`, `σ = √(2 / (fan_in + fan_out)) / 0.8796…` |
//! | `he_uniform` | `U(-l, l)`, `l = √(6 / fan_in)` |
//! | `he_normal` | truncated `N(0, σ²)`, `σ = √(2 / fan_in) / 0.8796…` |
//! | `lecun_normal` | truncated `N(0, σ²)`, `σ = √(1 / fan_in) / 0.8796…` |
//! | `orthogonal` | `Q` of the QR decomposition of a standard normal matrix: orthonormal rows, or columns when there are more rows than columns (Keras' default recurrent kernel) |
//! | `uniform` | `U(-0.05, 0.05)` (Keras' `RandomUniform` with its defaults, the default of `Embedding`) |
//! | `zeros`, `ones` | `0`, `1` (Keras' default bias is `zeros`) |
//!
//! A truncated normal draws again any value more than two standard deviations from 0; as that
//! narrows the spread, `σ` is divided by 0.87962566103423978, the standard deviation of a unit
//! normal truncated at ±2, so that the values have the variance the formula asks for (Keras'
//! `VarianceScaling`). Normal values come from the Box–Muller transform of two uniform ones.
//!
//! ```
//! use netdsl_core::init::Initializer;
//! use rand::SeedableRng;
//! use rand::rngs::StdRng;
//!
//! let init = Initializer::from_name("he_normal").unwrap();
//! let kernel = init.sample(&[784, 64], &mut StdRng::seed_from_u64(0));
//! assert_eq!(kernel.len(), 784 * 64);
//! // Truncated at two standard deviations of `√(2 / 784) / 0.8796…`.
//! let sigma = (2.0_f32 / 784.0).sqrt() / 0.879_625_7;
//! assert!(kernel.iter().all(|w| w.abs() <= 2.0 * sigma));
//! assert_eq!(Initializer::from_name("glorot_unifrom"), None);
//! ```

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

#[cfg(not(any(feature = "std", test)))]
use crate::math::Float;

use rand::{Rng, RngExt};

/// The standard deviation of a unit normal truncated at ±2 standard deviations: Keras'
/// 0.87962566103423978, to an `f64`'s precision.
const TRUNCATED_STDDEV: f64 = 0.879_625_661_034_239_8;

/// One of Keras' initialisers, named as Keras names it in `kernel_initializer="..."`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Initializer {
    /// Every value 0.
    Zeros,
    /// Every value 1.
    Ones,
    /// `U(-l, l)`, `l = √(6 / (fan_in + fan_out))`.
    GlorotUniform,
    /// Truncated `N(0, σ²)`, `σ = √(2 / (fan_in + fan_out)) / 0.8796…`.
    GlorotNormal,
    /// `U(-l, l)`, `l = √(6 / fan_in)`.
    HeUniform,
    /// Truncated `N(0, σ²)`, `σ = √(2 / fan_in) / 0.8796…`.
    HeNormal,
    /// Truncated `N(0, σ²)`, `σ = √(1 / fan_in) / 0.8796…`.
    LecunNormal,
    /// Orthonormal rows (or columns, for a tall tensor): the `Q` of a standard normal matrix's
    /// QR decomposition, with gain 1. The rows are everything but the last axis.
    Orthogonal,
    /// `U(-0.05, 0.05)`: Keras' `"uniform"` (`RandomUniform` with its default bounds), which
    /// `Embedding` starts from.
    Uniform,
}

impl Initializer {
    /// Every initialiser, in the order of the module's table.
    pub const ALL: [Self; 9] = [
        Self::GlorotUniform,
        Self::GlorotNormal,
        Self::HeUniform,
        Self::HeNormal,
        Self::LecunNormal,
        Self::Orthogonal,
        Self::Uniform,
        Self::Zeros,
        Self::Ones,
    ];

    /// Keras' name: `"glorot_uniform"`, `"orthogonal"`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::Zeros => "zeros",
            Self::Ones => "ones",
            Self::GlorotUniform => "glorot_uniform",
            Self::GlorotNormal => "glorot_normal",
            Self::HeUniform => "he_uniform",
            Self::HeNormal => "he_normal",
            Self::LecunNormal => "lecun_normal",
            Self::Orthogonal => "orthogonal",
            Self::Uniform => "uniform",
        }
    }

    /// The initialiser Keras calls `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|init| init.name() == name)
    }

    /// Fills `values`, a tensor of `shape` in row-major order, drawing from `rng`.
    ///
    /// # Panics
    ///
    /// If `values` does not hold the product of `shape`, or, for [`Initializer::Orthogonal`],
    /// if `shape` has fewer than two axes.
    pub fn fill<R: Rng + ?Sized>(self, shape: &[usize], rng: &mut R, values: &mut [f32]) {
        assert_eq!(
            values.len(),
            shape.iter().product::<usize>(),
            "`{}`: {} values for a tensor of shape {shape:?}",
            self.name(),
            values.len()
        );
        let (fan_in, fan_out) = fans(shape);
        let (fan_in, fan_sum) = (fan_in as f64, (fan_in + fan_out) as f64);
        match self {
            Self::Zeros => values.fill(0.0),
            Self::Ones => values.fill(1.0),
            Self::Uniform => uniform(0.05, rng, values),
            Self::GlorotUniform => uniform((6.0 / fan_sum).sqrt() as f32, rng, values),
            Self::HeUniform => uniform((6.0 / fan_in).sqrt() as f32, rng, values),
            Self::GlorotNormal => truncated_normal((2.0 / fan_sum).sqrt(), rng, values),
            Self::HeNormal => truncated_normal((2.0 / fan_in).sqrt(), rng, values),
            Self::LecunNormal => truncated_normal((1.0 / fan_in).sqrt(), rng, values),
            Self::Orthogonal => {
                assert!(
                    shape.len() >= 2,
                    "`orthogonal`: a tensor of shape {shape:?} has fewer than two axes"
                );
                let cols = shape[shape.len() - 1];
                let q = orthonormal(values.len() / cols.max(1), cols, || standard_normal(rng));
                values.copy_from_slice(&q);
            }
        }
    }

    /// A new tensor of `shape`, row-major, filled by [`Initializer::fill`].
    ///
    /// # Panics
    ///
    /// As for [`Initializer::fill`].
    pub fn sample<R: Rng + ?Sized>(self, shape: &[usize], rng: &mut R) -> Vec<f32> {
        let mut values = vec![0.0; shape.iter().product()];
        self.fill(shape, rng, &mut values);
        values
    }
}

/// Keras' `(fan_in, fan_out)` of a tensor of `shape`: `[in, out]` gives `(in, out)`; more axes
/// are a convolution's window before `[in, out]`, multiplying both; `[n]` gives `(n, n)`.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [window @ .., fan_in, fan_out] => {
            let window: usize = window.iter().product();
            (fan_in * window, fan_out * window)
        }
    }
}

/// `U(-limit, limit)` into every value.
fn uniform<R: Rng + ?Sized>(limit: f32, rng: &mut R, values: &mut [f32]) {
    for v in values {
        *v = rng.random_range(-limit..limit);
    }
}

/// `N(0, σ²)` truncated at `±2σ` into every value, `σ = stddev / 0.8796…` (see the module doc).
fn truncated_normal<R: Rng + ?Sized>(stddev: f64, rng: &mut R, values: &mut [f32]) {
    let sigma = stddev / TRUNCATED_STDDEV;
    for v in values {
        let z = loop {
            let z = standard_normal(rng);
            if z.abs() <= 2.0 {
                break z;
            }
        };
        *v = (z * sigma) as f32;
    }
}

/// A unit normal value: Box–Muller, `√(-2 ln u) · cos(2π v)` for `u` in `(0, 1]`, `v` in `[0, 1)`.
fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let (u, v) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
    (-2.0 * u.ln()).sqrt() * (core::f64::consts::TAU * v).cos()
}

/// What the recurrent layers' `keras_default` draws for `W_h`: `rows × cols` (`rows <= cols`)
/// with orthonormal rows, as [`Initializer::Orthogonal`] gives, but made from values drawn
/// uniformly in `[-1, 1)` rather than normal ones. Its rows are orthonormal all the same, though
/// not spread evenly over the rotations as Keras' are; netdsl has always drawn them so, and keeps
/// doing so that seeded models stay as they were.
pub(crate) fn orthogonal_of_uniform_rows<R: Rng + ?Sized>(
    rows: usize,
    cols: usize,
    rng: &mut R,
) -> Vec<f32> {
    assert!(rows <= cols, "orthonormal rows need rows <= cols");
    orthonormal(rows, cols, || rng.random_range(-1.0..1.0))
}

/// A `rows × cols` matrix, row-major, with orthonormal rows when `rows <= cols` and orthonormal
/// columns otherwise: Gram–Schmidt (the QR decomposition's `Q`, with a positive diagonal of
/// `R`) on `min(rows, cols)` vectors of `max(rows, cols)` values from `draw`, each made
/// orthogonal to those before it; a draw (almost) in their span is drawn again.
fn orthonormal(rows: usize, cols: usize, mut draw: impl FnMut() -> f64) -> Vec<f32> {
    let (count, len) = (rows.min(cols), rows.max(cols));
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(count);
    while basis.len() < count {
        let mut v: Vec<f64> = (0..len).map(|_| draw()).collect();
        for r in &basis {
            let dot: f64 = v.iter().zip(r).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(r).for_each(|(a, b)| *a -= dot * b);
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-6 {
            basis.push(v.into_iter().map(|a| a / norm).collect());
        }
    }
    if rows <= cols {
        basis.into_iter().flatten().map(|a| a as f32).collect()
    } else {
        // The vectors are the columns.
        (0..rows)
            .flat_map(|i| basis.iter().map(move |v| v[i] as f32))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn names_are_keras_names_and_round_trip() {
        for init in Initializer::ALL {
            assert_eq!(Initializer::from_name(init.name()), Some(init));
        }
        assert_eq!(
            Initializer::from_name("orthogonal"),
            Some(Initializer::Orthogonal)
        );
        assert_eq!(Initializer::from_name("GlorotUniform"), None);
    }

    #[test]
    fn fans_are_keras_fans() {
        assert_eq!(fans(&[]), (1, 1));
        assert_eq!(fans(&[5]), (5, 5));
        assert_eq!(fans(&[784, 64]), (784, 64));
        // A 5 × 5 convolution from 6 channels to 16: the window multiplies both.
        assert_eq!(fans(&[5, 5, 6, 16]), (150, 400));
    }

    #[test]
    fn seeded_values_are_literal() {
        // The values Dense, Conv2d and the recurrent layers have always drawn: a change here
        // changes every seeded model.
        assert_eq!(
            Initializer::GlorotUniform.sample(&[2, 3], &mut rng()),
            [
                -0.18263072,
                -1.0290233,
                -0.7831267,
                -0.4226529,
                -0.96240133,
                -0.78293186
            ]
        );
        assert_eq!(
            orthogonal_of_uniform_rows(2, 3, &mut rng()),
            [
                -0.75644934,
                -0.310698,
                -0.5755442,
                -0.27341154,
                -0.6491782,
                0.7097984
            ]
        );
        assert_eq!(
            Initializer::HeNormal.sample(&[2, 2], &mut rng()),
            [-0.09902752, -0.60834724, 0.86441404, -0.03001207]
        );
        assert_eq!(Initializer::Ones.sample(&[2], &mut rng()), [1.0, 1.0]);
        assert_eq!(Initializer::Zeros.sample(&[1, 2], &mut rng()), [0.0, 0.0]);
    }

    /// The mean and variance of `values`.
    fn moments(values: &[f32]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var)
    }

    #[test]
    fn variance_scaling_gives_the_variance_and_bounds_of_its_formula() {
        // fan_in 300, fan_out 200; 60,000 values.
        let shape = [300, 200];
        for (init, variance, bound) in [
            (
                Initializer::GlorotUniform,
                2.0_f64 / 500.0,
                (6.0_f64 / 500.0).sqrt(),
            ),
            (
                Initializer::HeUniform,
                2.0 / 300.0,
                (6.0_f64 / 300.0).sqrt(),
            ),
            (
                Initializer::GlorotNormal,
                2.0 / 500.0,
                2.0 * (2.0_f64 / 500.0).sqrt() / TRUNCATED_STDDEV,
            ),
            (
                Initializer::HeNormal,
                2.0 / 300.0,
                2.0 * (2.0_f64 / 300.0).sqrt() / TRUNCATED_STDDEV,
            ),
            (
                Initializer::LecunNormal,
                1.0 / 300.0,
                2.0 * (1.0_f64 / 300.0).sqrt() / TRUNCATED_STDDEV,
            ),
        ] {
            let values = init.sample(&shape, &mut rng());
            let (mean, var) = moments(&values);
            let name = init.name();
            // The mean's standard error is √(variance / 60,000): 4 of them.
            assert!(
                mean.abs() < 4.0 * (variance / 60_000.0).sqrt(),
                "{name}: mean {mean}"
            );
            assert!(
                (var / variance - 1.0).abs() < 0.03,
                "{name}: variance {var}, expected {variance}"
            );
            assert!(
                values.iter().all(|&v| f64::from(v.abs()) <= bound),
                "{name}: a value past {bound}"
            );
            // The bounds are reached: the draws are spread up to them.
            assert!(
                values.iter().any(|&v| f64::from(v.abs()) > 0.95 * bound),
                "{name}: no value near {bound}"
            );
        }
    }

    /// The largest `|Σ_k m[i][k] · m[j][k] - δ_ij|` over the rows of the `rows × cols` `m`.
    fn worst_row_product(m: &[f32], rows: usize, cols: usize) -> f32 {
        let mut worst = 0.0_f32;
        for i in 0..rows {
            for j in 0..rows {
                let dot: f32 = (0..cols).map(|k| m[i * cols + k] * m[j * cols + k]).sum();
                worst = worst.max((dot - if i == j { 1.0 } else { 0.0 }).abs());
            }
        }
        worst
    }

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal() {
        // Wide: orthonormal rows.
        let wide = Initializer::Orthogonal.sample(&[5, 20], &mut rng());
        assert!(worst_row_product(&wide, 5, 20) < 1e-5);
        // Tall, and with a window: 3 · 4 = 12 rows of 6, orthonormal columns.
        let tall = Initializer::Orthogonal.sample(&[3, 4, 6], &mut rng());
        let transposed: Vec<f32> = (0..6)
            .flat_map(|j| (0..12).map(move |i| (i, j)))
            .map(|(i, j)| tall[i * 6 + j])
            .collect();
        assert!(worst_row_product(&transposed, 6, 12) < 1e-5);
        // Square: orthogonal, its values centred.
        let square = Initializer::Orthogonal.sample(&[64, 64], &mut rng());
        assert!(worst_row_product(&square, 64, 64) < 1e-5);
        let (mean, var) = moments(&square);
        assert!(mean.abs() < 0.01, "mean {mean}");
        // Every row has unit length: the values' mean square is 1/64.
        assert!((var * 64.0 - 1.0).abs() < 0.01, "variance {var}");
        // The recurrent layers' draw, uniform values made orthonormal.
        let uniform = orthogonal_of_uniform_rows(8, 32, &mut rng());
        assert!(worst_row_product(&uniform, 8, 32) < 1e-5);
    }

    #[test]
    #[should_panic(expected = "fewer than two axes")]
    fn orthogonal_needs_a_matrix() {
        Initializer::Orthogonal.sample(&[4], &mut rng());
    }
}
