//! `SinePositionEncoding[(max_wavelength = w)]`: the fixed sinusoidal encoding of each position
//! added to each step of a sequence (keras_hub's `SinePositionEncoding`, added as its models
//! add it).

use proc_macro2::TokenStream;
use quote::quote_spanned;

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Usage};
use crate::model::{Kind, Layer, Sequence, Shape};
use crate::tokens::literal;

pub const SINE_POSITION_ENCODING: Keyword = Keyword {
    usage: Usage::new(
        "SinePositionEncoding",
        "SinePositionEncoding(max_wavelength = 10000)",
        "the option `max_wavelength`",
    ),
    field: "sine_position_encoding",
    bare: true,
    aliases: &[],
    check,
};

struct SinePositionEncoding {
    input: Sequence,
    max_wavelength: f32,
}

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    let max_wavelength = args.number_option(
        "max_wavelength",
        10_000.0,
        |w| w as f32 > 0.0 && (w as f32).is_finite(),
        "a value above 0",
        "",
    ) as f32;
    let input = cx.sequence()?;
    let encoding = SinePositionEncoding {
        input,
        max_wavelength,
    };
    Checked::new(encoding, Shape::Sequence(input))
}

impl Kind for SinePositionEncoding {
    /// `SinePositionEncoding<T, F, N>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let Sequence { steps, features } = self.input;
        let args = [steps, features, self.input.len()].map(literal);
        private_type("SinePositionEncoding", &args)
    }

    fn constructor(&self, layer: &Layer) -> TokenStream {
        let (ty, wavelength) = (self.ty(layer), self.max_wavelength);
        quote_spanned!(layer.span()=> <#ty>::new(#wavelength))
    }
}
