//! `Reverse`: a sequence with its steps in the opposite order, as `Bidirectional` reads it for its
//! backward line; its mask, if it carries one, reversed too.

use proc_macro2::TokenStream;

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Usage};
use crate::mask::MaskRule;
use crate::model::{Kind, Layer, Sequence, Shape};
use crate::tokens::literal;

pub const REVERSE: Keyword = Keyword {
    usage: Usage::new("Reverse", "Reverse", "no arguments"),
    field: "reverse",
    bare: true,
    aliases: &[],
    check,
};

struct Reverse(Sequence);

fn check(cx: &mut Cx, _args: &mut Args) -> Option<Checked> {
    let sequence = cx.sequence()?;
    Checked::new(Reverse(sequence), Shape::Sequence(sequence))
}

impl Kind for Reverse {
    /// `Reverse<STEPS, FEATURES, IN>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let Sequence { steps, features } = self.0;
        private_type(
            "Reverse",
            &[literal(steps), literal(features), literal(self.0.len())],
        )
    }

    fn mask_rule(&self) -> MaskRule {
        MaskRule::Remakes
    }
}
