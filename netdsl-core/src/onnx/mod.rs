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
//! has no ONNX form here (attention, normalization, embeddings, masks, a layer of yours that
//! keeps [`Layer::onnx`]'s default) makes the export an [`Error`] naming it; nothing is written
//! then.
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
    fn new(name: &str, r#type: i32) -> AttributeProto {
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
            ..Self::new(name, proto::ATTRIBUTE_INT)
        })
    }

    /// A float attribute.
    pub fn float(name: &str, value: f32) -> Self {
        Attribute(AttributeProto {
            f: value,
            ..Self::new(name, proto::ATTRIBUTE_FLOAT)
        })
    }

    /// A string attribute.
    pub fn string(name: &str, value: &str) -> Self {
        Attribute(AttributeProto {
            s: value.as_bytes().to_vec(),
            ..Self::new(name, proto::ATTRIBUTE_STRING)
        })
    }

    /// An attribute of integers.
    pub fn ints(name: &str, values: &[i64]) -> Self {
        Attribute(AttributeProto {
            ints: values.to_vec(),
            ..Self::new(name, proto::ATTRIBUTE_INTS)
        })
    }

    /// An attribute of floats.
    pub fn floats(name: &str, values: &[f32]) -> Self {
        Attribute(AttributeProto {
            floats: values.to_vec(),
            ..Self::new(name, proto::ATTRIBUTE_FLOATS)
        })
    }

    /// An attribute of strings.
    pub fn strings(name: &str, values: &[&str]) -> Self {
        Attribute(AttributeProto {
            strings: values.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..Self::new(name, proto::ATTRIBUTE_STRINGS)
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
        let target: Vec<i64> = core::iter::once(-1).chain(shape.iter().map(|&d| dim(d))).collect();
        let target = self.int64s("shape", &target);
        self.node("Reshape", &[&x.name, &target], Vec::new(), shape.to_vec())
    }

    /// `x` with its axes permuted by `perm`, which includes the batch axis, 0, and keeps it
    /// first.
    pub fn transpose(&mut self, x: &Value, perm: &[usize]) -> Value {
        let shape = perm[1..].iter().map(|&p| x.shape[p - 1]).collect();
        let perm: Vec<i64> = perm.iter().map(|&p| dim(p)).collect();
        self.node("Transpose", &[&x.name], vec![Attribute::ints("perm", &perm)], shape)
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
            "silu" => {
                let sigmoid = unary(self, "Sigmoid", Vec::new(), &x);
                self.node("Mul", &[&x.name, &sigmoid.name], Vec::new(), shape)
            }
            "softmax" | "log_softmax" => {
                let width = shape.iter().product();
                let row = self.reshape(x, &[width]);
                let op = if name == "softmax" { "Softmax" } else { "LogSoftmax" };
                let y = self.node(op, &[&row.name], vec![Attribute::int("axis", -1)], vec![width]);
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
