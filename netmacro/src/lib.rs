//! Implementation detail of netdsl: the `network!` procedural macro. Its user documentation
//! lives on `netdsl::network`.
//!
//! Three phases: [`parse`] reads the DSL into the syntax tree of [`ast`] (syntax only), [`check`]
//! validates it and works out every layer's shape (collecting all errors in one pass), and
//! [`codegen`] turns the checked model into Rust (infallible).

mod ast;
mod check;
mod codegen;
mod errors;
mod parse;
mod shape;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// See `netdsl::network`.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as ast::Input);
    expand(input).into()
}

/// Checks and generates every network of one invocation. Networks with syntax errors or failed
/// checks are replaced by stubs next to the errors, so code naming them does not cascade into
/// more errors. A second network of the same name is reported and dropped.
fn expand(input: ast::Input) -> proc_macro2::TokenStream {
    let mut seen: Vec<syn::Ident> = Vec::new();
    let mut out = proc_macro2::TokenStream::new();
    for definition in input.networks {
        let name = match &definition {
            ast::Definition::Ok(def) => &def.name,
            ast::Definition::Broken { name, .. } => name,
        };
        if let Some(first) = seen.iter().find(|n| *n == name) {
            let mut error = syn::Error::new(
                name.span(),
                format_args!(
                    "a network named `{name}` is already defined in this `network!`; each needs its own name"
                ),
            );
            error.combine(syn::Error::new(
                first.span(),
                format_args!("`{first}` is first defined here"),
            ));
            out.extend(error.to_compile_error());
            continue;
        }
        seen.push(name.clone());
        out.extend(match definition {
            ast::Definition::Ok(def) => match check::network(&def) {
                Ok(model) => codegen::network(&model),
                Err(error) => codegen::fallback(&def.attrs, &def.vis, &def.name, &error),
            },
            ast::Definition::Broken {
                attrs,
                vis,
                name,
                error,
            } => codegen::fallback(&attrs, &vis, &name, &error),
        });
    }
    out
}
