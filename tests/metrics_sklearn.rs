//! Each metric of `fit` against scikit-learn's value on the same predictions: ties between
//! scores, ties at a classifier's largest output, a class no sample holds (and one neither held
//! nor predicted), a constant regression target.
//!
//! The fixture is `tests/fixtures/sklearn/metrics.safetensors`, written by
//! `python/fixtures/metrics.py` (scikit-learn 1.9.1, NumPy 2.4.6; the script says how each metric is
//! put in scikit-learn's terms); this test needs no Python. Precision, recall, F1 (micro, macro,
//! weighted), top-k accuracy, MAE, MSE, RMSE and R² agree within 1e-6 (float32 rounding of the
//! fixture's values). The AUCs are Keras' approximation through 200 thresholds: the ROC area is
//! scikit-learn's exactly where no two different scores fall between the same two thresholds
//! (the cases on grids of 0.01 and 0.05), and within 1e-3 on 200 uniform scores (4.0e-4
//! measured); the PR area, Keras' interpolation, is within 0.03 of scikit-learn's
//! `average_precision_score` (a step sum; 3.7e-3 to 2.0e-2 measured on the four cases).
//! `cargo test --test metrics_sklearn -- --nocapture` prints every pair of values.

use std::path::Path;

use netdsl::metrics::{
    Auc, F1Score, MeanAbsoluteError, MeanSquaredError, Metric, Precision, R2Score, Recall,
    RootMeanSquaredError, TopKCategoricalAccuracy,
};
use safetensors::SafeTensors;

struct Fixture {
    bytes: Vec<u8>,
}

impl Fixture {
    fn load() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sklearn/metrics.safetensors");
        Self {
            bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        }
    }

    fn tensor(&self, name: &str) -> (Vec<f32>, usize) {
        let file = SafeTensors::deserialize(&self.bytes).unwrap();
        let view = file
            .tensor(name)
            .unwrap_or_else(|e| panic!("`{name}`: {e}"));
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let width = view.shape().get(1).copied().unwrap_or(1);
        (values, width)
    }

    fn expected(&self, key: &str) -> f32 {
        self.tensor(&format!("expected.{key}")).0[0]
    }

    /// `metric`'s result over the samples of `case`.
    fn measure(&self, case: &str, metric: &mut dyn Metric) -> f32 {
        let (y, width) = self.tensor(&format!("{case}.y"));
        let (t, _) = self.tensor(&format!("{case}.t"));
        metric.prepare(width);
        metric.reset();
        for (y, t) in y.chunks_exact(width).zip(t.chunks_exact(width)) {
            metric.update(y, t);
        }
        metric.result()
    }

    /// Checks `metric` on `case` against scikit-learn's `key` within `tolerance`; returns the
    /// difference.
    fn check(&self, case: &str, key: &str, metric: &mut dyn Metric, tolerance: f32) -> f32 {
        let ours = self.measure(case, metric);
        let theirs = self.expected(&format!("{case}.{key}"));
        let difference = (ours - theirs).abs();
        println!("{case}.{key}: netdsl {ours}, scikit-learn {theirs}, difference {difference:.1e}");
        assert!(
            difference <= tolerance,
            "{case}.{key}: netdsl {ours}, scikit-learn {theirs}: {difference:e} > {tolerance:e}"
        );
        difference
    }
}

const EXACT: f32 = 1e-6;

#[test]
fn precision_and_recall_match_scikit_learn_over_flattened_outputs() {
    let fixture = Fixture::load();
    for case in ["binary", "binary_fine", "multi", "constant"] {
        fixture.check(case, "precision", &mut Precision::new(), EXACT);
        fixture.check(case, "recall", &mut Recall::new(), EXACT);
    }
}

#[test]
fn f1_matches_scikit_learn_with_ties_at_the_maximum_and_empty_classes() {
    let fixture = Fixture::load();
    for case in ["multi", "constant"] {
        fixture.check(case, "f1_micro", &mut F1Score::micro_average(), EXACT);
        fixture.check(case, "f1_macro", &mut F1Score::macro_average(), EXACT);
        fixture.check(case, "f1_weighted", &mut F1Score::weighted_average(), EXACT);
    }
}

#[test]
fn top_k_accuracy_matches_scikit_learn_ranking_ties_by_the_lower_class() {
    let fixture = Fixture::load();
    for case in ["multi", "constant"] {
        fixture.check(case, "top_1", &mut TopKCategoricalAccuracy::new(1), EXACT);
        fixture.check(case, "top_2", &mut TopKCategoricalAccuracy::new(2), EXACT);
    }
}

#[test]
fn roc_auc_is_scikit_learns_where_the_thresholds_separate_the_scores() {
    let fixture = Fixture::load();
    // Scores on grids of 0.01 and 0.05, ties included: exact.
    for case in ["binary", "multi", "constant"] {
        fixture.check(case, "auc", &mut Auc::roc(), EXACT);
    }
    // 200 uniform scores, some sharing a bucket of Keras' 200 thresholds.
    fixture.check("binary_fine", "auc", &mut Auc::roc(), 1e-3);
}

#[test]
fn pr_auc_approximates_scikit_learns_average_precision() {
    let fixture = Fixture::load();
    for case in ["binary", "binary_fine", "multi", "constant"] {
        fixture.check(case, "pr_auc", &mut Auc::pr(), 0.03);
    }
}

#[test]
fn regression_metrics_match_scikit_learn_with_a_constant_target() {
    let fixture = Fixture::load();
    let case = "regression";
    fixture.check(
        case,
        "mean_absolute_error",
        &mut MeanAbsoluteError::default(),
        EXACT,
    );
    fixture.check(
        case,
        "mean_squared_error",
        &mut MeanSquaredError::default(),
        EXACT,
    );
    let rmse = &mut RootMeanSquaredError::default();
    fixture.check(case, "root_mean_squared_error", rmse, EXACT);
    fixture.check(case, "r2_score", &mut R2Score::default(), EXACT);
    assert_eq!(
        fixture.tensor("expected.regression.r2_score_columns").0[2],
        0.0,
        "the constant column, missed, scores 0"
    );
}
