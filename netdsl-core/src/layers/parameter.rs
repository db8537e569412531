//! [`Parameter`]: a layer's parameter tensor, borrowed from a `static` or owned on the heap.

#[cfg(feature = "alloc")]
use alloc::boxed::Box;

/// A parameter tensor: borrowed from a `static` (built into the program, in a
/// microcontroller's flash, say) or, with the `alloc` feature, owned on the heap. With `alloc`,
/// the first change to a borrowed tensor copies it to the heap; without it, a borrowed tensor
/// cannot change, and [`Parameter::get_mut`] says so with `None`.
pub(crate) struct Parameter<T: 'static> {
    values: Values<T>,
}

enum Values<T: 'static> {
    Static(&'static T),
    #[cfg(feature = "alloc")]
    Owned(Box<T>),
}

impl<T: bytemuck::Pod> Parameter<T> {
    /// The tensor in `values`, borrowed.
    pub(crate) const fn from_static(values: &'static T) -> Self {
        Parameter {
            values: Values::Static(values),
        }
    }

    /// A tensor of zeros on the heap, allocated without passing through the stack.
    #[cfg(feature = "alloc")]
    pub(crate) fn zeroed() -> Self {
        Parameter {
            values: Values::Owned(bytemuck::zeroed_box()),
        }
    }

    /// A copy of `values` on the heap.
    #[cfg(feature = "alloc")]
    pub(crate) fn copied(values: &T) -> Self {
        let mut owned: Box<T> = bytemuck::zeroed_box();
        // Byte for byte: `*owned = *values` may build the array on the stack first.
        bytemuck::bytes_of_mut(&mut *owned).copy_from_slice(bytemuck::bytes_of(values));
        Parameter {
            values: Values::Owned(owned),
        }
    }

    /// The values.
    #[inline(always)]
    pub(crate) fn get(&self) -> &T {
        match &self.values {
            Values::Static(values) => values,
            #[cfg(feature = "alloc")]
            Values::Owned(values) => values,
        }
    }

    /// The values, mutably: with `alloc`, a borrowed tensor is copied to the heap first (once);
    /// without it, a borrowed tensor gives `None`.
    // Not inlined without `alloc`: nightly's MIR optimiser (GVN, rustc 1.97 of 2026-05-19) panics
    // on a caller whose `Some` arm it proves dead ("expected monomorphic const").
    #[cfg_attr(not(feature = "alloc"), inline(never))]
    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        #[cfg(feature = "alloc")]
        if let Values::Static(values) = self.values {
            *self = Parameter::copied(values);
        }
        match &mut self.values {
            Values::Static(_) => None,
            #[cfg(feature = "alloc")]
            Values::Owned(values) => Some(values),
        }
    }

    /// The values, mutably, copied to the heap first if borrowed.
    #[cfg(feature = "alloc")]
    pub(crate) fn make_mut(&mut self) -> &mut T {
        if let Values::Static(values) = self.values {
            *self = Parameter::copied(values);
        }
        match &mut self.values {
            Values::Owned(values) => values,
            Values::Static(_) => unreachable!("a borrowed tensor was just copied to the heap"),
        }
    }
}

impl<T: bytemuck::Pod> Clone for Parameter<T> {
    /// A borrowed tensor stays borrowed; an owned one is copied.
    fn clone(&self) -> Self {
        match &self.values {
            Values::Static(values) => Parameter::from_static(values),
            #[cfg(feature = "alloc")]
            Values::Owned(values) => Parameter::copied(values),
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    static ONES: [f32; 3] = [1.0; 3];

    #[test]
    fn a_borrowed_tensor_is_copied_on_its_first_change_only() {
        let mut p = Parameter::from_static(&ONES);
        let copy = p.clone();
        assert!(core::ptr::eq(p.get(), &ONES));
        p.get_mut().unwrap()[1] = 5.0;
        assert_eq!(p.get(), &[1.0, 5.0, 1.0]);
        assert!(!core::ptr::eq(p.get(), &ONES), "copied to the heap");
        let heap = core::ptr::from_ref(p.get());
        p.make_mut()[2] = 7.0;
        assert!(core::ptr::eq(p.get(), heap), "copied once");
        assert_eq!(p.get(), &[1.0, 5.0, 7.0]);
        assert_eq!(ONES, [1.0; 3]);
        assert!(
            core::ptr::eq(copy.get(), &ONES),
            "a clone of a borrowed tensor borrows it"
        );
    }

    #[test]
    fn owned_tensors_are_zeroed_and_cloned_apart() {
        let mut p = Parameter::<[f32; 2]>::zeroed();
        assert_eq!(p.get(), &[0.0; 2]);
        let q = p.clone();
        p.make_mut()[0] = 1.0;
        assert_eq!((p.get(), q.get()), (&[1.0, 0.0], &[0.0; 2]));
    }
}
