//! Syntax only: the DSL's tokens into the tree of [`crate::ast`]. Meaning is `check`'s job.

use proc_macro2::{Delimiter, Group};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitBool, LitInt, Path, Token, Visibility};

use crate::ast::{
    Definition, Input, InputShape, LayerArg, LayerDef, LayerKindDef, NetworkDef, OptionValue, Size,
};

const EXAMPLE: &str = "`pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;`";

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut networks = Vec::new();
        while !input.is_empty() {
            networks.push(definition(input)?);
        }
        if networks.is_empty() {
            return Err(input.error(format_args!(
                "expected a network definition, e.g. {EXAMPLE}"
            )));
        }
        Ok(Input { networks })
    }
}

/// One `[attrs] [vis] struct Name<...>;`. Once the name is known, a syntax error in the rest
/// becomes a [`Definition::Broken`] and parsing resumes after the next `;`, so the other
/// networks of the invocation are still checked and this one still gets a stub.
fn definition(input: ParseStream) -> syn::Result<Definition> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    if !input.peek(Token![struct]) {
        return Err(input.error(format_args!("expected `struct`, e.g. {EXAMPLE}")));
    }
    input.parse::<Token![struct]>()?;
    let name: Ident = input.parse()?;
    match shape(input, &name) {
        Ok((input_size, layers)) => Ok(Definition::Ok(NetworkDef {
            attrs,
            vis,
            name,
            input: input_size,
            layers,
        })),
        Err(error) => {
            skip_past_semicolon(input)?;
            Ok(Definition::Broken {
                attrs,
                vis,
                name,
                error,
            })
        }
    }
}

/// Skips token trees up to and including the next top-level `;`, or to the end.
fn skip_past_semicolon(input: ParseStream) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            rest = next;
            if matches!(&tree, proc_macro2::TokenTree::Punct(p) if p.as_char() == ';') {
                break;
            }
        }
        Ok(((), rest))
    })
}

/// `<IN => Layer => ...>;` after the network's name.
fn shape(input: ParseStream, name: &Ident) -> syn::Result<(InputShape, Vec<LayerDef>)> {
    if !input.peek(Token![<]) {
        return Err(input.error(format_args!(
            "expected `<` and the network's layers after `{name}`, e.g. {EXAMPLE}"
        )));
    }
    input.parse::<Token![<]>()?;

    if input.peek(Ident) && input.peek2(syn::token::Paren) {
        let layer: Ident = input.fork().parse()?;
        return Err(syn::Error::new(
            layer.span(),
            format_args!(
                "missing input size: `{name}` must start with the width of its input, e.g. `<784 => {layer}(..) ...>`"
            ),
        ));
    }
    let input_size = if input.peek(syn::token::Paren) {
        let group: Group = input.parse()?;
        let dims = Punctuated::<LitInt, Token![,]>::parse_terminated.parse2(group.stream()).map_err(|_| {
            syn::Error::new(
                group.span(),
                format_args!("expected the input shape of `{name}` as `(height, width, channels)` or `(steps, features)`, e.g. `(28, 28, 1)`"),
            )
        })?;
        let dims: Vec<LitInt> = dims.into_iter().collect();
        if dims.len() != 2 && dims.len() != 3 {
            return Err(syn::Error::new(
                group.span(),
                format_args!(
                    "expected the input shape of `{name}` as `(height, width, channels)` or `(steps, features)`, found {} dimension(s)",
                    dims.len()
                ),
            ));
        }
        InputShape::Image(dims)
    } else {
        InputShape::Flat(input.parse::<Size>().map_err(|_| {
            input.error(format_args!(
                "expected the input size of `{name}` (an integer, a `const`, `(height, width, channels)` or `(steps, features)`), e.g. {EXAMPLE}"
            ))
        })?)
    };

    let mut layers = Vec::new();
    while !input.peek(Token![>]) {
        if !input.peek(Token![=>]) {
            return Err(input.error("expected `=>` followed by a layer, or `>` to end the network"));
        }
        let arrow: Token![=>] = input.parse()?;
        if input.peek(Token![>]) || input.peek(Token![=>]) || input.is_empty() {
            return Err(syn::Error::new_spanned(
                arrow,
                "expected a layer after `=>`, e.g. `=> Dense(10, softmax)`",
            ));
        }
        layers.push(input.parse()?);
    }
    let close: Token![>] = input.parse()?;
    if layers.is_empty() {
        return Err(syn::Error::new_spanned(
            close,
            format_args!(
                "`{name}` has no layers: expected `=> Layer` after its input size, e.g. {EXAMPLE}"
            ),
        ));
    }
    input.parse::<Token![;]>().map_err(|_| {
        input.error(format_args!(
            "expected `;` after the definition of `{name}`"
        ))
    })?;
    Ok((input_size, layers))
}

impl Parse for LayerDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if !(input.peek(Ident) || input.peek(Token![::])) {
            return Err(
                input.error("expected a layer, e.g. `Dense(64, relu)` or the name of a network")
            );
        }
        if input.peek(Ident) && input.peek2(syn::token::Paren) {
            let keyword: Ident = input.parse()?;
            let group: Group = input.parse()?;
            debug_assert_eq!(group.delimiter(), Delimiter::Parenthesis);
            let args: Vec<LayerArg> = Punctuated::<LayerArg, Token![,]>::parse_terminated
                .parse2(group.stream())?
                .into_iter()
                .collect();
            let text = call_text(&keyword, &args);
            let mut tokens = keyword.to_token_stream();
            group.to_tokens(&mut tokens);
            return Ok(LayerDef {
                kind: LayerKindDef::Call { keyword, args },
                tokens,
                text,
            });
        }
        let path = input.call(Path::parse_mod_style)?;
        Ok(LayerDef {
            text: path_text(&path),
            tokens: path.to_token_stream(),
            kind: LayerKindDef::Named(path),
        })
    }
}

/// The layer as written, normalised: `Dense(784 -> 64, relu, bias = false)`.
fn call_text(kind: &Ident, args: &[LayerArg]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|arg| match arg {
            LayerArg::Positional(size) => size_text(size),
            LayerArg::Mapping { from, to } => format!("{} -> {}", size_text(from), size_text(to)),
            LayerArg::Float(lit) => lit.to_string(),
            LayerArg::Named { name, value } => format!("{name} = {}", value_text(value)),
        })
        .collect();
    format!("{kind}({})", args.join(", "))
}

pub fn path_text(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let prefix = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{prefix}{}", segments.join("::"))
}

pub fn size_text(size: &Size) -> String {
    match size {
        Size::Literal(lit) => lit.to_string(),
        Size::Const(path) => path_text(path),
    }
}

fn value_text(value: &OptionValue) -> String {
    match value {
        OptionValue::Bool(lit) => lit.value.to_string(),
        OptionValue::Int(lit) => lit.to_string(),
        OptionValue::Path(path) => path_text(path),
    }
}

impl Parse for LayerArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value = if input.peek(LitBool) {
                OptionValue::Bool(input.parse()?)
            } else if input.peek(LitInt) {
                OptionValue::Int(input.parse()?)
            } else {
                OptionValue::Path(input.call(Path::parse_mod_style).map_err(|_| {
                    input.error(format_args!(
                        "expected a value for `{name}`, e.g. `{name} = false`"
                    ))
                })?)
            };
            return Ok(LayerArg::Named { name, value });
        }
        if input.peek(syn::LitFloat) {
            return input.parse().map(LayerArg::Float);
        }
        let size: Size = input.parse().map_err(|_| {
            input.error("expected a size (an integer or a `const`), an activation such as `relu`, or an option such as `bias = false`")
        })?;
        if input.peek(Token![->]) {
            let arrow: Token![->] = input.parse()?;
            let to = input.parse().map_err(|_| {
                syn::Error::new_spanned(
                    arrow,
                    "expected the number of units after `->`, e.g. `Dense(784 -> 64, relu)`",
                )
            })?;
            return Ok(LayerArg::Mapping { from: size, to });
        }
        Ok(LayerArg::Positional(size))
    }
}

impl Parse for Size {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitInt) {
            input.parse().map(Size::Literal)
        } else {
            input.call(Path::parse_mod_style).map(Size::Const)
        }
    }
}
