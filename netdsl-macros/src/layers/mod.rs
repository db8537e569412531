//! One file per layer kind: its arguments, its shape rule, its messages and its generated type.
//! [`KEYWORDS`] is the one table of DSL keywords; the "expected one of" lists come from it.
//!
//! Adding a layer kind is one file here (a [`Keyword`] and a [`Kind`]), one line in
//! [`KEYWORDS`], and the runtime type it names.

mod conv1d;
mod conv2d;
mod dense;
mod dropout;
mod embedding;
mod flatten;
mod global_pool;
pub mod join;
mod masking;
pub mod multi_head_attention;
mod named;
mod normalization;
mod pool;
mod position_embedding;
mod recurrent;
mod reshape;
mod reverse;
mod sine_position_encoding;
pub mod transformer_encoder;
mod up_sampling;
mod zero_padding;

use proc_macro2::{Span, TokenStream};
use syn::{Ident, Path};

use crate::args::{Args, Usage};
use crate::ast::LayerDef;
use crate::errors::Errors;
use crate::mask::MaskState;
use crate::model::{Image, Kind, Layer, Sequence, Shape, Window, layer_place};

pub use named::named;

/// A layer keyword of the DSL.
pub struct Keyword {
    /// How it is written, for messages; `usage.name` is the keyword.
    pub usage: Usage,
    /// The name of its fields before their number, as Keras names its layers: `dense`,
    /// `simple_rnn`.
    pub field: &'static str,
    /// Whether it is also written bare, without parentheses (`=> Flatten =>`).
    pub bare: bool,
    /// Other spellings it answers to (`BatchNorm`), which "expected one of" lists leave out.
    pub aliases: &'static [&'static str],
    /// Reads its arguments and works out its output, reporting every mistake.
    pub check: fn(&mut Cx, &mut Args) -> Option<Checked>,
}

impl Keyword {
    /// A keyword written with parentheses.
    const fn call(
        usage: Usage,
        field: &'static str,
        check: fn(&mut Cx, &mut Args) -> Option<Checked>,
    ) -> Self {
        Keyword {
            usage,
            field,
            bare: false,
            aliases: &[],
            check,
        }
    }
}

/// Every layer keyword, in the order "expected one of" lists them.
pub const KEYWORDS: &[&Keyword] = &[
    &dense::DENSE,
    &conv2d::CONV2D,
    &pool::MAX_POOL2D,
    &pool::AVG_POOL2D,
    &flatten::FLATTEN,
    &reshape::RESHAPE,
    &dropout::DROPOUT,
    &reverse::REVERSE,
    &normalization::BATCH_NORMALIZATION,
    &normalization::LAYER_NORMALIZATION,
    &masking::MASKING,
    &recurrent::SIMPLE_RNN,
    &recurrent::LSTM,
    &recurrent::GRU,
    &conv1d::CONV1D,
    &global_pool::GLOBAL_AVERAGE_POOLING1D,
    &global_pool::GLOBAL_MAX_POOLING1D,
    &global_pool::GLOBAL_AVERAGE_POOLING2D,
    &global_pool::GLOBAL_MAX_POOLING2D,
    &zero_padding::ZERO_PADDING2D,
    &up_sampling::UP_SAMPLING2D,
    &embedding::EMBEDDING,
    &multi_head_attention::MULTI_HEAD_ATTENTION,
    &position_embedding::POSITION_EMBEDDING,
    &sine_position_encoding::SINE_POSITION_ENCODING,
];

/// The keyword written `name` (or one of its aliases), if there is one.
pub fn keyword(name: &Ident) -> Option<&'static Keyword> {
    KEYWORDS
        .iter()
        .copied()
        .find(|k| name == k.usage.name || k.aliases.iter().any(|alias| name == alias))
}

/// A layer that passed its checks, as far as they went: its kind and its output shape.
pub struct Checked {
    pub kind: Box<dyn Kind>,
    pub output: Shape,
}

impl Checked {
    pub fn new(kind: impl Kind + 'static, output: Shape) -> Option<Self> {
        Some(Checked {
            kind: Box::new(kind),
            output,
        })
    }
}

/// What a layer's check knows of its surroundings, and where its errors go.
pub struct Cx<'a> {
    pub network: &'a Ident,
    /// Where a branch's chain is, for its messages: "branch 2 of `Add(..)` (layer 3 of `Net`)".
    pub place: Option<&'a str>,
    /// The network's visibility, which the networks of a join's branches share.
    pub vis: &'a syn::Visibility,
    /// The layer's field in the network: `dense_1`.
    pub field: &'a Ident,
    /// The layer's place in the network, from 1.
    pub position: usize,
    pub layer: &'a LayerDef,
    /// The layers checked before it, so a message can say where a size came from.
    pub before: &'a [Layer],
    /// The shape the layer before gives, if the layers before were well formed.
    pub input: Option<&'a Shape>,
    /// What the input carries of masks, for the branches of a join.
    pub mask: &'a MaskState,
    /// The fields numbered so far per kind, for the layers of a join's branches.
    pub counts: &'a mut Vec<(String, usize)>,
    pub errors: &'a mut Errors,
}

impl Cx<'_> {
    /// "`Encoder` (layer 2 of `Classifier`)".
    pub fn name(&self) -> String {
        match self.place {
            Some(place) => format!("`{}` (layer {} of {place})", self.layer.text, self.position),
            None => layer_place(self.position, self.network, &self.layer.text),
        }
    }

    /// The layer as written.
    pub fn text(&self) -> &str {
        &self.layer.text
    }

    /// Reports a mistake about the layer as a whole, underlining all of it.
    pub fn error(&mut self, message: impl std::fmt::Display) {
        self.errors
            .push(syn::Error::new_spanned(&self.layer.tokens, message));
    }

    /// The image the layer needs, or `None` after saying what it got instead (nothing is said
    /// when the layers before were not well formed).
    pub fn image(&mut self) -> Option<Image> {
        self.image_or_twin(None)
    }

    /// [`Cx::image`] for a layer with a `twin` of the same name that takes sequences
    /// (`GlobalAveragePooling2D` and `GlobalAveragePooling1D`): given a sequence, the message
    /// says to use the twin.
    pub fn image_or_twin(&mut self, twin: Option<&str>) -> Option<Image> {
        let message = match self.input? {
            Shape::Image(image) => return Some(*image),
            Shape::Flat(width) => format!(
                "{} needs an image, found a vector of {} values; declare the network's input as `(height, width, channels)` or add `Reshape(height, width, channels)` before it",
                self.name(),
                width.text()
            ),
            other @ Shape::Sequence(sequence) => {
                let fix = match twin {
                    Some(twin) => format!("use `{twin}` on a sequence"),
                    None => format!(
                        "add `Reshape({steps}, {features}, 1)` before it to read the sequence as a {steps}×{features}×1 image",
                        steps = sequence.steps,
                        features = sequence.features,
                    ),
                };
                format!(
                    "{} needs an image, found {}; {fix}",
                    self.name(),
                    other.text()
                )
            }
        };
        self.error(message);
        None
    }

    /// The sequence the layer needs, or `None` after saying what it got instead.
    pub fn sequence(&mut self) -> Option<Sequence> {
        self.sequence_or_twin(None)
    }

    /// [`Cx::sequence`] for a layer with a `twin` of the same name that takes images: given
    /// an image, the message says to use the twin.
    pub fn sequence_or_twin(&mut self, twin: Option<&str>) -> Option<Sequence> {
        let message = match self.input? {
            Shape::Sequence(sequence) => return Some(*sequence),
            other @ Shape::Image(image) => {
                let fix = match twin {
                    Some(twin) => format!("use `{twin}` on an image"),
                    None => format!(
                        "add `Reshape({}, {})` before it to read the image's rows as steps",
                        image.height,
                        image.width * image.channels
                    ),
                };
                format!(
                    "{} needs a sequence, found {}; {fix}",
                    self.name(),
                    other.text()
                )
            }
            other @ Shape::Flat(_) => format!(
                "{} needs a sequence, found {}; declare the network's input as `(steps, features)` or add `Reshape(steps, features)` before it",
                self.name(),
                other.text()
            ),
        };
        self.error(message);
        None
    }

    /// `factors` multiplied, if the product is a number of values an array can hold; otherwise
    /// `None` after saying which of the layer's tensors (`what`, "weights") cannot exist.
    pub fn count(&mut self, what: &str, factors: &[usize]) -> Option<usize> {
        let count = crate::model::count(factors);
        if count.is_none() {
            let product = factors
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" × ");
            let message = format!(
                "{}: its {what} would be {product} values, more than the {} `f32` values an array can hold",
                self.name(),
                crate::model::MAX_VALUES
            );
            self.error(message);
        }
        count
    }
}

/// The type of a keyword layer: `::netdsl::__private::Name<args>`.
fn private_type(name: &str, args: &[TokenStream]) -> TokenStream {
    let p = crate::tokens::private();
    let name = quote::format_ident!("{name}");
    quote::quote!(#p::#name<#(#args),*>)
}

/// An image's shape type: `::netdsl::__private::Image<28, 28, 1, 784>`.
fn image_type(image: Image) -> TokenStream {
    let [h, w, c, n] =
        [image.height, image.width, image.channels, image.len()].map(crate::tokens::literal);
    private_type("Image", &[h, w, c, n])
}

/// A sequence's shape type: `::netdsl::__private::Sequence<10, 2, 20>`.
fn sequence_type(sequence: Sequence) -> TokenStream {
    let [t, f, n] = [sequence.steps, sequence.features, sequence.len()].map(crate::tokens::literal);
    private_type("Sequence", &[t, f, n])
}

/// The keyword a bare path names: `Flatten`, or `Dense` written without its arguments.
pub fn keyword_of_path(path: &Path) -> Option<&'static Keyword> {
    path.get_ident().and_then(keyword)
}

impl Cx<'_> {
    /// Whether a `size`×`size` window (a "kernel" or a "pool") fits inside `image`; says so on
    /// the size's token `span` if not.
    pub fn window_fits(&mut self, image: Image, size: usize, span: Span, what: &str) -> bool {
        let limit = image.height.min(image.width);
        if size <= limit {
            return true;
        }
        let message = format!(
            "{} on {}: a {size}×{size} {what} does not fit; expected a {what} size of at most {limit}",
            self.name(),
            Shape::Image(image).text(),
        );
        self.errors.push_spanned(span, message);
        false
    }
}

/// Where a size that surprises the user may come from: the convolution or pool that last shaped
/// the output of `before` (seen through `Flatten` and `Dropout`), if its valid padding rounded an
/// output size down and left pixels over. "; `Conv2d(8, 3, stride = 2)` (layer 1) gives
/// 13×13×8: valid padding rounds (28 - 3) / 2 + 1 down to 13, as in Keras", or empty.
pub fn floored_note(before: &[Layer]) -> String {
    let Some(layer) = before.iter().rev().find(|l| !l.kind.keeps_values()) else {
        return String::new();
    };
    let Some(Window {
        input,
        size,
        stride,
        output,
    }) = layer.kind.window()
    else {
        return String::new();
    };
    let mut roundings: Vec<String> = Vec::new();
    for (n, out) in [(input.height, output.height), (input.width, output.width)] {
        let left_over = n - ((out - 1) * stride + size);
        let rounding = format!("({n} - {size}) / {stride} + 1 down to {out}");
        if left_over > 0 && !roundings.contains(&rounding) {
            roundings.push(rounding);
        }
    }
    if roundings.is_empty() {
        return String::new();
    }
    format!(
        "; `{}` (layer {}) gives {}: valid padding rounds {}, as in Keras",
        layer.text,
        layer.position,
        output.text(),
        roundings.join(" and ")
    )
}
