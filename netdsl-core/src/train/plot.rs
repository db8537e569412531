//! Learning curves: a `History` drawn as an SVG with plotters, loss on the left, accuracy on
//! the right (or the loss alone, for a regression), training and validation curves in each.

use std::fs;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::History;

/// A plot that could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The history has no epoch to draw.
    #[error("the history has no epochs to plot")]
    Empty,
    /// Drawing failed.
    #[error("cannot draw `{}`: {message}", path.display())]
    Draw {
        /// The file.
        path: PathBuf,
        /// What plotters said.
        message: String,
    },
    /// The file could not be written or moved into place.
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// One panel: the `train` and `val` curves of one quantity against the epoch.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    train: &[f32],
    val: &[f32],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let values = train.iter().chain(val).copied().filter(|v| v.is_finite());
    let (low, high) = values.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    // A panel with no finite value at all (a diverged fit) gets an empty 0..1 range: plotters
    // never returns from an axis of inf..-inf.
    let (low, high) = if low <= high { (low, high) } else { (0.0, 1.0) };
    let margin = ((high - low) * 0.05).max(1e-3);
    let epochs = train.len().max(val.len()).max(2) as f32;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(52)
        .build_cartesian_2d(1.0_f32..epochs, (low - margin)..(high + margin))?;
    chart.configure_mesh().x_desc("epoch").draw()?;
    let curve = |values: &[f32]| {
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, &v)| (i as f32 + 1.0, v))
            .collect::<Vec<_>>()
    };
    chart
        .draw_series(LineSeries::new(curve(train), BLUE.stroke_width(2)))?
        .label("training")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    if !val.is_empty() {
        chart
            .draw_series(LineSeries::new(curve(val), RED.stroke_width(2)))?
            .label("validation")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

impl History {
    /// Writes the loss and accuracy curves, training and validation, to an SVG file (the loss
    /// alone when the history has no accuracy, as for a regression). The file is written
    /// beside its destination and renamed into place, so a failure never leaves a
    /// half-written plot or destroys a previous one.
    pub fn plot_svg(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        let path = path.as_ref();
        if self.epochs() == 0 {
            return Err(PlotError::Empty);
        }
        let draw_error = |e: &dyn std::fmt::Display| PlotError::Draw {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (960, 380)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| draw_error(&e))?;
            if self.accuracy.is_empty() {
                panel(&root, "loss", &self.loss, &self.val_loss).map_err(|e| draw_error(&e))?;
            } else {
                let (left, right) = root.split_horizontally(480);
                panel(&left, "loss", &self.loss, &self.val_loss).map_err(|e| draw_error(&e))?;
                panel(&right, "accuracy", &self.accuracy, &self.val_accuracy)
                    .map_err(|e| draw_error(&e))?;
            }
            root.present().map_err(|e| draw_error(&e))?;
        }
        let io_error = |source| PlotError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        fs::write(&temporary, svg).map_err(io_error)?;
        fs::rename(&temporary, path).map_err(io_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_both_panels_with_validation_curves() {
        let history = History {
            loss: vec![0.9, 0.5, 0.3],
            accuracy: vec![0.7, 0.85, 0.9],
            val_loss: vec![0.8, 0.55, 0.4],
            val_accuracy: vec![0.75, 0.8, 0.88],
            learning_rate: vec![0.01; 3],
            epoch_seconds: vec![0.1; 3],
            metrics: Default::default(),
        };
        let path = std::env::temp_dir().join(format!("netdsl-plot-{}.svg", std::process::id()));
        history.plot_svg(&path).unwrap();
        let svg = fs::read_to_string(&path).unwrap();
        fs::remove_file(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        for text in ["loss", "accuracy", "training", "validation", "epoch"] {
            assert!(svg.contains(text), "the plot shows `{text}`");
        }
    }

    #[test]
    fn a_history_without_accuracy_plots_the_loss_alone() {
        let history = History {
            loss: vec![0.9, 0.5, 0.3],
            val_loss: vec![0.8, 0.55, 0.4],
            ..History::default()
        };
        let path = std::env::temp_dir().join(format!("netdsl-loss-{}.svg", std::process::id()));
        history.plot_svg(&path).unwrap();
        let svg = fs::read_to_string(&path).unwrap();
        fs::remove_file(&path).unwrap();
        assert!(svg.contains("loss") && svg.contains("validation"));
        assert!(!svg.contains("accuracy"), "no accuracy panel");
    }

    #[test]
    fn a_history_of_nothing_but_nan_and_infinity_plots_without_hanging() {
        let history = History {
            loss: vec![f32::NAN, f32::INFINITY, f32::NAN],
            accuracy: vec![f32::NAN; 3],
            val_loss: vec![f32::NEG_INFINITY; 3],
            val_accuracy: vec![f32::NAN; 3],
            ..History::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diverged.svg");
        let (sender, receiver) = std::sync::mpsc::channel();
        let target = path.clone();
        std::thread::spawn(move || sender.send(history.plot_svg(&target).is_ok()));
        let plotted = receiver
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("plot_svg returns (it looped forever on an axis of inf..-inf)");
        assert!(plotted && path.exists());
    }

    #[test]
    fn an_empty_history_is_an_error_and_a_bad_path_loses_nothing() {
        assert!(matches!(
            History::default().plot_svg("unused.svg"),
            Err(PlotError::Empty)
        ));
        let history = History {
            loss: vec![1.0],
            accuracy: vec![0.5],
            ..History::default()
        };
        let err = history.plot_svg("/no/such/dir/plot.svg").unwrap_err();
        assert!(err.to_string().contains("/no/such/dir/plot.svg"), "{err}");
    }
}
