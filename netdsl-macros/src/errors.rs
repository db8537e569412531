//! An accumulator of errors, so one compile reports every bad layer at once.

/// Collects `syn::Error`s and combines them into one.
#[derive(Default)]
pub struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    pub fn push_spanned(&mut self, span: proc_macro2::Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Adds every error of `other`, after those pushed so far.
    pub fn extend(&mut self, other: Errors) {
        if let Some(error) = other.combined {
            self.push(error);
        }
    }

    /// How many errors were pushed.
    pub fn count(&self) -> usize {
        self.combined
            .as_ref()
            .map_or(0, |combined| combined.into_iter().count())
    }

    /// `Err` with every error pushed, or `Ok` if there were none.
    pub fn finish(self) -> syn::Result<()> {
        self.combined.map_or(Ok(()), Err)
    }
}
