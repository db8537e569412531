//! The threads of a parallel `fit`: a team that runs one borrowed job at a time on all its
//! threads, fork-join, without allocating.
//!
//! [`with_team`] starts `threads - 1` helper threads for the length of a closure, the calling
//! thread being thread 0. [`Team::run`] runs a job on every thread, thread `k` with the `k`-th
//! of a slice of items, and [`Team::run_split`] with the `k`-th share of some flat slices; both
//! return once every thread is done. A job is lent to the helpers, not boxed: as
//! `std::thread::scope` lends a closure to a thread it spawns, but to threads already running.
//! A call allocates nothing and hands over twice (the job to the helpers, their completion
//! back), each a cache line passed between cores when the threads are spinning, as they are
//! between the steps of an epoch; a thread that waits longer than [`SPIN`] sleeps instead.
//!
//! This is the one place outside the SIMD code that needs `unsafe`, for two things: a helper
//! outlives any one job, so the job's lifetime is erased while it is lent; and each thread's
//! item or share is reached through a pointer into the caller's slice. Both are sound because a
//! call does not return, nor unwind, before every helper has finished its part of the job, and
//! the parts are disjoint by construction.
//!
//! ```text
//! thread 0:  lend job ─ job(0) ───── wait for the helpers ─ return
//! thread k:  (waiting) ─ job(k) ─ done ─ (waiting for the next job)
//! ```

use std::cell::Cell;
use std::hint::spin_loop;
use std::marker::PhantomData;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a thread spins before it sleeps. Within an epoch a job comes every few
/// microseconds, which a sleep and wake-up would double; between epochs (while validation and
/// callbacks run) the helpers wait for milliseconds and should leave the core alone.
pub(crate) const SPIN: Duration = Duration::from_micros(200);

/// Slices shorter than this are not split by [`Team::run_split`]: the calling thread does all
/// of it. On the CI machine a handover takes about 0.65 µs and the one-thread SGD update of
/// 16 K values 1.6 µs, and splitting a slice also moves shares of it between cores, which
/// costs more than it saves on slices this short.
pub(crate) const SPLIT_MIN: usize = 16 * 1024;

/// Shares start at multiples of this many values (a 64-byte cache line of `f32`s), so that no
/// two threads write into one line.
const SHARE_ALIGN: usize = 16;

/// A job: called once on each thread of the team with the thread's index.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

/// A job of [`Team::run_split`]: called on each thread with which share it has and its shares
/// of `M` slices.
pub(crate) type SplitJob<'a, const M: usize> = &'a (dyn Fn(Share, [&mut [f32]; M]) + Sync);

/// Which share of the slices of [`Team::run_split`] a thread has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Share {
    /// The thread, from 0 (the calling thread).
    pub(crate) thread: usize,
    /// The values of the first slice the share covers.
    pub(crate) range: Range<usize>,
}

/// Runs `body` with a team of `threads` threads (at least 1): the calling thread and
/// `threads - 1` helpers, started now and stopped when `body` returns or panics. With one
/// thread, nothing is started and every job runs on the calling thread.
pub(crate) fn with_team<R>(threads: usize, body: impl FnOnce(&Team<'_>) -> R) -> R {
    if threads <= 1 {
        return body(&Team::alone());
    }
    let shared = Shared::new(threads - 1);
    std::thread::scope(|scope| {
        for k in 1..threads {
            let shared = &shared;
            scope.spawn(move || shared.help(k));
        }
        /// Stops the helpers when `body` returns or unwinds, so that the scope can join them.
        struct Stop<'a>(&'a Shared);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.stop();
            }
        }
        let _stop = Stop(&shared);
        body(&Team {
            threads,
            shared: Some(&shared),
            unshared: PhantomData,
        })
    })
}

/// A handle on a team's threads, used from the calling thread only: [`with_team`] lends it to
/// `body` by reference, and it is not `Sync`, so no other thread, nor a job (which must be
/// `Sync`), can reach it. Jobs therefore run one at a time.
pub(crate) struct Team<'t> {
    threads: usize,
    /// What the helpers watch; `None` when the team is the calling thread alone.
    shared: Option<&'t Shared>,
    unshared: PhantomData<Cell<()>>,
}

impl Team<'_> {
    /// The calling thread alone: every job runs there, nothing is started.
    pub(crate) fn alone() -> Self {
        Self {
            threads: 1,
            shared: None,
            unshared: PhantomData,
        }
    }

    /// The number of threads, the calling one included.
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job(k, &mut items[k])` on thread `k` for every thread, and returns when all are
    /// done. A panic on any thread reaches the caller once every thread is done.
    ///
    /// # Panics
    ///
    /// If `items` does not hold one item per thread, or if a thread's job panics.
    pub(crate) fn run<T: Send>(&self, items: &mut [T], job: &(dyn Fn(usize, &mut T) + Sync)) {
        assert_eq!(
            items.len(),
            self.threads,
            "`Team::run` takes one item per thread"
        );
        let items = Parts(items.as_mut_ptr());
        self.dispatch(&|k| {
            // SAFETY: `dispatch` calls this closure once with each `k < threads = items.len()`,
            // each call on its own thread and all of them before `run` returns, while `items`
            // stays borrowed: every `&mut` is to its own item and ends within the borrow.
            let item = unsafe { &mut *items.at(k) };
            job(k, item);
        });
    }

    /// Splits each of `slices` into one share per thread, by its own length (slices of equal
    /// lengths alike, empty ones into empty shares), and runs `job(share, shares)` on every
    /// thread with its shares, `share` saying which; returns when all are done. Shares start at
    /// multiples of 16 values. A first slice shorter than [`SPLIT_MIN`], or a team of one
    /// thread, is not split: the calling thread runs the job on all of it, as thread 0.
    ///
    /// # Panics
    ///
    /// As [`Team::run`].
    pub(crate) fn run_split<const M: usize>(&self, slices: [&mut [f32]; M], job: SplitJob<'_, M>) {
        let len = slices.first().map_or(0, |s| s.len());
        if self.threads == 1 || len < SPLIT_MIN {
            let share = Share {
                thread: 0,
                range: 0..len,
            };
            job(share, slices);
            return;
        }
        let threads = self.threads;
        let slices = slices.map(|s| (Parts(s.as_mut_ptr()), s.len()));
        self.dispatch(&|k| {
            let shares = slices.map(|(start, len)| {
                let range = share(k, threads, len);
                // SAFETY: `share` gives the threads disjoint ranges within `0..len`, the length
                // of the slice `start` points into, and `dispatch` calls this closure once
                // with each `k`, before `run_split` returns, while the slices stay borrowed.
                unsafe { std::slice::from_raw_parts_mut(start.at(range.start), range.len()) }
            });
            let share = Share {
                thread: k,
                range: share(k, threads, len),
            };
            job(share, shares);
        });
    }

    /// Calls `job(k)` once on each thread `k`, the calling thread being 0, and returns when all
    /// calls have returned.
    fn dispatch(&self, job: Job<'_>) {
        let Some(shared) = self.shared else {
            job(0);
            return;
        };
        // SAFETY: the job is borrowed for this call only, and the helpers use it only between
        // `lend` below and their completion, which `Join` waits for before this function
        // returns or unwinds: no helper calls the job after its borrow ends.
        let lent = unsafe { std::mem::transmute::<Job<'_>, Job<'static>>(job) };
        shared.lend(&lent);
        /// Waits for the helpers, whether thread 0's part returned or panicked.
        struct Join<'a>(&'a Shared);
        impl Drop for Join<'_> {
            fn drop(&mut self) {
                self.0.join();
            }
        }
        let join = Join(shared);
        job(0);
        std::mem::forget(join);
        assert!(!shared.join(), "a thread of the team panicked");
    }
}

/// The `k`-th of `threads` shares of `0..len`: about equal, each starting at a multiple of
/// [`SHARE_ALIGN`], the last one ending at `len`.
fn share(k: usize, threads: usize, len: usize) -> Range<usize> {
    let start = |k: usize| {
        if k >= threads {
            return len;
        }
        // 128-bit arithmetic: `len * k` cannot overflow.
        let even = (len as u128 * k as u128 / threads as u128) as usize;
        even - even % SHARE_ALIGN
    };
    start(k)..start(k + 1)
}

/// A pointer into a caller's slice, shared by the threads of one job, each of which forms a
/// reference to its own part only.
struct Parts<T>(*mut T);

// Not derived: the derive would ask for `T: Copy`.
impl<T> Clone for Parts<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Parts<T> {}

// SAFETY: the threads of a job form references to disjoint parts of the pointee only
// (`Team::run`: item `k` on thread `k`; `Team::run_split`: share `k`), and `T: Send` lets each
// part be used on another thread.
unsafe impl<T: Send> Sync for Parts<T> {}

impl<T> Parts<T> {
    /// The pointer `offset` elements on. (A method, so that closures capture the whole `Parts`
    /// and its `Sync`, not the bare pointer.)
    ///
    /// # Safety
    ///
    /// `offset` within the slice the pointer points into, or one past its end.
    unsafe fn at(self, offset: usize) -> *mut T {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.add(offset) }
    }
}

/// What the calling thread and the helpers share. What one side writes and the other watches
/// sits on cache lines of its own: the calling thread's `start`, the helpers' `running`.
struct Shared {
    helpers: usize,
    start: Padded<Start>,
    /// Helpers still running the current job.
    running: Padded<AtomicUsize>,
    /// Whether a helper's part of the current job panicked (written only then).
    panicked: AtomicBool,
    /// Threads asleep on `wake`, so that waking costs no system call when none is.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

/// What the calling thread hands the helpers.
struct Start {
    /// Twice the jobs lent so far, plus 1 once the team stops: a helper runs each job once,
    /// and leaves when the count turns odd.
    count: AtomicUsize,
    /// The job lent last: a pointer to the caller's reference to it, set before `count` moves
    /// and valid until the helpers have finished with it.
    job: AtomicPtr<Job<'static>>,
}

/// A value alone on its cache lines (two: CPUs fetch lines in adjacent pairs).
#[repr(align(128))]
struct Padded<T>(T);

impl Shared {
    fn new(helpers: usize) -> Self {
        Self {
            helpers,
            start: Padded(Start {
                count: AtomicUsize::new(0),
                job: AtomicPtr::new(std::ptr::null_mut()),
            }),
            running: Padded(AtomicUsize::new(0)),
            panicked: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Hands `job` to every helper. `job` must stay where it is until [`Shared::join`]
    /// returns.
    fn lend(&self, job: &Job<'static>) {
        let start = &self.start.0;
        start
            .job
            .store(std::ptr::from_ref(job).cast_mut(), Ordering::SeqCst);
        self.running.0.store(self.helpers, Ordering::SeqCst);
        start.count.fetch_add(2, Ordering::SeqCst);
        self.notify();
    }

    /// Waits until every helper has finished the job lent last. Returns whether one of them
    /// panicked.
    fn join(&self) -> bool {
        self.wait_until(|| self.running.0.load(Ordering::SeqCst) == 0);
        let panicked = self.panicked.load(Ordering::SeqCst);
        if panicked {
            self.panicked.store(false, Ordering::SeqCst);
        }
        panicked
    }

    /// Ends the helpers, which are between jobs: `join` has returned for the last one.
    fn stop(&self) {
        self.start.0.count.fetch_add(1, Ordering::SeqCst);
        self.notify();
    }

    /// Helper `k`'s life: each job lent, once, until the team stops.
    fn help(&self, k: usize) {
        let start = &self.start.0;
        let mut seen = 0;
        loop {
            self.wait_until(|| start.count.load(Ordering::SeqCst) != seen);
            seen = start.count.load(Ordering::SeqCst);
            if seen % 2 == 1 {
                return;
            }
            // SAFETY: the count moved, so `lend` stored a pointer to the caller's job, which
            // stays valid until this helper's `running` decrement below: `dispatch` does not
            // return or unwind before `join` has seen it.
            let job = unsafe { *start.job.load(Ordering::SeqCst) };
            if catch_unwind(AssertUnwindSafe(|| job(k))).is_err() {
                self.panicked.store(true, Ordering::SeqCst);
            }
            self.running.0.fetch_sub(1, Ordering::SeqCst);
            self.notify();
        }
    }

    /// Returns once `ready()` holds: spins for up to [`SPIN`], then sleeps until woken.
    fn wait_until(&self, ready: impl Fn() -> bool) {
        let start = Instant::now();
        let mut spins = 0_u32;
        while !ready() {
            spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() > SPIN {
                let mut guard = lock(&self.lock);
                self.sleepers.fetch_add(1, Ordering::SeqCst);
                while !ready() {
                    guard = self
                        .wake
                        .wait(guard)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        }
    }

    /// Wakes the sleepers after a change they may wait for. SeqCst on both sides: a sleeper
    /// registers, then checks; a waker changes, then reads the sleepers. One of them sees the
    /// other's write, and taking the lock waits until a registered sleeper is inside
    /// `Condvar::wait`.
    fn notify(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            drop(lock(&self.lock));
            self.wake.notify_all();
        }
    }
}

/// A lock's guard, whether or not a thread panicked while holding it: the data behind these
/// locks stays valid.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;

    #[test]
    fn each_thread_gets_its_own_item_every_time() {
        with_team(3, |team| {
            assert_eq!(team.threads(), 3);
            let mut items = [0_usize; 3];
            for round in 1..=1000 {
                team.run(&mut items, &|k, item| *item += k + 1);
                assert_eq!(items, [round, 2 * round, 3 * round]);
            }
        });
    }

    #[test]
    fn shares_cover_every_value_once_on_line_boundaries() {
        for threads in 1..=5 {
            for len in [
                0,
                1,
                15,
                16,
                17,
                1000,
                SPLIT_MIN - 1,
                SPLIT_MIN,
                3 * SPLIT_MIN + 5,
            ] {
                let shares: Vec<_> = (0..threads).map(|k| share(k, threads, len)).collect();
                assert_eq!(shares[0].start, 0);
                assert_eq!(shares[threads - 1].end, len);
                for pair in shares.windows(2) {
                    assert_eq!(pair[0].end, pair[1].start, "{threads} threads, {len}");
                    assert_eq!(pair[1].start % SHARE_ALIGN, 0);
                }
            }
        }
    }

    #[test]
    fn split_slices_are_updated_once_each_and_short_ones_stay_whole() {
        with_team(2, |team| {
            for len in [10, SPLIT_MIN + 7] {
                let (mut a, mut b) = (vec![1.0_f32; len], vec![2.0_f32; len]);
                let calls = AtomicUsize::new(0);
                team.run_split([&mut a, &mut b, &mut []], &|share, [a, b, empty]| {
                    let range = share.range;
                    if len < SPLIT_MIN {
                        assert_eq!((share.thread, range.clone()), (0, 0..len));
                    } else {
                        assert_eq!(range, super::share(share.thread, 2, len));
                    }
                    calls.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(
                        (a.len(), b.len(), empty.len()),
                        (range.len(), range.len(), 0)
                    );
                    for (a, b) in a.iter_mut().zip(b) {
                        *a += *b;
                        *b = range.start as f32;
                    }
                });
                assert!(a.iter().all(|&a| a == 3.0), "{len} values");
                let expected = if len < SPLIT_MIN { 1 } else { 2 };
                assert_eq!(calls.load(Ordering::SeqCst), expected, "{len} values");
                let half = share(1, 2, len).start;
                assert!(b[..half].iter().all(|&b| b == 0.0));
                assert!(b[half..].iter().all(|&b| b == half as f32));
            }
        });
    }

    #[test]
    fn a_team_of_one_runs_everything_on_the_calling_thread() {
        let caller = std::thread::current().id();
        with_team(1, |team| {
            let mut items = [0];
            team.run(&mut items, &|k, item| {
                assert_eq!(std::thread::current().id(), caller);
                *item = k + 7;
            });
            assert_eq!(items, [7]);
        });
    }

    #[test]
    fn a_panic_on_a_helper_reaches_the_caller_after_the_job_and_the_team_goes_on() {
        with_team(2, |team| {
            let mut items = [0, 0];
            let result = catch_unwind(AssertUnwindSafe(|| {
                team.run(&mut items, &|k, item| {
                    *item = 1;
                    assert_eq!(k, 0, "a helper failed");
                })
            }));
            assert!(result.is_err(), "the helper's panic reaches the caller");
            assert_eq!(items, [1, 1], "both threads ran");
            team.run(&mut items, &|_, item| *item = 2);
            assert_eq!(items, [2, 2]);
        });
    }

    #[test]
    fn a_panic_on_the_calling_thread_waits_for_the_helpers() {
        let finished = AtomicBool::new(false);
        let result = catch_unwind(AssertUnwindSafe(|| {
            with_team(2, |team| {
                team.run(&mut [(), ()], &|k, _| {
                    if k == 0 {
                        panic!("the caller's part failed");
                    }
                    std::thread::sleep(SPIN * 5);
                    finished.store(true, Ordering::SeqCst);
                })
            })
        }));
        assert!(result.is_err());
        assert!(
            finished.load(Ordering::SeqCst),
            "the helper finished before the panic left `run`"
        );
    }

    #[test]
    fn helpers_asleep_between_jobs_wake_for_the_next() {
        with_team(2, |team| {
            let mut items = [0, 0];
            for _ in 0..3 {
                std::thread::sleep(SPIN * 10);
                team.run(&mut items, &|_, item| *item += 1);
            }
            assert_eq!(items, [3, 3]);
        });
    }
}
