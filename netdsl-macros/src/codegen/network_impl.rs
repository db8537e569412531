//! The `Network` impl: the summary. Everything else a network does is its `Layer` impl.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Model;
use crate::tokens::private;

pub fn generate(model: &Model) -> TokenStream {
    let p = private();
    let Model { name, layers, .. } = model;
    let fields: Vec<_> = layers.iter().map(|l| &l.field).collect();
    let names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let kinds: Vec<_> = layers.iter().map(|l| l.assoc(quote!(KIND))).collect();
    let layer_traits: Vec<_> = layers.iter().map(|l| l.layer_trait()).collect();
    let shapes: Vec<_> = layers.iter().map(|l| l.output_dims()).collect();
    let name_str = name.to_string();

    // Expands to: impl Network for Mnist { fn summary(&self) -> Summary { Summary { name, layers: vec![...] } } }
    quote! {
        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic)]
        impl #p::Network for #name {
            #p::with_alloc! {
                fn summary(&self) -> #p::Summary {
                    #p::Summary {
                        name: #name_str,
                        layers: #p::vec![#(
                            #p::LayerSummary {
                                name: #names,
                                kind: #kinds,
                                output_shape: #p::vec![#(#shapes),*],
                                parameters: #layer_traits::parameter_count(&self.#fields),
                                non_trainable: #layer_traits::non_trainable_count(&self.#fields),
                            },
                        )*],
                    }
                }
            }
        }
    }
}
