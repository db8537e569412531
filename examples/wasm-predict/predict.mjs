// Runs the wasm module's `predict` on images written by the `reference` binary, with the
// weights it saved, and prints the classes on one line, as `reference` does.
//
// node predict.mjs <module.wasm> <dir holding mnist.safetensors and images.f32>
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [wasmPath, dir] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const { memory, alloc, load_weights, input, predict } = instance.exports;

const weights = readFileSync(join(dir, "mnist.safetensors"));
const at = alloc(weights.length);
new Uint8Array(memory.buffer, at, weights.length).set(weights);
if (load_weights(at, weights.length) !== 0) {
  throw new Error("the module refused the weights file");
}

const bytes = readFileSync(join(dir, "images.f32"));
const images = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
const classes = [];
for (let start = 0; start < images.length; start += 784) {
  // `memory.buffer` is read after `alloc`, which may have grown the memory.
  new Float32Array(memory.buffer, input(), 784).set(images.subarray(start, start + 784));
  classes.push(predict());
}
console.log(classes.join(" "));
