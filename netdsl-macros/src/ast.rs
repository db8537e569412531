//! The syntax tree of a `network!` invocation, as written; every node keeps its span.

use proc_macro2::{Span, TokenStream};
use syn::{Attribute, Expr, Ident, LitBool, LitFloat, LitInt, Path, Visibility};

/// One invocation: one or more network definitions.
pub struct Input {
    pub networks: Vec<Definition>,
}

/// A network definition, or what is known of one whose syntax is wrong past its name.
pub enum Definition {
    Ok(NetworkDef),
    Broken {
        attrs: Vec<Attribute>,
        vis: Visibility,
        name: Ident,
        error: syn::Error,
    },
}

/// `[attrs] [vis] struct Name<IN => Layer => Layer ...>;`
pub struct NetworkDef {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: InputShape,
    pub layers: Vec<LayerDef>,
}

/// The input of a network: a width (`784`, `INPUTS`) or an image, `(height, width, channels)`.
pub enum InputShape {
    Flat(Size),
    Image(Vec<LitInt>),
}

/// A layer: `Kind(arg, arg, name = value)`, or a layer type given by name.
#[derive(Clone)]
pub struct LayerDef {
    pub kind: LayerKindDef,
    /// The whole layer's tokens, `Dense(64, relu)`, so errors about it underline all of it.
    pub tokens: TokenStream,
    /// The layer as the user wrote it, for docs and messages.
    pub text: String,
}

/// How a layer is written.
#[derive(Clone)]
pub enum LayerKindDef {
    /// A keyword with arguments: `Dense(64, relu)`.
    Call { keyword: Ident, args: Vec<LayerArg> },
    /// A type implementing `Layer`, by path: `Encoder`, `layers::Scale2x`.
    Named(Path),
    /// Branches from one input, joined: `Residual(chain, relu)`, `Add(chain, chain)`,
    /// `Concatenate(chain, chain)`, `CrossAttention(chain, chain, heads = 4)`; each chain is
    /// `Layer => Layer ...`. `Bidirectional(layer)` arrives here too, its one layer as one
    /// branch.
    Join {
        keyword: Ident,
        branches: Vec<Vec<LayerDef>>,
        /// The activation after the join, written as its last argument: `relu`.
        activation: Option<Ident>,
        /// The options after the branches, `name = value`: `heads = 4`.
        options: Vec<LayerArg>,
    },
}

/// The keywords that join branches, with what each takes.
pub const JOINS: [&str; 5] = [
    "Residual",
    "Add",
    "Concatenate",
    "Bidirectional",
    "CrossAttention",
];

/// One argument of a layer.
#[derive(Clone)]
pub enum LayerArg {
    /// A size or a keyword: `64`, `HIDDEN`, `relu`.
    Positional(Size),
    /// A fraction, e.g. a dropout rate: `0.5`.
    Float(syn::LitFloat),
    /// A size with the input width it expects: `784 -> 64`.
    Mapping { from: Size, to: Size },
    /// `name = value`, e.g. `bias = false`.
    Named { name: Ident, value: OptionValue },
}

/// The value of a named option.
#[derive(Clone)]
pub enum OptionValue {
    Bool(LitBool),
    Int(LitInt),
    Float(LitFloat),
    Path(Path),
    /// A call with arguments, each a value and maybe a name: `l2(1e-4)`, `l1_l2(l1 = 0.01)`.
    Call {
        path: Path,
        args: Vec<(Option<Ident>, OptionValue)>,
    },
}

/// A size: an integer literal, a path to a `const` item, or an expression of them
/// (`2 * HIDDEN`). A bare identifier in argument position is also how keywords such as `relu`
/// arrive here.
#[derive(Clone)]
pub enum Size {
    Literal(LitInt),
    Const(Path),
    Expr(Expr),
}

impl Size {
    pub fn span(&self) -> Span {
        match self {
            Size::Literal(lit) => lit.span(),
            Size::Const(path) => syn::spanned::Spanned::span(path),
            Size::Expr(expr) => syn::spanned::Spanned::span(expr),
        }
    }

    /// The identifier, if this is a bare one (`relu`, `HIDDEN`).
    pub fn as_ident(&self) -> Option<&Ident> {
        match self {
            Size::Const(path) => path.get_ident(),
            Size::Literal(_) | Size::Expr(_) => None,
        }
    }
}

impl OptionValue {
    pub fn span(&self) -> Span {
        match self {
            OptionValue::Bool(lit) => lit.span(),
            OptionValue::Int(lit) => lit.span(),
            OptionValue::Float(lit) => lit.span(),
            OptionValue::Path(path) | OptionValue::Call { path, .. } => {
                syn::spanned::Spanned::span(path)
            }
        }
    }
}

impl Size {
    /// As written: `64`, `HIDDEN`, `2 * HIDDEN`.
    pub fn text(&self) -> String {
        match self {
            Size::Literal(lit) => lit.to_string(),
            Size::Const(path) => path_text(path),
            Size::Expr(expr) => expr_text(expr),
        }
    }
}

/// A path as written: `HIDDEN`, `sizes::IN`, `::layers::Scale2x`.
pub fn path_text(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let prefix = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{prefix}{}", segments.join("::"))
}

/// An expression as written, with the spacing of ordinary Rust: `2 * HIDDEN`, `sizes::IN + 1`.
pub fn expr_text(expr: &Expr) -> String {
    quote::ToTokens::to_token_stream(expr)
        .to_string()
        .replace(" :: ", "::")
        .replace("( ", "(")
        .replace(" )", ")")
}
