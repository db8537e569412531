//! Training on a Cortex-M4F without `std`: netdsl with its `alloc` feature alone, on a 64 KiB
//! heap of embedded-alloc, trains a small network on XOR with Adam, by hand (`forward`, the
//! loss's `delta`, `backward`, the optimizer's `step`; `fit` needs `std`), and prints the loss
//! and the predictions through semihosting. Run by `.ci/firmware`, which checks that it learns.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;
use netdsl::layer::Layer;
use netdsl::loss::{BinaryCrossentropy, Loss};
use netdsl::network;
use netdsl::network::Network;
use netdsl::optim::{Adam, Optimizer};
use netdsl::rand::SeedableRng;
use netdsl::rand::rngs::StdRng;
use panic_semihosting as _;

#[global_allocator]
static HEAP: Heap = Heap::empty();

network! {
    /// Two inputs, eight tanh units, one probability.
    struct Xor<2 => Dense(8, tanh) => Dense(1, sigmoid)>;
}

/// The four cases of XOR, the whole training set as one batch.
const X: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const T: [[f32; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];
const STEPS: usize = 1500;

#[entry]
fn main() -> ! {
    // SAFETY: called once, first, before anything allocates, as embedded-alloc requires; the
    // macro reserves the 64 KiB as a `static` of its own.
    unsafe {
        embedded_alloc::init!(HEAP, 64 * 1024);
    }
    let mut model = Xor::new(&mut StdRng::seed_from_u64(7));
    let mut tape = model.new_tape::<4>();
    let mut grads = model.new_grads();
    let mut optimizer = Adam::new(0.05);
    optimizer.prepare(model.parameter_count());
    let loss = BinaryCrossentropy;
    let (mut y, mut dz) = ([[0.0; 1]; 4], [[0.0; 1]; 4]);
    for step in 0..=STEPS {
        model.forward(&X, &mut y, &mut tape);
        let total: f32 = y.iter().zip(&T).map(|(y, t)| loss.loss(y, t)).sum();
        if step % 500 == 0 {
            hprintln!("step {step}: loss {}", total / 4.0);
        }
        loss.deltas(&y, Xor::kept(&tape), &T, 4, 0.25, &mut dz);
        model.backward(&X, &dz, None, &mut grads, &mut tape);
        optimizer.step(&mut model, &mut grads);
    }
    for x in &X {
        let [p] = model.predict(x);
        hprintln!("xor({}, {}) = {p}", x[0], x[1]);
    }
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}
