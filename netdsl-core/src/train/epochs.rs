//! The epochs of `fit` around the runner: shuffling seed, validation, logs, what is printed,
//! the history, and the callbacks.

use std::error::Error;
use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::callbacks::{Callback, Context, LayerAccess};
use super::progress::{EpochBar, write_epoch_line, write_step_line};
use super::runner::{BatchEvent, MetricList, Partial, Runner, Shared, StepFailure, reset_order};
use super::{
    BatchLogs, EpochLogs, Fit, FitParams, History, Metrics, Progress, TrainError, Verbose,
};
use crate::data::{Sample, Source};
use crate::layer::Layer;
use crate::loss::Loss;
use crate::metrics::{Metric, MetricValues};
use crate::optim::Optimizer;

impl<N: Shared<B>, O: Optimizer, L: Loss<N::Activation> + Send, const B: usize>
    Runner<'_, '_, N, O, L, B>
{
    /// `options.epochs` epochs over the samples `train` of `data` (Keras' `model.fit`), the
    /// rest of `data` being the validation split: see [`super::Trainer::fit`].
    pub(super) fn fit<D: Source<IN, OUT>, const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &D,
        train: Range<usize>,
        options: Fit<'_, IN, OUT>,
    ) -> Result<History, TrainError>
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]>,
    {
        let Fit {
            epochs,
            validation,
            validation_split: _,
            shuffle,
            seed,
            verbose,
            threads: _,
            mut callbacks,
            metrics: mut owned_metrics,
            output,
            class_weight: _,
            precision: _,
        } = options;
        let split = (train.end < data.len()).then(|| train.end..data.len());
        let validates = validation.is_some() || split.is_some();
        let mut metrics: Vec<&mut dyn Metric> = owned_metrics
            .iter_mut()
            .map(|metric| &mut **metric as &mut dyn Metric)
            .collect();
        for metric in metrics.iter_mut() {
            metric.prepare(OUT);
        }

        let mut stdout = std::io::stdout();
        let terminal = output.is_none() && stdout.is_terminal();
        let out: &mut dyn Write = match output {
            Some(out) => out,
            None => &mut stdout,
        };
        let verbose = match verbose {
            // Without the `progress` feature there is no bar: one line per epoch instead.
            Verbose::Auto | Verbose::ProgressBar if terminal && cfg!(feature = "progress") => {
                Verbose::ProgressBar
            }
            Verbose::Auto | Verbose::ProgressBar => Verbose::EpochLine,
            other => other,
        };
        let check_finite = callbacks.iter().any(|c| c.terminates_on_nan());

        // Every fit starts from the dataset's own order, so the same seed gives the same batches
        // however the trainer was used before.
        reset_order(self.order, train.len());
        let mut rng = StdRng::seed_from_u64(seed);
        let mut history = History::with_capacity(epochs);
        add_metric_columns(&mut history, &metrics, validates, epochs);
        let threads = self.team.threads();
        let params = FitParams {
            epochs,
            steps: train.len().div_ceil(B * threads),
            samples: train.len(),
            batch_size: B * threads,
            threads,
            seed,
            shuffle,
        };
        let steps = params.steps;
        // A callback that fails stops `fit` at once with its error and the epochs done.
        let failed = |epoch, batch, source, history| TrainError::Callback {
            epoch,
            batch,
            source,
            history: Box::new(history),
        };
        let begun = self.run_callbacks(
            network,
            &mut callbacks,
            (params, Progress::default(), &history),
            |callback, context| callback.on_train_begin(context),
        );
        let (first_epoch, mut partial) = match begun {
            Err(source) => return Err(failed(0, None, source, history)),
            Ok(hooked) => self.take_up(hooked.resume, &mut history, &mut rng, shuffle, epochs),
        };
        // In a resumed history too.
        add_metric_columns(&mut history, &metrics, validates, epochs);
        for epoch in first_epoch..=epochs {
            // Only the first epoch of a resumed fit may have begun already.
            let partial = partial.take();
            let (from, seconds_before) = match partial {
                Some(progress) => {
                    let steps = progress.steps.min(steps);
                    let totals = progress.totals;
                    (Partial { steps, totals }, progress.seconds)
                }
                None => {
                    let at = Progress {
                        epochs: epoch - 1,
                        ..Progress::default()
                    };
                    if let Err(source) = self.run_callbacks(
                        network,
                        &mut callbacks,
                        (params, at, &history),
                        |callback, context| callback.on_epoch_begin(epoch, context),
                    ) {
                        return Err(failed(epoch, None, source, history));
                    }
                    (Partial::default(), 0.0)
                }
            };
            // The rate of every step of the epoch, as the callbacks (between epochs) and the
            // schedule (of each step) left it: none may ruin the weights.
            if let Some((step, learning_rate)) =
                self.optimizer.settings().first_invalid_rate(steps as u64)
            {
                return Err(TrainError::InvalidLearningRate {
                    learning_rate,
                    epoch,
                    batch: step as usize + 1,
                    history: Box::new(history),
                });
            }
            let bar = EpochBar::start_if(verbose == Verbose::ProgressBar, epoch, epochs, steps);
            let start = Instant::now();
            let (mut done, mut stopped, mut batch_error) = (from.steps, false, None);
            // The epoch's running sums before the step about to run, for its `Progress`.
            let mut before = from.totals;
            let trained = self.run_epoch(
                network,
                data,
                train.clone(),
                shuffle.then_some(&mut rng),
                from,
                check_finite,
                &mut metrics,
                &mut |runner, network, step, event| {
                    let (totals, measured) = match event {
                        BatchEvent::Begin => {
                            let at = Progress {
                                epochs: epoch - 1,
                                steps: step - 1,
                                totals: before,
                                seconds: seconds_before + start.elapsed().as_secs_f64(),
                            };
                            match runner.run_callbacks(
                                network,
                                &mut callbacks,
                                (params, at, &history),
                                |callback, context| callback.on_train_batch_begin(step, context),
                            ) {
                                Ok(hooked) => stopped |= hooked.stop,
                                Err(error) => batch_error = Some(error),
                            }
                            return stopped || batch_error.is_some();
                        }
                        BatchEvent::End(totals, measured) => (totals, measured),
                    };
                    before = totals;
                    let steps_done = step;
                    let running = Metrics {
                        metrics: measured,
                        ..totals.metrics(L::ACCURACY)
                    };
                    if let Some(bar) = &bar {
                        bar.advance(steps_done, running);
                    }
                    if let Verbose::Steps(every) = verbose
                        && steps_done % every.max(1) == 0
                    {
                        let seconds = seconds_before + start.elapsed().as_secs_f64();
                        let at = (epoch, epochs, steps_done, steps);
                        write_step_line(out, at, seconds, running);
                    }
                    done = steps_done;
                    let logs = BatchLogs {
                        epoch,
                        batch: steps_done,
                        train: running,
                        learning_rate: runner.optimizer.learning_rate(),
                    };
                    let at = Progress {
                        epochs: epoch - 1,
                        steps: steps_done,
                        totals,
                        seconds: seconds_before + start.elapsed().as_secs_f64(),
                    };
                    match runner.run_callbacks(
                        network,
                        &mut callbacks,
                        (params, at, &history),
                        |callback, context| callback.on_train_batch_end(&logs, context),
                    ) {
                        Ok(hooked) => stopped |= hooked.stop,
                        Err(error) => batch_error = Some(error),
                    }
                    stopped || batch_error.is_some()
                },
            );
            if let Some(source) = batch_error {
                return Err(failed(epoch, Some(done), source, history));
            }
            let seconds = seconds_before + start.elapsed().as_secs_f64();
            let train_metrics = match trained {
                Ok(totals) => Metrics {
                    metrics: MetricValues::of(metrics.iter().map(|m| &**m as &dyn Metric)),
                    ..totals.metrics(L::ACCURACY)
                },
                Err((batch, StepFailure::NonFinite(what))) => {
                    return Err(TrainError::NonFinite {
                        epoch,
                        batch,
                        what,
                        history: Box::new(history),
                    });
                }
                Err((batch, StepFailure::Read(source))) => {
                    return Err(TrainError::Data {
                        epoch,
                        batch: Some(batch),
                        source: Box::new(source),
                        history: Box::new(history),
                    });
                }
            };
            let validation = match (validation, &split) {
                (Some(val), _) => {
                    let Ok(metrics) = self.evaluate(network, val, 0..val.len(), &mut metrics);
                    Some(metrics)
                }
                (None, Some(range)) => {
                    match self.evaluate(network, data, range.clone(), &mut metrics) {
                        Ok(metrics) => Some(metrics),
                        Err(source) => {
                            return Err(TrainError::Data {
                                epoch,
                                batch: None,
                                source: Box::new(source.into()),
                                history: Box::new(history),
                            });
                        }
                    }
                }
                (None, None) => None,
            };
            let logs = EpochLogs {
                epoch,
                train: train_metrics,
                validation,
                learning_rate: self.optimizer.learning_rate(),
                seconds,
                steps: done,
            };
            history.push(&logs);
            match bar {
                Some(bar) => bar.finish(&logs),
                None if matches!(verbose, Verbose::EpochLine | Verbose::Steps(_)) => {
                    write_epoch_line(out, epochs, &logs);
                }
                None => {}
            }
            let at = Progress {
                epochs: epoch,
                ..Progress::default()
            };
            match self.run_callbacks(
                network,
                &mut callbacks,
                (params, at, &history),
                |callback, context| callback.on_epoch_end(&logs, context),
            ) {
                Ok(hooked) if hooked.stop || stopped => break,
                Ok(_) => {}
                Err(source) => return Err(failed(epoch, None, source, history)),
            }
        }
        let at = Progress {
            epochs: history.epochs(),
            ..Progress::default()
        };
        if let Err(source) = self.run_callbacks(
            network,
            &mut callbacks,
            (params, at, &history),
            |callback, context| callback.on_train_end(context),
        ) {
            let epoch = history.epochs();
            return Err(failed(epoch, None, source, history));
        }
        let _ = out.flush();
        Ok(history)
    }

    /// Takes up the fit a callback asked to `resume`, if one did: its history, and the order of
    /// samples its epochs left (each epoch shuffles the order the one before left). Returns
    /// the first epoch to train and, when that epoch began in the earlier fit, how far it came.
    fn take_up(
        &mut self,
        resume: Option<(Progress, History)>,
        history: &mut History,
        rng: &mut StdRng,
        shuffle: bool,
        epochs: usize,
    ) -> (usize, Option<Progress>) {
        let Some((progress, restored)) = resume else {
            return (1, None);
        };
        *history = restored;
        history.reserve_epochs(epochs);
        if shuffle {
            for _ in 0..progress.epochs.min(epochs) {
                self.order.shuffle(rng);
            }
        }
        let first = progress.epochs.saturating_add(1);
        (first, progress.is_mid_epoch().then_some(progress))
    }

    /// The metrics of `network` on the samples `range` of `data`, on the calling thread,
    /// `metrics` reset and measured there.
    fn evaluate<D: Source<IN, OUT>, const IN: usize, const OUT: usize>(
        &mut self,
        network: &N,
        data: &D,
        range: Range<usize>,
        metrics: &mut MetricList<'_, '_>,
    ) -> Result<Metrics, D::Error>
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]>,
    {
        for metric in metrics.iter_mut() {
            metric.reset();
        }
        let lane = &mut self.lanes[0];
        let totals = lane
            .shard
            .evaluate_range(network, &lane.loss, data, range, metrics)?;
        Ok(Metrics {
            metrics: MetricValues::of(metrics.iter().map(|m| &**m as &dyn Metric)),
            ..totals.metrics(L::ACCURACY)
        })
    }

    /// Runs `hook` for every callback with a context over the optimizer and the network (its
    /// parameters, then what it keeps without training, as Keras' `get_weights` lists them) and
    /// over the fit (`at`: its parameters, progress and history); returns whether one asked to
    /// stop and the resume one asked for, or the error of the first that failed (the callbacks
    /// after it do not run).
    fn run_callbacks(
        &mut self,
        network: &mut N,
        callbacks: &mut [&mut dyn Callback],
        at: (FitParams, Progress, &History),
        mut hook: impl FnMut(&mut dyn Callback, &mut Context<'_>),
    ) -> Result<Hooked, Box<dyn Error + Send + Sync>> {
        let (params, progress, history) = at;
        // Visiting pairs each tensor with a gradient buffer, which the callbacks do not see.
        let mut model = LayerAccess::new(network, &mut self.lanes[0].shard.grads);
        let mut context =
            Context::new(&mut *self.optimizer, &mut model).in_fit(params, progress, history);
        for callback in callbacks.iter_mut() {
            hook(&mut **callback, &mut context);
            if let Some(error) = context.take_error() {
                return Err(error);
            }
        }
        Ok(Hooked {
            stop: context.stop_requested(),
            resume: context.take_resume(),
        })
    }
}

/// A column of `history` for each metric, and for its validation value when the fit `validates`,
/// with room for `epochs` epochs (callbacks see them from `on_train_begin` on).
fn add_metric_columns(
    history: &mut History,
    metrics: &MetricList<'_, '_>,
    validates: bool,
    epochs: usize,
) {
    for metric in metrics {
        history.add_metric(metric.name().to_owned(), epochs);
        if validates {
            history.add_metric(format!("val_{}", metric.name()), epochs);
        }
    }
}

/// What the callbacks of one hook asked for.
struct Hooked {
    /// To stop training.
    stop: bool,
    /// To continue an earlier fit (read after `on_train_begin`).
    resume: Option<(Progress, History)>,
}

#[cfg(test)]
mod tests {
    use crate::activation::Linear;
    use crate::data::Dataset;
    use crate::layers::{BatchNormalization, Dense};
    use crate::loss::MeanSquaredError;
    use crate::optim::schedule::StepDecay;
    use crate::optim::{Optimizer, Sgd};
    use crate::train::callbacks::{Callback, Context, Monitor, ReduceLrOnPlateau};
    use crate::train::{
        BatchLogs, EpochLogs, Fit, FitParams, History, Progress, Totals, Trainer, Verbose,
    };

    /// Eight samples of `y = 2x`: two steps an epoch at batch 4.
    fn line() -> Dataset<1, 1> {
        let xs: Vec<f32> = (0..8).map(|i| i as f32 / 8.0).collect();
        Dataset::from_arrays(
            xs.iter().map(|&x| [x]).collect(),
            xs.iter().map(|&x| [2.0 * x]).collect(),
        )
        .unwrap()
    }

    fn model() -> Dense<1, 1, Linear> {
        Dense::from_parameters([[0.0]], Some([0.0]))
    }

    #[test]
    fn a_regression_reports_no_accuracy() {
        let mut model = model();
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.1), MeanSquaredError);
        let mut printed = Vec::new();
        let options = Fit::epochs(2)
            .validation_split(0.25)
            .verbose(Verbose::EpochLine)
            .output(&mut printed);
        let history = trainer.fit(&mut model, &line(), options).unwrap();
        assert_eq!(history.val_loss.len(), 2, "{history:?}");
        assert!(history.accuracy.is_empty(), "{history:?}");
        assert!(history.val_accuracy.is_empty(), "{history:?}");
        let printed = String::from_utf8(printed).unwrap();
        assert!(
            printed.contains("- loss: ") && printed.contains("- val_loss: "),
            "{printed}"
        );
        assert!(!printed.contains("accuracy"), "{printed}");
        let result = trainer.evaluate(&model, &line());
        assert_eq!(result.accuracy, None, "{result:?}");
    }

    /// Records, at the end of each epoch, every weight the callbacks' context visits.
    struct Weights(Vec<Vec<f32>>);

    impl Callback for Weights {
        fn on_epoch_end(&mut self, _: &EpochLogs, context: &mut Context<'_>) {
            let mut all = Vec::new();
            context.visit_parameters(&mut |weights| all.extend_from_slice(weights));
            self.0.push(all);
        }
    }

    #[test]
    fn callbacks_see_the_parameters_then_the_moving_statistics() {
        let mut model = BatchNormalization::<1, 1>::new().momentum(0.5);
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.1), MeanSquaredError);
        let mut weights = Weights(Vec::new());
        let options = Fit::epochs(1)
            .shuffle(false)
            .verbose(Verbose::Silent)
            .callback(&mut weights);
        trainer.fit(&mut model, &line(), options).unwrap();
        // γ, β, then the moving mean and variance (of the two batches' 0.1875 and 0.6875).
        let (gamma, beta) = (model.gamma().unwrap()[0], model.beta().unwrap()[0]);
        let (mean, variance) = (model.moving_mean()[0], model.moving_variance()[0]);
        assert_eq!(weights.0, [vec![gamma, beta, mean, variance]]);
        assert_eq!(mean, 0.5 * 0.5 * 0.1875 + 0.5 * 0.6875);
    }

    #[test]
    fn the_history_records_the_scheduled_rate_in_effect() {
        // Halved every 2 steps, once an epoch: 0.1, 0.05, 0.025.
        let mut model = model();
        let sgd = Sgd::new(0.1).with_schedule(StepDecay::new(0.1, 0.5, 2));
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, sgd, MeanSquaredError);
        let options = Fit::epochs(3).verbose(Verbose::Silent);
        let history = trainer.fit(&mut model, &line(), options).unwrap();
        assert_eq!(history.learning_rate, [0.1, 0.05, 0.025]);
    }

    /// Records the order of the batch hooks, and stops before the second step of an epoch.
    #[derive(Default)]
    struct Hooks {
        calls: Vec<String>,
        steps_before: Vec<usize>,
    }

    impl Callback for Hooks {
        fn on_train_batch_begin(&mut self, batch: usize, context: &mut Context<'_>) {
            self.calls.push(format!("begin {batch}"));
            self.steps_before.push(context.progress().steps);
            if batch == 2 {
                context.stop_training();
            }
        }

        fn on_train_batch_end(&mut self, logs: &BatchLogs, _context: &mut Context<'_>) {
            self.calls.push(format!("end {}", logs.batch));
        }
    }

    #[test]
    fn batch_hooks_run_around_each_step_and_a_stop_before_a_step_ends_the_epoch_after_it() {
        let mut model = model();
        let mut trainer = Trainer::<_, _, _, 1>::new(&model, Sgd::new(0.1), MeanSquaredError);
        let mut hooks = Hooks::default();
        let options = Fit::epochs(2).verbose(Verbose::Silent).callback(&mut hooks);
        let history = trainer.fit(&mut model, &line(), options).unwrap();
        // The stop asked before step 2 takes effect after it, as Keras checks after each batch.
        assert_eq!(hooks.calls, ["begin 1", "end 1", "begin 2", "end 2"]);
        assert_eq!(hooks.steps_before, [0, 1]);
        assert_eq!(history.epochs(), 1);
    }

    #[test]
    fn verbose_steps_prints_a_line_every_n_steps_and_one_per_epoch() {
        let mut model = model();
        let mut trainer = Trainer::<_, _, _, 1>::new(&model, Sgd::new(0.1), MeanSquaredError);
        let mut printed = Vec::new();
        let options = Fit::epochs(1)
            .verbose(Verbose::Steps(2))
            .output(&mut printed);
        trainer.fit(&mut model, &line(), options).unwrap();
        let printed = String::from_utf8(printed).unwrap();
        let steps = line().len();
        let every_two: Vec<&str> = printed
            .lines()
            .filter(|l| l.starts_with("Epoch 1/1 - "))
            .collect();
        assert_eq!(every_two.len(), steps / 2, "{printed}");
        assert!(
            every_two[0].starts_with(&format!("Epoch 1/1 - 2/{steps} - ")),
            "{printed}"
        );
        assert!(every_two[0].contains(" - loss: "), "{printed}");
        // Then the epoch's own line.
        assert!(
            printed.contains(&format!("{steps}/{steps} - ")),
            "{printed}"
        );
    }

    /// Stops training after the first step, and keeps the logs it sees.
    #[derive(Default)]
    struct StopAfterOneStep {
        batches: Vec<BatchLogs>,
        epochs: Vec<EpochLogs>,
    }

    impl Callback for StopAfterOneStep {
        fn on_train_batch_end(&mut self, logs: &BatchLogs, context: &mut Context<'_>) {
            self.batches.push(*logs);
            context.stop_training();
        }

        fn on_epoch_end(&mut self, logs: &EpochLogs, _context: &mut Context<'_>) {
            self.epochs.push(*logs);
        }
    }

    #[test]
    fn stopping_after_a_step_ends_the_epoch_there_and_still_validates_it() {
        let mut model = model();
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.1), MeanSquaredError);
        let mut stop = StopAfterOneStep::default();
        let data = line();
        let options = Fit::epochs(3)
            .validation_data(&data)
            .verbose(Verbose::Silent)
            .callback(&mut stop);
        let history = trainer.fit(&mut model, &data, options).unwrap();
        assert_eq!(history.epochs(), 1, "{history:?}");
        assert_eq!(stop.batches.len(), 1, "one of the epoch's two steps ran");
        let (batch, epoch) = (stop.batches[0], stop.epochs[0]);
        assert_eq!((batch.epoch, batch.batch, batch.learning_rate), (1, 1, 0.1));
        assert_eq!(epoch.steps, 1);
        assert_eq!(
            epoch.train, batch.train,
            "the epoch's metrics are its one step's"
        );
        assert_eq!(history.val_loss.len(), 1, "the stopped epoch is validated");
    }

    #[test]
    fn a_callback_that_sets_the_rate_ends_the_schedule() {
        // The loss cannot improve by 1e-4 an epoch at these rates: from the second epoch on,
        // each epoch's end divides the rate in effect by 10, and the schedule stops.
        let mut model = model();
        let sgd = Sgd::new(1e-6).with_schedule(StepDecay::new(1e-6, 0.5, 2));
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, sgd, MeanSquaredError);
        let mut reduce = ReduceLrOnPlateau::new(Monitor::Loss)
            .patience(1)
            .factor(0.1);
        let options = Fit::epochs(3)
            .verbose(Verbose::Silent)
            .callback(&mut reduce);
        let history = trainer.fit(&mut model, &line(), options).unwrap();
        let second = 1e-6_f32 * 0.5;
        let reduced = second * 0.1;
        assert_eq!(history.learning_rate, [1e-6, second, reduced]);
        let optimizer = trainer.optimizer();
        assert_eq!(
            optimizer.settings().current_learning_rate(),
            reduced,
            "the last epoch's steps took the callback's rate"
        );
        assert_eq!(
            optimizer.learning_rate(),
            reduced * 0.1,
            "and the next one's"
        );
    }

    /// What the callbacks' context shows at each hook.
    #[derive(Default)]
    struct Watch {
        params: Vec<FitParams>,
        progress: Vec<(&'static str, Progress, usize)>,
    }

    impl Watch {
        fn see(&mut self, hook: &'static str, context: &Context<'_>) {
            let history = context.history().epochs();
            self.progress.push((hook, context.progress(), history));
        }
    }

    impl Callback for Watch {
        fn on_train_begin(&mut self, context: &mut Context<'_>) {
            self.params.push(context.params());
            self.see("train_begin", context);
        }

        fn on_epoch_begin(&mut self, _: usize, context: &mut Context<'_>) {
            self.see("epoch_begin", context);
        }

        fn on_train_batch_end(&mut self, _: &BatchLogs, context: &mut Context<'_>) {
            self.see("batch_end", context);
        }

        fn on_epoch_end(&mut self, _: &EpochLogs, context: &mut Context<'_>) {
            self.see("epoch_end", context);
        }
    }

    #[test]
    fn callbacks_see_the_fit_its_progress_and_its_history() {
        let mut model = model();
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.0), MeanSquaredError);
        let mut watch = Watch::default();
        let options = Fit::epochs(2)
            .shuffle(false)
            .seed(3)
            .verbose(Verbose::Silent)
            .callback(&mut watch);
        trainer.fit(&mut model, &line(), options).unwrap();
        let params = FitParams {
            epochs: 2,
            steps: 2,
            samples: 8,
            batch_size: 4,
            threads: 1,
            seed: 3,
            shuffle: false,
        };
        assert_eq!(watch.params, [params]);
        let hooks: Vec<(&str, usize, usize, usize)> = watch
            .progress
            .iter()
            .map(|&(hook, progress, history)| (hook, progress.epochs, progress.steps, history))
            .collect();
        assert_eq!(
            hooks,
            [
                ("train_begin", 0, 0, 0),
                ("epoch_begin", 0, 0, 0),
                ("batch_end", 0, 1, 0),
                ("batch_end", 0, 2, 0),
                ("epoch_end", 1, 0, 1),
                ("epoch_begin", 1, 0, 1),
                ("batch_end", 1, 1, 1),
                ("batch_end", 1, 2, 1),
                ("epoch_end", 2, 0, 2),
            ]
        );
        // The model predicts 0 (a rate of 0 keeps it so): a sample's loss is its target
        // squared. The first step's targets are 0, 0.25, 0.5 and 0.75.
        let first = watch.progress[2].1.totals;
        assert_eq!((first.loss, first.samples), (0.875, 4));
        // Then 1, 1.25, 1.5 and 1.75.
        assert_eq!(watch.progress[3].1.totals.loss, 0.875 + 7.875);
    }

    /// Resumes, at the start of `fit`, from `progress` with a history of one epoch.
    struct ResumeAt(Progress, Watch);

    impl Callback for ResumeAt {
        fn on_train_begin(&mut self, context: &mut Context<'_>) {
            let history = History {
                loss: vec![5.0],
                learning_rate: vec![0.0],
                epoch_seconds: vec![1.5],
                ..History::default()
            };
            context.resume(self.0, history);
        }

        fn on_epoch_begin(&mut self, epoch: usize, context: &mut Context<'_>) {
            self.1.on_epoch_begin(epoch, context);
        }

        fn on_train_batch_end(&mut self, logs: &BatchLogs, context: &mut Context<'_>) {
            self.1.on_train_batch_end(logs, context);
        }
    }

    #[test]
    fn a_resumed_fit_continues_the_epoch_it_stopped_in() {
        let mut model = model();
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.0), MeanSquaredError);
        let at = Progress {
            epochs: 1,
            steps: 1,
            totals: Totals {
                loss: 10.0,
                hits: 0,
                samples: 4,
            },
            seconds: 2.0,
        };
        let mut resume = ResumeAt(at, Watch::default());
        let options = Fit::epochs(3)
            .shuffle(false)
            .verbose(Verbose::Silent)
            .callback(&mut resume);
        let history = trainer.fit(&mut model, &line(), options).unwrap();
        let hooks: Vec<(&str, usize, usize)> = resume
            .1
            .progress
            .iter()
            .map(|&(hook, progress, _)| (hook, progress.epochs, progress.steps))
            .collect();
        // Epoch 2 began in the fit resumed: it goes on at its second step.
        assert_eq!(
            hooks,
            [
                ("batch_end", 1, 2),
                ("epoch_begin", 2, 0),
                ("batch_end", 2, 1),
                ("batch_end", 2, 2),
            ]
        );
        assert_eq!(history.epochs(), 3);
        assert_eq!(history.loss[0], 5.0, "the history given");
        // Epoch 2: the 10 carried on and the second step's 7.875, over 8 samples.
        assert_eq!(history.loss[1], (10.0 + 7.875) / 8.0);
        assert!(history.epoch_seconds[1] >= 2.0, "{history:?}");
    }

    #[test]
    fn a_fit_resumed_after_its_last_epoch_trains_nothing() {
        let mut model = model();
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.1), MeanSquaredError);
        let at = Progress {
            epochs: 1,
            ..Progress::default()
        };
        let mut resume = ResumeAt(at, Watch::default());
        let options = Fit::epochs(1)
            .verbose(Verbose::Silent)
            .callback(&mut resume);
        let history = trainer.fit(&mut model, &line(), options).unwrap();
        assert_eq!(history.loss, [5.0]);
        assert!(resume.1.progress.is_empty(), "no epoch ran");
        assert_eq!(model.weights(), &[[0.0]]);
    }
}
