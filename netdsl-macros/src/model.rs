//! The checked network: its layers and the shapes that flow between them. `check` builds it,
//! `codegen` reads it; nothing here can fail.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{Attribute, Expr, Ident, Path, Visibility};

use crate::ast::{expr_text, path_text};
use crate::mask::{MaskRule, Route};
use crate::tokens::{private, private_at};

/// A network whose layers are known to be well formed, with their shapes.
pub struct Model {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: Width,
    pub layers: Vec<Layer>,
    /// The mask the output carries, which the network gives as a layer (`Layer::output_mask`).
    pub output_mask: Option<OutputMask>,
}

/// The mask a network's output carries.
pub enum OutputMask {
    /// The one the layer in this field made.
    Made(Ident),
    /// The one the network was given with its input, a sequence of `steps` steps: its tape
    /// keeps a copy to give back.
    Given { steps: usize },
}

impl Model {
    /// The layer in `field`.
    pub fn layer(&self, field: &Ident) -> &Layer {
        self.layers
            .iter()
            .find(|layer| layer.field == *field)
            .expect("a mask's route names a layer of its network")
    }

    /// Whether a layer reads the mask of `field`'s output, or the network gives it.
    pub fn mask_is_read(&self, field: &Ident) -> bool {
        let route = Some(Route::Layer(field.clone()));
        let given = matches!(&self.output_mask, Some(OutputMask::Made(maker)) if maker == field);
        given || self.layers.iter().any(|l| l.mask == route)
    }

    /// Whether a layer reads the network's input mask.
    pub fn reads_input_mask(&self) -> bool {
        self.layers.iter().any(|l| l.mask == Some(Route::Input))
    }

    /// Whether the network uses the mask it is given: a layer reads it, or it gives it back.
    pub fn takes_input_mask(&self) -> bool {
        self.reads_input_mask() || matches!(self.output_mask, Some(OutputMask::Given { .. }))
    }

    /// One input sample's type: `[f32; width]`, or what the first layer reads instead
    /// ([`Kind::input_row`]).
    pub fn input_row(&self) -> TokenStream {
        let first = self.layers.first().and_then(|l| l.kind.input_row());
        first.unwrap_or_else(|| {
            let width = self.input.value();
            quote!([f32; #width])
        })
    }
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
    /// The flat width the layer before it gives (the network's input for the first layer).
    pub input: Width,
    /// The flat width of its output.
    pub output: Width,
    /// The output as the next layer sees it: a vector, an image or a sequence.
    pub output_shape: Shape,
    /// What the layer's keyword (or type) makes of it: its runtime type and constructor.
    pub kind: Box<dyn Kind>,
    /// Where the generated code finds the mask the layer reads, if it reads one.
    pub mask: Option<Route>,
}

impl Layer {
    /// The span errors about this layer point at: its keyword or its type's path.
    pub fn span(&self) -> Span {
        self.tokens
            .clone()
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |t| t.span())
    }
}

/// What a layer kind makes of a checked layer: everything `codegen` needs that differs from one
/// kind to another. Each kind under `layers/` implements it next to its checks.
pub trait Kind {
    /// The layer's runtime type: `::netdsl::__private::Dense<784, 64, ::netdsl::__private::Relu>`.
    fn ty(&self, layer: &Layer) -> TokenStream;

    /// The activation the layer ends with: its runtime type's `Layer::Activation`. The default
    /// is `Linear`, for layers without one.
    fn activation(&self) -> TokenStream {
        Activation::Linear.ty()
    }

    /// The expression building the layer, with fresh weights drawn from `rng`. The default is
    /// `Default::default()`, for layers without parameters.
    fn constructor(&self, layer: &Layer) -> TokenStream {
        let ty = self.ty(layer);
        quote_spanned!(layer.span()=> <#ty as ::core::default::Default>::default())
    }

    /// For a width only rustc can compare with the layer before: the span to blame and the
    /// width the layer takes, as an expression.
    fn declared_input(&self, _layer: &Layer) -> Option<(Span, TokenStream)> {
        None
    }

    /// Whether the layer's input rows are of a type the macro cannot name (a layer given by
    /// name), so the rows before it are reinterpreted as its own.
    fn takes_foreign_rows(&self) -> bool {
        false
    }

    /// The window a `valid`-padded convolution or pool slides, for the note explaining a size
    /// it rounded down.
    fn window(&self) -> Option<Window> {
        None
    }

    /// Whether the layer keeps its input's shape and each value where it is (`Flatten`,
    /// `Dropout`, the normalizations), so a note about a rounded size looks through it.
    fn keeps_values(&self) -> bool {
        false
    }

    /// The row type the layer reads when it is a network's first layer, if not `[f32; width]`:
    /// `Tokens<T, V>` for an `Embedding`. It becomes the network's input type.
    fn input_row(&self) -> Option<TokenStream> {
        None
    }

    /// The networks of a join's branches, generated beside the network; none for other layers.
    fn branches(&self) -> &[Model] {
        &[]
    }

    /// How `summary()` shows a join that Keras' functional model builds of several layers: its
    /// branches' layers, then the layers merging them. `None` for a layer shown as one row,
    /// `Bidirectional` included (one layer in Keras too).
    fn unfolded(&self) -> Option<Unfolded<'_>> {
        None
    }

    /// What the layer does with the mask of padded steps its input may carry. The default is
    /// Keras' for a layer that does not support masking: it drops it.
    fn mask_rule(&self) -> MaskRule {
        MaskRule::Drops
    }
}

/// A join as the layers Keras builds it of, for the summary.
pub struct Unfolded<'a> {
    /// Each branch's network, in the order of [`Kind::branches`], reached from the join's value
    /// by a method call: `.inner()`, `.first()`, `.second().first()`.
    pub paths: Vec<TokenStream>,
    /// Keras' layers after the branches, input to output: `add_1` (`Add`), or for a residual
    /// block `residual_1` (`Add`) then `activation_1` (`Activation`).
    pub merges: &'a [Merge],
}

/// A layer Keras builds after a join's branches.
pub struct Merge {
    /// Its name: `add_1`.
    pub name: String,
    /// Its kind: `Add`.
    pub kind: &'static str,
    /// Where it is in the join's value, if netdsl has one: `.attention()`; `Add` and
    /// `Concatenate` have none, and no parameters.
    pub layer: Option<TokenStream>,
}

/// A `size`×`size` window sliding with `stride` over `input`, without padding, giving `output`.
#[derive(Clone, Copy)]
pub struct Window {
    pub input: Image,
    pub size: usize,
    pub stride: usize,
    pub output: Image,
}

/// What is known of a network that failed its checks, when it is enough to stand in for it:
/// its input and output widths and its output activation.
pub struct Outline {
    pub input: Width,
    pub output: Width,
    pub activation: TokenStream,
}

/// A width known as a literal, as a `const` expression the macro cannot evaluate, or as the
/// output of a layer given by name.
#[derive(Clone)]
pub enum Width {
    Literal(usize, Span),
    Const(Path),
    Expr(Expr),
    OutputOf(Path),
}

impl Width {
    /// The user's token for it.
    pub fn span(&self) -> Span {
        match self {
            Width::Literal(_, span) => *span,
            Width::Const(path) | Width::OutputOf(path) => syn::spanned::Spanned::span(path),
            Width::Expr(expr) => syn::spanned::Spanned::span(expr),
        }
    }

    /// As the user wrote it: `64`, `HIDDEN`, `2 * HIDDEN`, `the outputs of Encoder`.
    pub fn text(&self) -> String {
        match self {
            Width::Literal(n, _) => n.to_string(),
            Width::Const(path) => path_text(path),
            Width::Expr(expr) => expr_text(expr),
            Width::OutputOf(path) => format!("the outputs of `{}`", path_text(path)),
        }
    }

    /// The value, if the macro knows it.
    pub fn literal(&self) -> Option<usize> {
        match self {
            Width::Literal(n, _) => Some(*n),
            _ => None,
        }
    }
}

/// What flows between two layers: a flat vector, a channels-last image, or a sequence.
#[derive(Clone)]
pub enum Shape {
    Flat(Width),
    Image(Image),
    Sequence(Sequence),
}

impl Shape {
    /// The flat width of one sample.
    pub fn flat(&self) -> Width {
        match self {
            Shape::Flat(width) => width.clone(),
            Shape::Image(image) => Width::Literal(image.len(), Span::call_site()),
            Shape::Sequence(sequence) => Width::Literal(sequence.len(), Span::call_site()),
        }
    }

    /// For messages: "784 values", "a 28×28×1 image", "an 8×8×1 image".
    pub fn text(&self) -> String {
        match self {
            Shape::Flat(width) => format!("{} values", width.text()),
            Shape::Image(image) => format!("{} {} image", article(image.height), image.text()),
            Shape::Sequence(Sequence { steps, features }) => {
                format!("a sequence of {steps} steps of {features} features")
            }
        }
    }
}

/// The most `f32` values one array may hold: rustc rejects types of 2⁶¹ bytes or more on 64-bit
/// targets ("too big for the target architecture"), and a buffer of them could never be
/// allocated anyway.
pub const MAX_VALUES: usize = (1 << 61) / 4 - 1;

/// The product of `factors`, if it is at most [`MAX_VALUES`]: every count of values the macro
/// computes goes through here, so none overflows.
pub fn count(factors: &[usize]) -> Option<usize> {
    factors
        .iter()
        .try_fold(1_usize, |product, &factor| product.checked_mul(factor))
        .filter(|&n| n <= MAX_VALUES)
}

/// A sequence of `steps` steps of `features` values each, stored step after step. Built only
/// through [`Sequence::new`], so its length is known to fit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sequence {
    pub steps: usize,
    pub features: usize,
}

impl Sequence {
    /// The sequence, if its values fit one array.
    pub fn new(steps: usize, features: usize) -> Option<Self> {
        count(&[steps, features]).map(|_| Sequence { steps, features })
    }

    pub fn len(self) -> usize {
        self.steps * self.features
    }
}

/// A channels-last image, `height × width × channels`, stored row by row with the channels of
/// a pixel together. Built only through [`Image::new`], so its length is known to fit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Image {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl Image {
    /// The image, if its values fit one array.
    pub fn new(height: usize, width: usize, channels: usize) -> Option<Self> {
        count(&[height, width, channels]).map(|_| Image {
            height,
            width,
            channels,
        })
    }

    pub fn len(self) -> usize {
        self.height * self.width * self.channels
    }

    pub fn text(self) -> String {
        format!("{}×{}×{}", self.height, self.width, self.channels)
    }
}

/// The English article before the number `n` read aloud: "an" for eight, eleven, eighteen,
/// eighty... and their thousands, "a" otherwise.
pub fn article(n: usize) -> &'static str {
    let digits = n.to_string();
    // Eleven and eighteen are read as such when they lead a group of three digits.
    let leads = |group: &str| digits.len() % 3 == 2 && digits.starts_with(group);
    if digits.starts_with('8') || leads("11") || leads("18") {
        "an"
    } else {
        "a"
    }
}

/// An activation, as the DSL names it and netdsl-core implements it: Keras 3's argument-free
/// activations by their Keras names (with Keras' defaults where one takes a parameter), and
/// `gelu_tanh` for Keras' `gelu(x, approximate=True)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Activation {
    Relu,
    Relu6,
    LeakyRelu,
    Elu,
    /// Keras' `celu` with its default `alpha = 1`: the same function as `elu`.
    Celu,
    Selu,
    Sigmoid,
    HardSigmoid,
    SparseSigmoid,
    LogSigmoid,
    Tanh,
    HardTanh,
    TanhShrink,
    Softplus,
    SparsePlus,
    Squareplus,
    Softsign,
    SoftShrink,
    HardShrink,
    Exponential,
    Silu,
    /// Keras' other name for `silu`.
    Swish,
    HardSilu,
    /// Keras' other name for `hard_silu`.
    HardSwish,
    Gelu,
    GeluTanh,
    Mish,
    Softmax,
    LogSoftmax,
    Linear,
}

impl Activation {
    /// Every activation, in the order messages list them.
    pub const ALL: [Activation; 30] = [
        Activation::Relu,
        Activation::Relu6,
        Activation::LeakyRelu,
        Activation::Elu,
        Activation::Celu,
        Activation::Selu,
        Activation::Sigmoid,
        Activation::HardSigmoid,
        Activation::SparseSigmoid,
        Activation::LogSigmoid,
        Activation::Tanh,
        Activation::HardTanh,
        Activation::TanhShrink,
        Activation::Softplus,
        Activation::SparsePlus,
        Activation::Squareplus,
        Activation::Softsign,
        Activation::SoftShrink,
        Activation::HardShrink,
        Activation::Exponential,
        Activation::Silu,
        Activation::Swish,
        Activation::HardSilu,
        Activation::HardSwish,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Mish,
        Activation::Softmax,
        Activation::LogSoftmax,
        Activation::Linear,
    ];

    /// The DSL keyword: Keras' name.
    pub fn keyword(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Elu => "elu",
            Activation::Celu => "celu",
            Activation::Selu => "selu",
            Activation::Sigmoid => "sigmoid",
            Activation::HardSigmoid => "hard_sigmoid",
            Activation::SparseSigmoid => "sparse_sigmoid",
            Activation::LogSigmoid => "log_sigmoid",
            Activation::Tanh => "tanh",
            Activation::HardTanh => "hard_tanh",
            Activation::TanhShrink => "tanh_shrink",
            Activation::Softplus => "softplus",
            Activation::SparsePlus => "sparse_plus",
            Activation::Squareplus => "squareplus",
            Activation::Softsign => "softsign",
            Activation::SoftShrink => "soft_shrink",
            Activation::HardShrink => "hard_shrink",
            Activation::Exponential => "exponential",
            Activation::Silu => "silu",
            Activation::Swish => "swish",
            Activation::HardSilu => "hard_silu",
            Activation::HardSwish => "hard_swish",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_tanh",
            Activation::Mish => "mish",
            Activation::Softmax => "softmax",
            Activation::LogSoftmax => "log_softmax",
            Activation::Linear => "linear",
        }
    }

    /// The netdsl-core type implementing it (one type for the names Keras gives one function).
    pub fn type_name(self) -> &'static str {
        match self {
            Activation::Relu => "Relu",
            Activation::Relu6 => "Relu6",
            Activation::LeakyRelu => "LeakyRelu",
            Activation::Elu | Activation::Celu => "Elu",
            Activation::Selu => "Selu",
            Activation::Sigmoid => "Sigmoid",
            Activation::HardSigmoid => "HardSigmoid",
            Activation::SparseSigmoid => "SparseSigmoid",
            Activation::LogSigmoid => "LogSigmoid",
            Activation::Tanh => "Tanh",
            Activation::HardTanh => "HardTanh",
            Activation::TanhShrink => "TanhShrink",
            Activation::Softplus => "Softplus",
            Activation::SparsePlus => "SparsePlus",
            Activation::Squareplus => "Squareplus",
            Activation::Softsign => "Softsign",
            Activation::SoftShrink => "SoftShrink",
            Activation::HardShrink => "HardShrink",
            Activation::Exponential => "Exponential",
            Activation::Silu | Activation::Swish => "Silu",
            Activation::HardSilu | Activation::HardSwish => "HardSilu",
            Activation::Gelu => "Gelu",
            Activation::GeluTanh => "GeluTanh",
            Activation::Mish => "Mish",
            Activation::Softmax => "Softmax",
            Activation::LogSoftmax => "LogSoftmax",
            Activation::Linear => "Linear",
        }
    }

    pub fn from_keyword(keyword: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.keyword() == keyword)
    }
}

/// `` `a`, `b`, `c` ``, for "expected one of" messages.
pub fn one_of<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
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
    let article = width.parse().map_or("a", article);
    if position == 1 {
        format!("on {article} {width}-wide input")
    } else {
        format!("after {article} {width}-wide layer")
    }
}

impl Activation {
    /// Its netdsl-core type: `::netdsl::__private::Relu`.
    pub fn ty(self) -> TokenStream {
        let (p, name) = (private(), format_ident!("{}", self.type_name()));
        quote!(#p::#name)
    }
}

impl Width {
    /// As a const generic argument: `64`, `{ HIDDEN }`, `{ 2 * HIDDEN }`,
    /// `{ <<Encoder as Layer>::Out as Row>::WIDTH }`.
    pub fn generic_arg(&self) -> TokenStream {
        match self {
            Width::Literal(n, span) => {
                let mut lit = Literal::usize_unsuffixed(*n);
                lit.set_span(*span);
                lit.into_token_stream()
            }
            Width::Const(_) | Width::Expr(_) | Width::OutputOf(_) => {
                let value = self.value();
                quote_spanned!(self.span()=> { #value })
            }
        }
    }

    /// As a `usize` expression or an array length: `64`, `HIDDEN`, `2 * HIDDEN` (parenthesise it
    /// to compute with it),
    /// `<<Encoder as Layer>::Out as Row>::WIDTH`.
    pub fn value(&self) -> TokenStream {
        match self {
            Width::Literal(..) => self.generic_arg(),
            Width::Const(path) => path.to_token_stream(),
            Width::Expr(expr) => expr.to_token_stream(),
            Width::OutputOf(path) => {
                let p = private_at(self.span());
                quote_spanned!(self.span()=> <<#path as #p::Layer>::Out as #p::Row>::WIDTH)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_follow_the_number_read_aloud() {
        for n in [8, 11, 18, 80, 88, 800, 8_000, 11_000, 18_500] {
            assert_eq!(article(n), "an", "{n}");
        }
        for n in [1, 7, 10, 12, 28, 110, 180, 1_100, 1_800, 111_000] {
            assert_eq!(article(n), "a", "{n}");
        }
    }

    #[test]
    fn counts_refuse_what_overflows_or_cannot_be_an_array() {
        assert_eq!(count(&[28, 28, 1]), Some(784));
        assert_eq!(count(&[]), Some(1));
        assert_eq!(count(&[usize::MAX, 2]), None);
        assert_eq!(count(&[1 << 32, 1 << 32]), None);
        assert_eq!(count(&[MAX_VALUES]), Some(MAX_VALUES));
        assert_eq!(count(&[MAX_VALUES, 1, 1]), Some(MAX_VALUES));
        assert_eq!(count(&[MAX_VALUES + 1]), None);
        assert_eq!(Image::new(1 << 30, 1 << 30, 1 << 2), None);
    }
}
