//! The `Layer` impl of a network: forward written out layer by layer, backward in reverse, and
//! single-sample inference in stack buffers. Being a `Layer`, a network is also a layer of
//! bigger networks.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::mask::Route;
use crate::model::{Model, OutputMask};
use crate::tokens::{batch, private, private_at};

pub fn generate(model: &Model) -> TokenStream {
    let (p, batch) = (private(), batch());
    let Model { name, layers, .. } = model;
    let tape = format_ident!("{name}Tape");
    let grads = format_ident!("{name}Grads");
    let last = layers
        .last()
        .expect("check rejects networks without layers");
    let input_row = model.input_row();
    let output_width = last.output.value();
    let output_activation = last.assoc(quote!(Activation));
    let (last_kept, last_tape) = (last.assoc(quote!(kept::<#batch>)), last.tape_field());
    let name_str = name.to_string();

    let fields: Vec<_> = layers.iter().map(|l| &l.field).collect();
    // Tensor names start with the field's name, as the summary shows it: `dense_1.kernel`.
    let names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let hidden = &layers[..layers.len() - 1];
    let hidden_fields: Vec<_> = hidden.iter().map(|l| &l.field).collect();
    let grad_fields: Vec<_> = hidden.iter().map(|l| l.grad_field()).collect();
    let tape_fields: Vec<_> = layers.iter().map(|l| l.tape_field()).collect();
    let layer_traits: Vec<_> = layers.iter().map(|l| l.layer_trait()).collect();
    // A join's tensors keep their own names (`conv2d_2.kernel`): its branches are numbered with
    // the network's other layers, as Keras numbers them.
    let visit_tensors = layers.iter().zip(&names).map(|(l, name)| {
        let (field, layer_trait) = (&l.field, l.layer_trait());
        if l.kind.branches().is_empty() {
            quote!(#p::visit_prefixed(#name, visit, |visit| #layer_trait::visit_tensors(&self.#field, visit));)
        } else {
            quote!(#layer_trait::visit_tensors(&self.#field, visit);)
        }
    });
    let visit_tensors_mut = layers.iter().zip(&names).map(|(l, name)| {
        let (field, layer_trait) = (&l.field, l.layer_trait());
        if l.kind.branches().is_empty() {
            quote!(#p::visit_prefixed_mut(#name, visit, |visit| #layer_trait::visit_tensors_mut(&mut self.#field, visit));)
        } else {
            quote!(#layer_trait::visit_tensors_mut(&mut self.#field, visit);)
        }
    });
    // Each layer's ONNX nodes in the scope of its name, as its tensors (a join's branches in
    // their own). Expands to:
    //     let x = graph.scoped("dense_1", |graph| Layer::onnx(&self.dense_1, graph, x))?;
    let onnx = layers.iter().zip(&names).map(|(l, name)| {
        let (field, layer_trait) = (&l.field, l.layer_trait());
        if l.kind.branches().is_empty() {
            quote!(let x = graph.scoped(#name, |graph| #layer_trait::onnx(&self.#field, graph, x))?;)
        } else {
            quote!(let x = #layer_trait::onnx(&self.#field, graph, x)?;)
        }
    });
    let visit_gradients: Vec<_> = layers
        .iter()
        .map(|l| l.assoc(quote!(visit_gradients)))
        .collect();
    // Each buffer's type involves its layer's `Out`: spanned on the layer, so that an error
    // about the layer points at it.
    let zeroed_buffers: Vec<_> = hidden
        .iter()
        .map(|l| {
            let p = private_at(l.span());
            quote_spanned!(l.span()=> #p::Buffer::zeroed())
        })
        .collect();

    // Forward: each layer reads the previous layer's output (the first reads `x`) and the last
    // writes `y`; a layer that reads the mask another layer made is given it first. Expands to:
    //     Layer::forward(&self.masking_1, x, &mut *tape.masking_1, &mut tape.masking_1_tape);
    //     Layer::set_input_mask::<NETDSL_BATCH>(&self.lstm_1, &mut tape.lstm_1_tape,
    //         <Masking<..> as Layer>::output_mask::<NETDSL_BATCH>(&tape.masking_1_tape));
    //     Layer::forward(&self.lstm_1, &*tape.masking_1, y, &mut tape.lstm_1_tape);
    let forward = layers.iter().enumerate().map(|(i, layer)| {
        let (field, tape, layer_trait) = (&layer.field, layer.tape_field(), layer.layer_trait());
        let x = if i == 0 {
            quote!(x)
        } else {
            let prev = &layers[i - 1].field;
            quote!(&*tape.#prev)
        };
        let x = layer.adapt_input(x);
        let y = if i + 1 == layers.len() {
            quote!(y)
        } else {
            quote!(&mut *tape.#field)
        };
        let mask = match &layer.mask {
            Some(Route::Layer(maker)) => {
                let maker = model.layer(maker);
                let (output_mask, maker_tape) =
                    (maker.assoc(quote!(output_mask::<#batch>)), maker.tape_field());
                quote!(#layer_trait::set_input_mask::<#batch>(&self.#field, &mut tape.#tape, #output_mask(&tape.#maker_tape));)
            }
            Some(Route::Input) | None => TokenStream::new(),
        };
        quote! {
            #mask
            #layer_trait::forward(&self.#field, #x, #y, &mut tape.#tape);
        }
    });
    let masks = masks(model);
    let given_mask = match model.output_mask {
        Some(OutputMask::Given { .. }) => quote!(netdsl_given_mask: #p::StepMask::new(),),
        _ => TokenStream::new(),
    };

    let infer = super::infer::items(model);

    // Backward, output layer first. Each layer receives dL/dz (the output layer's from the
    // caller) and writes dL/dy of the layer before it, which that layer's activation turns into
    // its own dL/dz, from the layer's outputs and what the activation kept in the layer's tape
    // (nothing, for most). Expands to:
    //     Layer::backward(&self.dense_2, &*tape.dense_1, dz, Some(&mut *tape.dense_1_grad), &mut grads.dense_2, &mut tape.dense_2_tape);
    //     <<Dense<..> as Layer>::Activation as Activation>::backprop_batch(&*tape.dense_1, <Dense<..> as Layer>::kept::<NETDSL_BATCH>(&tape.dense_1_tape), &mut *tape.dense_1_grad);
    //     Layer::backward(&self.dense_1, x, &*tape.dense_1_grad, dx, &mut grads.dense_1, &mut tape.dense_1_tape);
    let backward = layers.iter().enumerate().rev().map(|(i, layer)| {
        let (field, tape, layer_trait) = (&layer.field, layer.tape_field(), layer.layer_trait());
        let dz = if i + 1 == layers.len() { quote!(dz) } else { let g = layer.grad_field(); quote!(&*tape.#g) };
        if i == 0 {
            let dx = layer.adapt_input_mut(quote!(dx));
            let x = layer.adapt_input(quote!(x));
            return quote! {
                #layer_trait::backward(&self.#field, #x, #dz, dx.map(|dx| #dx), &mut grads.#field, &mut tape.#tape);
            };
        }
        let prev = &layers[i - 1];
        let (prev_field, prev_grad, prev_activation) = (&prev.field, prev.grad_field(), prev.assoc(quote!(Activation)));
        let (prev_kept, prev_tape) = (prev.assoc(quote!(kept::<#batch>)), prev.tape_field());
        let x = layer.adapt_input(quote!(&*tape.#prev_field));
        let dx = layer.adapt_input_mut(quote!(&mut *tape.#prev_grad));
        quote! {
            #layer_trait::backward(
                &self.#field,
                #x,
                #dz,
                ::core::option::Option::Some(#dx),
                &mut grads.#field,
                &mut tape.#tape,
            );
            <#prev_activation as #p::Activation>::backprop_batch(
                &*tape.#prev_field,
                #prev_kept(&tape.#prev_tape),
                &mut *tape.#prev_grad,
            );
        }
    });

    // Expands to: impl Layer for Mnist { ... } and impl Initialize for Mnist { ... }
    quote! {
        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic)]
        impl #p::Layer for #name {
            type In = #input_row;
            type Out = [f32; #output_width];
            type Activation = #output_activation;
            type Grads = #grads;
            type Tape<const #batch: usize> = #tape<#batch>;

            const KIND: &'static str = #name_str;

            fn new_tape<const #batch: usize>(&self) -> #tape<#batch> {
                #tape {
                    #( #hidden_fields: #zeroed_buffers, )*
                    #( #grad_fields: #zeroed_buffers, )*
                    #( #tape_fields: #layer_traits::new_tape::<#batch>(&self.#fields), )*
                    #given_mask
                }
            }

            fn forward<const #batch: usize>(
                &self,
                x: &[#input_row; #batch],
                y: &mut [[f32; #output_width]; #batch],
                tape: &mut #tape<#batch>,
            ) {
                #( #forward )*
            }

            #infer

            #masks

            /// What the output layer's activation kept.
            fn kept<const #batch: usize>(
                tape: &#tape<#batch>,
            ) -> &#p::Kept<#output_activation, [f32; #output_width], #batch> {
                #last_kept(&tape.#last_tape)
            }

            fn backward<const #batch: usize>(
                &self,
                x: &[#input_row; #batch],
                dz: &[[f32; #output_width]; #batch],
                dx: ::core::option::Option<&mut [#input_row; #batch]>,
                grads: &mut #grads,
                tape: &mut #tape<#batch>,
            ) {
                #( #backward )*
            }

            fn set_training<const #batch: usize>(&self, tape: &mut #tape<#batch>, training: bool) {
                #( #layer_traits::set_training::<#batch>(&self.#fields, &mut tape.#tape_fields, training); )*
            }

            fn set_precision<const #batch: usize>(
                &self,
                tape: &mut #tape<#batch>,
                precision: #p::Precision,
            ) {
                #( #layer_traits::set_precision::<#batch>(&self.#fields, &mut tape.#tape_fields, precision); )*
            }

            fn seed_tape<const #batch: usize>(&self, tape: &mut #tape<#batch>, stream: u64) {
                #( #layer_traits::seed_tape::<#batch>(&self.#fields, &mut tape.#tape_fields, stream); )*
            }

            fn set_rows<const #batch: usize>(&self, tape: &mut #tape<#batch>, rows: usize) {
                #( #layer_traits::set_rows::<#batch>(&self.#fields, &mut tape.#tape_fields, rows); )*
            }

            fn update_state<const #batch: usize>(
                &mut self,
                tape: &#tape<#batch>,
                thread: usize,
                threads: usize,
            ) {
                #( #layer_traits::update_state::<#batch>(&mut self.#fields, &tape.#tape_fields, thread, threads); )*
            }

            fn regularization(&self) -> f64 {
                0.0 #( + #layer_traits::regularization(&self.#fields) )*
            }

            fn regularize(&self, grads: &mut #grads, scale: f32) -> f64 {
                0.0 #( + #layer_traits::regularize(&self.#fields, &mut grads.#fields, scale) )*
            }

            fn new_grads(&self) -> #grads {
                #grads { #( #fields: #layer_traits::new_grads(&self.#fields), )* }
            }

            fn parameter_count(&self) -> usize {
                0 #( + #layer_traits::parameter_count(&self.#fields) )*
            }

            fn non_trainable_count(&self) -> usize {
                0 #( + #layer_traits::non_trainable_count(&self.#fields) )*
            }

            fn visit_non_trainable(&mut self, visit: &mut dyn ::core::ops::FnMut(&mut [f32])) {
                #( #layer_traits::visit_non_trainable(&mut self.#fields, visit); )*
            }

            fn visit_parameters(
                &mut self,
                grads: &mut #grads,
                visit: &mut dyn ::core::ops::FnMut(&mut [f32], &mut [f32]),
            ) {
                #( #layer_traits::visit_parameters(&mut self.#fields, &mut grads.#fields, visit); )*
            }

            fn visit_gradients(
                grads: &mut #grads,
                visit: &mut dyn ::core::ops::FnMut(&mut [f32]),
            ) -> bool {
                true #( && #visit_gradients(&mut grads.#fields, visit) )*
            }

            fn visit_tensors(&self, visit: &mut #p::TensorVisitor<'_>) {
                #( #visit_tensors )*
            }

            fn visit_tensors_mut(&mut self, visit: &mut #p::TensorVisitorMut<'_>) {
                #( #visit_tensors_mut )*
            }

            #p::with_onnx! {
                fn onnx(
                    &self,
                    graph: &mut #p::OnnxGraph,
                    x: #p::OnnxValue,
                ) -> ::core::result::Result<#p::OnnxValue, #p::OnnxError> {
                    #( #onnx )*
                    ::core::result::Result::Ok(x)
                }
            }
        }

        #p::with_alloc! {
            #[automatically_derived]
            impl #p::Initialize for #name {
                fn initialize<R: #p::Rng + ?::core::marker::Sized>(rng: &mut R) -> Self {
                    Self::new(rng)
                }
            }
        }
    }
}

/// The network's `set_input_mask`, handing its input's mask to the layers that read it (and
/// keeping a copy when it gives it back), and its `output_mask`, the mask its output carries;
/// nothing when it takes no mask and gives none (the trait's defaults). Expands to:
///     fn set_input_mask<const NETDSL_BATCH: usize>(&self, tape: &mut NetTape<NETDSL_BATCH>, mask: Option<&[bool]>) {
///         Layer::set_input_mask::<NETDSL_BATCH>(&self.lstm_1, &mut tape.lstm_1_tape, mask);
///     }
///     fn output_mask<const NETDSL_BATCH: usize>(tape: &NetTape<NETDSL_BATCH>) -> Option<&[bool]> {
///         <Masking<..> as Layer>::output_mask::<NETDSL_BATCH>(&tape.masking_1_tape)
///     }
fn masks(model: &Model) -> TokenStream {
    let batch = batch();
    let tape = format_ident!("{}Tape", model.name);
    let set_input_mask = model.takes_input_mask().then(|| {
        let readers = model.layers.iter().filter(|l| l.mask == Some(Route::Input));
        let calls = readers.map(|l| {
            let (field, tape, layer_trait) = (&l.field, l.tape_field(), l.layer_trait());
            quote!(#layer_trait::set_input_mask::<#batch>(&self.#field, &mut tape.#tape, mask);)
        });
        let keep = matches!(model.output_mask, Some(OutputMask::Given { .. }))
            .then(|| quote!(tape.netdsl_given_mask.set(mask);));
        quote! {
            fn set_input_mask<const #batch: usize>(
                &self,
                tape: &mut #tape<#batch>,
                mask: ::core::option::Option<&[bool]>,
            ) {
                #( #calls )*
                #keep
            }
        }
    });
    let output_mask = model.output_mask.as_ref().map(|output_mask| {
        let mask = match output_mask {
            OutputMask::Made(maker) => {
                let maker = model.layer(maker);
                let (output_mask, maker_tape) = (
                    maker.assoc(quote!(output_mask::<#batch>)),
                    maker.tape_field(),
                );
                quote!(#output_mask(&tape.#maker_tape))
            }
            OutputMask::Given { .. } => quote!(tape.netdsl_given_mask.flags()),
        };
        quote! {
            fn output_mask<const #batch: usize>(
                tape: &#tape<#batch>,
            ) -> ::core::option::Option<&[bool]> {
                #mask
            }
        }
    });
    quote!(#set_input_mask #output_mask)
}
