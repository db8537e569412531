//! Single-sample inference (`Layer::infer`, so `Network::predict`): the hidden layers' buffers
//! on the stack when they fit netdsl-core's `INFER_STACK_BUDGET`, otherwise in the network's
//! `InferScratch`, allocated once with it. When every width is a literal and they fit the
//! budget, the macro puts them on the stack (and the network has no scratch field, so it can be
//! built with a struct literal, even in a `static`); otherwise rustc picks the path from the
//! widths and the budget, which depends on netdsl's features (without `std` there is no scratch
//! and the budget is unbounded), each path its own method so that the other's buffers are never
//! reserved.
//!
//! Masks go from layer to layer as in the forward pass: a layer whose mask another reads writes
//! it into a stack array of one flag per step (`Layer::infer_masked`), which the readers are
//! given. When the network reads its input's mask or gives its output's, it implements
//! `Layer::infer_masked` itself, and `infer` is that without a mask.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::mask::Route;
use crate::model::{Layer, Model, OutputMask, Shape};
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
    let on_stack = on_stack(model);
    let in_scratch = in_scratch(model);
    let on_stack_fn = signature(model, &format_ident!("netdsl_infer_on_stack"));
    let in_scratch_fn = signature(model, &format_ident!("netdsl_infer_in_scratch"));
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

        #on_stack_fn {
            #on_stack
        }

        #in_scratch_fn {
            #in_scratch
        }
    }
}

/// Whether masks cross the network's boundary: it takes its input's or gives its output's, and
/// implements `Layer::infer_masked`.
fn masks_cross(model: &Model) -> bool {
    model.takes_input_mask() || model.output_mask.is_some()
}

/// The signature of a single-sample path `name`: `infer`'s, or `infer_masked`'s when masks
/// cross the network's boundary (a mask parameter the network has no use for is `_`).
fn signature(model: &Model, name: &syn::Ident) -> TokenStream {
    let (input, output) = (
        model.input_row(),
        model.layers.last().map(|l| l.output.value()),
    );
    if !masks_cross(model) {
        return quote!(fn #name(&self, x: &#input, y: &mut [f32; #output]));
    }
    let mask = if model.takes_input_mask() {
        quote!(netdsl_mask)
    } else {
        quote!(_)
    };
    let output_mask = if model.output_mask.is_some() {
        quote!(netdsl_output_mask)
    } else {
        quote!(_)
    };
    quote! {
        fn #name(
            &self,
            x: &#input,
            #mask: ::core::option::Option<&[bool]>,
            y: &mut [f32; #output],
            #output_mask: &mut [bool],
        ) -> bool
    }
}

/// `Layer::infer`, and `Layer::infer_masked` when masks cross the network's boundary (then
/// `infer` is it without a mask). Expands to:
///     fn infer(&self, x: &[f32; 12], y: &mut [f32; 2]) { ... }
/// or
///     fn infer(&self, x: &[f32; 12], y: &mut [f32; 2]) { Layer::infer_masked(self, x, None, y, &mut []); }
///     fn infer_masked(&self, x: &[f32; 12], netdsl_mask: Option<&[bool]>, y: &mut [f32; 2], _: &mut [bool]) -> bool { ... }
pub fn items(model: &Model) -> TokenStream {
    let p = private();
    let (input, output) = (
        model.input_row(),
        model.layers.last().map(|l| l.output.value()),
    );
    let body = body(model);
    if !masks_cross(model) {
        return quote! {
            fn infer(&self, x: &#input, y: &mut [f32; #output]) {
                #body
            }
        };
    }
    let infer_masked = signature(model, &format_ident!("infer_masked"));
    quote! {
        fn infer(&self, x: &#input, y: &mut [f32; #output]) {
            #p::Layer::infer_masked(self, x, ::core::option::Option::None, y, &mut []);
        }

        #infer_masked {
            #body
        }
    }
}

/// The body of `Layer::infer`, or of `Layer::infer_masked` when masks cross the network's
/// boundary.
fn body(model: &Model) -> TokenStream {
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
        Storage::ChosenByRustc if !masks_cross(model) => quote! {
            if Self::NETDSL_INFER_ON_STACK {
                self.netdsl_infer_on_stack(x, y);
            } else {
                self.netdsl_infer_in_scratch(x, y);
            }
        },
        Storage::ChosenByRustc => {
            let mask = if model.takes_input_mask() {
                quote!(netdsl_mask)
            } else {
                quote!(::core::option::Option::None)
            };
            let output_mask = if model.output_mask.is_some() {
                quote!(netdsl_output_mask)
            } else {
                quote!(&mut [])
            };
            quote! {
                if Self::NETDSL_INFER_ON_STACK {
                    self.netdsl_infer_on_stack(x, #mask, y, #output_mask)
                } else {
                    self.netdsl_infer_in_scratch(x, #mask, y, #output_mask)
                }
            }
        }
    }
}

/// One sample in stack buffers. Expands to:
///     let mut dense_1: <Dense<..> as Layer>::Out = Zeroable::zeroed();
///     Layer::infer(&self.dense_1, x, &mut dense_1);
///     Layer::infer(&self.dense_2, &dense_1, y);
fn on_stack(model: &Model) -> TokenStream {
    let layers = &model.layers;
    let steps: TokenStream = layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let (field, row) = (&layer.field, layer.out_row());
            let zeroed = {
                let p = private_at(layer.span());
                quote_spanned!(layer.span()=> #p::Zeroable::zeroed())
            };
            let x = layer.adapt_input(previous_output(model, i, |field| quote!(&#field)));
            if i + 1 == layers.len() {
                call(model, layer, &x, &quote!(y))
            } else {
                let call = call(model, layer, &x, &quote!(&mut #field));
                quote! {
                    let mut #field: #row = #zeroed;
                    #call
                }
            }
        })
        .collect();
    let output_mask = output_mask(model);
    quote!(#steps #output_mask)
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
        let (field, row) = (&layer.field, layer.out_row());
        let x = layer.adapt_input(previous_output(model, i, |field| quote!(&*#field)));
        if i + 1 == layers.len() {
            call(model, layer, &x, &quote!(y))
        } else {
            let call = call(model, layer, &x, &quote!(#field));
            quote! {
                let (#field, netdsl_rest) = #p::InferScratch::take_row::<#row>(netdsl_rest);
                #call
            }
        }
    });
    let output_mask = output_mask(model);
    quote! {
        let mut netdsl_values = self.#scratch.lock();
        let netdsl_rest: &mut [f32] = &mut netdsl_values;
        #( #steps )*
        let _ = netdsl_rest;
        #output_mask
    }
}

/// One layer's call from `x` into `y`: `infer`, or `infer_masked` when it reads a mask or makes
/// one another layer reads, which it writes into a stack array of one flag per step of its
/// output. Expands to:
///     Layer::infer(&self.dense_1, x, &mut dense_1);
/// or
///     let mut masking_1_flags = [false; 28];
///     let masking_1_mask = Layer::infer_masked(&self.masking_1, x, None, &mut masking_1, &mut masking_1_flags)
///         .then_some(&masking_1_flags[..]);
///     Layer::infer_masked(&self.lstm_1, &masking_1, masking_1_mask, y, &mut []);
fn call(model: &Model, layer: &Layer, x: &TokenStream, y: &TokenStream) -> TokenStream {
    let (field, layer_trait) = (&layer.field, layer.layer_trait());
    let makes = model.mask_is_read(field);
    let reads = layer.mask.as_ref().map(|route| match route {
        Route::Input => quote!(netdsl_mask),
        Route::Layer(maker) => {
            let made = mask_of(maker);
            quote!(#made)
        }
    });
    if reads.is_none() && !makes {
        return quote!(#layer_trait::infer(&self.#field, #x, #y););
    }
    let mask = reads.unwrap_or_else(|| quote!(::core::option::Option::None));
    if !makes {
        return quote!(#layer_trait::infer_masked(&self.#field, #x, #mask, #y, &mut []););
    }
    let (flags, made) = (format_ident!("{field}_flags"), mask_of(field));
    let steps = match &layer.output_shape {
        Shape::Sequence(sequence) => literal(sequence.steps),
        // A layer given by name: as many flags as values, at least one per step.
        Shape::Flat(_) | Shape::Image(_) => {
            let (p, row) = (private(), layer.out_row());
            quote!(<#row as #p::Row>::WIDTH)
        }
    };
    quote! {
        let mut #flags = [false; #steps];
        let #made = #layer_trait::infer_masked(&self.#field, #x, #mask, #y, &mut #flags)
            .then_some(&#flags[..]);
    }
}

/// The local holding the mask the layer in `field` made, an `Option<&[bool]>`.
fn mask_of(field: &syn::Ident) -> syn::Ident {
    format_ident!("{field}_mask")
}

/// The end of `infer_masked`: the mask the output carries copied into `netdsl_output_mask`, and
/// whether there was one; nothing for `infer`. Expands to:
///     match masking_1_mask {
///         Some(flags) => { let n = ...; netdsl_output_mask[..n].copy_from_slice(&flags[..n]); n > 0 }
///         None => false,
///     }
fn output_mask(model: &Model) -> TokenStream {
    if !masks_cross(model) {
        return TokenStream::new();
    }
    let made = match &model.output_mask {
        Some(OutputMask::Made(maker)) => mask_of(maker),
        Some(OutputMask::Given { .. }) => format_ident!("netdsl_mask"),
        None => return quote!(false),
    };
    quote! {
        match #made {
            ::core::option::Option::Some(flags) => {
                let n = flags.len().min(netdsl_output_mask.len());
                netdsl_output_mask[..n].copy_from_slice(&flags[..n]);
                n > 0
            }
            ::core::option::Option::None => false,
        }
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
