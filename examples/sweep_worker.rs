//! One run of a hyper-parameter sweep, for a job array (Slurm's `--array`, a Ray task, a shell
//! loop): it reads the run's hyper-parameters from its arguments, trains the Keras tutorial's
//! MNIST classifier with them, and prints one JSON line with them and what it measured, so that
//! a sweep's results are the lines of its runs' outputs, `jq`-ready.
//!
//! ```text
//! cargo run --release --example sweep_worker -- --hidden 128 --learning-rate 0.05 --epochs 3 --seed 7
//! {"epochs":3,"hidden":128,"learning_rate":0.05,"seconds":2.1,"seed":7,"test_accuracy":0.9621,...}
//! ```
//!
//! The hidden width is part of the network's type, so each width a sweep tries is a network
//! compiled in (32, 64, 128 or 256 here); another is refused with the others listed. A run
//! that fails prints `{"error": "..."}` with its arguments and exits with status 1, so a job
//! array's failed runs are found by their status and their line alike.

use std::error::Error;
use std::time::Instant;

use netdsl::activation::Softmax;
use netdsl::layer::Initialize;
use netdsl::prelude::*;
use serde_json::{Value, json};

network! {
    pub struct Hidden32<784 => Dense(32, relu) => Dense(10, softmax)>;
    pub struct Hidden64<784 => Dense(64, relu) => Dense(10, softmax)>;
    pub struct Hidden128<784 => Dense(128, relu) => Dense(10, softmax)>;
    pub struct Hidden256<784 => Dense(256, relu) => Dense(10, softmax)>;
}

/// The widths compiled in.
const WIDTHS: [usize; 4] = [32, 64, 128, 256];

/// A run's hyper-parameters, as its arguments give them.
#[derive(Clone, Copy, Debug)]
struct Run {
    hidden: usize,
    learning_rate: f32,
    epochs: usize,
    seed: u64,
}

impl Run {
    /// `--hidden 64 --learning-rate 0.01 --epochs 3 --seed 0`, each optional (those values).
    fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut run = Run {
            hidden: 64,
            learning_rate: 0.01,
            epochs: 3,
            seed: 0,
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or(format!("`{flag}` needs a value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("`{flag} {value}`: {e}");
            match flag.as_str() {
                "--hidden" => run.hidden = value.parse().map_err(|e| bad(&e))?,
                "--learning-rate" => run.learning_rate = value.parse().map_err(|e| bad(&e))?,
                "--epochs" => run.epochs = value.parse().map_err(|e| bad(&e))?,
                "--seed" => run.seed = value.parse().map_err(|e| bad(&e))?,
                _ => {
                    return Err(format!(
                        "unknown argument `{flag}`; expected --hidden, --learning-rate, --epochs or --seed"
                    ));
                }
            }
        }
        if !WIDTHS.contains(&run.hidden) {
            return Err(format!(
                "--hidden {}: this worker was compiled with the widths {WIDTHS:?}",
                run.hidden
            ));
        }
        Ok(run)
    }

    fn json(&self) -> Value {
        json!({
            "hidden": self.hidden,
            "learning_rate": decimal(self.learning_rate),
            "epochs": self.epochs,
            "seed": self.seed,
        })
    }
}

/// Trains `N` as `run` says on the first 50,000 training images, validated on the last
/// 10,000; the measurements of the run.
fn train<N>(run: Run, data: &Data) -> Result<Value, Box<dyn Error>>
where
    N: Network<In = [f32; 784], Out = [f32; 10], Activation = Softmax> + Initialize + Sync,
    N::Tape<32>: Send,
    N::Grads: Send,
{
    let mut model = N::initialize(&mut StdRng::seed_from_u64(run.seed));
    let mut trainer =
        Trainer::<_, _, _, 32>::new(&model, Sgd::new(run.learning_rate), CategoricalCrossentropy);
    let start = Instant::now();
    let options = Fit::epochs(run.epochs)
        .validation_data(&data.validation)
        .seed(run.seed)
        .verbose(Verbose::Silent);
    let history = trainer.fit(&mut model, &data.train, options)?;
    let seconds = start.elapsed().as_secs_f64();
    let test = trainer.evaluate(&model, &data.test);
    let last = |values: &[f32]| values.last().copied().map(decimal);
    Ok(json!({
        "loss": last(&history.loss),
        "accuracy": last(&history.accuracy),
        "val_loss": last(&history.val_loss),
        "val_accuracy": last(&history.val_accuracy),
        "test_loss": decimal(test.loss),
        "test_accuracy": test.accuracy.map(decimal),
        "parameters": model.parameter_count(),
        "seconds": (seconds * 100.0).round() / 100.0,
    }))
}

/// `x` as the shortest decimal that reads back as it (`0.05`, not `0.05000000074505806`); JSON
/// has no NaN, so a NaN becomes `null`.
fn decimal(x: f32) -> Option<f64> {
    x.to_string().parse().ok().filter(|x: &f64| x.is_finite())
}

/// MNIST, split as the tutorial splits it.
struct Data {
    train: Dataset<784, 10>,
    validation: Dataset<784, 10>,
    test: Dataset<784, 10>,
}

fn run(run: Run) -> Result<Value, Box<dyn Error>> {
    let dir = std::env::var("MNIST_DIR").unwrap_or_else(|_| "data/mnist".into());
    let mut training = Dataset::mnist(&dir, MnistSplit::Train)?;
    let validation = training.split_off(50_000);
    let test = Dataset::mnist(&dir, MnistSplit::Test)?;
    let data = Data {
        train: training,
        validation,
        test,
    };
    match run.hidden {
        32 => train::<Hidden32>(run, &data),
        64 => train::<Hidden64>(run, &data),
        128 => train::<Hidden128>(run, &data),
        _ => train::<Hidden256>(run, &data),
    }
}

fn main() {
    let parsed = Run::from_args(std::env::args().skip(1));
    let line = match parsed
        .map_err(Into::into)
        .and_then(|r| run(r).map(|m| (r, m)))
    {
        Ok((run, measured)) => {
            let mut line = run.json();
            if let (Some(line), Value::Object(measured)) = (line.as_object_mut(), measured) {
                line.extend(measured);
            }
            line
        }
        Err(error) => {
            let args: Vec<String> = std::env::args().skip(1).collect();
            println!("{}", json!({ "error": error.to_string(), "args": args }));
            std::process::exit(1);
        }
    };
    println!("{line}");
}
