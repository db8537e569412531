use netdsl::activation::Linear;
use netdsl::layer::Initialize;
use netdsl::prelude::*;

/// Doubles each of its 64 inputs.
struct Scale2x;

impl Layer for Scale2x {
    type In = [f32; 64];
    type Out = [f32; 64];
    type Activation = Linear;
    type Grads = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Scale2x";
    fn new_tape<const B: usize>(&self) {}
    fn forward<const B: usize>(&self, x: &[[f32; 64]; B], y: &mut [[f32; 64]; B], _: &mut ()) {
        for (y, x) in y.iter_mut().flatten().zip(x.iter().flatten()) {
            *y = 2.0 * x;
        }
    }
    fn backward<const B: usize>(&self, _: &[[f32; 64]; B], _: &[[f32; 64]; B], _: Option<&mut [[f32; 64]; B]>, _: &mut (), _: &mut ()) {}
    fn new_grads(&self) {}
    fn parameter_count(&self) -> usize {
        0
    }
    fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}
}

impl Initialize for Scale2x {
    fn initialize<R: netdsl::rand::Rng + ?Sized>(_: &mut R) -> Self {
        Scale2x
    }
}

network! {
    pub struct Net<784 => Dense(32, relu) => Scale2x => Dense(10, softmax)>;
}

fn main() {}
