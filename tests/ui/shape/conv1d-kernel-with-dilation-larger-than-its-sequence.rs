use netdsl::prelude::*;

network! {
    // Three taps four steps apart span nine steps: more than the sequence has, without padding.
    pub struct Net<(8, 2) => Conv1D(4, 3, relu, dilation_rate = 4) => GlobalMaxPooling1D => Dense(2, softmax)>;
}

fn main() {}
