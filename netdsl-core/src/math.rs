//! The float functions `core` lacks, for builds without `std`.
//!
//! With `std` the standard library's inherent methods (`x.exp()`) are used, as on every
//! desktop; without it, a module that needs them imports [`Float`] and the same calls resolve
//! to [libm](https://docs.rs/libm), Rust's port of musl's math library. Results may differ from
//! the platform's in the last bit, as two C libraries' do.

// With `std`, and in the tests (which link `std`), only the tests call it.
#![cfg_attr(any(feature = "std", test), allow(dead_code))]

/// The functions of `f32` and `f64` the crate calls that `core` lacks, through libm.
#[cfg_attr(
    not(feature = "alloc"),
    allow(dead_code, reason = "the initializers and optimizers need `alloc`")
)]
pub(crate) trait Float: Sized {
    fn exp(self) -> Self;
    fn exp_m1(self) -> Self;
    fn ln(self) -> Self;
    fn ln_1p(self) -> Self;
    fn tanh(self) -> Self;
    fn sqrt(self) -> Self;
    fn powi(self, n: i32) -> Self;
    fn cos(self) -> Self;
    fn sin(self) -> Self;
    fn floor(self) -> Self;
    fn powf(self, n: Self) -> Self;
}

impl Float for f32 {
    fn exp(self) -> f32 {
        libm::expf(self)
    }
    fn exp_m1(self) -> f32 {
        libm::expm1f(self)
    }
    fn ln(self) -> f32 {
        libm::logf(self)
    }
    fn ln_1p(self) -> f32 {
        libm::log1pf(self)
    }
    fn tanh(self) -> f32 {
        libm::tanhf(self)
    }
    fn sqrt(self) -> f32 {
        libm::sqrtf(self)
    }
    fn powi(self, n: i32) -> f32 {
        powi(self, n)
    }
    fn cos(self) -> f32 {
        libm::cosf(self)
    }
    fn sin(self) -> f32 {
        libm::sinf(self)
    }
    fn floor(self) -> f32 {
        libm::floorf(self)
    }
    fn powf(self, n: f32) -> f32 {
        libm::powf(self, n)
    }
}

impl Float for f64 {
    fn exp(self) -> f64 {
        libm::exp(self)
    }
    fn exp_m1(self) -> f64 {
        libm::expm1(self)
    }
    fn ln(self) -> f64 {
        libm::log(self)
    }
    fn ln_1p(self) -> f64 {
        libm::log1p(self)
    }
    fn tanh(self) -> f64 {
        libm::tanh(self)
    }
    fn sqrt(self) -> f64 {
        libm::sqrt(self)
    }
    fn powi(self, n: i32) -> f64 {
        powi(self, n)
    }
    fn cos(self) -> f64 {
        libm::cos(self)
    }
    fn sin(self) -> f64 {
        libm::sin(self)
    }
    fn floor(self) -> f64 {
        libm::floor(self)
    }
    fn powf(self, n: f64) -> f64 {
        libm::pow(self, n)
    }
}

/// `x^n` by repeated squaring, as compiler-rt's `__powisf2` computes the standard library's
/// `powi` when the exponent is not a constant (Adam's bias corrections: `β^t`).
#[cfg_attr(
    not(feature = "alloc"),
    allow(dead_code, reason = "the optimizers need `alloc`")
)]
fn powi<T: Copy + core::ops::Mul<Output = T> + core::ops::Div<Output = T> + From<f32>>(
    mut x: T,
    n: i32,
) -> T {
    let mut result = T::from(1.0);
    let mut exponent = n.unsigned_abs();
    loop {
        if exponent & 1 == 1 {
            result = result * x;
        }
        exponent /= 2;
        if exponent == 0 {
            break;
        }
        x = x * x;
    }
    if n < 0 { T::from(1.0) / result } else { result }
}

#[cfg(test)]
mod tests {
    use super::Float;

    /// libm agrees with the standard library to within an ulp or two on the values the layers
    /// meet, so a network predicts the same classes with and without `std`.
    #[test]
    fn libm_agrees_with_std() {
        for i in -200..=200 {
            let x = i as f32 * 0.05;
            let close = |a: f32, b: f32| {
                a == b || (a - b).abs() <= 2.0 * f32::EPSILON * a.abs().max(b.abs())
            };
            assert!(close(Float::exp(x), x.exp()), "exp({x})");
            assert!(close(Float::exp_m1(x), x.exp_m1()), "exp_m1({x})");
            assert!(close(Float::tanh(x), x.tanh()), "tanh({x})");
            let y = x.abs() + 0.5;
            assert!(close(Float::ln(y), y.ln()), "ln({y})");
            assert!(close(Float::ln_1p(y), y.ln_1p()), "ln_1p({y})");
            assert!(close(Float::sqrt(y), y.sqrt()), "sqrt({y})");
            for n in [-3, 0, 1, 2, 7, 30] {
                assert!(close(Float::powi(x, n), x.powi(n)), "powi({x}, {n})");
                let x = f64::from(x);
                let close = |a: f64, b: f64| {
                    a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
                };
                assert!(close(Float::powi(x, n), x.powi(n)), "powi({x}, {n})");
            }
        }
    }
}
