//! The Keras tutorial's MNIST network on a Cortex-M4F with no heap: the network is a `static`
//! whose weights the build script wrote from the desktop's safetensors file
//! (`netdsl::weights::embed`), so they sit in flash; `predict` keeps its 256 bytes of hidden
//! values on the stack. netdsl is built without default features: no `std`, no `alloc`.
//!
//! Run under QEMU (`.ci/firmware`), it prints, for each test image the desktop embedded, the
//! class and the ten probabilities as the desktop's `reference` binary prints them (every bit:
//! Rust's `Debug` of an `f32`), then the instructions one `predict` takes, and ends QEMU with a
//! success status.

#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m::peripheral::{SYST, syst::SystClkSource};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprint, hprintln};
use netdsl::layers::Dense;
use netdsl::metrics::argmax;
use netdsl::network;
use netdsl::network::Network;
// Prints the panic message through semihosting (QEMU writes it to its standard output) and
// ends QEMU with a failing status.
use panic_semihosting as _;

network! {
    /// The MNIST classifier from the Keras tutorial.
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

/// The desktop's trained tensors: `DENSE_1_KERNEL: [[f32; 64]; 784]` and the like. One of
/// another shape than its layer would not compile.
mod weights {
    include!(concat!(env!("OUT_DIR"), "/weights.rs"));
}

/// The trained network, built at compile time and kept in flash with its weights.
static MODEL: Mnist = Mnist {
    dense_1: Dense::from_static(&weights::DENSE_1_KERNEL, Some(&weights::DENSE_1_BIAS)),
    dense_2: Dense::from_static(&weights::DENSE_2_KERNEL, Some(&weights::DENSE_2_BIAS)),
};

/// The desktop's first test images: 784 little-endian `f32` pixels each, in `[0, 1]`.
static IMAGES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/images.f32"));

/// Bytes of one image.
const IMAGE_BYTES: usize = 784 * 4;

/// How many predictions one SysTick measurement spans.
const RUNS: u32 = 10;

/// SysTick is a 24-bit down-counter.
const SYST_MASK: u32 = 0x00ff_ffff;

/// SysTick runs from the board's 25 MHz clock; under `-icount shift=0` QEMU advances virtual
/// time 1 ns per instruction, so one tick is 40 instructions.
const INSTRUCTIONS_PER_TICK: u32 = 40;

/// Image `bytes` as the network's input.
fn pixels(bytes: &[u8]) -> [f32; 784] {
    let mut x = [0.0; 784];
    for (pixel, le) in x.iter_mut().zip(bytes.chunks_exact(4)) {
        *pixel = f32::from_le_bytes([le[0], le[1], le[2], le[3]]);
    }
    x
}

/// Lets SysTick run free from the core clock over its whole range, as a stopwatch: no
/// interrupt, since a measurement spans far less than one wrap (2^24 ticks).
fn start_stopwatch(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYST_MASK);
    syst.clear_current();
    syst.enable_counter();
}

/// Ticks since `start` (an earlier `SYST::get_current()`), across at most one wrap.
fn ticks_since(start: u32) -> u32 {
    start.wrapping_sub(SYST::get_current()) & SYST_MASK
}

#[entry]
fn main() -> ! {
    let peripherals = cortex_m::Peripherals::take().expect("peripherals taken once");
    start_stopwatch(peripherals.SYST);

    for image in IMAGES.chunks_exact(IMAGE_BYTES) {
        let probabilities = MODEL.predict(&pixels(image));
        hprint!("{}", argmax(&probabilities));
        for p in probabilities {
            hprint!(" {p:?}");
        }
        hprintln!();
    }

    let x = pixels(&IMAGES[..IMAGE_BYTES]);
    let start = SYST::get_current();
    for _ in 0..RUNS {
        // `black_box`: the optimiser may not assume anything of the input or drop the result.
        black_box(MODEL.predict(black_box(&x)));
    }
    let instructions = ticks_since(start) * INSTRUCTIONS_PER_TICK / RUNS;
    hprintln!("predict: {instructions} instructions");

    debug::exit(debug::EXIT_SUCCESS);
    // Reached only without a semihosting host (on a board with no debugger attached).
    loop {
        cortex_m::asm::wfi();
    }
}
