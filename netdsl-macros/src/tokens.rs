//! The pieces of generated code every part of the generator shares: the facade's hidden module,
//! the batch parameter, literals.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};

/// The batch-size parameter of generated items. Hygiene does not separate generic parameters
/// from the user's names (a `const BATCH` used as a layer size would be captured), so it has a
/// name of its own.
pub fn batch() -> syn::Ident {
    format_ident!("NETDSL_BATCH")
}

/// The facade's hidden module.
pub fn private() -> TokenStream {
    quote!(::netdsl::__private)
}

/// The facade's hidden module, spanned on a user's token: in `quote_spanned!`, interpolated
/// tokens keep their own spans, so paths through this module must carry the span themselves for
/// an error about them to point at the user's token.
pub fn private_at(span: Span) -> TokenStream {
    quote_spanned!(span=> ::netdsl::__private)
}

/// An unsuffixed integer literal.
pub fn literal(n: usize) -> TokenStream {
    Literal::usize_unsuffixed(n).into_token_stream()
}
