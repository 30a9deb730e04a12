// Node ESM: the sync ops (wasm) and the pool (worker_threads) from the installed tarball. Prints
// JSON for the test, which checks the numbers against its own float64 LayerNorm.
import { createPool, getBackend, layerNorm, tensor } from "normkit";

const [rows, D] = [64, 96];
const x = tensor(Float32Array.from({ length: rows * D }, (_, i) => Math.sin(i * 0.37) * 3 + 1), [rows, D]);
const y = layerNorm(x, [D]);
const pool = await createPool({ threads: 2, minElements: 0 });
const py = await pool.layerNorm(x, [D]);
await pool.close();
const webgpu = Object.keys(await import("normkit/webgpu")).sort();
console.log(JSON.stringify({ backend: getBackend(), y: Array.from(y.data), pool: Array.from(py.data), threads: pool.threads, webgpu }));
