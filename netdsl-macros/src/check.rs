//! Semantics: each layer checked by its kind (see `layers/`), its input the output of the layer
//! before, into the [`Model`]. Errors are collected, not returned at the first: one compile
//! lists every bad layer.

use std::collections::VecDeque;

use syn::ext::IdentExt;
use syn::{Ident, LitInt};

use crate::args::{self, Args};
use crate::ast::{InputShape, LayerDef, LayerKindDef, NetworkDef};
use crate::errors::Errors;
use crate::layers::{self, Checked, Cx, KEYWORDS, transformer_encoder};
use crate::mask::{self, At, MaskState, Route};
use crate::model::{Image, Layer, Model, Outline, OutputMask, Sequence, Shape, one_of};

/// A network that failed its checks: every error, and its outline when its input and output
/// are known despite them (for a stub with its widths).
pub struct Failed {
    pub error: syn::Error,
    pub outline: Option<Box<Outline>>,
}

/// Checks one network definition.
pub fn network(def: &NetworkDef) -> Result<Model, Failed> {
    let mut errors = Errors::default();
    let input = input_shape(def, &mut errors);
    let mut counts = Vec::new();
    let checked = chain(
        &def.name,
        None,
        &def.vis,
        (input.clone(), MaskState::given(&def.name)),
        &def.layers,
        &mut counts,
        &mut errors,
    );
    let Err(error) = errors.finish() else {
        let input = input.expect("an input that fails its checks reports why");
        return Ok(Model {
            attrs: def.attrs.clone(),
            vis: def.vis.clone(),
            name: def.name.clone(),
            output_mask: output_mask(&checked.mask, &input),
            input: input.flat(),
            layers: checked.layers,
        });
    };
    let outline = match (input, checked.output, checked.activation) {
        (Some(input), Some(output), Some(activation)) => Some(Box::new(Outline {
            input: input.flat(),
            output: output.flat(),
            activation,
        })),
        _ => None,
    };
    Err(Failed { error, outline })
}

/// A chain of layers as far as its checks went.
pub struct Chain {
    pub layers: Vec<Layer>,
    /// The last layer's output, if every layer was well formed.
    pub output: Option<Shape>,
    /// The output activation, if the last layer's kind is known.
    pub activation: Option<proc_macro2::TokenStream>,
    /// What the last layer's output carries of masks.
    pub mask: MaskState,
}

/// The mask a network's output carries, after `mask`, from its `input`: one of its layers
/// made, or the one it is given with a sequence input.
fn output_mask(mask: &MaskState, input: &Shape) -> Option<OutputMask> {
    let MaskState::Carried(mask) = mask else {
        return None;
    };
    match (&mask.route, input) {
        (Route::Layer(field), _) => Some(OutputMask::Made(field.clone())),
        (Route::Input, Shape::Sequence(sequence)) => Some(OutputMask::Given {
            steps: sequence.steps,
        }),
        (Route::Input, Shape::Flat(_) | Shape::Image(_)) => None,
    }
}

/// Checks the layers `defs` of the network (or branch) `network`, from `input` and the mask it
/// carries. `counts` numbers the fields per kind (`dense_1`, `dense_2`), shared with the
/// branches of joins so that every layer of a network has its own name, as in Keras. A branch's
/// messages say where it is (`place`: "branch 2 of `Add(..)` (layer 3 of `Net`)").
pub fn chain(
    network: &Ident,
    place: Option<&str>,
    vis: &syn::Visibility,
    (input, input_mask): (Option<Shape>, MaskState),
    defs: &[LayerDef],
    counts: &mut Vec<(String, usize)>,
    errors: &mut Errors,
) -> Chain {
    let mut previous = input;
    let mut mask = input_mask;
    let mut layers: Vec<Layer> = Vec::with_capacity(defs.len());
    let mut activation = None;
    // Each layer with its place as written: the layers a `TransformerEncoder` stands for take
    // its place, in its stead.
    let mut pending: VecDeque<(usize, LayerDef)> = defs
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, d)| (i + 1, d))
        .collect();
    while let Some((position, def)) = pending.pop_front() {
        let layer = &def;
        if transformer_encoder::is_written(layer) {
            let input = previous.as_ref();
            match transformer_encoder::expand(network, place, position, layer, input, errors) {
                Some(expanded) => {
                    for def in expanded.into_iter().rev() {
                        pending.push_front((position, def));
                    }
                }
                None => (previous, activation, mask) = (None, None, MaskState::None),
            }
            continue;
        }
        let field = field_name(layer, counts);
        let mut cx = Cx {
            network,
            place,
            vis,
            field: &field,
            position,
            layer,
            before: &layers,
            input: previous.as_ref(),
            mask: &mask,
            counts,
            errors,
        };
        let checked = check_layer(&mut cx);
        let name = cx.name();
        let Some(Checked { kind, output }) = checked else {
            previous = None;
            mask = MaskState::None;
            activation = None;
            continue;
        };
        let at = At {
            field: &field,
            name,
            text: &layer.text,
            tokens: &layer.tokens,
        };
        let (reads, after) = mask::through(&mask, &kind.mask_rule(), &at, errors);
        mask = after;
        activation = Some(kind.activation());
        // A layer after one that failed is checked for what it can be on its own; the rest of
        // the network is checked against its output.
        let Some(input) = previous.replace(output.clone()) else {
            continue;
        };
        layers.push(Layer {
            field,
            text: layer.text.clone(),
            tokens: layer.tokens.clone(),
            position,
            input: input.flat(),
            output: output.flat(),
            output_shape: output,
            kind,
            mask: reads,
        });
    }
    Chain {
        layers,
        output: previous,
        activation,
        mask,
    }
}

/// The layer's kind and output, or `None` after reporting what is wrong with it.
fn check_layer(cx: &mut Cx) -> Option<Checked> {
    let (keyword, args) = match &cx.layer.kind {
        LayerKindDef::Join {
            keyword,
            branches,
            activation,
            options,
        } => return layers::join::check(cx, keyword, branches, activation.as_ref(), options),
        LayerKindDef::Call { keyword, args } => match layers::keyword(keyword) {
            Some(found) => (found, args.as_slice()),
            None => {
                let written = keyword.to_string();
                // `Conv1d` for `Conv1D`, `Conv2D` for `Conv2d`: the DSL spells some layers as
                // Keras does and some as Rust types are, so say which (`BatchNorm` for
                // `Batchnorm`: an alias is a spelling too).
                let spellings = KEYWORDS
                    .iter()
                    .flat_map(|k| core::iter::once(k.usage.name).chain(k.aliases.iter().copied()));
                let message = match spellings
                    .into_iter()
                    .find(|name| name.eq_ignore_ascii_case(&written))
                {
                    Some(name) => format!(
                        "unknown layer `{written}`; expected `{name}`, as the DSL spells it"
                    ),
                    None => format!(
                        "unknown layer `{written}`; expected one of {} (networks and layer types are written by name, without arguments: `=> Encoder =>`)",
                        one_of(KEYWORDS.iter().map(|k| k.usage.name))
                    ),
                };
                cx.errors.push_spanned(keyword.span(), message);
                return None;
            }
        },
        LayerKindDef::Named(path) => match layers::keyword_of_path(path) {
            Some(found) if found.bare => (found, &[][..]),
            Some(found) => {
                cx.errors.push(syn::Error::new_spanned(
                    path,
                    format_args!(
                        "`{}` needs its arguments, e.g. `{}`",
                        found.usage.name, found.usage.example
                    ),
                ));
                return None;
            }
            None => return Some(layers::named(path)),
        },
    };
    let mut args = Args::new(&keyword.usage, cx.layer, args);
    let checked = (keyword.check)(cx, &mut args);
    cx.errors.extend(args.finish());
    checked
}

/// The network's input: a width, an image `(height, width, channels)` or a sequence
/// `(steps, features)`.
fn input_shape(def: &NetworkDef, errors: &mut Errors) -> Option<Shape> {
    let name = &def.name;
    let dims = match &def.input {
        InputShape::Flat(size) => {
            let subject = format!("the input size of `{name}`");
            return args::width(size, &subject, errors).map(Shape::Flat);
        }
        InputShape::Image(dims) => dims,
    };
    let values: Vec<usize> = dims
        .iter()
        .filter_map(|lit| input_dimension(lit, name, errors))
        .collect();
    if values.len() < dims.len() {
        return None;
    }
    let shape = match values[..] {
        [height, width, channels] => Image::new(height, width, channels).map(Shape::Image),
        [steps, features] => Sequence::new(steps, features).map(Shape::Sequence),
        _ => unreachable!("the parser takes two or three dimensions"),
    };
    if shape.is_none() {
        let shown: Vec<String> = values.iter().map(usize::to_string).collect();
        errors.push(syn::Error::new_spanned(
            &dims[0],
            format_args!(
                "the input shape of `{name}`, {}, has more values than an array can hold ({} at most)",
                shown.join("×"),
                crate::model::MAX_VALUES
            ),
        ));
    }
    shape
}

/// One dimension of an input shape: at least 1.
fn input_dimension(lit: &LitInt, network: &Ident, errors: &mut Errors) -> Option<usize> {
    match lit.base10_parse::<usize>() {
        Ok(0) | Err(_) => {
            errors.push_spanned(
                lit.span(),
                format_args!(
                    "the input shape of `{network}` needs sizes of at least 1, found `{lit}`"
                ),
            );
            None
        }
        Ok(n) => Some(n),
    }
}

/// `dense_1`, `dense_2`, `encoder_1`: the kind's name in snake case (Keras' names for keyword
/// layers, the type's name for layers given by name), numbered from 1 per kind.
fn field_name(layer: &LayerDef, counts: &mut Vec<(String, usize)>) -> Ident {
    let (base, span) = match &layer.kind {
        LayerKindDef::Call { keyword, .. } => {
            let field = layers::keyword(keyword).map_or("layer", |k| k.field);
            (field.to_owned(), keyword.span())
        }
        LayerKindDef::Join { keyword, .. } => {
            (layers::join::field(keyword).to_owned(), keyword.span())
        }
        LayerKindDef::Named(path) => {
            let last = &path.segments.last().expect("a path has a segment").ident;
            let base = match layers::keyword_of_path(path) {
                Some(keyword) => keyword.field.to_owned(),
                // `r#Type` names the type `Type`; a field cannot be named `r#type_1`.
                None => snake_case(&last.unraw().to_string()),
            };
            (base, last.span())
        }
    };
    Ident::new(&numbered(&base, counts), span)
}

/// `base` numbered after the names `counts` has given it so far: `dense_1`, then `dense_2`. One
/// count per network, so that every name of a network is its own, as in Keras.
pub fn numbered(base: &str, counts: &mut Vec<(String, usize)>) -> String {
    let count = match counts.iter_mut().find(|(b, _)| *b == base) {
        Some((_, count)) => {
            *count += 1;
            *count
        }
        None => {
            counts.push((base.to_owned(), 1));
            1
        }
    };
    format!("{base}_{count}")
}

/// `Scale2x` as `scale2x`, `MyEncoder` as `my_encoder`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_of_type_names() {
        assert_eq!(snake_case("Encoder"), "encoder");
        assert_eq!(snake_case("Scale2x"), "scale2x");
        assert_eq!(snake_case("MyEncoder"), "my_encoder");
    }
}
