//! The `Network` impl: the summary. Everything else a network does is its `Layer` impl.

use std::cmp::Reverse;

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::{Layer, Model};
use crate::tokens::private;

pub fn generate(model: &Model) -> TokenStream {
    let p = private();
    let name = &model.name;
    let name_str = name.to_string();
    let (mut rows, _) = chain_rows(model, &quote!(self), 0);
    // Keras' functional model lists its layers farthest from the output first, and layers as far
    // from it (in parallel branches) branch by branch: a stable sort of the rows taken branch by
    // branch. A chain's rows are already in that order.
    rows.sort_by_key(|row| Reverse(row.depth));
    let rows = rows.iter().map(Row::summary);

    // Expands to: impl Network for Mnist { fn summary(&self) -> Summary { Summary { name, layers: vec![...] } } }
    quote! {
        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic)]
        impl #p::Network for #name {
            #p::with_alloc! {
                fn summary(&self) -> #p::Summary {
                    #p::Summary {
                        name: #name_str,
                        layers: #p::vec![#(#rows),*],
                    }
                }
            }
        }
    }
}

/// One row of the summary.
struct Row<'a> {
    /// The layer, or the join whose branches the row merges: its output shape is the row's.
    layer: &'a Layer,
    what: What,
    /// The most layers between the row's and the network's output, by which Keras orders them.
    depth: usize,
}

/// What a row shows.
enum What {
    /// A layer, by its value: `self.dense_1`, `self.add_1.first().dense_2`.
    Layer(TokenStream),
    /// A layer Keras merges a join's branches with: its name and kind, and its value in the
    /// join's if netdsl has one (`self.multi_head_attention_1.attention()`).
    Merge(String, &'static str, Option<TokenStream>),
}

/// The rows of the layers of `model`, reached through `value` (`self`, `self.add_1.first()`),
/// branch by branch, its last layer at `depth`; and the depth of its first layer.
fn chain_rows<'a>(model: &'a Model, value: &TokenStream, depth: usize) -> (Vec<Row<'a>>, usize) {
    let mut blocks = Vec::with_capacity(model.layers.len());
    let (mut depth, mut first) = (depth, depth);
    for layer in model.layers.iter().rev() {
        let field = &layer.field;
        let (block, top) = layer_rows(layer, quote!(#value.#field), depth);
        blocks.push(block);
        (first, depth) = (top, top + 1);
    }
    (blocks.into_iter().rev().flatten().collect(), first)
}

/// The rows of `layer`, whose value is `value` and whose output is at `depth`: one, or for a join
/// Keras builds of several layers, its branches' then its merges'; and the depth of its first.
fn layer_rows(layer: &Layer, value: TokenStream, depth: usize) -> (Vec<Row<'_>>, usize) {
    let Some(unfolded) = layer.kind.unfolded() else {
        let what = What::Layer(value);
        return (vec![Row { layer, what, depth }], depth);
    };
    // The merges are a chain after the branches, the last at `depth`.
    let branches = depth + unfolded.merges.len();
    let mut rows = Vec::new();
    let mut first = branches - 1;
    for (branch, path) in layer.kind.branches().iter().zip(&unfolded.paths) {
        let (branch_rows, branch_first) = chain_rows(branch, &quote!(#value #path), branches);
        rows.extend(branch_rows);
        first = first.max(branch_first);
    }
    rows.extend(unfolded.merges.iter().enumerate().map(|(i, merge)| {
        let value = merge.layer.as_ref().map(|path| quote!(#value #path));
        Row {
            layer,
            what: What::Merge(merge.name.clone(), merge.kind, value),
            depth: branches - 1 - i,
        }
    }));
    (rows, first)
}

impl Row<'_> {
    /// Expands to `LayerSummary { name: "dense_1", kind: <Dense<..> as Layer>::KIND,
    /// output_shape: vec![64], parameters: Layer::parameter_count(&self.dense_1), .. }`, or for
    /// a merge `LayerSummary { name: "add_1", kind: "Add", output_shape: vec![64], parameters: 0,
    /// non_trainable: 0 }`.
    fn summary(&self) -> TokenStream {
        let p = private();
        let shape = self.layer.output_dims();
        let (name, kind, parameters, non_trainable) = match &self.what {
            What::Layer(value) => {
                let layer_trait = self.layer.layer_trait();
                (
                    self.layer.field.to_string(),
                    self.layer.assoc(quote!(KIND)),
                    quote!(#layer_trait::parameter_count(&#value)),
                    quote!(#layer_trait::non_trainable_count(&#value)),
                )
            }
            What::Merge(name, kind, None) => (name.clone(), quote!(#kind), quote!(0), quote!(0)),
            What::Merge(name, kind, Some(value)) => (
                name.clone(),
                quote!(#kind),
                // `.attention()` gives a reference.
                quote!(#p::Layer::parameter_count(#value)),
                quote!(#p::Layer::non_trainable_count(#value)),
            ),
        };
        quote! {
            #p::LayerSummary {
                name: #name,
                kind: #kind,
                output_shape: #p::vec![#(#shape),*],
                parameters: #parameters,
                non_trainable: #non_trainable,
            }
        }
    }
}
