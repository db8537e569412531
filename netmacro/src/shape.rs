//! Image shapes and the layers that work on them: the shape arithmetic Keras does at run time,
//! done here at compile time, with an error for every layer that does not fit its input.

use proc_macro2::Span;
use syn::{Ident, LitInt};

use crate::ast::{LayerArg, LayerDef, OptionValue, Size};
use crate::check::{Activation, Cell, Layer, LayerKind, Width, layer_place};
use crate::errors::Errors;

/// What flows between two layers: a flat vector, a channels-last image, or a sequence.
#[derive(Clone)]
pub enum Shape {
    Flat(Width),
    Image(Image),
    Sequence(Sequence),
}

/// A sequence of `steps` steps of `features` values each, stored step after step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sequence {
    pub steps: usize,
    pub features: usize,
}

impl Sequence {
    pub fn len(self) -> usize {
        self.steps * self.features
    }
}

/// A channels-last image, `height × width × channels`, stored row by row with the channels of
/// a pixel together.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Image {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl Image {
    pub fn len(self) -> usize {
        self.height * self.width * self.channels
    }

    pub fn text(self) -> String {
        format!("{}×{}×{}", self.height, self.width, self.channels)
    }
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

/// Padding of a convolution, as Keras' `padding=`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Padding {
    Valid,
    Same,
}

/// The literal shape of an input: `(height, width, channels)`, an image, or
/// `(steps, features)`, a sequence.
pub fn input_shape(dims: &[LitInt], network: &Ident, errors: &mut Errors) -> Option<Shape> {
    let mut values = Vec::with_capacity(dims.len());
    for lit in dims {
        match lit.base10_parse::<usize>() {
            Ok(0) | Err(_) => errors.push_spanned(
                lit.span(),
                format_args!(
                    "the input shape of `{network}` needs sizes of at least 1, found `{lit}`"
                ),
            ),
            Ok(n) => values.push(n),
        }
    }
    match values[..] {
        [height, width, channels] => Some(Shape::Image(Image {
            height,
            width,
            channels,
        })),
        [steps, features] => Some(Shape::Sequence(Sequence { steps, features })),
        _ => None,
    }
}

/// Context for messages about one layer.
pub struct Place<'a> {
    pub network: &'a Ident,
    pub position: usize,
    pub layer: &'a LayerDef,
    /// The layers checked before it, so a message can say where a size came from.
    pub before: &'a [Layer],
}

impl Place<'_> {
    fn name(&self) -> String {
        layer_place(self.position, self.network, &self.layer.text)
    }
}

/// A literal size of at least 1 among a layer's arguments.
fn literal(size: &Size, what: &str, place: &Place, errors: &mut Errors) -> Option<usize> {
    match size {
        Size::Literal(lit) => match lit.base10_parse::<usize>() {
            Ok(0) => {
                errors.push_spanned(
                    lit.span(),
                    format_args!("`{}`: {what} must be at least 1, found 0", place.layer.text),
                );
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                errors.push_spanned(
                    lit.span(),
                    format_args!(
                        "`{}`: {what} must be a `usize`, found `{lit}`",
                        place.layer.text
                    ),
                );
                None
            }
        },
        Size::Const(path) => {
            errors.push(syn::Error::new_spanned(
                path,
                format_args!(
                    "`{}`: {what} must be an integer literal, so that the macro can work out the image shapes",
                    place.layer.text
                ),
            ));
            None
        }
    }
}

/// The positional sizes and the named options of a layer's arguments.
fn split_args(args: &[LayerArg]) -> (Vec<&LayerArg>, Vec<(&Ident, &OptionValue)>) {
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for arg in args {
        match arg {
            LayerArg::Named { name, value } => named.push((name, value)),
            other => positional.push(other),
        }
    }
    (positional, named)
}

/// The image a layer needs, or an error saying it got a flat vector.
fn needs_image(input: Option<&Shape>, place: &Place, errors: &mut Errors) -> Option<Image> {
    match input? {
        Shape::Image(image) => Some(*image),
        Shape::Flat(width) => {
            errors.push(syn::Error::new_spanned(
                &place.layer.tokens,
                format_args!(
                    "{} needs an image, found a vector of {} values; declare the network's input as `(height, width, channels)` or add `Reshape(height, width, channels)` before it",
                    place.name(),
                    width.text()
                ),
            ));
            None
        }
        Shape::Sequence(_) => {
            errors.push(syn::Error::new_spanned(
                &place.layer.tokens,
                format_args!("{} needs an image, found {}", place.name(), input?.text()),
            ));
            None
        }
    }
}

fn unknown_option(name: &Ident, keyword: &str, expected: &str, errors: &mut Errors) {
    errors.push_spanned(
        name.span(),
        format_args!("unknown option `{name}` of `{keyword}`; expected {expected}"),
    );
}

fn int_option(
    value: &OptionValue,
    what: &str,
    place: &Place,
    errors: &mut Errors,
) -> Option<usize> {
    match value {
        OptionValue::Int(lit) => literal(&Size::Literal(lit.clone()), what, place, errors),
        other => {
            errors.push_spanned(
                other.span(),
                format_args!("`{}`: {what} takes an integer", place.layer.text),
            );
            None
        }
    }
}

/// `Conv2d(filters, kernel[, activation][, stride = s][, padding = valid|same][, bias = b])`.
pub fn conv2d(
    input: Option<&Shape>,
    place: &Place,
    args: &[LayerArg],
    errors: &mut Errors,
) -> Option<(LayerKind, Option<Shape>)> {
    let text = &place.layer.text;
    let (positional, named) = split_args(args);
    let size_arg = |i: usize| match positional.get(i) {
        Some(LayerArg::Positional(size)) => Some(size),
        _ => None,
    };
    let (Some(filters), Some(kernel)) = (size_arg(0), size_arg(1)) else {
        errors.push(syn::Error::new_spanned(
            &place.layer.tokens,
            format_args!(
                "`{text}` needs a number of filters and a kernel size, e.g. `Conv2d(6, 5, relu)`"
            ),
        ));
        return None;
    };
    let filters = literal(filters, "the number of filters", place, errors);
    let kernel_span = kernel.span();
    let kernel = literal(kernel, "the kernel size", place, errors);
    let mut activation = Activation::Linear;
    if let Some(arg) = positional.get(2) {
        match arg {
            LayerArg::Positional(size) => match size
                .as_ident()
                .and_then(|i| Activation::from_keyword(&i.to_string()))
            {
                Some(found) => activation = found,
                None => crate::check::unknown_activation(size, errors),
            },
            _ => errors.push(syn::Error::new_spanned(
                &place.layer.tokens,
                format_args!("`{text}`: unexpected argument"),
            )),
        }
    }
    if positional.len() > 3 {
        errors.push(syn::Error::new_spanned(
            &place.layer.tokens,
            format_args!("`{text}` takes filters, a kernel size, an activation, and `stride`, `padding`, `bias` options"),
        ));
    }
    let (mut stride, mut padding, mut bias) = (Some(1), Padding::Valid, true);
    for (name, value) in named {
        match (name.to_string().as_str(), value) {
            ("stride", value) => stride = int_option(value, "the stride", place, errors),
            ("padding", OptionValue::Path(path)) if path.is_ident("same") => {
                padding = Padding::Same
            }
            ("padding", OptionValue::Path(path)) if path.is_ident("valid") => {
                padding = Padding::Valid
            }
            ("padding", other) => {
                errors.push_spanned(
                    other.span(),
                    format_args!("`{text}`: `padding` is `valid` or `same`"),
                );
            }
            ("bias", OptionValue::Bool(lit)) => bias = lit.value,
            ("bias", other) => errors.push_spanned(other.span(), "`bias` takes `true` or `false`"),
            _ => unknown_option(name, "Conv2d", "`stride`, `padding` or `bias`", errors),
        }
    }
    let image = needs_image(input, place, errors);
    let (filters, kernel, stride, image) = (filters?, kernel?, stride?, image?);
    let (out_h, pad_top) = conv_extent(image.height, kernel, stride, padding);
    let (out_w, pad_left) = conv_extent(image.width, kernel, stride, padding);
    if padding == Padding::Valid
        && !window_fits(image, kernel, kernel_span, "kernel", place, errors)
    {
        return None;
    }
    let output = Image {
        height: out_h,
        width: out_w,
        channels: filters,
    };
    let kind = LayerKind::Conv2d {
        input: image,
        filters,
        kernel,
        stride,
        padding,
        pad_top,
        pad_left,
        output,
        activation,
        bias,
    };
    Some((kind, Some(Shape::Image(output))))
}

/// Whether a `size`×`size` window (a "kernel" or a "pool") fits inside `image`; reports it if
/// not, on the size's token `span`.
fn window_fits(
    image: Image,
    size: usize,
    span: Span,
    what: &str,
    place: &Place,
    errors: &mut Errors,
) -> bool {
    let limit = image.height.min(image.width);
    if size <= limit {
        return true;
    }
    let size_name = if what == "pool" { "pool size" } else { what };
    errors.push_spanned(
        span,
        format_args!(
            "{} on {}: a {size}×{size} {what} does not fit; expected a {size_name} of at most {limit}",
            place.name(),
            Shape::Image(image).text(),
        ),
    );
    false
}

/// Output size and leading padding along one axis, as Keras computes them: `valid` floors
/// `(n - k) / s + 1`; `same` gives `ceil(n / s)` with the padding split evenly, the odd one
/// at the end.
fn conv_extent(n: usize, k: usize, s: usize, padding: Padding) -> (usize, usize) {
    match padding {
        Padding::Valid => ((n.saturating_sub(k)) / s + 1, 0),
        Padding::Same => {
            let out = n.div_ceil(s);
            let total = ((out - 1) * s + k).saturating_sub(n);
            (out, total / 2)
        }
    }
}

/// `MaxPool2d(size[, stride = s])`, `AvgPool2d(...)`: `valid` pooling, stride defaulting to the
/// size, as Keras.
pub fn pool(
    max: bool,
    input: Option<&Shape>,
    place: &Place,
    args: &[LayerArg],
    errors: &mut Errors,
) -> Option<(LayerKind, Option<Shape>)> {
    let text = &place.layer.text;
    let keyword = if max { "MaxPool2d" } else { "AvgPool2d" };
    let (positional, named) = split_args(args);
    let (size, size_span) = match positional.first() {
        Some(LayerArg::Positional(size)) if positional.len() == 1 => {
            (literal(size, "the pool size", place, errors), size.span())
        }
        _ => {
            errors.push(syn::Error::new_spanned(
                &place.layer.tokens,
                format_args!(
                    "`{text}` takes a pool size and an optional `stride`, e.g. `{keyword}(2)`"
                ),
            ));
            return None;
        }
    };
    let mut stride = None;
    for (name, value) in named {
        match name.to_string().as_str() {
            "stride" => stride = Some(int_option(value, "the stride", place, errors)),
            _ => unknown_option(name, keyword, "`stride`", errors),
        }
    }
    let image = needs_image(input, place, errors);
    let size = size?;
    let stride = stride.unwrap_or(Some(size))?;
    let image = image?;
    if !window_fits(image, size, size_span, "pool", place, errors) {
        return None;
    }
    let output = Image {
        height: conv_extent(image.height, size, stride, Padding::Valid).0,
        width: conv_extent(image.width, size, stride, Padding::Valid).0,
        channels: image.channels,
    };
    Some((
        LayerKind::Pool {
            max,
            input: image,
            size,
            stride,
            output,
        },
        Some(Shape::Image(output)),
    ))
}

/// `Flatten`: an image becomes the vector it already is in memory.
pub fn flatten(input: Option<&Shape>) -> Option<(LayerKind, Option<Shape>)> {
    Some((
        LayerKind::Flatten,
        input.map(|shape| Shape::Flat(shape.flat())),
    ))
}

/// `Reshape(n)` or `Reshape(height, width, channels)`, with as many elements as its input.
pub fn reshape(
    input: Option<&Shape>,
    place: &Place,
    args: &[LayerArg],
    errors: &mut Errors,
) -> Option<(LayerKind, Option<Shape>)> {
    let dims: Vec<Option<usize>> = args
        .iter()
        .map(|arg| match arg {
            LayerArg::Positional(size) => literal(size, "each dimension", place, errors),
            _ => {
                errors.push(syn::Error::new_spanned(
                    &place.layer.tokens,
                    format_args!("`{}` takes only sizes", place.layer.text),
                ));
                None
            }
        })
        .collect();
    if !(1..=3).contains(&dims.len()) {
        errors.push(syn::Error::new_spanned(
            &place.layer.tokens,
            format_args!(
                "`{}` takes one size, `(steps, features)` or `(height, width, channels)`, e.g. `Reshape(28, 28, 1)`",
                place.layer.text
            ),
        ));
        return None;
    }
    let dims: Vec<usize> = dims.into_iter().collect::<Option<_>>()?;
    let count: usize = dims.iter().product();
    let given = match input?.flat() {
        Width::Literal(n, _) => n,
        _ => {
            errors.push(syn::Error::new_spanned(
                &place.layer.tokens,
                format_args!(
                    "{} needs the width before it as an integer literal",
                    place.name()
                ),
            ));
            return None;
        }
    };
    if given != count {
        let found = match dims[..] {
            [h, w, c] => format!("{h}×{w}×{c} = {count}"),
            [t, f] => format!("{t}×{f} = {count}"),
            _ => count.to_string(),
        };
        errors.push(syn::Error::new_spanned(
            &place.layer.tokens,
            format_args!(
                "{} on {}: expected {given} elements, found {found}{}",
                place.name(),
                input?.text(),
                floored_note(place.before)
            ),
        ));
        return None;
    }
    let output = match dims[..] {
        [h, w, c] => Shape::Image(Image {
            height: h,
            width: w,
            channels: c,
        }),
        [steps, features] => Shape::Sequence(Sequence { steps, features }),
        _ => Shape::Flat(Width::Literal(count, Span::call_site())),
    };
    Some((LayerKind::Reshape, Some(output)))
}

/// Where a size that surprises the user may come from: the `Conv2d` or pool that last shaped the
/// output of `before` (seen through `Flatten` and `Dropout`), if its valid padding rounded an
/// output size down and left pixels over. "; `Conv2d(8, 3, stride = 2)` (layer 1) gives
/// 13×13×8: valid padding rounds (28 - 3) / 2 + 1 down to 13, as in Keras", or empty.
pub fn floored_note(before: &[Layer]) -> String {
    let Some(layer) = before
        .iter()
        .rev()
        .find(|l| !matches!(l.kind, LayerKind::Flatten | LayerKind::Dropout { .. }))
    else {
        return String::new();
    };
    let (input, size, stride, output) = match layer.kind {
        LayerKind::Conv2d {
            input,
            kernel,
            stride,
            padding: Padding::Valid,
            output,
            ..
        } => (input, kernel, stride, output),
        LayerKind::Pool {
            input,
            size,
            stride,
            output,
            ..
        } => (input, size, stride, output),
        _ => return String::new(),
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

/// `Dropout(rate)`, `0 <= rate < 1`.
pub fn dropout(
    input: Option<&Shape>,
    place: &Place,
    args: &[LayerArg],
    errors: &mut Errors,
) -> Option<(LayerKind, Option<Shape>)> {
    let rate = match args {
        [LayerArg::Float(lit)] => lit
            .base10_parse::<f32>()
            .ok()
            .filter(|r| (0.0..1.0).contains(r)),
        [LayerArg::Positional(Size::Literal(lit))] if lit.base10_digits() == "0" => Some(0.0),
        _ => None,
    };
    let Some(rate) = rate else {
        errors.push(syn::Error::new_spanned(
            &place.layer.tokens,
            format_args!(
                "`{}` takes a rate from 0 up to (not including) 1, e.g. `Dropout(0.5)`",
                place.layer.text
            ),
        ));
        return None;
    };
    Some((LayerKind::Dropout { rate }, input.cloned()))
}

/// The error for a `Dense` right after an image or a sequence.
pub fn dense_after(shape: &Shape, place: &Place, errors: &mut Errors) {
    errors.push(syn::Error::new_spanned(
        &place.layer.tokens,
        format_args!(
            "{} after {}: add `Flatten` before it (`Dense` takes a vector of values)",
            place.name(),
            shape.text()
        ),
    ));
}

/// `SimpleRNN(units[, activation][, bias = b][, return_sequences = r])`, `LSTM(units, ...)` or
/// `GRU(units, ...)` over a sequence, as Keras' layers of those names with their defaults: a
/// vector of `units` values, or with `return_sequences = true` a sequence of them, one per
/// step. Only `SimpleRNN` takes an activation; `cell` carries its default, `tanh`.
pub fn recurrent(
    cell: Cell,
    input: Option<&Shape>,
    place: &Place,
    args: &[LayerArg],
    errors: &mut Errors,
) -> Option<(LayerKind, Option<Shape>)> {
    let (input, units, activation, options) = recurrent_args(input, place, args, cell, errors)?;
    let cell = match (cell, activation) {
        (Cell::Simple(_), Some(activation)) => Cell::Simple(activation),
        (cell, _) => cell,
    };
    let kind = LayerKind::Recurrent {
        cell,
        input,
        units,
        bias: options.bias,
        sequences: options.sequences,
    };
    Some((kind, Some(options.output(input, units))))
}

/// A recurrent layer's named options.
struct RecurrentOptions {
    bias: bool,
    /// `return_sequences = true`: every step's state, not just the last.
    sequences: bool,
}

impl RecurrentOptions {
    /// The output shape: the last state, or a sequence of every step's.
    fn output(&self, input: Sequence, units: usize) -> Shape {
        if self.sequences {
            Shape::Sequence(Sequence {
                steps: input.steps,
                features: units,
            })
        } else {
            Shape::Flat(Width::Literal(units, Span::call_site()))
        }
    }
}

/// A recurrent layer's input sequence, units, activation (`SimpleRNN`'s, if given) and
/// options, or `None` after pushing what is wrong.
fn recurrent_args(
    input: Option<&Shape>,
    place: &Place,
    args: &[LayerArg],
    cell: Cell,
    errors: &mut Errors,
) -> Option<(Sequence, usize, Option<Activation>, RecurrentOptions)> {
    let text = &place.layer.text;
    let keyword = cell.keyword();
    let with_activation = matches!(cell, Cell::Simple(_));
    let (positional, named) = split_args(args);
    let units = match positional.first() {
        Some(LayerArg::Positional(size)) => literal(size, "the number of units", place, errors),
        _ => {
            errors.push(syn::Error::new_spanned(
                &place.layer.tokens,
                format_args!("`{text}` needs a number of units, e.g. `{keyword}(64)`"),
            ));
            return None;
        }
    };
    let mut activation = None;
    match positional.get(1) {
        None => {}
        Some(LayerArg::Positional(size)) if with_activation => match size
            .as_ident()
            .and_then(|i| Activation::from_keyword(&i.to_string()))
        {
            Some(found) => activation = Some(found),
            None => crate::check::unknown_activation(size, errors),
        },
        Some(_) => errors.push(syn::Error::new_spanned(
            &place.layer.tokens,
            format_args!("`{text}`: unexpected argument"),
        )),
    }
    let most = if with_activation { 2 } else { 1 };
    if positional.len() > most {
        let takes = if with_activation {
            "units, an activation, and `bias` and `return_sequences` options"
        } else {
            "units, and `bias` and `return_sequences` options"
        };
        errors.push(syn::Error::new_spanned(
            &place.layer.tokens,
            format_args!("`{text}` takes {takes}"),
        ));
    }
    let mut options = RecurrentOptions {
        bias: true,
        sequences: false,
    };
    for (name, value) in named {
        match (name.to_string().as_str(), value) {
            ("bias", OptionValue::Bool(lit)) => options.bias = lit.value,
            ("return_sequences", OptionValue::Bool(lit)) => options.sequences = lit.value,
            (option @ ("bias" | "return_sequences"), other) => errors.push_spanned(
                other.span(),
                format_args!("`{option}` takes `true` or `false`"),
            ),
            _ => unknown_option(name, keyword, "`bias` or `return_sequences`", errors),
        }
    }
    let sequence = match input? {
        Shape::Sequence(sequence) => *sequence,
        other => {
            errors.push(syn::Error::new_spanned(
                &place.layer.tokens,
                format_args!(
                    "{} needs a sequence, found {}; declare the network's input as `(steps, features)` or add `Reshape(steps, features)` before it",
                    place.name(),
                    other.text()
                ),
            ));
            return None;
        }
    };
    Some((sequence, units?, activation, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convolution_extents_follow_keras() {
        assert_eq!(conv_extent(28, 5, 1, Padding::Same), (28, 2));
        assert_eq!(conv_extent(28, 5, 1, Padding::Valid), (24, 0));
        assert_eq!(conv_extent(7, 3, 2, Padding::Valid), (3, 0));
        assert_eq!(conv_extent(7, 3, 2, Padding::Same), (4, 1));
        // Keras floors: a 6-wide input, kernel 3, stride 2 leaves the last column unused.
        assert_eq!(conv_extent(6, 3, 2, Padding::Valid), (2, 0));
        assert_eq!(conv_extent(6, 2, 2, Padding::Same), (3, 0));
    }

    #[test]
    fn articles_follow_the_number_read_aloud() {
        for n in [8, 11, 18, 80, 88, 800, 8_000, 11_000, 18_500] {
            assert_eq!(article(n), "an", "{n}");
        }
        for n in [1, 7, 10, 12, 28, 110, 180, 1_100, 1_800, 111_000] {
            assert_eq!(article(n), "a", "{n}");
        }
    }
}
