//! The checked model into Rust. Infallible: every error the macro can see was reported by
//! `check`; the rest are compile-time assertions in [`checks`].
//!
//! Generated code names everything by absolute path through the facade's hidden module
//! (`::netdsl::__private::...`), so it compiles whatever the user has in scope.

mod checks;
mod layer_impl;
mod network_impl;
mod structs;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};

use crate::check::{Cell, Layer, LayerKind, Model, Width};

/// The batch-size parameter of generated items. Hygiene does not separate generic parameters
/// from the user's names (a `const BATCH` used as a layer size would be captured), so it has a
/// name of its own.
fn batch() -> syn::Ident {
    format_ident!("NETDSL_BATCH")
}

/// The facade's hidden module.
fn private() -> TokenStream {
    quote!(::netdsl::__private)
}

/// The facade's hidden module, spanned on a user's token: in `quote_spanned!`, interpolated
/// tokens keep their own spans, so paths through this module must carry the span themselves for
/// an error about them to point at the user's token.
fn private_at(span: Span) -> TokenStream {
    quote_spanned!(span=> ::netdsl::__private)
}

/// Everything `network!` generates for one network.
pub fn network(model: &Model) -> TokenStream {
    let checks = checks::generate(model);
    let structs = structs::generate(model);
    let network_impl = network_impl::generate(model);
    let layer_impl = layer_impl::generate(model);
    quote! {
        #checks
        #structs
        #network_impl
        #layer_impl
    }
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
    /// As a const generic argument: `64`, `{ HIDDEN }`, `{ <<Encoder as Layer>::Out as Row>::WIDTH }`.
    fn generic_arg(&self) -> TokenStream {
        match self {
            Width::Literal(n, span) => {
                let mut lit = Literal::usize_unsuffixed(*n);
                lit.set_span(*span);
                lit.into_token_stream()
            }
            Width::Const(_) | Width::OutputOf(_) => {
                let value = self.value();
                quote_spanned!(self.span()=> { #value })
            }
        }
    }

    /// As a `usize` expression or an array length: `64`, `HIDDEN`, `<<Encoder as Layer>::Out as Row>::WIDTH`.
    fn value(&self) -> TokenStream {
        match self {
            Width::Literal(..) => self.generic_arg(),
            Width::Const(path) => path.to_token_stream(),
            Width::OutputOf(path) => {
                let p = private_at(self.span());
                quote_spanned!(self.span()=> <<#path as #p::Layer>::Out as #p::Row>::WIDTH)
            }
        }
    }
}

impl Layer {
    /// The span errors about this layer point at: its keyword or its type's path.
    fn span(&self) -> Span {
        self.tokens
            .clone()
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |t| t.span())
    }

    /// The layer's type: `::netdsl::__private::Dense<784, 64, ::netdsl::__private::Relu>`, or
    /// the path of a layer given by name.
    fn ty(&self) -> TokenStream {
        let p = private();
        let lit = Literal::usize_unsuffixed;
        match &self.kind {
            LayerKind::Dense { activation, .. } => {
                let (input, output) = (self.input.generic_arg(), self.output.generic_arg());
                let activation = format_ident!("{}", activation.type_name());
                quote!(#p::Dense<#input, #output, #p::#activation>)
            }
            LayerKind::Named(path) => path.to_token_stream(),
            LayerKind::Conv2d {
                input,
                filters,
                kernel,
                stride,
                pad_top,
                pad_left,
                output,
                activation,
                ..
            } => {
                let activation = format_ident!("{}", activation.type_name());
                let [h, w, c, f, k, s, pt, pl, oh, ow, n_in, n_out] = [
                    input.height,
                    input.width,
                    input.channels,
                    *filters,
                    *kernel,
                    *stride,
                    *pad_top,
                    *pad_left,
                    output.height,
                    output.width,
                    input.len(),
                    output.len(),
                ]
                .map(lit);
                quote!(#p::Conv2d<#h, #w, #c, #f, #k, #s, #pt, #pl, #oh, #ow, #n_in, #n_out, #p::#activation>)
            }
            LayerKind::Pool {
                max,
                input,
                size,
                stride,
                output,
            } => {
                let kind = if *max {
                    format_ident!("MaxPool2d")
                } else {
                    format_ident!("AvgPool2d")
                };
                let [h, w, c, size, s, oh, ow, n_in, n_out] = [
                    input.height,
                    input.width,
                    input.channels,
                    *size,
                    *stride,
                    output.height,
                    output.width,
                    input.len(),
                    output.len(),
                ]
                .map(lit);
                quote!(#p::#kind<#h, #w, #c, #size, #s, #oh, #ow, #n_in, #n_out>)
            }
            LayerKind::Recurrent {
                cell,
                input,
                units,
                sequences,
                ..
            } => {
                let kind = format_ident!("{}", cell.type_name());
                let n_out = if *sequences {
                    input.steps * units
                } else {
                    *units
                };
                let [t, f, u, n_in, n_out] =
                    [input.steps, input.features, *units, input.len(), n_out].map(lit);
                match cell {
                    Cell::Simple(activation) => {
                        let activation = format_ident!("{}", activation.type_name());
                        quote!(#p::#kind<#t, #f, #u, #n_in, #n_out, #p::#activation>)
                    }
                    Cell::Lstm | Cell::Gru => quote!(#p::#kind<#t, #f, #u, #n_in, #n_out>),
                }
            }
            LayerKind::Flatten | LayerKind::Reshape | LayerKind::Dropout { .. } => {
                let kind = match self.kind {
                    LayerKind::Flatten => format_ident!("Flatten"),
                    LayerKind::Reshape => format_ident!("Reshape"),
                    _ => format_ident!("Dropout"),
                };
                let width = self.input.generic_arg();
                quote!(#p::#kind<#width>)
            }
        }
    }

    /// The output shape as `summary()` prints it: `[64]` or `[24, 24, 6]`.
    fn output_dims(&self) -> Vec<TokenStream> {
        match &self.output_shape {
            crate::shape::Shape::Flat(_) => vec![self.output.value()],
            crate::shape::Shape::Image(image) => [image.height, image.width, image.channels]
                .map(|n| Literal::usize_unsuffixed(n).into_token_stream())
                .to_vec(),
            crate::shape::Shape::Sequence(sequence) => [sequence.steps, sequence.features]
                .map(|n| Literal::usize_unsuffixed(n).into_token_stream())
                .to_vec(),
        }
    }

    /// One of the layer's associated items, `<T as Layer>::Out`, spanned on the user's token so
    /// that an error about `T` (not a layer at all, say) points there.
    fn assoc(&self, item: TokenStream) -> TokenStream {
        let (p, ty) = (private_at(self.span()), self.ty());
        quote_spanned!(self.span()=> <#ty as #p::Layer>::#item)
    }

    /// The `Layer` trait, spanned on the user's token: calls through it are where rustc checks
    /// that the layer is one.
    fn layer_trait(&self) -> TokenStream {
        let p = private_at(self.span());
        quote_spanned!(self.span()=> #p::Layer)
    }

    /// One output row: `<T as Layer>::Out`.
    fn out_row(&self) -> TokenStream {
        self.assoc(quote!(Out))
    }

    /// A batch of this layer's outputs, `[<T as Layer>::Out; NETDSL_BATCH]`.
    fn output_batch(&self) -> TokenStream {
        let (row, batch) = (self.out_row(), batch());
        quote!([#row; #batch])
    }

    /// The tape field holding `dL/dy` for this layer's output.
    fn grad_field(&self) -> syn::Ident {
        format_ident!("{}_grad", self.field)
    }

    /// The tape field holding this layer's cache.
    fn cache_field(&self) -> syn::Ident {
        format_ident!("{}_cache", self.field)
    }

    /// `input`, adapted to this layer's input type. A layer given by name takes `<T as Layer>::In`,
    /// which the macro cannot name; its width was asserted equal at compile time, so the
    /// previous layer's rows are reinterpreted as its rows.
    fn adapt_input(&self, input: TokenStream) -> TokenStream {
        match self.kind {
            LayerKind::Named(_) => {
                let p = private_at(self.span());
                quote_spanned!(self.span()=> #p::reinterpret(#input))
            }
            _ => input,
        }
    }

    /// [`Layer::adapt_input`] for the mutable input gradient.
    fn adapt_input_mut(&self, input: TokenStream) -> TokenStream {
        match self.kind {
            LayerKind::Named(_) => {
                let p = private_at(self.span());
                quote_spanned!(self.span()=> #p::reinterpret_mut(#input))
            }
            _ => input,
        }
    }

    /// The expression building this layer with fresh weights from `rng`.
    fn constructor(&self) -> TokenStream {
        let (p, ty) = (private_at(self.span()), self.ty());
        match &self.kind {
            LayerKind::Dense { bias, .. } | LayerKind::Conv2d { bias, .. } => {
                quote_spanned!(self.span()=> <#ty>::glorot_uniform(rng, #bias))
            }
            LayerKind::Named(_) => {
                quote_spanned!(self.span()=> <#ty as #p::Initialize>::initialize(rng))
            }
            LayerKind::Pool { .. } | LayerKind::Flatten | LayerKind::Reshape => {
                quote_spanned!(self.span()=> <#ty as ::core::default::Default>::default())
            }
            LayerKind::Dropout { rate } => {
                quote_spanned!(self.span()=> <#ty>::new(#rate, #p::Rng::next_u64(rng)))
            }
            LayerKind::Recurrent { bias, .. } => {
                quote_spanned!(self.span()=> <#ty>::keras_default(rng, #bias))
            }
        }
    }
}
