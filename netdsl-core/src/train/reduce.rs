//! The reduce half of a parallel step's reduce-scatter: the gradients of the threads that
//! trained samples, all but the last one's, summed into one flat vector. The scatter half,
//! every thread adding its share of the last one's gradients and updating its share of the
//! parameters, is the optimizer's step (`optim::step`), which visits the last one's gradients.
//!
//! On two threads there is nothing to do here: the optimizer step reads the calling thread's
//! gradients where they are, each thread adding its share of the other's, and a step has two
//! handovers, its shards and the optimizer step. From three threads on (or for a network that
//! cannot visit its gradients on their own), the calling thread first copies its own gradients
//! into the flat sum alone (they are in its cache, so a local copy costs less than a handover),
//! and further threads' gradients are added by all threads, each its own share.

use super::runner::Lane;
use crate::kernels::{self, team::Team};
use crate::layer::Layer;
use crate::optim::step::{Others, Pending};

/// Sums the gradients of the `lanes` that trained samples this step, all but the last one's,
/// in the order of the lanes, so that a run is reproducible. Returns the last one's gradients,
/// which the optimizer step visits, and the others, if there are any (not on one thread, nor
/// when only the calling thread had samples, at the end of an epoch): with an empty `sum`, the
/// calling thread's gradients as they are (`fit` leaves `sum` empty on two threads when the
/// network visits its gradients on their own, [`Layer::visit_gradients`]); otherwise their
/// sum, flat, in `sum`.
pub(super) fn sum<'a, N: Layer, L, const B: usize>(
    network: &mut N,
    lanes: &'a mut [Lane<'_, N, L, B>],
    sum: &'a mut [f32],
    team: &Team<'_>,
) -> (&'a mut N::Grads, Option<Pending<'a, N>>) {
    // Shards are handed out in the order of the lanes: the lanes with samples come first.
    let trained = lanes
        .iter()
        .take_while(|lane| lane.totals.samples > 0)
        .count();
    let (last, others) = lanes[..trained.max(1)]
        .split_last_mut()
        .expect("a team has at least one thread");
    let owner = others.len();
    if owner == 1 && sum.is_empty() {
        let others = Others::Thread(&mut others[0].shard.grads);
        return (&mut last.shard.grads, Some(Pending { others, owner }));
    }
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
    let others = Others::Flat(sum);
    let pending = (owner > 0).then_some(Pending { others, owner });
    (&mut last.shard.grads, pending)
}
