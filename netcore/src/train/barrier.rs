//! A barrier for the threads of a parallel `fit`: spins first, sleeps if the wait is long, and
//! can be broken so that no thread waits forever for one that panicked or stopped.

use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a thread spins before it sleeps. Within an epoch the threads meet every step, a
/// wait of tens of microseconds that a sleep and wake-up would double; between epochs (while
/// validation and callbacks run) they wait for milliseconds and should leave the core alone.
const SPIN: Duration = Duration::from_micros(200);

/// The barrier was broken: the fit is over, or a thread panicked.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Broken;

/// `parties` threads wait until all of them have arrived, then all go on. Unlike
/// [`std::sync::Barrier`], a wait of a few microseconds does not go through the kernel, and a
/// barrier can be broken. (On the 2-vCPU CI machine two threads meet through std's barrier in
/// about 7 µs, through this one in 1–3 µs; a parallel step of the tutorial network at batch 128
/// takes about 165 µs and meets twice. `spin::Barrier` never sleeps and cannot be broken.)
pub(super) struct SpinBarrier {
    parties: usize,
    arrived: AtomicUsize,
    /// Incremented each time the barrier opens (or breaks); waiters watch it change.
    generation: AtomicUsize,
    broken: AtomicBool,
    /// Threads asleep on `wake`, so that opening costs no system call when none is.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl SpinBarrier {
    pub(super) fn new(parties: usize) -> Self {
        Self {
            parties,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            broken: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Waits for the other threads. Allocates nothing.
    pub(super) fn wait(&self) -> Result<(), Broken> {
        // The generation is read before `broken`, so a break after this point shows as a new
        // generation and a break before it as `broken`.
        let generation = self.generation.load(Ordering::SeqCst);
        self.check()?;
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.parties {
            // Reset before opening: the next wait of any thread follows the opening.
            self.arrived.store(0, Ordering::Relaxed);
            self.open();
            return Ok(());
        }
        let start = Instant::now();
        let mut spins = 0_u32;
        while self.generation.load(Ordering::Acquire) == generation {
            spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() > SPIN {
                self.sleep(generation);
                break;
            }
        }
        self.check()
    }

    /// Releases every waiting thread and makes every later wait return [`Broken`].
    pub(super) fn break_(&self) {
        self.broken.store(true, Ordering::SeqCst);
        self.open();
    }

    fn check(&self) -> Result<(), Broken> {
        if self.broken.load(Ordering::SeqCst) {
            Err(Broken)
        } else {
            Ok(())
        }
    }

    fn open(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        // SeqCst on both sides: a sleeper registers, then reads the generation; the opener
        // bumps the generation, then reads the sleepers. One of them sees the other's write.
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            // Taking the lock waits until a registered sleeper is inside `Condvar::wait`.
            drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
            self.wake.notify_all();
        }
    }

    fn sleep(&self, generation: usize) {
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        while self.generation.load(Ordering::SeqCst) == generation {
            guard = self
                .wake
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn no_thread_passes_before_all_have_arrived() {
        let barrier = SpinBarrier::new(3);
        let counter = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    for round in 1..=1000 {
                        counter.fetch_add(1, Ordering::SeqCst);
                        barrier.wait().unwrap();
                        // Everyone has counted this round and nobody the next one yet.
                        assert_eq!(counter.load(Ordering::SeqCst), 3 * round);
                        barrier.wait().unwrap();
                    }
                });
            }
        });
    }

    #[test]
    fn a_long_wait_sleeps_and_still_wakes() {
        let barrier = SpinBarrier::new(2);
        std::thread::scope(|scope| {
            scope.spawn(|| barrier.wait().unwrap());
            std::thread::sleep(SPIN * 20);
            barrier.wait().unwrap();
        });
        assert_eq!(barrier.sleepers.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn breaking_releases_waiters_and_fails_later_waits() {
        let barrier = SpinBarrier::new(3);
        std::thread::scope(|scope| {
            let waiters = [
                scope.spawn(|| barrier.wait()),
                scope.spawn(|| barrier.wait()),
            ];
            std::thread::sleep(SPIN * 5);
            barrier.break_();
            for waiter in waiters {
                assert_eq!(waiter.join().unwrap(), Err(Broken));
            }
        });
        assert_eq!(barrier.wait(), Err(Broken));
    }
}
