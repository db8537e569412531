//! The epochs of `fit` around the runner: shuffling seed, validation, logs, what is printed,
//! the history, and the callbacks.

use std::error::Error;
use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::callbacks::{Callback, Context, LayerAccess};
use super::progress::{EpochBar, write_epoch_line};
use super::runner::{Runner, Shared, reset_order};
use super::{BatchLogs, EpochLogs, Fit, History, Metrics, TrainError, Verbose};
use crate::data::{Dataset, Sample};
use crate::layer::Layer;
use crate::loss::Loss;
use crate::optim::Optimizer;

impl<N: Shared<B>, O: Optimizer, L: Loss<N::Activation> + Send, const B: usize>
    Runner<'_, '_, N, O, L, B>
{
    /// `options.epochs` epochs over the samples `train` of `data` (Keras' `model.fit`), the
    /// rest of `data` being the validation split: see [`super::Trainer::fit`].
    pub(super) fn fit<const IN: usize, const OUT: usize>(
        &mut self,
        network: &mut N,
        data: &Dataset<IN, OUT>,
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
            output,
        } = options;
        let split = (train.end < data.len()).then(|| train.end..data.len());

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
        let steps = train.len().div_ceil(B * self.team.threads());
        // A callback that fails stops `fit` at once with its error and the epochs done.
        let failed = |epoch, batch, source, history| TrainError::Callback {
            epoch,
            batch,
            source,
            history: Box::new(history),
        };
        if let Err(source) = self.run_callbacks(network, &mut callbacks, |callback, context| {
            callback.on_train_begin(context)
        }) {
            return Err(failed(0, None, source, history));
        }
        for epoch in 1..=epochs {
            if let Err(source) = self.run_callbacks(network, &mut callbacks, |callback, context| {
                callback.on_epoch_begin(epoch, context)
            }) {
                return Err(failed(epoch, None, source, history));
            }
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
            let (mut done, mut stopped, mut batch_error) = (0, false, None);
            let trained = self.run_epoch(
                network,
                data,
                train.clone(),
                shuffle.then_some(&mut rng),
                check_finite,
                &mut |runner, network, steps_done, running| {
                    if let Some(bar) = &bar {
                        bar.advance(steps_done, running);
                    }
                    done = steps_done;
                    let logs = BatchLogs {
                        epoch,
                        batch: steps_done,
                        train: running,
                        learning_rate: runner.optimizer.learning_rate(),
                    };
                    match runner.run_callbacks(network, &mut callbacks, |callback, context| {
                        callback.on_train_batch_end(&logs, context)
                    }) {
                        Ok(stop) => stopped = stop,
                        Err(error) => batch_error = Some(error),
                    }
                    stopped || batch_error.is_some()
                },
            );
            if let Some(source) = batch_error {
                return Err(failed(epoch, Some(done), source, history));
            }
            let seconds = start.elapsed().as_secs_f64();
            let train_metrics = match trained {
                Ok(metrics) => metrics,
                Err((batch, what)) => {
                    return Err(TrainError::NonFinite {
                        epoch,
                        batch,
                        what,
                        history: Box::new(history),
                    });
                }
            };
            let validation = match (validation, &split) {
                (Some(val), _) => Some(self.evaluate(network, val, 0..val.len())),
                (None, Some(range)) => Some(self.evaluate(network, data, range.clone())),
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
                None if verbose == Verbose::EpochLine => write_epoch_line(out, epochs, &logs),
                None => {}
            }
            match self.run_callbacks(network, &mut callbacks, |callback, context| {
                callback.on_epoch_end(&logs, context)
            }) {
                Ok(stop) if stop || stopped => break,
                Ok(_) => {}
                Err(source) => return Err(failed(epoch, None, source, history)),
            }
        }
        if let Err(source) = self.run_callbacks(network, &mut callbacks, |callback, context| {
            callback.on_train_end(context)
        }) {
            let epoch = history.epochs();
            return Err(failed(epoch, None, source, history));
        }
        let _ = out.flush();
        Ok(history)
    }

    /// The metrics of `network` on the samples `range` of `data`, on the calling thread.
    fn evaluate<const IN: usize, const OUT: usize>(
        &mut self,
        network: &N,
        data: &Dataset<IN, OUT>,
        range: Range<usize>,
    ) -> Metrics
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]>,
    {
        let lane = &mut self.lanes[0];
        let totals = lane.shard.evaluate_range(network, &lane.loss, data, range);
        totals.metrics(L::ACCURACY)
    }

    /// Runs `hook` for every callback with a context over the optimizer and the network (its
    /// parameters, then what it keeps without training, as Keras' `get_weights` lists them);
    /// returns whether one asked to stop, or the error of the first that failed (the callbacks
    /// after it do not run).
    fn run_callbacks(
        &mut self,
        network: &mut N,
        callbacks: &mut [&mut dyn Callback],
        mut hook: impl FnMut(&mut dyn Callback, &mut Context<'_>),
    ) -> Result<bool, Box<dyn Error + Send + Sync>> {
        // Visiting pairs each tensor with a gradient buffer, which the callbacks do not see.
        let mut model = LayerAccess::new(network, &mut self.lanes[0].shard.grads);
        let mut context = Context::new(&mut *self.optimizer, &mut model);
        for callback in callbacks.iter_mut() {
            hook(&mut **callback, &mut context);
            if let Some(error) = context.take_error() {
                return Err(error);
            }
        }
        Ok(context.stop_requested())
    }
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
    use crate::train::{BatchLogs, EpochLogs, Fit, Trainer, Verbose};

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
}
