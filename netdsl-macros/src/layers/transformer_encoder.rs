//! `TransformerEncoder(heads = H, ff = D[, activation][, key_dim = K][, norm = post|pre]
//! [, causal = true])`: keras_hub's `TransformerEncoder`, written out as the layers it is made
//! of, so that each is checked, named, saved and summarised like any other:
//!
//! - `norm = post` (keras_hub's default, `normalize_first=False`):
//!   `Residual(MultiHeadAttention(heads = H, key_dim = K)) => LayerNormalization(epsilon = 1e-5)
//!   => Residual(Dense(D, relu) => Dense(F)) => LayerNormalization(epsilon = 1e-5)`;
//! - `norm = pre` (`normalize_first=True`): `Residual(LayerNormalization(epsilon = 1e-5) =>
//!   MultiHeadAttention(..)) => Residual(LayerNormalization(epsilon = 1e-5) => Dense(D, relu)
//!   => Dense(F))`.
//!
//! `F` is the sequence's features, `K = F / H` unless given (and `H · K` must then be `F`, as
//! keras_hub computes it), the activation `relu` unless given.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

use crate::args::{Args, Usage};
use crate::ast::{LayerDef, LayerKindDef};
use crate::errors::Errors;
use crate::model::{Activation, Shape, layer_place};
use crate::tokens::literal;

/// The keyword.
pub const NAME: &str = "TransformerEncoder";

const USAGE: Usage = Usage::new(
    NAME,
    "TransformerEncoder(heads = 4, ff = 128)",
    "the options `heads`, `ff`, `key_dim`, `norm` and `causal`, and an activation for its feed-forward layer",
);

/// Whether `layer` is written `TransformerEncoder(..)`.
pub fn is_written(layer: &LayerDef) -> bool {
    matches!(&layer.kind, LayerKindDef::Call { keyword, .. } if keyword == NAME)
}

/// Where the layers go relative to the residual additions.
#[derive(Clone, Copy)]
enum Norm {
    Post,
    Pre,
}

/// The layers `layer` stands for, on `input` (layer `position` of `network`, or of the branch
/// at `place`), or `None` after reporting what is wrong with it.
pub fn expand(
    network: &Ident,
    place: Option<&str>,
    position: usize,
    layer: &LayerDef,
    input: Option<&Shape>,
    errors: &mut Errors,
) -> Option<Vec<LayerDef>> {
    let LayerKindDef::Call { args, .. } = &layer.kind else {
        return None;
    };
    let name = match place {
        Some(place) => format!("`{}` (layer {position} of {place})", layer.text),
        None => layer_place(position, network, &layer.text),
    };
    let mut args = Args::new(&USAGE, layer, args);
    // 0 stands for "not given": a size option is at least 1.
    let heads = args.size_option("heads", 0);
    let ff = args.size_option("ff", 0);
    let key_dim = args.size_option("key_dim", 0);
    let activation = args.activation(Activation::Relu);
    let norm = args.choice(
        "norm",
        &[("post", Norm::Post), ("pre", Norm::Pre)],
        Norm::Post,
    );
    let causal = args.flag("causal", false);
    errors.extend(args.finish());
    let (heads, ff, key_dim) = (heads?, ff?, key_dim?);
    let mut fail = |message: String| {
        errors.push(syn::Error::new_spanned(&layer.tokens, message));
        None
    };
    if heads == 0 || ff == 0 {
        return fail(format!(
            "{name} needs its number of heads and the units of its feed-forward layer, e.g. `{}`",
            USAGE.example
        ));
    }
    let sequence = match input? {
        Shape::Sequence(sequence) => *sequence,
        other => {
            let fix = match other {
                Shape::Image(image) => format!(
                    "add `Reshape({}, {})` before it to read the image's rows as steps",
                    image.height,
                    image.width * image.channels
                ),
                _ => "declare the network's input as `(steps, features)` or add `Reshape(steps, features)` before it".to_owned(),
            };
            return fail(format!(
                "{name} needs a sequence, found {}; {fix}",
                other.text()
            ));
        }
    };
    let features = sequence.features;
    let key_dim = match key_dim {
        0 if features.is_multiple_of(heads) => features / heads,
        0 => {
            return fail(format!(
                "{name} on {}: {features} features do not split into {heads} heads; expected a number of heads dividing {features} ({})",
                Shape::Sequence(sequence).text(),
                super::multi_head_attention::divisors(features)
            ));
        }
        given if given * heads != features => {
            return fail(format!(
                "{name} on {}: {heads} heads of `key_dim = {given}` project to {} values, not the {features} features the block adds back to; expected `key_dim = {}` or none",
                Shape::Sequence(sequence).text(),
                heads * given,
                features / heads.max(1)
            ));
        }
        given => given,
    };
    let span = layer
        .tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span());
    let [heads, key_dim, ff, features] = [heads, key_dim, ff, features].map(literal);
    let activation = Ident::new(activation.keyword(), span);
    let causal = causal.then(|| quote!(, causal = true));
    let attention = quote!(MultiHeadAttention(heads = #heads, key_dim = #key_dim #causal));
    let feed_forward = quote!(Dense(#ff, #activation) => Dense(#features));
    let normalization = quote!(LayerNormalization(epsilon = 1e-5));
    let written: Vec<TokenStream> = match norm {
        Norm::Post => vec![
            quote!(Residual(#attention)),
            normalization.clone(),
            quote!(Residual(#feed_forward)),
            normalization,
        ],
        Norm::Pre => vec![
            quote!(Residual(#normalization => #attention)),
            quote!(Residual(#normalization => #feed_forward)),
        ],
    };
    written
        .into_iter()
        .map(|tokens| {
            // Every token points at the `TransformerEncoder(..)` written by the user.
            let parsed = syn::parse2::<LayerDef>(respan(tokens, span));
            Some(parsed.expect("the expansion is well formed"))
        })
        .collect()
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = proc_macro2::TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}
