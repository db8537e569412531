//! PyTorch -> netdsl with the Python tool `netdsl_keras`: for each PyTorch `nn.Sequential` of
//! python/netdsl_keras/tests/torch_cases.py (Linear, Conv2d with MaxPool2d and a Flatten before
//! a Linear, RNN, a two-layer LSTM, GRU, a bidirectional GRU), `torch_to_netdsl` mapped the state
//! dict (tests/fixtures/interop/torch/<case>.torch.safetensors: transposes, OIHW -> HWIO, the
//! flatten order, summed LSTM biases, GRU gates `r, z, n` -> `z, r, h` and their two biases) to
//! the netdsl network declared in tests/fixtures/interop/torch/networks.rs; given that file, netdsl
//! must give PyTorch's outputs within 1e-5 of their scale. Whether the outputs came from torch or
//! from make_torch_fixtures.py's numpy reimplementation of PyTorch's formulas, each io file's
//! metadata says (`output from`). No Python is needed to run this test.

mod interop;

use netdsl::prelude::*;

include!("fixtures/interop/torch/networks.rs");

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

macro_rules! cases {
    ($($test:ident: $net:ident, $case:literal;)*) => {$(
        #[test]
        fn $test() {
            interop::check($net::new(&mut rng()), "torch", $case);
        }
    )*};
}

cases! {
    linear_from_pytorch_matches: TorchMlp, "torch_mlp";
    conv2d_max_pool_flatten_linear_from_pytorch_matches: TorchLenet, "torch_lenet";
    rnn_from_pytorch_matches: TorchRnn, "torch_rnn";
    two_layer_lstm_from_pytorch_matches: TorchLstm, "torch_lstm";
    gru_from_pytorch_matches: TorchGru, "torch_gru";
    bidirectional_gru_from_pytorch_matches: TorchBidirectionalGru, "torch_bidirectional_gru";
}
