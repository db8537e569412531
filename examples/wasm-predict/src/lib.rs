//! The Keras tutorial's MNIST network, `784 => Dense(64, relu) => Dense(10, softmax)`, for
//! WebAssembly without wasm-bindgen: plain exports over linear memory. The host writes a
//! safetensors file into memory from [`alloc`] and loads it with [`load_weights`], writes an
//! image into [`input`] and calls [`predict`]. netdsl is built with its `safetensors` feature
//! alone (and the `std` it needs): no threads, clocks, terminal or OS randomness, which
//! wasm32-unknown-unknown lacks.

use std::sync::Mutex;

use netdsl::prelude::*;

network! {
    /// The MNIST classifier from the Keras tutorial.
    pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

/// The network the exports use, made on the first call (seeded: no OS randomness).
static MODEL: Mutex<Option<Box<Mnist>>> = Mutex::new(None);

/// The image [`predict`] reads: 784 pixels in `[0, 1]`, row by row.
static INPUT: Mutex<[f32; 784]> = Mutex::new([0.0; 784]);

/// Runs `f` on the network, made with seeded weights if none is yet.
fn with_model<R>(f: impl FnOnce(&mut Mnist) -> R) -> R {
    let mut model = MODEL.lock().unwrap_or_else(|e| e.into_inner());
    let model = model.get_or_insert_with(|| Box::new(Mnist::new(&mut StdRng::seed_from_u64(42))));
    f(model)
}

/// The class of `image` with the network's current weights: the index of the highest
/// probability.
pub fn classify(model: &Mnist, image: &[f32; 784]) -> u32 {
    let probabilities = model.predict(image);
    let mut best = 0;
    for (class, p) in probabilities.iter().enumerate() {
        if *p > probabilities[best] {
            best = class;
        }
    }
    best as u32
}

/// `len` bytes of memory for the host to write into (a weights file); never freed.
#[unsafe(no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    Vec::<u8>::with_capacity(len).leak().as_mut_ptr()
}

/// Loads the safetensors file of `len` bytes at `ptr` (written by the host into memory from
/// [`alloc`]) into the network. Returns 0 on success, 1 if the file does not fit the network
/// (which then keeps its weights).
///
/// # Safety
///
/// `ptr` must point to `len` initialised bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn load_weights(ptr: *const u8, len: usize) -> u32 {
    // SAFETY: the caller guarantees `len` initialised bytes at `ptr`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    with_model(
        |model| match netdsl::weights::load_bytes(model, bytes, "memory".as_ref()) {
            Ok(()) => 0,
            Err(_) => 1,
        },
    )
}

/// Where the host writes the 784 pixels of the image [`predict`] classifies.
#[unsafe(no_mangle)]
pub extern "C" fn input() -> *mut f32 {
    // The buffer is static: the pointer stays valid after the guard is dropped.
    INPUT.lock().unwrap_or_else(|e| e.into_inner()).as_mut_ptr()
}

/// The class (0 to 9) of the image in [`input`].
#[unsafe(no_mangle)]
pub extern "C" fn predict() -> u32 {
    let image = *INPUT.lock().unwrap_or_else(|e| e.into_inner());
    with_model(|model| classify(model, &image))
}
