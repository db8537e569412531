//! The checked model into Rust. Infallible: every error was reported by `check`.
//!
//! Generated code names everything by absolute path through the facade's hidden module
//! (`::netdsl::__private::...`), so it compiles whatever the user has in scope.

mod network_impl;
mod structs;

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};

use crate::ast::NetworkDef;
use crate::check::{Layer, LayerKind, Model, Width};

/// The facade's hidden module.
fn private() -> TokenStream {
    quote!(::netdsl::__private)
}

/// Everything `network!` generates for one network.
pub fn network(model: &Model) -> TokenStream {
    let structs = structs::generate(model);
    let network_impl = network_impl::generate(model);
    quote! {
        #structs
        #network_impl
    }
}

/// The errors of a network that failed its checks, and a stub of its struct, so that code
/// naming the network reports nothing more than the errors themselves.
pub fn fallback(def: &NetworkDef, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    let NetworkDef {
        attrs, vis, name, ..
    } = def;
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

    /// A batch of this layer's outputs, `[[f32; 64]; BATCH]`.
    fn output_batch(&self) -> TokenStream {
        let width = self.output.value();
        quote!([[f32; #width]; BATCH])
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
