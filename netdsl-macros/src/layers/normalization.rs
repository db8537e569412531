//! `BatchNormalization` and `LayerNormalization` (also `BatchNorm` and `LayerNorm`): Keras'
//! layers of those names, normalizing along the last axis (a vector's values, an image's
//! channels, a sequence's features) and keeping their input's shape. Written bare or with an
//! activation and Keras' options: `BatchNormalization(relu, momentum = 0.9, epsilon = 1e-5,
//! center = false, scale = false)`.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

use super::{Checked, Cx, Keyword, private_type};
use crate::args::{Args, Usage};
use crate::mask::MaskRule;
use crate::model::{Activation, Kind, Layer, Shape, Width};

pub const BATCH_NORMALIZATION: Keyword = Keyword {
    usage: Usage::new(
        "BatchNormalization",
        "BatchNormalization(momentum = 0.9)",
        "an activation and the options `momentum`, `epsilon`, `center` and `scale`, and no units: it keeps the shape of its input",
    ),
    field: "batch_normalization",
    bare: true,
    aliases: &["BatchNorm"],
    check: check_batch,
};

pub const LAYER_NORMALIZATION: Keyword = Keyword {
    usage: Usage::new(
        "LayerNormalization",
        "LayerNormalization(epsilon = 1e-5)",
        "an activation and the options `epsilon`, `center` and `scale`, and no units: it keeps the shape of its input",
    ),
    field: "layer_normalization",
    bare: true,
    aliases: &["LayerNorm"],
    check: check_layer,
};

/// Which normalization, with what only batch normalization has.
enum Rule {
    Batch { momentum: f32 },
    Layer,
}

/// A checked normalization.
struct Normalization {
    rule: Rule,
    activation: Activation,
    epsilon: f32,
    center: bool,
    scale: bool,
    /// The size of the last axis: the values normalized together (layer normalization), or
    /// the channels, each normalized on its own over the batch (batch normalization).
    channels: Width,
}

/// What both read: the activation, `epsilon`, `center` and `scale`.
fn common(args: &mut Args, rule: Rule, channels: Width) -> Normalization {
    let activation = args.activation(Activation::Linear);
    let epsilon = args.number_option(
        "epsilon",
        1e-3,
        |e| e as f32 > 0.0 && (e as f32).is_finite(),
        "a value above 0",
        "; it is added to the variance, so that values without spread are not divided by 0",
    ) as f32;
    let center = args.flag("center", true);
    let scale = args.flag("scale", true);
    Normalization {
        rule,
        activation,
        epsilon,
        center,
        scale,
        channels,
    }
}

/// The size of the last axis of `shape`.
fn last_axis(shape: &Shape) -> Width {
    match shape {
        Shape::Flat(width) => width.clone(),
        Shape::Image(image) => Width::Literal(image.channels, Span::call_site()),
        Shape::Sequence(sequence) => Width::Literal(sequence.features, Span::call_site()),
    }
}

fn check_batch(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    let momentum = args.number_option(
        "momentum",
        0.99,
        |m| (0.0..1.0).contains(&(m as f32)),
        "a value from 0 up to (not including) 1",
        "; at each step the moving statistics keep that fraction of themselves and take the rest from the batch",
    ) as f32;
    let input = cx.input;
    let channels = input.map_or(Width::Literal(1, Span::call_site()), last_axis);
    let normalization = common(args, Rule::Batch { momentum }, channels);
    Checked::new(normalization, input?.clone())
}

fn check_layer(cx: &mut Cx, args: &mut Args) -> Option<Checked> {
    let input = cx.input;
    let channels = input.map_or(Width::Literal(1, Span::call_site()), last_axis);
    let normalization = common(args, Rule::Layer, channels);
    let input = input?.clone();
    if normalization.channels.literal() == Some(1) {
        let message = format!(
            "{} on {}: its last axis holds 1 value, and a value normalized on its own is always 0, so every output would be `beta`; `LayerNormalization` normalizes together the values of a vector, the channels of a pixel or the features of a step: give it more than one, or use `BatchNormalization`, which normalizes each channel over the batch",
            cx.name(),
            input.text()
        );
        cx.error(message);
        return None;
    }
    Checked::new(normalization, input)
}

impl Kind for Normalization {
    /// `BatchNormalization<N, C, A>` or `LayerNormalization<N, C, A>`.
    fn ty(&self, layer: &Layer) -> TokenStream {
        let name = match self.rule {
            Rule::Batch { .. } => "BatchNormalization",
            Rule::Layer => "LayerNormalization",
        };
        let args = [
            layer.input.generic_arg(),
            self.channels.generic_arg(),
            self.activation.ty(),
        ];
        private_type(name, &args)
    }

    fn activation(&self) -> TokenStream {
        self.activation.ty()
    }

    /// Expands to `<BatchNormalization<..>>::new().momentum(0.99).epsilon(0.001).center(true).scale(true)`.
    fn constructor(&self, layer: &Layer) -> TokenStream {
        let (ty, epsilon, center, scale) = (self.ty(layer), self.epsilon, self.center, self.scale);
        let span = layer.span();
        let momentum = match self.rule {
            Rule::Batch { momentum } => quote_spanned!(span=> .momentum(#momentum)),
            Rule::Layer => TokenStream::new(),
        };
        quote_spanned!(span=> <#ty>::new() #momentum .epsilon(#epsilon).center(#center).scale(#scale))
    }

    fn keeps_values(&self) -> bool {
        true
    }

    /// Keras' batch normalization leaves padded steps out of its statistics; its layer
    /// normalization passes the mask on, which netdsl's does not.
    fn mask_rule(&self) -> MaskRule {
        match self.rule {
            Rule::Batch { .. } => {
                MaskRule::CannotRead("to leave padded steps out of its statistics")
            }
            // Each step is normalized on its own, as Keras' layer does, passing the mask on.
            Rule::Layer => MaskRule::PassesOn,
        }
    }
}
