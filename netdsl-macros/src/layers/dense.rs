//! `Dense([inputs ->] units[, activation][, bias = false])`: a fully connected layer,
//! `y = f(x · W + b)`, Keras' `Dense`.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Usage};
use crate::model::{Activation, Kind, Layer, Shape, Width, after_what};

pub const DENSE: Keyword = Keyword::call(
    Usage::new(
        "Dense",
        "Dense(64, relu)",
        "units, an activation and `bias = false`",
    ),
    "dense",
    check,
);

struct Dense {
    activation: Activation,
    bias: bool,
    /// The input width stated with `->`, when only rustc can compare it with the layer before.
    declared_input: Option<Width>,
}

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    if let Some(shape @ (Shape::Image(_) | Shape::Sequence(_))) = cx.input {
        let message = format!(
            "{} after {}: add `Flatten` before it (`Dense` takes a vector of values)",
            cx.name(),
            shape.text()
        );
        cx.error(message);
    }
    let (declared, units) = match args.mapping("number of inputs", "number of units") {
        Some((declared, units)) => (declared, units),
        None => (None, args.size("number of units")),
    };
    let activation = args.activation(Activation::Linear);
    let bias = args.flag("bias", true);
    let units = units?;
    let declared_input = match (declared, cx.input.map(Shape::flat)) {
        (Some(Width::Literal(declared, span)), Some(Width::Literal(given, _))) => {
            if declared != given {
                let message = format!(
                    "{} {}: expected {given} inputs, found {declared}{}",
                    cx.name(),
                    after_what(cx.position, &given.to_string()),
                    super::floored_note(cx.before)
                );
                cx.errors.push_spanned(span, message);
            }
            None
        }
        (declared, _) => declared,
    };
    if let (Some(Width::Literal(inputs, _)), Width::Literal(units, _)) =
        (cx.input.map(Shape::flat), &units)
    {
        cx.count("weights", &[inputs, *units])?;
    }
    Checked::new(
        Dense {
            activation,
            bias,
            declared_input,
        },
        Shape::Flat(units),
    )
}

impl Kind for Dense {
    /// `Dense<784, 64, Relu>`.
    fn ty(&self, layer: &Layer) -> TokenStream {
        private_type(
            "Dense",
            &[
                layer.input.generic_arg(),
                layer.output.generic_arg(),
                self.activation.ty(),
            ],
        )
    }

    fn activation(&self) -> TokenStream {
        self.activation.ty()
    }

    fn constructor(&self, layer: &Layer) -> TokenStream {
        let (ty, bias) = (self.ty(layer), self.bias);
        quote_spanned!(layer.span()=> <#ty>::glorot_uniform(rng, #bias))
    }

    fn declared_input(&self, _layer: &Layer) -> Option<(Span, TokenStream)> {
        let declared = self.declared_input.as_ref()?;
        Some((declared.span(), declared.value()))
    }
}
