use netdsl::prelude::*;

network! {
    /// `Residual` takes one chain; `Add` one branch is no join; `Add` has no activation.
    struct A<16 => Residual(Dense(16), Dense(16)) => Dense(2, softmax)>;
    struct B<16 => Add(Dense(16)) => Dense(2, softmax)>;
    struct C<16 => Add(Dense(16), Dense(16), relu) => Dense(2, softmax)>;
}

fn main() {}
