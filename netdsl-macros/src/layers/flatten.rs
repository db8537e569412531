//! `Flatten`: an image or a sequence becomes the vector it already is in memory.

use proc_macro2::TokenStream;

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Usage};
use crate::model::{Kind, Layer, Shape};

pub const FLATTEN: Keyword = Keyword {
    usage: Usage::new("Flatten", "Flatten", "no arguments"),
    field: "flatten",
    bare: true,
    aliases: &[],
    check,
};

struct Flatten;

fn check(cx: &mut Cx, _args: &mut Args) -> Option<Checked> {
    Checked::new(Flatten, Shape::Flat(cx.input?.flat()))
}

impl Kind for Flatten {
    /// `Flatten<IN>`.
    fn ty(&self, layer: &Layer) -> TokenStream {
        private_type("Flatten", &[layer.input.generic_arg()])
    }

    fn keeps_values(&self) -> bool {
        true
    }
}
