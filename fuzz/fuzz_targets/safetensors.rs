//! The weights loader on arbitrary bytes, into a dense layer and an LSTM: it loads or returns
//! an error, never panics, and on an error leaves the layer as it was.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netdsl_core::activation::Relu;
use netdsl_core::layer::Layer;
use netdsl_core::layers::{Dense, Lstm};
use netdsl_core::weights;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Every parameter of `layer`, flattened.
fn parameters<L: Layer>(layer: &mut L) -> Vec<f32> {
    let mut grads = layer.new_grads();
    let mut all = Vec::new();
    layer.visit_parameters(&mut grads, &mut |p, _| all.extend_from_slice(p));
    all
}

fn load_or_keep<L: Layer>(mut layer: L, data: &[u8]) {
    let before = parameters(&mut layer);
    if weights::load_bytes(&mut layer, data, "fuzz".as_ref()).is_err() {
        assert_eq!(parameters(&mut layer), before, "a failed load changed the layer");
    }
}

fuzz_target!(|data: &[u8]| {
    load_or_keep(
        Dense::<2, 3, Relu>::from_parameters([[0.5; 3]; 2], Some([0.25; 3])),
        data,
    );
    let mut rng = StdRng::seed_from_u64(0);
    load_or_keep(Lstm::<3, 2, 2, 6, 2>::keras_default(&mut rng, true), data);
});
