//! Metrics in `fit`, end to end on real MNIST images (a subset of the bundled test split, so
//! that a debug build runs it in seconds): chosen by the user as Keras' `metrics=[...]`, shown
//! in the epoch line, recorded in the history under Keras' keys, written by `CsvLogger`,
//! watched by `EarlyStopping`, `ReduceLrOnPlateau` and `ModelCheckpoint`; and a regression
//! whose logs have its metrics and no accuracy.

use std::path::{Path, PathBuf};

use netdsl::metrics::{
    self, Auc, F1Score, Metric, Precision, R2Score, Recall, RootMeanSquaredError,
    TopKCategoricalAccuracy,
};
use netdsl::prelude::*;
use netdsl::train::TrainError;
use netdsl::train::callbacks::{
    CsvLogger, EarlyStopping, ModelCheckpoint, Monitor, ReduceLrOnPlateau,
};

network! {
    /// A small MNIST classifier.
    struct Digits<784 => Dense(32, relu) => Dense(10, softmax)>;

    /// A regression of one value from two.
    struct Line<2 => Dense(8, tanh) => Dense(1, linear)>;
}

fn mnist() -> (Dataset<784, 10>, Dataset<784, 10>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let mut train = Dataset::mnist(dir, MnistSplit::Test).unwrap();
    let mut validation = train.split_off(2_000);
    validation.split_off(1_000);
    (train, validation)
}

/// The mean largest output: a metric of the user's own, through the trait.
#[derive(Default)]
struct Confidence {
    sum: f64,
    samples: u64,
}

impl Metric for Confidence {
    fn name(&self) -> &'static str {
        "confidence"
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
    fn update(&mut self, y: &[f32], _: &[f32]) {
        self.sum += f64::from(y.iter().copied().fold(f32::MIN, f32::max));
        self.samples += 1;
    }
    fn result(&self) -> f32 {
        (self.sum / self.samples as f64) as f32
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netdsl-fit-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn mnist_fit_logs_records_prints_and_monitors_its_metrics() {
    let (train, validation) = mnist();
    let mut model = Digits::new(&mut StdRng::seed_from_u64(1));
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Adam::new(1e-3), CategoricalCrossentropy);
    // The validation AUC cannot rise by 0.5: the second epoch stops the fit.
    let mut early = EarlyStopping::new(Monitor::Metric("val_auc"))
        .min_delta(0.5)
        .patience(1);
    let csv = scratch("log.csv");
    let mut logger = CsvLogger::new(&csv);
    let mut recall = Recall::new();
    let mut printed = Vec::new();
    let options = Fit::epochs(5)
        .validation_data(&validation)
        .seed(3)
        .metric(Precision::new())
        .metric(&mut recall)
        .metric(F1Score::macro_average())
        .metric(Auc::roc())
        .metric(TopKCategoricalAccuracy::new(3))
        .metric(Confidence::default())
        .callback(&mut early)
        .callback(&mut logger)
        .verbose(Verbose::EpochLine)
        .output(&mut printed);
    let history = trainer.fit(&mut model, &train, options).unwrap();

    assert_eq!(early.stopped_epoch(), Some(2), "{history:?}");
    assert_eq!(history.epochs(), 2);
    let keys: Vec<&str> = history.metrics.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "auc",
            "confidence",
            "f1_score",
            "precision",
            "recall",
            "top_k_categorical_accuracy",
            "val_auc",
            "val_confidence",
            "val_f1_score",
            "val_precision",
            "val_recall",
            "val_top_k_categorical_accuracy",
        ]
    );
    for (key, values) in &history.metrics {
        assert_eq!(values.len(), 2, "{key}: {values:?}");
        assert!(
            values.iter().all(|v| (0.0..=1.0).contains(v)),
            "{key}: {values:?}"
        );
    }
    let last = |key: &str| history.get(key).unwrap()[1];
    assert!(last("val_auc") > 0.95, "{history:?}");
    assert!(last("val_top_k_categorical_accuracy") >= history.val_accuracy[1]);
    assert!(last("val_f1_score") > 0.75, "{history:?}");

    // The last validation is the model's: the same metrics, measured afresh, agree.
    let (mut precision, mut f1, mut auc) = (Precision::new(), F1Score::macro_average(), Auc::roc());
    let again = trainer.evaluate_with(
        &model,
        &validation,
        &mut [&mut precision, &mut f1, &mut auc],
    );
    assert_eq!(again.metrics.get("precision"), Some(last("val_precision")));
    assert_eq!(again.metrics.get("f1_score"), Some(last("val_f1_score")));
    assert_eq!(again.metrics.get("auc"), Some(last("val_auc")));
    assert_eq!(again.accuracy, Some(history.val_accuracy[1]));
    assert_eq!(
        recall.result(),
        last("val_recall"),
        "a metric lent by `&mut`"
    );

    let printed = String::from_utf8(printed).unwrap();
    let line = printed.lines().nth(1).unwrap();
    assert!(
        line.contains("- accuracy: ")
            && line.contains("- auc: ")
            && line.contains("- top_k_categorical_accuracy: ")
            && line.contains("- val_auc: ")
            && line.contains("- val_confidence: "),
        "{printed}"
    );
    let auc_at = line.find("- auc: ").unwrap();
    assert!(line.find("- accuracy: ").unwrap() < auc_at && auc_at < line.find("- loss: ").unwrap());

    let log = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        log.lines().next(),
        Some(
            "epoch,accuracy,auc,confidence,f1_score,learning_rate,loss,precision,recall,top_k_categorical_accuracy,\
             val_accuracy,val_auc,val_confidence,val_f1_score,val_loss,val_precision,val_recall,val_top_k_categorical_accuracy"
        )
    );
    let row: Vec<f32> = log
        .lines()
        .nth(2)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(row[2], last("auc"));
    assert_eq!(row[11], last("val_auc"));
    std::fs::remove_file(csv).unwrap();
}

#[test]
fn a_checkpoint_keeps_the_epoch_of_the_best_metric_named_in_its_file() {
    let (train, validation) = mnist();
    let mut model = Digits::new(&mut StdRng::seed_from_u64(2));
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Sgd::new(0.05), CategoricalCrossentropy);
    let dir = scratch("checkpoints");
    let mut checkpoint = ModelCheckpoint::new(dir.join("{epoch:02d}-{val_pr_auc:.4f}.safetensors"))
        .unwrap()
        .monitor(Monitor::Metric("val_pr_auc"))
        .save_best_only(true);
    let options = Fit::epochs(3)
        .validation_data(&validation)
        .metric(Auc::pr())
        .callback(&mut checkpoint)
        .verbose(Verbose::Silent);
    let history = trainer.fit(&mut model, &train, options).unwrap();
    let values = history.get("val_pr_auc").unwrap();
    let (best_epoch, best) = values
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::MIN), |b, (e, v)| if v > b.1 { (e, v) } else { b });
    assert_eq!(
        checkpoint.best(),
        Some(best),
        "the highest is the best: {values:?}"
    );
    let name = format!("{:02}-{best:.4}.safetensors", best_epoch + 1);
    assert!(dir.join(&name).exists(), "{name}");

    // A key the fit does not log (a typo) stops it before training.
    let mut typo = ModelCheckpoint::new(dir.join("{val_pr_acu:.2f}.safetensors")).unwrap();
    let before = model.dense_2.weights().to_owned();
    let options = Fit::epochs(1)
        .validation_data(&validation)
        .metric(Auc::pr())
        .callback(&mut typo)
        .verbose(Verbose::Silent);
    let error = trainer.fit(&mut model, &train, options).unwrap_err();
    assert!(
        matches!(error, TrainError::Callback { epoch: 0, .. })
            && error
                .to_string()
                .contains("`{val_pr_acu}`, which this fit does not log"),
        "{error}"
    );
    assert_eq!(model.dense_2.weights(), &before);
    std::fs::remove_dir_all(dir).unwrap();
}

/// `y = x0 - 2 x1` on a grid.
fn line() -> Dataset<2, 1> {
    let inputs: Vec<[f32; 2]> = (0..64)
        .map(|i| [(i % 8) as f32 / 8.0, (i / 8) as f32 / 8.0])
        .collect();
    let targets = inputs.iter().map(|x| [x[0] - 2.0 * x[1]]).collect();
    Dataset::from_arrays(inputs, targets).unwrap()
}

#[test]
fn a_regression_logs_its_metrics_and_no_accuracy() {
    let data = line();
    let mut model = Line::new(&mut StdRng::seed_from_u64(4));
    let mut trainer = Trainer::<_, _, _, 8>::new(&model, Adam::new(0.01), MeanSquaredError);
    // Each epoch lowers the error: a plateau on it (lower is better) never comes.
    let mut plateau = ReduceLrOnPlateau::new(Monitor::Metric("mean_absolute_error")).patience(1);
    let mut printed = Vec::new();
    let options = Fit::epochs(4)
        .validation_split(0.25)
        .metric(metrics::MeanAbsoluteError::default())
        .metric(RootMeanSquaredError::default())
        .metric(R2Score::default())
        .callback(&mut plateau)
        .verbose(Verbose::EpochLine)
        .output(&mut printed);
    let history = trainer.fit(&mut model, &data, options).unwrap();
    let mae = history.get("mean_absolute_error").unwrap();
    assert!(mae.windows(2).all(|w| w[1] < w[0]), "{mae:?}");
    assert_eq!(history.learning_rate, [0.01; 4], "never reduced");
    assert!(history.accuracy.is_empty() && history.val_accuracy.is_empty());
    assert_eq!(history.get("val_r2_score").map(<[f32]>::len), Some(4));
    let printed = String::from_utf8(printed).unwrap();
    assert!(!printed.contains("accuracy"), "{printed}");
    assert!(
        printed.contains("- mean_absolute_error: ") && printed.contains("- val_r2_score: "),
        "{printed}"
    );
    // RMSE over the validation split is the square root of its mean squared loss.
    let (rmse, loss) = (
        history.get("val_root_mean_squared_error").unwrap()[3],
        history.val_loss[3],
    );
    assert!(
        (rmse * rmse - loss).abs() < 1e-5 * loss.max(1.0),
        "{rmse}² and {loss}"
    );
}

#[test]
fn metrics_that_cannot_be_logged_are_refused_before_training() {
    let data = line();
    let mut model = Line::new(&mut StdRng::seed_from_u64(4));
    let before = model.dense_2.weights().to_owned();
    let mut trainer = Trainer::<_, _, _, 8>::new(&model, Sgd::new(0.1), MeanSquaredError);
    let options = Fit::epochs(1)
        .metric(R2Score::default())
        .metric(R2Score::default())
        .verbose(Verbose::Silent);
    let error = trainer.fit(&mut model, &data, options).unwrap_err();
    assert!(
        matches!(error, TrainError::InvalidMetrics { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("two metrics named `r2_score`"),
        "{error}"
    );
    assert_eq!(model.dense_2.weights(), &before);
    let options = Fit::epochs(1)
        .metric(Named("epoch"))
        .verbose(Verbose::Silent);
    let error = trainer.fit(&mut model, &data, options).unwrap_err();
    assert!(
        error.to_string().contains("a metric named `epoch`"),
        "{error}"
    );
}

/// A metric of any name, always 0.
struct Named(&'static str);

impl Metric for Named {
    fn name(&self) -> &'static str {
        self.0
    }
    fn reset(&mut self) {}
    fn update(&mut self, _: &[f32], _: &[f32]) {}
    fn result(&self) -> f32 {
        0.0
    }
}
