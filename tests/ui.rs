//! Compile-fail cases: every user-facing compile error, with its reviewed `.stderr` snapshot.
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test --test ui` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
