//! Joins of branches: `Residual(chain, relu)` (`f(x + chain(x))`), `Add(chain, chain, ...)`,
//! `Concatenate(chain, chain, ...)` (on the last axis), and `Bidirectional(LSTM(32))`, Keras'
//! wrapper with its `concat` merge: the layer over the sequence, concatenated with a copy of
//! it over the reversed sequence (`Reverse => LSTM(32)`, and `=> Reverse` again when it returns
//! every step, so that step `t` of both lines up). Each branch is checked as a network of
//! its own from the join's input, numbered with the network around it (`conv2d_2` after
//! `conv2d_1`, as Keras names them) and generated as a network struct
//! (`NetResidual1`, `NetConcatenate1Branch2`); the join is netdsl-core's `Residual` or nested
//! pairs of its `Join`.
//!
//! A join gives the mask of its input to its branches, as Keras gives a tensor's mask to every
//! layer reading it, and its output carries the mask Keras' merge gives (the mask the branches
//! share), or with `Bidirectional` the input's when it returns every step. Keras' `Bidirectional`
//! sets its layers' `zero_output_for_mask` to their `return_sequences`, and so does this one.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use super::multi_head_attention::Cross;
use super::{Checked, Cx};
use crate::ast::{LayerArg, LayerDef, LayerKindDef, OptionValue};
use crate::check;
use crate::mask::{self, JoinOutput, MaskRule};
use crate::model::{
    Activation, Image, Kind, Layer, Merge, Model, Sequence, Shape, Unfolded, Width,
};
use crate::parse::join_example;
use crate::tokens::{literal, private};

/// How branches are joined.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// `f(x + chain(x))`.
    Residual,
    /// Value by value.
    Add,
    /// Along the last axis.
    Concatenate,
    /// A recurrent layer forwards and backwards, concatenated.
    Bidirectional,
    /// A query branch attending to a value branch.
    CrossAttention,
}

/// The field name Keras gives the join: `residual_1`, `add_1`, `concatenate_1`.
pub fn field(keyword: &Ident) -> &'static str {
    match rule(keyword) {
        Rule::Residual => "residual",
        Rule::Add => "add",
        Rule::Concatenate => "concatenate",
        Rule::Bidirectional => "bidirectional",
        Rule::CrossAttention => "multi_head_attention",
    }
}

fn rule(keyword: &Ident) -> Rule {
    if keyword == "Residual" {
        Rule::Residual
    } else if keyword == "Add" {
        Rule::Add
    } else if keyword == "Bidirectional" {
        Rule::Bidirectional
    } else if keyword == "CrossAttention" {
        Rule::CrossAttention
    } else {
        Rule::Concatenate
    }
}

/// The join and its output, or `None` after reporting what is wrong with it or its branches.
pub fn check(
    cx: &mut Cx,
    keyword: &Ident,
    branches: &[Vec<LayerDef>],
    activation: Option<&Ident>,
    options: &[LayerArg],
) -> Option<Checked> {
    let rule = rule(keyword);
    let example = join_example(keyword);
    let mut well_formed = true;
    if rule != Rule::CrossAttention && !options.is_empty() {
        let message = format!(
            "{} takes no options; `{keyword}` is written `{example}`",
            cx.name()
        );
        cx.error(message);
        well_formed = false;
    }
    let (wrapped, return_sequences);
    let branches = match rule {
        Rule::Bidirectional => {
            (wrapped, return_sequences) = bidirectional(cx, branches)?;
            &wrapped[..]
        }
        _ => {
            return_sequences = false;
            branches
        }
    };
    match rule {
        Rule::Residual if branches.len() != 1 => {
            let message = format!(
                "{} takes one chain of layers and an optional activation, found {} branches; join several branches with `Add` or `Concatenate`, e.g. `{example}`",
                cx.name(),
                branches.len()
            );
            cx.error(message);
            well_formed = false;
        }
        Rule::CrossAttention if !(2..=3).contains(&branches.len()) => {
            let message = format!(
                "{} takes two branches, the query's and the value's, and optionally a third, the key's; found {}; e.g. `{example}`",
                cx.name(),
                branches.len()
            );
            cx.error(message);
            well_formed = false;
        }
        Rule::Add | Rule::Concatenate if branches.len() < 2 => {
            let message = format!(
                "{} joins two or more branches, found one; a block that adds its input to a chain's output is `Residual`, e.g. `{}`",
                cx.name(),
                join_example(&Ident::new("Residual", keyword.span()))
            );
            cx.error(message);
            well_formed = false;
        }
        _ => {}
    }
    let activation = match (rule, activation) {
        (_, None) => Activation::Linear,
        (Rule::Residual, Some(name)) => {
            Activation::from_keyword(&name.to_string()).expect("the parser takes activations only")
        }
        (_, Some(name)) => {
            let message = format!(
                "{} has no activation, found `{name}`; Keras' `{keyword}` has none either: give the layer after it one, or the last layer of each branch",
                cx.name()
            );
            cx.errors.push_spanned(name.span(), message);
            Activation::Linear
        }
    };

    let input = cx.input.cloned();
    let mut models = Vec::with_capacity(branches.len());
    let mut outputs = Vec::with_capacity(branches.len());
    let mut masks = Vec::with_capacity(branches.len());
    let join = cx.name();
    for (index, branch) in branches.iter().enumerate() {
        let name = branch_name(cx.network, cx.field, rule, index, branches.len());
        let place = match (rule, index) {
            (Rule::Residual, _) => format!("the chain of {join}"),
            (Rule::Bidirectional, 0) => format!("the forward line of {join}"),
            (Rule::Bidirectional, _) => format!("the backward line of {join}"),
            (Rule::CrossAttention, 0) => format!("the query branch of {join}"),
            (Rule::CrossAttention, 1) => format!("the value branch of {join}"),
            (Rule::CrossAttention, _) => format!("the key branch of {join}"),
            _ => format!("branch {} of {join}", index + 1),
        };
        let errors_before = cx.errors.count();
        let chain = check::chain(
            &name,
            Some(&place),
            cx.vis,
            (input.clone(), cx.mask.for_branch()),
            branch,
            cx.counts,
            cx.errors,
        );
        let (Some(input), Some(output)) = (&input, chain.output.clone()) else {
            well_formed = false;
            continue;
        };
        if chain.layers.len() < branch.len() || cx.errors.count() > errors_before {
            well_formed = false;
            continue;
        }
        outputs.push(output);
        masks.push(chain.mask.clone());
        let doc = format!(
            "Branch {} of `{}` (layer {} of `{}`): a network from the join's input.",
            index + 1,
            cx.text(),
            cx.position,
            cx.network
        );
        models.push(Model {
            attrs: vec![syn::parse_quote!(#[doc = #doc])],
            vis: cx.vis.clone(),
            name,
            input: input.flat(),
            // What the join's output carries is worked out from the branches' masks above.
            output_mask: None,
            layers: chain.layers,
        });
    }
    let input = input?;
    if !well_formed {
        return None;
    }
    let mut cross = None;
    let output = match rule {
        Rule::CrossAttention => {
            let attention = Cross::check(cx, options, &outputs[0], &outputs[1], outputs.get(2))?;
            let output = outputs[0].clone();
            cross = Some(attention);
            output
        }
        Rule::Residual => {
            let output = &outputs[0];
            if let Some(changed) = differs(&input, output) {
                let message = format!(
                    "{}: its chain changes {} into {changed}; a residual block adds the chain's output to its input, so the chain must give {}: end it with a layer of that shape",
                    cx.name(),
                    input.text(),
                    input.text()
                );
                cx.error(message);
                return None;
            }
            input.clone()
        }
        Rule::Add => {
            for (index, output) in outputs.iter().enumerate().skip(1) {
                if let Some(other) = differs(&outputs[0], output) {
                    let message = format!(
                        "{}: its branch 1 gives {} but branch {} gives {other}; `Add` adds values one for one, so every branch must end in the same shape",
                        cx.name(),
                        outputs[0].text(),
                        index + 1
                    );
                    cx.error(message);
                    return None;
                }
            }
            outputs[0].clone()
        }
        Rule::Concatenate | Rule::Bidirectional => concatenated(cx, &outputs)?,
    };
    let positions = positions(&output);
    // Numbered once the branches are, as Keras numbers the layers of the model written out.
    let merge = |name: String, kind| Merge {
        name,
        kind,
        layer: None,
    };
    let merges = match rule {
        Rule::Residual if activation != Activation::Linear => vec![
            merge(cx.field.to_string(), "Add"),
            merge(check::numbered("activation", cx.counts), "Activation"),
        ],
        Rule::Residual | Rule::Add => vec![merge(cx.field.to_string(), "Add")],
        Rule::Concatenate => vec![merge(cx.field.to_string(), "Concatenate")],
        Rule::Bidirectional => Vec::new(),
        Rule::CrossAttention => vec![Merge {
            name: cx.field.to_string(),
            kind: "MultiHeadAttention",
            layer: Some(quote!(.attention())),
        }],
    };
    let mask_output = match rule {
        Rule::Bidirectional if return_sequences => JoinOutput::Input,
        Rule::Bidirectional => JoinOutput::Nothing,
        Rule::Residual => mask::merged(&masks, true),
        Rule::Add | Rule::Concatenate => mask::merged(&masks, false),
        Rule::CrossAttention => JoinOutput::Nothing,
    };
    let mask_rule = if rule == Rule::CrossAttention && masks.iter().any(|m| m.mask().is_some()) {
        MaskRule::CannotRead("to leave padded steps out of the attention")
    } else {
        MaskRule::Join {
            reads: models.iter().any(Model::reads_input_mask),
            output: mask_output,
        }
    };
    Checked::new(
        Join {
            rule,
            activation,
            models,
            positions,
            merges,
            mask_rule,
            cross,
        },
        output,
    )
}

/// The two lines of `Bidirectional(layer)`: `[layer]` and `[Reverse, layer]`, with `Reverse`
/// again after a layer that returns every step, and whether it does; or `None` after saying
/// that it wraps something other than one recurrent layer. Both copies of the layer output
/// zeros over padded steps when they return every step, as Keras' wrapper sets them.
fn bidirectional(cx: &mut Cx, branches: &[Vec<LayerDef>]) -> Option<(Vec<Vec<LayerDef>>, bool)> {
    let recurrent = ["SimpleRNN", "LSTM", "GRU"];
    let layer = match branches {
        [chain] if chain.len() == 1 => &chain[0],
        _ => {
            let message = format!(
                "{} wraps one recurrent layer, found {}; write `Bidirectional(LSTM(32))`, then the layers after it",
                cx.name(),
                if branches.len() > 1 {
                    "several branches"
                } else {
                    "a chain of layers"
                }
            );
            cx.error(message);
            return None;
        }
    };
    let return_sequences = match &layer.kind {
        LayerKindDef::Call { keyword, args } if recurrent.iter().any(|r| keyword == r) => {
            args.iter().any(|arg| {
                matches!(arg, LayerArg::Named { name, value: OptionValue::Bool(value) }
                    if name == "return_sequences" && value.value)
            })
        }
        _ => {
            let message = format!(
                "{} wraps a recurrent layer (`SimpleRNN`, `LSTM` or `GRU`), found `{}`",
                cx.name(),
                layer.text
            );
            cx.errors
                .push(syn::Error::new_spanned(&layer.tokens, message));
            return None;
        }
    };
    let reverse = LayerDef {
        kind: LayerKindDef::Named(syn::Path::from(syn::Ident::new(
            "Reverse",
            first_span(layer),
        ))),
        tokens: layer.tokens.clone(),
        text: "Reverse".to_owned(),
    };
    let layer = zero_output_for_mask(layer, return_sequences);
    let mut backward = vec![reverse.clone(), layer.clone()];
    if return_sequences {
        backward.push(reverse);
    }
    Some((vec![vec![layer], backward], return_sequences))
}

/// The recurrent layer `layer` with its option `zero_output_for_mask = zero` (in place of any
/// given).
fn zero_output_for_mask(layer: &LayerDef, zero: bool) -> LayerDef {
    let span = first_span(layer);
    let mut layer = layer.clone();
    if let LayerKindDef::Call { args, .. } = &mut layer.kind {
        let name = "zero_output_for_mask";
        args.retain(|arg| !matches!(arg, LayerArg::Named { name: given, .. } if given == name));
        args.push(LayerArg::Named {
            name: Ident::new(name, span),
            value: OptionValue::Bool(syn::LitBool::new(zero, span)),
        });
    }
    layer
}

/// The span of a layer's first token, its keyword.
fn first_span(layer: &LayerDef) -> proc_macro2::Span {
    layer
        .tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(proc_macro2::Span::call_site, |t| t.span())
}

/// `NetResidual1`, `NetAdd1Branch2`: the network struct of a branch.
fn branch_name(network: &Ident, field: &Ident, rule: Rule, index: usize, count: usize) -> Ident {
    let camel: String = field
        .to_string()
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect();
    if rule == Rule::Residual || count == 1 {
        format_ident!("{network}{camel}", span = field.span())
    } else if rule == Rule::Bidirectional {
        let line = if index == 0 { "Forward" } else { "Backward" };
        format_ident!("{network}{camel}{line}", span = field.span())
    } else {
        format_ident!("{network}{camel}Branch{}", index + 1, span = field.span())
    }
}

/// How `b` differs from `a`, for messages ("an 8×8×16 image"), or `None` when they are the same
/// shape as far as the macro knows (widths it cannot see are rustc's to compare).
fn differs(a: &Shape, b: &Shape) -> Option<String> {
    let same = match (a, b) {
        (Shape::Flat(x), Shape::Flat(y)) => match (x.literal(), y.literal()) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        },
        (Shape::Image(x), Shape::Image(y)) => x == y,
        (Shape::Sequence(x), Shape::Sequence(y)) => x == y,
        _ => false,
    };
    (!same).then(|| b.text())
}

/// The branches' outputs side by side on their last axis: the same positions, their channels
/// (features, values) added up.
fn concatenated(cx: &mut Cx, outputs: &[Shape]) -> Option<Shape> {
    let mismatch = |cx: &mut Cx, index: usize| {
        let message = format!(
            "{}: its branch 1 gives {} but branch {} gives {}; `Concatenate` joins along the last axis, so the branches must agree on every other (the same height and width for images, the same steps for sequences)",
            cx.name(),
            outputs[0].text(),
            index + 1,
            outputs[index].text()
        );
        cx.error(message);
    };
    match &outputs[0] {
        Shape::Flat(_) => {
            let mut sum: Vec<TokenStream> = Vec::new();
            let mut literal_sum = Some(0_usize);
            for (index, output) in outputs.iter().enumerate() {
                let Shape::Flat(width) = output else {
                    mismatch(cx, index);
                    return None;
                };
                literal_sum = literal_sum.zip(width.literal()).map(|(a, b)| a + b);
                let value = width.value();
                sum.push(quote!((#value)));
            }
            Some(Shape::Flat(match literal_sum {
                Some(n) => Width::Literal(n, cx.field.span()),
                None => Width::Expr(syn::parse_quote!(#(#sum)+*)),
            }))
        }
        Shape::Image(first) => {
            let mut channels = 0;
            for (index, output) in outputs.iter().enumerate() {
                match output {
                    Shape::Image(image)
                        if (image.height, image.width) == (first.height, first.width) =>
                    {
                        channels += image.channels;
                    }
                    _ => {
                        mismatch(cx, index);
                        return None;
                    }
                }
            }
            Image::new(first.height, first.width, channels).map(Shape::Image)
        }
        Shape::Sequence(first) => {
            let mut features = 0;
            for (index, output) in outputs.iter().enumerate() {
                match output {
                    Shape::Sequence(sequence) if sequence.steps == first.steps => {
                        features += sequence.features;
                    }
                    _ => {
                        mismatch(cx, index);
                        return None;
                    }
                }
            }
            Sequence::new(first.steps, features).map(Shape::Sequence)
        }
    }
}

/// The positions along which `Concatenate` interleaves: pixels, steps, or one for a vector.
fn positions(shape: &Shape) -> usize {
    match shape {
        Shape::Flat(_) => 1,
        Shape::Image(image) => image.height * image.width,
        Shape::Sequence(sequence) => sequence.steps,
    }
}

/// A checked join: its branches as networks.
struct Join {
    rule: Rule,
    activation: Activation,
    models: Vec<Model>,
    positions: usize,
    /// The rows `summary()` shows after the branches' ([`Unfolded::merges`]): Keras' `Add` or
    /// `Concatenate`, and the `Activation` after a residual block's `Add` unless it is linear,
    /// or the `MultiHeadAttention` of a cross-attention; none for `Bidirectional`, one row.
    merges: Vec<Merge>,
    /// What the join does with its input's mask, worked out from its branches'.
    mask_rule: MaskRule,
    /// A cross-attention's attention.
    cross: Option<Cross>,
}

impl Join {
    /// The join of the branches from `index` on: the last one alone, or `Join<first, rest>`.
    fn nested(&self, index: usize) -> TokenStream {
        let p = private();
        let branch = &self.models[index].name;
        if index + 1 == self.models.len() {
            return quote!(#branch);
        }
        let rest = self.nested(index + 1);
        match self.rule {
            Rule::Residual | Rule::Add => quote!(#p::Add<#branch, #rest>),
            Rule::CrossAttention => {
                let cross = self.cross.as_ref().expect("checked");
                let attention = cross.ty();
                // With keys of their own, the value and key branches are a pair themselves.
                let values = match &self.models[index + 1..] {
                    [_, key] => {
                        let (value, key) = (&self.models[index + 1].name, &key.name);
                        let width = literal(cross.values_and_keys());
                        quote!(#p::Join<#p::Pair<[f32; #width]>, #value, #key>)
                    }
                    _ => rest,
                };
                quote!(#p::Attend<#branch, #values, #attention>)
            }
            Rule::Concatenate | Rule::Bidirectional => {
                let widths = self.models[index..].iter().map(|m| {
                    let name = &m.name;
                    quote!(<<#name as #p::Layer>::Out as #p::Row>::WIDTH)
                });
                let positions = literal(self.positions);
                let join = if self.rule == Rule::Bidirectional {
                    quote!(Bidirectional)
                } else {
                    quote!(Concatenate)
                };
                quote!(#p::#join<#branch, #rest, [f32; 0 #(+ #widths)*], #positions>)
            }
        }
    }
}

impl Kind for Join {
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let p = private();
        match self.rule {
            Rule::Residual => {
                let (branch, activation) = (&self.models[0].name, self.activation.ty());
                quote!(#p::Residual<#branch, #activation>)
            }
            Rule::Add | Rule::Concatenate | Rule::Bidirectional | Rule::CrossAttention => {
                self.nested(0)
            }
        }
    }

    fn activation(&self) -> TokenStream {
        self.activation.ty()
    }

    /// A cross-attention's attention is named as its field: `multi_head_attention_1`.
    fn constructor(&self, layer: &Layer) -> TokenStream {
        let (p, ty) = (private(), self.ty(layer));
        let value = quote!(<#ty as #p::Initialize>::initialize(rng));
        match self.rule {
            Rule::CrossAttention => {
                let name = layer.field.to_string();
                quote!(#value.named(#name))
            }
            _ => value,
        }
    }

    fn branches(&self) -> &[Model] {
        &self.models
    }

    /// The residual's chain is `.inner()`; of nested pairs, branch `i` is `.second()` `i` times,
    /// then `.first()` but for the last.
    fn unfolded(&self) -> Option<Unfolded<'_>> {
        if self.merges.is_empty() {
            return None;
        }
        let last = self.models.len() - 1;
        let paths = (0..=last)
            .map(|i| match self.rule {
                Rule::Residual => quote!(.inner()),
                Rule::CrossAttention if i == 0 => quote!(.query()),
                Rule::CrossAttention if last == 1 => quote!(.value()),
                Rule::CrossAttention if i == 1 => quote!(.value().first()),
                Rule::CrossAttention => quote!(.value().second()),
                _ => {
                    let seconds = std::iter::repeat_n(quote!(.second()), i);
                    let first = (i < last).then(|| quote!(.first()));
                    quote!(#(#seconds)* #first)
                }
            })
            .collect();
        Some(Unfolded {
            paths,
            merges: &self.merges,
        })
    }

    fn mask_rule(&self) -> MaskRule {
        self.mask_rule.clone()
    }
}
