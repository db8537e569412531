//! The layer table of a network, printed like Keras' `model.summary()`.

#[cfg(all(feature = "alloc", not(feature = "std")))]
use crate::alloc_prelude::*;

use core::fmt;

/// One row of a [`Summary`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSummary {
    /// The layer's field name in the network struct, e.g. `dense_1`; for a layer of a join's
    /// branch, its field in the branch's network, numbered with the network's (`dense_3`). The
    /// layer Keras merges the branches with is named after the join's field (`add_1`,
    /// `concatenate_1`, `residual_1`), and the activation after a residual block's addition,
    /// which has no field, as Keras numbers it (`activation_1`).
    pub name: &'static str,
    /// The layer's kind, e.g. `Dense`.
    pub kind: &'static str,
    /// The shape of one output sample: `[64]`, or `[24, 24, 6]` for an image (height, width,
    /// channels).
    pub output_shape: Vec<usize>,
    /// Its trainable parameters ([`Layer::parameter_count`](crate::layer::Layer::parameter_count)).
    pub parameters: usize,
    /// The values it keeps without training them, such as batch normalization's moving
    /// statistics ([`Layer::non_trainable_count`](crate::layer::Layer::non_trainable_count)).
    pub non_trainable: usize,
}

/// A network's layers with their output shapes and parameter counts. As in Keras, a layer's
/// "Param #" counts its trainable parameters and the values it keeps without training them
/// (batch normalization's moving statistics), and the totals say how many of each.
///
/// A join has the rows Keras' functional model has for the layers it stands for: each layer of
/// each branch, then the layer merging them (`Add`, `Concatenate`; a residual block's `Add`,
/// then an `Activation` unless it is linear), with no parameters. `Bidirectional` is one row,
/// as it is one layer in Keras. The rows are in Keras' order, so that the two tables can be
/// read side by side: farthest from the output first, layers as far from it branch by branch.
///
/// ```
/// use netdsl_core::summary::{LayerSummary, Summary};
///
/// let summary = Summary {
///     name: "Tiny",
///     layers: vec![
///         LayerSummary { name: "dense_1", kind: "Dense", output_shape: vec![3], parameters: 9, non_trainable: 0 },
///         LayerSummary {
///             name: "batch_normalization_1",
///             kind: "BatchNormalization",
///             output_shape: vec![3],
///             parameters: 6,
///             non_trainable: 6,
///         },
///     ],
/// };
/// assert_eq!(summary.total_parameters(), 21);
/// assert_eq!(summary.trainable_parameters(), 15);
/// let table = summary.to_string();
/// assert!(table.contains("dense_1 (Dense)"));
/// assert!(table.ends_with(" Trainable params: 15\n Non-trainable params: 6"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The network's type name.
    pub name: &'static str,
    /// Its layers, each after the layers it reads, in Keras' order.
    pub layers: Vec<LayerSummary>,
}

impl Summary {
    /// Every layer's values, trainable or not: Keras' "Total params".
    pub fn total_parameters(&self) -> usize {
        self.trainable_parameters() + self.non_trainable_parameters()
    }

    /// Every layer's trainable parameters: Keras' "Trainable params".
    pub fn trainable_parameters(&self) -> usize {
        self.layers.iter().map(|l| l.parameters).sum()
    }

    /// Every layer's values kept without training: Keras' "Non-trainable params".
    pub fn non_trainable_parameters(&self) -> usize {
        self.layers.iter().map(|l| l.non_trainable).sum()
    }
}

/// `50890` as `50,890`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const RULE: &str = "─────────────────────────────────────────────────────────────────";
        writeln!(f, "Model: \"{}\"", self.name)?;
        writeln!(f, "{RULE}")?;
        writeln!(
            f,
            " {:<28}{:<26}{:>9}",
            "Layer (type)", "Output Shape", "Param #"
        )?;
        writeln!(f, "{}", RULE.replace('─', "═"))?;
        for layer in &self.layers {
            let mut name = format!("{} ({})", layer.name, layer.kind);
            if name.chars().count() >= 28 {
                // A name as wide as its column still gets a space before the shape.
                name.push(' ');
            }
            let dims: Vec<String> = layer.output_shape.iter().map(usize::to_string).collect();
            let shape = format!("(None, {})", dims.join(", "));
            let count = grouped(layer.parameters + layer.non_trainable);
            writeln!(f, " {name:<28}{shape:<26}{count:>9}")?;
        }
        writeln!(f, "{RULE}")?;
        writeln!(f, " Total params: {}", grouped(self.total_parameters()))?;
        writeln!(
            f,
            " Trainable params: {}",
            grouped(self.trainable_parameters())
        )?;
        write!(
            f,
            " Non-trainable params: {}",
            grouped(self.non_trainable_parameters())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_keras_table() {
        let summary = Summary {
            name: "Mnist",
            layers: vec![
                LayerSummary {
                    name: "dense_1",
                    kind: "Dense",
                    output_shape: vec![64],
                    parameters: 50_240,
                    non_trainable: 0,
                },
                LayerSummary {
                    name: "dense_2",
                    kind: "Dense",
                    output_shape: vec![10],
                    parameters: 650,
                    non_trainable: 0,
                },
            ],
        };
        let text = summary.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Model: \"Mnist\"");
        assert_eq!(
            lines[4],
            " dense_1 (Dense)             (None, 64)                   50,240"
        );
        assert_eq!(
            lines[5],
            " dense_2 (Dense)             (None, 10)                      650"
        );
        assert_eq!(lines[7], " Total params: 50,890");
        assert_eq!(lines[8], " Trainable params: 50,890");
        assert_eq!(lines[9], " Non-trainable params: 0");
    }

    #[test]
    fn counts_what_is_not_trained_in_the_row_and_apart_in_the_totals() {
        // Keras' summary of `Dense(6)` then `BatchNormalization()` on 4 inputs.
        let summary = Summary {
            name: "Normalized",
            layers: vec![
                LayerSummary {
                    name: "dense_1",
                    kind: "Dense",
                    output_shape: vec![6],
                    parameters: 30,
                    non_trainable: 0,
                },
                LayerSummary {
                    name: "batch_normalization_1",
                    kind: "BatchNormalization",
                    output_shape: vec![6],
                    parameters: 12,
                    non_trainable: 12,
                },
            ],
        };
        let text = summary.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[4],
            " dense_1 (Dense)             (None, 6)                        30"
        );
        assert_eq!(
            lines[5],
            " batch_normalization_1 (BatchNormalization) (None, 6)                        24"
        );
        assert_eq!(
            lines[7..],
            [
                " Total params: 54",
                " Trainable params: 42",
                " Non-trainable params: 12"
            ]
        );
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
