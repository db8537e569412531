//! `ModelCheckpoint` in `fit`: the best epoch's weights are the ones kept, saving every `n`
//! steps writes the files expected, the mode decides what is best, and a file that cannot be
//! written stops training with an error naming it.

use std::path::Path;

use netdsl::prelude::*;
use netdsl::train::callbacks::{
    Callback, CheckpointError, Context, LayerAccess, LearningRateScheduler, Mode, ModelAccess,
    ModelCheckpoint, Monitor, SaveFreq,
};
use netdsl::train::{EpochLogs, History, TrainError};

network! {
    #[derive(Clone)]
    struct Blobs<2 => Dense(8, tanh) => Dense(1, sigmoid)>;
}

/// Two classes of points on either side of a wavy line, `n` of them from `offset` on.
fn blobs(n: usize, offset: usize) -> Dataset<2, 1> {
    let (inputs, targets) = (offset..offset + n)
        .map(|i| {
            let (x, y) = ((i as f32 * 0.618).sin(), (i as f32 * 0.377).cos());
            let class = (y > 0.3 * (3.0 * x).sin()) as u8 as f32;
            ([x, y], [class])
        })
        .unzip();
    Dataset::from_arrays(inputs, targets).unwrap()
}

/// Keeps every epoch's parameters, flattened, as the checkpoint would see them.
#[derive(Default)]
struct Snapshots(Vec<Vec<f32>>);

impl Callback for Snapshots {
    fn on_epoch_end(&mut self, _logs: &EpochLogs, context: &mut Context<'_>) {
        let mut all = Vec::new();
        context.visit_parameters(&mut |p| all.extend_from_slice(p));
        self.0.push(all);
    }
}

fn parameters(model: &mut Blobs) -> Vec<f32> {
    let mut grads = model.new_grads();
    let mut all = Vec::new();
    LayerAccess::new(model, &mut grads).visit_parameters(&mut |p| all.extend_from_slice(p));
    all
}

/// Eight epochs that first learn (rate 0.5) and then, from epoch 5 on, overshoot (rate 20):
/// the validation loss falls, then rises. Returns the trained model, the history, and each
/// epoch's weights.
fn learn_then_overshoot(checkpoint: &mut ModelCheckpoint) -> (Blobs, History, Vec<Vec<f32>>) {
    let (train, validation) = (blobs(64, 0), blobs(32, 64));
    let mut model = Blobs::new(&mut StdRng::seed_from_u64(3));
    let mut trainer = Trainer::<_, _, _, 8>::new(&model, Sgd::new(0.5), BinaryCrossentropy);
    let mut schedule = LearningRateScheduler::new(|epoch, _| if epoch < 5 { 0.5 } else { 20.0 });
    let mut snapshots = Snapshots::default();
    let options = Fit::epochs(8)
        .validation_data(&validation)
        .seed(1)
        .verbose(Verbose::Silent)
        .callback(&mut schedule)
        .callback(checkpoint)
        .callback(&mut snapshots);
    let history = trainer.fit(&mut model, &train, options).unwrap();
    (model, history, snapshots.0)
}

/// The epoch (from 0) of the first best value: the lowest, or the highest.
fn first_best(values: &[f32], lowest: bool) -> usize {
    let mut best = 0;
    for (epoch, &value) in values.iter().enumerate() {
        if (lowest && value < values[best]) || (!lowest && value > values[best]) {
            best = epoch;
        }
    }
    best
}

/// Loads `path` into a fresh network; returns its parameters and validation metrics.
fn load(path: &Path) -> (Vec<f32>, Metrics) {
    let mut fresh = Blobs::new(&mut StdRng::seed_from_u64(99));
    fresh.load_weights(path).unwrap();
    let mut trainer = Trainer::<_, _, _, 8>::new(&fresh, Sgd::new(0.5), BinaryCrossentropy);
    let metrics = trainer.evaluate(&fresh, &blobs(32, 64));
    (parameters(&mut fresh), metrics)
}

#[test]
fn save_best_only_keeps_the_weights_of_the_epoch_with_the_lowest_val_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("best.safetensors");
    let mut checkpoint = ModelCheckpoint::new(&path).unwrap().save_best_only(true);
    let (mut model, history, snapshots) = learn_then_overshoot(&mut checkpoint);

    let best = first_best(&history.val_loss, true);
    let last = history.val_loss.len() - 1;
    assert!(
        best < last && history.val_loss[last] > history.val_loss[best],
        "the run must get worse after its best epoch for the test to tell: {:?}",
        history.val_loss
    );
    let (loaded, metrics) = load(&path);
    assert_eq!(
        loaded,
        snapshots[best],
        "the file holds epoch {}'s weights; val_loss {:?}",
        best + 1,
        history.val_loss
    );
    assert_ne!(loaded, parameters(&mut model), "not the last epoch's");
    assert_eq!(metrics.loss, history.val_loss[best], "its predictions too");
    assert_eq!(checkpoint.best(), Some(history.val_loss[best]));
    assert_eq!(checkpoint.last_saved(), Some(path.as_path()));
}

#[test]
fn without_save_best_only_every_epoch_is_written_and_the_last_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir
        .path()
        .join("new/dir/e{epoch:02d}-{val_loss:.3f}.safetensors");
    let mut checkpoint = ModelCheckpoint::new(&template).unwrap();
    let (mut model, history, snapshots) = learn_then_overshoot(&mut checkpoint);

    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("new/dir"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let expected: Vec<String> = (0..8)
        .map(|e| format!("e{:02}-{:.3}.safetensors", e + 1, history.val_loss[e]))
        .collect();
    assert_eq!(
        names, expected,
        "one file per epoch, in a directory created"
    );
    for (epoch, name) in expected.iter().enumerate() {
        let (loaded, _) = load(&dir.path().join("new/dir").join(name));
        assert_eq!(loaded, snapshots[epoch], "{name}");
    }
    assert_eq!(snapshots[7], parameters(&mut model));
}

#[test]
fn the_mode_decides_which_accuracy_is_best() {
    for (mode, highest) in [(Mode::Max, true), (Mode::Auto, true), (Mode::Min, false)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accuracy.safetensors");
        let mut checkpoint = ModelCheckpoint::new(&path)
            .unwrap()
            .monitor(Monitor::ValAccuracy)
            .mode(mode)
            .save_best_only(true);
        let (_, history, snapshots) = learn_then_overshoot(&mut checkpoint);
        let best = first_best(&history.val_accuracy, !highest);
        let other = first_best(&history.val_accuracy, highest);
        assert_ne!(
            snapshots[best], snapshots[other],
            "the highest and lowest accuracies must differ: {:?}",
            history.val_accuracy
        );
        let (loaded, metrics) = load(&path);
        assert_eq!(
            loaded,
            snapshots[best],
            "{mode:?}: epoch {} of {:?}",
            best + 1,
            history.val_accuracy
        );
        assert_eq!(metrics.accuracy, Some(history.val_accuracy[best]));
    }
}

/// `epochs` over 24 samples at batch 4 (six steps an epoch), no validation, with `checkpoint`.
fn six_steps_an_epoch(
    epochs: usize,
    checkpoint: &mut ModelCheckpoint,
) -> (Blobs, Result<History, TrainError>) {
    let data = blobs(24, 0);
    let mut model = Blobs::new(&mut StdRng::seed_from_u64(3));
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.5), BinaryCrossentropy);
    let options = Fit::epochs(epochs)
        .verbose(Verbose::Silent)
        .callback(checkpoint);
    let result = trainer.fit(&mut model, &data, options);
    (model, result)
}

#[test]
fn saving_every_n_steps_counts_steps_across_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("{epoch}-{batch:02d}.safetensors");
    let mut checkpoint = ModelCheckpoint::new(&template)
        .unwrap()
        .save_freq(SaveFreq::Batches(4));
    let (mut model, result) = six_steps_an_epoch(2, &mut checkpoint);
    result.unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // Steps 4, 8 and 12 of 6 an epoch: epoch 1 step 4, epoch 2 steps 2 and 6.
    assert_eq!(
        names,
        ["1-04.safetensors", "2-02.safetensors", "2-06.safetensors"]
    );
    let (loaded, _) = load(&dir.path().join("2-06.safetensors"));
    assert_eq!(loaded, parameters(&mut model), "the last step's weights");
}

#[test]
fn a_file_that_cannot_be_written_stops_fit_with_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A "directory" that is a file cannot be created; an existing directory cannot be replaced
    // by a file.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"not a directory").unwrap();
    std::fs::create_dir(dir.path().join("taken.safetensors")).unwrap();
    let cases = [
        (blocker.join("w.safetensors"), None),
        (dir.path().join("taken.safetensors"), None),
        (
            dir.path().join("taken.safetensors"),
            Some(SaveFreq::Batches(3)),
        ),
    ];
    let (trained, _) = six_steps_an_epoch(
        1,
        &mut ModelCheckpoint::new(dir.path().join("ok.safetensors")).unwrap(),
    );
    for (path, freq) in cases {
        let mut checkpoint = ModelCheckpoint::new(&path).unwrap();
        if let Some(freq) = freq {
            checkpoint = checkpoint.save_freq(freq);
        }
        let (model, result) = six_steps_an_epoch(3, &mut checkpoint);
        let error = result.unwrap_err();
        let message = error.to_string();
        let TrainError::Callback {
            epoch,
            batch,
            source,
            history,
        } = error
        else {
            panic!("{message}");
        };
        let expected_batch = freq.map(|_| 3);
        assert_eq!((epoch, batch), (1, expected_batch), "{message}");
        let source = source.downcast_ref::<CheckpointError>().unwrap();
        assert!(
            message.contains(&format!("`{}`", path.display())),
            "the message names the file: {message}"
        );
        match (freq, source) {
            (None, CheckpointError::Directory { directory, .. }) => {
                assert_eq!(directory, &blocker, "{message}")
            }
            (_, CheckpointError::Save(_)) => {}
            _ => panic!("{path:?}: {source:?}"),
        }
        assert!(checkpoint.last_saved().is_none());
        if freq.is_none() {
            // Stopped after epoch 1's save: the weights are those of one epoch.
            assert_eq!(history.epochs(), 1, "{message}");
            assert_eq!(model.predict(&[0.3, 0.2]), trained.predict(&[0.3, 0.2]));
        } else {
            assert_eq!(history.epochs(), 0, "stopped within epoch 1: {message}");
        }
    }
}

#[test]
fn a_value_the_fit_does_not_log_is_an_error_at_the_first_save() {
    let dir = tempfile::tempdir().unwrap();
    // No validation data: `{val_loss}` has no value after epoch 1.
    let mut checkpoint =
        ModelCheckpoint::new(dir.path().join("{val_loss:.2f}.safetensors")).unwrap();
    let (_, result) = six_steps_an_epoch(3, &mut checkpoint);
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("training stopped at epoch 1: checkpoint file name")
            && message.contains("uses `{val_loss}`, which this fit does not log"),
        "{message}"
    );

    // `{batch}` saving per epoch is refused before anything trains.
    let mut checkpoint = ModelCheckpoint::new(dir.path().join("{batch}.safetensors")).unwrap();
    let (model, result) = six_steps_an_epoch(3, &mut checkpoint);
    let error = result.unwrap_err();
    assert!(
        matches!(error, TrainError::Callback { epoch: 0, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("`{batch}`, which has no value when saving per epoch")
    );
    let start = Blobs::new(&mut StdRng::seed_from_u64(3));
    assert_eq!(
        model.predict(&[0.3, 0.2]),
        start.predict(&[0.3, 0.2]),
        "nothing trained"
    );
}

#[test]
fn save_best_only_without_validation_saves_every_epoch_as_keras_does() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("{epoch}.safetensors");
    let mut checkpoint = ModelCheckpoint::new(&template)
        .unwrap()
        .save_best_only(true);
    let (_, result) = six_steps_an_epoch(3, &mut checkpoint);
    result.unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    assert_eq!(checkpoint.best(), None);
}

#[test]
fn a_threshold_must_be_beaten_before_the_first_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mut checkpoint = ModelCheckpoint::new(&path)
        .unwrap()
        .monitor(Monitor::Loss)
        .save_best_only(true)
        .initial_value_threshold(1e-6);
    let (_, result) = six_steps_an_epoch(2, &mut checkpoint);
    result.unwrap();
    assert!(!path.exists(), "no loss beat 1e-6");
    let mut checkpoint = ModelCheckpoint::new(&path)
        .unwrap()
        .monitor(Monitor::Loss)
        .save_best_only(true)
        .initial_value_threshold(1e6);
    let (_, result) = six_steps_an_epoch(2, &mut checkpoint);
    let history = result.unwrap();
    assert!(path.exists());
    assert_eq!(
        checkpoint.best(),
        history.loss.iter().copied().reduce(f32::min)
    );
}

#[test]
fn bad_file_names_are_errors_when_the_callback_is_built() {
    let cases = [
        ("w.weights.h5", "such as `w.weights.safetensors`"),
        ("model.keras", "such as `model.safetensors`"),
        ("{epoch:02d}", "such as `{epoch:02d}.safetensors`"),
        (
            "{epoch:02x}.safetensors",
            "unsupported format `02x` in `{epoch:02x}`",
        ),
        // (`{val_acc}` is a metric's key: a fit that does not log it stops before training.)
        ("{val-acc}.safetensors", "unknown field `val-acc`"),
        ("{epoch.safetensors", "`{` at byte 0 is not closed"),
    ];
    for (template, expected) in cases {
        let error = ModelCheckpoint::new(template).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{template}: {error} lacks {expected}"
        );
    }
}
