//! Sizes given as `const` items (including one named like the generated batch parameter) and as
//! arithmetic on literals and `const` items.

use netdsl::prelude::*;

const BATCH: usize = 16;
const HIDDEN: usize = 12;

mod sizes {
    pub const INPUTS: usize = 6;
}

network! {
    /// Every size from a `const` item.
    struct Consts<sizes::INPUTS => Dense(BATCH, relu) => Dense(HIDDEN, tanh) => Dense(2, softmax)>;

    /// Sizes as arithmetic: on literals the macro works it out, on `const` items rustc does.
    struct Expressions<{ 2 * 3 } => Dense(2 * HIDDEN, relu) => Dense(HIDDEN / 4 + 1, tanh) => Dense(64 + 1) => Dense(sizes::INPUTS - 4, softmax)>;
}

#[test]
fn arithmetic_sizes_shape_the_layers() {
    let model = Expressions::new(&mut StdRng::seed_from_u64(3));
    assert_eq!(
        model.parameter_count(),
        (6 * 24 + 24) + (24 * 4 + 4) + (4 * 65 + 65) + (65 * 2 + 2)
    );
    let probabilities: [f32; 2] = model.predict(&[0.5; 6]);
    assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let summary = model.summary().to_string();
    for shape in ["(None, 24)", "(None, 4)", "(None, 65)", "(None, 2)"] {
        assert!(summary.contains(shape), "{shape} in {summary}");
    }
}

#[test]
fn const_sizes_shape_the_layers_and_the_tape() {
    let model = Consts::new(&mut StdRng::seed_from_u64(3));
    assert_eq!(
        model.parameter_count(),
        6 * 16 + 16 + 16 * 12 + 12 + 12 * 2 + 2
    );
    let mut tape = model.new_tape::<4>();
    let mut y = [[0.0; 2]; 4];
    model.forward(&[[0.5; 6]; 4], &mut y, &mut tape);
    assert!(
        y.iter()
            .all(|row| (row.iter().sum::<f32>() - 1.0).abs() < 1e-5),
        "softmax rows: {y:?}"
    );
    let hidden: &[[f32; BATCH]; 4] = &tape.dense_1;
    assert!(hidden.iter().flatten().all(|v| *v >= 0.0), "relu outputs");
    let summary = model.summary().to_string();
    assert!(
        summary.contains("(None, 16)") && summary.contains("(None, 12)"),
        "{summary}"
    );
}
