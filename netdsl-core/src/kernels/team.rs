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
//! the parts are disjoint by construction. Loom checks the handover, a helper's failure and the
//! team's stop over two and three threads (the `loom_checks` tests below).
//!
//! ```text
//! thread 0:  lend job ─ job(0) ───── wait for the helpers ─ return
//! thread k:  (waiting) ─ job(k) ─ done ─ (waiting for the next job)
//! ```

use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sync::{AtomicBool, AtomicPtr, AtomicUsize, Condvar, Mutex, MutexGuard, spin_loop};

/// What the handover is built on: std's primitives, or loom's when the `loom` tests below
/// check it (`--cfg loom`, in test builds only: loom is a dev-dependency).
mod sync {
    #[cfg(all(test, loom))]
    pub(super) use loom::{
        hint::spin_loop,
        sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize},
        sync::{Condvar, Mutex, MutexGuard},
    };
    #[cfg(not(all(test, loom)))]
    pub(super) use std::{
        hint::spin_loop,
        sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize},
        sync::{Condvar, Mutex, MutexGuard},
    };
}

/// How long a thread spins before it sleeps. Within an epoch a job comes every few
/// microseconds, which a sleep and wake-up would double; between epochs (while validation and
/// callbacks run) the helpers wait for milliseconds and should leave the core alone.
#[cfg_attr(
    all(test, loom),
    expect(dead_code, reason = "under loom, a wait counts its spins instead")
)]
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
    with_helpers(Shared::new(threads - 1), |shared| {
        body(&Team {
            threads,
            shared: Some(shared),
            unshared: PhantomData,
        })
    })
}

/// Runs `body` while helper threads 1 to `shared.helpers` watch `shared`; stops them when
/// `body` returns or unwinds, and returns once they have ended.
#[cfg(not(all(test, loom)))]
fn with_helpers<R>(shared: Shared, body: impl FnOnce(&Shared) -> R) -> R {
    std::thread::scope(|scope| {
        for k in 1..=shared.helpers {
            let shared = &shared;
            scope.spawn(move || shared.help(k));
        }
        let _stop = Stop(&shared);
        body(&shared)
    })
}

/// [`with_helpers`] on loom's threads, which have no scoped form: the helpers hold `shared`
/// through an `Arc`, and are joined once `Stop` has stopped them, as the scope joins them.
#[cfg(all(test, loom))]
fn with_helpers<R>(shared: Shared, body: impl FnOnce(&Shared) -> R) -> R {
    use loom::sync::Arc;
    use loom::thread::{self, JoinHandle};

    /// Joins the helpers, whether `body` returned or unwound.
    struct Joined(Vec<JoinHandle<()>>);
    impl Drop for Joined {
        fn drop(&mut self) {
            for helper in self.0.drain(..) {
                helper.join().expect("a helper catches its job's panics");
            }
        }
    }

    let shared = Arc::new(shared);
    let helpers = (1..=shared.helpers).map(|k| {
        let shared = Arc::clone(&shared);
        thread::spawn(move || shared.help(k))
    });
    // Dropped in the reverse order: stopped, then joined.
    let _joined = Joined(helpers.collect());
    let _stop = Stop(&shared);
    body(&shared)
}

/// Stops the helpers when `body` returns or unwinds, so that they can be joined.
struct Stop<'a>(&'a Shared);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
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
        let shared = Self {
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
        };
        // Loom takes an atomic's initial value for a release store, which its SeqCst loads may
        // still return after a later SeqCst store (tokio-rs/loom#180: the store-then-load of
        // `notify` and the sleepers then deadlocks). Std's may not: the value was set before any
        // other thread could see it. Stored again, SeqCst, it falls under loom's rule that a
        // SeqCst load returns the latest SeqCst store, as every access to these atomics is.
        #[cfg(all(test, loom))]
        {
            shared.start.0.count.store(0, Ordering::SeqCst);
            shared
                .start
                .0
                .job
                .store(std::ptr::null_mut(), Ordering::SeqCst);
            shared.running.0.store(0, Ordering::SeqCst);
            shared.panicked.store(false, Ordering::SeqCst);
            shared.sleepers.store(0, Ordering::SeqCst);
        }
        shared
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
            if spun_out(spins, start) {
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

/// Whether a wait that began at `start` and has spun `spins` times should sleep: once it has
/// spun for [`SPIN`], the clock read every 64 spins only.
#[cfg(not(all(test, loom)))]
fn spun_out(spins: u32, start: Instant) -> bool {
    spins.is_multiple_of(64) && start.elapsed() > SPIN
}

/// Under loom, after one spin: loom has no clock, and a count keeps the model finite while it
/// still covers both ways a wait ends, seeing the change while spinning or asleep.
#[cfg(all(test, loom))]
fn spun_out(spins: u32, _start: Instant) -> bool {
    spins >= 1
}

/// A lock's guard, whether or not a thread panicked while holding it: the data behind these
/// locks stays valid.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(all(test, not(loom)))]
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

/// The handover checked by loom: every interleaving of a team's threads, and every value each
/// atomic load may return, up to a bound on preemptions per run (threads switched while the
/// running one could go on). Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p netdsl-core --release --lib kernels::team`, as `.ci/run`
/// does (other tests that start a team would fail outside a loom model). Items are loom cells,
/// which fail an access from one thread not ordered after another thread's write to them, so
/// a caller that read the helpers' writes before they were done would fail; plain memory,
/// as the shares of `run_split`, is not watched, so that test reports through atomics. A check
/// that fails may abort the test binary: loom's panic unwinds through the team's guards, which
/// call into loom again; the message printed before the abort is loom's finding.
#[cfg(all(test, loom))]
mod loom_checks {
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

    use loom::cell::Cell;
    use loom::sync::atomic::Ordering::Relaxed;

    use super::*;

    /// The preemption bound of two-thread models, which take well under a second with it (run
    /// without a bound, the two jobs on two threads took 9 min, 15 million runs).
    const TWO_THREADS: usize = 4;

    /// The preemption bound of three-thread models: two jobs on three threads take 548 297
    /// runs, 30 s, with it; one more multiplies the runs of the one-job models by 20.
    const THREE_THREADS: usize = 2;

    fn check(preemptions: usize, model: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(preemptions);
        builder.check(model);
    }

    /// Fails the job on its thread, mid-job, without printing a message each run.
    fn fail() {
        resume_unwind(Box::new("a thread's part of the job failed"));
    }

    /// Keeps the caller's panic that reports a failed helper from printing once per run, which
    /// would bury the message of a test that fails; other panics print as before.
    fn quiet_team_panics() {
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(|| {
            let print = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if info.payload().downcast_ref() != Some(&"a thread of the team panicked") {
                    print(info);
                }
            }));
        });
    }

    /// Two jobs in a row, so that the helpers go back to waiting and take the next one.
    fn two_jobs(threads: usize, preemptions: usize) {
        check(preemptions, move || {
            with_team(threads, |team| {
                let mut items: Vec<_> = (0..threads).map(|_| Cell::new(0)).collect();
                for round in 1..=2 {
                    team.run(&mut items, &|k, item| item.set(item.get() + k + 1));
                    for (k, item) in items.iter().enumerate() {
                        assert_eq!(item.get(), round * (k + 1));
                    }
                }
            });
        });
    }

    #[test]
    fn two_jobs_on_two_threads() {
        two_jobs(2, TWO_THREADS);
    }

    #[test]
    fn two_jobs_on_three_threads() {
        two_jobs(3, THREE_THREADS);
    }

    /// Runs a job in which every thread writes its item twice, except helper 1, which fails
    /// between the two writes; then, with `again`, a second job.
    fn a_helper_fails(threads: usize, again: bool, preemptions: usize) {
        quiet_team_panics();
        check(preemptions, move || {
            with_team(threads, |team| {
                let mut items: Vec<_> = (0..threads).map(|_| Cell::new(0)).collect();
                let failed = catch_unwind(AssertUnwindSafe(|| {
                    team.run(&mut items, &|k, item| {
                        item.set(1);
                        if k == 1 {
                            fail();
                        }
                        item.set(2);
                    });
                }));
                assert!(failed.is_err(), "the helper's failure reaches the caller");
                for (k, item) in items.iter().enumerate() {
                    assert_eq!(item.get(), if k == 1 { 1 } else { 2 });
                }
                if again {
                    team.run(&mut items, &|_, item| item.set(3));
                    assert!(items.iter().all(|item| item.get() == 3));
                }
            });
        });
    }

    #[test]
    fn a_helper_failing_mid_job_reaches_the_caller_once_all_three_threads_are_done() {
        a_helper_fails(3, false, THREE_THREADS);
    }

    #[test]
    fn after_a_helper_failed_the_team_goes_on() {
        a_helper_fails(2, true, TWO_THREADS);
    }

    /// The caller fails once the helper has started its part, as loom runs its threads on one
    /// thread of the process, which counts the panics in flight for all of them: a lock that a
    /// helper took before the caller's panic and released during it would poison loom's own
    /// mutex. A helper inside its job holds no lock.
    #[test]
    fn the_caller_failing_mid_job_waits_for_the_helper() {
        check(TWO_THREADS, || {
            with_team(2, |team| {
                let started = AtomicBool::new(false);
                let mut items = [Cell::new(0), Cell::new(0)];
                let failed = catch_unwind(AssertUnwindSafe(|| {
                    team.run(&mut items, &|k, item| {
                        if k == 0 {
                            while !started.load(Relaxed) {
                                loom::thread::yield_now();
                            }
                            fail();
                        }
                        started.store(true, Relaxed);
                        item.set(1);
                    });
                }));
                assert!(failed.is_err());
                assert_eq!(
                    items[1].get(),
                    1,
                    "the helper was done before `run` unwound"
                );
            });
        });
    }

    #[test]
    fn run_split_gives_each_thread_its_own_share() {
        const THREADS: usize = 3;
        check(THREE_THREADS, || {
            with_team(THREADS, |team| {
                let len = SPLIT_MIN + 5;
                let (mut a, mut b) = (vec![0.0_f32; len], vec![0.0_f32; len]);
                // Each thread's share length, written relaxed: a load that the run's end does
                // not order after the write may return the 0 before it.
                let lens: [AtomicUsize; THREADS] = std::array::from_fn(|_| AtomicUsize::new(0));
                team.run_split([&mut a, &mut b], &|share, [a, b]| {
                    a.fill(share.thread as f32 + 1.0);
                    b.fill(share.thread as f32 + 1.0);
                    lens[share.thread].store(a.len() + b.len(), Relaxed);
                });
                for (k, len_k) in lens.iter().enumerate() {
                    let range = share(k, THREADS, len);
                    assert_eq!(len_k.load(Relaxed), 2 * range.len());
                    assert!(a[range.clone()].iter().all(|&a| a == k as f32 + 1.0));
                    assert!(b[range].iter().all(|&b| b == k as f32 + 1.0));
                }
            });
        });
    }

    #[test]
    fn helpers_stop_whether_waiting_asleep_or_spinning() {
        check(THREE_THREADS, || with_team(3, |_| {}));
        check(TWO_THREADS, || with_team(2, |_| {}));
    }

    #[test]
    fn helpers_stop_after_a_job() {
        check(TWO_THREADS, || {
            with_team(2, |team| team.run(&mut [(), ()], &|_, ()| {}));
        });
    }
}
