//! Links with cortex-m-rt's `link.x` (which includes `memory.x`), and embeds what the desktop
//! trained: the weights file as Rust `static`s (`netdsl::weights::embed`) and the test images
//! as raw bytes, both from the directory `NETDSL_FIRMWARE_DATA` names (written by
//! `examples/wasm-predict`'s `reference` binary; see `.ci/firmware`).

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x to OUT_DIR");
    println!("cargo::rustc-link-search={}", out.display());
    println!("cargo::rerun-if-changed=memory.x");
    println!("cargo::rustc-link-arg-bins=-Tlink.x");

    println!("cargo::rerun-if-env-changed=NETDSL_FIRMWARE_DATA");
    let Some(data) = env::var_os("NETDSL_FIRMWARE_DATA").map(PathBuf::from) else {
        panic!(
            "NETDSL_FIRMWARE_DATA must name the directory of the desktop's mnist.safetensors and \
             images.f32 (`.ci/firmware` makes them with examples/wasm-predict's `reference`)"
        );
    };
    let (weights, images) = (data.join("mnist.safetensors"), data.join("images.f32"));
    println!("cargo::rerun-if-changed={}", weights.display());
    println!("cargo::rerun-if-changed={}", images.display());

    let source = netdsl::weights::embed(&weights).unwrap_or_else(|e| panic!("{e}"));
    fs::write(out.join("weights.rs"), source).expect("write weights.rs to OUT_DIR");
    fs::copy(&images, out.join("images.f32")).expect("copy images.f32 to OUT_DIR");
}
