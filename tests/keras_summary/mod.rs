//! Keras' `model.summary()` as the files of tests/fixtures/keras record it, compared with
//! netdsl's: shared by the Keras parity tests (`mod keras_summary;`).

use std::collections::HashMap;

use netdsl::summary::Summary;

/// Asserts that `summary` has the rows of Keras' summary recorded in a fixture's `metadata`:
/// `summary`, one `kind|output shape|parameters` line per layer (`Dense|(None, 6)|30`, the
/// parameters trainable or not, as Keras' "Param #"), without Keras' `InputLayer`; and where the
/// fixture records them, `names`, the layers' names one a line, and `params`, Keras' totals
/// `total|trainable|non-trainable`.
pub fn assert_matches(case: &str, summary: &Summary, metadata: &HashMap<String, String>) {
    let rows: Vec<String> = summary
        .layers
        .iter()
        .map(|layer| {
            let dims: Vec<String> = layer.output_shape.iter().map(usize::to_string).collect();
            // Keras calls netdsl's `Conv2d` `Conv2D`; every other kind here has Keras' name.
            let kind = layer.kind.replace("Conv2d", "Conv2D");
            let count = layer.parameters + layer.non_trainable;
            format!("{kind}|(None, {})|{count}", dims.join(", "))
        })
        .collect();
    assert_eq!(
        rows.join("\n"),
        metadata["summary"],
        "{case}: summary rows as Keras has them (kind|output shape|parameters)"
    );
    if let Some(names) = metadata.get("names") {
        let found: Vec<&str> = summary.layers.iter().map(|layer| layer.name).collect();
        assert_eq!(found.join("\n"), *names, "{case}: the rows' names");
    }
    if let Some(params) = metadata.get("params") {
        let totals = [
            summary.total_parameters(),
            summary.trainable_parameters(),
            summary.non_trainable_parameters(),
        ];
        let totals: Vec<String> = totals.iter().map(usize::to_string).collect();
        assert_eq!(
            totals.join("|"),
            *params,
            "{case}: Keras' total, trainable and non-trainable parameters"
        );
    }
}
