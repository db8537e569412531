//! The network struct, its tape and its gradients, and the constructor.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{batch, private};
use crate::check::Model;

pub fn generate(model: &Model) -> TokenStream {
    let p = private();
    let batch = batch();
    let Model {
        attrs,
        vis,
        name,
        layers,
        ..
    } = model;
    let tape = format_ident!("{name}Tape");
    let grads = format_ident!("{name}Grads");

    let fields: Vec<_> = layers.iter().map(|l| &l.field).collect();
    let types: Vec<_> = layers.iter().map(|l| l.ty()).collect();
    let field_docs: Vec<String> = layers
        .iter()
        .map(|l| {
            format!(
                "`{}`: {} inputs, {} outputs.",
                l.text,
                l.input.text(),
                l.output.text()
            )
        })
        .collect();
    let constructors: Vec<_> = layers.iter().map(|l| l.constructor()).collect();

    let outputs: Vec<_> = layers.iter().map(|l| l.output_batch()).collect();
    // The input gradient of the first layer is never needed: it has no tape field.
    let hidden = &layers[..layers.len() - 1];
    let grad_fields: Vec<_> = hidden.iter().map(|l| l.grad_field()).collect();
    let grad_types: Vec<_> = hidden.iter().map(|l| l.output_batch()).collect();

    let output_docs: Vec<String> = layers
        .iter()
        .map(|l| format!("The outputs of `{}`, one row per sample.", l.text))
        .collect();
    let grad_docs: Vec<String> = hidden
        .iter()
        .map(|l| {
            format!(
                "Scratch for the gradient of the loss with respect to the outputs of `{}`.",
                l.text
            )
        })
        .collect();
    let tape_doc = format!(
        "Every intermediate of a batch of `NETDSL_BATCH` samples through [`{name}`] that its backward pass needs, allocated once on the heap."
    );
    let grads_doc = format!("The gradients of every parameter of [`{name}`], one field per layer.");
    let new_doc =
        "A network with Glorot-uniform weights drawn from `rng` and zero biases (Keras' defaults).";

    // Expands to:
    //     #[attrs] pub struct Mnist { pub dense_1: Dense<784, 64, Relu>, pub dense_2: ... }
    //     pub struct MnistTape<const NETDSL_BATCH: usize> { dense_1: Box<[[f32; 64]; NETDSL_BATCH]>, ..., dense_1_grad: ... }
    //     pub struct MnistGrads { pub dense_1: <Dense<..> as Layer>::Grads, ... }
    //     impl Mnist { pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self { ... } }
    quote! {
        #(#attrs)*
        #vis struct #name {
            #(
                #[doc = #field_docs]
                pub #fields: #types,
            )*
        }

        #[doc = #tape_doc]
        #vis struct #tape<const #batch: usize> {
            #(
                #[doc = #output_docs]
                pub #fields: #p::Box<#outputs>,
            )*
            #(
                #[doc = #grad_docs]
                pub #grad_fields: #p::Box<#grad_types>,
            )*
        }

        #[doc = #grads_doc]
        #vis struct #grads {
            #(
                #[doc = #field_docs]
                pub #fields: <#types as #p::Layer>::Grads,
            )*
        }

        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic)]
        impl #name {
            #[doc = #new_doc]
            #vis fn new<R: #p::Rng + ?::core::marker::Sized>(rng: &mut R) -> Self {
                Self { #( #fields: #constructors, )* }
            }
        }
    }
}
