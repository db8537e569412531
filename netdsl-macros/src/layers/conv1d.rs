//! `Conv1D(filters, kernel_size[, activation][, strides = s][, padding = valid|same|causal]
//! [, dilation_rate = d][, bias = false])`: Keras' `Conv1D` on a sequence, with the output
//! shape Keras computes.

use proc_macro2::TokenStream;
use quote::quote;

use super::conv2d::{self, extent};
use super::{Checked, Cx, Keyword, private_type, sequence_type};
use crate::args::{Args, Tensor, Usage, WeightOptions};
use crate::model::{Activation, Kind, Layer, Sequence, Shape};
use crate::tokens::{literal, private};

pub const CONV1D: Keyword = Keyword::call(
    Usage::new(
        "Conv1D",
        "Conv1D(32, 3, relu)",
        "filters, a kernel size, an activation, and `strides`, `padding`, `dilation_rate` and `bias` options, and initializers and regularizers",
    ),
    "conv1d",
    check,
);

/// Padding of a one-dimensional convolution, as Keras' `padding=`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Padding {
    Valid,
    Same,
    /// Zeros before the sequence only, so that no output sees a later step.
    Causal,
}

struct Conv1d {
    input: Sequence,
    kernel: usize,
    strides: usize,
    dilation: usize,
    pad_left: usize,
    output: Sequence,
    activation: Activation,
    bias: bool,
    weights: WeightOptions,
}

/// The tensors of a convolution, which both take an initializer and a regularizer.
const TENSORS: [Tensor; 2] = [Tensor::Kernel, Tensor::Bias];

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    let filters = args.literal("number of filters");
    let kernel = args.literal("kernel size");
    let kernel_span = args.last_span();
    let activation = args.activation(Activation::Linear);
    let strides = args.size_option("strides", 1);
    let padding = args.choice(
        "padding",
        &[
            ("valid", Padding::Valid),
            ("same", Padding::Same),
            ("causal", Padding::Causal),
        ],
        Padding::Valid,
    );
    let dilation = args.size_option("dilation_rate", 1);
    let bias = args.flag("bias", true);
    let weights = args.weight_options(&TENSORS, &TENSORS);
    let input = cx.sequence();
    let (filters, kernel, strides, dilation) = (filters?, kernel?, strides?, dilation?);
    if strides > 1 && dilation > 1 {
        let message = format!(
            "`{}`: `strides` and `dilation_rate` cannot both be above 1, as in Keras; keep one of them at 1",
            cx.text()
        );
        cx.error(message);
        return None;
    }
    let input = input?;
    cx.count("kernel", &[kernel, input.features, filters])?;
    // The steps the kernel spans, `(kernel - 1) · dilation + 1`.
    let Some(span) = crate::model::count(&[kernel - 1, dilation]).map(|n| n + 1) else {
        let message = format!(
            "{}: a kernel of {kernel} with `dilation_rate = {dilation}` spans more steps than an array can hold",
            cx.name()
        );
        cx.errors.push_spanned(kernel_span, message);
        return None;
    };
    if padding == Padding::Valid && span > input.steps {
        let (kernel_is, expected) = if dilation == 1 {
            (format!("a kernel of {kernel} steps"), "a kernel size")
        } else {
            (
                format!(
                    "a kernel of {kernel} with `dilation_rate = {dilation}` spans {span} steps and"
                ),
                "a span `(kernel_size - 1) · dilation_rate + 1`",
            )
        };
        let message = format!(
            "{} on {}: {kernel_is} does not fit; expected {expected} of at most {}, or `padding = same` or `causal`",
            cx.name(),
            Shape::Sequence(input).text(),
            input.steps
        );
        cx.errors.push_spanned(kernel_span, message);
        return None;
    }
    let (steps, pad_left) = match padding {
        Padding::Valid => extent(input.steps, span, strides, conv2d::Padding::Valid)?,
        Padding::Same => extent(input.steps, span, strides, conv2d::Padding::Same)?,
        Padding::Causal => (input.steps.div_ceil(strides), span - 1),
    };
    cx.count("output", &[steps, filters])?;
    let conv = Conv1d {
        input,
        kernel,
        strides,
        dilation,
        pad_left,
        output: Sequence::new(steps, filters)?,
        activation,
        bias,
        weights,
    };
    let output = Shape::Sequence(conv.output);
    Checked::new(conv, output)
}

impl Kind for Conv1d {
    /// `Conv1d<Sequence<T, C, IN>, Kernel1d<F, K, S, D>, Padding1d<PL>, Sequence<OT, F, OUT>, A>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let p = private();
        let [f, k, s, d, left] = [
            self.output.features,
            self.kernel,
            self.strides,
            self.dilation,
            self.pad_left,
        ]
        .map(literal);
        let args = [
            sequence_type(self.input),
            quote!(#p::Kernel1d<#f, #k, #s, #d>),
            quote!(#p::Padding1d<#left>),
            sequence_type(self.output),
            self.activation.ty(),
        ];
        private_type("Conv1d", &args)
    }

    fn activation(&self) -> TokenStream {
        self.activation.ty()
    }

    fn constructor(&self, layer: &Layer) -> TokenStream {
        (self.weights).constructor(&self.ty(layer), layer.span(), self.bias)
    }
}
