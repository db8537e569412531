//! Property test: the parser and the checker never panic, whatever they are fed, and what they
//! expand to is always valid Rust items (the network, or its errors and stub).
//!
//! Inputs are generated from the DSL's grammar with sizes, activations and options drawn from
//! valid, misspelt, zero, huge, negative and non-numeric values, then mutated token by token
//! (deletions, duplications, swaps, stray punctuation).

use std::str::FromStr;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::layers::KEYWORDS;

const SIZES: &[&str] = &[
    "0",
    "1",
    "3",
    "7",
    "64",
    "784",
    "1000000000000",
    "18446744073709551615",
    "99999999999999999999999",
    "-3",
    "HIDDEN",
    "sizes::IN",
    "2 * HIDDEN",
    "64 + 1",
    "1 - 2",
    "4 / 0",
    "(28 * 28)",
    "{ 3 }",
    "HIDDEN << 1",
    "\"64\"",
    "0.5",
    "1.5",
    "(1, 2)",
    "((1, 0), (2, 1))",
    "(1, 2, 3)",
    "((1, 0), 2)",
    "784 -> 64",
    "HIDDEN -> 10",
];

const ACTIVATIONS: &[&str] = &[
    "relu",
    "softmax",
    "sigmoid",
    "tanh",
    "linear",
    "gelu",
    "swish",
    "log_softmax",
    "hard_silu",
    "rleu",
    "gleu",
];

const OPTIONS: &[&str] = &[
    "bias = false",
    "bias = true",
    "bias = 1",
    "stride = 2",
    "stride = 0",
    "stride = same",
    "padding = same",
    "padding = valid",
    "padding = full",
    "strides = 2",
    "dilation_rate = 2",
    "dilation_rate = 0",
    "padding = causal",
    "return_sequences = true",
    "return_sequences = 1",
    "bais = false",
    "momentum = 0.99",
    "momentum = 1",
    "momentum = -0.5",
    "epsilon = 1e-3",
    "epsilon = 0",
    "epsilon = -1e40",
    "epsilon = 1e-50",
    "center = false",
    "scale = 0.5",
    "mask_value = 0.0",
    "mask_value = -1",
    "mask_value = 1e40",
    "zero_output_for_mask = true",
    "units =",
];

const INPUTS: &[&str] = &[
    "784",
    "0",
    "HIDDEN",
    "{ 28 * 28 }",
    "(28, 28, 1)",
    "(28, 28)",
    "(8, 8, 1)",
    "(0, 5)",
    "(1000000000, 1000000000, 1000000000)",
    "(8, 8, 1, 2)",
    "()",
    "\"784\"",
];

const PUNCTUATION: &[&str] = &[
    ",", "=>", "->", ">", "<", "(", ")", ";", "=", "::", "-", "*", "#", "!", "[", "]", "{", "}",
];

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(options)
}

fn argument() -> impl Strategy<Value = String> {
    prop_oneof![
        pick(SIZES).prop_map(str::to_owned),
        pick(ACTIVATIONS).prop_map(str::to_owned),
        pick(OPTIONS).prop_map(str::to_owned),
    ]
}

fn layer() -> impl Strategy<Value = String> {
    let keywords: Vec<&'static str> = KEYWORDS.iter().map(|k| k.usage.name).collect();
    let names = prop_oneof![
        proptest::sample::select(keywords),
        pick(&[
            "Conv",
            "Encoder",
            "layers::Scale2x",
            "dense",
            "r#Scale2x",
            "r#type"
        ]),
    ];
    (
        names,
        proptest::collection::vec(argument(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(name, args, bare)| {
            if bare && args.is_empty() {
                name.to_owned()
            } else {
                format!("{name}({})", args.join(", "))
            }
        })
}

fn network() -> impl Strategy<Value = String> {
    (
        pick(&["", "#[cfg(any())]", "#[allow(dead_code)]", "/// Doc."]),
        pick(&["", "pub", "pub(crate)"]),
        pick(&["Net", "Mnist", "Net"]),
        pick(INPUTS),
        proptest::collection::vec(layer(), 0..6),
    )
        .prop_map(|(attr, vis, name, input, layers)| {
            let layers: String = layers.iter().map(|l| format!(" => {l}")).collect();
            format!("{attr} {vis} struct {name}<{input}{layers}>;")
        })
}

/// One token of a mutation: the position and what to do there.
#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Insert(usize, &'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), pick(PUNCTUATION)).prop_map(|(at, p)| Mutation::Insert(at, p)),
    ]
}

/// An invocation, valid or not, and mutated or not.
fn invocation() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(network(), 1..3),
        proptest::collection::vec(mutation(), 0..4),
    )
        .prop_map(|(networks, mutations)| {
            let mut tokens = words(&networks.join("\n"));
            for mutation in mutations {
                let len = tokens.len().max(1);
                match mutation {
                    Mutation::Delete(at) if !tokens.is_empty() => {
                        tokens.remove(at % len);
                    }
                    Mutation::Duplicate(at) if !tokens.is_empty() => {
                        tokens.insert(at % len, tokens[at % len].clone());
                    }
                    Mutation::Swap(a, b) if !tokens.is_empty() => tokens.swap(a % len, b % len),
                    Mutation::Insert(at, punctuation) => {
                        tokens.insert(at % (tokens.len() + 1), punctuation.to_owned());
                    }
                    _ => {}
                }
            }
            tokens.join(" ")
        })
}

/// The text split into the tokens a mutation moves: numbers (with a fraction), words, string
/// literals, `::`, `=>`, `->`, and single characters.
fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            i = (i + 1).min(chars.len());
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if matches!(
            (c, chars.get(i + 1)),
            (':', Some(':')) | ('=', Some('>')) | ('-', Some('>'))
        ) {
            i += 2;
        } else {
            i += 1;
        }
        tokens.push(chars[start..i].iter().collect());
    }
    tokens
}

/// What became of one input.
#[derive(Default)]
struct Tally {
    cases: usize,
    /// Rejected by the lexer (unbalanced delimiters): rustc never calls the macro on them.
    unlexable: usize,
    /// Stopped by the parser before any network.
    parse_errors: usize,
    expanded: usize,
}

#[test]
fn the_parser_and_checker_never_panic_and_always_expand_to_items() {
    const CASES: u32 = 20_000;
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let tally = std::cell::RefCell::new(Tally::default());
    runner
        .run(&invocation(), |text| {
            let mut tally = tally.borrow_mut();
            tally.cases += 1;
            let Ok(tokens) = proc_macro2::TokenStream::from_str(&text) else {
                tally.unlexable += 1;
                return Ok(());
            };
            let Ok(input) = syn::parse2::<crate::ast::Input>(tokens) else {
                tally.parse_errors += 1;
                return Ok(());
            };
            let expansion = crate::expand::network(input);
            prop_assert!(
                syn::parse2::<syn::File>(expansion.clone()).is_ok(),
                "`{text}` expands to something that is not items:\n{expansion}"
            );
            tally.expanded += 1;
            Ok(())
        })
        .expect("no input makes the macro panic or emit invalid Rust");
    let tally = tally.into_inner();
    assert!(
        tally.cases >= CASES as usize,
        "ran {} cases of {CASES}",
        tally.cases
    );
    assert!(
        tally.expanded >= tally.cases / 4,
        "only {} of {} cases reached the checker ({} unlexable, {} parse errors)",
        tally.expanded,
        tally.cases,
        tally.unlexable,
        tally.parse_errors
    );
    println!(
        "{} cases: {} expanded, {} stopped by the parser, {} unlexable",
        tally.cases, tally.expanded, tally.parse_errors, tally.unlexable
    );
}
