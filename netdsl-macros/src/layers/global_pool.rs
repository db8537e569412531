//! `GlobalAveragePooling1D`, `GlobalMaxPooling1D` (on a sequence), `GlobalAveragePooling2D` and
//! `GlobalMaxPooling2D` (on an image): Keras' global pools of those names, one value per
//! feature or channel. Written bare or with empty parentheses.

use proc_macro2::{Span, TokenStream};

use super::{Checked, Cx, Keyword, image_type, private_type, sequence_type};
use crate::args::{Args, Usage};
use crate::mask::MaskRule;
use crate::model::{Image, Kind, Layer, Sequence, Shape, Width};

pub const GLOBAL_AVERAGE_POOLING1D: Keyword = global(
    "GlobalAveragePooling1D",
    "global_average_pooling1d",
    |cx, args| check(cx, args, Reduce::Average, Rank::Sequence),
);

pub const GLOBAL_MAX_POOLING1D: Keyword =
    global("GlobalMaxPooling1D", "global_max_pooling1d", |cx, args| {
        check(cx, args, Reduce::Max, Rank::Sequence)
    });

pub const GLOBAL_AVERAGE_POOLING2D: Keyword = global(
    "GlobalAveragePooling2D",
    "global_average_pooling2d",
    |cx, args| check(cx, args, Reduce::Average, Rank::Image),
);

pub const GLOBAL_MAX_POOLING2D: Keyword =
    global("GlobalMaxPooling2D", "global_max_pooling2d", |cx, args| {
        check(cx, args, Reduce::Max, Rank::Image)
    });

/// A global pool's keyword: no arguments, written bare or with empty parentheses.
const fn global(
    name: &'static str,
    field: &'static str,
    check: fn(&mut Cx, &mut Args) -> Option<Checked>,
) -> Keyword {
    Keyword {
        usage: Usage::new(name, name, "no arguments"),
        field,
        bare: true,
        aliases: &[],
        check,
    }
}

/// What a global pool makes of each channel.
#[derive(Clone, Copy)]
enum Reduce {
    Max,
    Average,
}

/// What a global pool runs over.
#[derive(Clone, Copy)]
enum Rank {
    Sequence,
    Image,
}

/// The pool of the same reduction over the other rank, for the message when the input is of
/// that rank.
fn twin(reduce: Reduce, rank: Rank) -> &'static str {
    match (reduce, rank) {
        (Reduce::Average, Rank::Sequence) => "GlobalAveragePooling2D",
        (Reduce::Average, Rank::Image) => "GlobalAveragePooling1D",
        (Reduce::Max, Rank::Sequence) => "GlobalMaxPooling2D",
        (Reduce::Max, Rank::Image) => "GlobalMaxPooling1D",
    }
}

/// The shape a global pool runs over.
enum Input {
    Sequence(Sequence),
    Image(Image),
}

struct GlobalPool {
    reduce: Reduce,
    input: Input,
}

fn check(cx: &mut Cx, _args: &mut Args, reduce: Reduce, rank: Rank) -> Option<Checked> {
    let twin = Some(twin(reduce, rank));
    let (input, channels) = match rank {
        Rank::Sequence => {
            let sequence = cx.sequence_or_twin(twin)?;
            (Input::Sequence(sequence), sequence.features)
        }
        Rank::Image => {
            let image = cx.image_or_twin(twin)?;
            (Input::Image(image), image.channels)
        }
    };
    let output = Shape::Flat(Width::Literal(channels, Span::call_site()));
    Checked::new(GlobalPool { reduce, input }, output)
}

impl Kind for GlobalPool {
    /// `GlobalAvgPool<Sequence<T, F, N>>`, `GlobalMaxPool<Image<H, W, C, N>>`, ...
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let name = match self.reduce {
            Reduce::Max => "GlobalMaxPool",
            Reduce::Average => "GlobalAvgPool",
        };
        let shape = match self.input {
            Input::Sequence(sequence) => sequence_type(sequence),
            Input::Image(image) => image_type(image),
        };
        private_type(name, &[shape])
    }

    /// Keras' `GlobalAveragePooling1D` averages the steps of data alone; the other pools do
    /// not support masking.
    fn mask_rule(&self) -> MaskRule {
        match (self.reduce, &self.input) {
            // Averages the steps of data only, and ends the mask, as Keras' layer does.
            (Reduce::Average, Input::Sequence(_)) => MaskRule::Reads { passes_on: false },
            _ => MaskRule::Drops,
        }
    }
}
