//! One thread's share of a training step: its rows gathered, forward, loss, backward.

use std::ops::Range;

use super::Totals;
use crate::data::{Sample, Source};
use crate::layer::{Layer, Row};
use crate::loss::Loss;
use crate::metrics::Metric;

/// The class of a target, as Keras' `class_weight` reads it: the index of its largest value
/// or, for one output, the value rounded to 0 or 1.
fn class_of<const OUT: usize>(target: &[f32; OUT]) -> usize {
    match target.as_slice() {
        [one] => usize::from(one.round() >= 1.0),
        values => crate::metrics::argmax(values),
    }
}

/// The buffers one thread trains `B` rows with, allocated once: inputs, targets, the rows'
/// weights, outputs, output gradients, the network's tape and the parameter gradients.
pub(super) struct Shard<N: Layer, const B: usize> {
    pub(super) x: Box<[N::In; B]>,
    pub(super) y: Box<[N::Out; B]>,
    /// Each row's weight in the loss, read when `weighted`.
    weights: Box<[f32; B]>,
    /// Whether the rows gathered last have weights (their own or their class's).
    weighted: bool,
    pub(super) output: Box<[N::Out; B]>,
    pub(super) delta: Box<[N::Out; B]>,
    pub(super) tape: N::Tape<B>,
    pub(super) grads: N::Grads,
}

impl<N: Layer, const B: usize> Shard<N, B> {
    /// Buffers for `network`. The runner moves the tape's random generators (dropout's masks)
    /// to a stream of their seeds before each step (see `Runner::seed_tapes`).
    pub(super) fn new(network: &N) -> Self {
        Self {
            x: bytemuck::zeroed_box(),
            y: bytemuck::zeroed_box(),
            weights: bytemuck::zeroed_box(),
            weighted: false,
            output: bytemuck::zeroed_box(),
            delta: bytemuck::zeroed_box(),
            tape: network.new_tape(),
            grads: network.new_grads(),
        }
    }

    /// Copies the samples at `indices` into the first rows, with their weights: their own,
    /// or their class's in `class_weights` when it is not empty; returns how many there were.
    pub(super) fn gather<D: Source<IN, OUT>, const IN: usize, const OUT: usize>(
        &mut self,
        data: &D,
        indices: impl IntoIterator<Item = usize> + Clone,
        class_weights: &[f32],
    ) -> Result<usize, D::Error>
    where
        N: Layer<In: Sample<IN>, Out = [f32; OUT]>,
    {
        let rows = data.read(indices.clone(), &mut self.x, &mut self.y)?;
        self.weighted = data.has_sample_weights() || !class_weights.is_empty();
        if !class_weights.is_empty() {
            for (w, y) in self.weights.iter_mut().zip(self.y.iter()).take(rows) {
                *w = class_weights[class_of(y)];
            }
        } else if self.weighted {
            for (w, index) in self.weights.iter_mut().zip(indices) {
                *w = data.sample_weight(index);
            }
        }
        Ok(rows)
    }

    /// Forward and backward over the first `rows` rows, the loss gradient of each scaled by
    /// `scale` (1 / the rows of the whole step); writes the parameter gradients into
    /// `self.grads`. Rows past `rows` get a zero gradient, and the layers that mix a batch's
    /// samples (batch normalization) leave them out ([`Layer::set_rows`]). Returns the summed
    /// loss and hits of the rows.
    pub(super) fn train<L: Loss<N::Activation>, const OUT: usize>(
        &mut self,
        network: &N,
        loss: &L,
        rows: usize,
        scale: f32,
    ) -> Totals
    where
        N: Layer<Out = [f32; OUT]>,
    {
        network.set_rows(&mut self.tape, rows);
        let totals = self.evaluate(network, loss, rows);
        let kept = N::kept(&self.tape);
        loss.deltas(&self.output, kept, &self.y, rows, scale, &mut self.delta);
        if self.weighted {
            for (delta, &w) in self.delta.iter_mut().zip(self.weights.iter()).take(rows) {
                delta.values_mut().iter_mut().for_each(|d| *d *= w);
            }
        }
        let grads = &mut self.grads;
        network.backward(&self.x, &self.delta, None, grads, &mut self.tape);
        // The weights' penalty, once a batch as Keras adds it to the mean loss: this thread's
        // share of it (and of its gradient) is its share of the step's rows.
        let share = rows as f32 * scale;
        let penalty = network.regularize(grads, share);
        Totals {
            loss: totals.loss + penalty * rows as f64,
            ..totals
        }
    }

    /// Forward over the first `rows` rows; returns their summed loss and hits.
    pub(super) fn evaluate<L: Loss<N::Activation>, const OUT: usize>(
        &mut self,
        network: &N,
        loss: &L,
        rows: usize,
    ) -> Totals
    where
        N: Layer<Out = [f32; OUT]>,
    {
        network.forward(&self.x, &mut self.output, &mut self.tape);
        let mut totals = Totals {
            samples: rows,
            ..Totals::default()
        };
        for (i, (y, t)) in self.output.iter().zip(self.y.iter()).take(rows).enumerate() {
            let sample = f64::from(loss.loss(y, t));
            totals.loss += match self.weighted {
                true => f64::from(self.weights[i]) * sample,
                false => sample,
            };
            totals.hits += usize::from(loss.is_correct(y, t));
        }
        totals
    }

    /// Updates `metrics` with the outputs and targets of the first `rows` rows of the last
    /// forward pass.
    pub(super) fn measure<const OUT: usize>(
        &self,
        rows: usize,
        metrics: &mut [&mut (dyn Metric + '_)],
    ) where
        N: Layer<Out = [f32; OUT]>,
    {
        for (y, t) in self.output.iter().zip(self.y.iter()).take(rows) {
            for metric in metrics.iter_mut() {
                metric.update(y, t);
            }
        }
    }

    /// The totals of `network` over the samples `range` of `data`, `B` at a time, in order,
    /// updating `metrics` with every sample.
    pub(super) fn evaluate_range<L, D, const IN: usize, const OUT: usize>(
        &mut self,
        network: &N,
        loss: &L,
        data: &D,
        range: Range<usize>,
        metrics: &mut [&mut (dyn Metric + '_)],
    ) -> Result<Totals, D::Error>
    where
        L: Loss<N::Activation>,
        D: Source<IN, OUT>,
        N: Layer<In: Sample<IN>, Out = [f32; OUT]>,
    {
        let mut totals = Totals::default();
        for start in range.clone().step_by(B) {
            let end = (start + B).min(range.end);
            let rows = self.gather(data, start..end, &[])?;
            totals.add(self.evaluate(network, loss, rows));
            self.measure(rows, metrics);
        }
        // Every batch's mean loss carries the weights' penalty, as Keras 3's `test_step` adds
        // it; the weights do not change during an evaluation.
        totals.loss += network.regularization() * totals.samples as f64;
        Ok(totals)
    }
}
