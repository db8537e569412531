//! One invocation, network by network: check, then generate the network or its fallback.

use proc_macro2::TokenStream;

use crate::ast::{Definition, Input};
use crate::{check, codegen};

/// Checks and generates every network of one invocation. Networks with syntax errors or failed
/// checks are replaced by stubs next to the errors, so code naming them does not cascade into
/// more errors. A second network of the same name is reported and dropped.
pub fn network(input: Input) -> TokenStream {
    let mut seen: Vec<syn::Ident> = Vec::new();
    let mut out = TokenStream::new();
    for definition in input.networks {
        let name = match &definition {
            Definition::Ok(def) => &def.name,
            Definition::Broken { name, .. } => name,
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
            Definition::Ok(def) => match check::network(&def) {
                Ok(model) => codegen::network(&model),
                Err(failed) => codegen::fallback(
                    &def.attrs,
                    &def.vis,
                    &def.name,
                    &failed.error,
                    failed.outline.as_deref(),
                ),
            },
            Definition::Broken {
                attrs,
                vis,
                name,
                error,
            } => codegen::fallback(&attrs, &vis, &name, &error, None),
        });
    }
    out
}
