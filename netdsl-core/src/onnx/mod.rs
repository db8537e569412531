//! Networks as ONNX graphs, for inference elsewhere: onnxruntime, tract, TensorRT
//! ([`Network::export_onnx`]).
//!
//! The graph computes what [`Network::predict`] computes, for a batch: its input `"input"` is
//! `[batch, IN]`, the network's input rows as they are, and its output `"output"` is `[batch,
//! OUT]`, `batch` a dimension fixed when the graph runs. In between, every layer writes its own
//! nodes through [`Layer::onnx`], reading Keras' tensors ([`Layer::visit_tensors`]) as initializers
//! named after the layer (`dense_1/kernel`). Values keep netdsl's channels-last layout (an
//! image is `[batch, H, W, C]`, a sequence `[batch, T, F]`); a convolution or a pool
//! transposes to ONNX's channels-first layout and back around its node, which onnxruntime's
//! optimiser cancels between neighbours. Recurrent layers become ONNX's `RNN`, `LSTM` and `GRU`
//! with their gates reordered (Keras' LSTM `i, f, c, o` is ONNX's `i, o, f, c`; Keras' GRU with
//! `reset_after=True` is ONNX's with `linear_before_reset = 1`).
//!
//! The file uses ONNX's operator set [`OPSET`] and IR version [`IR_VERSION`]. A layer that
//! has no ONNX form here (masks, from `Masking` or `Embedding` with `mask_zero`; a
//! layer of yours that keeps [`Layer::onnx`]'s default) makes the export an [`Error`] naming
//! it; nothing is written then. Token ids arrive as the floats netdsl's rows hold and are cast
//! to integers for `Gather`: an id outside the vocabulary is onnxruntime's error, where
//! `predict` gives a step of NaN.
//!
//! onnxruntime runs every graph (CI compares it with netdsl, `python/onnx/check_export.py`), and
//! every file passes `onnx.checker`'s full check. tract 0.23.9, tried by hand on the same files,
//! agrees within 1.2e-6 too, with two limits of its own: its recurrent operators need the batch
//! fixed first (`model.set_input_fact(0, "64,784,f32")`), and it gives other outputs for a
//! `SimpleRNN` whose activation is not `tanh`. TensorRT was not tried (no GPU here).
//!
//! ```
//! use netdsl_core::activation::Softmax;
//! use netdsl_core::layers::Dense;
//! use netdsl_core::onnx;
//! use prost::Message;
//!
//! let dense = Dense::<3, 2, Softmax>::from_parameters([[0.5; 2]; 3], Some([0.0, 1.0]));
//! let model = onnx::model(&dense)?;
//! let graph = model.graph.as_ref().unwrap();
//! let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
//! assert_eq!(ops, ["Gemm", "Softmax", "Identity"]);
//! assert_eq!(graph.initializer[0].name, "kernel");
//! // The bytes `export_onnx` writes:
//! let bytes = onnx::to_bytes(&dense)?;
//! assert_eq!(onnx::proto::ModelProto::decode(bytes.as_slice())?, model);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod proto;

use std::io;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::layer::{Layer, Row};
#[cfg(doc)]
use crate::network::Network;
use proto::{
    AttributeProto, Dimension, DimensionValue, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
};

/// The ONNX operator set the graphs use: 13, read by onnxruntime, tract and TensorRT alike.
pub const OPSET: i64 = 13;
/// The ONNX IR version of the files: 7, the first with operator set 13.
pub const IR_VERSION: i64 = 7;

/// Why a network could not be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A layer with no ONNX form (yet).
    #[error("layer `{kind}` has no ONNX form in netdsl")]
    UnsupportedLayer {
        /// The layer's kind, as `summary()` prints it.
        kind: &'static str,
    },
    /// An activation with no ONNX form (yet).
    #[error("activation `{activation}` has no ONNX form in netdsl")]
    UnsupportedActivation {
        /// The activation's Keras name.
        activation: &'static str,
    },
    /// The file could not be written; what was at `path` is unchanged.
    #[error("cannot write ONNX file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
}

/// A value of the graph being built: its name and its shape after the batch dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    /// The name nodes read it by.
    pub name: String,
    /// Its shape without the batch dimension, which comes first: `[H, W, C]` for an image.
    pub shape: Vec<usize>,
}

/// An ONNX graph being built, layer after layer: nodes, initializers and the scope (the
/// names of the layers being exported) their names start with.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    scope: Vec<String>,
    count: usize,
}

/// One attribute of a node, built by [`Attribute::int`], [`Attribute::ints`]...
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute(AttributeProto);

impl Attribute {
    fn proto(name: &str, r#type: i32) -> AttributeProto {
        AttributeProto {
            name: name.to_owned(),
            r#type,
            ..AttributeProto::default()
        }
    }

    /// An integer attribute.
    pub fn int(name: &str, value: i64) -> Self {
        Attribute(AttributeProto {
            i: value,
            ..Self::proto(name, proto::ATTRIBUTE_INT)
        })
    }

    /// A float attribute.
    pub fn float(name: &str, value: f32) -> Self {
        Attribute(AttributeProto {
            f: value,
            ..Self::proto(name, proto::ATTRIBUTE_FLOAT)
        })
    }

    /// A string attribute.
    pub fn string(name: &str, value: &str) -> Self {
        Attribute(AttributeProto {
            s: value.as_bytes().to_vec(),
            ..Self::proto(name, proto::ATTRIBUTE_STRING)
        })
    }

    /// An attribute of integers.
    pub fn ints(name: &str, values: &[i64]) -> Self {
        Attribute(AttributeProto {
            ints: values.to_vec(),
            ..Self::proto(name, proto::ATTRIBUTE_INTS)
        })
    }

    /// An attribute of floats.
    pub fn floats(name: &str, values: &[f32]) -> Self {
        Attribute(AttributeProto {
            floats: values.to_vec(),
            ..Self::proto(name, proto::ATTRIBUTE_FLOATS)
        })
    }

    /// An attribute of strings.
    pub fn strings(name: &str, values: &[&str]) -> Self {
        Attribute(AttributeProto {
            strings: values.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..Self::proto(name, proto::ATTRIBUTE_STRINGS)
        })
    }
}

/// A size as ONNX writes it.
fn dim(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `build` with names starting `name/`: how a network exports its layer `name`.
    pub fn scoped<T>(&mut self, name: &str, build: impl FnOnce(&mut Graph) -> T) -> T {
        self.scope.push(name.to_owned());
        let result = build(self);
        self.scope.pop();
        result
    }

    /// `name` in the current scope: `dense_1/kernel`.
    fn scoped_name(&self, name: &str) -> String {
        let mut scoped = String::new();
        for part in &self.scope {
            scoped.push_str(part);
            scoped.push('/');
        }
        scoped.push_str(name);
        scoped
    }

    /// A fresh name in the current scope for an output of `op`: `dense_1/Gemm_3`.
    fn fresh(&mut self, op: &str) -> String {
        self.count += 1;
        self.scoped_name(&format!("{op}_{}", self.count))
    }

    /// Adds a float initializer `name` (in the current scope) of shape `dims`, row-major, and
    /// returns its full name.
    pub fn initializer(&mut self, name: &str, dims: &[usize], values: Vec<f32>) -> String {
        let name = self.scoped_name(name);
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| dim(d)).collect(),
            data_type: proto::FLOAT,
            float_data: values,
            name: name.clone(),
            ..TensorProto::default()
        });
        name
    }

    /// Adds a float scalar initializer and returns its name.
    pub fn scalar(&mut self, value: f32) -> String {
        let name = self.fresh("scalar");
        self.initializers.push(TensorProto {
            data_type: proto::FLOAT,
            float_data: vec![value],
            name: name.clone(),
            ..TensorProto::default()
        });
        name
    }

    /// Adds an `int64` initializer (a shape, axes) of one dimension and returns its name.
    pub fn int64s(&mut self, name: &str, values: &[i64]) -> String {
        let name = self.fresh(name);
        self.initializers.push(TensorProto {
            dims: vec![dim(values.len())],
            data_type: proto::INT64,
            int64_data: values.to_vec(),
            name: name.clone(),
            ..TensorProto::default()
        });
        name
    }

    /// Adds a node `op` reading `inputs` (`""` for an optional input left out) and writing
    /// `outputs` fresh values, whose names it returns.
    pub fn node_outputs(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<Attribute>,
        outputs: usize,
    ) -> Vec<String> {
        let output: Vec<String> = (0..outputs).map(|_| self.fresh(op)).collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|&s| s.to_owned()).collect(),
            output: output.clone(),
            name: output[0].clone(),
            op_type: op.to_owned(),
            attribute: attributes.into_iter().map(|a| a.0).collect(),
        });
        output
    }

    /// Adds a node `op` with one output, whose shape after the batch dimension is `shape`.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<Attribute>,
        shape: Vec<usize>,
    ) -> Value {
        let mut name = self.node_outputs(op, inputs, attributes, 1);
        Value {
            name: name.remove(0),
            shape,
        }
    }

    /// `x` with the shape `shape` after its batch dimension (the same values, row-major): `x`
    /// itself when it has that shape already.
    pub fn reshape(&mut self, x: Value, shape: &[usize]) -> Value {
        if x.shape == shape {
            return x;
        }
        let target: Vec<i64> = core::iter::once(-1)
            .chain(shape.iter().map(|&d| dim(d)))
            .collect();
        let target = self.int64s("shape", &target);
        self.node("Reshape", &[&x.name, &target], Vec::new(), shape.to_vec())
    }

    /// `x` with its axes permuted by `perm`, which includes the batch axis, 0, and keeps it
    /// first.
    pub fn transpose(&mut self, x: &Value, perm: &[usize]) -> Value {
        let shape = perm[1..].iter().map(|&p| x.shape[p - 1]).collect();
        let perm: Vec<i64> = perm.iter().map(|&p| dim(p)).collect();
        self.node(
            "Transpose",
            &[&x.name],
            vec![Attribute::ints("perm", &perm)],
            shape,
        )
    }

    /// Keras' activation `name` ([`Activation::NAME`](crate::activation::Activation::NAME))
    /// applied to `x` as netdsl applies it: element-wise, or, for `softmax` and
    /// `log_softmax`, over each sample's whole row.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedActivation`] for an activation with no ONNX form here.
    pub fn activation(&mut self, name: &'static str, x: Value) -> Result<Value, Error> {
        let shape = x.shape.clone();
        let unary = |graph: &mut Graph, op: &str, attributes: Vec<Attribute>, x: &Value| {
            graph.node(op, &[&x.name], attributes, x.shape.clone())
        };
        Ok(match name {
            "linear" => x,
            "relu" => unary(self, "Relu", Vec::new(), &x),
            "sigmoid" => unary(self, "Sigmoid", Vec::new(), &x),
            "tanh" => unary(self, "Tanh", Vec::new(), &x),
            "softplus" => unary(self, "Softplus", Vec::new(), &x),
            "softsign" => unary(self, "Softsign", Vec::new(), &x),
            "exponential" => unary(self, "Exp", Vec::new(), &x),
            "elu" => unary(self, "Elu", vec![Attribute::float("alpha", 1.0)], &x),
            "selu" => unary(self, "Selu", Vec::new(), &x),
            "leaky_relu" => {
                let alpha = Attribute::float("alpha", crate::activation::LeakyRelu::NEGATIVE_SLOPE);
                unary(self, "LeakyRelu", vec![alpha], &x)
            }
            // Keras 3: relu6(x + 3) / 6.
            "hard_sigmoid" => {
                let attributes = vec![
                    Attribute::float("alpha", 1.0 / 6.0),
                    Attribute::float("beta", 0.5),
                ];
                unary(self, "HardSigmoid", attributes, &x)
            }
            "relu6" => {
                let (low, high) = (self.scalar(0.0), self.scalar(6.0));
                self.node("Clip", &[&x.name, &low, &high], Vec::new(), shape)
            }
            // Keras 3's exact gelu: x · (1 + erf(x / √2)) / 2.
            "gelu" => {
                let scale = self.scalar(core::f32::consts::FRAC_1_SQRT_2);
                let scaled = self.node("Mul", &[&x.name, &scale], Vec::new(), shape.clone());
                let erf = unary(self, "Erf", Vec::new(), &scaled);
                let one = self.scalar(1.0);
                let plus = self.node("Add", &[&erf.name, &one], Vec::new(), shape.clone());
                let half = self.scalar(0.5);
                let half_x = self.node("Mul", &[&x.name, &half], Vec::new(), shape.clone());
                self.node("Mul", &[&half_x.name, &plus.name], Vec::new(), shape)
            }
            // Keras 3's tanh approximation: x · (1 + tanh(√(2/π) · (x + 0.044715 x³))) / 2.
            "gelu_tanh" => {
                let cube = self.node("Mul", &[&x.name, &x.name], Vec::new(), shape.clone());
                let cube = self.node("Mul", &[&cube.name, &x.name], Vec::new(), shape.clone());
                let cubic = self.scalar(0.044_715);
                let cube = self.node("Mul", &[&cube.name, &cubic], Vec::new(), shape.clone());
                let inner = self.node("Add", &[&x.name, &cube.name], Vec::new(), shape.clone());
                let sqrt_2_over_pi = self.scalar(0.797_884_6);
                let u = self.node(
                    "Mul",
                    &[&inner.name, &sqrt_2_over_pi],
                    Vec::new(),
                    shape.clone(),
                );
                let tanh = unary(self, "Tanh", Vec::new(), &u);
                let one = self.scalar(1.0);
                let plus = self.node("Add", &[&tanh.name, &one], Vec::new(), shape.clone());
                let half = self.scalar(0.5);
                let half_x = self.node("Mul", &[&x.name, &half], Vec::new(), shape.clone());
                self.node("Mul", &[&half_x.name, &plus.name], Vec::new(), shape)
            }
            "hard_tanh" => {
                let (low, high) = (self.scalar(-1.0), self.scalar(1.0));
                self.node("Clip", &[&x.name, &low, &high], Vec::new(), shape)
            }
            // (clip(x, -1, 1) + 1) / 2.
            "sparse_sigmoid" => {
                let (low, high) = (self.scalar(-1.0), self.scalar(1.0));
                let clipped = self.node("Clip", &[&x.name, &low, &high], Vec::new(), shape.clone());
                let plus = self.node("Add", &[&clipped.name, &high], Vec::new(), shape.clone());
                let half = self.scalar(0.5);
                self.node("Mul", &[&plus.name, &half], Vec::new(), shape)
            }
            "hard_shrink" | "soft_shrink" => {
                let (lambd, bias) = if name == "hard_shrink" {
                    (crate::activation::HardShrink::THRESHOLD, 0.0)
                } else {
                    let threshold = crate::activation::SoftShrink::THRESHOLD;
                    (threshold, threshold)
                };
                let attributes = vec![
                    Attribute::float("lambd", lambd),
                    Attribute::float("bias", bias),
                ];
                unary(self, "Shrink", attributes, &x)
            }
            "tanh_shrink" => {
                let tanh = unary(self, "Tanh", Vec::new(), &x);
                self.node("Sub", &[&x.name, &tanh.name], Vec::new(), shape)
            }
            "log_sigmoid" => {
                let negative = unary(self, "Neg", Vec::new(), &x);
                let softplus = unary(self, "Softplus", Vec::new(), &negative);
                unary(self, "Neg", Vec::new(), &softplus)
            }
            "mish" => {
                let softplus = unary(self, "Softplus", Vec::new(), &x);
                let tanh = unary(self, "Tanh", Vec::new(), &softplus);
                self.node("Mul", &[&x.name, &tanh.name], Vec::new(), shape)
            }
            "hard_silu" => {
                let attributes = vec![
                    Attribute::float("alpha", 1.0 / 6.0),
                    Attribute::float("beta", 0.5),
                ];
                let gate = unary(self, "HardSigmoid", attributes, &x);
                self.node("Mul", &[&x.name, &gate.name], Vec::new(), shape)
            }
            // (x + √(x² + 4)) / 2.
            "squareplus" => {
                let square = self.node("Mul", &[&x.name, &x.name], Vec::new(), shape.clone());
                let four = self.scalar(4.0);
                let plus = self.node("Add", &[&square.name, &four], Vec::new(), shape.clone());
                let root = unary(self, "Sqrt", Vec::new(), &plus);
                let sum = self.node("Add", &[&x.name, &root.name], Vec::new(), shape.clone());
                let half = self.scalar(0.5);
                self.node("Mul", &[&sum.name, &half], Vec::new(), shape)
            }
            "silu" => {
                let sigmoid = unary(self, "Sigmoid", Vec::new(), &x);
                self.node("Mul", &[&x.name, &sigmoid.name], Vec::new(), shape)
            }
            "softmax" | "log_softmax" => {
                let width = shape.iter().product();
                let row = self.reshape(x, &[width]);
                let op = if name == "softmax" {
                    "Softmax"
                } else {
                    "LogSoftmax"
                };
                let y = self.node(
                    op,
                    &[&row.name],
                    vec![Attribute::int("axis", -1)],
                    vec![width],
                );
                self.reshape(y, &shape)
            }
            activation => return Err(Error::UnsupportedActivation { activation }),
        })
    }

    /// The `ModelProto` of this graph, between the input `input` (`[batch, IN]`) and the
    /// value `output`, renamed `"output"` and shaped `[batch, OUT]`.
    fn finish(mut self, input: usize, output: Value) -> ModelProto {
        let width = output.shape.iter().product();
        let output = self.reshape(output, &[width]);
        self.nodes.push(NodeProto {
            input: vec![output.name],
            output: vec!["output".to_owned()],
            name: "output".to_owned(),
            op_type: "Identity".to_owned(),
            attribute: Vec::new(),
        });
        let info = |name: &str, width: usize| ValueInfoProto {
            name: name.to_owned(),
            r#type: Some(TypeProto {
                tensor_type: Some(TensorTypeProto {
                    elem_type: proto::FLOAT,
                    shape: Some(TensorShapeProto {
                        dim: vec![
                            Dimension {
                                value: Some(DimensionValue::DimParam("batch".to_owned())),
                            },
                            Dimension {
                                value: Some(DimensionValue::DimValue(dim(width))),
                            },
                        ],
                    }),
                }),
            }),
        };
        ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            producer_name: "netdsl".to_owned(),
            producer_version: env!("CARGO_PKG_VERSION").to_owned(),
            doc_string: String::new(),
            graph: Some(GraphProto {
                node: self.nodes,
                name: "netdsl".to_owned(),
                initializer: self.initializers,
                input: vec![info("input", input)],
                output: vec![info("output", width)],
            }),
        }
    }
}

/// How a recurrent cell runs as one of ONNX's recurrent operators, for
/// [`Recurrent`](crate::layers::Recurrent)'s [`Layer::onnx`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurrence {
    /// The operator: `"RNN"`, `"LSTM"` or `"GRU"`.
    pub op: &'static str,
    /// For each of ONNX's gates in its order, the Keras gate it is: `[0, 3, 1, 2]` for an LSTM
    /// (ONNX's `i, o, f, c` from Keras' `i, f, c, o`).
    pub gates: &'static [usize],
    /// The operator's `activations` attribute, if not its default.
    pub activations: Option<&'static str>,
    /// Whether the reset gate applies after the recurrent product (ONNX's
    /// `linear_before_reset = 1`, Keras' `reset_after=True`).
    pub linear_before_reset: bool,
}

/// The ONNX model of `network`, as [`Network::export_onnx`] writes it.
///
/// # Errors
///
/// [`Error::UnsupportedLayer`] or [`Error::UnsupportedActivation`] for the first part of the
/// network with no ONNX form.
pub fn model<N: Layer + ?Sized>(network: &N) -> Result<ModelProto, Error> {
    let mut graph = Graph::new();
    let width = <N::In as Row>::WIDTH;
    let input = Value {
        name: "input".to_owned(),
        shape: vec![width],
    };
    let output = network.onnx(&mut graph, input)?;
    Ok(graph.finish(width, output))
}

/// The bytes of the ONNX file of `network`.
///
/// # Errors
///
/// As [`model`].
pub fn to_bytes<N: Layer + ?Sized>(network: &N) -> Result<Vec<u8>, Error> {
    Ok(model(network)?.encode_to_vec())
}

/// Writes the ONNX file of `network` to `path`, replacing it only once the new file is
/// complete ([`Network::export_onnx`]).
///
/// # Errors
///
/// As [`model`], or [`Error::Io`]; the file at `path` is then unchanged.
pub fn export<N: Layer + ?Sized>(network: &N, path: &Path) -> Result<(), Error> {
    let bytes = to_bytes(network)?;
    crate::weights::write_atomically(path, &bytes).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Linear, Relu, Sigmoid, SparsePlus, Tanh};
    use crate::layers::{BatchNormalization, Dense, Dropout, Embedding, Gru, Lstm, SimpleRnn};

    fn decoded<L: Layer>(layer: &L) -> GraphProto {
        let bytes = to_bytes(layer).unwrap();
        ModelProto::decode(bytes.as_slice()).unwrap().graph.unwrap()
    }

    fn ops(graph: &GraphProto) -> Vec<&str> {
        graph.node.iter().map(|n| n.op_type.as_str()).collect()
    }

    fn initializer<'g>(graph: &'g GraphProto, name: &str) -> &'g TensorProto {
        graph.initializer.iter().find(|t| t.name == name).unwrap()
    }

    #[test]
    fn a_dense_layer_is_a_gemm_of_its_keras_kernel_and_bias_then_its_activation() {
        let dense = Dense::<2, 3, Tanh>::from_parameters(
            [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
            Some([0.5, 0.25, 0.125]),
        );
        let graph = decoded(&dense);
        assert_eq!(ops(&graph), ["Gemm", "Tanh", "Identity"]);
        let gemm = &graph.node[0];
        assert_eq!(gemm.input, ["input", "kernel", "bias"]);
        let kernel = initializer(&graph, "kernel");
        assert_eq!(
            (kernel.data_type, &kernel.dims[..]),
            (proto::FLOAT, &[2, 3][..])
        );
        assert_eq!(kernel.float_data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(initializer(&graph, "bias").float_data, [0.5, 0.25, 0.125]);
        assert_eq!(graph.node[1].input, gemm.output);
        assert_eq!(graph.node[2].output, ["output"]);
        let dims = |info: &ValueInfoProto| {
            let tensor = info.r#type.clone().unwrap().tensor_type.unwrap();
            tensor
                .shape
                .unwrap()
                .dim
                .into_iter()
                .map(|d| d.value.unwrap())
                .collect::<Vec<_>>()
        };
        let batch = DimensionValue::DimParam("batch".to_owned());
        assert_eq!(
            dims(&graph.input[0]),
            [batch.clone(), DimensionValue::DimValue(2)]
        );
        assert_eq!(dims(&graph.output[0]), [batch, DimensionValue::DimValue(3)]);
    }

    #[test]
    fn a_dense_layer_without_bias_has_a_gemm_of_two_inputs() {
        let dense = Dense::<2, 1, Linear>::from_parameters([[1.0], [2.0]], None);
        let graph = decoded(&dense);
        assert_eq!(ops(&graph), ["Gemm", "Identity"]);
        assert_eq!(graph.node[0].input, ["input", "kernel"]);
        assert_eq!(graph.initializer.len(), 1);
    }

    #[test]
    fn the_model_records_its_opset_ir_version_and_producer() {
        let dense = Dense::<1, 1, Relu>::from_parameters([[1.0]], None);
        let model = model(&dense).unwrap();
        assert_eq!(
            (model.ir_version, model.opset_import[0].version),
            (IR_VERSION, OPSET)
        );
        assert_eq!(model.opset_import[0].domain, "");
        assert_eq!(model.producer_name, "netdsl");
    }

    #[test]
    fn dropout_is_the_identity() {
        let graph = decoded(&Dropout::<4>::new(0.5, 1));
        assert_eq!(ops(&graph), ["Identity"]);
        assert_eq!(graph.node[0].input, ["input"]);
    }

    #[test]
    fn an_activation_without_an_onnx_form_is_an_error_naming_it() {
        let dense = Dense::<1, 1, SparsePlus>::from_parameters([[1.0]], None);
        let error = to_bytes(&dense).unwrap_err();
        assert_eq!(
            error.to_string(),
            "activation `sparse_plus` has no ONNX form in netdsl"
        );
        let rnn = SimpleRnn::<2, 1, 1, 2, 1, Linear>::from_parameters(vec![1.0], vec![1.0], None);
        let error = to_bytes(&rnn).unwrap_err();
        assert_eq!(
            error.to_string(),
            "activation `linear` has no ONNX form in netdsl"
        );
    }

    #[test]
    fn reshape_adds_a_node_only_when_the_shape_changes() {
        let mut graph = Graph::new();
        let x = Value {
            name: "x".to_owned(),
            shape: vec![6],
        };
        let same = graph.reshape(x.clone(), &[6]);
        assert_eq!((same, graph.nodes.len()), (x.clone(), 0));
        let y = graph.reshape(x, &[2, 3]);
        assert_eq!(y.shape, [2, 3]);
        assert_eq!(graph.nodes[0].op_type, "Reshape");
        let shape = &graph.initializers[0];
        assert_eq!(
            (shape.data_type, &shape.int64_data[..]),
            (proto::INT64, &[-1, 2, 3][..])
        );
    }

    #[test]
    fn softmax_runs_over_each_samples_whole_row() {
        let mut graph = Graph::new();
        let x = Value {
            name: "x".to_owned(),
            shape: vec![2, 3],
        };
        let y = graph.activation("softmax", x).unwrap();
        assert_eq!(y.shape, [2, 3]);
        let ops: Vec<&str> = graph.nodes.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["Reshape", "Softmax", "Reshape"]);
    }

    #[test]
    fn scopes_prefix_initializers_and_node_names() {
        let mut graph = Graph::new();
        let name = graph.scoped("dense_1", |graph| {
            graph.scoped("inner", |graph| {
                graph.initializer("kernel", &[1], vec![1.0])
            })
        });
        assert_eq!(name, "dense_1/inner/kernel");
        assert_eq!(graph.initializer("kernel", &[1], vec![1.0]), "kernel");
    }

    /// One feature, one unit: each gate's weight tells where it went.
    #[test]
    fn an_lstm_writes_its_gates_in_onnx_order_i_o_f_c() {
        // Keras' order i, f, c, o: kernel 1, 2, 3, 4; recurrent 10, 20, 30, 40; bias
        // 0.1 .. 0.4.
        let lstm = Lstm::<3, 1, 1, 3, 1>::from_parameters(
            vec![1.0, 2.0, 3.0, 4.0],
            vec![10.0, 20.0, 30.0, 40.0],
            Some(vec![0.1, 0.2, 0.3, 0.4]),
        );
        let graph = decoded(&lstm);
        assert_eq!(
            ops(&graph),
            [
                "Reshape",
                "Transpose",
                "LSTM",
                "Transpose",
                "Reshape",
                "Identity"
            ]
        );
        let w = initializer(&graph, "kernel");
        assert_eq!(
            (&w.dims[..], &w.float_data[..]),
            (&[1, 4, 1][..], &[1.0, 4.0, 2.0, 3.0][..])
        );
        let r = initializer(&graph, "recurrent_kernel");
        assert_eq!(r.float_data, [10.0, 40.0, 20.0, 30.0]);
        let b = initializer(&graph, "bias");
        assert_eq!(b.float_data, [0.1, 0.4, 0.2, 0.3, 0.0, 0.0, 0.0, 0.0]);
        let lstm = &graph.node[2];
        assert_eq!(lstm.input.len(), 4);
        assert_eq!(lstm.output.len(), 2);
        // The last state, Y_h, read by the transpose.
        assert_eq!(graph.node[3].input[0], lstm.output[1]);
    }

    #[test]
    fn a_gru_keeps_keras_gate_order_with_both_biases_and_resets_after() {
        let gru = Gru::<2, 1, 1, 2, 2>::from_parameters(
            vec![1.0, 2.0, 3.0],
            vec![10.0, 20.0, 30.0],
            Some(vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
        );
        let graph = decoded(&gru);
        let node = graph.node.iter().find(|n| n.op_type == "GRU").unwrap();
        let attribute = |name: &str| node.attribute.iter().find(|a| a.name == name).unwrap();
        assert_eq!(attribute("linear_before_reset").i, 1);
        assert_eq!(attribute("hidden_size").i, 1);
        assert_eq!(initializer(&graph, "kernel").float_data, [1.0, 2.0, 3.0]);
        let b = initializer(&graph, "bias");
        assert_eq!(b.float_data, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
        // Every step (OUT = T · U): Y, read by the transpose.
        let transpose = graph
            .node
            .iter()
            .find(|n| n.input[0] == node.output[0])
            .unwrap();
        assert_eq!(transpose.op_type, "Transpose");
    }

    #[test]
    fn a_simple_rnn_names_its_activation() {
        let rnn = SimpleRnn::<2, 1, 1, 2, 1, Sigmoid>::from_parameters(vec![1.0], vec![1.0], None);
        let graph = decoded(&rnn);
        let node = graph.node.iter().find(|n| n.op_type == "RNN").unwrap();
        assert_eq!(node.input.len(), 3);
        let activations = node
            .attribute
            .iter()
            .find(|a| a.name == "activations")
            .unwrap();
        assert_eq!(activations.strings, [b"Sigmoid".to_vec()]);
        assert_eq!(activations.r#type, proto::ATTRIBUTE_STRINGS);
    }

    #[test]
    fn batch_normalization_is_the_scale_and_shift_predict_uses() {
        // Moving mean 0, variance 1, ε 0.001: scale 1/√1.001, shift 0.
        let norm = BatchNormalization::<4, 2>::new();
        let graph = decoded(&norm);
        assert_eq!(
            ops(&graph),
            ["Reshape", "Mul", "Add", "Reshape", "Identity"]
        );
        let scale = initializer(&graph, "scale");
        let expected = (1.0 / 1.001f64.sqrt()) as f32;
        assert_eq!(scale.float_data, [expected, expected]);
        assert_eq!(initializer(&graph, "shift").float_data, [0.0, 0.0]);
    }

    #[test]
    fn an_embedding_casts_its_ids_and_gathers_unless_it_masks_zero() {
        let embedding = Embedding::<2, 3, 2, 4>::from_table([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]);
        let graph = decoded(&embedding);
        assert_eq!(ops(&graph), ["Cast", "Gather", "Reshape", "Identity"]);
        let cast = &graph.node[0];
        assert_eq!(
            (cast.attribute[0].name.as_str(), cast.attribute[0].i),
            ("to", 7)
        );
        assert_eq!(graph.node[1].input[0], "embeddings");
        let masked = embedding.with_mask_zero(true);
        let error = to_bytes(&masked).unwrap_err();
        assert_eq!(
            error.to_string(),
            "layer `Embedding(mask_zero=True)` has no ONNX form in netdsl"
        );
    }

    #[test]
    fn a_failed_export_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, b"before").unwrap();
        let dense = Dense::<1, 1, SparsePlus>::from_parameters([[1.0]], None);
        assert!(matches!(
            export(&dense, &path),
            Err(Error::UnsupportedActivation {
                activation: "sparse_plus"
            })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"before");
        let dense = Dense::<1, 1, Relu>::from_parameters([[1.0]], None);
        export(&dense, &path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), to_bytes(&dense).unwrap());
    }
}
