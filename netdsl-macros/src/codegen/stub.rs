//! The stand-in for a network that failed its checks: enough of its API (`new`, and where its
//! widths are known `Layer`, `Network` and `Initialize`) that the user's code using it type-checks
//! and the macro's errors are the only ones. Nothing of it ever runs: the crate does not compile.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Ident, Visibility};

use crate::model::Outline;
use crate::tokens::{batch, private};

pub fn generate(
    attrs: &[Attribute],
    vis: &Visibility,
    name: &Ident,
    outline: Option<&Outline>,
) -> TokenStream {
    let (p, b) = (private(), batch());
    let struct_attrs = super::struct_attrs(attrs);
    let traits = outline.map(|outline| {
        let (input, output) = (outline.input.value(), outline.output.value());
        let activation = &outline.activation;
        let kind = name.to_string();
        // Expands to: impl Layer for Net { type In = [f32; 784]; ...; fn forward(..) { unreachable!() } ... }
        quote! {
            #[automatically_derived]
            #[allow(clippy::all, clippy::pedantic)]
            impl #p::Layer for #name {
                type In = [f32; #input];
                type Out = [f32; #output];
                type Activation = #activation;
                type Grads = ();
                type Tape<const #b: usize> = ();
                const KIND: &'static str = #kind;
                fn new_tape<const #b: usize>(&self) {}
                fn forward<const #b: usize>(&self, _: &[Self::In; #b], _: &mut [Self::Out; #b], _: &mut ()) {
                    ::core::unreachable!()
                }
                fn kept<const #b: usize>(_: &()) -> &#p::Kept<#activation, [f32; #output], #b> {
                    ::core::unreachable!()
                }
                fn backward<const #b: usize>(
                    &self,
                    _: &[Self::In; #b],
                    _: &[Self::Out; #b],
                    _: ::core::option::Option<&mut [Self::In; #b]>,
                    _: &mut (),
                    _: &mut (),
                ) {
                    ::core::unreachable!()
                }
                fn new_grads(&self) {}
                fn parameter_count(&self) -> usize {
                    ::core::unreachable!()
                }
                fn visit_parameters(&mut self, _: &mut (), _: &mut dyn ::core::ops::FnMut(&mut [f32], &mut [f32])) {
                    ::core::unreachable!()
                }
            }

            #[automatically_derived]
            impl #p::Network for #name {
                #p::with_alloc! {
                    fn summary(&self) -> #p::Summary {
                        ::core::unreachable!()
                    }
                }
            }

            #[automatically_derived]
            impl #p::Initialize for #name {
                fn initialize<R: #p::Rng + ?::core::marker::Sized>(_: &mut R) -> Self {
                    ::core::unreachable!()
                }
            }
        }
    });
    // Expands to: pub struct Net; impl Net { pub fn new<R: ?Sized>(_: &mut R) -> Self { unreachable!() } } + the traits
    quote! {
        #(#struct_attrs)*
        #vis struct #name;

        #[automatically_derived]
        impl #name {
            #[allow(clippy::all)]
            #vis fn new<R: ?::core::marker::Sized>(_: &mut R) -> Self {
                ::core::unreachable!()
            }
        }

        #traits
    }
}
