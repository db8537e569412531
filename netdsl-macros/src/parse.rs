//! Syntax only: the DSL's tokens into the tree of [`crate::ast`]. Meaning is `check`'s job.

use proc_macro2::{Delimiter, Group, Spacing, TokenTree};
use quote::ToTokens;
use syn::parse::discouraged::Speculative;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{
    Attribute, Expr, ExprLit, ExprPath, Ident, Lit, LitBool, LitFloat, LitInt, Path, Token,
    Visibility,
};

use crate::ast::{
    Definition, Input, InputShape, JOINS, LayerArg, LayerDef, LayerKindDef, NetworkDef,
    OptionValue, Size, path_text,
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
        InputShape::Flat(input_size(input).map_err(|_| {
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
            let keyword: Ident = input.fork().parse()?;
            if JOINS.iter().any(|join| keyword == join) {
                return join(input);
            }
            let keyword: Ident = input.parse()?;
            let group: Group = input.parse()?;
            debug_assert_eq!(group.delimiter(), Delimiter::Parenthesis);
            let args = (|input: ParseStream| layer_args(input, &keyword)).parse2(group.stream())?;
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

/// `Residual(chain, relu)`, `Add(chain, chain, ...)`, `Concatenate(chain, chain, ...)`: the
/// chains separated by commas, each `Layer => Layer ...`, and a last argument that is a bare
/// identifier other than a layer keyword taken as the activation after the join.
fn join(input: ParseStream) -> syn::Result<LayerDef> {
    let keyword: Ident = input.parse()?;
    let group: Group = input.parse()?;
    let parse_branches = |input: ParseStream| {
        let mut branches: Vec<Vec<LayerDef>> = Vec::new();
        let mut activation = None;
        let mut options = Vec::new();
        while !input.is_empty() {
            // `name = value` after the branches: an option of the join.
            if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![=>]) {
                options.push(input.parse::<LayerArg>()?);
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
                continue;
            }
            if !options.is_empty() {
                return Err(input.error(format_args!(
                    "expected an option `name = value` after the options of `{keyword}`: its branches come first, e.g. `{}`",
                    join_example(&keyword)
                )));
            }
            let last = input.peek(Ident)
                && (input.peek2(Token![,]) || {
                    let fork = input.fork();
                    fork.parse::<Ident>().is_ok() && fork.is_empty()
                });
            if last && !branches.is_empty() {
                let ident: Ident = input.fork().parse()?;
                if crate::model::Activation::from_keyword(&ident.to_string()).is_some() {
                    input.parse::<Ident>()?;
                    activation = Some(ident);
                    if !input.is_empty() {
                        return Err(input.error(format_args!(
                            "expected `)` after the activation of `{keyword}`, e.g. `{keyword}(Dense(64) => Dense(64), relu)`"
                        )));
                    }
                    break;
                }
            }
            let mut chain = vec![input.parse::<LayerDef>()?];
            while input.peek(Token![=>]) {
                let arrow: Token![=>] = input.parse()?;
                if input.is_empty() || input.peek(Token![,]) || input.peek(Token![=>]) {
                    return Err(syn::Error::new_spanned(
                        arrow,
                        "expected a layer after `=>`, e.g. `=> Dense(10, softmax)`",
                    ));
                }
                chain.push(input.parse()?);
            }
            branches.push(chain);
            if input.is_empty() {
                break;
            }
            if !input.peek(Token![,]) {
                return Err(input.error(format_args!(
                    "expected `=>` and a layer, `,` and another branch, or `)` in `{keyword}`"
                )));
            }
            input.parse::<Token![,]>()?;
        }
        Ok((branches, activation, options))
    };
    let (branches, activation, options) = parse_branches.parse2(group.stream())?;
    if branches.is_empty() {
        return Err(syn::Error::new(
            group.span(),
            format_args!(
                "`{keyword}` needs its branches, e.g. `{}`",
                join_example(&keyword)
            ),
        ));
    }
    let chains: Vec<String> = branches
        .iter()
        .map(|chain| {
            let layers: Vec<&str> = chain.iter().map(|l| l.text.as_str()).collect();
            layers.join(" => ")
        })
        .collect();
    let mut parts = chains;
    parts.extend(activation.iter().map(Ident::to_string));
    parts.extend(options.iter().filter_map(|option| match option {
        LayerArg::Named { name, value } => Some(format!("{name} = {}", value_text(value))),
        _ => None,
    }));
    let text = format!("{keyword}({})", parts.join(", "));
    let mut tokens = keyword.to_token_stream();
    group.to_tokens(&mut tokens);
    Ok(LayerDef {
        kind: LayerKindDef::Join {
            keyword,
            branches,
            activation,
            options,
        },
        tokens,
        text,
    })
}

/// How a join keyword is written, for messages.
pub fn join_example(keyword: &Ident) -> &'static str {
    if keyword == "Residual" {
        "Residual(Dense(64, relu) => Dense(64), relu)"
    } else if keyword == "Add" {
        "Add(Dense(64, relu), Dense(32) => Dense(64))"
    } else if keyword == "Bidirectional" {
        "Bidirectional(LSTM(32))"
    } else if keyword == "CrossAttention" {
        "CrossAttention(Dense(64), Conv1D(64, 3), heads = 4, key_dim = 16)"
    } else {
        "Concatenate(Dense(64, relu), Dense(32, relu))"
    }
}

/// The comma-separated arguments inside a layer's parentheses.
fn layer_args(input: ParseStream, keyword: &Ident) -> syn::Result<Vec<LayerArg>> {
    let mut args = Vec::new();
    while !input.is_empty() {
        args.push(input.parse()?);
        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            return Err(input.error(format_args!(
                "expected `,` or `)` after an argument of `{keyword}`; a size is an integer, a `const` or an arithmetic expression of them, e.g. `{keyword}(2 * HIDDEN, relu)`"
            )));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

/// The layer as written, normalised: `Dense(784 -> 64, relu, bias = false)`.
fn call_text(kind: &Ident, args: &[LayerArg]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|arg| match arg {
            LayerArg::Positional(size) => size.text(),
            LayerArg::Mapping { from, to } => format!("{} -> {}", from.text(), to.text()),
            LayerArg::Float(lit) => lit.to_string(),
            LayerArg::Named { name, value } => format!("{name} = {}", value_text(value)),
        })
        .collect();
    format!("{kind}({})", args.join(", "))
}

/// An option's value as written: `4`, `true`, `1e-5`, `pre`, `l2(0.0001)`.
pub fn value_text(value: &OptionValue) -> String {
    match value {
        OptionValue::Bool(lit) => lit.value.to_string(),
        OptionValue::Int(lit) => lit.to_string(),
        OptionValue::Float(lit) => lit.to_string(),
        OptionValue::Path(path) => path_text(path),
        OptionValue::Call { path, args } => {
            let args: Vec<String> = args
                .iter()
                .map(|(name, value)| match name {
                    Some(name) => format!("{name} = {}", value_text(value)),
                    None => value_text(value),
                })
                .collect();
            format!("{}({})", path_text(path), args.join(", "))
        }
    }
}

/// The value of option `name`: `false`, `2`, `0.5`, `-0.5`, `same`, or a call of those,
/// `l2(1e-4)`, `l1_l2(l1 = 0.01, l2 = 0.01)`.
fn option_value(input: ParseStream, name: &Ident) -> syn::Result<OptionValue> {
    Ok(if input.peek(LitBool) {
        OptionValue::Bool(input.parse()?)
    } else if input.peek(LitInt) {
        OptionValue::Int(input.parse()?)
    } else if input.peek(LitFloat) {
        OptionValue::Float(input.parse()?)
    } else if input.peek(Token![-]) && (input.peek2(LitInt) || input.peek2(LitFloat)) {
        // A negative number (`momentum = -0.5`), read as one literal for the checks
        // to refuse with the value as written.
        input.parse::<Token![-]>()?;
        if input.peek(LitInt) {
            let lit: LitInt = input.parse()?;
            OptionValue::Int(LitInt::new(&negated(&lit.to_string()), lit.span()))
        } else {
            let lit: LitFloat = input.parse()?;
            OptionValue::Float(LitFloat::new(&negated(&lit.to_string()), lit.span()))
        }
    } else {
        let path = input.call(Path::parse_mod_style).map_err(|_| {
            input.error(format_args!(
                "expected a value for `{name}`, e.g. `{name} = false`"
            ))
        })?;
        if !input.peek(syn::token::Paren) {
            return Ok(OptionValue::Path(path));
        }
        let content;
        syn::parenthesized!(content in input);
        let mut args = Vec::new();
        while !content.is_empty() {
            let arg_name = if content.peek(Ident) && content.peek2(Token![=]) {
                let arg_name: Ident = content.parse()?;
                content.parse::<Token![=]>()?;
                Some(arg_name)
            } else {
                None
            };
            let value = option_value(&content, arg_name.as_ref().unwrap_or(name))?;
            args.push((arg_name, value));
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        OptionValue::Call { path, args }
    })
}

impl Parse for LayerArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value = option_value(input, &name)?;
            return Ok(LayerArg::Named { name, value });
        }
        let expected = || {
            input.error("expected a size (an integer, a `const` or an arithmetic expression of them), an activation such as `relu`, or an option such as `bias = false`")
        };
        let first = argument_before_arrow(input).map_err(|_| expected())?;
        if input.peek(Token![->]) {
            let arrow: Token![->] = input.parse()?;
            let to = argument_before_arrow(input).map_err(|_| {
                syn::Error::new_spanned(
                    arrow,
                    "expected the number of units after `->`, e.g. `Dense(784 -> 64, relu)`",
                )
            })?;
            return Ok(LayerArg::Mapping {
                from: Size::from(first),
                to: Size::from(to),
            });
        }
        Ok(match first {
            Expr::Lit(ExprLit {
                lit: Lit::Float(lit),
                attrs,
            }) if attrs.is_empty() => LayerArg::Float(lit),
            other => LayerArg::Positional(Size::from(other)),
        })
    }
}

/// A number literal's text with its sign flipped: a token stream built from a string can hold a
/// negative literal (`- -0.5` is `-` and the literal `-0.5`).
fn negated(literal: &str) -> String {
    match literal.strip_prefix('-') {
        Some(positive) => positive.to_owned(),
        None => format!("-{literal}"),
    }
}

/// One argument's expression: the tokens before a top-level `,` or `->` (which an expression
/// parser would read as a minus), or when those are not one expression (`64 relu`), the longest
/// expression they start with, so the caller reports the token after it.
fn argument_before_arrow(input: ParseStream) -> syn::Result<Expr> {
    let fork = input.fork();
    let whole = expression_until(&fork, |c, spacing, next| {
        c == ',' || (c == '-' && spacing == Spacing::Joint && next == Some('>'))
    });
    match whole {
        Ok(expr) => {
            input.advance_to(&fork);
            Ok(expr)
        }
        Err(_) => input.parse(),
    }
}

/// An expression made of the token trees before the first top-level punctuation `stop` accepts
/// (given the character, its spacing and the character after it).
fn expression_until(
    input: ParseStream,
    stop: impl Fn(char, Spacing, Option<char>) -> bool,
) -> syn::Result<Expr> {
    let tokens = input.step(|cursor| {
        let mut rest = *cursor;
        let mut tokens = proc_macro2::TokenStream::new();
        while let Some((tree, next)) = rest.token_tree() {
            if let TokenTree::Punct(p) = &tree {
                let following = next.punct().map(|(p, _)| p.as_char());
                if stop(p.as_char(), p.spacing(), following) {
                    break;
                }
            }
            tokens.extend([tree]);
            rest = next;
        }
        Ok((tokens, rest))
    })?;
    syn::parse2(tokens)
}

impl From<Expr> for Size {
    /// An integer literal or a plain path as such (parentheses around one are dropped); anything
    /// else is kept as an expression, for the checker to accept as arithmetic or reject.
    fn from(expr: Expr) -> Self {
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(lit),
                attrs,
            }) if attrs.is_empty() => Size::Literal(lit),
            Expr::Path(ExprPath {
                qself: None,
                path,
                attrs,
            }) if attrs.is_empty() => Size::Const(path),
            Expr::Paren(paren)
                if paren.attrs.is_empty()
                    && matches!(*paren.expr, Expr::Lit(_) | Expr::Path(_)) =>
            {
                Size::from(*paren.expr)
            }
            other => Size::Expr(other),
        }
    }
}

/// The input size of a network: an expression before its first `=>` (or the `>` that ends
/// it), or failing that (`<784 Dense(..)>`) the integer or path it starts with.
fn input_size(input: ParseStream) -> syn::Result<Size> {
    let fork = input.fork();
    let stop =
        |c, spacing, next| c == '>' || (c == '=' && spacing == Spacing::Joint && next == Some('>'));
    if let Ok(expr) = expression_until(&fork, stop) {
        input.advance_to(&fork);
        return Ok(Size::from(expr));
    }
    if input.peek(LitInt) {
        input.parse().map(Size::Literal)
    } else {
        input.call(Path::parse_mod_style).map(Size::Const)
    }
}
