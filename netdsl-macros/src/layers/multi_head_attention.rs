//! `MultiHeadAttention(heads = H[, key_dim = K][, causal = true])`: Keras' `MultiHeadAttention`
//! as self-attention on a sequence, keeping its shape. Without `key_dim`, each head gets an
//! equal share of the features, which must then divide among the heads.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{Checked, Cx, Keyword, private_type, sequence_type};
use crate::args::{Args, Usage};
use crate::ast::LayerArg;
use crate::mask::MaskRule;
use crate::model::{Kind, Layer, Sequence, Shape};
use crate::tokens::{literal, private};

pub const MULTI_HEAD_ATTENTION: Keyword = Keyword::call(
    Usage::new(
        "MultiHeadAttention",
        "MultiHeadAttention(heads = 4, key_dim = 16)",
        "the options `heads`, `key_dim` and `causal`",
    ),
    "multi_head_attention",
    check,
);

struct MultiHeadAttention {
    input: Sequence,
    heads: usize,
    key_dim: usize,
    causal: bool,
}

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    // 0 stands for "not given": a size option is at least 1.
    let heads = args.size_option("heads", 0);
    let key_dim = args.size_option("key_dim", 0);
    let causal = args.flag("causal", false);
    let input = cx.sequence();
    let (heads, key_dim, input) = (heads?, key_dim?, input?);
    if heads == 0 {
        let message = format!(
            "{} needs its number of heads, e.g. `MultiHeadAttention(heads = 4, key_dim = 16)`",
            cx.name()
        );
        cx.error(message);
        return None;
    }
    let key_dim = match key_dim {
        0 => split_features(cx, input, heads)?,
        given => given,
    };
    cx.count("kernels", &[input.features, heads, key_dim])?;
    cx.count("projections", &[input.steps, heads, key_dim])?;
    cx.count("scores", &[input.steps, input.steps])?;
    let attention = MultiHeadAttention {
        input,
        heads,
        key_dim,
        causal,
    };
    Checked::new(attention, Shape::Sequence(input))
}

/// Each head's share of `input`'s features, if they divide among `heads`; otherwise `None`
/// after saying so.
pub fn split_features(cx: &mut Cx, input: Sequence, heads: usize) -> Option<usize> {
    let features = input.features;
    if features.is_multiple_of(heads) {
        return Some(features / heads);
    }
    let message = format!(
        "{} on {}: {features} features do not split into {heads} heads; expected a number of heads dividing {features} ({}), or `key_dim` for projections of another width",
        cx.name(),
        Shape::Sequence(input).text(),
        divisors(features)
    );
    cx.error(message);
    None
}

/// The numbers that divide `n`, for messages: "1, 2, 4, 8".
pub fn divisors(n: usize) -> String {
    let divisors: Vec<String> = (1..=n)
        .filter(|&d| n.is_multiple_of(d))
        .map(|d| d.to_string())
        .collect();
    divisors.join(", ")
}

impl Kind for MultiHeadAttention {
    /// `MultiHeadAttention<Sequence<T, F, N>, Attention<H, K, TK, TT>, CAUSAL>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let p = private();
        let steps = self.input.steps;
        let [h, k, tk, tt] = [
            self.heads,
            self.key_dim,
            steps * self.heads * self.key_dim,
            steps * steps,
        ]
        .map(literal);
        let causal = self.causal;
        let args = [
            sequence_type(self.input),
            quote!(#p::Attention<#h, #k, #tk, #tt>),
            quote!(#causal),
        ];
        private_type("MultiHeadAttention", &args)
    }

    fn constructor(&self, layer: &Layer) -> TokenStream {
        let ty = self.ty(layer);
        quote_spanned!(layer.span()=> <#ty>::keras_default(rng))
    }

    /// Keras' attention leaves padded steps out of every step's attention, and its output
    /// carries the query's mask.
    fn mask_rule(&self) -> MaskRule {
        MaskRule::Reads { passes_on: true }
    }
}

/// How `CrossAttention` is written, for messages.
pub const CROSS_ATTENTION: Usage = Usage::new(
    "CrossAttention",
    "CrossAttention(Dense(64), Conv1D(64, 3), heads = 4, key_dim = 16)",
    "two branches, the query's and the value's, optionally a third, the key's, then the options `heads`, `key_dim` and `causal`",
);

/// `CrossAttention(query chain, value chain[, key chain], heads = H[, key_dim = K][, causal =
/// true])`: Keras' `MultiHeadAttention(H, K)(query, value[, key])`, the query the output of one
/// branch of the join's input, the value that of another and the key, if given, that of a
/// third (the value otherwise, Keras' default). Without `key_dim`, each head gets an equal
/// share of the query's features. The output has the query's shape.
pub struct Cross {
    query: Sequence,
    value: Sequence,
    key: Option<Sequence>,
    heads: usize,
    key_dim: usize,
    causal: bool,
}

impl Cross {
    /// The attention of the join `cx` over its branches' outputs `query` and `value`, with
    /// `options`; or `None` after saying what is wrong.
    pub fn check(
        cx: &mut Cx,
        options: &[LayerArg],
        query: &Shape,
        value: &Shape,
        key: Option<&Shape>,
    ) -> Option<Self> {
        let layer = cx.layer;
        let mut args = Args::new(&CROSS_ATTENTION, layer, options);
        let heads = args.size_option("heads", 0);
        let key_dim = args.size_option("key_dim", 0);
        let causal = args.flag("causal", false);
        cx.errors.extend(args.finish());
        let (heads, key_dim) = (heads?, key_dim?);
        let sequence = |cx: &mut Cx, shape: &Shape, which: &str| match shape {
            Shape::Sequence(sequence) => Some(*sequence),
            other => {
                let message = format!(
                    "{}: its {which} branch gives {}; attention reads sequences, so end the branch with a layer that gives steps of features (`Reshape(steps, features)` reads an image's rows or a vector's pieces as steps)",
                    cx.name(),
                    other.text()
                );
                cx.error(message);
                None
            }
        };
        let query = sequence(cx, query, "query");
        let value = sequence(cx, value, "value");
        let key = key.map(|key| sequence(cx, key, "key"));
        let (query, value) = (query?, value?);
        let key = match key {
            Some(key) => Some(key?),
            None => None,
        };
        if let Some(key) = key.filter(|key| key.steps != value.steps) {
            let message = format!(
                "{}: its key branch gives {} but its value branch gives {}; attention pairs each key with a value, so the key and value branches must give the same number of steps (their features may differ)",
                cx.name(),
                Shape::Sequence(key).text(),
                Shape::Sequence(value).text()
            );
            cx.error(message);
            return None;
        }
        if heads == 0 {
            let message = format!(
                "{} needs its number of heads, e.g. `{}`",
                cx.name(),
                CROSS_ATTENTION.example
            );
            cx.error(message);
            return None;
        }
        let key_dim = match key_dim {
            0 => split_features(cx, query, heads)?,
            given => given,
        };
        cx.count("query kernels", &[query.features, heads, key_dim])?;
        cx.count("value kernels", &[value.features, heads, key_dim])?;
        if let Some(key) = key {
            cx.count("key kernels", &[key.features, heads, key_dim])?;
        }
        cx.count(
            "projections",
            &[query.steps.max(value.steps), heads, key_dim],
        )?;
        cx.count("scores", &[query.steps, value.steps])?;
        cx.count(
            "inputs",
            &[query.len() + value.len() + key.map_or(0, |k| k.len())],
        )?;
        Some(Cross {
            query,
            value,
            key,
            heads,
            key_dim,
            causal,
        })
    }

    /// The values of a value sequence and a key sequence of its own, side by side.
    pub fn values_and_keys(&self) -> usize {
        self.value.len() + self.key.map_or(0, |key| key.len())
    }

    /// `MultiHeadAttention<Sequence<T_q, F_q, N_q>, CrossAttention<H, K, QK, VK, QV, IN>,
    /// CAUSAL, Sequence<T_v, F_v, N_v>[, Sequence<T_v, F_k, N_k>]>`.
    pub fn ty(&self) -> TokenStream {
        let p = private();
        let (q, v, hk) = (self.query, self.value, self.heads * self.key_dim);
        let [h, k, qk, vk, qv, input] = [
            self.heads,
            self.key_dim,
            q.steps * hk,
            v.steps * hk,
            q.steps * v.steps,
            q.len() + self.values_and_keys(),
        ]
        .map(literal);
        let causal = self.causal;
        let mut args = vec![
            sequence_type(q),
            quote!(#p::CrossAttention<#h, #k, #qk, #vk, #qv, #input>),
            quote!(#causal),
            sequence_type(v),
        ];
        args.extend(self.key.map(sequence_type));
        private_type("MultiHeadAttention", &args)
    }
}
