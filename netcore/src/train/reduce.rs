//! The reduce half of a parallel step's reduce-scatter: the gradients of the threads that
//! trained samples, all but the last one's, summed into one flat vector. The scatter half,
//! every thread adding its share of the last one's gradients and updating its share of the
//! parameters, is the optimizer's step (`optim::step`), which visits the last one's gradients.
//!
//! The calling thread copies its own gradients alone: they are in its cache, so a local copy
//! costs less than a handover and each other thread reading its share from another core. On
//! two threads, that is the whole reduce, and a step has two handovers: its shards, and the
//! optimizer step. Further threads' gradients are added by all threads, each its own share.

use super::runner::Lane;
use crate::kernels::{self, team::Team};
use crate::layer::Layer;
use crate::optim::step::Pending;

/// Sums into `sum` the gradients of the `lanes` that trained samples this step, all but the
/// last one's, in the order of the lanes, so that a run is reproducible. Returns the last
/// one's gradients, which the optimizer step visits, and the sum, if there was anything to
/// sum (not on one thread, nor when only the calling thread had samples, at the end of an
/// epoch).
pub(super) fn sum<'l, 's, N: Layer, L, const B: usize>(
    network: &mut N,
    lanes: &'l mut [Lane<'_, N, L, B>],
    sum: &'s mut [f32],
    team: &Team<'_>,
) -> (&'l mut N::Grads, Option<Pending<'s>>) {
    // Shards are handed out in the order of the lanes: the lanes with samples come first.
    let trained = lanes
        .iter()
        .take_while(|lane| lane.totals.samples > 0)
        .count();
    let (last, others) = lanes[..trained.max(1)]
        .split_last_mut()
        .expect("a team has at least one thread");
    for (thread, lane) in others.iter_mut().enumerate() {
        let mut offset = 0;
        network.visit_parameters(&mut lane.shard.grads, &mut |_, grads| {
            let sum = &mut sum[offset..offset + grads.len()];
            offset += grads.len();
            if thread == 0 {
                sum.copy_from_slice(grads);
                return;
            }
            let grads = &*grads;
            team.run_split([sum], &|share, [sum]| {
                kernels::axpy(1.0, &grads[share.range], sum);
            });
        });
    }
    let pending = (!others.is_empty()).then_some(Pending {
        sum,
        owner: others.len(),
    });
    (&mut last.shard.grads, pending)
}
