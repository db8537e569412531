//! Expansion tests: parse, expand and pretty-print, then assert on the text, so the shape of
//! the generated code is pinned without a compiler round trip.

use crate::model::Activation;
use quote::quote;

fn expand(tokens: proc_macro2::TokenStream) -> String {
    let input = syn::parse2(tokens).expect("the test input parses");
    let file: syn::File =
        syn::parse2(crate::expand::network(input)).expect("the expansion is valid Rust");
    prettyplease::unparse(&file)
}

/// The syntax error of an invocation, whether it stops the parse or leaves a broken definition.
fn parse_error(tokens: proc_macro2::TokenStream) -> String {
    match syn::parse2::<crate::ast::Input>(tokens) {
        Ok(input) => match input.networks.into_iter().next() {
            Some(crate::ast::Definition::Broken { error, .. }) => error.to_string(),
            _ => panic!("the input should not parse"),
        },
        Err(err) => err.to_string(),
    }
}

/// Drops whitespace and the trailing commas the pretty-printer adds when it wraps a line.
fn normalise(code: &str) -> String {
    let mut flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    for close in [">", ")", "]", "}"] {
        flat = flat.replace(&format!(",{close}"), close);
    }
    flat
}

/// Asserts that `haystack` contains each of `needles`, up to whitespace and line wrapping.
fn assert_contains(haystack: &str, needles: &[&str]) {
    let flat = normalise(haystack);
    for needle in needles {
        let needle_flat = normalise(needle);
        assert!(
            flat.contains(needle_flat.trim_end_matches(',')),
            "expected `{needle}` in the expansion:\n{haystack}"
        );
    }
}

#[test]
fn dense_layers_become_typed_fields_with_their_shapes() {
    let out = expand(quote! {
        /// Doc.
        pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
    });
    assert_contains(
        &out,
        &[
            "/// Doc.",
            "pub struct Mnist {",
            "pub dense_1: ::netdsl::__private::Dense<784, 64, ::netdsl::__private::Relu>,",
            "pub dense_2: ::netdsl::__private::Dense<64, 10, ::netdsl::__private::Softmax>,",
            "pub struct MnistTape<const NETDSL_BATCH: usize> {",
            "pub dense_1: ::netdsl::__private::Buffer<[<::netdsl::__private::Dense<784, 64, ::netdsl::__private::Relu> as ::netdsl::__private::Layer>::Out; NETDSL_BATCH]>,",
            "pub dense_1_grad: ::netdsl::__private::Buffer<",
            "dense_1_tape: <::netdsl::__private::Dense<784, 64, ::netdsl::__private::Relu> as ::netdsl::__private::Layer>::Tape<NETDSL_BATCH>,",
            "pub struct MnistGrads {",
            "impl ::netdsl::__private::Layer for Mnist {",
            "type In = [f32; 784];",
            "type Out = [f32; 10];",
            "const KIND: &'static str = \"Mnist\";",
            "impl ::netdsl::__private::Network for Mnist {",
            // What needs a heap is left out of a build without one.
            "::netdsl::__private::with_alloc! { #[automatically_derived] impl ::netdsl::__private::Initialize for Mnist {",
            "::netdsl::__private::with_alloc! { fn summary(&self) -> ::netdsl::__private::Summary {",
            "::netdsl::__private::with_alloc! { #[doc = \"A network with fresh weights",
        ],
    );
    // The output layer writes the caller's buffer and gets its gradient from the loss.
    assert!(
        !normalise(&out).contains("pubdense_2:::netdsl::__private::Buffer"),
        "no tape output for the last layer:\n{out}"
    );
    assert!(
        !out.contains("dense_2_grad"),
        "the output layer needs no gradient scratch:\n{out}"
    );
}

#[test]
fn every_activation_keyword_names_its_type_and_keras_aliases_share_one() {
    for activation in Activation::ALL {
        let keyword = proc_macro2::Ident::new(activation.keyword(), proc_macro2::Span::call_site());
        let out = expand(quote! { struct Net<4 => Dense(3, #keyword)>; });
        let expected = format!(
            "pub dense_1: ::netdsl::__private::Dense<4, 3, ::netdsl::__private::{}>,",
            activation.type_name()
        );
        assert_contains(&out, &[expected.as_str()]);
    }
    let out = expand(quote! {
        struct Net<4 => Dense(3, swish) => Dense(3, hard_swish) => Dense(2, gelu_tanh)>;
    });
    assert_contains(
        &out,
        &[
            "pub dense_1: ::netdsl::__private::Dense<4, 3, ::netdsl::__private::Silu>,",
            "pub dense_2: ::netdsl::__private::Dense<3, 3, ::netdsl::__private::HardSilu>,",
            "pub dense_3: ::netdsl::__private::Dense<3, 2, ::netdsl::__private::GeluTanh>,",
        ],
    );
}

#[test]
fn forward_runs_in_order_and_backward_in_reverse() {
    let out = expand(quote! {
        struct Net<4 => Dense(3, tanh) => Dense(2, sigmoid) => Dense(1, linear)>;
    });
    let flat = normalise(&out);
    let forward_1 = flat
        .find("Layer::forward(&self.dense_1,x,&mut*tape.dense_1,&muttape.dense_1_tape)")
        .expect("forward of dense_1");
    let forward_3 = flat
        .find("Layer::forward(&self.dense_3,&*tape.dense_2,y,&muttape.dense_3_tape)")
        .expect("forward of dense_3");
    assert!(forward_1 < forward_3);
    assert_contains(
        &out,
        &[
            "::netdsl::__private::Layer::backward(&self.dense_3, &*tape.dense_2, dz, ::core::option::Option::Some(&mut *tape.dense_2_grad), &mut grads.dense_3, &mut tape.dense_3_tape);",
            "<<::netdsl::__private::Dense<3, 2, ::netdsl::__private::Sigmoid> as ::netdsl::__private::Layer>::Activation as ::netdsl::__private::Activation>::backprop_batch(&*tape.dense_2, <::netdsl::__private::Dense<3, 2, ::netdsl::__private::Sigmoid> as ::netdsl::__private::Layer>::kept::<NETDSL_BATCH>(&tape.dense_2_tape), &mut *tape.dense_2_grad);",
            // What the network's activation kept is its output layer's.
            "<::netdsl::__private::Dense<2, 1, ::netdsl::__private::Linear> as ::netdsl::__private::Layer>::kept::<NETDSL_BATCH>(&tape.dense_3_tape)",
            "::netdsl::__private::Layer::backward(&self.dense_1, x, &*tape.dense_1_grad, dx.map(|dx| dx), &mut grads.dense_1, &mut tape.dense_1_tape);",
        ],
    );
    let backward_3 = flat.find("backward(&self.dense_3").unwrap();
    let backward_1 = flat.find("backward(&self.dense_1").unwrap();
    assert!(backward_3 < backward_1);
}

#[test]
fn infer_uses_the_stack_within_the_budget_and_lets_rustc_choose_above_it() {
    // Within the budget: stack buffers, no scratch field (a struct literal still builds it), and
    // an assertion that the runtime agrees with the macro's budget.
    let out = expand(quote! { struct Net<4 => Dense(3, relu) => Dense(2, softmax)>; });
    assert_contains(
        &out,
        &[
            "fn infer(&self, x: &[f32; 4], y: &mut [f32; 2]) {",
            "3 * ::core::mem::size_of::<f32>() <= ::netdsl::__private::INFER_STACK_BUDGET,",
            "let mut dense_1: <::netdsl::__private::Dense<4, 3, ::netdsl::__private::Relu> as ::netdsl::__private::Layer>::Out = ::netdsl::__private::Zeroable::zeroed();",
            "::netdsl::__private::Layer::infer(&self.dense_1, x, &mut dense_1);",
            "::netdsl::__private::Layer::infer(&self.dense_2, &dense_1, y);",
        ],
    );
    assert!(!out.contains("netdsl_infer"), "no scratch:\n{out}");

    // Above it (16,385 values of 4 bytes): a scratch, whose rows hold the hidden outputs when
    // the runtime's budget (features decide it: unbounded without `std`) does not fit them.
    let out = expand(quote! { struct Wide<4 => Dense(16385, relu) => Dense(2, softmax)>; });
    assert_contains(
        &out,
        &[
            "netdsl_infer: ::netdsl::__private::InferScratch,",
            "netdsl_infer: ::netdsl::__private::InferScratch::new(if Self::NETDSL_INFER_ON_STACK { 0 } else { Self::NETDSL_HIDDEN_VALUES }),",
            "if Self::NETDSL_INFER_ON_STACK { self.netdsl_infer_on_stack(x, y); } else { self.netdsl_infer_in_scratch(x, y); }",
            "const NETDSL_HIDDEN_VALUES: usize = 0 + <<::netdsl::__private::Dense<4, 16385, ::netdsl::__private::Relu> as ::netdsl::__private::Layer>::Out as ::netdsl::__private::Row>::WIDTH;",
            "let mut netdsl_values = self.netdsl_infer.lock();",
            "let (dense_1, netdsl_rest) = ::netdsl::__private::InferScratch::take_row::<<::netdsl::__private::Dense<4, 16385, ::netdsl::__private::Relu> as ::netdsl::__private::Layer>::Out>(netdsl_rest);",
            "::netdsl::__private::Layer::infer(&self.dense_1, x, dense_1);",
            "::netdsl::__private::Layer::infer(&self.dense_2, &*dense_1, y);",
        ],
    );
    let at_budget = expand(quote! { struct Net<4 => Dense(16384, relu) => Dense(2, softmax)>; });
    assert!(
        !at_budget.contains("netdsl_infer"),
        "64 KiB fit:\n{at_budget}"
    );

    // A width only rustc knows: both paths, chosen by a constant.
    let out = expand(quote! { struct Net<4 => Dense(HIDDEN, relu) => Dense(2, softmax)>; });
    assert_contains(
        &out,
        &[
            "if Self::NETDSL_INFER_ON_STACK { self.netdsl_infer_on_stack(x, y); } else { self.netdsl_infer_in_scratch(x, y); }",
            "const NETDSL_INFER_ON_STACK: bool = Self::NETDSL_HIDDEN_VALUES * ::core::mem::size_of::<f32>() <= ::netdsl::__private::INFER_STACK_BUDGET;",
            "netdsl_infer: ::netdsl::__private::InferScratch::new(if Self::NETDSL_INFER_ON_STACK { 0 } else { Self::NETDSL_HIDDEN_VALUES }),",
            "fn netdsl_infer_on_stack(&self, x: &[f32; 4], y: &mut [f32; 2]) {",
            "fn netdsl_infer_in_scratch(&self, x: &[f32; 4], y: &mut [f32; 2]) {",
        ],
    );
}

#[test]
fn bias_option_and_default_activation_reach_the_constructor() {
    let out = expand(
        quote! { struct Net<4 => Dense(3, bias = false) => Dense(2, sigmoid, bias = true)>; },
    );
    assert_contains(
        &out,
        &[
            "dense_1: <::netdsl::__private::Dense<4, 3, ::netdsl::__private::Linear>>::glorot_uniform(rng, false),",
            "dense_2: <::netdsl::__private::Dense<3, 2, ::netdsl::__private::Sigmoid>>::glorot_uniform(rng, true),",
        ],
    );
}

#[test]
fn const_sizes_become_const_expressions_and_assertions() {
    let out =
        expand(quote! { struct Net<sizes::IN => Dense(HIDDEN, relu) => Dense(10, softmax)>; });
    assert_contains(
        &out,
        &[
            "pub dense_1: ::netdsl::__private::Dense<{ sizes::IN }, { HIDDEN }, ::netdsl::__private::Relu>,",
            "pub dense_2: ::netdsl::__private::Dense<{ HIDDEN }, 10, ::netdsl::__private::Softmax>,",
            "type In = [f32; sizes::IN];",
            "const _: () = ::core::assert!(sizes::IN >= 1, \"the input size of `Net` must be at least 1\");",
            "const _: () = ::core::assert!(HIDDEN >= 1, \"`Dense(HIDDEN, relu)`: the number of units must be at least 1\");",
        ],
    );
}

#[test]
fn a_named_layer_takes_its_widths_from_its_type_and_is_checked() {
    let out = expand(
        quote! { struct Classifier<784 => encoders::Encoder => Scale2x => Dense(10, softmax)>; },
    );
    assert_contains(
        &out,
        &[
            "pub encoder_1: encoders::Encoder,",
            "pub scale2x_1: Scale2x,",
            // The next layer's input is the named layer's output width.
            "pub dense_1: ::netdsl::__private::Dense<{ <<Scale2x as ::netdsl::__private::Layer>::Out as ::netdsl::__private::Row>::WIDTH }, 10, ::netdsl::__private::Softmax>,",
            // Its input width is asserted against the width before it, with both in the message.
            "const EXPECTED: usize = 784;",
            "const FOUND: usize = <<encoders::Encoder as ::netdsl::__private::Layer>::In as ::netdsl::__private::Row>::WIDTH;",
            "::netdsl::__private::formatcp!(\"`encoders::Encoder` (layer 1 of `Classifier`) on a {}-wide input: expected {} inputs, found {}\", EXPECTED, EXPECTED, FOUND)",
            // It is fed through a reinterpretation of equal widths, and built by `Initialize`.
            "::netdsl::__private::Layer::forward(&self.encoder_1, ::netdsl::__private::reinterpret(x), &mut *tape.encoder_1, &mut tape.encoder_1_tape);",
            "::netdsl::__private::Layer::backward(&self.encoder_1, ::netdsl::__private::reinterpret(x), &*tape.encoder_1_grad, dx.map(|dx| ::netdsl::__private::reinterpret_mut(dx)), &mut grads.encoder_1, &mut tape.encoder_1_tape);",
            "encoder_1: <encoders::Encoder as ::netdsl::__private::Initialize>::initialize(rng),",
        ],
    );
}

#[test]
fn a_layer_named_by_a_raw_identifier_gets_a_plain_field_name() {
    // Found by the fuzzer: `r#atetn_1` is not an identifier, and the macro panicked on it.
    let out = expand(quote! { struct Net<4 => r#Scale2x => layers::r#type => Dense(2)>; });
    assert_contains(
        &out,
        &["pub scale2x_1: r#Scale2x,", "pub type_1: layers::r#type,"],
    );
}

#[test]
fn declared_inputs_are_compared_by_the_macro_or_asserted() {
    let out = expand(
        quote! { struct Net<784 => Dense(784 -> 64, relu) => Dense(HIDDEN -> 10, softmax)>; },
    );
    assert_contains(
        &out,
        &[
            "const EXPECTED: usize = 64;",
            "const FOUND: usize = HIDDEN;",
        ],
    );
    assert_eq!(
        normalise(&out).matches("constEXPECTED").count(),
        1,
        "two literals need no assertion:\n{out}"
    );
    let out = expand(quote! { struct Net<784 => Dense(100, relu) => Dense(784 -> 64, relu)>; });
    assert_contains(
        &out,
        &[
            "compile_error! { \"`Dense(784 -> 64, relu)` (layer 2 of `Net`) after a 100-wide layer: expected 100 inputs, found 784\" }",
        ],
    );
}

#[test]
fn a_second_network_of_the_same_name_is_an_error() {
    let out = expand(quote! {
        struct Net<2 => Dense(1, sigmoid)>;
        struct Net<3 => Dense(1, sigmoid)>;
    });
    assert_contains(
        &out,
        &["a network named `Net` is already defined in this `network!`; each needs its own name"],
    );
    assert_eq!(
        normalise(&out).matches("structNet{").count(),
        1,
        "only the first is generated:\n{out}"
    );
}

#[test]
fn several_networks_in_one_invocation() {
    let out = expand(quote! {
        pub struct A<2 => Dense(1, sigmoid)>;
        pub(crate) struct B<3 => Dense(2, softmax)>;
    });
    assert_contains(
        &out,
        &[
            "pub struct A {",
            "pub(crate) struct B {",
            "impl ::netdsl::__private::Layer for B {",
        ],
    );
}

#[test]
fn summary_lists_every_layer() {
    let out = expand(quote! { struct Net<4 => Dense(3, relu) => Dense(2, softmax)>; });
    assert_contains(
        &out,
        &[
            "name: \"Net\",",
            "name: \"dense_1\", kind: <::netdsl::__private::Dense<4, 3, ::netdsl::__private::Relu> as ::netdsl::__private::Layer>::KIND, output_shape: ::netdsl::__private::vec![3],",
        ],
    );
}

#[test]
fn summary_lists_branch_layers_and_merges_in_keras_order() {
    let out = expand(quote! {
        struct Net<4 => Dense(4) => Add(Dense(4), Dense(2) => Dense(4)) => Residual(Dense(4), relu) => Dense(1)>;
    });
    let flat = normalise(&out);
    let summary = &flat[flat
        .find("impl::netdsl::__private::NetworkforNet{")
        .expect("the network's summary")..];
    assert_contains(
        summary,
        &[
            "Layer::parameter_count(&self.add_1.first().dense_2)",
            "Layer::parameter_count(&self.add_1.second().dense_3)",
            "Layer::parameter_count(&self.residual_1.inner().dense_5)",
            "name: \"add_1\", kind: \"Add\", output_shape: ::netdsl::__private::vec![4], parameters: 0, non_trainable: 0",
            "name: \"activation_1\", kind: \"Activation\"",
        ],
    );
    // Farthest from the output first, as Keras lists a functional model: branch 2's first
    // layer before branch 1's only one.
    let order = [
        "dense_1",
        "dense_3",
        "dense_2",
        "dense_4",
        "add_1",
        "dense_5",
        "residual_1",
        "activation_1",
        "dense_6",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|name| {
            summary
                .find(&format!("name:\"{name}\""))
                .unwrap_or_else(|| panic!("a row for `{name}`:\n{out}"))
        })
        .collect();
    assert!(at.is_sorted(), "rows in the order {order:?}:\n{out}");
}

#[test]
fn a_bad_network_expands_to_its_errors_and_a_stub() {
    // Its output unknown: the stub is a unit struct with `new`.
    let out = expand(quote! { pub struct Net<4 => Dense(2, relu) => Reshape(0)>; });
    assert_contains(
        &out,
        &[
            "compile_error! { \"`Reshape(0)`: the dimension must be at least 1, found 0\" }",
            "pub struct Net;",
            "pub fn new<R: ?::core::marker::Sized>(_: &mut R) -> Self {",
        ],
    );
    assert!(
        !out.contains("impl ::netdsl::__private::Layer"),
        "no layer impl for a network of unknown widths:\n{out}"
    );
    // Its input and output known, despite a layer between them: a layer of those widths, ending
    // with the activation the misspelling is closest to.
    let out = expand(quote! { pub struct Net<4 => Dense(0, relu) => Dense(2, sofmax)>; });
    assert_contains(
        &out,
        &[
            "compile_error! { \"`Dense(0, relu)`: the number of units must be at least 1, found 0\" }",
            "compile_error! { \"unknown activation `sofmax`; expected one of `relu`, `relu6`, `leaky_relu`, `elu`, `celu`, `selu`, `sigmoid`, `hard_sigmoid`, `sparse_sigmoid`, `log_sigmoid`, `tanh`, `hard_tanh`, `tanh_shrink`, `softplus`, `sparse_plus`, `squareplus`, `softsign`, `soft_shrink`, `hard_shrink`, `exponential`, `silu`, `swish`, `hard_silu`, `hard_swish`, `gelu`, `gelu_tanh`, `mish`, `softmax`, `log_softmax`, `linear`\" }",
            "impl ::netdsl::__private::Layer for Net {",
            "type In = [f32; 4];",
            "type Out = [f32; 2];",
            "type Activation = ::netdsl::__private::Softmax;",
        ],
    );
    // Every width known: the stub is a layer of those widths, and a loss fits it as it would fit
    // the network.
    let out =
        expand(quote! { pub struct Net<4 => Dense(3, relu, bias = 1) => Dense(2, softmax)>; });
    assert_contains(
        &out,
        &[
            "compile_error! { \"`bias` takes `true` or `false`\" }",
            "pub struct Net;",
            "impl ::netdsl::__private::Layer for Net {",
            "type In = [f32; 4];",
            "type Out = [f32; 2];",
            "type Activation = ::netdsl::__private::Softmax;",
            "impl ::netdsl::__private::Network for Net {",
            "impl ::netdsl::__private::Initialize for Net {",
        ],
    );
}

#[test]
fn a_syntax_error_leaves_a_stub_and_the_next_network_intact() {
    let out = expand(quote! {
        pub struct Broken<784 => Dense(64, relu) =>>;
        pub struct Fine<2 => Dense(1, sigmoid)>;
    });
    assert_contains(
        &out,
        &[
            "compile_error! { \"expected a layer after `=>`, e.g. `=> Dense(10, softmax)`\" }",
            "pub struct Broken;",
            "impl ::netdsl::__private::Network for Fine {",
        ],
    );
}

#[test]
fn syntax_errors_say_what_was_expected() {
    assert_eq!(
        parse_error(quote! { struct Net<Dense(3, relu)>; }),
        "missing input size: `Net` must start with the width of its input, e.g. `<784 => Dense(..) ...>`"
    );
    assert_eq!(
        parse_error(quote! { struct Net<4 => Dense(3, relu) =>>; }),
        "expected a layer after `=>`, e.g. `=> Dense(10, softmax)`"
    );
    assert_eq!(
        parse_error(quote! { struct Net<4 Dense(3, relu)>; }),
        "expected `=>` followed by a layer, or `>` to end the network"
    );
    assert!(
        parse_error(quote! { struct Net<4 => Dense(3)> })
            .ends_with("expected `;` after the definition of `Net`")
    );
    assert!(
        parse_error(quote! {}).contains("expected a network definition"),
        "{}",
        parse_error(quote! {})
    );
    assert!(parse_error(quote! { enum Net<4 => Dense(3)>; }).starts_with("expected `struct`"));
}

#[test]
fn lenet5_shapes_are_computed_at_compile_time() {
    let out = expand(quote! {
        pub struct LeNet5<(28, 28, 1)
            => Conv2d(6, 5, relu, padding = same) => MaxPool2d(2)
            => Conv2d(16, 5, relu) => MaxPool2d(2)
            => Flatten => Dropout(0.25) => Dense(120, relu) => Dense(84, relu) => Dense(10, softmax)>;
    });
    assert_contains(
        &out,
        &[
            "pub conv2d_1: ::netdsl::__private::Conv2d<::netdsl::__private::Image<28, 28, 1, 784>, ::netdsl::__private::Kernel<6, 5, 1>, ::netdsl::__private::Padding<2, 2>, ::netdsl::__private::Image<28, 28, 6, 4704>, ::netdsl::__private::Relu>,",
            "pub max_pool2d_1: ::netdsl::__private::MaxPool2d<::netdsl::__private::Image<28, 28, 6, 4704>, ::netdsl::__private::Window<2, 2>, ::netdsl::__private::Image<14, 14, 6, 1176>>,",
            "pub conv2d_2: ::netdsl::__private::Conv2d<::netdsl::__private::Image<14, 14, 6, 1176>, ::netdsl::__private::Kernel<16, 5, 1>, ::netdsl::__private::Padding<0, 0>, ::netdsl::__private::Image<10, 10, 16, 1600>, ::netdsl::__private::Relu>,",
            "pub max_pool2d_2: ::netdsl::__private::MaxPool2d<::netdsl::__private::Image<10, 10, 16, 1600>, ::netdsl::__private::Window<2, 2>, ::netdsl::__private::Image<5, 5, 16, 400>>,",
            "pub flatten_1: ::netdsl::__private::Flatten<400>,",
            "pub dropout_1: ::netdsl::__private::Dropout<400>,",
            "pub dense_1: ::netdsl::__private::Dense<400, 120, ::netdsl::__private::Relu>,",
            "type In = [f32; 784];",
            "output_shape: ::netdsl::__private::vec![28, 28, 6],",
            "output_shape: ::netdsl::__private::vec![400],",
            "conv2d_1: <::netdsl::__private::Conv2d<::netdsl::__private::Image<28, 28, 1, 784>, ::netdsl::__private::Kernel<6, 5, 1>, ::netdsl::__private::Padding<2, 2>, ::netdsl::__private::Image<28, 28, 6, 4704>, ::netdsl::__private::Relu>>::glorot_uniform(rng, true),",
            "dropout_1: <::netdsl::__private::Dropout<400>>::new(0.25f32, ::netdsl::__private::Rng::next_u64(rng)),",
        ],
    );
}

#[test]
fn strides_and_reshapes_follow_keras() {
    let out = expand(quote! {
        struct Net<784 => Reshape(28, 28, 1) => Conv2d(4, 3, stride = 2) => AvgPool2d(3, stride = 2) => Flatten => Dense(2)>;
    });
    assert_contains(
        &out,
        &[
            "pub reshape_1: ::netdsl::__private::Reshape<784>,",
            // valid padding floors (28 - 3) / 2 + 1 = 13, and (13 - 3) / 2 + 1 = 6
            "pub conv2d_1: ::netdsl::__private::Conv2d<::netdsl::__private::Image<28, 28, 1, 784>, ::netdsl::__private::Kernel<4, 3, 2>, ::netdsl::__private::Padding<0, 0>, ::netdsl::__private::Image<13, 13, 4, 676>, ::netdsl::__private::Linear>,",
            "pub avg_pool2d_1: ::netdsl::__private::AvgPool2d<::netdsl::__private::Image<13, 13, 4, 676>, ::netdsl::__private::Window<3, 2>, ::netdsl::__private::Image<6, 6, 4, 144>>,",
        ],
    );
}

#[test]
fn image_layers_that_do_not_fit_are_errors() {
    let out = expand(quote! {
        struct Net<(8, 8, 1) => Conv2d(2, 9, relu) => MaxPool2d(0) => Dense(10) => Reshape(3, 3, 1) => Dropout(1.5)>;
    });
    assert_contains(
        &out,
        &[
            "`Conv2d(2, 9, relu)` (layer 1 of `Net`) on an 8×8×1 image: a 9×9 kernel does not fit; expected a kernel size of at most 8",
            "`MaxPool2d(0)`: the pool size must be at least 1, found 0",
            "`Dropout(1.5)` takes a rate from 0 up to (not including) 1, e.g. `Dropout(0.5)`",
        ],
    );
    let out = expand(quote! { struct Net<(8, 8, 1) => Dense(10) => Reshape(3, 3, 1)>; });
    assert_contains(
        &out,
        &[
            "`Dense(10)` (layer 1 of `Net`) after an 8×8×1 image: add `Flatten` before it (`Dense` takes a vector of values)",
            "`Reshape(3, 3, 1)` (layer 2 of `Net`) on 10 values: expected 10 elements, found 3×3×1 = 9",
        ],
    );
    let out = expand(quote! { struct Net<784 => Conv2d(2, 3)>; });
    assert_contains(
        &out,
        &["`Conv2d(2, 3)` (layer 1 of `Net`) needs an image, found a vector of 784 values"],
    );
}

#[test]
fn sizes_that_valid_padding_rounds_down_are_explained() {
    let out = expand(quote! {
        struct Net<(28, 28, 1) => Conv2d(8, 3, relu, stride = 2) => Reshape(14, 14, 8)>;
    });
    assert_contains(
        &out,
        &[
            "`Reshape(14, 14, 8)` (layer 2 of `Net`) on a 13×13×8 image: expected 1352 elements, found 14×14×8 = 1568; `Conv2d(8, 3, relu, stride = 2)` (layer 1) gives 13×13×8: valid padding rounds (28 - 3) / 2 + 1 down to 13, as in Keras\"",
        ],
    );
    // Through `Flatten` and `Dropout` to a declared input; each axis that was rounded is named.
    let out = expand(quote! {
        struct Net<(7, 9, 1) => MaxPool2d(2) => Flatten => Dropout(0.5) => Dense(16 -> 10)>;
    });
    assert_contains(
        &out,
        &[
            "`Dense(16 -> 10)` (layer 4 of `Net`) after a 12-wide layer: expected 12 inputs, found 16; `MaxPool2d(2)` (layer 1) gives 3×4×1: valid padding rounds (7 - 2) / 2 + 1 down to 3 and (9 - 2) / 2 + 1 down to 4, as in Keras\"",
        ],
    );
    // Same padding, or valid padding with nothing left over: no note.
    let out = expand(quote! {
        struct Net<(28, 28, 1) => Conv2d(8, 3, padding = same, stride = 2) => Reshape(15, 15, 8)>;
    });
    assert_contains(
        &out,
        &[
            "`Reshape(15, 15, 8)` (layer 2 of `Net`) on a 14×14×8 image: expected 1568 elements, found 15×15×8 = 1800\"",
        ],
    );
    let out = expand(quote! {
        struct Net<(28, 28, 1) => Conv2d(8, 4, stride = 3) => Reshape(10, 10, 8)>;
    });
    assert_contains(
        &out,
        &[
            "`Reshape(10, 10, 8)` (layer 2 of `Net`) on a 9×9×8 image: expected 648 elements, found 10×10×8 = 800\"",
        ],
    );
}

#[test]
fn a_simple_rnn_reads_a_sequence_input_or_a_reshaped_vector() {
    let out = expand(quote! {
        struct Rows<(28, 28) => SimpleRNN(64) => Dense(10, softmax)>;
        struct Reshaped<784 => Reshape(28, 28) => Dropout(0.25) => SimpleRNN(32, relu, bias = false) => Dense(10, softmax)>;
    });
    assert_contains(
        &out,
        &[
            // Keras' defaults: tanh, a bias; its name, `simple_rnn`.
            "pub simple_rnn_1: ::netdsl::__private::SimpleRnn<28, 28, 64, 784, 64, ::netdsl::__private::Tanh>,",
            "pub dense_1: ::netdsl::__private::Dense<64, 10, ::netdsl::__private::Softmax>,",
            "type In = [f32; 784];",
            "simple_rnn_1: <::netdsl::__private::SimpleRnn<28, 28, 64, 784, 64, ::netdsl::__private::Tanh>>::keras_default(rng, true),",
            "output_shape: ::netdsl::__private::vec![64],",
            "pub reshape_1: ::netdsl::__private::Reshape<784>,",
            "output_shape: ::netdsl::__private::vec![28, 28],",
            "pub simple_rnn_1: ::netdsl::__private::SimpleRnn<28, 28, 32, 784, 32, ::netdsl::__private::Relu>,",
            "keras_default(rng, false)",
        ],
    );
}

#[test]
fn sequence_layers_that_do_not_fit_are_errors() {
    let out = expand(quote! {
        struct Net<(28, 28) => Dense(10, softmax)>;
        struct Flat<784 => SimpleRNN(64)>;
        struct Pooled<(28, 28) => MaxPool2d(2)>;
        struct Bad<784 => Reshape(27, 28) => SimpleRNN(0, sigmoud, stride = 2)>;
    });
    assert_contains(
        &out,
        &[
            "`Dense(10, softmax)` (layer 1 of `Net`) on a sequence of 28 steps of 28 features: `Dense` acts on each step there, and `softmax` over each step is not supported; end the network with `Flatten => Dense(.., softmax)` or `GlobalAveragePooling1D => Dense(.., softmax)`",
            "`SimpleRNN(64)` (layer 1 of `Flat`) needs a sequence, found 784 values; declare the network's input as `(steps, features)` or add `Reshape(steps, features)` before it",
            "`MaxPool2d(2)` (layer 1 of `Pooled`) needs an image, found a sequence of 28 steps of 28 features",
            "`Reshape(27, 28)` (layer 1 of `Bad`) on 784 values: expected 784 elements, found 27×28 = 756",
            "`SimpleRNN(0, sigmoud, stride = 2)`: the number of units must be at least 1, found 0",
            "unknown activation `sigmoud`",
            "unknown option `stride` of `SimpleRNN`; expected `bias`",
        ],
    );
}

#[test]
fn an_lstm_reads_a_sequence_with_keras_defaults() {
    let out = expand(quote! {
        struct Rows<(28, 28) => LSTM(64) => Dense(10, softmax)>;
        struct Bad<784 => LSTM(64, tanh)>;
    });
    assert_contains(
        &out,
        &[
            "pub lstm_1: ::netdsl::__private::Lstm<28, 28, 64, 784, 64>,",
            "lstm_1: <::netdsl::__private::Lstm<28, 28, 64, 784, 64>>::keras_default(rng, true),",
            "pub dense_1: ::netdsl::__private::Dense<64, 10, ::netdsl::__private::Softmax>,",
            "unexpected argument `tanh` in `LSTM(64, tanh)`: `LSTM` takes units, `bias`, `return_sequences` and `zero_output_for_mask` options, and initializers and regularizers",
            "`LSTM(64, tanh)` (layer 1 of `Bad`) needs a sequence, found 784 values",
        ],
    );
}

#[test]
fn recurrent_layers_stack_through_return_sequences() {
    let out = expand(quote! {
        struct Stacked<(28, 28) => LSTM(32, return_sequences = true) => Dropout(0.2) => SimpleRNN(16) => Dense(10, softmax)>;
        struct Bad<(28, 28) => LSTM(32) => LSTM(16)>;
        struct Worse<(28, 28) => SimpleRNN(8, return_sequences = 1)>;
    });
    assert_contains(
        &out,
        &[
            "pub lstm_1: ::netdsl::__private::Lstm<28, 28, 32, 784, 896>,",
            "output_shape: ::netdsl::__private::vec![28, 32],",
            "pub dropout_1: ::netdsl::__private::Dropout<896>,",
            "pub simple_rnn_1: ::netdsl::__private::SimpleRnn<28, 32, 16, 896, 16, ::netdsl::__private::Tanh>,",
            "`LSTM(16)` (layer 2 of `Bad`) needs a sequence, found 32 values",
            "`return_sequences` takes `true` or `false`",
        ],
    );
}

#[test]
fn a_gru_reads_a_sequence_with_keras_defaults() {
    let out = expand(quote! {
        struct Rows<(28, 28) => GRU(64, return_sequences = true) => GRU(32, bias = false) => Dense(10, softmax)>;
    });
    assert_contains(
        &out,
        &[
            "pub gru_1: ::netdsl::__private::Gru<28, 28, 64, 784, 1792>,",
            "pub gru_2: ::netdsl::__private::Gru<28, 64, 32, 1792, 32>,",
            "gru_2: <::netdsl::__private::Gru<28, 64, 32, 1792, 32>>::keras_default(rng, false),",
        ],
    );
}

#[test]
fn conv1d_follows_keras_output_lengths_for_every_padding() {
    let out = expand(quote! {
        struct Net<(10, 2)
            => Conv1D(3, 3, padding = same, dilation_rate = 2)
            => Conv1D(4, 3, relu, strides = 2)
            => Conv1D(2, 2, tanh, padding = causal, dilation_rate = 3, bias = false)
            => Flatten => Dense(2, softmax)>;
    });
    let p = "::netdsl::__private::";
    let conv1 = format!(
        "pub conv1d_1: {p}Conv1d<{p}Sequence<10, 2, 20>, {p}Kernel1d<3, 3, 1, 2>, {p}Padding1d<2>, {p}Sequence<10, 3, 30>, {p}Linear>,"
    );
    // valid, stride 2: (10 - 3) / 2 + 1 = 4 steps.
    let conv2 = format!(
        "pub conv1d_2: {p}Conv1d<{p}Sequence<10, 3, 30>, {p}Kernel1d<4, 3, 2, 1>, {p}Padding1d<0>, {p}Sequence<4, 4, 16>, {p}Relu>,"
    );
    // causal: span 4, three steps of zeros before the sequence, as many steps out as in.
    let conv3 = format!(
        "pub conv1d_3: {p}Conv1d<{p}Sequence<4, 4, 16>, {p}Kernel1d<2, 2, 1, 3>, {p}Padding1d<3>, {p}Sequence<4, 2, 8>, {p}Tanh>,"
    );
    assert_contains(
        &out,
        &[
            &conv1,
            &conv2,
            &conv3,
            "output_shape: ::netdsl::__private::vec![10, 3],",
            "output_shape: ::netdsl::__private::vec![4, 4],",
            "Tanh>>::glorot_uniform(rng, false),",
        ],
    );
}

#[test]
fn conv1d_that_does_not_fit_or_mixes_strides_and_dilation_is_an_error() {
    let out = expand(quote! {
        struct Net<(8, 2) => Conv1D(4, 3, dilation_rate = 4)>;
        struct Long<(8, 2) => Conv1D(4, 9, relu)>;
        struct Both<(8, 2) => Conv1D(4, 3, strides = 2, dilation_rate = 2)>;
        struct Image<(8, 8, 1) => Conv1D(4, 3)>;
        struct Misspelt<(8, 2) => Conv1d(4, 3) => Conv2D(4, 3)>;
    });
    assert_contains(
        &out,
        &[
            "`Conv1D(4, 3, dilation_rate = 4)` (layer 1 of `Net`) on a sequence of 8 steps of 2 features: a kernel of 3 with `dilation_rate = 4` spans 9 steps and does not fit; expected a span `(kernel_size - 1) · dilation_rate + 1` of at most 8, or `padding = same` or `causal`",
            "`Conv1D(4, 9, relu)` (layer 1 of `Long`) on a sequence of 8 steps of 2 features: a kernel of 9 steps does not fit; expected a kernel size of at most 8, or `padding = same` or `causal`",
            "`Conv1D(4, 3, strides = 2, dilation_rate = 2)`: `strides` and `dilation_rate` cannot both be above 1, as in Keras; keep one of them at 1",
            "`Conv1D(4, 3)` (layer 1 of `Image`) needs a sequence, found an 8×8×1 image; add `Reshape(8, 8)` before it to read the image's rows as steps",
            "unknown layer `Conv1d`; expected `Conv1D`, as the DSL spells it",
            "unknown layer `Conv2D`; expected `Conv2d`, as the DSL spells it",
        ],
    );
}

#[test]
fn global_pools_give_one_value_per_channel() {
    let out = expand(quote! {
        struct Steps<(10, 3) => GlobalAveragePooling1D => Dense(2)>;
        struct Maxed<(10, 3) => GlobalMaxPooling1D() => Dense(2)>;
        struct Pixels<(6, 5, 4) => GlobalAveragePooling2D>;
        struct Twice<(6, 5, 4) => GlobalAveragePooling2D => GlobalMaxPooling2D>;
    });
    let p = "::netdsl::__private::";
    assert_contains(
        &out,
        &[
            &format!("pub global_average_pooling1d_1: {p}GlobalAvgPool<{p}Sequence<10, 3, 30>>,"),
            &format!("pub dense_1: {p}Dense<3, 2, {p}Linear>,"),
            &format!("pub global_max_pooling1d_1: {p}GlobalMaxPool<{p}Sequence<10, 3, 30>>,"),
            &format!("pub global_average_pooling2d_1: {p}GlobalAvgPool<{p}Image<6, 5, 4, 120>>,"),
            "output_shape: ::netdsl::__private::vec![3],",
            // A vector is no image: the second pool is an error.
            "`GlobalMaxPooling2D` (layer 2 of `Twice`) needs an image, found a vector of 4 values",
        ],
    );
}

#[test]
fn layers_of_one_rank_on_the_other_say_what_to_use() {
    let out = expand(quote! {
        struct A<(8, 8, 3) => GlobalAveragePooling1D>;
        struct B<(10, 3) => GlobalMaxPooling2D>;
        struct C<(10, 3) => ZeroPadding2D(1)>;
        struct D<30 => UpSampling2D>;
        struct E<(8, 8, 3) => GlobalAveragePooling1D(keepdims = true)>;
    });
    assert_contains(
        &out,
        &[
            "`GlobalAveragePooling1D` (layer 1 of `A`) needs a sequence, found an 8×8×3 image; use `GlobalAveragePooling2D` on an image",
            "`GlobalMaxPooling2D` (layer 1 of `B`) needs an image, found a sequence of 10 steps of 3 features; use `GlobalMaxPooling1D` on a sequence",
            "`ZeroPadding2D(1)` (layer 1 of `C`) needs an image, found a sequence of 10 steps of 3 features; add `Reshape(10, 3, 1)` before it to read the sequence as a 10×3×1 image",
            "`UpSampling2D` (layer 1 of `D`) needs an image, found a vector of 30 values; declare the network's input as `(height, width, channels)` or add `Reshape(height, width, channels)` before it",
            "unknown option `keepdims`: `GlobalAveragePooling1D` takes no options",
        ],
    );
}

#[test]
fn zero_padding_and_up_sampling_take_keras_forms() {
    let out = expand(quote! {
        struct Padded<(4, 5, 2)
            => ZeroPadding2D                    // 6×7
            => ZeroPadding2D(2)                 // 10×11
            => ZeroPadding2D((1, 0))            // 12×11
            => ZeroPadding2D(((0, 1), (3, 2)))  // 13×16
            => UpSampling2D                     // 26×32
            => UpSampling2D((1, 3))             // 26×96
            => UpSampling2D(2)>;                // 52×192
    });
    let p = "::netdsl::__private::";
    assert_contains(
        &out,
        &[
            &format!(
                "pub zero_padding2d_1: {p}ZeroPadding2d<{p}Image<4, 5, 2, 40>, {p}Padding<1, 1>, {p}Image<6, 7, 2, 84>>,"
            ),
            &format!(
                "pub zero_padding2d_2: {p}ZeroPadding2d<{p}Image<6, 7, 2, 84>, {p}Padding<2, 2>, {p}Image<10, 11, 2, 220>>,"
            ),
            &format!(
                "pub zero_padding2d_3: {p}ZeroPadding2d<{p}Image<10, 11, 2, 220>, {p}Padding<1, 0>, {p}Image<12, 11, 2, 264>>,"
            ),
            &format!(
                "pub zero_padding2d_4: {p}ZeroPadding2d<{p}Image<12, 11, 2, 264>, {p}Padding<0, 3>, {p}Image<13, 16, 2, 416>>,"
            ),
            &format!(
                "pub up_sampling2d_1: {p}UpSampling2d<{p}Image<13, 16, 2, 416>, {p}Image<26, 32, 2, 1664>>,"
            ),
            &format!(
                "pub up_sampling2d_2: {p}UpSampling2d<{p}Image<26, 32, 2, 1664>, {p}Image<26, 96, 2, 4992>>,"
            ),
            &format!(
                "pub up_sampling2d_3: {p}UpSampling2d<{p}Image<26, 96, 2, 4992>, {p}Image<52, 192, 2, 19968>>,"
            ),
        ],
    );
    let out = expand(quote! {
        struct Bad<(4, 5, 2) => ZeroPadding2D((1, 2, 3)) => UpSampling2D(0) => UpSampling2D(((1, 1), (1, 1))) => ZeroPadding2D(PAD)>;
    });
    assert_contains(
        &out,
        &[
            "`ZeroPadding2D((1, 2, 3))`: expected the padding as an integer, `(rows, columns)` or `((top, bottom), (left, right))`, found `(1, 2, 3)`",
            "`UpSampling2D(0)`: the size must be at least 1, found 0",
            "`UpSampling2D(((1, 1), (1, 1)))`: expected the size as an integer or `(rows, columns)`, found `((1, 1), (1, 1))`",
            "`ZeroPadding2D(PAD)`: expected the padding as an integer, `(rows, columns)` or `((top, bottom), (left, right))`, found `PAD`",
        ],
    );
}

#[test]
fn normalizations_normalize_the_last_axis_with_keras_options() {
    let out = expand(quote! {
        struct Net<(8, 8, 3)
            => BatchNormalization
            => Conv2d(4, 3, linear) => BatchNorm(relu, momentum = 0.9, epsilon = 1e-5, center = false)
            => Flatten => Dense(HIDDEN) => LayerNormalization(scale = false)
            => Dense(6) => Reshape(2, 3) => LayerNorm(tanh, epsilon = 0.01)
            => Flatten => Dense(2, softmax)>;
    });
    assert_contains(
        &out,
        &[
            // Keras' field names, whichever spelling; the channels are the last axis.
            "pub batch_normalization_1: ::netdsl::__private::BatchNormalization<192, 3, ::netdsl::__private::Linear>,",
            "pub batch_normalization_2: ::netdsl::__private::BatchNormalization<144, 4, ::netdsl::__private::Relu>,",
            "pub layer_normalization_1: ::netdsl::__private::LayerNormalization<{ HIDDEN }, { HIDDEN }, ::netdsl::__private::Linear>,",
            "pub layer_normalization_2: ::netdsl::__private::LayerNormalization<6, 3, ::netdsl::__private::Tanh>,",
            // Keras' defaults, or the options given.
            "batch_normalization_1: <::netdsl::__private::BatchNormalization<192, 3, ::netdsl::__private::Linear>>::new().momentum(0.99f32).epsilon(0.001f32).center(true).scale(true),",
            "batch_normalization_2: <::netdsl::__private::BatchNormalization<144, 4, ::netdsl::__private::Relu>>::new().momentum(0.9f32).epsilon(0.00001f32).center(false).scale(true),",
            "layer_normalization_1: <::netdsl::__private::LayerNormalization<{ HIDDEN }, { HIDDEN }, ::netdsl::__private::Linear>>::new().epsilon(0.001f32).center(true).scale(false),",
            // The network passes the batch's rows and its state's update on to its layers, and
            // counts what they keep without training.
            "fn set_rows<const NETDSL_BATCH: usize>(&self, tape: &mut NetTape<NETDSL_BATCH>, rows: usize) {",
            "::netdsl::__private::Layer::set_rows::<NETDSL_BATCH>(&self.batch_normalization_1, &mut tape.batch_normalization_1_tape, rows);",
            "::netdsl::__private::Layer::update_state::<NETDSL_BATCH>(&mut self.batch_normalization_2, &tape.batch_normalization_2_tape, thread, threads);",
            "fn non_trainable_count(&self) -> usize {",
            "::netdsl::__private::Layer::visit_non_trainable(&mut self.batch_normalization_1, visit);",
            "non_trainable: ::netdsl::__private::Layer::non_trainable_count(&self.batch_normalization_1),",
        ],
    );
}

#[test]
fn normalization_options_out_of_range_and_units_are_errors() {
    let out = expand(quote! {
        struct Net<4 => BatchNormalization(momentum = 1.5) => BatchNormalization(momentum = -0.1)
            => BatchNorm(epsilon = 0) => LayerNormalization(epsilon = -1e-3) => BatchNormalization(64)
            => LayerNorm(momentum = 0.9) => BatchNormalization(epsilon = true)>;
    });
    assert_contains(
        &out,
        &[
            "compile_error! { \"`BatchNormalization(momentum = 1.5)`: `momentum` takes a value from 0 up to (not including) 1, found `1.5`; at each step the moving statistics keep that fraction of themselves and take the rest from the batch\" }",
            "found `-0.1`;",
            "compile_error! { \"`BatchNorm(epsilon = 0)`: `epsilon` takes a value above 0, found `0`; it is added to the variance, so that values without spread are not divided by 0\" }",
            "found `-1e-3`;",
            "compile_error! { \"unexpected argument `64` in `BatchNormalization(64)`: `BatchNormalization` takes an activation and the options `momentum`, `epsilon`, `center` and `scale`, and no units: it keeps the shape of its input\" }",
            "compile_error! { \"unknown option `momentum` of `LayerNormalization`; expected `epsilon`, `center` or `scale`\" }",
            "compile_error! { \"`BatchNormalization(epsilon = true)`: `epsilon` takes a number, e.g. `epsilon = 0.001`\" }",
        ],
    );
}

#[test]
fn layer_normalization_of_single_values_is_an_error() {
    let out = expand(
        quote! { struct Net<(28, 28, 1) => LayerNormalization => Flatten => Dense(10, softmax)>; },
    );
    assert_contains(
        &out,
        &[
            "compile_error! { \"`LayerNormalization` (layer 1 of `Net`) on a 28×28×1 image: its last axis holds 1 value, and a value normalized on its own is always 0, so every output would be `beta`; `LayerNormalization` normalizes together the values of a vector, the channels of a pixel or the features of a step: give it more than one, or use `BatchNormalization`, which normalizes each channel over the batch\" }",
        ],
    );
    // Batch normalization of one channel normalizes it over the batch: no error.
    let out = expand(
        quote! { struct Net<(28, 28, 1) => BatchNormalization => Flatten => Dense(10, softmax)>; },
    );
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn masking_makes_a_mask_that_the_recurrent_layers_after_it_read() {
    let out = expand(quote! {
        struct Net<(4, 3) => Masking => Dropout(0.5) => LSTM(8, return_sequences = true) => GRU(4) => Dense(2, softmax)>;
        struct Padded<(4, 3) => Masking(mask_value = -1.0) => GRU(4, return_sequences = true)>;
        struct Steps<(4, 3) => Masking => Dense(5, tanh) => SimpleRNN(2)>;
    });
    let batch_mask_of_masking = "<::netdsl::__private::Masking<4, 3, 12> as ::netdsl::__private::Layer>::output_mask::<NETDSL_BATCH>(&tape.masking_1_tape)";
    assert_contains(
        &out,
        &[
            "pub masking_1: ::netdsl::__private::Masking<4, 3, 12>,",
            "masking_1: <::netdsl::__private::Masking<4, 3, 12>>::new(0f32),",
            "masking_1: <::netdsl::__private::Masking<4, 3, 12>>::new(-1f32),",
            // Forward: each recurrent layer is given the mask before its pass, dropout none.
            &format!(
                "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.lstm_1, &mut tape.lstm_1_tape, {batch_mask_of_masking});"
            ),
            &format!(
                "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.gru_1, &mut tape.gru_1_tape, {batch_mask_of_masking});"
            ),
            // One sample: the mask in a stack array, handed to both readers.
            "let mut masking_1_flags = [false; 4];",
            "let masking_1_mask = ::netdsl::__private::Layer::infer_masked(&self.masking_1, x, ::core::option::Option::None, &mut masking_1, &mut masking_1_flags).then_some(&masking_1_flags[..]);",
            "::netdsl::__private::Layer::infer(&self.dropout_1, &masking_1, &mut dropout_1);",
            "::netdsl::__private::Layer::infer_masked(&self.lstm_1, &dropout_1, masking_1_mask, &mut lstm_1, &mut []);",
            "::netdsl::__private::Layer::infer_masked(&self.gru_1, &lstm_1, masking_1_mask, &mut gru_1, &mut []);",
            // `Dense` on each step passes it on, as Keras' does.
            "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.simple_rnn_1, &mut tape.simple_rnn_1_tape, <::netdsl::__private::Masking<4, 3, 12> as ::netdsl::__private::Layer>::output_mask::<NETDSL_BATCH>(&tape.masking_1_tape));",
            // A network whose output carries the mask gives it, as a layer of another.
            "fn output_mask<const NETDSL_BATCH: usize>(tape: &PaddedTape<NETDSL_BATCH>) -> ::core::option::Option<&[bool]> {",
            "fn infer_masked(&self, x: &[f32; 12], _: ::core::option::Option<&[bool]>, y: &mut [f32; 16], netdsl_output_mask: &mut [bool]) -> bool {",
            "::netdsl::__private::Layer::infer_masked(self, x, ::core::option::Option::None, y, &mut []);",
        ],
    );
    // `Net` neither reads its input's mask nor gives its output's.
    let net = &out[..out.find("struct Padded").expect("both networks")];
    for absent in ["fn set_input_mask", "fn output_mask", "fn infer_masked"] {
        assert!(!net.contains(absent), "`Net` has `{absent}`:\n{net}");
    }
}

#[test]
fn bidirectional_gives_its_lines_the_mask_and_zero_outputs_when_returning_every_step() {
    let out = expand(quote! {
        struct Bi<(4, 3) => Masking => Bidirectional(LSTM(3, return_sequences = true)) => Bidirectional(GRU(2)) => Dense(2, softmax)>;
    });
    assert_contains(
        &out,
        &[
            // The lines read the join's input mask, the backward one reversed.
            "impl ::netdsl::__private::Layer for BiBidirectional1Forward {",
            "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.lstm_1, &mut tape.lstm_1_tape, mask);",
            "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.reverse_1, &mut tape.reverse_1_tape, mask);",
            "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.lstm_2, &mut tape.lstm_2_tape, <::netdsl::__private::Reverse<4, 3, 12> as ::netdsl::__private::Layer>::output_mask::<NETDSL_BATCH>(&tape.reverse_1_tape));",
            // Returning every step, both lines output zeros over padding; the GRUs do not.
            "lstm_1: <::netdsl::__private::Lstm<4, 3, 3, 12, 12>>::keras_default(rng, true).zero_output_for_mask(true),",
            "lstm_2: <::netdsl::__private::Lstm<4, 3, 3, 12, 12>>::keras_default(rng, true).zero_output_for_mask(true),",
            "gru_1: <::netdsl::__private::Gru<4, 6, 2, 24, 2>>::keras_default(rng, true),",
            // The first passes the mask of `Masking` on to the second.
            "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.bidirectional_2, &mut tape.bidirectional_2_tape, <::netdsl::__private::Masking<4, 3, 12> as ::netdsl::__private::Layer>::output_mask::<NETDSL_BATCH>(&tape.masking_1_tape));",
        ],
    );
}

#[test]
fn a_mask_keras_would_pass_on_or_read_where_netdsl_cannot_is_an_error() {
    let out = expand(quote! {
        struct LostBothWays<(4, 3) => Add(Masking => GRU(2, return_sequences = true), GRU(2, return_sequences = true)) => LayerNorm => Bidirectional(GRU(2))>;
        struct Statistics<(4, 3) => Masking => GRU(3, return_sequences = true) => BatchNormalization => Flatten => Dense(2)>;
    });
    assert_contains(
        &out,
        &[
            "(layer 1 of `LostBothWays`) cannot pass on the mask of `Masking` (layer 1 of branch 1 of",
            "which Keras passes on to `GRU(2)` (layer 1 of the forward line of `Bidirectional(GRU(2))` (layer 3 of `LostBothWays`)); put `GRU(2)` right after `Masking` (a join whose branches carry different masks does not keep it), or leave the mask out",
            "`BatchNormalization` (layer 3 of `Statistics`) cannot read the mask of `Masking` (layer 1 of `Statistics`), which Keras' layer reads to leave padded steps out of its statistics",
        ],
    );
    // The two lines of a `Bidirectional` meet the lost mask once each: one error.
    assert_eq!(
        out.matches("cannot pass on the mask of `Masking` (layer 1 of branch 1")
            .count(),
        1,
        "{out}"
    );
}

#[test]
fn a_mask_that_keras_drops_or_no_layer_reads_is_no_error() {
    let out = expand(quote! {
        // Keras' `Conv1D`, `Flatten`, `Reshape` and `GlobalMaxPooling1D` drop the mask: the
        // layers after them see none.
        struct Convolved<(4, 3) => Masking => Conv1D(4, 2) => LSTM(3)>;
        struct Reshaped<(4, 3) => Masking => Reshape(3, 4) => LSTM(3)>;
        struct Pooled<(4, 3) => Masking => GlobalMaxPooling1D => Dense(2)>;
        // A layer normalization passes it on; nothing after `Flatten` sees it.
        struct Unread<(4, 3) => Masking => LayerNormalization => Flatten => Dense(2)>;
    });
    assert!(!out.contains("compile_error"), "{out}");
    assert!(!out.contains("set_input_mask"), "{out}");
    assert_contains(
        &out,
        &["::netdsl::__private::Layer::infer(&self.lstm_1, &conv1d_1, y);"],
    );
    // A recurrent layer without `return_sequences` reads the mask and ends it.
    let out = expand(quote! {
        struct Ended<(4, 3) => Masking => LSTM(3) => BatchNormalization => Dense(2)>;
    });
    assert!(!out.contains("compile_error"), "{out}");
    assert_eq!(out.matches("set_input_mask").count(), 1, "{out}");
}

#[test]
fn attention_and_layer_normalization_read_or_pass_on_the_mask() {
    let out = expand(quote! {
        struct Attended<(4, 4) => Masking => LayerNormalization => MultiHeadAttention(heads = 2) => LSTM(3)>;
        struct Averaged<(4, 4) => Masking => Dropout(0.5) => GlobalAveragePooling1D => Dense(2)>;
    });
    assert!(!out.contains("compile_error"), "{out}");
    let from_masking = "<::netdsl::__private::Masking<4, 4, 16> as ::netdsl::__private::Layer>::output_mask::<NETDSL_BATCH>(&tape.masking_1_tape));";
    assert_contains(
        &out,
        &[
            &format!(
                "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.multi_head_attention_1, &mut tape.multi_head_attention_1_tape, {from_masking}"
            ),
            &format!(
                "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.lstm_1, &mut tape.lstm_1_tape, {from_masking}"
            ),
        ],
    );
}

#[test]
fn joins_give_their_branches_the_mask_and_pass_on_the_one_they_share() {
    let out = expand(quote! {
        struct Both<(4, 3) => Masking => Concatenate(GRU(2, return_sequences = true), LSTM(3, return_sequences = true)) => SimpleRNN(2)>;
        struct Own<(4, 3) => Add(Masking => GRU(2, return_sequences = true), GRU(2, return_sequences = true)) => SimpleRNN(2)>;
    });
    assert_contains(
        &out,
        &[
            "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.gru_1, &mut tape.gru_1_tape, mask);",
            "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.lstm_1, &mut tape.lstm_1_tape, mask);",
            "::netdsl::__private::Layer::set_input_mask::<NETDSL_BATCH>(&self.simple_rnn_1, &mut tape.simple_rnn_1_tape, <::netdsl::__private::Masking<4, 3, 12> as ::netdsl::__private::Layer>::output_mask::<NETDSL_BATCH>(&tape.masking_1_tape));",
            // Keras would give the `SimpleRNN` the mask of the branch's `Masking`, which the
            // join cannot pass on.
            "(layer 1 of `Own`) cannot pass on the mask of `Masking` (layer 1 of branch 1 of `Add(Masking => GRU(2, return_sequences = true), GRU(2, return_sequences = true))` (layer 1 of `Own`)), which Keras passes on to `SimpleRNN(2)` (layer 2 of `Own`)",
        ],
    );
}

#[test]
fn initializers_and_regularizers_build_each_layer_as_keras_names_them() {
    let out = expand(quote! {
        struct Net<(8, 4)
            => LSTM(6, return_sequences = true, recurrent_initializer = orthogonal,
                recurrent_regularizer = l2(0.5))
            => Conv1D(3, 2, kernel_initializer = he_uniform, bias = false)
            => Flatten
            => Dense(2, kernel_regularizer = l1_l2, bias_initializer = ones)>;
    });
    assert_contains(
        &out,
        &[
            "lstm_1: <::netdsl::__private::Lstm<8, 4, 6, 32, 48>>::initialized(",
            "::netdsl::__private::Initializer::GlorotUniform,",
            "::core::option::Option::Some(::netdsl::__private::Initializer::Orthogonal),",
            "::core::option::Option::Some(::core::option::Option::None),",
            ".with_regularizers(::netdsl::__private::Regularizers {",
            "::netdsl::__private::Regularizer::l1_l2(0f32, 0.5f32)",
            "::netdsl::__private::Initializer::HeUniform,",
            "::netdsl::__private::Regularizer::l1_l2(0.01f32, 0.01f32)",
            "::core::option::Option::Some(::netdsl::__private::Initializer::Ones),",
        ],
    );
}

#[test]
fn a_network_streams_through_its_layers_steps_when_each_layer_streams() {
    let out = expand(quote! {
        struct Filter<(8, 1) => LSTM(4, return_sequences = true) => Dense(1)>;
    });
    let (lstm, dense) = (
        "::netdsl::__private::Lstm<8, 1, 4, 8, 32>",
        "::netdsl::__private::DenseSteps<8, 4, 1, 32, 8, ::netdsl::__private::Linear>",
    );
    assert_contains(
        &out,
        &[
            "impl ::netdsl::__private::Stream for Filter",
            &format!("for<'netdsl> {lstm}: ::netdsl::__private::Stream,"),
            &format!("for<'netdsl> {dense}: ::netdsl::__private::StreamAfter<{lstm}>,"),
            // The state names no layer type in the public impl: a private trait's type does.
            "struct FilterState<N: NetdslFilterStreamStates> { netdsl_layers: <N as NetdslFilterStreamStates>::Layers, }",
            &format!(
                "type Layers = (<{lstm} as ::netdsl::__private::Stream>::State, <{dense} as ::netdsl::__private::Stream>::State,);"
            ),
            "type State = FilterState<Filter>;",
            &format!(
                "<{lstm} as ::netdsl::__private::Stream>::step(&self.lstm_1, &mut state.netdsl_layers.0, x, &mut netdsl_step_0);"
            ),
            &format!(
                "<{dense} as ::netdsl::__private::StreamAfter<{lstm}>>::step_after(&self.dense_1, &mut state.netdsl_layers.1, &netdsl_step_0, y);"
            ),
        ],
    );
}

#[test]
fn the_states_of_more_than_twelve_layers_nest() {
    let layers = std::iter::repeat_n(quote!(=> Dense(2)), 13);
    let out = expand(quote! {
        struct Deep<2 #(#layers)*>;
    });
    // 13 states in groups of 2: layer 13 (index 12) is the first of the seventh group.
    assert_contains(
        &out,
        &[
            "&mut state.netdsl_layers.6.0, &netdsl_step_11, y);",
            "&mut state.netdsl_layers.0.1,",
        ],
    );
}
