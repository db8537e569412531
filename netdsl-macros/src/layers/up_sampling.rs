//! `UpSampling2D[(size)]`: Keras' `UpSampling2D` with its default nearest-neighbour
//! interpolation, each pixel repeated `size` times down and across. The size is written as in
//! Keras: `n` for both, or `(rows, columns)`; Keras' default, 2, without it.

use proc_macro2::TokenStream;

use super::{Checked, Cx, Keyword, image_type, private_type};
use crate::args::{Args, Nested, Usage};
use crate::model::{Image, Kind, Layer, Shape};

pub const UP_SAMPLING2D: Keyword = Keyword {
    usage: Usage::new(
        "UpSampling2D",
        "UpSampling2D(2)",
        "a size: an integer or `(rows, columns)`",
    ),
    field: "up_sampling2d",
    bare: true,
    aliases: &[],
    check,
};

struct UpSampling {
    input: Image,
    output: Image,
}

/// `[rows, columns]` from each of the size's forms.
fn factors(size: &Nested) -> Option<[usize; 2]> {
    size.int().map(|n| [n; 2]).or_else(|| size.int_pair())
}

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    let size = args.nested("size", "an integer or `(rows, columns)`", [2; 2], factors);
    let input = cx.image();
    let ([rows, columns], span) = size?;
    if rows == 0 || columns == 0 {
        let message = format!("`{}`: the size must be at least 1, found 0", cx.text());
        cx.errors.push_spanned(span, message);
        return None;
    }
    let input = input?;
    cx.count(
        "output",
        &[input.height, rows, input.width, columns, input.channels],
    )?;
    let (height, width) = (input.height * rows, input.width * columns);
    let output = Image::new(height, width, input.channels)?;
    Checked::new(UpSampling { input, output }, Shape::Image(output))
}

impl Kind for UpSampling {
    /// `UpSampling2d<Image<H, W, C, IN>, Image<OH, OW, C, OUT>>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        private_type(
            "UpSampling2d",
            &[image_type(self.input), image_type(self.output)],
        )
    }
}
