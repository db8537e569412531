//! Semantics: validates each layer and works out every layer's input and output width.
//! Errors are collected, not returned at the first: one compile lists every bad layer.

use proc_macro2::Span;
use syn::{Attribute, Ident, LitInt, Path, Visibility};

use crate::ast::{LayerArg, LayerDef, NetworkDef, OptionValue, Size};
use crate::errors::Errors;

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
    /// The field of the network struct holding it: `dense_1`, `dense_2`, ...
    pub field: Ident,
    /// The layer as written, e.g. `Dense(64, relu)`.
    pub text: String,
    pub input: Width,
    pub output: Width,
    pub kind: LayerKind,
}

pub enum LayerKind {
    Dense { activation: Activation, bias: bool },
}

/// A width known as a literal, or only as a `const` item the macro cannot evaluate.
#[derive(Clone)]
pub enum Width {
    Literal(usize, Span),
    Const(Path),
}

impl Width {
    /// As the user wrote it: `64`, `HIDDEN`.
    pub fn text(&self) -> String {
        match self {
            Width::Literal(n, _) => n.to_string(),
            Width::Const(path) => crate::parse::path_text(path),
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

    fn from_keyword(keyword: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.keyword() == keyword)
    }
}

/// The layer kinds the DSL knows, for "expected one of" messages.
const LAYER_KINDS: &[&str] = &["Dense"];

fn one_of(names: impl IntoIterator<Item = &'static str>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks one network definition.
pub fn network(def: &NetworkDef) -> syn::Result<Model> {
    let mut errors = Errors::default();
    let input = width(
        &def.input,
        &format!("the input size of `{}`", def.name),
        &mut errors,
    );
    let mut previous = input.clone();
    let mut layers = Vec::with_capacity(def.layers.len());
    let mut dense_count = 0;
    for layer in &def.layers {
        let Some((kind, output)) = layer_kind(layer, &mut errors) else {
            continue;
        };
        let LayerKind::Dense { .. } = kind;
        dense_count += 1;
        let field = Ident::new(&format!("dense_{dense_count}"), layer.kind.span());
        let (Some(input), Some(output)) = (previous.clone(), output) else {
            continue;
        };
        previous = Some(output.clone());
        layers.push(Layer {
            field,
            text: layer.text.clone(),
            input,
            output,
            kind,
        });
    }
    errors.finish()?;
    Ok(Model {
        attrs: def.attrs.clone(),
        vis: def.vis.clone(),
        name: def.name.clone(),
        input: input.expect("errors are reported above"),
        layers,
    })
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

/// The layer's kind and output width, or `None` after pushing what is wrong with it.
fn layer_kind(layer: &LayerDef, errors: &mut Errors) -> Option<(LayerKind, Option<Width>)> {
    match layer.kind.to_string().as_str() {
        "Dense" => dense(layer, errors),
        other => {
            errors.push_spanned(
                layer.kind.span(),
                format_args!(
                    "unknown layer `{other}`; expected one of {}",
                    one_of(LAYER_KINDS.iter().copied())
                ),
            );
            None
        }
    }
}

/// `Dense(units[, activation][, bias = bool])`.
fn dense(layer: &LayerDef, errors: &mut Errors) -> Option<(LayerKind, Option<Width>)> {
    let text = &layer.text;
    let mut positional = layer.args.iter().filter_map(|arg| match arg {
        LayerArg::Positional(size) => Some(size),
        LayerArg::Named { .. } => None,
    });

    let units = match positional.next() {
        Some(size) => width(size, &format!("`{text}`: the number of units"), errors),
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
        match arg
            .as_ident()
            .and_then(|ident| Activation::from_keyword(&ident.to_string()))
        {
            Some(found) => activation = found,
            None => errors.push_spanned(
                arg.span(),
                format_args!(
                    "unknown activation `{}`; expected one of {}",
                    crate::parse::size_text(arg),
                    one_of(Activation::ALL.map(Activation::keyword))
                ),
            ),
        }
    }
    for extra in positional {
        errors.push_spanned(
            extra.span(),
            format_args!(
                "unexpected argument `{}` in `{text}`: `Dense` takes units, an activation and `bias = false`",
                crate::parse::size_text(extra)
            ),
        );
    }

    let mut bias = true;
    for arg in &layer.args {
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
    Some((LayerKind::Dense { activation, bias }, units))
}
