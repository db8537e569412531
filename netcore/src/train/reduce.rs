//! The reduce half of a parallel step's reduce-scatter: the gradients of every thread but the
//! calling one, summed into one flat vector, each thread summing its own share of each tensor.
//! (The scatter half, each thread adding the sum to the calling thread's gradients and updating
//! its share of the parameters, is the optimizer's step: `optim::step`.)

use super::runner::Lane;
use crate::kernels::{self, team::Team};
use crate::layer::Layer;

/// Sums the gradients of the lanes `others` that trained samples this step into `sum`, one
/// value per parameter, in the order of the lanes, so that a run is reproducible. Returns the
/// sum, or `None` if no lane had samples (on one thread, or at the end of an epoch).
pub(super) fn sum<'s, N: Layer, L, const B: usize>(
    network: &mut N,
    others: &mut [Lane<'_, N, L, B>],
    sum: &'s mut [f32],
    team: &Team<'_>,
) -> Option<&'s mut [f32]> {
    let mut summed = false;
    for lane in others.iter_mut().filter(|lane| lane.totals.samples > 0) {
        let mut offset = 0;
        network.visit_parameters(&mut lane.shard.grads, &mut |_, grads| {
            let sum = &mut sum[offset..offset + grads.len()];
            offset += grads.len();
            let grads = &*grads;
            team.run_split([sum], &|share, [sum]| {
                if summed {
                    kernels::axpy(1.0, &grads[share], sum);
                } else {
                    sum.copy_from_slice(&grads[share]);
                }
            });
        });
        summed = true;
    }
    summed.then_some(sum)
}
