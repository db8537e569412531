//! The one reader of a layer's arguments: every layer kind takes its sizes, its activation and
//! its `name = value` options through [`Args`], so "a size", "an activation" and "a boolean
//! option" mean the same thing, with the same messages, everywhere.
//!
//! A kind asks for what it takes, in order; [`Args::finish`] then reports whatever it did not
//! ask for: arguments left over, and options it does not know, listing those it asked for. So a
//! kind reads every argument and option before it gives up on a layer, or its options would be
//! reported as unknown.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{BinOp, Expr, ExprBinary, ExprLit, Ident, Lit, LitInt, UnOp};

use crate::ast::expr_text;
use crate::ast::{LayerArg, LayerDef, OptionValue, Size};
use crate::errors::Errors;
use crate::model::{Activation, MAX_VALUES, Width, one_of};

/// How a layer keyword is written, for messages.
pub struct Usage {
    /// The keyword: `Dense`.
    pub name: &'static str,
    /// A typical call: `Dense(64, relu)`.
    pub example: &'static str,
    /// What it takes, after "`Dense` takes": "units, an activation and `bias = false`".
    pub takes: &'static str,
}

impl Usage {
    pub const fn new(name: &'static str, example: &'static str, takes: &'static str) -> Self {
        Usage {
            name,
            example,
            takes,
        }
    }
}

/// A layer's arguments, read in order by its kind.
pub struct Args<'a> {
    usage: &'static Usage,
    text: &'a str,
    tokens: &'a TokenStream,
    /// The arguments that are not `name = value`, in order.
    positional: Vec<&'a LayerArg>,
    /// The next of `positional` to read.
    next: usize,
    /// An activation written where a size belonged, for [`Args::activation`] to return.
    misplaced_activation: Option<Activation>,
    /// Each option's first occurrence.
    options: Vec<(&'a Ident, &'a OptionValue)>,
    /// The options the kind asked for, for "expected" lists.
    asked: Vec<&'static str>,
    errors: Errors,
}

impl<'a> Args<'a> {
    /// The arguments of `layer`, a call of the keyword `usage` describes. An option given twice is reported here.
    pub fn new(usage: &'static Usage, layer: &'a LayerDef, args: &'a [LayerArg]) -> Self {
        let mut errors = Errors::default();
        let mut positional = Vec::new();
        let mut options: Vec<(&Ident, &OptionValue)> = Vec::new();
        for arg in args {
            match arg {
                LayerArg::Named { name, value } => {
                    if options.iter().any(|(seen, _)| *seen == name) {
                        errors.push_spanned(
                            name.span(),
                            format_args!(
                                "`{name}` is given twice in `{}`: expected each option at most once",
                                layer.text
                            ),
                        );
                    } else {
                        options.push((name, value));
                    }
                }
                other => positional.push(other),
            }
        }
        Args {
            usage,
            text: &layer.text,
            tokens: &layer.tokens,
            positional,
            next: 0,
            misplaced_activation: None,
            options,
            asked: Vec::new(),
            errors,
        }
    }

    /// Reports what no one asked for, and hands over every error found.
    pub fn finish(mut self) -> Errors {
        for arg in &self.positional[self.next..] {
            let (span, shown) = match arg {
                LayerArg::Positional(size) => (size.span(), size.text()),
                LayerArg::Mapping { from, to } => {
                    (from.span(), format!("{} -> {}", from.text(), to.text()))
                }
                LayerArg::Float(lit) => (lit.span(), lit.to_string()),
                LayerArg::Named { .. } => unreachable!("options are kept apart"),
            };
            self.errors.push_spanned(
                span,
                format_args!(
                    "unexpected argument `{shown}` in `{}`: `{}` takes {}",
                    self.text, self.usage.name, self.usage.takes
                ),
            );
        }
        for (name, _) in &self.options {
            if self.asked.iter().any(|asked| name == asked) {
                continue;
            }
            let message = if self.asked.is_empty() {
                format!(
                    "unknown option `{name}`: `{}` takes no options",
                    self.usage.name
                )
            } else {
                format!(
                    "unknown option `{name}` of `{}`; expected {}",
                    self.usage.name,
                    one_or_another(&self.asked)
                )
            };
            self.errors.push_spanned(name.span(), message);
        }
        self.errors
    }

    /// Reports a mistake in the layer as a whole.
    fn error(&mut self, message: String) {
        self.errors
            .push(syn::Error::new_spanned(self.tokens, message));
    }

    /// The next positional argument, if it is a `from -> to` mapping: both sizes.
    pub fn mapping(&mut self, from: &str, to: &str) -> Option<(Option<Width>, Option<Width>)> {
        let LayerArg::Mapping { from: f, to: t } = self.positional.get(self.next)? else {
            return None;
        };
        self.next += 1;
        Some((self.size_value(f, from), self.size_value(t, to)))
    }

    /// The next positional argument as a size — a literal of at least 1, a `const`, or an
    /// arithmetic expression — or `None` after reporting why it is not one. `what` names it:
    /// "number of units".
    pub fn size(&mut self, what: &str) -> Option<Width> {
        let Some(arg) = self.positional.get(self.next).copied() else {
            let example = self.usage.example;
            self.error(format!("`{}` needs a {what}, e.g. `{example}`", self.text));
            return None;
        };
        self.next += 1;
        match arg {
            LayerArg::Positional(size) => {
                if let Some(activation) = activation_keyword(size) {
                    return self.size_after_misplaced_activation(size, activation, what);
                }
                self.size_value(size, what)
            }
            LayerArg::Float(lit) => {
                self.errors.push_spanned(
                    lit.span(),
                    format_args!(
                        "`{}`: the {what} must be an integer, found `{lit}`",
                        self.text
                    ),
                );
                None
            }
            LayerArg::Mapping { from, .. } => {
                self.errors.push_spanned(
                    from.span(),
                    format_args!(
                        "`{}`: only the first argument of `Dense` can state its inputs with `->`",
                        self.text
                    ),
                );
                None
            }
            LayerArg::Named { .. } => unreachable!("options are kept apart"),
        }
    }

    /// `Dense(relu, 64)`: one message saying the size comes first, and the size read from
    /// after the activation, which [`Args::activation`] then returns.
    fn size_after_misplaced_activation(
        &mut self,
        found: &Size,
        activation: Activation,
        what: &str,
    ) -> Option<Width> {
        let example = self.usage.example;
        self.errors.push_spanned(
            found.span(),
            format_args!(
                "`{}`: the {what} comes before the activation, e.g. `{example}`",
                self.text
            ),
        );
        self.misplaced_activation = Some(activation);
        match self.positional.get(self.next) {
            Some(LayerArg::Positional(size)) if activation_keyword(size).is_none() => {
                self.next += 1;
                self.size_value(size, what)
            }
            _ => None,
        }
    }

    /// The span of the positional argument read last.
    pub fn last_span(&self) -> Span {
        match self
            .next
            .checked_sub(1)
            .and_then(|i| self.positional.get(i))
        {
            Some(LayerArg::Positional(size)) => size.span(),
            Some(LayerArg::Float(lit)) => lit.span(),
            Some(LayerArg::Mapping { to, .. }) => to.span(),
            _ => Span::call_site(),
        }
    }

    /// The next positional argument as a size the macro can compute with: an integer literal
    /// or arithmetic on literals.
    pub fn literal(&mut self, what: &str) -> Option<usize> {
        match self.size(what)? {
            Width::Literal(n, _) => Some(n),
            width => {
                self.errors.push_spanned(
                    width.span(),
                    format_args!(
                        "`{}`: the {what} must be an integer literal, so that the macro can work out the image shapes",
                        self.text
                    ),
                );
                None
            }
        }
    }

    /// Every remaining positional argument, as literal sizes.
    pub fn literals(&mut self, what: &str) -> Vec<Option<usize>> {
        let mut sizes = Vec::new();
        while self.next < self.positional.len() {
            sizes.push(self.literal(what));
        }
        sizes
    }

    /// The next positional argument if it is a word, as an activation; `default` if there is
    /// none. A word that is not an activation is reported.
    pub fn activation(&mut self, default: Activation) -> Activation {
        if let Some(activation) = self.misplaced_activation.take() {
            return activation;
        }
        let Some(LayerArg::Positional(size)) = self.positional.get(self.next) else {
            return default;
        };
        let Some(word) = size.as_ident() else {
            return default;
        };
        self.next += 1;
        let word = word.to_string();
        Activation::from_keyword(&word).unwrap_or_else(|| {
            self.errors.push_spanned(
                size.span(),
                format_args!(
                    "unknown activation `{word}`; expected one of {}",
                    one_of(Activation::ALL.map(Activation::keyword))
                ),
            );
            // The closest, for the stand-in of the network, so that a loss chosen for the
            // activation meant still fits it.
            Activation::ALL
                .into_iter()
                .min_by_key(|a| edit_distance(a.keyword(), &word))
                .unwrap_or(default)
        })
    }

    /// The next positional argument as a fraction in `[0, 1)`, e.g. a dropout rate.
    pub fn fraction(&mut self) -> Option<f32> {
        let rate = match self.positional.get(self.next) {
            Some(LayerArg::Float(lit)) => lit.base10_parse::<f32>().ok(),
            Some(LayerArg::Positional(Size::Literal(lit))) if lit.base10_digits() == "0" => {
                Some(0.0)
            }
            _ => None,
        }
        .filter(|r| (0.0..1.0).contains(r));
        if rate.is_some() {
            self.next += 1;
        } else {
            let example = self.usage.example;
            self.error(format!(
                "`{}` takes a rate from 0 up to (not including) 1, e.g. `{example}`",
                self.text
            ));
            self.next = self.positional.len();
        }
        rate
    }

    /// The next positional argument, as integer literals nested in tuples: Keras' way of giving
    /// a size per axis or per side, `2`, `(2, 3)` or `((1, 0), (2, 1))`. `read` makes of it what
    /// the layer takes, or `None` if it is not one of the `forms` the layer accepts (e.g. "an
    /// integer or `(rows, columns)`"), which is then reported as such. Without an argument,
    /// `default`. Also returns the argument's span, to report a value in it.
    pub fn nested<T>(
        &mut self,
        what: &str,
        forms: &str,
        default: T,
        read: impl FnOnce(&Nested) -> Option<T>,
    ) -> Option<(T, Span)> {
        let Some(arg) = self.positional.get(self.next).copied() else {
            return Some((default, Span::call_site()));
        };
        self.next += 1;
        let (span, shown, nested) = match arg {
            LayerArg::Positional(size) => {
                let nested = match size {
                    Size::Literal(lit) => lit.base10_parse().ok().map(Nested::Int),
                    Size::Const(_) => None,
                    Size::Expr(expr) => Nested::of(expr),
                };
                (size.span(), size.text(), nested)
            }
            LayerArg::Float(lit) => (lit.span(), lit.to_string(), None),
            LayerArg::Mapping { from, to } => (
                from.span(),
                format!("{} -> {}", from.text(), to.text()),
                None,
            ),
            LayerArg::Named { .. } => unreachable!("options are kept apart"),
        };
        let value = nested.as_ref().and_then(read);
        if value.is_none() {
            self.errors.push_spanned(
                span,
                format_args!(
                    "`{}`: expected the {what} as {forms}, found `{shown}`",
                    self.text
                ),
            );
        }
        value.map(|value| (value, span))
    }

    /// The value of a `true`/`false` option, or `default` if it is not given.
    pub fn flag(&mut self, name: &'static str, default: bool) -> bool {
        match self.option(name) {
            None => default,
            Some(OptionValue::Bool(lit)) => lit.value,
            Some(other) => {
                self.errors.push_spanned(
                    other.span(),
                    format_args!("`{name}` takes `true` or `false`"),
                );
                default
            }
        }
    }

    /// The value of a number option (`momentum = 0.99`, `epsilon = 1e-3`, an integer too),
    /// `default` if it is not given. A value that is not a number, or that `valid` refuses, is
    /// reported ("`` `momentum` takes {expected}, found `1.5`{note} ``") and gives `default`,
    /// so that the layers after it are still checked.
    pub fn number_option(
        &mut self,
        name: &'static str,
        default: f64,
        valid: fn(f64) -> bool,
        expected: &str,
        note: &str,
    ) -> f64 {
        let Some(value) = self.option(name) else {
            return default;
        };
        let (number, found) = match value {
            OptionValue::Float(lit) => (lit.base10_parse::<f64>().ok(), lit.to_string()),
            OptionValue::Int(lit) => (lit.base10_parse::<f64>().ok(), lit.to_string()),
            OptionValue::Bool(_) | OptionValue::Path(_) | OptionValue::Call { .. } => {
                let example = format!("{name} = {default}");
                self.errors.push_spanned(
                    value.span(),
                    format_args!("`{}`: `{name}` takes a number, e.g. `{example}`", self.text),
                );
                return default;
            }
        };
        if let Some(number) = number.filter(|&n| valid(n)) {
            return number;
        }
        self.errors.push_spanned(
            value.span(),
            format_args!(
                "`{}`: `{name}` takes {expected}, found `{found}`{note}",
                self.text
            ),
        );
        default
    }

    /// The value of a size option (`stride = 2`), `default` if it is not given, or `None`
    /// after reporting a value that is not a size of at least 1.
    pub fn size_option(&mut self, name: &'static str, default: usize) -> Option<usize> {
        match self.option(name) {
            None => Some(default),
            Some(OptionValue::Int(lit)) => self.literal_value(lit, name),
            Some(other) => {
                self.errors.push_spanned(
                    other.span(),
                    format_args!("`{}`: `{name}` takes an integer", self.text),
                );
                None
            }
        }
    }

    /// The value of an option that is one of a few words (`padding = same`).
    pub fn choice<T: Copy>(&mut self, name: &'static str, choices: &[(&str, T)], default: T) -> T {
        let Some(value) = self.option(name) else {
            return default;
        };
        if let OptionValue::Path(path) = value
            && let Some(&(_, choice)) = choices.iter().find(|(word, _)| path.is_ident(word))
        {
            return choice;
        }
        let words: Vec<&str> = choices.iter().map(|(word, _)| *word).collect();
        self.errors.push_spanned(
            value.span(),
            format_args!("`{}`: `{name}` is {}", self.text, one_or_another(&words)),
        );
        default
    }

    /// Keras' `*_initializer` and `*_regularizer` options of the tensors a layer has (`kernel`,
    /// `recurrent` for a recurrent layer's recurrent kernel, `bias`), each tensor's
    /// initializer only if `initializers` lists it.
    pub fn weight_options(&mut self, tensors: &[Tensor], initializers: &[Tensor]) -> WeightOptions {
        let mut options = WeightOptions::default();
        for &tensor in initializers {
            options.initializers[tensor as usize] = self.initializer(tensor);
        }
        for &tensor in tensors {
            options.regularizers[tensor as usize] = self.regularizer(tensor);
        }
        options
    }

    /// The initializer option of `tensor` (`kernel_initializer = he_normal`), if given and
    /// known: one of [`INITIALIZERS`], Keras' names.
    fn initializer(&mut self, tensor: Tensor) -> Option<&'static str> {
        let name = tensor.initializer_option();
        let value = self.option(name)?;
        let word = match value {
            OptionValue::Path(path) => path.get_ident().map(Ident::to_string),
            _ => None,
        };
        let found = crate::parse::value_text(value);
        let Some(word) = word else {
            self.errors.push_spanned(
                value.span(),
                format_args!(
                    "`{}`: `{name}` takes an initializer's name, e.g. `{name} = he_normal`, found `{found}`; expected one of {}",
                    self.text,
                    one_of(INITIALIZERS)
                ),
            );
            return None;
        };
        let Some(&known) = INITIALIZERS.iter().find(|known| **known == word) else {
            self.errors.push_spanned(
                value.span(),
                format_args!(
                    "unknown initializer `{word}` for `{name}`; expected one of {}",
                    one_of(INITIALIZERS)
                ),
            );
            return None;
        };
        if known == "orthogonal" && tensor == Tensor::Bias {
            self.errors.push_spanned(
                value.span(),
                format_args!(
                    "`{}`: `{name} = orthogonal` needs a matrix, and the bias is a vector; expected one of {}",
                    self.text,
                    one_of(INITIALIZERS.iter().copied().filter(|i| *i != "orthogonal"))
                ),
            );
            return None;
        }
        Some(known)
    }

    /// The regularizer option of `tensor` (`kernel_regularizer = l2(1e-4)`), as its factors
    /// `(l1, l2)`, if given and valid. As in Keras, `l1`, `l2` and `l1_l2` alone have the
    /// factors 0.01, and `l1_l2(..)` leaves a factor it is not given at 0.
    fn regularizer(&mut self, tensor: Tensor) -> Option<(f32, f32)> {
        let name = tensor.regularizer_option();
        let value = self.option(name)?;
        let forms = "`l1(..)`, `l2(..)` or `l1_l2(l1 = .., l2 = ..)`";
        let (path, args) = match value {
            OptionValue::Path(path) => (path, &[][..]),
            OptionValue::Call { path, args } => (path, &args[..]),
            other => {
                self.errors.push_spanned(
                    other.span(),
                    format_args!(
                        "`{}`: `{name}` takes a regularizer, e.g. `{name} = l2(1e-4)`, found `{}`; expected {forms}",
                        self.text,
                        crate::parse::value_text(other)
                    ),
                );
                return None;
            }
        };
        let word = crate::ast::path_text(path);
        let (defaults, params): ([f32; 2], &[&str]) = match word.as_str() {
            "l1" => ([0.01, 0.0], &["l1"]),
            "l2" => ([0.0, 0.01], &["l2"]),
            "l1_l2" => ([0.01, 0.01], &["l1", "l2"]),
            _ => {
                self.errors.push_spanned(
                    value.span(),
                    format_args!("unknown regularizer `{word}` for `{name}`; expected {forms}"),
                );
                return None;
            }
        };
        if matches!(value, OptionValue::Path(_)) {
            return Some((defaults[0], defaults[1]));
        }
        // Given arguments: Keras' `L1L2(l1=0.0, l2=0.0)` leaves out what it is not given.
        let mut factors = if params.len() == 2 {
            [0.0, 0.0]
        } else {
            defaults
        };
        let mut valid = true;
        let call = crate::parse::value_text(value);
        if args.len() > params.len() {
            self.errors.push_spanned(
                args[params.len()].1.span(),
                format_args!(
                    "`{name} = {call}`: `{word}` takes {} ({}), found {} arguments",
                    ["one factor", "two factors"][params.len() - 1],
                    both(params),
                    args.len()
                ),
            );
            return None;
        }
        for (i, (arg_name, arg)) in args.iter().enumerate() {
            let param = match arg_name {
                None => params[i],
                Some(given) => match params.iter().find(|p| given == *p) {
                    Some(param) => param,
                    None => {
                        self.errors.push_spanned(
                            given.span(),
                            format_args!(
                                "`{name} = {call}`: `{word}` takes {}, found `{given}`",
                                both(params)
                            ),
                        );
                        valid = false;
                        continue;
                    }
                },
            };
            let number = match arg {
                OptionValue::Float(lit) => lit.base10_parse::<f32>().ok(),
                OptionValue::Int(lit) => lit.base10_parse::<f32>().ok(),
                _ => None,
            };
            match number.filter(|n| n.is_finite() && *n >= 0.0) {
                Some(n) => factors[usize::from(param == "l2")] = n,
                None => {
                    self.errors.push_spanned(
                        arg.span(),
                        format_args!(
                            "`{name} = {call}`: `{param}` takes a factor of at least 0, e.g. `1e-4`, found `{}`",
                            crate::parse::value_text(arg)
                        ),
                    );
                    valid = false;
                }
            }
        }
        valid.then_some((factors[0], factors[1]))
    }

    /// The value of option `name`, noting that the kind takes it.
    fn option(&mut self, name: &'static str) -> Option<&'a OptionValue> {
        self.asked.push(name);
        self.options
            .iter()
            .find(|(option, _)| *option == name)
            .map(|(_, value)| *value)
    }

    /// A size as a width, reporting what is wrong with it.
    fn size_value(&mut self, size: &Size, what: &str) -> Option<Width> {
        width(
            size,
            &format!("`{}`: the {what}", self.text),
            &mut self.errors,
        )
    }

    /// A literal size, at least 1 and at most [`MAX_VALUES`].
    fn literal_value(&mut self, lit: &LitInt, what: &str) -> Option<usize> {
        width(
            &Size::Literal(lit.clone()),
            &format!("`{}`: the {what}", self.text),
            &mut self.errors,
        )
        .and_then(|width| width.literal())
    }
}

/// Keras' initializers that netdsl has, by the names `kernel_initializer = ..` takes.
pub const INITIALIZERS: [&str; 9] = [
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "orthogonal",
    "uniform",
    "zeros",
    "ones",
];

/// A tensor of a layer that takes an initializer and a regularizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tensor {
    Kernel = 0,
    Recurrent = 1,
    Bias = 2,
}

impl Tensor {
    fn initializer_option(self) -> &'static str {
        match self {
            Tensor::Kernel => "kernel_initializer",
            Tensor::Recurrent => "recurrent_initializer",
            Tensor::Bias => "bias_initializer",
        }
    }

    fn regularizer_option(self) -> &'static str {
        match self {
            Tensor::Kernel => "kernel_regularizer",
            Tensor::Recurrent => "recurrent_regularizer",
            Tensor::Bias => "bias_regularizer",
        }
    }
}

/// What a layer's tensors start from and what penalizes them, as given: each tensor's
/// initializer's Keras name and regularizer's `(l1, l2)`, indexed by [`Tensor`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WeightOptions {
    pub initializers: [Option<&'static str>; 3],
    pub regularizers: [Option<(f32, f32)>; 3],
}

impl WeightOptions {
    /// Whether an initializer was given.
    pub fn initialized(&self) -> bool {
        self.initializers.iter().any(Option::is_some)
    }

    /// `tensor`'s initializer, as a path: `::netdsl::__private::Initializer::HeNormal`, or
    /// `default` when none was given.
    pub fn initializer(&self, tensor: Tensor, default: &str) -> TokenStream {
        let name = self.initializers[tensor as usize].unwrap_or(default);
        let variant: String = name
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect();
        let (p, variant) = (crate::tokens::private(), quote::format_ident!("{variant}"));
        quote::quote!(#p::Initializer::#variant)
    }

    /// How a layer with a kernel and an optional bias is made, with its initializers and
    /// regularizers: `<ty>::glorot_uniform(rng, bias)` when no initializer was given, else
    /// `<ty>::initialized(rng, kernel, Some(bias) or None)`, then [`WeightOptions::regularized`].
    pub fn constructor(&self, ty: &TokenStream, span: Span, bias: bool) -> TokenStream {
        let constructor = if self.initialized() {
            let kernel = self.initializer(Tensor::Kernel, "glorot_uniform");
            let bias = match bias {
                true => {
                    let init = self.initializer(Tensor::Bias, "zeros");
                    quote::quote!(::core::option::Option::Some(#init))
                }
                false => quote::quote!(::core::option::Option::None),
            };
            quote::quote_spanned!(span=> <#ty>::initialized(rng, #kernel, #bias))
        } else {
            quote::quote_spanned!(span=> <#ty>::glorot_uniform(rng, #bias))
        };
        self.regularized(constructor)
    }

    /// `.with_regularizers(..)` after `constructor` when a regularizer was given. Expands to:
    ///     constructor.with_regularizers(::netdsl::__private::Regularizers {
    ///         kernel: const { ::netdsl::__private::Regularizer::l1_l2(0f32, 0.0001f32).expect("..") },
    ///         recurrent_kernel: ::netdsl::__private::Regularizer::NONE,
    ///         bias: ::netdsl::__private::Regularizer::NONE,
    ///     })
    pub fn regularized(&self, constructor: TokenStream) -> TokenStream {
        if self.regularizers.iter().all(Option::is_none) {
            return constructor;
        }
        let p = crate::tokens::private();
        let [kernel, recurrent, bias] = self.regularizers.map(|factors| match factors {
            None => quote::quote!(#p::Regularizer::NONE),
            Some((l1, l2)) => quote::quote!(const {
                #p::Regularizer::l1_l2(#l1, #l2).expect("factors checked by `network!`")
            }),
        });
        quote::quote!(#constructor.with_regularizers(#p::Regularizers {
            kernel: #kernel,
            recurrent_kernel: #recurrent,
            bias: #bias,
        }))
    }
}

/// Integer literals nested in tuples, as [`Args::nested`] reads them: `1`, `(1, 2)`,
/// `((1, 0), (2, 1))`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Nested {
    Int(usize),
    Tuple(Vec<Nested>),
}

impl Nested {
    /// The integers and tuples of `expr`, if it is made of nothing else.
    fn of(expr: &Expr) -> Option<Nested> {
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(lit), ..
            }) => lit.base10_parse().ok().map(Nested::Int),
            Expr::Paren(inner) => Nested::of(&inner.expr),
            Expr::Group(inner) => Nested::of(&inner.expr),
            Expr::Tuple(tuple) => tuple
                .elems
                .iter()
                .map(Nested::of)
                .collect::<Option<_>>()
                .map(Nested::Tuple),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn int(&self) -> Option<usize> {
        match self {
            Nested::Int(n) => Some(*n),
            Nested::Tuple(_) => None,
        }
    }

    /// The two elements, if this is a pair.
    pub fn pair(&self) -> Option<[&Nested; 2]> {
        match self {
            Nested::Tuple(elems) => match &elems[..] {
                [a, b] => Some([a, b]),
                _ => None,
            },
            Nested::Int(_) => None,
        }
    }

    /// The two integers, if this is a pair of them.
    pub fn int_pair(&self) -> Option<[usize; 2]> {
        let [a, b] = self.pair()?;
        Some([a.int()?, b.int()?])
    }
}

/// A size as a width — a literal of at least 1 that fits an array, a `const`, or arithmetic on
/// them — or `None` after reporting why it is not one. `subject` names it in messages: "the
/// input size of `Mnist`", "`Dense(0)`: the number of units".
pub fn width(size: &Size, subject: &str, errors: &mut Errors) -> Option<Width> {
    match size {
        Size::Literal(lit) => checked_width(lit.base10_parse().ok(), size, lit, subject, errors),
        Size::Const(path) => Some(Width::Const(path.clone())),
        Size::Expr(expr) => {
            let text = expr_text(expr);
            let message = match fold(expr) {
                Folded::Value(n) => return checked_width(Some(n), size, expr, subject, errors),
                Folded::TooLarge => return checked_width(None, size, expr, subject, errors),
                Folded::Const => return Some(Width::Expr(expr.clone())),
                Folded::BelowZero => format!("{subject} `{text}` is below zero"),
                Folded::DividesByZero => format!("{subject} `{text}` divides by zero"),
                Folded::NotASize => format!(
                    "{subject} must be an integer, a `const`, or arithmetic on them such as `2 * HIDDEN`, found `{text}`"
                ),
            };
            errors.push(syn::Error::new_spanned(expr, message));
            None
        }
    }
}

/// `value` (`None`: too large for a `usize`) as a literal width of at least 1 that fits an
/// array, or `None` after saying why not.
fn checked_width(
    value: Option<usize>,
    size: &Size,
    tokens: &dyn ToTokens,
    subject: &str,
    errors: &mut Errors,
) -> Option<Width> {
    let span = first_span(tokens);
    match value {
        Some(0) => {
            errors.push_spanned(span, format_args!("{subject} must be at least 1, found 0"));
            None
        }
        Some(n) if n <= MAX_VALUES => Some(Width::Literal(n, span)),
        _ => {
            errors.push(syn::Error::new_spanned(
                tokens.to_token_stream(),
                format_args!(
                    "{subject} `{}` is too large; expected at most {MAX_VALUES}, the most `f32` values an array can hold",
                    size.text()
                ),
            ));
            None
        }
    }
}

fn first_span(tokens: &dyn ToTokens) -> Span {
    tokens
        .to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

/// The activation a size argument names, if it is one: `relu` where `64` belonged.
fn activation_keyword(size: &Size) -> Option<Activation> {
    size.as_ident()
        .and_then(|ident| Activation::from_keyword(&ident.to_string()))
}

/// The Levenshtein distance between two words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// "`a`", "`a` and `b`".
fn both(words: &[&str]) -> String {
    let words: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    words.join(" and ")
}

/// "`a`", "`a` or `b`", "`a`, `b` or `c`".
pub fn one_or_another(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [rest @ .., last] => format!("{} or `{last}`", one_of(rest.iter().copied())),
    }
}

/// What an expression in size position is.
#[derive(Debug, PartialEq, Eq)]
enum Folded {
    /// Arithmetic on integer literals, worked out.
    Value(usize),
    /// Arithmetic on integer literals beyond `usize`.
    TooLarge,
    /// Arithmetic on integer literals that goes below zero.
    BelowZero,
    /// Arithmetic on integer literals that divides by zero.
    DividesByZero,
    /// Arithmetic involving `const` items: rustc works it out.
    Const,
    /// Not a size at all.
    NotASize,
}

/// Works out arithmetic (`+ - * / %`, parentheses) on integer literals with checked
/// operations; sorts anything else.
fn fold(expr: &Expr) -> Folded {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit
            .base10_parse::<usize>()
            .map_or(Folded::TooLarge, Folded::Value),
        Expr::Path(path) if path.qself.is_none() => Folded::Const,
        Expr::Paren(inner) => fold(&inner.expr),
        Expr::Group(inner) => fold(&inner.expr),
        Expr::Block(block) => match block.block.stmts.as_slice() {
            [syn::Stmt::Expr(inner, None)] => fold(inner),
            _ => Folded::NotASize,
        },
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => match fold(&unary.expr) {
            Folded::Value(0) => Folded::Value(0),
            Folded::Value(_) | Folded::TooLarge => Folded::BelowZero,
            other => other,
        },
        Expr::Binary(ExprBinary {
            left, op, right, ..
        }) => {
            type Operation = fn(usize, usize) -> Option<usize>;
            let (operation, otherwise): (Operation, Folded) = match op {
                BinOp::Add(_) => (usize::checked_add, Folded::TooLarge),
                BinOp::Mul(_) => (usize::checked_mul, Folded::TooLarge),
                BinOp::Sub(_) => (usize::checked_sub, Folded::BelowZero),
                BinOp::Div(_) => (usize::checked_div, Folded::DividesByZero),
                BinOp::Rem(_) => (usize::checked_rem, Folded::DividesByZero),
                _ => return Folded::NotASize,
            };
            match (fold(left), fold(right)) {
                (Folded::Value(a), Folded::Value(b)) => {
                    operation(a, b).map_or(otherwise, Folded::Value)
                }
                (Folded::NotASize, _) | (_, Folded::NotASize) => Folded::NotASize,
                (problem @ (Folded::TooLarge | Folded::BelowZero | Folded::DividesByZero), _)
                | (_, problem @ (Folded::TooLarge | Folded::BelowZero | Folded::DividesByZero)) => {
                    problem
                }
                _ => Folded::Const,
            }
        }
        _ => Folded::NotASize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(expr: &str) -> Folded {
        fold(&syn::parse_str(expr).expect("an expression"))
    }

    #[test]
    fn arithmetic_on_literals_is_worked_out_with_checked_operations() {
        assert_eq!(folded("64 + 1"), Folded::Value(65));
        assert_eq!(folded("2 * (3 + 4)"), Folded::Value(14));
        assert_eq!(folded("{ 28 * 28 }"), Folded::Value(784));
        assert_eq!(folded("17 / 4 % 3"), Folded::Value(1));
        assert_eq!(folded("18446744073709551615 + 1"), Folded::TooLarge);
        assert_eq!(folded("1 << 70"), Folded::NotASize);
        assert_eq!(folded("99999999999999999999999"), Folded::TooLarge);
        assert_eq!(folded("1 - 2"), Folded::BelowZero);
        assert_eq!(folded("-3"), Folded::BelowZero);
        assert_eq!(folded("4 / 0"), Folded::DividesByZero);
        assert_eq!(folded("4 % (2 - 2)"), Folded::DividesByZero);
        assert_eq!(folded("(1 - 2) * HIDDEN"), Folded::BelowZero);
    }

    #[test]
    fn arithmetic_on_consts_is_left_to_rustc_and_the_rest_refused() {
        assert_eq!(folded("2 * HIDDEN"), Folded::Const);
        assert_eq!(folded("sizes::IN + 1"), Folded::Const);
        assert_eq!(folded("\"64\""), Folded::NotASize);
        assert_eq!(folded("HIDDEN << 1"), Folded::NotASize);
        assert_eq!(folded("f(3)"), Folded::NotASize);
        assert_eq!(folded("2.5 * 4"), Folded::NotASize);
    }

    #[test]
    fn edit_distances_count_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("relu", "rleu"), 2);
        assert_eq!(edit_distance("softmax", "sofmax"), 1);
        assert_eq!(edit_distance("tanh", "tanh"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("sigmoid", "sigmiod"), 2);
    }

    #[test]
    fn integers_nested_in_tuples_are_read_as_such() {
        let nested = |text: &str| Nested::of(&syn::parse_str(text).expect("an expression"));
        assert_eq!(nested("(2)"), Some(Nested::Int(2)));
        assert_eq!(nested("(1, 2)").and_then(|n| n.int_pair()), Some([1, 2]));
        let sides = nested("((1, 0), (2, 1))").expect("pairs of pairs");
        let [rows, columns] = sides.pair().expect("a pair");
        assert_eq!(
            [rows.int_pair(), columns.int_pair()],
            [Some([1, 0]), Some([2, 1])]
        );
        assert_eq!(nested("(1, 2, 3)").and_then(|n| n.int_pair()), None);
        assert_eq!(nested("(1,)").and_then(|n| n.int_pair()), None);
        assert_eq!(nested("(1, PAD)"), None);
        assert_eq!(nested("(1, 2 + 1)"), None);
        assert_eq!(nested("(1, 99999999999999999999999)"), None);
    }

    #[test]
    fn word_lists_read_as_english() {
        assert_eq!(one_or_another(&["bias"]), "`bias`");
        assert_eq!(one_or_another(&["valid", "same"]), "`valid` or `same`");
        assert_eq!(
            one_or_another(&["stride", "padding", "bias"]),
            "`stride`, `padding` or `bias`"
        );
    }
}
