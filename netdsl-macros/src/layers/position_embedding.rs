//! `PositionEmbedding[(sequence_length = L)]`: a learned vector per position added to each step
//! of a sequence (keras_hub's `PositionEmbedding`, added as its `TokenAndPositionEmbedding`
//! adds it). Its table may be longer than the sequence, never shorter.

use proc_macro2::TokenStream;
use quote::quote_spanned;

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Usage};
use crate::model::{Kind, Layer, Sequence, Shape};
use crate::tokens::literal;

pub const POSITION_EMBEDDING: Keyword = Keyword {
    usage: Usage::new(
        "PositionEmbedding",
        "PositionEmbedding(sequence_length = 64)",
        "the option `sequence_length` (the positions of its table, the sequence's steps by default)",
    ),
    field: "position_embedding",
    bare: true,
    aliases: &[],
    check,
};

struct PositionEmbedding {
    input: Sequence,
    positions: usize,
}

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    // 0 stands for "not given": a size option is at least 1.
    let positions = args.size_option("sequence_length", 0);
    let input = cx.sequence()?;
    let positions = match positions? {
        0 => input.steps,
        given if given < input.steps => {
            let message = format!(
                "{} on {}: a table of {given} positions is shorter than the sequence; expected `sequence_length` of at least {}",
                cx.name(),
                Shape::Sequence(input).text(),
                input.steps
            );
            cx.error(message);
            return None;
        }
        given => given,
    };
    cx.count("table", &[positions, input.features])?;
    Checked::new(
        PositionEmbedding { input, positions },
        Shape::Sequence(input),
    )
}

impl Kind for PositionEmbedding {
    /// `PositionEmbedding<T, F, N, L, LN>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let Sequence { steps, features } = self.input;
        let sizes = [
            steps,
            features,
            self.input.len(),
            self.positions,
            self.positions * features,
        ];
        let args: Vec<TokenStream> = sizes.into_iter().map(literal).collect();
        private_type("PositionEmbedding", &args)
    }

    fn constructor(&self, layer: &Layer) -> TokenStream {
        let ty = self.ty(layer);
        quote_spanned!(layer.span()=> <#ty>::glorot_uniform(rng))
    }
}
