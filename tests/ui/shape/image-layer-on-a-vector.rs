use netdsl::prelude::*;

network! {
    // Upsampling repeats an image's pixels; a flat vector has none.
    pub struct Net<784 => UpSampling2D(2) => Flatten => Dense(10, softmax)>;
}

fn main() {}
