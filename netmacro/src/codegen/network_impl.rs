//! The `Network` impl: forward written out layer by layer, backward in reverse.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{batch, private};
use crate::check::Model;

pub fn generate(model: &Model) -> TokenStream {
    let p = private();
    let batch = batch();
    let Model {
        name,
        layers,
        input,
        ..
    } = model;
    let tape = format_ident!("{name}Tape");
    let grads = format_ident!("{name}Grads");
    let last = layers
        .last()
        .expect("check rejects networks without layers");
    let input_width = input.value();
    let output_width = last.output.value();
    let last_type = last.ty();

    let fields: Vec<_> = layers.iter().map(|l| &l.field).collect();
    let grad_fields: Vec<_> = layers[..layers.len() - 1]
        .iter()
        .map(|l| l.grad_field())
        .collect();
    let outputs: Vec<_> = layers.iter().map(|l| l.output.value()).collect();

    // Forward: each layer reads the previous layer's output (the first reads `x`).
    // Expands to: Layer::forward(&self.dense_2, &*tape.dense_1, &mut *tape.dense_2);
    let forward = layers.iter().enumerate().map(|(i, layer)| {
        let field = &layer.field;
        let x = if i == 0 {
            quote!(x)
        } else {
            let prev = &layers[i - 1].field;
            quote!(&*tape.#prev)
        };
        quote!(#p::Layer::forward(&self.#field, #x, &mut *tape.#field);)
    });

    // Backward, output layer first. Each layer receives dL/dz (the output layer's comes from
    // the loss) and writes dL/dy of the layer before it, which that layer's activation turns
    // into its own dL/dz. Expands to:
    //     Layer::backward(&self.dense_2, &*tape.dense_1, output_delta, Some(&mut *tape.dense_1_grad), &mut grads.dense_2);
    //     <<Dense<..> as Layer>::Activation as Activation>::backprop_batch(&*tape.dense_1, &mut *tape.dense_1_grad);
    //     Layer::backward(&self.dense_1, x, &*tape.dense_1_grad, None, &mut grads.dense_1);
    let backward = layers.iter().enumerate().rev().map(|(i, layer)| {
        let field = &layer.field;
        let dz = if i + 1 == layers.len() {
            quote!(output_delta)
        } else {
            let g = layer.grad_field();
            quote!(&*tape.#g)
        };
        if i == 0 {
            return quote!(#p::Layer::backward(&self.#field, x, #dz, ::core::option::Option::None, &mut grads.#field););
        }
        let prev = &layers[i - 1];
        let (prev_field, prev_grad, prev_ty) = (&prev.field, prev.grad_field(), prev.ty());
        quote! {
            #p::Layer::backward(
                &self.#field,
                &*tape.#prev_field,
                #dz,
                ::core::option::Option::Some(&mut *tape.#prev_grad),
                &mut grads.#field,
            );
            <<#prev_ty as #p::Layer>::Activation as #p::Activation>::backprop_batch(
                &*tape.#prev_field,
                &mut *tape.#prev_grad,
            );
        }
    });

    // Single-sample prediction in stack buffers. Expands to:
    //     let mut dense_1 = [[0.0f32; 64]; 1]; Layer::forward(&self.dense_1, x, &mut dense_1); ...
    let predict = layers.iter().enumerate().map(|(i, layer)| {
        let field = &layer.field;
        let width = layer.output.value();
        let x = if i == 0 {
            quote!(::core::array::from_ref(x))
        } else {
            let prev = &layers[i - 1].field;
            quote!(&#prev)
        };
        quote! {
            let mut #field = [[0.0_f32; #width]; 1];
            #p::Layer::forward(&self.#field, #x, &mut #field);
        }
    });
    let last_field = &last.field;

    let names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let types: Vec<_> = layers.iter().map(|l| l.ty()).collect();
    let name_str = name.to_string();

    quote! {
        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic)]
        impl #p::Network for #name {
            type Input = [f32; #input_width];
            type Output = [f32; #output_width];
            type OutputActivation = <#last_type as #p::Layer>::Activation;
            type Tape<const #batch: usize> = #tape<#batch>;
            type Grads = #grads;

            fn new_tape<const #batch: usize>(&self) -> #tape<#batch> {
                #tape {
                    #( #fields: #p::zeroed_box(), )*
                    #( #grad_fields: #p::zeroed_box(), )*
                }
            }

            fn new_grads(&self) -> #grads {
                #grads { #( #fields: #p::Layer::new_grads(&self.#fields), )* }
            }

            fn forward<'tape, const #batch: usize>(
                &self,
                x: &[[f32; #input_width]; #batch],
                tape: &'tape mut #tape<#batch>,
            ) -> &'tape [[f32; #output_width]; #batch] {
                #( #forward )*
                &*tape.#last_field
            }

            fn backward<const #batch: usize>(
                &self,
                x: &[[f32; #input_width]; #batch],
                tape: &mut #tape<#batch>,
                output_delta: &[[f32; #output_width]; #batch],
                grads: &mut #grads,
            ) {
                #( #backward )*
            }

            fn predict(&self, x: &[f32; #input_width]) -> [f32; #output_width] {
                #( #predict )*
                #last_field[0]
            }

            fn visit_parameters(
                &mut self,
                grads: &#grads,
                visit: &mut dyn ::core::ops::FnMut(&mut [f32], &[f32]),
            ) {
                #( #p::Layer::visit_parameters(&mut self.#fields, &grads.#fields, visit); )*
            }

            fn parameter_count(&self) -> usize {
                0 #( + #p::Layer::parameter_count(&self.#fields) )*
            }

            fn summary(&self) -> #p::Summary {
                #p::Summary {
                    name: #name_str,
                    layers: #p::vec![#(
                        #p::LayerSummary {
                            name: #names,
                            kind: <#types as #p::Layer>::KIND,
                            output_width: #outputs,
                            parameters: #p::Layer::parameter_count(&self.#fields),
                        },
                    )*],
                }
            }
        }
    }
}
