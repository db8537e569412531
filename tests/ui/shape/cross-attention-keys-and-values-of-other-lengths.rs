use netdsl::prelude::*;

network! {
    /// The key branch keeps 16 steps, the value branch's convolution leaves 14: every value
    /// needs its key.
    pub struct Captions<(16, 64)
        => CrossAttention(Dense(64), Conv1D(32, 3), Dense(8), heads = 4)
        => Flatten => Dense(10, softmax)>;
}

fn main() {}
