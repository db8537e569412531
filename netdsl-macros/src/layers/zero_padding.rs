//! `ZeroPadding2D[(padding)]`: Keras' `ZeroPadding2D`, rows and columns of zeros around an
//! image. The padding is written as in Keras: `n` on every side, `(rows, columns)` (`rows` on
//! top and at the bottom, `columns` left and right) or `((top, bottom), (left, right))`; Keras'
//! default, 1, without it.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Checked, Cx, Keyword, image_type, private_type};
use crate::args::{Args, Nested, Usage};
use crate::model::{Image, Kind, Layer, Shape};
use crate::tokens::{literal, private};

/// The forms of the padding, for messages.
const FORMS: &str = "an integer, `(rows, columns)` or `((top, bottom), (left, right))`";

pub const ZERO_PADDING2D: Keyword = Keyword {
    usage: Usage::new(
        "ZeroPadding2D",
        "ZeroPadding2D(1)",
        "a padding: an integer, `(rows, columns)` or `((top, bottom), (left, right))`",
    ),
    field: "zero_padding2d",
    bare: true,
    aliases: &[],
    check,
};

struct ZeroPadding {
    input: Image,
    top: usize,
    left: usize,
    output: Image,
}

/// `[top, bottom, left, right]` from each of the padding's forms.
fn sides(padding: &Nested) -> Option<[usize; 4]> {
    if let Some(n) = padding.int() {
        return Some([n; 4]);
    }
    if let Some([rows, columns]) = padding.int_pair() {
        return Some([rows, rows, columns, columns]);
    }
    let [rows, columns] = padding.pair()?;
    let ([top, bottom], [left, right]) = (rows.int_pair()?, columns.int_pair()?);
    Some([top, bottom, left, right])
}

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    let padding = args.nested("padding", FORMS, [1; 4], sides);
    let input = cx.image();
    let ([top, bottom, left, right], _) = padding?;
    let input = input?;
    let padded = |n: usize, before: usize, after: usize| n.checked_add(before)?.checked_add(after);
    let sizes = padded(input.height, top, bottom).zip(padded(input.width, left, right));
    let Some((height, width)) = sizes else {
        let message = format!(
            "{}: its output would have more rows or columns than an array can hold",
            cx.name()
        );
        cx.error(message);
        return None;
    };
    cx.count("output", &[height, width, input.channels])?;
    let output = Image::new(height, width, input.channels)?;
    let layer = ZeroPadding {
        input,
        top,
        left,
        output,
    };
    Checked::new(layer, Shape::Image(output))
}

impl Kind for ZeroPadding {
    /// `ZeroPadding2d<Image<H, W, C, IN>, Padding<TOP, LEFT>, Image<OH, OW, C, OUT>>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let (p, [top, left]) = (private(), [self.top, self.left].map(literal));
        let args = [
            image_type(self.input),
            quote!(#p::Padding<#top, #left>),
            image_type(self.output),
        ];
        private_type("ZeroPadding2d", &args)
    }
}
