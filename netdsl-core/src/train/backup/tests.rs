use std::collections::BTreeMap;

use safetensors::tensor::{SafeTensors, TensorView};

use super::*;
use crate::activation::Softmax;
use crate::data::Dataset;
use crate::layers::Dense;
use crate::loss::CategoricalCrossentropy;
use crate::optim::schedule::StepDecay;
use crate::optim::{Adam, Optimizer, Sgd};
use crate::train::{Fit, History, TrainError, Trainer, Verbose};

type Classifier = Dense<3, 4, Softmax>;

fn classifier() -> Classifier {
    let mut weights = [[0.0; 4]; 3];
    for (k, w) in weights.as_flattened_mut().iter_mut().enumerate() {
        *w = ((k * 7 % 11) as f32 - 5.0) / 10.0;
    }
    Dense::from_parameters(weights, Some([0.1, -0.2, 0.0, 0.05]))
}

/// 40 samples of 4 classes: 10 steps an epoch at batch 4.
fn samples() -> Dataset<3, 4> {
    let inputs = (0..40)
        .map(|i| {
            let i = i as f32;
            [(i * 0.37).sin(), (i * 0.71).cos(), (i * 0.13).sin() * 2.0]
        })
        .collect();
    Dataset::from_classes(inputs, (0..40u32).map(|i| i * 5 % 4).collect()).unwrap()
}

/// Adam whose rate halves every 7 steps: the schedule reads the restored step count.
fn adam() -> Adam {
    Adam::new(0.05).with_schedule(StepDecay::new(0.05, 0.5, 7))
}

fn options<'a>() -> Fit<'a, 3, 4> {
    Fit::epochs(3).seed(9).verbose(Verbose::Silent)
}

/// Fails `fit` after step `batch` of epoch `epoch`, as a killed process stops there.
struct Interrupt {
    epoch: usize,
    batch: usize,
}

impl Callback for Interrupt {
    fn on_train_batch_end(&mut self, logs: &BatchLogs, context: &mut Context<'_>) {
        if (logs.epoch, logs.batch) == (self.epoch, self.batch) {
            context.fail("interrupted");
        }
    }
}

/// A fit never interrupted: its model and history.
fn uninterrupted() -> (Classifier, History) {
    let mut model = classifier();
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, adam(), CategoricalCrossentropy);
    let history = trainer.fit(&mut model, &samples(), options()).unwrap();
    (model, history)
}

/// A fit with `backup` interrupted after step `batch` of epoch `epoch`.
fn interrupted(backup: &mut BackupAndRestore, epoch: usize, batch: usize) -> TrainError {
    let mut model = classifier();
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, adam(), CategoricalCrossentropy);
    let mut interrupt = Interrupt { epoch, batch };
    let options = options().callback(backup).callback(&mut interrupt);
    trainer.fit(&mut model, &samples(), options).unwrap_err()
}

/// A fresh model and trainer fitting with `backup`, as a new process would.
fn resumed(backup: &mut BackupAndRestore) -> (Classifier, Result<History, TrainError>) {
    let mut model = classifier();
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, adam(), CategoricalCrossentropy);
    let history = trainer.fit(&mut model, &samples(), options().callback(backup));
    (model, history)
}

fn assert_same_run(model: &Classifier, history: &History) {
    let (expected, expected_history) = uninterrupted();
    assert_eq!(history.loss, expected_history.loss);
    assert_eq!(history.accuracy, expected_history.accuracy);
    assert_eq!(history.learning_rate, expected_history.learning_rate);
    assert_eq!(history.epoch_seconds.len(), 3);
    assert_eq!(model.weights(), expected.weights(), "bit for bit");
    assert_eq!(model.bias(), expected.bias());
}

#[test]
fn a_fit_interrupted_midway_resumes_at_its_step_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mut backup = BackupAndRestore::new(dir.path()).save_freq(SaveFreq::Batches(3));
    // Backups after steps 3, 6, 9 of epoch 1, then 2, 5 of epoch 2 (every 3 across epochs).
    interrupted(&mut backup, 2, 7);
    let (model, history) = resumed(&mut backup);
    let progress = backup.restored().unwrap();
    assert_eq!((progress.epochs, progress.steps), (1, 5));
    assert_eq!(progress.totals.samples, 20, "5 steps of 4 samples");
    assert!(progress.totals.loss > 0.0 && progress.seconds > 0.0);
    assert_same_run(&model, &history.unwrap());
    assert!(
        !backup.path().exists() && !dir.path().exists(),
        "both removed"
    );
}

#[test]
fn a_fit_interrupted_between_epochs_resumes_at_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut backup = BackupAndRestore::new(dir.path().join("backup"));
    interrupted(&mut backup, 3, 4);
    let (model, history) = resumed(&mut backup);
    assert_eq!(
        backup.restored(),
        Some(Progress {
            epochs: 2,
            ..Progress::default()
        })
    );
    assert_same_run(&model, &history.unwrap());
}

#[test]
fn the_metrics_history_is_backed_up_and_a_fit_resumed_between_epochs_ends_with_the_same() {
    use crate::metrics::{Auc, F1Score};
    fn with_metrics<'a>() -> Fit<'a, 3, 4> {
        options()
            .validation_split(0.2)
            .metric(F1Score::macro_average())
            .metric(Auc::roc())
    }
    let mut model = classifier();
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, adam(), CategoricalCrossentropy);
    let expected = trainer.fit(&mut model, &samples(), with_metrics()).unwrap();
    assert_eq!(expected.get("val_auc").map(<[f32]>::len), Some(3));

    let dir = tempfile::tempdir().unwrap();
    let mut backup = BackupAndRestore::new(dir.path());
    let mut model = classifier();
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, adam(), CategoricalCrossentropy);
    let mut interrupt = Interrupt { epoch: 3, batch: 2 };
    let options = with_metrics()
        .callback(&mut backup)
        .callback(&mut interrupt);
    trainer.fit(&mut model, &samples(), options).unwrap_err();

    let mut model = classifier();
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, adam(), CategoricalCrossentropy);
    let options = with_metrics().callback(&mut backup);
    let history = trainer.fit(&mut model, &samples(), options).unwrap();
    assert_eq!(backup.restored().map(|p| p.epochs), Some(2));
    assert_eq!(history.metrics, expected.metrics, "bit for bit");
    assert_eq!(history.val_loss, expected.val_loss);
}

/// The backup of `interrupted(backup, 2, 7)` with `Batches(3)`: after step 5 of epoch 2.
fn backup_midway(dir: &Path) -> BackupAndRestore {
    let mut backup = BackupAndRestore::new(dir).save_freq(SaveFreq::Batches(3));
    interrupted(&mut backup, 2, 7);
    backup
}

#[test]
fn the_backup_holds_the_fit_its_progress_and_the_optimizer_state() {
    let dir = tempfile::tempdir().unwrap();
    let backup = backup_midway(dir.path());
    let bytes = std::fs::read(backup.path()).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort();
    assert_eq!(
        names,
        [
            "bias",
            "history/accuracy",
            "history/epoch_seconds",
            "history/learning_rate",
            "history/loss",
            "history/val_accuracy",
            "history/val_loss",
            "kernel",
            "optimizer/momentum",
            "optimizer/velocity",
        ]
    );
    assert_eq!(file.tensor("optimizer/momentum").unwrap().shape(), [16]);
    assert_eq!(file.tensor("history/loss").unwrap().shape(), [1]);
    assert_eq!(file.tensor("history/val_loss").unwrap().shape(), [0]);
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let text: BTreeMap<&str, &str> = header
        .metadata()
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for (key, value) in [
        ("format", "netdsl-backup-1"),
        ("fit.samples", "40"),
        ("fit.batch_size", "4"),
        ("fit.threads", "1"),
        ("fit.seed", "9"),
        ("fit.shuffle", "true"),
        ("progress.epochs", "1"),
        ("progress.steps", "5"),
        ("progress.samples", "20"),
        ("optimizer.iterations", "15"),
        ("optimizer.schedule", "true"),
        // 15 steps at a rate halved every 7: the 15th step's, 0.05 / 4.
        ("optimizer.learning_rate", "0.0125"),
    ] {
        assert_eq!(text.get(key), Some(&value), "{key}");
    }
}

#[test]
fn a_kept_backup_of_a_completed_fit_resumes_with_nothing_left_to_train() {
    let dir = tempfile::tempdir().unwrap();
    let mut backup = BackupAndRestore::new(dir.path()).delete_checkpoint(false);
    let (model, history) = resumed(&mut backup);
    let history = history.unwrap();
    assert!(backup.path().exists(), "kept");
    let (again, again_history) = resumed(&mut backup);
    assert_eq!(backup.restored().map(|p| p.epochs), Some(3));
    let again_history = again_history.unwrap();
    assert_eq!(again_history.loss, history.loss, "the backed-up history");
    assert_eq!(again_history.epoch_seconds, history.epoch_seconds);
    assert_eq!(again.weights(), model.weights(), "nothing trained");
}

/// The error of a fit restoring the backup at `backup`, which must stay as it was.
fn refused(
    backup: &mut BackupAndRestore,
    fit: impl FnOnce(&mut BackupAndRestore) -> TrainError,
) -> BackupError {
    let before = std::fs::read(backup.path()).unwrap();
    let error = fit(backup);
    assert_eq!(
        std::fs::read(backup.path()).unwrap(),
        before,
        "the backup is left as it was"
    );
    assert!(backup.restored().is_none());
    let TrainError::Callback {
        epoch: 0,
        source,
        history,
        ..
    } = error
    else {
        panic!("expected the callback's error before any epoch: {error}")
    };
    assert_eq!(history.epochs(), 0);
    *source.downcast::<BackupError>().expect("a BackupError")
}

fn resume_error(backup: &mut BackupAndRestore) -> TrainError {
    resumed(backup).1.unwrap_err()
}

#[test]
fn a_damaged_backup_is_an_error_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut backup = backup_midway(dir.path());
    let whole = std::fs::read(backup.path()).unwrap();
    for cut in [0, 7, 100, whole.len() / 2, whole.len() - 1] {
        std::fs::write(backup.path(), &whole[..cut]).unwrap();
        let error = refused(&mut backup, resume_error);
        assert!(
            matches!(
                error,
                BackupError::Weights(weights::Error::Malformed { .. })
            ),
            "cut at {cut}: {error}"
        );
    }
    std::fs::write(backup.path(), b"not a backup at all").unwrap();
    let error = refused(&mut backup, resume_error);
    assert!(
        error.to_string().contains("is not a safetensors file"),
        "{error}"
    );
}

#[test]
fn a_weights_file_is_not_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let mut backup = BackupAndRestore::new(dir.path());
    crate::weights::save(&classifier(), &backup.path()).unwrap();
    let error = refused(&mut backup, resume_error);
    assert!(
        error.to_string().ends_with(
            "is not a backup netdsl can restore: its header has no `format`, which `BackupAndRestore` writes"
        ),
        "{error}"
    );
}

#[test]
fn a_backup_of_another_network_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut backup = backup_midway(dir.path());
    let error = refused(&mut backup, |backup| {
        let mut model = Dense::<3, 5, Softmax>::from_parameters([[0.0; 5]; 3], Some([0.0; 5]));
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, adam(), CategoricalCrossentropy);
        let data = Dataset::<3, 5>::from_classes(vec![[0.0; 3]; 40], vec![0; 40]).unwrap();
        let options = Fit::epochs(3)
            .seed(9)
            .verbose(Verbose::Silent)
            .callback(backup);
        trainer.fit(&mut model, &data, options).unwrap_err()
    });
    assert!(
        error
            .to_string()
            .ends_with("`kernel` has shape [3, 4] in the file, the network needs [3, 5]"),
        "{error}"
    );
}

#[test]
fn a_backup_of_another_fit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut backup = backup_midway(dir.path());
    let error = refused(&mut backup, |backup| {
        let mut model = classifier();
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, adam(), CategoricalCrossentropy);
        let options = Fit::epochs(3)
            .seed(10)
            .verbose(Verbose::Silent)
            .callback(backup);
        trainer.fit(&mut model, &samples(), options).unwrap_err()
    });
    assert!(
        error.to_string().contains(
            "backs up another fit: it was made by a fit of 40 samples in steps of 4 on 1 thread, seed 9, shuffled; this fit has 40 samples in steps of 4 on 1 thread, seed 10, shuffled; resume with"
        ),
        "{error}"
    );
}

#[test]
fn a_backup_of_another_optimizer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut backup = backup_midway(dir.path());
    let with = |optimizer: Sgd| {
        move |backup: &mut BackupAndRestore| {
            let mut model = classifier();
            let mut trainer =
                Trainer::<_, _, _, 4>::new(&model, optimizer, CategoricalCrossentropy);
            trainer
                .fit(&mut model, &samples(), options().callback(backup))
                .unwrap_err()
        }
    };
    let error = refused(&mut backup, with(Sgd::new(0.1)));
    assert!(
        error
            .to_string()
            .contains("its optimizer follows a learning-rate schedule, this fit's has none"),
        "{error}"
    );
    let scheduled = Sgd::new(0.1)
        .momentum(0.9)
        .with_schedule(StepDecay::new(0.1, 0.5, 7));
    let error = refused(&mut backup, with(scheduled));
    assert!(
        error
            .to_string()
            .contains("its optimizer keeps `momentum`, `velocity`, this fit's keeps `momentum`"),
        "{error}"
    );
}

/// The backup at `path` rewritten with the metadata `key` set to `value`.
fn rewrite(path: &Path, key: &str, value: &str) {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut text: BTreeMap<String, String> = header
        .metadata()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    text.insert(key.to_owned(), value.to_owned());
    let tensors: Vec<(String, TensorView<'_>)> = file.tensors();
    let bytes = safetensors::serialize(tensors, Some(text.into_iter().collect())).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_backup_whose_parts_disagree_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut backup = backup_midway(dir.path());
    let path = backup.path();
    let cases = [
        (
            "progress.epochs",
            "2",
            "`history/loss` holds 1 values for the 2 epochs it says are completed",
        ),
        (
            "progress.steps",
            "11",
            "it is at step 11 of an epoch of 10 steps",
        ),
        (
            "progress.loss",
            "a lot",
            "its header's `progress.loss` is `a lot`, not a f64",
        ),
        (
            "format",
            "netdsl-backup-0",
            "its format is `netdsl-backup-0`, this version of netdsl reads `netdsl-backup-1`",
        ),
    ];
    let original = std::fs::read(&path).unwrap();
    for (key, value, message) in cases {
        std::fs::write(&path, &original).unwrap();
        rewrite(&path, key, value);
        let error = refused(&mut backup, resume_error);
        assert!(
            matches!(error, BackupError::Malformed { .. }),
            "{key}: {error}"
        );
        assert!(error.to_string().ends_with(message), "{key}: {error}");
    }
}

#[test]
fn an_unwritable_backup_stops_the_fit_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a file");
    std::fs::write(&file, b"").unwrap();
    let mut backup = BackupAndRestore::new(file.join("backup"));
    let (_, history) = resumed(&mut backup);
    let Err(TrainError::Callback {
        epoch: 1, source, ..
    }) = history
    else {
        panic!("the first backup fails: {history:?}")
    };
    let error = source.downcast::<BackupError>().unwrap();
    assert!(
        matches!(
            *error,
            BackupError::Io {
                action: "create",
                ..
            }
        ),
        "{error}"
    );
}
