//! `Dropout(rate)`: Keras' `Dropout`, zeroing that fraction of the values while training (and
//! scaling the rest up), none in `predict`.

use proc_macro2::TokenStream;
use quote::quote_spanned;

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Usage};
use crate::mask::MaskRule;
use crate::model::{Kind, Layer};
use crate::tokens::private_at;

pub const DROPOUT: Keyword = Keyword::call(
    Usage::new("Dropout", "Dropout(0.5)", "a rate"),
    "dropout",
    check,
);

struct Dropout {
    rate: f32,
}

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    let rate = args.fraction()?;
    Checked::new(Dropout { rate }, cx.input?.clone())
}

impl Kind for Dropout {
    /// `Dropout<N>`.
    fn ty(&self, layer: &Layer) -> TokenStream {
        private_type("Dropout", &[layer.input.generic_arg()])
    }

    fn constructor(&self, layer: &Layer) -> TokenStream {
        let (ty, rate, p) = (self.ty(layer), self.rate, private_at(layer.span()));
        quote_spanned!(layer.span()=> <#ty>::new(#rate, #p::Rng::next_u64(rng)))
    }

    fn keeps_values(&self) -> bool {
        true
    }

    fn mask_rule(&self) -> MaskRule {
        MaskRule::PassesOn
    }
}
