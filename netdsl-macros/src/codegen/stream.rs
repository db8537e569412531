//! The `Stream` impl of a network: its layers' steps chained, each step's output on the stack,
//! the network's state a `{Name}State` struct holding the tuple of its layers' states (nested
//! beyond 12). Every layer's bound is a where-clause under `for<'netdsl>`, which keeps a bound
//! on a concrete type from being checked where the impl is written: a network with a layer that
//! needs the whole sequence simply has no impl, and only code that streams it fails to compile.
//! A layer after the first is bound by `StreamAfter<previous>` rather than an equality of
//! associated types, which rustc would check there.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::model::Model;
use crate::tokens::{private, private_at};

pub fn generate(model: &Model) -> TokenStream {
    let p = private();
    let Model {
        name, layers, vis, ..
    } = model;
    let (state_struct, states_trait) = (
        format_ident!("{name}State"),
        format_ident!("Netdsl{name}StreamStates"),
    );
    let tys: Vec<TokenStream> = layers.iter().map(|l| l.ty()).collect();
    // The trait each layer's step is called through: `<Lstm<..> as Stream>` for the first,
    // `<Dense<..> as StreamAfter<Lstm<..>>>` after it.
    let links: Vec<TokenStream> = tys
        .iter()
        .enumerate()
        .map(|(i, ty)| match i {
            0 => quote!(<#ty as #p::Stream>),
            _ => {
                let prev = &tys[i - 1];
                quote!(<#ty as #p::StreamAfter<#prev>>)
            }
        })
        .collect();
    // Spanned on the layer, so that rustc's note on an unmet bound points at its DSL token.
    let bounds = layers.iter().enumerate().map(|(i, l)| {
        let (ty, p) = (&tys[i], private_at(l.span()));
        match i {
            0 => quote_spanned!(l.span()=> for<'netdsl> #ty: #p::Stream),
            _ => {
                let prev = &tys[i - 1];
                quote_spanned!(l.span()=> for<'netdsl> #ty: #p::StreamAfter<#prev>)
            }
        }
    });
    let states: Vec<TokenStream> = tys
        .iter()
        .map(|ty| quote!(<#ty as #p::Stream>::State))
        .collect();
    let state_type = nested(&states);
    // Where layer `i`'s state is in the network's: `.3`, or `.0.3` in a nested tuple.
    let places: Vec<TokenStream> = (0..layers.len())
        .map(|i| {
            let path = place(i, layers.len()).into_iter().map(syn::Index::from);
            quote!(#(.#path)*)
        })
        .collect();
    let (first, last) = (&tys[0], &tys[tys.len() - 1]);
    let outputs: Vec<syn::Ident> = (0..layers.len())
        .map(|i| format_ident!("netdsl_step_{i}"))
        .collect();
    // The previous layer's output, the first layer's input `x`.
    let input = |i: usize| match i {
        0 => quote!(x),
        _ => {
            let prev = &outputs[i - 1];
            quote!(&#prev)
        }
    };

    // Expands to:
    //     let mut netdsl_step_0: <Lstm<..> as Stream>::StepOut = Zeroable::zeroed();
    //     <Lstm<..> as Stream>::step(&self.lstm_1, &mut state.0, x, &mut netdsl_step_0);
    //     <Dense<..> as StreamAfter<Lstm<..>>>::step_after(&self.dense_1, &mut state.1,
    //         &netdsl_step_0, y);
    let step = layers.iter().enumerate().map(|(i, layer)| {
        let (field, ty, index) = (&layer.field, &tys[i], &places[i]);
        let (link, method, x) = (&links[i], step_name(i, false), input(i));
        if i + 1 == layers.len() {
            return quote!(#link::#method(&self.#field, &mut state.netdsl_layers #index, #x, y););
        }
        let out = &outputs[i];
        quote! {
            let mut #out: <#ty as #p::Stream>::StepOut = #p::Zeroable::zeroed();
            #link::#method(&self.#field, &mut state.netdsl_layers #index, #x, &mut #out);
        }
    });

    // Each layer's states of the streams side by side for its batch step, then back. Expands to:
    //     let mut netdsl_state: [<Lstm<..> as Stream>::State; NETDSL_STREAMS] =
    //         core::array::from_fn(|b| states[b].0);
    //     let mut netdsl_step_0: [<Lstm<..> as Stream>::StepOut; NETDSL_STREAMS] =
    //         Zeroable::zeroed();
    //     <Lstm<..> as Stream>::step_batch(&self.lstm_1, &mut netdsl_state, x,
    //         &mut netdsl_step_0);
    //     for (state, layer) in states.iter_mut().zip(netdsl_state) { state.0 = layer; }
    let step_batch = layers.iter().enumerate().map(|(i, layer)| {
        let (field, ty, index) = (&layer.field, &tys[i], &places[i]);
        let (link, method, x) = (&links[i], step_name(i, true), input(i));
        let (declare, y) = if i + 1 == layers.len() {
            (TokenStream::new(), quote!(y))
        } else {
            let out = &outputs[i];
            (
                quote!(let mut #out: [<#ty as #p::Stream>::StepOut; NETDSL_STREAMS] = #p::Zeroable::zeroed();),
                quote!(&mut #out),
            )
        };
        quote! {
            let mut netdsl_state: [<#ty as #p::Stream>::State; NETDSL_STREAMS] =
                ::core::array::from_fn(|b| states[b].netdsl_layers #index);
            #declare
            #link::#method(&self.#field, &mut netdsl_state, #x, #y);
            for (state, layer) in states.iter_mut().zip(netdsl_state) {
                state.netdsl_layers #index = layer;
            }
        }
    });

    let doc = format!(
        "The state [`{name}`] carries from one streamed step to the next, its layers' states: \
         its `Stream::State`. The default is the state before the first step."
    );
    let bounds: Vec<TokenStream> = bounds.collect();
    // The state is a struct of the network's visibility over a private trait's associated type,
    // so that no layer's type (a private one of the user's, say) is named in the public impl;
    // the trait's impl has the impl's bounds, so the struct is only ever used where they hold.
    // Expands to:
    //     pub struct FilterState<N: NetdslFilterStreamStates> { netdsl_layers: N::Layers }
    //     trait NetdslFilterStreamStates { type Layers: Copy + Default; }
    //     impl NetdslFilterStreamStates for Filter where .. { type Layers = (..); }
    //     impl Clone, Copy, Default, PartialEq, Debug for FilterState<N>
    //     impl Stream for Filter where .. { type State = FilterState<Filter>; fn step .. }
    quote! {
        #[doc = #doc]
        #[allow(private_bounds)]
        #vis struct #state_struct<N: #states_trait> {
            netdsl_layers: <N as #states_trait>::Layers,
        }

        #[doc(hidden)]
        trait #states_trait {
            type Layers: ::core::marker::Copy + ::core::default::Default;
        }

        #[automatically_derived]
        impl #states_trait for #name
        where
            #(#bounds,)*
        {
            type Layers = #state_type;
        }

        #[automatically_derived]
        #[allow(private_bounds)]
        impl<N: #states_trait> ::core::clone::Clone for #state_struct<N> {
            fn clone(&self) -> Self {
                *self
            }
        }

        #[automatically_derived]
        #[allow(private_bounds)]
        impl<N: #states_trait> ::core::marker::Copy for #state_struct<N> {}

        #[automatically_derived]
        #[allow(private_bounds)]
        impl<N: #states_trait> ::core::default::Default for #state_struct<N> {
            fn default() -> Self {
                Self { netdsl_layers: ::core::default::Default::default() }
            }
        }

        #[automatically_derived]
        #[allow(private_bounds)]
        impl<N: #states_trait> ::core::cmp::PartialEq for #state_struct<N>
        where
            <N as #states_trait>::Layers: ::core::cmp::PartialEq,
        {
            fn eq(&self, other: &Self) -> bool {
                self.netdsl_layers == other.netdsl_layers
            }
        }

        #[automatically_derived]
        #[allow(private_bounds)]
        impl<N: #states_trait> ::core::fmt::Debug for #state_struct<N>
        where
            <N as #states_trait>::Layers: ::core::fmt::Debug,
        {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(stringify!(#state_struct)).field(&self.netdsl_layers).finish()
            }
        }

        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic)]
        impl #p::Stream for #name
        where
            #(#bounds,)*
        {
            type StepIn = <#first as #p::Stream>::StepIn;
            type StepOut = <#last as #p::Stream>::StepOut;
            type State = #state_struct<#name>;

            #[inline]
            fn step(&self, state: &mut Self::State, x: &Self::StepIn, y: &mut Self::StepOut) {
                #(#step)*
            }

            fn step_batch<const NETDSL_STREAMS: usize>(
                &self,
                states: &mut [Self::State; NETDSL_STREAMS],
                x: &[Self::StepIn; NETDSL_STREAMS],
                y: &mut [Self::StepOut; NETDSL_STREAMS],
            ) {
                #(#step_batch)*
            }
        }
    }
}

/// The method layer `i`'s step is called by: `Stream`'s for the first, `StreamAfter`'s after.
fn step_name(i: usize, batch: bool) -> syn::Ident {
    match (i, batch) {
        (0, false) => format_ident!("step"),
        (0, true) => format_ident!("step_batch"),
        (_, false) => format_ident!("step_after"),
        (_, true) => format_ident!("step_batch_after"),
    }
}

/// Tuples have `Default` up to 12 items: more states are grouped into at most 12 tuples, each
/// nested the same way.
const TUPLE: usize = 12;

/// The tuple type of `items`, nested when there are more than [`TUPLE`].
fn nested(items: &[TokenStream]) -> TokenStream {
    if items.len() <= TUPLE {
        return quote!((#(#items,)*));
    }
    let groups = items.chunks(items.len().div_ceil(TUPLE)).map(nested);
    quote!((#(#groups,)*))
}

/// The indices that reach item `i` of `len` in [`nested`]'s tuple.
fn place(i: usize, len: usize) -> Vec<usize> {
    if len <= TUPLE {
        return vec![i];
    }
    let group = len.div_ceil(TUPLE);
    let first = i / group * group;
    let mut path = vec![i / group];
    path.extend(place(i - first, group.min(len - first)));
    path
}
