//! Speed of the Keras tutorial network (784 → 64 relu → 10 softmax, batch 32, SGD) against the
//! machine's own limit: `cargo bench --bench speed` prints one table.
//!
//! It measures, on one core: the FMA peak of each instruction-set path; each matrix product of a
//! training step in GFLOP/s and as a share of the peak; a training step and a whole epoch of the
//! 60,000 real MNIST images; single-sample `predict`; batched inference over the 10,000 test
//! images; and heap allocations per step. LeNet-5 rows follow: a training epoch with Adam at
//! batch 32 and 128, and single-image prediction; then a training epoch of MNIST rows through
//! `SimpleRNN(64)`, `LSTM(64)` and `GRU(64)`, with their share of the peak; streaming steps of
//! LSTM and GRU networks (alone with `cargo bench --bench speed -- streaming`). Every timing is
//! the best of several repetitions, so a busy machine shows as noise in one direction only. On
//! two cores: an epoch at batch 128 on one thread and on two (`Fit::threads(2)`, 64 samples
//! each), and the speed-up.
//! `NETDSL_ISA=avx2+fma` or `portable` selects a slower path for the whole-network rows (`neon`
//! is the fast path on aarch64).
//!
//! bf16 rows ([`Precision::Bf16`]) follow the f32 kernels: the same five products on each bf16
//! path this CPU has, and at the end the tutorial network's and LeNet-5's training epochs in
//! bf16 on the selected bf16 path (`NETDSL_ISA=amx` or `avx512bf16` chooses), next to f32.
//! `cargo bench --bench speed -- bf16` prints only the kernel rows and those.

use std::hint::black_box;
use std::time::Instant;

use netdsl::kernels::{self, Bf16Path, Isa};
use netdsl::prelude::*;

network! {
    /// The MNIST classifier from the Keras tutorial.
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;

    /// LeNet-5 as in examples/lenet5.rs.
    struct LeNet5<(28, 28, 1)
        => Conv2d(6, 5, relu, padding = same) => MaxPool2d(2)
        => Conv2d(16, 5, relu) => MaxPool2d(2)
        => Flatten => Dense(120, relu) => Dense(84, relu) => Dense(10, softmax)>;

    /// MNIST rows through a simple RNN, as in examples/mnist_rnn.rs.
    struct MnistRnn<(28, 28) => SimpleRNN(64) => Dense(10, softmax)>;

    /// MNIST rows through an LSTM, as in examples/mnist_rnn.rs.
    struct MnistLstm<(28, 28) => LSTM(64) => Dense(10, softmax)>;

    /// MNIST rows through a GRU, as in examples/mnist_rnn.rs.
    struct MnistGru<(28, 28) => GRU(64) => Dense(10, softmax)>;

    // RTNeural's streaming workload: one feature, U units, one output, one sample per call.
    struct StreamLstm8<(1, 1) => LSTM(8) => Dense(1)>;
    struct StreamLstm16<(1, 1) => LSTM(16) => Dense(1)>;
    struct StreamLstm32<(1, 1) => LSTM(32) => Dense(1)>;
    struct StreamLstm64<(1, 1) => LSTM(64) => Dense(1)>;
    struct StreamGru8<(1, 1) => GRU(8) => Dense(1)>;
    struct StreamGru16<(1, 1) => GRU(16) => Dense(1)>;
    struct StreamGru32<(1, 1) => GRU(32) => Dense(1)>;
    struct StreamGru64<(1, 1) => GRU(64) => Dense(1)>;
}

/// Multiply-adds of one LeNet-5 sample's forward pass, times two: conv1 28·28·6·25,
/// conv2 10·10·16·150, dense 400·120 + 120·84 + 84·10.
const LENET_FORWARD_FLOP: f64 = 2.0 * (117_600.0 + 240_000.0 + 48_000.0 + 10_080.0 + 840.0);
/// The backward pass: weight gradients of every layer, input gradients of all but the first.
const LENET_BACKWARD_FLOP: f64 = 2.0 * LENET_FORWARD_FLOP - 2.0 * 117_600.0;

/// A training step's FLOP for one sample of 28 rows of 28 pixels through a recurrent layer of
/// 64 units and `gates` gates, then `Dense(10)`: each step's product of `[x_t | h_{t-1}]` (92
/// wide) with the gates' `92 × 64·gates` weights forward, the same again for their gradient, and
/// `dz_t · W_hᵀ` for the 27 steps that have a previous state (no input gradient: it is the first
/// layer); the dense layer's three products.
fn recurrent_flop(gates: f64) -> f64 {
    let (steps, width, units) = (28.0, 92.0, 64.0);
    let forward = 2.0 * steps * width * gates * units;
    let state_gradient = 2.0 * (steps - 1.0) * units * gates * units;
    2.0 * forward + state_gradient + 3.0 * 2.0 * units * 10.0
}

/// Recurrent rows: a training epoch of `model` (a recurrent layer with `gates` gates) on `train`
/// with Adam at batch 32 (the best of two), its share of `peak`, and allocations per step.
fn recurrent_rows<N>(
    name: &str,
    gates: f64,
    mut model: N,
    train: &Dataset<784, 10>,
    peak: f64,
    rows: &mut Vec<Row>,
) where
    N: Network<In = [f32; 784], Out = [f32; 10]> + Sync,
    N::Tape<32>: Send,
    N::Grads: Send,
    CategoricalCrossentropy: Loss<N::Activation>,
{
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Adam::default(), CategoricalCrossentropy);
    let mut rng = StdRng::seed_from_u64(1);
    let epoch = (0..2)
        .map(|_| {
            let start = Instant::now();
            trainer.train_epoch(&mut model, train, Some(&mut rng));
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    rows.push(row(
        format!("{name} training epoch, 60,000 images as 28 steps, batch 32, Adam"),
        format!("{epoch:.2} s"),
        format!(
            "{:.0} samples/s, {:.0} GFLOP/s = {:.0} % of peak",
            train.len() as f64 / epoch,
            recurrent_flop(gates) * train.len() as f64 / epoch / 1e9,
            100.0 * recurrent_flop(gates) * train.len() as f64 / epoch / 1e9 / peak
        ),
    ));
    let steps = train.len().div_ceil(32);
    let info = allocation_counter::measure(|| {
        trainer.train_epoch(&mut model, train, Some(&mut rng));
    });
    rows.push(row(
        format!("{name} heap allocations per step"),
        format!("{}", info.count_total as f64 / steps as f64),
        "counted over a whole epoch",
    ));
}

/// LeNet-5 rows: a training epoch of `train` with Adam at batch `B`, and allocations per step.
fn lenet_rows<const B: usize>(train: &Dataset<784, 10>, peak: f64, rows: &mut Vec<Row>) {
    let mut model = LeNet5::new(&mut StdRng::seed_from_u64(42));
    let mut trainer = Trainer::<_, _, _, B>::new(&model, Adam::default(), CategoricalCrossentropy);
    let mut rng = StdRng::seed_from_u64(1);
    // An epoch takes seconds: fewer repetitions than the rest of the table.
    let epoch = (0..3)
        .map(|_| {
            let start = Instant::now();
            trainer.train_epoch(&mut model, train, Some(&mut rng));
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    let flops = (LENET_FORWARD_FLOP + LENET_BACKWARD_FLOP) * train.len() as f64;
    rows.push(row(
        format!("LeNet-5 training epoch, 60,000 images, batch {B}, Adam"),
        format!("{epoch:.2} s"),
        format!(
            "{:.0} samples/s, {:.0} GFLOP/s = {:.0} % of peak",
            train.len() as f64 / epoch,
            flops / epoch / 1e9,
            100.0 * flops / epoch / 1e9 / peak
        ),
    ));
    let steps = train.len().div_ceil(B);
    let info = allocation_counter::measure(|| {
        trainer.train_epoch(&mut model, train, Some(&mut rng));
    });
    rows.push(row(
        format!("LeNet-5 heap allocations per step, batch {B}"),
        format!("{}", info.count_total as f64 / steps as f64),
        "counted over a whole epoch",
    ));
}

const BATCH: usize = 32;
const REPEATS: usize = 7;

/// The best time, in seconds, of `REPEATS` runs of `f`.
fn best_of(mut f: impl FnMut()) -> f64 {
    (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// A dense (no zeros) row-major matrix of values in [-1, 1).
fn random<const R: usize, const C: usize>(rng: &mut StdRng) -> Box<[[f32; C]; R]> {
    use netdsl::rand::RngExt;
    let mut m: Box<[[f32; C]; R]> = vec![[0.0; C]; R].into_boxed_slice().try_into().unwrap();
    for v in m.as_flattened_mut() {
        *v = rng.random_range(-1.0..1.0);
    }
    m
}

struct Row {
    what: String,
    value: String,
    note: String,
}

fn row(what: impl Into<String>, value: impl Into<String>, note: impl Into<String>) -> Row {
    Row {
        what: what.into(),
        value: value.into(),
        note: note.into(),
    }
}

/// GFLOP/s of `flops` per call of `f`, each timing covering `calls` calls.
fn gflops(flops: f64, calls: usize, mut f: impl FnMut()) -> f64 {
    let seconds = best_of(|| {
        for _ in 0..calls {
            f();
        }
    });
    flops * calls as f64 / seconds / 1e9
}

/// How [`kernel_rows`] computes the products: f32 on an instruction set, or bf16 on a path.
#[derive(Clone, Copy)]
enum Via {
    F32(Isa),
    Bf16(Bf16Path),
}

impl Via {
    fn name(self) -> String {
        match self {
            Via::F32(isa) => isa.name().to_string(),
            Via::Bf16(path) => format!("bf16 {}", path.name()),
        }
    }

    fn affine<const I: usize, const O: usize>(
        self,
        x: &[[f32; I]; BATCH],
        w: &[[f32; O]; I],
        bias: Option<&[f32; O]>,
        y: &mut [[f32; O]; BATCH],
    ) {
        match self {
            Via::F32(isa) => kernels::affine_with(isa, x, w, bias, y),
            Via::Bf16(path) => kernels::affine_bf16_with(path, x, w, bias, y),
        }
    }

    fn weight_gradient<const I: usize, const O: usize>(
        self,
        x: &[[f32; I]; BATCH],
        dz: &[[f32; O]; BATCH],
        dw: &mut [[f32; O]; I],
    ) {
        match self {
            Via::F32(isa) => kernels::weight_gradient_with(isa, x, dz, dw),
            Via::Bf16(path) => kernels::weight_gradient_bf16_with(path, x, dz, dw),
        }
    }

    fn input_gradient<const I: usize, const O: usize>(
        self,
        dz: &[[f32; O]; BATCH],
        w: &[[f32; O]; I],
        dx: &mut [[f32; I]; BATCH],
    ) {
        match self {
            Via::F32(isa) => kernels::input_gradient_with(isa, dz, w, dx),
            Via::Bf16(path) => kernels::input_gradient_bf16_with(path, dz, w, dx),
        }
    }
}

/// The five products of a training step of the tutorial network, computed `via`; `peak` is
/// the f32 FMA peak of the path (bf16 rows compare with AVX-512's).
fn kernel_rows(via: Via, peak: f64, rows: &mut Vec<Row>) {
    let mut rng = StdRng::seed_from_u64(1);
    let x = random::<BATCH, 784>(&mut rng);
    let w1 = random::<784, 64>(&mut rng);
    let b1 = random::<1, 64>(&mut rng);
    let h = random::<BATCH, 64>(&mut rng);
    let w2 = random::<64, 10>(&mut rng);
    let dz2 = random::<BATCH, 10>(&mut rng);
    let dz1 = random::<BATCH, 64>(&mut rng);
    let (mut y1, mut y2) = (random::<BATCH, 64>(&mut rng), random::<BATCH, 10>(&mut rng));
    let (mut dw1, mut dw2, mut dh) = (
        random::<784, 64>(&mut rng),
        random::<64, 10>(&mut rng),
        random::<BATCH, 64>(&mut rng),
    );

    let calls = 2000;
    let flops = |m: usize, k: usize, n: usize| 2.0 * (m * k * n) as f64;
    let mut products = Vec::new();
    products.push((
        "X·W1 (32×784 · 784×64)",
        flops(32, 784, 64),
        gflops(flops(32, 784, 64), calls, || {
            via.affine(black_box(&*x), &w1, Some(&b1[0]), &mut y1)
        }),
    ));
    products.push((
        "Xᵀ·dZ1 (784×32 · 32×64)",
        flops(784, 32, 64),
        gflops(flops(784, 32, 64), calls, || {
            via.weight_gradient(black_box(&*x), &dz1, &mut dw1)
        }),
    ));
    products.push((
        "H·W2 (32×64 · 64×10)",
        flops(32, 64, 10),
        gflops(flops(32, 64, 10), calls, || {
            via.affine(black_box(&*h), &w2, None, &mut y2)
        }),
    ));
    products.push((
        "Hᵀ·dZ2 (64×32 · 32×10)",
        flops(64, 32, 10),
        gflops(flops(64, 32, 10), calls, || {
            via.weight_gradient(black_box(&*h), &dz2, &mut dw2)
        }),
    ));
    products.push((
        "dZ2·W2ᵀ (32×10 · 10×64)",
        flops(32, 10, 64),
        gflops(flops(32, 10, 64), calls, || {
            via.input_gradient(black_box(&*dz2), &w2, &mut dh)
        }),
    ));
    let (mut total_flops, mut total_seconds) = (0.0, 0.0);
    for (name, flops, gf) in products {
        rows.push(row(
            format!("  {} {name}", via.name()),
            format!("{gf:.1} GFLOP/s"),
            format!("{:.0} % of peak", 100.0 * gf / peak),
        ));
        total_flops += flops;
        total_seconds += flops / (gf * 1e9);
    }
    let all = total_flops / total_seconds / 1e9;
    rows.push(row(
        format!("  {} all five products of a step", via.name()),
        format!("{all:.1} GFLOP/s"),
        format!(
            "{:.0} % of peak, {:.1} µs per step",
            100.0 * all / peak,
            total_seconds * 1e6
        ),
    ));
}

/// Seconds of one epoch of `fit` on `threads` threads, each training `B` samples a step.
fn fit_epoch<const B: usize>(model: &mut Mnist, train: &Dataset<784, 10>, threads: usize) -> f64 {
    let mut trainer = Trainer::<_, _, _, B>::new(model, Sgd::new(0.01), CategoricalCrossentropy);
    let options = Fit::epochs(1).threads(threads).verbose(Verbose::Silent);
    trainer
        .fit(model, train, options)
        .expect("no callback stops it")
        .epoch_seconds[0]
}

/// Epoch seconds at batch 128 on one thread and on two threads of 64, the best of `REPEATS`
/// each, alternating so that a busy spell of the machine slows both alike.
fn parallel_rows(train: &Dataset<784, 10>, rows: &mut Vec<Row>) {
    let mut model = Mnist::new(&mut StdRng::seed_from_u64(42));
    let (mut one, mut two) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..REPEATS {
        one = one.min(fit_epoch::<128>(&mut model, train, 1));
        two = two.min(fit_epoch::<64>(&mut model, train, 2));
    }
    let steps = train.len().div_ceil(128);
    for (threads, seconds) in [("1 thread × 128", one), ("2 threads × 64", two)] {
        rows.push(row(
            format!("training epoch, batch 128, SGD: {threads}"),
            format!("{seconds:.3} s"),
            format!("{:.1} µs per step", seconds / steps as f64 * 1e6),
        ));
    }
    rows.push(row(
        "speed-up of 2 threads at batch 128",
        format!("{:.2}×", one / two),
        "",
    ));
}

/// Nanoseconds per step of `net` on one stream, its state kept from step to step, over a
/// signal of 4096 samples; and its heap allocations over those steps.
fn ns_per_step<N: Stream<StepIn = [f32; 1], StepOut = [f32; 1]>>(net: &N) -> (f64, u64) {
    let signal: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.05).sin()).collect();
    let mut state = N::State::default();
    let mut y = [0.0];
    let mut run = || {
        for &x in &signal {
            net.step(&mut state, black_box(&[x]), &mut y);
            black_box(&y);
        }
    };
    run();
    let seconds = (0..REPEATS * 3)
        .map(|_| best_of(&mut run))
        .fold(f64::INFINITY, f64::min);
    let allocations = allocation_counter::measure(&mut run).count_total;
    (seconds / signal.len() as f64 * 1e9, allocations)
}

/// One stream, one step per call, of `1 → LSTM(U) or GRU(U) → Dense(1)` with Keras'
/// initialisation, against RTNeural's best native build on this machine (from the issue).
fn streaming_rows(rows: &mut Vec<Row>) {
    let rng = || StdRng::seed_from_u64(42);
    let figures = [
        ("LSTM(8)", ns_per_step(&StreamLstm8::new(&mut rng())), 96),
        ("LSTM(16)", ns_per_step(&StreamLstm16::new(&mut rng())), 77),
        ("LSTM(32)", ns_per_step(&StreamLstm32::new(&mut rng())), 153),
        ("LSTM(64)", ns_per_step(&StreamLstm64::new(&mut rng())), 637),
        ("GRU(8)", ns_per_step(&StreamGru8::new(&mut rng())), 82),
        ("GRU(16)", ns_per_step(&StreamGru16::new(&mut rng())), 78),
        ("GRU(32)", ns_per_step(&StreamGru32::new(&mut rng())), 140),
        ("GRU(64)", ns_per_step(&StreamGru64::new(&mut rng())), 456),
    ];
    for (cell, (ns, allocations), rtneural) in figures {
        rows.push(row(
            format!("streaming step, 1 → {cell} → Dense(1), one stream"),
            format!("{ns:.0} ns"),
            format!("RTNeural best native build: {rtneural} ns; {allocations} allocations"),
        ));
    }
}

fn main() {
    // `cargo bench --bench speed -- streaming`: the streaming rows alone.
    if std::env::args().any(|arg| arg == "streaming") {
        let mut rows = Vec::new();
        streaming_rows(&mut rows);
        print_table(rows);
        return;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist");
    let train = Dataset::mnist(dir, MnistSplit::Train).expect("bundled MNIST");
    let test = Dataset::mnist(dir, MnistSplit::Test).expect("bundled MNIST");
    let mut rows = Vec::new();

    let selected = Isa::selected();
    let mut peaks = Vec::new();
    for isa in Isa::supported() {
        // The best of several short windows, like every other figure here.
        let peak = (0..REPEATS)
            .map(|_| kernels::peak_flops(isa, 0.1))
            .fold(0.0, f64::max)
            / 1e9;
        rows.push(row(
            format!("FMA peak, one core, {}", isa.name()),
            format!("{peak:.1} GFLOP/s"),
            "measured in-process",
        ));
        peaks.push((isa, peak));
    }
    for &(isa, peak) in &peaks {
        kernel_rows(Via::F32(isa), peak, &mut rows);
    }
    let avx512_peak = peaks
        .iter()
        .find(|(isa, _)| *isa == Isa::Avx512)
        .map_or(f64::NAN, |&(_, peak)| peak);
    for path in [Bf16Path::Amx, Bf16Path::Avx512Bf16] {
        if path.is_supported() {
            kernel_rows(Via::Bf16(path), avx512_peak, &mut rows);
        }
    }
    if std::env::args().any(|arg| arg == "bf16") {
        bf16_rows(&train, &test, &mut rows);
        print_table(rows);
        return;
    }

    // Whole-network figures on the selected path.
    let mut model = Mnist::new(&mut StdRng::seed_from_u64(42));
    let mut trainer =
        Trainer::<_, _, _, BATCH>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
    let mut rng = StdRng::seed_from_u64(1);
    let epoch = best_of(|| {
        trainer.train_epoch(&mut model, &train, Some(&mut rng));
    });
    let steps = train.len().div_ceil(BATCH);
    rows.push(row(
        format!(
            "training epoch, 60,000 images, batch 32, SGD ({})",
            selected.name()
        ),
        format!("{epoch:.3} s"),
        format!(
            "{:.1} µs per step, {:.0} samples/s",
            epoch / steps as f64 * 1e6,
            train.len() as f64 / epoch
        ),
    ));

    let info = allocation_counter::measure(|| {
        trainer.train_epoch(&mut model, &train, Some(&mut rng));
    });
    rows.push(row(
        "heap allocations per training step",
        format!("{}", info.count_total as f64 / steps as f64),
        "counted over a whole epoch",
    ));

    let images: Vec<[f32; 784]> = (0..test.len()).map(|i| test.input(i)).collect();
    let predict = best_of(|| {
        for image in &images {
            black_box(model.predict(black_box(image)));
        }
    });
    rows.push(row(
        "single-sample predict",
        format!("{:.2} µs", predict / images.len() as f64 * 1e6),
        format!("{:.0} samples/s", images.len() as f64 / predict),
    ));
    let info = allocation_counter::measure(|| {
        black_box(model.predict(&images[0]));
    });
    rows.push(row(
        "heap allocations per predict",
        format!("{}", info.count_total),
        "",
    ));

    let mut outputs = vec![[0.0; 10]; images.len()];
    let batched = best_of(|| trainer.predict_into(&model, black_box(&images), &mut outputs));
    rows.push(row(
        "batched inference, test images, batch 32 (`predict_into`)",
        format!("{:.2} M samples/s", images.len() as f64 / batched / 1e6),
        format!("{:.3} s for {} images", batched, images.len()),
    ));

    let peak = peaks
        .iter()
        .find(|(isa, _)| *isa == selected)
        .map_or(f64::NAN, |&(_, peak)| peak);
    lenet_rows::<32>(&train, peak, &mut rows);
    lenet_rows::<128>(&train, peak, &mut rows);
    let lenet = LeNet5::new(&mut StdRng::seed_from_u64(42));
    let images = &images[..1000];
    let predict = best_of(|| {
        for image in images {
            black_box(lenet.predict(black_box(image)));
        }
    });
    rows.push(row(
        "LeNet-5 single-image predict",
        format!("{:.1} µs", predict / images.len() as f64 * 1e6),
        format!("{:.0} images/s", images.len() as f64 / predict),
    ));
    let info = allocation_counter::measure(|| {
        black_box(lenet.predict(&images[0]));
    });
    rows.push(row(
        "LeNet-5 heap allocations per predict",
        format!("{}", info.count_total),
        "",
    ));

    let rng = || StdRng::seed_from_u64(42);
    let models = (MnistRnn::new(&mut rng()), MnistLstm::new(&mut rng()));
    recurrent_rows("SimpleRNN(64)", 1.0, models.0, &train, peak, &mut rows);
    recurrent_rows("LSTM(64)", 4.0, models.1, &train, peak, &mut rows);
    let gru = MnistGru::new(&mut rng());
    recurrent_rows("GRU(64)", 3.0, gru, &train, peak, &mut rows);

    bf16_rows(&train, &test, &mut rows);
    streaming_rows(&mut rows);

    // Last: two cores of AVX-512 at once can lower the clock for a while after.
    parallel_rows(&train, &mut rows);
    print_table(rows);
}

/// Epochs of the tutorial network (best of `REPEATS`) and of LeNet-5 at batch 32 (best of
/// three) in f32 and in bf16 on the selected bf16 path, alternating, and bf16 batched
/// inference.
fn bf16_rows(train: &Dataset<784, 10>, test: &Dataset<784, 10>, rows: &mut Vec<Row>) {
    let Some(path) = Bf16Path::selected() else {
        rows.push(row("bf16", "none", "this CPU has no bf16 path"));
        return;
    };
    let mut rng = StdRng::seed_from_u64(1);
    let mut model = Mnist::new(&mut StdRng::seed_from_u64(42));
    let mut epochs = [f64::INFINITY; 2];
    let mut trainers = [Precision::F32, Precision::Bf16].map(|precision| {
        let mut trainer =
            Trainer::<_, _, _, BATCH>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
        trainer.set_precision(&model, precision);
        trainer
    });
    for _ in 0..REPEATS {
        for (trainer, best) in trainers.iter_mut().zip(&mut epochs) {
            let start = Instant::now();
            trainer.train_epoch(&mut model, train, Some(&mut rng));
            *best = best.min(start.elapsed().as_secs_f64());
        }
    }
    let steps = train.len().div_ceil(BATCH);
    for (precision, epoch) in ["f32", "bf16"].iter().zip(epochs) {
        rows.push(row(
            format!(
                "training epoch, batch 32, SGD, {precision} ({})",
                path.name()
            ),
            format!("{epoch:.3} s"),
            format!("{:.1} µs per step", epoch / steps as f64 * 1e6),
        ));
    }
    let info = allocation_counter::measure(|| {
        trainers[1].train_epoch(&mut model, train, Some(&mut rng));
    });
    rows.push(row(
        "bf16 heap allocations per training step",
        format!("{}", info.count_total as f64 / steps as f64),
        "counted over a whole epoch",
    ));
    let images: Vec<[f32; 784]> = (0..test.len()).map(|i| test.input(i)).collect();
    let mut outputs = vec![[0.0; 10]; images.len()];
    let batched = best_of(|| trainers[1].predict_into(&model, black_box(&images), &mut outputs));
    rows.push(row(
        "bf16 batched inference, test images, batch 32",
        format!("{:.2} M samples/s", images.len() as f64 / batched / 1e6),
        format!("{:.3} s for {} images", batched, images.len()),
    ));

    let mut lenet = LeNet5::new(&mut StdRng::seed_from_u64(42));
    let mut epochs = [f64::INFINITY; 2];
    let mut trainers = [Precision::F32, Precision::Bf16].map(|precision| {
        let mut trainer =
            Trainer::<_, _, _, BATCH>::new(&lenet, Adam::default(), CategoricalCrossentropy);
        trainer.set_precision(&lenet, precision);
        trainer
    });
    for _ in 0..3 {
        for (trainer, best) in trainers.iter_mut().zip(&mut epochs) {
            let start = Instant::now();
            trainer.train_epoch(&mut lenet, train, Some(&mut rng));
            *best = best.min(start.elapsed().as_secs_f64());
        }
    }
    for (precision, epoch) in ["f32", "bf16"].iter().zip(epochs) {
        rows.push(row(
            format!(
                "LeNet-5 training epoch, batch 32, Adam, {precision} ({})",
                path.name()
            ),
            format!("{epoch:.2} s"),
            "",
        ));
    }
}

/// Prints `rows` as a Markdown table.
fn print_table(rows: Vec<Row>) {
    let width = rows
        .iter()
        .map(|r| r.what.chars().count())
        .max()
        .unwrap_or(0);
    let value_width = rows
        .iter()
        .map(|r| r.value.chars().count())
        .max()
        .unwrap_or(0);
    println!(
        "| {:width$} | {:>value_width$} | note |",
        "measure", "value"
    );
    println!(
        "|{}|{}:|---|",
        "-".repeat(width + 2),
        "-".repeat(value_width + 1)
    );
    for r in rows {
        let pad = width - r.what.chars().count();
        let vpad = value_width - r.value.chars().count();
        println!(
            "| {}{} | {}{} | {} |",
            r.what,
            " ".repeat(pad),
            " ".repeat(vpad),
            r.value,
            r.note
        );
    }
}
