use netdsl::prelude::*;

network! {
    /// 6 heads cannot share the query's 64 features equally, and no `key_dim` is given.
    pub struct Captions<(16, 64)
        => CrossAttention(Dense(64), Conv1D(32, 3), heads = 6)
        => Flatten => Dense(10, softmax)>;
}

fn main() {}
