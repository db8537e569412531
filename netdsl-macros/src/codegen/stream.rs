//! The `Stream` impl of a network: its layers' steps chained, each step's output on the stack,
//! the network's state the tuple of its layers' states. Every layer's `Stream` bound is a
//! where-clause (under `for<'netdsl>`, which keeps a bound on a concrete type from being
//! checked where the impl is written), so a network with a layer that needs the whole sequence
//! simply has no impl, and only code that streams it fails to compile.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::model::Model;
use crate::tokens::{private, private_at};

pub fn generate(model: &Model) -> TokenStream {
    let p = private();
    let Model { name, layers, .. } = model;
    let streams: Vec<TokenStream> = layers
        .iter()
        .map(|l| {
            let p = private_at(l.span());
            quote_spanned!(l.span()=> #p::Stream)
        })
        .collect();
    let tys: Vec<TokenStream> = layers.iter().map(|l| l.ty()).collect();
    // Each layer streams, and takes the step the layer before it gives.
    let bounds = tys
        .iter()
        .zip(&streams)
        .enumerate()
        .map(|(i, (ty, stream))| {
            if i == 0 {
                quote!(#ty: #stream)
            } else {
                let prev = &tys[i - 1];
                quote!(#ty: #stream<StepIn = <#prev as #p::Stream>::StepOut>)
            }
        });
    let states: Vec<TokenStream> = tys
        .iter()
        .map(|ty| quote!(<#ty as #p::Stream>::State))
        .collect();
    let (first, last) = (&tys[0], &tys[tys.len() - 1]);
    let outputs: Vec<syn::Ident> = (0..layers.len())
        .map(|i| format_ident!("netdsl_step_{i}"))
        .collect();

    // Expands to:
    //     let mut netdsl_step_0: <Lstm<..> as Stream>::StepOut = Zeroable::zeroed();
    //     <Lstm<..> as Stream>::step(&self.lstm_1, &mut state.0, x, &mut netdsl_step_0);
    //     <Dense<..> as Stream>::step(&self.dense_1, &mut state.1, &netdsl_step_0, y);
    let step = layers.iter().enumerate().map(|(i, layer)| {
        let (field, ty, index) = (&layer.field, &tys[i], syn::Index::from(i));
        let x = if i == 0 {
            quote!(x)
        } else {
            let prev = &outputs[i - 1];
            quote!(&#prev)
        };
        if i + 1 == layers.len() {
            return quote!(<#ty as #p::Stream>::step(&self.#field, &mut state.#index, #x, y););
        }
        let out = &outputs[i];
        quote! {
            let mut #out: <#ty as #p::Stream>::StepOut = #p::Zeroable::zeroed();
            <#ty as #p::Stream>::step(&self.#field, &mut state.#index, #x, &mut #out);
        }
    });

    // The streams' states of each layer side by side for its batch step, then back. Expands to:
    //     let mut netdsl_state: [<Lstm<..> as Stream>::State; B] =
    //         core::array::from_fn(|b| states[b].0);
    //     let mut netdsl_step_0: [<Lstm<..> as Stream>::StepOut; B] = Zeroable::zeroed();
    //     <Lstm<..> as Stream>::step_batch(&self.lstm_1, &mut netdsl_state, x, &mut netdsl_step_0);
    //     for (state, layer) in states.iter_mut().zip(netdsl_state) { state.0 = layer; }
    //     ...
    let step_batch = layers.iter().enumerate().map(|(i, layer)| {
        let (field, ty, index) = (&layer.field, &tys[i], syn::Index::from(i));
        let x = if i == 0 {
            quote!(x)
        } else {
            let prev = &outputs[i - 1];
            quote!(&#prev)
        };
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
                ::core::array::from_fn(|b| states[b].#index);
            #declare
            <#ty as #p::Stream>::step_batch(&self.#field, &mut netdsl_state, #x, #y);
            for (state, layer) in states.iter_mut().zip(netdsl_state) {
                state.#index = layer;
            }
        }
    });

    quote! {
        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic)]
        impl #p::Stream for #name
        where
            #(for<'netdsl> #bounds,)*
        {
            type StepIn = <#first as #p::Stream>::StepIn;
            type StepOut = <#last as #p::Stream>::StepOut;
            type State = (#(#states,)*);

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
