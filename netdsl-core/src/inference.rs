//! Where a network keeps its buffers for single-sample inference ([`Layer::infer`], and so
//! [`Network::predict`]).
//!
//! A network's `infer` needs one buffer per hidden layer, all at once. When they add up to at
//! most [`INFER_STACK_BUDGET`] bytes, `network!` puts them on the stack: nothing to allocate,
//! nothing to share, and any thread's stack has room for them. Above it (a layer of a million
//! units is 4 MB, twice a spawned thread's whole stack), the network owns an [`InferScratch`],
//! allocated once when the network is created, and `infer` borrows it for the call: still no
//! allocation per call, and a thread's stack never overflows. The budget is decided at compile
//! time, from the layers' widths.
//!
//! `predict` returns the output by value, so a network whose *output* is wider than the budget
//! is better asked through [`Layer::infer`] with an output buffer of the caller's (a `Box`).
//!
//! Without the `std` feature there is no lock to lend a scratch under: every network keeps its
//! buffers on the stack, whose size is the program's to choose (on a microcontroller, in its
//! linker script), and [`INFER_STACK_BUDGET`] is unbounded.
//!
//! [`Layer::infer`]: crate::layer::Layer::infer
//! [`Network::predict`]: crate::network::Network::predict

#[cfg(feature = "std")]
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::layer::Row;

/// The most bytes of hidden-layer buffers a generated `infer` keeps on the stack: 64 KiB, a
/// thirty-second of a spawned thread's 2 MiB stack. LeNet-5 needs 35 KiB; the tutorial network
/// 256 bytes. Without the `std` feature, unbounded (see the [module](self)).
#[cfg(feature = "std")]
pub const INFER_STACK_BUDGET: usize = 64 * 1024;

/// The most bytes of hidden-layer buffers a generated `infer` keeps on the stack: without the
/// `std` feature, all of them (see the [module](self)).
#[cfg(not(feature = "std"))]
pub const INFER_STACK_BUDGET: usize = usize::MAX;

/// A network's inference buffers when they exceed [`INFER_STACK_BUDGET`]: `len` values on the
/// heap, allocated once with the network, lent to one `infer` call at a time (calls from several
/// threads on one network take turns).
///
/// ```
/// use netdsl_core::inference::InferScratch;
///
/// let scratch = InferScratch::new(6);
/// let mut values = scratch.lock();
/// let (first, rest) = InferScratch::take_row::<[f32; 4]>(&mut values);
/// first[3] = 1.5;
/// assert_eq!(rest.len(), 2);
/// ```
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub struct InferScratch {
    values: Mutex<Box<[f32]>>,
}

/// A network's inference buffers when they exceed [`INFER_STACK_BUDGET`], which without the
/// `std` feature they never do: this stand-in holds nothing, and the generated code never asks
/// it for a row.
#[cfg(not(feature = "std"))]
#[derive(Clone, Debug)]
pub struct InferScratch {
    _nothing: (),
}

#[cfg(not(feature = "std"))]
impl InferScratch {
    /// Nothing: without `std`, every network's buffers are on the stack.
    pub const fn new(_len: usize) -> Self {
        InferScratch { _nothing: () }
    }

    /// No values.
    pub fn lock(&self) -> [f32; 0] {
        []
    }
}

impl InferScratch {
    /// The first `R::WIDTH` values as one row of type `R`, and the values after them.
    ///
    /// # Panics
    ///
    /// If fewer than `R::WIDTH` values are left, which the generated code rules out by sizing
    /// the scratch as the sum of the rows it takes.
    pub fn take_row<R: Row>(values: &mut [f32]) -> (&mut R, &mut [f32]) {
        let (row, rest) = values.split_at_mut(R::WIDTH);
        (
            bytemuck::from_bytes_mut(bytemuck::cast_slice_mut(row)),
            rest,
        )
    }
}

#[cfg(feature = "std")]
impl InferScratch {
    /// Room for `len` values; `InferScratch::new(0)` allocates nothing.
    pub fn new(len: usize) -> Self {
        InferScratch {
            values: Mutex::new(vec![0.0; len].into_boxed_slice()),
        }
    }

    /// The values, for one call. A call that panicked while holding them leaves nothing another
    /// call relies on (each call writes a buffer before reading it), so a poisoned lock is
    /// taken as it is.
    pub fn lock(&self) -> MutexGuard<'_, Box<[f32]>> {
        self.values.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(feature = "std")]
impl Clone for InferScratch {
    /// Fresh room of the same size: buffers are written before they are read, so there is
    /// nothing to copy.
    fn clone(&self) -> Self {
        InferScratch::new(self.len())
    }
}

#[cfg(feature = "std")]
impl core::fmt::Debug for InferScratch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InferScratch")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn rows_are_taken_in_order_from_one_allocation() {
        let scratch = InferScratch::new(7);
        let mut values = scratch.lock();
        let (a, rest) = InferScratch::take_row::<[f32; 3]>(&mut values);
        a.copy_from_slice(&[1.0, 2.0, 3.0]);
        let (b, rest) = InferScratch::take_row::<[f32; 4]>(rest);
        b[0] = 4.0;
        assert!(rest.is_empty());
        assert_eq!(&values[..5], &[1.0, 2.0, 3.0, 4.0, 0.0]);
    }

    #[test]
    fn a_clone_has_its_own_room_of_the_same_size() {
        let scratch = InferScratch::new(5);
        scratch.lock()[0] = 9.0;
        let copy = scratch.clone();
        assert_eq!(copy.lock().len(), 5);
        assert_eq!(copy.lock()[0], 0.0);
        assert_eq!(format!("{copy:?}"), "InferScratch { len: 5 }");
    }

    #[test]
    fn a_poisoned_scratch_is_still_lent() {
        let scratch = std::sync::Arc::new(InferScratch::new(2));
        let held = std::sync::Arc::clone(&scratch);
        let _ = std::thread::spawn(move || {
            let _values = held.lock();
            panic!("a call panics while holding the scratch");
        })
        .join();
        assert_eq!(scratch.lock().len(), 2);
    }
}
