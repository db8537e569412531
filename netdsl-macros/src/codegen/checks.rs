//! Compile-time assertions for what only rustc can evaluate: sizes given as `const` items, and
//! the input widths of layers given by name or declared with `->`. Each is spanned on the
//! user's token and formats both widths into its message.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

use crate::model::{Layer, Model, Width, after_what, layer_place};
use crate::tokens::private_at;

pub fn generate(model: &Model) -> TokenStream {
    let mut checks = TokenStream::new();
    if let Width::Const(_) | Width::Expr(_) = &model.input {
        let message = format!("the input size of `{}` must be at least 1", model.name);
        checks.extend(at_least_one(&model.input, &message));
    }
    for layer in &model.layers {
        if let Width::Const(_) | Width::Expr(_) = &layer.output {
            checks.extend(at_least_one(
                &layer.output,
                &format!("`{}`: the number of units must be at least 1", layer.text),
            ));
        }
        let found = layer.kind.declared_input(layer);
        if let Some((span, found)) = found {
            checks.extend(input_width(model, layer, span, found));
        }
    }
    checks
}

/// Expands to: `const _: () = ::core::assert!(HIDDEN >= 1, "...");`
fn at_least_one(width: &Width, message: &str) -> TokenStream {
    let value = width.value();
    quote_spanned!(width.span()=> const _: () = ::core::assert!(#value >= 1, #message);)
}

/// Expands to a const block that panics, with both widths formatted in, when the width the
/// layer before gives differs from the width the layer takes.
fn input_width(model: &Model, layer: &Layer, span: Span, found: TokenStream) -> TokenStream {
    let p = private_at(span);
    let expected = layer.input.value();
    // The message is a format string: braces in user text (there are none in paths and
    // integers, but to be safe) are escaped.
    let place = layer_place(layer.position, &model.name, &layer.text)
        .replace('{', "{{")
        .replace('}', "}}");
    let message = format!(
        "{place} {}: expected {{}} inputs, found {{}}",
        after_what(layer.position, "{}")
    );
    quote_spanned! {span=>
        const _: () = {
            const EXPECTED: usize = #expected;
            const FOUND: usize = #found;
            if EXPECTED != FOUND {
                ::core::panic!("{}", #p::formatcp!(#message, EXPECTED, EXPECTED, FOUND));
            }
        };
    }
}
