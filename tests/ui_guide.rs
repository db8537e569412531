//! The user guide's "How netdsl checks shapes" table names a `tests/ui` case for every message:
//! a new compile-fail case must be listed there, and a listed case must exist.

use std::fs;
use std::path::Path;

#[test]
fn every_compile_fail_case_is_in_the_guide_and_every_listed_case_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let mut cases = Vec::new();
    for folder in fs::read_dir(root.join("tests/ui")).unwrap() {
        let folder = folder.unwrap().path();
        for file in fs::read_dir(&folder).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "rs") {
                let name = format!(
                    "{}/{}",
                    folder.file_name().unwrap().to_str().unwrap(),
                    file.file_stem().unwrap().to_str().unwrap()
                );
                cases.push(name);
            }
        }
    }
    // Cases that show how errors combine rather than a message of their own.
    let combinations = [
        "shape/every-bad-layer-reported-at-once",
        "parse/errors-in-several-networks-reported-together",
    ];
    for case in cases.iter().filter(|c| !combinations.contains(&c.as_str())) {
        assert!(
            guide.contains(&format!("`{case}`")),
            "tests/ui/{case}.rs is missing from the guide's table"
        );
    }
    for listed in guide.split('`').filter(|s| {
        ["parse/", "shape/", "usage/", "join/", "mask/"]
            .iter()
            .any(|f| s.starts_with(f))
    }) {
        assert!(
            cases.iter().any(|c| c == listed),
            "the guide lists `{listed}`, which tests/ui does not have"
        );
    }
}
