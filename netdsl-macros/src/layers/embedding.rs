//! `Embedding(vocabulary, features[, mask_zero = true])`: Keras' `Embedding(input_dim,
//! output_dim, mask_zero)`. It reads the network's input as token ids, so it comes first, and
//! the network's input type becomes `Tokens<steps, vocabulary>`. With `mask_zero`, id 0 is
//! padding, and its output carries the mask of the other steps.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Usage};
use crate::mask::MaskRule;
use crate::model::{Kind, Layer, Sequence, Shape};
use crate::tokens::{literal, private};

pub const EMBEDDING: Keyword = Keyword::call(
    Usage::new(
        "Embedding",
        "Embedding(1000, 64)",
        "the vocabulary size, the features of each token and the option `mask_zero`",
    ),
    "embedding",
    check,
);

/// The largest vocabulary: netdsl-core's `tokens::MAX_VOCABULARY`, the ids an `f32` holds
/// exactly.
const MAX_VOCABULARY: usize = 1 << 24;

struct Embedding {
    vocabulary: usize,
    output: Sequence,
    mask_zero: bool,
}

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    let vocabulary = args.literal("vocabulary size");
    let vocabulary_span = args.last_span();
    let features = args.literal("number of features");
    let mask_zero = args.flag("mask_zero", false);
    let steps = reads_the_input(cx);
    let (vocabulary, features, steps) = (vocabulary?, features?, steps?);
    if vocabulary > MAX_VOCABULARY {
        let message = format!(
            "{}: a vocabulary of {vocabulary} ids is more than netdsl's tokens hold; expected at most {MAX_VOCABULARY} (2^24, the integers an `f32` holds exactly)",
            cx.name()
        );
        cx.errors.push_spanned(vocabulary_span, message);
        return None;
    }
    cx.count("table", &[vocabulary, features])?;
    let output = Sequence::new(steps, features).or_else(|| {
        cx.count("output", &[steps, features]);
        None
    })?;
    let embedding = Embedding {
        vocabulary,
        output,
        mask_zero,
    };
    Checked::new(embedding, Shape::Sequence(output))
}

/// The number of tokens, if the layer reads the network's input as a vector of them; otherwise
/// `None` after saying what it reads instead.
fn reads_the_input(cx: &mut Cx) -> Option<usize> {
    let input = cx.input?;
    let message = match (cx.before.last(), input) {
        (None, Shape::Flat(width)) if cx.place.is_none() => match width.literal() {
            Some(steps) => return Some(steps),
            None => format!(
                "{}: the number of tokens must be an integer literal, found `{}`, so that the macro can work out the sequence it gives",
                cx.name(),
                width.text()
            ),
        },
        (None, other) if cx.place.is_none() => format!(
            "{} looks up token ids, found {} as the network's input; declare the input as the number of tokens of a sample, `{} => {}`",
            cx.name(),
            other.text(),
            other.flat().text(),
            cx.text()
        ),
        (Some(before), _) => format!(
            "{} looks up token ids, but `{}` (layer {}) gives floats; an `Embedding` reads the network's input: make it the first layer, `tokens => {} => ...`",
            cx.name(),
            before.text,
            before.position,
            cx.text()
        ),
        (None, _) => format!(
            "{} looks up token ids, but a branch is fed floats; an `Embedding` reads the network's input: make it the network's first layer, before the branches",
            cx.name()
        ),
    };
    cx.error(message);
    None
}

impl Kind for Embedding {
    /// `Embedding<T, V, D, N>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let Sequence { steps, features } = self.output;
        let args = [steps, self.vocabulary, features, self.output.len()].map(literal);
        private_type("Embedding", &args)
    }

    fn constructor(&self, layer: &Layer) -> TokenStream {
        let (ty, mask_zero) = (self.ty(layer), self.mask_zero);
        quote_spanned!(layer.span()=> <#ty>::keras_default(rng).with_mask_zero(#mask_zero))
    }

    fn mask_rule(&self) -> MaskRule {
        if self.mask_zero {
            MaskRule::Makes
        } else {
            MaskRule::Drops
        }
    }

    /// `Tokens<T, V>`.
    fn input_row(&self) -> Option<TokenStream> {
        let p = private();
        let [steps, vocabulary] = [self.output.steps, self.vocabulary].map(literal);
        Some(quote!(#p::Tokens<#steps, #vocabulary>))
    }
}
