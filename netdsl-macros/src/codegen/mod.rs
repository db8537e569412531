//! The checked model into Rust. Infallible: every error the macro can see was reported by
//! `check`; the rest are compile-time assertions in [`checks`].
//!
//! Generated code names everything by absolute path through the facade's hidden module
//! (`::netdsl::__private::...`), so it compiles whatever the user has in scope.

mod checks;
mod infer;
mod layer_impl;
mod network_impl;
mod stream;
mod structs;
mod stub;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Attribute;

use crate::model::{Layer, Model, Outline, Shape};
use crate::tokens::{batch, literal, private_at};

/// Everything `network!` generates for one network.
pub fn network(model: &Model) -> TokenStream {
    let derives: Vec<&Attribute> = struct_attrs(&model.attrs)
        .filter(|attr| !attr.path().is_ident("doc"))
        .collect();
    to_every_item(&model.attrs, items(model, &[], &derives))
}

/// The items of `model` (its struct with `inherited` attributes too) and of the networks of its
/// joins' branches, which inherit `derives`, those of the network they are part of
/// (`#[derive(Clone)]` on it needs them on its branches).
fn items(model: &Model, inherited: &[&Attribute], derives: &[&Attribute]) -> TokenStream {
    let branches: TokenStream = model
        .layers
        .iter()
        .flat_map(|layer| layer.kind.branches())
        .map(|branch| items(branch, derives, derives))
        .collect();
    let checks = checks::generate(model);
    let structs = structs::generate(model, inherited);
    let network_impl = network_impl::generate(model);
    let layer_impl = layer_impl::generate(model);
    let stream = stream::generate(model);
    quote! {
        #branches
        #checks
        #structs
        #network_impl
        #layer_impl
        #stream
    }
}

/// The errors of a network that failed its checks, and a stub of it, so that code naming the
/// network reports nothing more than the errors themselves. `outline` is what is known of it
/// despite them.
pub fn fallback(
    attrs: &[Attribute],
    vis: &syn::Visibility,
    name: &syn::Ident,
    error: &syn::Error,
    outline: Option<&Outline>,
) -> TokenStream {
    let errors = error.to_compile_error();
    let stub = to_every_item(attrs, stub::generate(attrs, vis, name, outline));
    quote! {
        #errors
        #stub
    }
}

/// Whether a network's attribute applies to everything generated for it (`#[cfg]` and the lint
/// levels, so a configured-out network leaves nothing behind), rather than to its struct alone
/// (docs, derives, `#[expect]`, which would go unfulfilled on most items).
fn applies_to_every_item(attr: &Attribute) -> bool {
    ["cfg", "allow", "warn", "deny", "forbid"]
        .iter()
        .any(|name| attr.path().is_ident(name))
}

/// The attributes that go on the network's struct alone.
fn struct_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| !applies_to_every_item(attr))
}

/// `items` with the network's item-wide attributes on each of them.
fn to_every_item(attrs: &[Attribute], items: TokenStream) -> TokenStream {
    let shared: Vec<&Attribute> = attrs
        .iter()
        .filter(|attr| applies_to_every_item(attr))
        .collect();
    if shared.is_empty() {
        return items;
    }
    let file: syn::File = syn::parse2(items).expect("the generator emits items");
    file.items
        .into_iter()
        .map(|item| match item {
            // `with_alloc! { items }`: a lint level on the invocation would be ignored, so the
            // attributes go on the items inside.
            syn::Item::Macro(mut invocation) => {
                invocation.mac.tokens = to_every_item(attrs, invocation.mac.tokens);
                quote!(#invocation)
            }
            item => quote!(#(#shared)* #item),
        })
        .collect()
}

impl Layer {
    /// The layer's runtime type, or the path of a layer given by name.
    fn ty(&self) -> TokenStream {
        self.kind.ty(self)
    }

    /// The output shape as `summary()` prints it: `[64]` or `[24, 24, 6]`.
    fn output_dims(&self) -> Vec<TokenStream> {
        match &self.output_shape {
            Shape::Flat(_) => vec![self.output.value()],
            Shape::Image(image) => [image.height, image.width, image.channels]
                .map(literal)
                .to_vec(),
            Shape::Sequence(sequence) => [sequence.steps, sequence.features].map(literal).to_vec(),
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

    /// The tape field holding this layer's tape.
    fn tape_field(&self) -> syn::Ident {
        format_ident!("{}_tape", self.field)
    }

    /// `input`, adapted to this layer's input type. A layer given by name takes `<T as Layer>::In`,
    /// which the macro cannot name; its width was asserted equal at compile time, so the
    /// previous layer's rows are reinterpreted as its rows.
    fn adapt_input(&self, input: TokenStream) -> TokenStream {
        if self.kind.takes_foreign_rows() {
            let p = private_at(self.span());
            quote_spanned!(self.span()=> #p::reinterpret(#input))
        } else {
            input
        }
    }

    /// [`Layer::adapt_input`] for the mutable input gradient.
    fn adapt_input_mut(&self, input: TokenStream) -> TokenStream {
        if self.kind.takes_foreign_rows() {
            let p = private_at(self.span());
            quote_spanned!(self.span()=> #p::reinterpret_mut(#input))
        } else {
            input
        }
    }

    /// The expression building this layer with fresh weights from `rng`.
    fn constructor(&self) -> TokenStream {
        self.kind.constructor(self)
    }
}
