//! The checked model into Rust. Infallible: every error was reported by `check`.
//!
//! Generated code names everything by absolute path through the facade's hidden module
//! (`::netdsl::__private::...`), so it compiles whatever the user has in scope.

mod network_impl;
mod structs;

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};

use crate::check::{Layer, LayerKind, Model, Width};

/// The batch-size parameter of generated items. Hygiene does not separate generic parameters
/// from the user's names (a `const BATCH` used as a layer size would be captured), so it has a
/// name of its own.
fn batch() -> syn::Ident {
    quote::format_ident!("NETDSL_BATCH")
}

/// The facade's hidden module.
fn private() -> TokenStream {
    quote!(::netdsl::__private)
}

/// Everything `network!` generates for one network.
pub fn network(model: &Model) -> TokenStream {
    let size_checks = size_checks(model);
    let structs = structs::generate(model);
    let network_impl = network_impl::generate(model);
    quote! {
        #size_checks
        #structs
        #network_impl
    }
}

/// Sizes given as `const` items are only known to rustc: each gets a const assertion, spanned on
/// the user's token, that it is at least 1 (literal sizes were checked by the macro).
///
/// Expands to: `const _: () = ::core::assert!(HIDDEN >= 1, "`Dense(HIDDEN, relu)`: ...");`
fn size_checks(model: &Model) -> TokenStream {
    let input = std::iter::once((
        &model.input,
        format!("the input size of `{}` must be at least 1", model.name),
    ));
    let units = model.layers.iter().map(|l| {
        (
            &l.output,
            format!("`{}`: the number of units must be at least 1", l.text),
        )
    });
    input
        .chain(units)
        .filter_map(|(width, message)| match width {
            Width::Const(path) => {
                let span = syn::spanned::Spanned::span(path);
                Some(quote_spanned!(span=> const _: () = ::core::assert!(#path >= 1, #message);))
            }
            Width::Literal(..) => None,
        })
        .collect()
}

/// The errors of a network that failed its checks, and a stub of its struct, so that code
/// naming the network reports nothing more than the errors themselves.
pub fn fallback(
    attrs: &[syn::Attribute],
    vis: &syn::Visibility,
    name: &syn::Ident,
    error: &syn::Error,
) -> TokenStream {
    let errors = error.to_compile_error();
    quote! {
        #errors
        #(#attrs)*
        #vis struct #name;
    }
}

impl Width {
    /// As a const generic argument: `64` or `{ HIDDEN }`.
    fn generic_arg(&self) -> TokenStream {
        match self {
            Width::Literal(n, span) => {
                let mut lit = Literal::usize_unsuffixed(*n);
                lit.set_span(*span);
                lit.into_token_stream()
            }
            Width::Const(path) => quote!({ #path }),
        }
    }

    /// As a `usize` expression or an array length: `64` or `HIDDEN`.
    fn value(&self) -> TokenStream {
        match self {
            Width::Literal(..) => self.generic_arg(),
            Width::Const(path) => path.to_token_stream(),
        }
    }
}

impl Layer {
    /// The layer's type, e.g. `::netdsl::__private::Dense<784, 64, ::netdsl::__private::Relu>`.
    fn ty(&self) -> TokenStream {
        let p = private();
        let (input, output) = (self.input.generic_arg(), self.output.generic_arg());
        match &self.kind {
            LayerKind::Dense { activation, .. } => {
                let activation = format_ident!("{}", activation.type_name());
                quote!(#p::Dense<#input, #output, #p::#activation>)
            }
        }
    }

    /// A batch of this layer's outputs, `[[f32; 64]; NETDSL_BATCH]`.
    fn output_batch(&self) -> TokenStream {
        let width = self.output.value();
        let batch = batch();
        quote!([[f32; #width]; #batch])
    }

    /// The tape field holding `dL/dy` for this layer's output.
    fn grad_field(&self) -> syn::Ident {
        format_ident!("{}_grad", self.field)
    }

    /// The expression building this layer with fresh weights from `rng`.
    fn constructor(&self) -> TokenStream {
        let ty = self.ty();
        match &self.kind {
            LayerKind::Dense { bias, .. } => {
                quote_spanned!(self.field.span()=> <#ty>::glorot_uniform(rng, #bias))
            }
        }
    }
}
