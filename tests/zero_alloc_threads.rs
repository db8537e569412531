//! No heap allocation per step of a parallel `fit`, on any of its threads.
//!
//! `allocation-counter`, which tests/zero_alloc.rs uses, counts the allocations of the calling
//! thread only, and the helper threads of a parallel fit are not the caller's. This binary
//! counts every thread's allocations instead, with `stats_alloc` as its global allocator, and
//! reads the count from a callback at the beginning and at the end of each epoch: in between,
//! every thread is training steps, metrics measured. It holds one test, since the count also
//! sees any other test's threads.

use std::alloc::System;

use netdsl::prelude::*;
use netdsl::train::EpochLogs;
use netdsl::train::callbacks::{Callback, Context};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

network! {
    /// The MNIST classifier from the Keras tutorial.
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

/// Allocations and reallocations so far, on every thread.
fn allocations() -> usize {
    let stats = ALLOCATOR.stats();
    stats.allocations + stats.reallocations
}

/// Records the allocations made during each epoch.
struct PerEpoch {
    at_begin: usize,
    epochs: Vec<usize>,
}

impl Callback for PerEpoch {
    fn on_epoch_begin(&mut self, _epoch: usize, _: &mut Context<'_>) {
        self.at_begin = allocations();
    }

    fn on_epoch_end(&mut self, _logs: &EpochLogs, _: &mut Context<'_>) {
        let during = allocations() - self.at_begin;
        self.epochs.push(during);
    }
}

#[test]
fn no_thread_of_a_parallel_fit_allocates_while_training() {
    let before = allocations();
    drop(std::hint::black_box(vec![0_u8; 16]));
    assert_eq!(allocations(), before + 1, "the counter sees allocations");
    let spawned = allocations();
    std::thread::spawn(|| drop(std::hint::black_box(vec![0_u8; 16])))
        .join()
        .unwrap();
    assert!(
        allocations() > spawned + 1,
        "the counter sees another thread's allocations"
    );

    let mut train = Dataset::mnist(
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"),
        MnistSplit::Train,
    )
    .expect("bundled MNIST loads");
    // Allocating nothing is a property of each step. Unoptimised, the three epochs of all
    // 60,000 images take a minute: `cargo test` in debug fits the first 6,000.
    if cfg!(debug_assertions) {
        train.split_off(6_000);
    }
    let steps = train.len().div_ceil(2 * 32);
    let mut model = Mnist::new(&mut StdRng::seed_from_u64(1));
    let mut trainer = Trainer::<_, _, _, 32>::new(
        &model,
        Sgd::new(0.05).momentum(0.9),
        CategoricalCrossentropy,
    );
    let mut per_epoch = PerEpoch {
        at_begin: 0,
        epochs: Vec::with_capacity(3),
    };
    // With metrics, which the calling thread updates from every thread's shard.
    let options = Fit::epochs(3)
        .threads(2)
        .metric(netdsl::metrics::F1Score::macro_average())
        .metric(netdsl::metrics::Auc::roc())
        .verbose(Verbose::Silent)
        .callback(&mut per_epoch);
    let start = allocations();
    let history = trainer.fit(&mut model, &train, options).unwrap();
    let whole_fit = allocations() - start;

    assert_eq!(
        per_epoch.epochs,
        [0, 0, 0],
        "allocations during each epoch of {steps} steps on 2 threads ({whole_fit} in the whole fit)"
    );
    assert!(
        history.accuracy[2] > 0.9,
        "the epochs trained: {:?}",
        history.accuracy
    );
    assert!(history.get("auc").unwrap()[2] > 0.95, "{history:?}");
}
