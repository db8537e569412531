//! Semantics: validates each layer and works out every layer's input and output width.
//! Errors are collected, not returned at the first: one compile lists every bad layer.

use proc_macro2::{Span, TokenStream};
use syn::{Attribute, Ident, LitInt, Path, Visibility};

use crate::ast::{InputShape, LayerArg, LayerDef, LayerKindDef, NetworkDef, OptionValue, Size};
use crate::errors::Errors;
use crate::parse::{path_text, size_text};
use crate::shape::{self, Image, Padding, Place, Sequence, Shape};

/// A network whose layers are known to be well formed, with their shapes.
pub struct Model {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: Width,
    pub layers: Vec<Layer>,
}

/// A checked layer.
pub struct Layer {
    /// The field of the network struct holding it: `dense_1`, `encoder_1`, ...
    pub field: Ident,
    /// The layer as written, e.g. `Dense(64, relu)`.
    pub text: String,
    /// Its tokens, for spans.
    pub tokens: TokenStream,
    /// Its place in the network, from 1.
    pub position: usize,
    /// The width the layer before it gives (the network's input for the first layer).
    pub input: Width,
    pub output: Width,
    /// The output as the next layer sees it: a vector or an image.
    pub output_shape: Shape,
    pub kind: LayerKind,
}

pub enum LayerKind {
    /// `Dense(units, activation)`, with the input width it was declared to expect, if any.
    Dense {
        activation: Activation,
        bias: bool,
        declared_input: Option<Width>,
    },
    /// A network or a type of the user's, given by path.
    Named(Path),
    /// `Conv2d(filters, kernel, ...)` on a channels-last image.
    Conv2d {
        input: Image,
        filters: usize,
        kernel: usize,
        stride: usize,
        padding: Padding,
        pad_top: usize,
        pad_left: usize,
        output: Image,
        activation: Activation,
        bias: bool,
    },
    /// `MaxPool2d(size)` (`max`) or `AvgPool2d(size)`.
    Pool {
        max: bool,
        input: Image,
        size: usize,
        stride: usize,
        output: Image,
    },
    /// `Flatten`.
    Flatten,
    /// `Reshape(...)`.
    Reshape,
    /// `Dropout(rate)`.
    Dropout { rate: f32 },
    /// `SimpleRNN`, `LSTM` or `GRU` over a sequence.
    Recurrent {
        cell: Cell,
        input: Sequence,
        units: usize,
        bias: bool,
        /// Every step's state out, not just the last.
        sequences: bool,
    },
}

/// What a recurrent layer computes at each step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cell {
    /// `SimpleRNN`, with its activation.
    Simple(Activation),
    Lstm,
    Gru,
}

impl Cell {
    /// The DSL keyword, as Keras spells the layer.
    pub fn keyword(self) -> &'static str {
        match self {
            Cell::Simple(_) => "SimpleRNN",
            Cell::Lstm => "LSTM",
            Cell::Gru => "GRU",
        }
    }

    /// The layer's field name before its number, as Keras names it (`simple_rnn`, not
    /// `simple_r_n_n`).
    pub fn field(self) -> &'static str {
        match self {
            Cell::Simple(_) => "simple_rnn",
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }

    /// The netcore type implementing it.
    pub fn type_name(self) -> &'static str {
        match self {
            Cell::Simple(_) => "SimpleRnn",
            Cell::Lstm => "Lstm",
            Cell::Gru => "Gru",
        }
    }
}

/// A width known as a literal, as a `const` item the macro cannot evaluate, or as the output of
/// a layer given by name.
#[derive(Clone)]
pub enum Width {
    Literal(usize, Span),
    Const(Path),
    OutputOf(Path),
}

impl Width {
    /// The user's token for it.
    pub fn span(&self) -> Span {
        match self {
            Width::Literal(_, span) => *span,
            Width::Const(path) | Width::OutputOf(path) => syn::spanned::Spanned::span(path),
        }
    }

    /// As the user wrote it: `64`, `HIDDEN`, `the outputs of Encoder`.
    pub fn text(&self) -> String {
        match self {
            Width::Literal(n, _) => n.to_string(),
            Width::Const(path) => path_text(path),
            Width::OutputOf(path) => format!("the outputs of `{}`", path_text(path)),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Activation {
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
    Linear,
}

impl Activation {
    pub const ALL: [Activation; 5] = [
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::Linear,
    ];

    /// The DSL keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::Linear => "linear",
        }
    }

    /// The netcore type implementing it.
    pub fn type_name(self) -> &'static str {
        match self {
            Activation::Relu => "Relu",
            Activation::Sigmoid => "Sigmoid",
            Activation::Tanh => "Tanh",
            Activation::Softmax => "Softmax",
            Activation::Linear => "Linear",
        }
    }

    pub fn from_keyword(keyword: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.keyword() == keyword)
    }
}

/// The layer keywords the DSL knows, for "expected one of" messages.
const LAYER_KEYWORDS: &[&str] = &[
    "Dense",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "Flatten",
    "Reshape",
    "Dropout",
    "SimpleRNN",
    "LSTM",
    "GRU",
];

/// Reports an activation keyword that is not one.
pub fn unknown_activation(arg: &Size, errors: &mut Errors) {
    errors.push_spanned(
        arg.span(),
        format_args!(
            "unknown activation `{}`; expected one of {}",
            size_text(arg),
            one_of(Activation::ALL.map(Activation::keyword))
        ),
    );
}

fn one_of(names: impl IntoIterator<Item = &'static str>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which layer, for messages: "`Encoder` (layer 2 of `Classifier`)".
pub fn layer_place(position: usize, network: &Ident, text: &str) -> String {
    format!("`{text}` (layer {position} of `{network}`)")
}

/// What the layer before gives, for messages: "after a 100-wide layer", "on an 8-wide input".
pub fn after_what(position: usize, width: &str) -> String {
    let article = width.parse().map_or("a", crate::shape::article);
    if position == 1 {
        format!("on {article} {width}-wide input")
    } else {
        format!("after {article} {width}-wide layer")
    }
}

/// Checks one network definition.
pub fn network(def: &NetworkDef) -> syn::Result<Model> {
    let mut errors = Errors::default();
    let input_shape = match &def.input {
        InputShape::Flat(size) => width(
            size,
            &format!("the input size of `{}`", def.name),
            &mut errors,
        )
        .map(Shape::Flat),
        InputShape::Image(dims) => shape::input_shape(dims, &def.name, &mut errors),
    };
    let mut previous = input_shape.clone();
    let mut layers = Vec::with_capacity(def.layers.len());
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (index, layer) in def.layers.iter().enumerate() {
        let position = index + 1;
        let place = Place {
            network: &def.name,
            position,
            layer,
            before: &layers,
        };
        let Some((kind, output)) = layer_kind(layer, previous.as_ref(), &place, &mut errors) else {
            previous = None;
            continue;
        };
        let field = field_name(&kind, layer, &mut counts);
        let (Some(input), Some(output_shape)) = (previous.clone(), output) else {
            previous = None;
            continue;
        };
        let input = input.flat();
        if let LayerKind::Dense {
            declared_input: Some(Width::Literal(declared, span)),
            ..
        } = &kind
            && let Width::Literal(given, _) = &input
            && declared != given
        {
            errors.push_spanned(
                *span,
                format_args!(
                    "{} {}: expected {given} inputs, found {declared}{}",
                    layer_place(position, &def.name, &layer.text),
                    after_what(position, &given.to_string()),
                    shape::floored_note(&layers)
                ),
            );
        }
        previous = Some(output_shape.clone());
        layers.push(Layer {
            field,
            text: layer.text.clone(),
            tokens: layer.tokens.clone(),
            position,
            input,
            output: output_shape.flat(),
            output_shape,
            kind,
        });
    }
    errors.finish()?;
    Ok(Model {
        attrs: def.attrs.clone(),
        vis: def.vis.clone(),
        name: def.name.clone(),
        input: input_shape.expect("errors are reported above").flat(),
        layers,
    })
}

/// `dense_1`, `dense_2`, `encoder_1`: the kind in snake case, numbered from 1 per kind.
fn field_name(kind: &LayerKind, layer: &LayerDef, counts: &mut Vec<(String, usize)>) -> Ident {
    // Named layers take their type's name; keyword layers their keyword's (`Flatten` is
    // written as a bare name too).
    let (base, span) = match (kind, &layer.kind) {
        (LayerKind::Named(path), _) | (LayerKind::Flatten, LayerKindDef::Named(path)) => {
            let last = &path.segments.last().expect("a path has a segment").ident;
            (snake_case(&last.to_string()), last.span())
        }
        (LayerKind::Recurrent { cell, .. }, LayerKindDef::Call { keyword, .. }) => {
            (cell.field().to_owned(), keyword.span())
        }
        (_, LayerKindDef::Call { keyword, .. }) => {
            (snake_case(&keyword.to_string()), keyword.span())
        }
        (_, LayerKindDef::Named(path)) => {
            (snake_case(&path_text(path)), proc_macro2::Span::call_site())
        }
    };
    let count = match counts.iter_mut().find(|(b, _)| *b == base) {
        Some((_, count)) => {
            *count += 1;
            *count
        }
        None => {
            counts.push((base.clone(), 1));
            1
        }
    };
    Ident::new(&format!("{base}_{count}"), span)
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

/// A size as a width, rejecting zero; `what` names it in messages.
fn width(size: &Size, what: &str, errors: &mut Errors) -> Option<Width> {
    match size {
        Size::Literal(lit) => literal_width(lit, what, errors),
        Size::Const(path) => Some(Width::Const(path.clone())),
    }
}

fn literal_width(lit: &LitInt, what: &str, errors: &mut Errors) -> Option<Width> {
    match lit.base10_parse::<usize>() {
        Ok(0) => {
            errors.push_spanned(
                lit.span(),
                format_args!("{what} must be at least 1, found 0"),
            );
            None
        }
        Ok(n) => Some(Width::Literal(n, lit.span())),
        Err(_) => {
            errors.push_spanned(
                lit.span(),
                format_args!("{what} must be a `usize`, found `{lit}`"),
            );
            None
        }
    }
}

/// The layer's kind and output shape, or `None` after pushing what is wrong with it. `input`
/// is the shape before it, if the layers before were well formed.
fn layer_kind(
    layer: &LayerDef,
    input: Option<&Shape>,
    place: &Place,
    errors: &mut Errors,
) -> Option<(LayerKind, Option<Shape>)> {
    match &layer.kind {
        LayerKindDef::Call { keyword, args } => match keyword.to_string().as_str() {
            "Dense" => {
                if let Some(shape @ (Shape::Image(_) | Shape::Sequence(_))) = input {
                    shape::dense_after(shape, place, errors);
                }
                let (kind, units) = dense(layer, args, errors)?;
                Some((kind, units.map(Shape::Flat)))
            }
            "Conv2d" => shape::conv2d(input, place, args, errors),
            "MaxPool2d" => shape::pool(true, input, place, args, errors),
            "AvgPool2d" => shape::pool(false, input, place, args, errors),
            "Reshape" => shape::reshape(input, place, args, errors),
            "Dropout" => shape::dropout(input, place, args, errors),
            "SimpleRNN" => {
                shape::recurrent(Cell::Simple(Activation::Tanh), input, place, args, errors)
            }
            "LSTM" => shape::recurrent(Cell::Lstm, input, place, args, errors),
            "GRU" => shape::recurrent(Cell::Gru, input, place, args, errors),
            other => {
                errors.push_spanned(
                    keyword.span(),
                    format_args!(
                        "unknown layer `{other}`; expected one of {} (networks and layer types are written by name, without arguments: `=> Encoder =>`)",
                        one_of(LAYER_KEYWORDS.iter().copied())
                    ),
                );
                None
            }
        },
        LayerKindDef::Named(path) if path.is_ident("Flatten") => shape::flatten(input),
        LayerKindDef::Named(path) if path.is_ident("Dense") || path.is_ident("Conv2d") => {
            errors.push(syn::Error::new_spanned(
                path,
                format_args!(
                    "`{}` needs its arguments, e.g. `Dense(64, relu)` or `Conv2d(6, 5, relu)`",
                    path_text(path)
                ),
            ));
            None
        }
        LayerKindDef::Named(path) => Some((
            LayerKind::Named(path.clone()),
            Some(Shape::Flat(Width::OutputOf(path.clone()))),
        )),
    }
}

/// `Dense([inputs ->] units[, activation][, bias = bool])`.
fn dense(
    layer: &LayerDef,
    args: &[LayerArg],
    errors: &mut Errors,
) -> Option<(LayerKind, Option<Width>)> {
    let text = &layer.text;
    let mut positional = args
        .iter()
        .filter(|arg| !matches!(arg, LayerArg::Named { .. }));

    let mut declared_input = None;
    let units = match positional.next() {
        Some(LayerArg::Positional(size)) => {
            width(size, &format!("`{text}`: the number of units"), errors)
        }
        Some(LayerArg::Mapping { from, to }) => {
            declared_input = width(from, &format!("`{text}`: the number of inputs"), errors);
            width(to, &format!("`{text}`: the number of units"), errors)
        }
        Some(LayerArg::Float(lit)) => {
            errors.push_spanned(
                lit.span(),
                format_args!("`{text}`: the number of units must be an integer"),
            );
            None
        }
        Some(LayerArg::Named { .. }) => unreachable!("filtered out above"),
        None => {
            errors.push(syn::Error::new_spanned(
                &layer.tokens,
                format_args!("`{text}` needs a number of units, e.g. `Dense(64, relu)`"),
            ));
            None
        }
    };

    let mut activation = Activation::Linear;
    if let Some(arg) = positional.next() {
        let keyword = match arg {
            LayerArg::Positional(size) => size
                .as_ident()
                .and_then(|ident| Activation::from_keyword(&ident.to_string())),
            _ => None,
        };
        match (keyword, arg) {
            (Some(found), _) => activation = found,
            (None, LayerArg::Positional(size)) => unknown_activation(size, errors),
            (None, _) => errors.push(syn::Error::new_spanned(
                &layer.tokens,
                format_args!(
                    "`{text}`: only the first argument of `Dense` can state its inputs with `->`"
                ),
            )),
        }
    }
    for extra in positional {
        let (span, shown) = match extra {
            LayerArg::Positional(size) => (size.span(), size_text(size)),
            LayerArg::Mapping { from, to } => (
                from.span(),
                format!("{} -> {}", size_text(from), size_text(to)),
            ),
            LayerArg::Float(lit) => (lit.span(), lit.to_string()),
            LayerArg::Named { .. } => unreachable!("filtered out above"),
        };
        errors.push_spanned(
            span,
            format_args!(
                "unexpected argument `{shown}` in `{text}`: `Dense` takes units, an activation and `bias = false`"
            ),
        );
    }

    let mut bias = true;
    for arg in args {
        let LayerArg::Named { name, value } = arg else {
            continue;
        };
        match (name.to_string().as_str(), value) {
            ("bias", OptionValue::Bool(lit)) => bias = lit.value,
            ("bias", other) => {
                errors.push_spanned(other.span(), "`bias` takes `true` or `false`");
            }
            (other, _) => {
                errors.push_spanned(
                    name.span(),
                    format_args!("unknown option `{other}` of `Dense`; expected `bias`"),
                );
            }
        }
    }
    Some((
        LayerKind::Dense {
            activation,
            bias,
            declared_input,
        },
        units,
    ))
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
