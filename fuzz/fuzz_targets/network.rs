//! `network!`'s parser and checker on arbitrary text: they never panic, and whatever they expand
//! to (a network, or its errors and stand-in) is valid Rust items.
//!
//! A proc-macro crate exports only its macros, so this target compiles netmacro's modules itself,
//! from their sources, and calls the entry point `network!` calls, `expand::network`. The list
//! below is netmacro's module tree minus its proc-macro entry and its tests.

#![no_main]

#[path = "../../netmacro/src/args.rs"]
mod args;
#[path = "../../netmacro/src/ast.rs"]
mod ast;
#[path = "../../netmacro/src/check.rs"]
mod check;
#[path = "../../netmacro/src/codegen/mod.rs"]
mod codegen;
#[path = "../../netmacro/src/errors.rs"]
mod errors;
#[path = "../../netmacro/src/expand.rs"]
mod expand;
#[path = "../../netmacro/src/layers/mod.rs"]
mod layers;
#[path = "../../netmacro/src/model.rs"]
mod model;
#[path = "../../netmacro/src/parse.rs"]
mod parse;
#[path = "../../netmacro/src/tokens.rs"]
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
