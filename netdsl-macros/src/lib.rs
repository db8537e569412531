//! Implementation detail of netdsl: the `network!` procedural macro. Its user documentation
//! lives on `netdsl::network`.
//!
//! Three phases: `parse` reads the DSL into the syntax tree of `ast` (syntax only), `check`
//! validates it into the `model`, each layer by its kind under `layers` (collecting every error
//! in one pass), and `codegen` turns the model into Rust (infallible). `expand` runs them for
//! each network of an invocation.

#![forbid(unsafe_code)]

mod args;
mod ast;
mod check;
mod codegen;
mod errors;
mod expand;
#[cfg(test)]
mod fuzz;
mod layers;
mod mask;
mod model;
mod parse;
#[cfg(test)]
mod tests;
mod tokens;

use proc_macro::TokenStream;

/// See `netdsl::network`.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as ast::Input);
    expand::network(input).into()
}
