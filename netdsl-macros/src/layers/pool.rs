//! `MaxPool2d(size[, stride = s])` and `AvgPool2d(size[, stride = s])`: Keras' `MaxPooling2D` and
//! `AveragePooling2D`, `valid` padding, the stride defaulting to the size.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checked, Cx, Keyword, image_type, private_type};
use crate::args::{Args, Usage};
use crate::model::{Image, Kind, Layer, Shape, Window};
use crate::tokens::{literal, private};

const TAKES: &str = "a pool size and a `stride` option";

pub const MAX_POOL2D: Keyword = Keyword::call(
    Usage::new("MaxPool2d", "MaxPool2d(2)", TAKES),
    "max_pool2d",
    |cx, args| check(cx, args, Reduce::Max),
);

pub const AVG_POOL2D: Keyword = Keyword::call(
    Usage::new("AvgPool2d", "AvgPool2d(2)", TAKES),
    "avg_pool2d",
    |cx, args| check(cx, args, Reduce::Average),
);

/// What a pool makes of its window.
#[derive(Clone, Copy)]
enum Reduce {
    Max,
    Average,
}

struct Pool {
    reduce: Reduce,
    window: Window,
}

fn check(cx: &mut Cx, args: &mut Args, reduce: Reduce) -> Option<Checked> {
    let size = args.literal("pool size");
    let size_span = args.last_span();
    let stride = args.size_option("stride", size.unwrap_or(1));
    let input = cx.image();
    let (size, stride, input) = (size?, stride?, input?);
    if !cx.window_fits(input, size, size_span, "pool") {
        return None;
    }
    let extent = |n: usize| (n - size) / stride + 1;
    let output = Image::new(extent(input.height), extent(input.width), input.channels)?;
    let window = Window {
        input,
        size,
        stride,
        output,
    };
    Checked::new(Pool { reduce, window }, Shape::Image(output))
}

impl Kind for Pool {
    /// `MaxPool2d<Image<H, W, C, IN>, Window<SIZE, S>, Image<OH, OW, C, OUT>>`, or `AvgPool2d<...>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let Window {
            input,
            size,
            stride,
            output,
        } = self.window;
        let name = match self.reduce {
            Reduce::Max => "MaxPool2d",
            Reduce::Average => "AvgPool2d",
        };
        let (p, [size, stride]) = (private(), [size, stride].map(literal));
        let args = [
            image_type(input),
            quote!(#p::Window<#size, #stride>),
            image_type(output),
        ];
        private_type(name, &args)
    }

    fn window(&self) -> Option<Window> {
        Some(self.window)
    }
}
