//! Sizes given as `const` items, including one named like the generated batch parameter.

use netdsl::prelude::*;

const BATCH: usize = 16;
const HIDDEN: usize = 12;

mod sizes {
    pub const INPUTS: usize = 6;
}

network! {
    /// Every size from a `const` item.
    struct Consts<sizes::INPUTS => Dense(BATCH, relu) => Dense(HIDDEN, tanh) => Dense(2, softmax)>;
}

#[test]
fn const_sizes_shape_the_layers_and_the_tape() {
    let model = Consts::new(&mut StdRng::seed_from_u64(3));
    assert_eq!(
        model.parameter_count(),
        6 * 16 + 16 + 16 * 12 + 12 + 12 * 2 + 2
    );
    let mut tape = model.new_cache::<4>();
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
