//! `Conv2d(filters, kernel[, activation][, stride = s][, padding = valid|same][, bias = false])`:
//! Keras' `Conv2D` on a channels-last image, with the output shape Keras computes.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checked, Cx, Keyword, image_type, private_type};
use crate::args::{Args, Tensor, Usage, WeightOptions};
use crate::model::{Activation, Image, Kind, Layer, Shape, Window};
use crate::tokens::{literal, private};

pub const CONV2D: Keyword = Keyword::call(
    Usage::new(
        "Conv2d",
        "Conv2d(6, 5, relu)",
        "filters, a kernel size, an activation, and `stride`, `padding` and `bias` options, and initializers and regularizers",
    ),
    "conv2d",
    check,
);

/// Padding of a convolution, as Keras' `padding=`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Padding {
    Valid,
    Same,
}

struct Conv2d {
    input: Image,
    kernel: usize,
    stride: usize,
    padding: Padding,
    pad_top: usize,
    pad_left: usize,
    output: Image,
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
    let stride = args.size_option("stride", 1);
    let padding = args.choice(
        "padding",
        &[("valid", Padding::Valid), ("same", Padding::Same)],
        Padding::Valid,
    );
    let bias = args.flag("bias", true);
    let weights = args.weight_options(&TENSORS, &TENSORS);
    let input = cx.image();
    let (filters, kernel, stride, input) = (filters?, kernel?, stride?, input?);
    if padding == Padding::Valid && !cx.window_fits(input, kernel, kernel_span, "kernel") {
        return None;
    }
    cx.count("kernel", &[kernel, kernel, input.channels, filters])?;
    // The kernel fits an array, so the padded extent does too.
    let (height, pad_top) = extent(input.height, kernel, stride, padding)?;
    let (width, pad_left) = extent(input.width, kernel, stride, padding)?;
    cx.count("output", &[height, width, filters])?;
    let output = Image::new(height, width, filters)?;
    let conv = Conv2d {
        input,
        kernel,
        stride,
        padding,
        pad_top,
        pad_left,
        output,
        activation,
        bias,
        weights,
    };
    Checked::new(conv, Shape::Image(output))
}

/// Output size and leading padding along one axis, as Keras computes them: `valid` floors
/// `(n - k) / s + 1` (for `k <= n`); `same` gives `ceil(n / s)` with the padding split evenly,
/// the odd one at the end. `None` if the padded extent overflows.
pub fn extent(n: usize, k: usize, s: usize, padding: Padding) -> Option<(usize, usize)> {
    match padding {
        Padding::Valid => Some((n.checked_sub(k)? / s + 1, 0)),
        Padding::Same => {
            let out = n.div_ceil(s);
            let total = ((out - 1) * s).checked_add(k)?.saturating_sub(n);
            Some((out, total / 2))
        }
    }
}

impl Kind for Conv2d {
    /// `Conv2d<Image<H, W, C, IN>, Kernel<F, K, S>, Padding<PT, PL>, Image<OH, OW, F, OUT>, A>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let (input, output, p) = (self.input, self.output, private());
        let [f, k, s, top, left] = [
            output.channels,
            self.kernel,
            self.stride,
            self.pad_top,
            self.pad_left,
        ]
        .map(literal);
        let args = [
            image_type(input),
            quote!(#p::Kernel<#f, #k, #s>),
            quote!(#p::Padding<#top, #left>),
            image_type(output),
            self.activation.ty(),
        ];
        private_type("Conv2d", &args)
    }

    fn constructor(&self, layer: &Layer) -> TokenStream {
        (self.weights).constructor(&self.ty(layer), layer.span(), self.bias)
    }

    fn window(&self) -> Option<Window> {
        (self.padding == Padding::Valid).then_some(Window {
            input: self.input,
            size: self.kernel,
            stride: self.stride,
            output: self.output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_follow_keras() {
        assert_eq!(extent(28, 5, 1, Padding::Same), Some((28, 2)));
        assert_eq!(extent(28, 5, 1, Padding::Valid), Some((24, 0)));
        assert_eq!(extent(7, 3, 2, Padding::Valid), Some((3, 0)));
        assert_eq!(extent(7, 3, 2, Padding::Same), Some((4, 1)));
        // Keras floors: a 6-wide input, kernel 3, stride 2 leaves the last column unused.
        assert_eq!(extent(6, 3, 2, Padding::Valid), Some((2, 0)));
        assert_eq!(extent(6, 2, 2, Padding::Same), Some((3, 0)));
    }

    #[test]
    fn extents_that_overflow_are_none() {
        assert_eq!(extent(4, 5, 1, Padding::Valid), None);
        assert_eq!(extent(usize::MAX, usize::MAX, 1, Padding::Same), None);
        assert_eq!(
            extent(3, usize::MAX, usize::MAX, Padding::Same),
            Some((1, (usize::MAX - 3) / 2))
        );
    }
}
