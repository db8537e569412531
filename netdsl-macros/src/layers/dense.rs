//! `Dense([inputs ->] units[, activation][, bias = false])`: a fully connected layer,
//! `y = f(x · W + b)`, Keras' `Dense`. On a sequence it acts on each step, as Keras' `Dense`
//! acts on the last axis.

use proc_macro2::{Span, TokenStream};

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Tensor, Usage, WeightOptions};
use crate::mask::MaskRule;
use crate::model::{Activation, Kind, Layer, Sequence, Shape, Width, after_what};
use crate::tokens::literal;

pub const DENSE: Keyword = Keyword::call(
    Usage::new(
        "Dense",
        "Dense(64, relu)",
        "units, an activation, `bias = false`, and initializer and regularizer options",
    ),
    "dense",
    check,
);

/// The tensors of a dense layer, which all take an initializer and a regularizer.
const TENSORS: [Tensor; 2] = [Tensor::Kernel, Tensor::Bias];

struct Dense {
    activation: Activation,
    bias: bool,
    weights: WeightOptions,
    /// The input width stated with `->`, when only rustc can compare it with the layer before.
    declared_input: Option<Width>,
}

/// `Dense` on each step of a sequence.
struct DenseSteps {
    input: Sequence,
    output: Sequence,
    activation: Activation,
    bias: bool,
    weights: WeightOptions,
}

fn check(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    if let Some(Shape::Sequence(input)) = cx.input {
        return check_steps(cx, args, *input);
    }
    if let Some(shape @ Shape::Image(_)) = cx.input {
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
    let weights = args.weight_options(&TENSORS, &TENSORS);
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
            weights,
            declared_input,
        },
        Shape::Flat(units),
    )
}

/// `Dense(units, activation)` on each step of `input`.
fn check_steps(cx: &mut Cx, args: &mut Args, input: Sequence) -> Option<Checked> {
    let units = args.literal("number of units");
    let activation = args.activation(Activation::Linear);
    let bias = args.flag("bias", true);
    let weights = args.weight_options(&TENSORS, &TENSORS);
    let units = units?;
    if let Activation::Softmax | Activation::LogSoftmax = activation {
        let message = format!(
            "{} on {}: `Dense` acts on each step there, and `{name}` over each step is not supported; end the network with `Flatten => Dense(.., {name})` or `GlobalAveragePooling1D => Dense(.., {name})`",
            cx.name(),
            Shape::Sequence(input).text(),
            name = activation.keyword(),
        );
        cx.error(message);
        return None;
    }
    cx.count("weights", &[input.features, units])?;
    cx.count("output", &[input.steps, units])?;
    let output = Sequence::new(input.steps, units)?;
    let dense = DenseSteps {
        input,
        output,
        activation,
        bias,
        weights,
    };
    Checked::new(dense, Shape::Sequence(output))
}

impl Kind for DenseSteps {
    /// `DenseSteps<T, F, U, IN, OUT, A>`.
    fn ty(&self, _layer: &Layer) -> TokenStream {
        let sizes = [
            self.input.steps,
            self.input.features,
            self.output.features,
            self.input.len(),
            self.output.len(),
        ];
        let mut args: Vec<TokenStream> = sizes.into_iter().map(literal).collect();
        args.push(self.activation.ty());
        private_type("DenseSteps", &args)
    }

    fn activation(&self) -> TokenStream {
        self.activation.ty()
    }

    fn constructor(&self, layer: &Layer) -> TokenStream {
        (self.weights).constructor(&self.ty(layer), layer.span(), self.bias)
    }

    /// Keras' `Dense` passes its input's mask on; on each step, so does this one, exactly.
    fn mask_rule(&self) -> MaskRule {
        MaskRule::PassesOn
    }
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
        (self.weights).constructor(&self.ty(layer), layer.span(), self.bias)
    }

    fn declared_input(&self, _layer: &Layer) -> Option<(Span, TokenStream)> {
        let declared = self.declared_input.as_ref()?;
        Some((declared.span(), declared.value()))
    }

    /// As Keras' `Dense`: a mask a layer given by name put on a vector goes on.
    fn mask_rule(&self) -> MaskRule {
        MaskRule::PassesOn
    }
}
