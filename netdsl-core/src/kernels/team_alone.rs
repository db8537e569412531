//! The team of [`super::team`] without the `parallel` feature: the calling thread alone, with
//! the same interface, so the epoch runner and the optimizer step are one code path whether
//! threads are compiled in or not. No thread is started and nothing here is `unsafe`.

use core::marker::PhantomData;
use core::ops::Range;

/// Slices shorter than this are not split by the threaded team; kept for the tests that
/// size their tensors by it.
#[cfg_attr(not(test), expect(dead_code, reason = "the threaded team's threshold"))]
pub(crate) const SPLIT_MIN: usize = 16 * 1024;

/// A job of [`Team::run_split`]: called with the whole of each of `M` slices.
pub(crate) type SplitJob<'a, const M: usize> = &'a (dyn Fn(Share, [&mut [f32]; M]) + Sync);

/// Which share of the slices of [`Team::run_split`] a thread has: here always all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Share {
    /// The thread: 0, the calling thread.
    pub(crate) thread: usize,
    /// The values of the first slice the share covers: all of them.
    pub(crate) range: Range<usize>,
}

/// Runs `body` with the calling thread as the team. Callers check `threads` first: without the
/// `parallel` feature, `fit` refuses more than one thread.
#[cfg_attr(
    all(not(feature = "std"), not(test)),
    expect(dead_code, reason = "`fit` needs `std`")
)]
pub(crate) fn with_team<R>(threads: usize, body: impl FnOnce(&Team<'_>) -> R) -> R {
    debug_assert!(threads <= 1, "threads need the `parallel` feature");
    body(&Team::alone())
}

/// The calling thread, as a team of one.
pub(crate) struct Team<'t> {
    unshared: PhantomData<&'t ()>,
}

impl Team<'_> {
    /// The calling thread alone.
    pub(crate) fn alone() -> Self {
        Self {
            unshared: PhantomData,
        }
    }

    /// The number of threads: 1.
    #[cfg_attr(not(feature = "std"), expect(dead_code, reason = "`fit` needs `std`"))]
    pub(crate) fn threads(&self) -> usize {
        1
    }

    /// Runs `job(0, &mut items[0])`.
    ///
    /// # Panics
    ///
    /// If `items` does not hold exactly one item.
    #[cfg_attr(not(feature = "std"), expect(dead_code, reason = "`fit` needs `std`"))]
    pub(crate) fn run<T: Send>(&self, items: &mut [T], job: &(dyn Fn(usize, &mut T) + Sync)) {
        assert_eq!(items.len(), 1, "`Team::run` takes one item per thread");
        job(0, &mut items[0]);
    }

    /// Runs `job` on the whole of each of `slices`, as thread 0.
    pub(crate) fn run_split<const M: usize>(&self, slices: [&mut [f32]; M], job: SplitJob<'_, M>) {
        let len = slices.first().map_or(0, |s| s.len());
        let share = Share {
            thread: 0,
            range: 0..len,
        };
        job(share, slices);
    }
}
