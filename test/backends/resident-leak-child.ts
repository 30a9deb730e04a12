/**
 * Child process of test/backends/resident-pool.test.ts (run with --expose-gc): 10,000 iterations of
 * resident work — a synchronous forward and backward on resident tensors, a module step, a pool
 * call on resident tensors (2 threads), a tensor allocated and freed — with wasm memory and JS
 * heap measured after a warm-up and after; then 10,000 tensors left unfreed, collected, and the
 * FinalizationRegistry's work checked. Prints one JSON line and must exit by itself.
 */
import * as nk from "../../src/index.js";

const gc = (globalThis as { gc?: () => void }).gc!;
const settle = async () => {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10)); // finalizers run after a collection, as tasks
  }
};
const usage = async () => {
  await settle();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, wasm: nk.wasmMemory() };
};

const [rows, D] = [8, 64];
const values = Float32Array.from({ length: rows * D }, (_, i) => Math.sin(i));
const x = nk.wasmTensor([rows, D], values), dy = nk.wasmTensor([rows, D], values.map((v) => v * 0.5));
const y = nk.wasmTensor([rows, D]), dx = nk.wasmTensor([rows, D]);
const weight = nk.wasmTensor([D], new Float32Array(D).fill(1.5)), gw = nk.wasmTensor([D]);
const module = new nk.RMSNorm(D);
const pool = await nk.createPool({ threads: 2, minElements: 0 });
const step = async (i: number) => {
  nk.layerNorm(x, D, { weight, out: y });
  nk.rmsNormBackward(dy, x, D, { weight, out: dx, into: { dweight: gw } });
  module.forward(x);
  module.backward(dy);
  await (i % 2 ? pool.layerNorm(x, D, { weight, out: y }) : pool.rmsNormBackward(dy, x, D, { weight, out: dx }));
  nk.wasmTensor([rows, D], values).free();
};
for (let i = 0; i < 1000; i++) await step(i); // warm-up: JIT, module buffers, pool scratch
const warm = await usage();
for (let i = 0; i < 10000; i++) await step(i);
const after = await usage();
for (let i = 0; i < 10000; i++) nk.wasmTensor([rows, D], values); // never freed: the registry's job
await settle();
const finalized = nk.wasmMemory();
await pool.close();
console.log(JSON.stringify({ warm, after, finalized }));
