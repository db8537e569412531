//! Restoring a backup: all of it read and checked against the network, the optimizer and the
//! fit before anything changes.

use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors};

use super::BackupError;
use super::layout::{
    FORMAT, HISTORY_BYTES, HISTORY_F32, HISTORY_METRICS, HISTORY_SECONDS, model_tensors,
};
use super::read::{Text, values_of};
use crate::train::callbacks::Context;
use crate::train::{FitParams, History, Progress, Totals};
use crate::weights::{self, Named};

/// Restores the backup at `path`, if there is one, into the fit `context` shows: reads it,
/// checks all of it against the model, the optimizer and the fit, and only then puts the
/// weights and the optimizer's state back and asks `fit` to resume. Returns where the fit
/// resumes, or `None` without a file; on an error nothing has changed.
pub(super) fn restore(
    context: &mut Context<'_>,
    path: &Path,
) -> Result<Option<Progress>, BackupError> {
    if !exists(path)? {
        return Ok(None);
    }
    let expected = model_tensors(context, path)?;
    let mut state = Vec::new();
    context
        .optimizer()
        .visit_state(&mut |name, values| state.push((name.to_owned(), values.len())));
    let values = expected.iter().map(|t| t.values.len()).sum::<usize>()
        + state.iter().map(|(_, len)| len).sum::<usize>();
    let limit = weights::file_size_limit(values) + HISTORY_BYTES;
    let bytes = weights::read_at_most(path, limit)?;
    let file = weights::parse(&bytes, path)?;
    let (_, metadata) =
        SafeTensors::read_metadata(&bytes).map_err(|e| weights::Error::Malformed {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    // (Into a map of known type: safetensors' is std's or hashbrown's, as features decide.)
    let text = Text {
        path,
        metadata: metadata
            .metadata()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };

    // What the file says, all of it checked before anything changes.
    let has_schedule = context.optimizer().settings().has_schedule();
    let header = read_header(&text, context.params(), has_schedule)?;
    let weights = weights::read_expected(&file, &expected, path, false)?;
    let optimizer = read_state(&file, &state, path)?;
    let history = read_history(&file, header.progress.epochs, path)?;
    weights::refuse_others(
        &file,
        |name| {
            weights.contains_key(name)
                || name
                    .strip_prefix("optimizer/")
                    .is_some_and(|name| state.iter().any(|(kept, _)| kept == name))
                || HISTORY_F32.contains(&name)
                || name == HISTORY_SECONDS
                || name.starts_with(HISTORY_METRICS)
        },
        path,
    )?;

    // Everything fits: put it back.
    context.visit_tensors_mut(&mut |name, _, values| {
        if let Some(saved) = weights.get(name).filter(|s| s.len() == values.len()) {
            values.copy_from_slice(saved);
        }
    });
    let mut buffers = optimizer.into_iter();
    let optimizer = context.optimizer();
    optimizer.visit_state(&mut |_, values| {
        if let Some(saved) = buffers.next().filter(|s| s.len() == values.len()) {
            values.copy_from_slice(&saved);
        }
    });
    optimizer.settings_mut().set_iterations(header.iterations);
    if !header.schedule {
        // A constant rate, or the one a callback set, which ended the schedule then.
        optimizer.set_learning_rate(header.learning_rate);
    }
    context.resume(header.progress, history);
    Ok(Some(header.progress))
}

/// Whether there is a file at `path`. Nothing there, or a file where a directory of the path
/// should be, is no backup yet (writing one there fails with an error naming the directory).
fn exists(path: &Path) -> Result<bool, BackupError> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(false)
        }
        Err(source) => Err(weights::Error::Io {
            action: "read",
            path: path.to_owned(),
            source,
        }
        .into()),
    }
}

/// What a backup's header says besides the fit it belongs to.
struct Header {
    progress: Progress,
    iterations: u64,
    schedule: bool,
    learning_rate: f32,
}

/// The header's values, checked against the fit `params` and whether its optimizer
/// `has_schedule`.
fn read_header(
    text: &Text<'_>,
    params: FitParams,
    has_schedule: bool,
) -> Result<Header, BackupError> {
    let format = text.get("format")?;
    if format != FORMAT {
        return Err(text.malformed(format!(
            "its format is `{format}`, this version of netdsl reads `{FORMAT}`"
        )));
    }
    // What a backup must match (the epochs may differ: a resumed fit may ask for more, as in
    // Keras; the steps follow from the samples and the batch size).
    let backed_up = FitParams {
        epochs: params.epochs,
        steps: params.steps,
        samples: text.parse("fit.samples")?,
        batch_size: text.parse("fit.batch_size")?,
        threads: text.parse("fit.threads")?,
        seed: text.parse("fit.seed")?,
        shuffle: text.parse("fit.shuffle")?,
    };
    if backed_up != params {
        return Err(BackupError::OtherFit {
            path: text.path.to_owned(),
            difference: format!(
                "it was made by a fit of {}; this fit has {}",
                describe(&backed_up),
                describe(&params)
            ),
        });
    }
    let progress = Progress {
        epochs: text.parse("progress.epochs")?,
        steps: text.parse("progress.steps")?,
        totals: Totals {
            loss: text.parse("progress.loss")?,
            hits: text.parse("progress.hits")?,
            samples: text.parse("progress.samples")?,
        },
        seconds: text.parse("progress.seconds")?,
    };
    if progress.steps > params.steps {
        return Err(text.malformed(format!(
            "it is at step {} of an epoch of {} steps",
            progress.steps, params.steps
        )));
    }
    let header = Header {
        progress,
        iterations: text.parse("optimizer.iterations")?,
        schedule: text.parse("optimizer.schedule")?,
        learning_rate: text.parse("optimizer.learning_rate")?,
    };
    if header.schedule && !has_schedule {
        return Err(BackupError::OtherFit {
            path: text.path.to_owned(),
            difference: "its optimizer follows a learning-rate schedule, this fit's has none"
                .to_owned(),
        });
    }
    Ok(header)
}

/// The fit's parameters a backup must match, in words.
fn describe(params: &FitParams) -> String {
    let threads = if params.threads == 1 {
        "1 thread".to_owned()
    } else {
        format!("{} threads", params.threads)
    };
    let shuffled = if params.shuffle {
        "shuffled"
    } else {
        "not shuffled"
    };
    format!(
        "{} samples in steps of {} on {threads}, seed {}, {shuffled}",
        params.samples, params.batch_size, params.seed
    )
}

/// The optimizer's buffers in the file, in the order of `state` (each name and its length in
/// the optimizer), checked to be the optimizer's: the same names, each a flat `f32` tensor of
/// its length.
fn read_state(
    file: &SafeTensors<'_>,
    state: &[(String, usize)],
    path: &Path,
) -> Result<Vec<Vec<f32>>, BackupError> {
    let in_file: Vec<&str> = file
        .names()
        .into_iter()
        .filter_map(|name| name.strip_prefix("optimizer/"))
        .collect();
    let kept = |names: &mut dyn Iterator<Item = &str>| {
        let mut names: Vec<String> = names.map(|name| format!("`{name}`")).collect();
        names.sort();
        match names.is_empty() {
            true => "no state".to_owned(),
            false => names.join(", "),
        }
    };
    let same = in_file.len() == state.len()
        && state
            .iter()
            .all(|(name, _)| in_file.contains(&name.as_str()));
    if !same {
        return Err(BackupError::OtherFit {
            path: path.to_owned(),
            difference: format!(
                "its optimizer keeps {}, this fit's keeps {}",
                kept(&mut in_file.iter().copied()),
                kept(&mut state.iter().map(|(name, _)| name.as_str()))
            ),
        });
    }
    state
        .iter()
        .map(|(name, len)| {
            let expected = Named {
                name: format!("optimizer/{name}"),
                shape: vec![*len],
                values: Vec::new(),
            };
            let mut read =
                weights::read_expected(file, std::slice::from_ref(&expected), path, false)?;
            Ok(read.remove(&expected.name).unwrap_or_default())
        })
        .collect()
}

/// The history of `epochs` epochs in the file: each column one value an epoch (accuracy and
/// the validation values possibly none).
fn read_history(
    file: &SafeTensors<'_>,
    epochs: usize,
    path: &Path,
) -> Result<History, BackupError> {
    let malformed = |reason: String| BackupError::Malformed {
        path: path.to_owned(),
        reason,
    };
    let mut columns: [Vec<f32>; 5] = Default::default();
    for (name, column) in HISTORY_F32.into_iter().zip(&mut columns) {
        let view = file.tensor(name).map_err(|_| weights::Error::Missing {
            path: path.to_owned(),
            tensor: name.to_owned(),
        })?;
        let values = values_of::<4, f32>(&view, Dtype::F32, name, path)?;
        let optional = matches!(
            name,
            "history/accuracy" | "history/val_loss" | "history/val_accuracy"
        );
        if values.len() != epochs && !(optional && values.is_empty()) {
            return Err(malformed(format!(
                "`{name}` holds {} values for the {epochs} epochs it says are completed",
                values.len()
            )));
        }
        *column = values;
    }
    let view = file
        .tensor(HISTORY_SECONDS)
        .map_err(|_| weights::Error::Missing {
            path: path.to_owned(),
            tensor: HISTORY_SECONDS.to_owned(),
        })?;
    let epoch_seconds = values_of::<8, f64>(&view, Dtype::F64, HISTORY_SECONDS, path)?;
    if epoch_seconds.len() != epochs {
        return Err(malformed(format!(
            "`{HISTORY_SECONDS}` holds {} values for the {epochs} epochs it says are completed",
            epoch_seconds.len()
        )));
    }
    // A metric's column may be shorter: one added to a fit resumed already has no values for
    // the epochs before.
    let mut metrics = std::collections::BTreeMap::new();
    for name in file.names() {
        let Some(key) = name.strip_prefix(HISTORY_METRICS) else {
            continue;
        };
        let view = file.tensor(name).map_err(|_| weights::Error::Missing {
            path: path.to_owned(),
            tensor: name.to_owned(),
        })?;
        let values = values_of::<4, f32>(&view, Dtype::F32, name, path)?;
        if values.len() > epochs {
            return Err(malformed(format!(
                "`{name}` holds {} values for the {epochs} epochs it says are completed",
                values.len()
            )));
        }
        metrics.insert(key.to_owned(), values);
    }
    let [loss, accuracy, val_loss, val_accuracy, learning_rate] = columns;
    Ok(History {
        loss,
        accuracy,
        val_loss,
        val_accuracy,
        learning_rate,
        epoch_seconds,
        metrics,
    })
}
