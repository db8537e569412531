//! `network!`'s parser and checker on arbitrary text: they never panic, and whatever they expand
//! to (a network, or its errors and stand-in) is valid Rust items.
//!
//! A proc-macro crate exports only its macros, so this target compiles netdsl-macros's modules itself,
//! from their sources, and calls the entry point `network!` calls, `expand::network`. The list
//! below is netdsl-macros's module tree minus its proc-macro entry and its tests.

#![no_main]

#[path = "../../netdsl-macros/src/args.rs"]
mod args;
#[path = "../../netdsl-macros/src/ast.rs"]
mod ast;
#[path = "../../netdsl-macros/src/check.rs"]
mod check;
#[path = "../../netdsl-macros/src/codegen/mod.rs"]
mod codegen;
#[path = "../../netdsl-macros/src/errors.rs"]
mod errors;
#[path = "../../netdsl-macros/src/expand.rs"]
mod expand;
#[path = "../../netdsl-macros/src/layers/mod.rs"]
mod layers;
#[path = "../../netdsl-macros/src/mask.rs"]
mod mask;
#[path = "../../netdsl-macros/src/model.rs"]
mod model;
#[path = "../../netdsl-macros/src/parse.rs"]
mod parse;
#[path = "../../netdsl-macros/src/tokens.rs"]
mod tokens;

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Text that does not lex never reaches a macro: rustc rejects it first.
    let Ok(tokens) = proc_macro2::TokenStream::from_str(text) else {
        return;
    };
    if let Ok(input) = syn::parse2::<ast::Input>(tokens) {
        let expansion = expand::network(input);
        assert!(
            syn::parse2::<syn::File>(expansion).is_ok(),
            "the expansion of {text:?} is not items"
        );
    }
});
