//! Single-sample inference (`Layer::infer`, so `Network::predict`): the hidden layers' buffers
//! on the stack when they fit netdsl-core's `INFER_STACK_BUDGET`, otherwise in the network's
//! `InferScratch`, allocated once with it. When every width is a literal and they fit the
//! budget, the macro puts them on the stack (and the network has no scratch field, so it can be
//! built with a struct literal, even in a `static`); otherwise rustc picks the path from the
//! widths and the budget, which depends on netdsl's features (without `std` there is no scratch
//! and the budget is unbounded), each path its own method so that the other's buffers are never
//! reserved.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use crate::model::Model;
use crate::tokens::{literal, private, private_at};

/// netdsl-core's `inference::INFER_STACK_BUDGET` with `std` (without it, the budget is
/// unbounded); the code generated for a network on the stack asserts that it fits.
const INFER_STACK_BUDGET: usize = 64 * 1024;

/// Where a network's hidden buffers for one sample go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Storage {
    /// On the stack: they fit the budget, whatever netdsl's features.
    Stack,
    /// Some width is only known to rustc, or the widths exceed the budget of a `std` build:
    /// rustc chooses, from the widths and the budget of the features in use.
    ChosenByRustc,
}

/// Where `model` keeps its buffers for one sample.
pub fn storage(model: &Model) -> Storage {
    let hidden = &model.layers[..model.layers.len() - 1];
    let literal_widths: Option<Vec<usize>> = hidden.iter().map(|l| l.output.literal()).collect();
    let Some(widths) = literal_widths else {
        return Storage::ChosenByRustc;
    };
    // Each width fits an array, so their sum in `u128` cannot overflow.
    let bytes: u128 = widths.iter().map(|&n| n as u128 * 4).sum();
    if bytes <= INFER_STACK_BUDGET as u128 {
        Storage::Stack
    } else {
        Storage::ChosenByRustc
    }
}

/// The network struct's field holding the scratch.
pub fn field() -> syn::Ident {
    quote::format_ident!("netdsl_infer")
}

/// The field's declaration in the network struct, if it has one.
pub fn field_declaration(model: &Model) -> TokenStream {
    if storage(model) == Storage::Stack {
        return TokenStream::new();
    }
    let (p, field) = (private(), field());
    quote! {
        /// The hidden layers' buffers of `infer`, when they are too large for the stack.
        #field: #p::InferScratch,
    }
}

/// The field's value in `new`: room for every hidden output, or nothing when rustc puts them on
/// the stack.
pub fn field_value(model: &Model) -> TokenStream {
    let (p, field) = (private(), field());
    match storage(model) {
        Storage::Stack => TokenStream::new(),
        Storage::ChosenByRustc => quote! {
            #field: #p::InferScratch::new(if Self::NETDSL_INFER_ON_STACK { 0 } else { Self::NETDSL_HIDDEN_VALUES }),
        },
    }
}

/// The inherent items: the size of the hidden buffers and, when rustc chooses, both paths.
pub fn inherent_items(model: &Model) -> TokenStream {
    let p = private();
    if storage(model) == Storage::Stack {
        return TokenStream::new();
    }
    let hidden = &model.layers[..model.layers.len() - 1];
    let widths = hidden.iter().map(|l| {
        let row = l.out_row();
        quote!(<#row as #p::Row>::WIDTH)
    });
    let values = quote! {
        /// The values of every hidden layer's output for one sample.
        const NETDSL_HIDDEN_VALUES: usize = 0 #( + #widths )*;
    };
    let (input, output) = (
        model.input_row(),
        model.layers.last().map(|l| l.output.value()),
    );
    let on_stack = on_stack(model);
    let in_scratch = in_scratch(model);
    // Expands to:
    //     const NETDSL_HIDDEN_VALUES: usize = 0 + <<Dense<..> as Layer>::Out as Row>::WIDTH;
    //     const NETDSL_INFER_ON_STACK: bool = NETDSL_HIDDEN_VALUES * 4 <= INFER_STACK_BUDGET;
    //     fn netdsl_infer_on_stack(&self, x, y) { ... }
    //     fn netdsl_infer_in_scratch(&self, x, y) { ... }
    quote! {
        #values
        /// Whether those fit netdsl-core's stack budget for inference.
        const NETDSL_INFER_ON_STACK: bool =
            Self::NETDSL_HIDDEN_VALUES * ::core::mem::size_of::<f32>() <= #p::INFER_STACK_BUDGET;

        fn netdsl_infer_on_stack(&self, x: &#input, y: &mut [f32; #output]) {
            #on_stack
        }

        fn netdsl_infer_in_scratch(&self, x: &#input, y: &mut [f32; #output]) {
            #in_scratch
        }
    }
}

/// The body of `Layer::infer`.
pub fn body(model: &Model) -> TokenStream {
    match storage(model) {
        Storage::Stack => {
            let p = private();
            let hidden = &model.layers[..model.layers.len() - 1];
            let values = literal(hidden.iter().filter_map(|l| l.output.literal()).sum());
            let on_stack = on_stack(model);
            quote! {
                const {
                    ::core::assert!(
                        #values * ::core::mem::size_of::<f32>() <= #p::INFER_STACK_BUDGET,
                        "netdsl's macro and runtime disagree on the stack budget of `infer`"
                    )
                };
                #on_stack
            }
        }
        Storage::ChosenByRustc => quote! {
            if Self::NETDSL_INFER_ON_STACK {
                self.netdsl_infer_on_stack(x, y);
            } else {
                self.netdsl_infer_in_scratch(x, y);
            }
        },
    }
}

/// One sample in stack buffers. Expands to:
///     let mut dense_1: <Dense<..> as Layer>::Out = Zeroable::zeroed();
///     Layer::infer(&self.dense_1, x, &mut dense_1);
///     Layer::infer(&self.dense_2, &dense_1, y);
fn on_stack(model: &Model) -> TokenStream {
    let layers = &model.layers;
    layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let (field, row, layer_trait) = (&layer.field, layer.out_row(), layer.layer_trait());
            let zeroed = {
                let p = private_at(layer.span());
                quote_spanned!(layer.span()=> #p::Zeroable::zeroed())
            };
            let x = layer.adapt_input(previous_output(model, i, |field| quote!(&#field)));
            if i + 1 == layers.len() {
                quote!(#layer_trait::infer(&self.#field, #x, y);)
            } else {
                quote! {
                    let mut #field: #row = #zeroed;
                    #layer_trait::infer(&self.#field, #x, &mut #field);
                }
            }
        })
        .collect()
}

/// One sample in the scratch, each hidden output a row taken from it in turn. Expands to:
///     let mut netdsl_values = self.netdsl_infer.lock();
///     let netdsl_rest: &mut [f32] = &mut netdsl_values;
///     let (dense_1, netdsl_rest) = InferScratch::take_row::<<Dense<..> as Layer>::Out>(netdsl_rest);
///     Layer::infer(&self.dense_1, x, dense_1);
///     Layer::infer(&self.dense_2, &*dense_1, y);
fn in_scratch(model: &Model) -> TokenStream {
    let (p, scratch) = (private(), field());
    let layers = &model.layers;
    let steps = layers.iter().enumerate().map(|(i, layer)| {
        let (field, row, layer_trait) = (&layer.field, layer.out_row(), layer.layer_trait());
        let x = layer.adapt_input(previous_output(model, i, |field| quote!(&*#field)));
        if i + 1 == layers.len() {
            quote!(#layer_trait::infer(&self.#field, #x, y);)
        } else {
            quote! {
                let (#field, netdsl_rest) = #p::InferScratch::take_row::<#row>(netdsl_rest);
                #layer_trait::infer(&self.#field, #x, #field);
            }
        }
    });
    quote! {
        let mut netdsl_values = self.#scratch.lock();
        let netdsl_rest: &mut [f32] = &mut netdsl_values;
        #( #steps )*
        let _ = netdsl_rest;
    }
}

/// The input of layer `i`: the sample, or the buffer of the layer before, borrowed by `borrow`.
fn previous_output(
    model: &Model,
    i: usize,
    borrow: impl Fn(&syn::Ident) -> TokenStream,
) -> TokenStream {
    match i.checked_sub(1) {
        None => quote!(x),
        Some(previous) => borrow(&model.layers[previous].field),
    }
}
