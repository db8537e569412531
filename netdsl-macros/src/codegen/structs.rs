//! The network struct, its tape and its gradients, and the constructor.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::model::{Model, OutputMask};
use crate::tokens::{batch, literal, private, private_at};

/// The items of `model`, its struct with `inherited` attributes too (a branch's network gets the
/// derives of the network it is part of).
pub fn generate(model: &Model, inherited: &[&syn::Attribute]) -> TokenStream {
    let (p, batch) = (private(), batch());
    let attrs = super::struct_attrs(&model.attrs).chain(inherited.iter().copied());
    let Model {
        vis, name, layers, ..
    } = model;
    let tape = format_ident!("{name}Tape");
    let grads = format_ident!("{name}Grads");

    let fields: Vec<_> = layers.iter().map(|l| &l.field).collect();
    let types: Vec<_> = layers.iter().map(|l| l.ty()).collect();
    let field_docs: Vec<String> = layers
        .iter()
        .map(|l| {
            format!(
                "`{}`, layer {}: {} inputs, {} outputs.",
                l.text,
                l.position,
                l.input.text(),
                l.output.text()
            )
        })
        .collect();
    let constructors: Vec<_> = layers.iter().map(|l| l.constructor()).collect();

    // The output layer writes the caller's buffer and its gradient arrives from the loss: only
    // the layers before it need an output and a gradient on the tape.
    let hidden = &layers[..layers.len() - 1];
    let hidden_fields: Vec<_> = hidden.iter().map(|l| &l.field).collect();
    // Spanned on the layer: an error about its `Out` (not a layer at all, say) points there.
    let outputs: Vec<_> = hidden
        .iter()
        .map(|l| {
            let (batch, p) = (l.output_batch(), private_at(l.span()));
            quote_spanned!(l.span()=> #p::Buffer<#batch>)
        })
        .collect();
    let output_docs: Vec<String> = hidden
        .iter()
        .map(|l| format!("The outputs of `{}`, one row per sample.", l.text))
        .collect();
    let grad_fields: Vec<_> = hidden.iter().map(|l| l.grad_field()).collect();
    let grad_types = &outputs;
    let grad_docs: Vec<String> = hidden
        .iter()
        .map(|l| {
            format!(
                "Scratch for the gradient of the loss with respect to the outputs of `{}`.",
                l.text
            )
        })
        .collect();
    let tape_fields: Vec<_> = layers.iter().map(|l| l.tape_field()).collect();
    let tape_types: Vec<_> = layers
        .iter()
        .map(|l| l.assoc(quote!(Tape<#batch>)))
        .collect();
    let grads_types: Vec<_> = layers.iter().map(|l| l.assoc(quote!(Grads))).collect();

    let tape_doc = format!(
        "Every intermediate of a batch of `NETDSL_BATCH` samples through [`{name}`] that its backward pass needs, allocated once (on the heap with netdsl's `alloc` feature)."
    );
    let grads_doc = format!("The gradients of every parameter of [`{name}`], one field per layer.");
    let new_doc = "A network with fresh weights drawn from `rng`: Glorot-uniform weights and zero biases (Keras' defaults) for its dense layers.";

    // The mask the network was given, when it gives it back with its output.
    let given_mask = match model.output_mask {
        Some(OutputMask::Given { steps }) => {
            let steps = literal(steps);
            quote!(netdsl_given_mask: #p::StepMask<#steps, #batch>,)
        }
        _ => TokenStream::new(),
    };
    let scratch_field = super::infer::field_declaration(model);
    let scratch_value = super::infer::field_value(model);
    let inherent_infer = super::infer::inherent_items(model);

    // Expands to:
    //     #[attrs] pub struct Mnist { pub dense_1: Dense<784, 64, Relu>, pub dense_2: ... }
    //     pub struct MnistTape<const NETDSL_BATCH: usize> {
    //         pub dense_1: Buffer<[<Dense<..> as Layer>::Out; NETDSL_BATCH]>, ...,
    //         pub dense_1_grad: ..., dense_1_tape: <Dense<..> as Layer>::Tape<NETDSL_BATCH>, ...
    //     }
    //     pub struct MnistGrads { pub dense_1: <Dense<..> as Layer>::Grads, ... }
    //     impl Mnist { with_alloc! { pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self { ... } } }
    quote! {
        #(#attrs)*
        #vis struct #name {
            #(
                #[doc = #field_docs]
                pub #fields: #types,
            )*
            #scratch_field
        }

        #[doc = #tape_doc]
        #vis struct #tape<const #batch: usize> {
            #(
                #[doc = #output_docs]
                pub #hidden_fields: #outputs,
            )*
            #(
                #[doc = #grad_docs]
                pub #grad_fields: #grad_types,
            )*
            #( #tape_fields: #tape_types, )*
            #given_mask
        }

        #[doc = #grads_doc]
        #vis struct #grads {
            #(
                #[doc = #field_docs]
                pub #fields: #grads_types,
            )*
        }

        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic)]
        impl #name {
            // Fresh weights live on the heap: without netdsl's `alloc` feature, a network is
            // built from `static` weights with a struct literal instead.
            #p::with_alloc! {
                #[doc = #new_doc]
                #vis fn new<R: #p::Rng + ?::core::marker::Sized>(rng: &mut R) -> Self {
                    Self {
                        #( #fields: #constructors, )*
                        #scratch_value
                    }
                }
            }

            #inherent_infer
        }
    }
}
