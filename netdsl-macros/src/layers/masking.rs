//! `Masking` or `Masking(mask_value = 0.0)`: Keras' `Masking` on a sequence. A step whose
//! features all equal the mask value is padding: zeroed, and marked in the mask the output
//! carries to the recurrent layers after it (see `crate::mask`).

use proc_macro2::TokenStream;
use quote::quote_spanned;

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Usage};
use crate::mask::MaskRule;
use crate::model::{Kind, Layer, Sequence, Shape};
use crate::tokens::literal;

pub const MASKING: Keyword = Keyword {
    usage: Usage::new(
        "Masking",
        "Masking(mask_value = 0.0)",
        "the option `mask_value`, and no units: it keeps the shape of its input",
    ),
    field: "masking",
    bare: true,
    aliases: &[],
    check,
};

struct Masking {
    input: Sequence,
    mask_value: f32,
}

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    let mask_value = args.number_option(
        "mask_value",
        0.0,
        |v| (v as f32).is_finite(),
        "a number an `f32` holds",
        "",
    ) as f32;
    let input = cx.sequence()?;
    Checked::new(Masking { input, mask_value }, Shape::Sequence(input))
}

impl Kind for Masking {
    /// `Masking<T, F, N>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let Sequence { steps, features } = self.input;
        private_type(
            "Masking",
            &[literal(steps), literal(features), literal(self.input.len())],
        )
    }

    /// Expands to `<Masking<..>>::new(0f32)`.
    fn constructor(&self, layer: &Layer) -> TokenStream {
        let (ty, mask_value) = (self.ty(layer), self.mask_value);
        quote_spanned!(layer.span()=> <#ty>::new(#mask_value))
    }

    fn keeps_values(&self) -> bool {
        true
    }

    fn mask_rule(&self) -> MaskRule {
        MaskRule::Makes
    }
}
