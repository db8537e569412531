//! Masks of padded sequences, as Keras makes them with `Masking` (and
//! `Embedding(mask_zero=True)`): one flag per step of each sample, `true` where the step is
//! data and `false` where it is padding, so that a recurrent layer leaves its state as it was
//! over the padding, in place of reading zeros as data.
//!
//! A mask goes from the layer that makes it to the layers that read it through three
//! [`Layer`] methods, each with a default that does nothing, so a layer that neither makes
//! nor reads masks (a dense layer, a layer of yours) needs nothing new:
//!
//! - **making one**: the layer keeps the batch's mask in its tape (a [`StepMask`]) and returns
//!   it from [`Layer::output_mask`]; for one sample, [`Layer::infer_masked`] writes it.
//!   [`Masking`](crate::layers::Masking) is such a layer; so is
//!   [`Reverse`](crate::layers::Reverse), whose mask is the reversed mask of its input.
//! - **reading one**: the layer copies the mask it is given by [`Layer::set_input_mask`] into
//!   its tape before its forward pass, so that its backward pass reads the same one there; for
//!   one sample, [`Layer::infer_masked`] takes it.
//!   [`Recurrent`](crate::layers::Recurrent) (`SimpleRNN`, `LSTM`, `GRU`) reads one; so do
//!   joins, for their branches.
//! - **passing one on**: nothing at run time. `network!` knows, as Keras does, which layers pass
//!   their input's mask on unchanged (`Dropout`, a recurrent layer or `Bidirectional` with
//!   `return_sequences = true`), and hands each reader the mask of the layer that made it, when
//!   it expands the network. A network is itself a layer that reads its input's mask (handing
//!   it to its layers) and gives the mask one of its layers made.
//!
//! In a batch, a mask is `B` rows of `T` flags, row after row (step `t` of sample `b` at
//! `b · T + t`); for one sample, its `T` flags.
//!
//! ```
//! use netdsl_core::layer::Layer;
//! use netdsl_core::layers::{Masking, SimpleRnn};
//! use netdsl_core::activation::Linear;
//!
//! // Three steps of one feature; the second is padding.
//! let x = [[1.0, 0.0, 2.0]];
//! let masking = Masking::<3, 1, 3>::new(0.0);
//! let mut masked = [[0.0; 3]];
//! let mut masking_tape = masking.new_tape::<1>();
//! masking.forward(&x, &mut masked, &mut masking_tape);
//! assert_eq!(Masking::<3, 1, 3>::output_mask(&masking_tape), Some(&[true, false, true][..]));
//!
//! // h_t = x_t + h_{t-1}, every step's state out.
//! let rnn = SimpleRnn::<3, 1, 1, 3, 3, Linear>::from_parameters(vec![1.0], vec![1.0], None);
//! let mut rnn_tape = rnn.new_tape::<1>();
//! rnn.set_input_mask(&mut rnn_tape, Masking::<3, 1, 3>::output_mask(&masking_tape));
//! let mut h = [[0.0; 3]];
//! rnn.forward(&masked, &mut h, &mut rnn_tape);
//! // The padded step keeps the state, and its output repeats it (Keras' default).
//! assert_eq!(h, [[1.0, 1.0, 3.0]]);
//! ```

use crate::buffer::Buffer;
#[cfg(doc)]
use crate::layer::Layer;

/// The mask of a batch of `B` samples of `T` steps, kept in a layer's tape: what a layer that
/// makes masks fills in its forward pass, or what one that reads them copies from
/// [`Layer::set_input_mask`]. A new one holds no mask.
///
/// ```
/// use netdsl_core::mask::StepMask;
///
/// let mut mask = StepMask::<3, 2>::new();
/// assert_eq!(mask.flags(), None);
/// mask.set(Some(&[true, true, false, true, false, false]));
/// assert_eq!(mask.rows(), Some(&[[true, true, false], [true, false, false]]));
/// mask.set(None);
/// assert_eq!(mask.rows(), None);
/// ```
pub struct StepMask<const T: usize, const B: usize> {
    flags: Buffer<[[bool; T]; B]>,
    /// Whether `flags` holds a mask.
    given: bool,
}

impl<const T: usize, const B: usize> StepMask<T, B> {
    /// No mask yet; room for one, allocated now.
    pub fn new() -> Self {
        StepMask {
            flags: Buffer::zeroed(),
            given: false,
        }
    }

    /// Keeps a copy of `mask`, `B · T` flags row after row, or forgets the one kept (`None`).
    ///
    /// # Panics
    ///
    /// If `mask` does not hold `B · T` flags: a reader given the mask of a sequence of other
    /// steps, which `network!` never does.
    pub fn set(&mut self, mask: Option<&[bool]>) {
        self.given = mask.is_some();
        if let Some(mask) = mask {
            self.flags.as_flattened_mut().copy_from_slice(mask);
        }
    }

    /// The flags to fill, one row per sample, now taken as the mask.
    pub fn rows_mut(&mut self) -> &mut [[bool; T]; B] {
        self.given = true;
        &mut self.flags
    }

    /// The mask, one row of `T` flags per sample, if one is kept.
    pub fn rows(&self) -> Option<&[[bool; T]; B]> {
        self.given.then_some(&*self.flags)
    }

    /// The mask's `B · T` flags, row after row, if one is kept: what [`Layer::output_mask`]
    /// returns.
    pub fn flags(&self) -> Option<&[bool]> {
        self.rows().map(|rows| rows.as_flattened())
    }
}

/// Where a layer generic over its shape keeps the mask of its input: a [`StepMask`] for a
/// sequence, `()` for a shape that has no steps to mask (an image), which keeps nothing.
pub trait KeptMask: Default {
    /// Keeps a copy of `mask` (see [`StepMask::set`]); `()` ignores it.
    fn keep(&mut self, mask: Option<&[bool]>);

    /// The mask kept, `B` rows of flags (see [`StepMask::flags`]); `()` has none.
    fn kept(&self) -> Option<&[bool]>;
}

impl<const T: usize, const B: usize> KeptMask for StepMask<T, B> {
    fn keep(&mut self, mask: Option<&[bool]>) {
        self.set(mask);
    }

    fn kept(&self) -> Option<&[bool]> {
        self.flags()
    }
}

impl KeptMask for () {
    fn keep(&mut self, _mask: Option<&[bool]>) {}

    fn kept(&self) -> Option<&[bool]> {
        None
    }
}

impl<const T: usize, const B: usize> Default for StepMask<T, B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const T: usize, const B: usize> core::fmt::Debug for StepMask<T, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StepMask")
            .field("steps", &T)
            .field("rows", &B)
            .field("given", &self.given)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::StepMask;

    #[test]
    fn a_mask_is_kept_row_by_row_until_forgotten() {
        let mut mask = StepMask::<2, 2>::new();
        mask.rows_mut()[1] = [true, false];
        assert_eq!(mask.flags(), Some(&[false, false, true, false][..]));
        mask.set(Some(&[true; 4]));
        assert_eq!(mask.rows(), Some(&[[true; 2]; 2]));
        mask.set(None);
        assert_eq!(mask.flags(), None);
    }

    #[test]
    #[should_panic(
        expected = "source slice length (3) does not match destination slice length (4)"
    )]
    fn a_mask_of_other_steps_is_refused() {
        StepMask::<2, 2>::new().set(Some(&[true; 3]));
    }
}
