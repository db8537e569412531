//! Attributes on a network: `#[cfg]` and lint levels apply to everything generated for it,
//! docs and derives to its struct.

#![deny(missing_docs)]

use netdsl::prelude::*;

network! {
    /// Configured out: nothing generated for it may be left behind (its tape, its gradients and
    /// its impls name it).
    #[cfg(any())]
    pub struct Gone<4 => Dense(3, relu) => Dense(2, softmax)>;

    /// Configured in, with a lint level that reaches its items.
    #[cfg(all())]
    #[allow(dead_code)]
    pub struct Kept<4 => Dense(3, relu) => Dense(2, softmax)>;
}

/// A network that is configured out under test may be configured in elsewhere.
#[cfg(not(test))]
pub fn uses_gone() -> Gone {
    Gone::new(&mut StdRng::seed_from_u64(0))
}

#[test]
fn a_configured_in_network_works_and_a_configured_out_one_leaves_nothing() {
    let model = Kept::new(&mut StdRng::seed_from_u64(0));
    let y = model.predict(&[0.25; 4]);
    assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{y:?}");
}
