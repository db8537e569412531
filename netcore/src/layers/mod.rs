//! Layers, one per file.

mod conv2d;
mod dense;
mod dropout;
mod flat;
#[cfg(test)]
mod gradcheck;
mod gru;
mod lstm;
mod pool;
mod recurrent;
mod reshape;
mod rnn;

pub use conv2d::{Conv2d, Conv2dGrads, Conv2dTape};
pub use dense::{Dense, DenseGrads};
pub use dropout::{Dropout, DropoutTape};
pub use flat::FlatParameters;
pub use gru::{Gru, GruCell};
pub use lstm::{Lstm, LstmCell};
pub use pool::{AvgPool2d, Max, MaxPool2d, Mean, Pool2d, PoolWindow, Reduce};
pub use recurrent::{Cell, Recurrent, RecurrentTape};
pub use reshape::{Flatten, Reshape};
pub use rnn::{SimpleRnn, SimpleRnnCell};
