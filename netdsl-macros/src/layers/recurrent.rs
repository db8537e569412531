//! `SimpleRNN(units[, activation])`, `LSTM(units)` and `GRU(units)`, each with `bias = false`,
//! `return_sequences = true` and `zero_output_for_mask = true` options: Keras' recurrent layers
//! of those names with their defaults, over a sequence. They give a vector of `units` values,
//! the last state, or with `return_sequences = true` a sequence of every step's state. They
//! read the mask of their input, and pass it on when they return every step.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Tensor, Usage, WeightOptions};
use crate::mask::MaskRule;
use crate::model::{Activation, Kind, Layer, Sequence, Shape, Width};
use crate::tokens::literal;

pub const SIMPLE_RNN: Keyword = Keyword::call(
    Usage::new(
        "SimpleRNN",
        "SimpleRNN(64)",
        "units, an activation, `bias`, `return_sequences` and `zero_output_for_mask` options, and initializers and regularizers",
    ),
    "simple_rnn",
    |cx, args| check(cx, args, Cell::Simple(Activation::Tanh)),
);

/// What the layers with fixed activations take.
const GATED_TAKES: &str = "units, `bias`, `return_sequences` and `zero_output_for_mask` options, and initializers and regularizers";

pub const LSTM: Keyword = Keyword::call(
    Usage::new("LSTM", "LSTM(64)", GATED_TAKES),
    "lstm",
    |cx, args| check(cx, args, Cell::Lstm),
);

pub const GRU: Keyword = Keyword::call(
    Usage::new("GRU", "GRU(64)", GATED_TAKES),
    "gru",
    |cx, args| check(cx, args, Cell::Gru),
);

/// What a recurrent layer computes at each step.
#[derive(Clone, Copy)]
enum Cell {
    /// `SimpleRNN`, with its activation.
    Simple(Activation),
    Lstm,
    Gru,
}

impl Cell {
    /// The netdsl-core type implementing it.
    fn type_name(self) -> &'static str {
        match self {
            Cell::Simple(_) => "SimpleRnn",
            Cell::Lstm => "Lstm",
            Cell::Gru => "Gru",
        }
    }

    /// How many blocks of `units` columns its kernels have: one per gate.
    fn gates(self) -> usize {
        match self {
            Cell::Simple(_) => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
}

struct Recurrent {
    cell: Cell,
    input: Sequence,
    units: usize,
    bias: bool,
    /// Every step's state out, not just the last.
    sequences: bool,
    /// Zeros out over padded steps, rather than the state again.
    zero_output_for_mask: bool,
    weights: WeightOptions,
}

/// The tensors of a recurrent layer, which all take a regularizer.
const TENSORS: [Tensor; 3] = [Tensor::Kernel, Tensor::Recurrent, Tensor::Bias];

fn check(cx: &mut Cx, args: &mut Args, cell: Cell) -> Option<Checked> {
    let units = args.literal("number of units");
    let cell = match cell {
        Cell::Simple(default) => Cell::Simple(args.activation(default)),
        other => other,
    };
    let bias = args.flag("bias", true);
    let sequences = args.flag("return_sequences", false);
    let zero_output_for_mask = args.flag("zero_output_for_mask", false);
    // An LSTM's bias starts as Keras' `unit_forget_bias` has it, which ignores
    // `bias_initializer`: netdsl does not take one.
    let initialized: &[Tensor] = match cell {
        Cell::Lstm => &TENSORS[..2],
        Cell::Simple(_) | Cell::Gru => &TENSORS,
    };
    let weights = args.weight_options(&TENSORS, initialized);
    let input = cx.sequence();
    let (units, input) = (units?, input?);
    let rows = input.features.checked_add(units);
    cx.count("kernels", &[rows?, cell.gates(), units])?;
    let output = if sequences {
        cx.count("output", &[input.steps, units])?;
        Shape::Sequence(Sequence::new(input.steps, units)?)
    } else {
        Shape::Flat(Width::Literal(units, proc_macro2::Span::call_site()))
    };
    let layer = Recurrent {
        cell,
        input,
        units,
        bias,
        sequences,
        zero_output_for_mask,
        weights,
    };
    Checked::new(layer, output)
}

impl Kind for Recurrent {
    /// `SimpleRnn<T, F, U, IN, OUT, Activation>`, `Lstm<T, F, U, IN, OUT>` or `Gru<...>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let Recurrent { input, units, .. } = *self;
        let output = if self.sequences {
            input.steps * units
        } else {
            units
        };
        let mut args: Vec<TokenStream> = [input.steps, input.features, units, input.len(), output]
            .map(literal)
            .to_vec();
        if let Cell::Simple(activation) = self.cell {
            args.push(activation.ty());
        }
        private_type(self.cell.type_name(), &args)
    }

    fn activation(&self) -> TokenStream {
        match self.cell {
            Cell::Simple(activation) => activation.ty(),
            Cell::Lstm | Cell::Gru => Activation::Linear.ty(),
        }
    }

    /// Expands to `<Lstm<..>>::keras_default(rng, true)`, or with initializers
    /// `<Lstm<..>>::initialized(rng, kernel, Some(recurrent), Some(None))`, then
    /// `.zero_output_for_mask(true)` if asked and `.with_regularizers(..)` if given.
    fn constructor(&self, layer: &Layer) -> TokenStream {
        let (ty, bias, span) = (self.ty(layer), self.bias, layer.span());
        let weights = &self.weights;
        let made = if weights.initialized() {
            let kernel = weights.initializer(Tensor::Kernel, "glorot_uniform");
            let option = |tensor: Tensor| match weights.initializers[tensor as usize] {
                Some(_) => {
                    let init = weights.initializer(tensor, "");
                    quote!(::core::option::Option::Some(#init))
                }
                None => quote!(::core::option::Option::None),
            };
            let recurrent = option(Tensor::Recurrent);
            let bias = match bias {
                true => {
                    let init = option(Tensor::Bias);
                    quote!(::core::option::Option::Some(#init))
                }
                false => quote!(::core::option::Option::None),
            };
            quote_spanned!(span=> <#ty>::initialized(rng, #kernel, #recurrent, #bias))
        } else {
            quote_spanned!(span=> <#ty>::keras_default(rng, #bias))
        };
        let zero_output = self
            .zero_output_for_mask
            .then(|| quote_spanned!(span=> .zero_output_for_mask(true)));
        weights.regularized(quote!(#made #zero_output))
    }

    fn mask_rule(&self) -> MaskRule {
        MaskRule::Reads {
            passes_on: self.sequences,
        }
    }
}
