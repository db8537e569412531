//! Writing a backup: the file of `layout.rs`, replacing the old one atomically.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use super::BackupError;
use super::layout::{FORMAT, HISTORY_F32, HISTORY_METRICS, HISTORY_SECONDS, model_tensors};
use crate::train::callbacks::Context;
use crate::weights;

/// One tensor of the file, its values as little-endian bytes.
struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Entry {
    fn f32s(name: String, shape: Vec<usize>, values: &[f32]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            name,
            dtype: Dtype::F32,
            shape,
            bytes,
        }
    }

    fn f64s(name: String, values: &[f64]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            name,
            dtype: Dtype::F64,
            shape: vec![values.len()],
            bytes,
        }
    }
}

/// Writes the state of the fit `context` shows to `path`, replacing the file only once the
/// new one is complete (the temporary file and rename of `weights::save`).
pub(super) fn write(context: &mut Context<'_>, path: &Path) -> Result<(), BackupError> {
    let mut entries = Vec::new();
    for tensor in model_tensors(context, path)? {
        entries.push(Entry::f32s(tensor.name, tensor.shape, &tensor.values));
    }
    context.optimizer().visit_state(&mut |name, values| {
        let name = format!("optimizer/{name}");
        entries.push(Entry::f32s(name, vec![values.len()], values));
    });
    let history = context.history();
    let columns = [
        &history.loss,
        &history.accuracy,
        &history.val_loss,
        &history.val_accuracy,
        &history.learning_rate,
    ];
    for (name, values) in HISTORY_F32.into_iter().zip(columns) {
        entries.push(Entry::f32s(name.to_owned(), vec![values.len()], values));
    }
    entries.push(Entry::f64s(
        HISTORY_SECONDS.to_owned(),
        &history.epoch_seconds,
    ));
    for (key, values) in &history.metrics {
        let name = format!("{HISTORY_METRICS}{key}");
        entries.push(Entry::f32s(name, vec![values.len()], values));
    }

    let io_error = |source| weights::Error::Io {
        action: "write",
        path: path.to_owned(),
        source,
    };
    let mut views = Vec::with_capacity(entries.len());
    for entry in &entries {
        let view = TensorView::new(entry.dtype, entry.shape.clone(), &entry.bytes)
            .map_err(|e| io_error(std::io::Error::other(e)))?;
        views.push((entry.name.as_str(), view));
    }
    let metadata = metadata(context);
    let bytes = safetensors::serialize(views, Some(metadata.into_iter().collect()))
        .map_err(|e| io_error(std::io::Error::other(e)))?;
    weights::write_atomically(path, &bytes).map_err(io_error)?;
    Ok(())
}

/// The header's text: the format, the fit, its progress and the optimizer's scalars.
fn metadata(context: &mut Context<'_>) -> BTreeMap<String, String> {
    let (params, progress) = (context.params(), context.progress());
    let optimizer = context.optimizer();
    let settings = optimizer.settings();
    let fields = [
        ("format", FORMAT.to_owned()),
        ("fit.samples", params.samples.to_string()),
        ("fit.batch_size", params.batch_size.to_string()),
        ("fit.threads", params.threads.to_string()),
        ("fit.seed", params.seed.to_string()),
        ("fit.shuffle", params.shuffle.to_string()),
        ("progress.epochs", progress.epochs.to_string()),
        ("progress.steps", progress.steps.to_string()),
        ("progress.loss", progress.totals.loss.to_string()),
        ("progress.hits", progress.totals.hits.to_string()),
        ("progress.samples", progress.totals.samples.to_string()),
        ("progress.seconds", progress.seconds.to_string()),
        ("optimizer.iterations", settings.iterations().to_string()),
        ("optimizer.schedule", settings.has_schedule().to_string()),
        (
            "optimizer.learning_rate",
            optimizer.learning_rate().to_string(),
        ),
    ];
    fields
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}
