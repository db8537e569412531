//! The pieces of generated code every part of the generator shares: the facade's hidden module,
//! the batch parameter, and widths as Rust.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};

use crate::model::{Activation, Width};

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

impl Activation {
    /// Its netcore type: `::netdsl::__private::Relu`.
    pub fn ty(self) -> TokenStream {
        let (p, name) = (private(), format_ident!("{}", self.type_name()));
        quote!(#p::#name)
    }
}

impl Width {
    /// As a const generic argument: `64`, `{ HIDDEN }`, `{ 2 * HIDDEN }`,
    /// `{ <<Encoder as Layer>::Out as Row>::WIDTH }`.
    pub fn generic_arg(&self) -> TokenStream {
        match self {
            Width::Literal(n, span) => {
                let mut lit = Literal::usize_unsuffixed(*n);
                lit.set_span(*span);
                lit.into_token_stream()
            }
            Width::Const(_) | Width::Expr(_) | Width::OutputOf(_) => {
                let value = self.value();
                quote_spanned!(self.span()=> { #value })
            }
        }
    }

    /// As a `usize` expression or an array length: `64`, `HIDDEN`, `2 * HIDDEN` (parenthesise it
    /// to compute with it),
    /// `<<Encoder as Layer>::Out as Row>::WIDTH`.
    pub fn value(&self) -> TokenStream {
        match self {
            Width::Literal(..) => self.generic_arg(),
            Width::Const(path) => path.to_token_stream(),
            Width::Expr(expr) => expr.to_token_stream(),
            Width::OutputOf(path) => {
                let p = private_at(self.span());
                quote_spanned!(self.span()=> <<#path as #p::Layer>::Out as #p::Row>::WIDTH)
            }
        }
    }
}
