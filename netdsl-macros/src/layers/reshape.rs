//! `Reshape(n)`, `Reshape(steps, features)` or `Reshape(height, width, channels)`: the same values
//! read as a vector, a sequence or an image, as Keras' `Reshape`.

use proc_macro2::{Span, TokenStream};

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Usage};
use crate::model::{Image, Kind, Layer, Sequence, Shape, Width};

pub const RESHAPE: Keyword = Keyword::call(
    Usage::new(
        "Reshape",
        "Reshape(28, 28, 1)",
        "one size, `(steps, features)` or `(height, width, channels)`",
    ),
    "reshape",
    check,
);

struct Reshape;

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    let dims = args.literals("dimension");
    if !(1..=3).contains(&dims.len()) {
        let message = format!(
            "`{}` takes one size, `(steps, features)` or `(height, width, channels)`, e.g. `Reshape(28, 28, 1)`",
            cx.text()
        );
        cx.error(message);
        return None;
    }
    let dims: Vec<usize> = dims.into_iter().collect::<Option<_>>()?;
    let input = cx.input?;
    let Some(given) = input.flat().literal() else {
        let message = format!(
            "{} needs the width before it as an integer literal",
            cx.name()
        );
        cx.error(message);
        return None;
    };
    let count = cx.count("output", &dims)?;
    if given != count {
        let found = match dims[..] {
            [h, w, c] => format!("{h}×{w}×{c} = {count}"),
            [t, f] => format!("{t}×{f} = {count}"),
            _ => count.to_string(),
        };
        let message = format!(
            "{} on {}: expected {given} elements, found {found}{}",
            cx.name(),
            input.text(),
            super::floored_note(cx.before)
        );
        cx.error(message);
        return None;
    }
    let output = match dims[..] {
        [height, width, channels] => Shape::Image(Image::new(height, width, channels)?),
        [steps, features] => Shape::Sequence(Sequence::new(steps, features)?),
        _ => Shape::Flat(Width::Literal(count, Span::call_site())),
    };
    Checked::new(Reshape, output)
}

impl Kind for Reshape {
    /// `Reshape<N>`.
    fn ty(&self, layer: &Layer) -> TokenStream {
        private_type("Reshape", &[layer.input.generic_arg()])
    }
}
