use netdsl::activation::Linear;
use netdsl::prelude::*;

/// Doubles each of its 64 inputs, but does not say how `new` builds it.
struct Scale2x;

impl Layer for Scale2x {
    type In = [f32; 64];
    type Out = [f32; 64];
    type Activation = Linear;
    type Grads = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Scale2x";
    fn new_tape<const B: usize>(&self) {}
    fn forward<const B: usize>(&self, _: &[[f32; 64]; B], _: &mut [[f32; 64]; B], _: &mut ()) {}
    fn backward<const B: usize>(&self, _: &[[f32; 64]; B], _: &[[f32; 64]; B], _: Option<&mut [[f32; 64]; B]>, _: &mut (), _: &mut ()) {}
    fn new_grads(&self) {}
    fn parameter_count(&self) -> usize {
        0
    }
    fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}
}

network! {
    pub struct Net<64 => Scale2x => Dense(10, softmax)>;
}

fn main() {}
