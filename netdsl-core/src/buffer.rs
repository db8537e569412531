//! [`Buffer`]: where a network keeps the buffers of its tape and gradients.

use core::fmt;
use core::ops::{Deref, DerefMut};

#[cfg(feature = "alloc")]
use alloc::boxed::Box;

/// A buffer of a tape or of gradients, sized by its type: on the heap with the `alloc` feature
/// (a batch's buffers would overflow a thread's stack), inline without it, where the caller
/// decides where the tape lives (a `static`, say, on a microcontroller). Either way it is
/// allocated once, when the tape or the gradients are created, and reads as a `T`.
///
/// ```
/// use netdsl_core::buffer::Buffer;
///
/// let mut outputs: Buffer<[[f32; 4]; 2]> = Buffer::zeroed();
/// outputs[1][3] = 0.5;
/// assert_eq!(*outputs, [[0.0; 4], [0.0, 0.0, 0.0, 0.5]]);
/// ```
pub struct Buffer<T> {
    #[cfg(feature = "alloc")]
    values: Box<T>,
    #[cfg(not(feature = "alloc"))]
    values: T,
}

impl<T: bytemuck::Zeroable> Buffer<T> {
    /// A buffer of zeros, allocated without passing through the stack.
    pub fn zeroed() -> Self {
        Buffer {
            #[cfg(feature = "alloc")]
            values: bytemuck::zeroed_box(),
            #[cfg(not(feature = "alloc"))]
            values: T::zeroed(),
        }
    }
}

impl<T> Deref for Buffer<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        &self.values
    }
}

impl<T> DerefMut for Buffer<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.values
    }
}

impl<T> fmt::Debug for Buffer<T> {
    /// The size only: a batch's values are too many to print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("bytes", &core::mem::size_of::<T>())
            .finish()
    }
}
