// A page that uses normkit as an app would, bundled by each bundler in test/package: sync ops
// (wasm), the pool (Web Workers), sharedTensor, and WebGPU. It reports in window.__result; the
// test checks the numbers against a float64 LayerNorm and what each serving mode must give.
import { createPool, getBackend, layerNorm, sharedTensor, tensor } from "normkit";
import { createGpuBackend } from "normkit/webgpu";

const [rows, D] = [64, 96];
const x = tensor(Float32Array.from({ length: rows * D }, (_, i) => Math.sin(i * 0.37) * 3 + 1), [rows, D]);
const weight = tensor(Float32Array.from({ length: D }, (_, i) => 0.5 + i / D), [D]);
const bias = tensor(Float32Array.from({ length: D }, (_, i) => i / D - 0.5), [D]);
const y = layerNorm(x, [D], { weight, bias });
const bits = (a) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const bitwise = (a, b) => a.length === b.length && bits(a).every((v, i) => v === bits(b)[i]);
const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const failure = (e) => ({ error: String(e), name: e?.name, isError: e instanceof Error, code: e?.code });

const result = { isolated: globalThis.crossOriginIsolated, backend: getBackend(), y: Array.from(y.data) };
try {
  const pool = await createPool({ threads: 2, minElements: 0 });
  try {
    const py = await pool.layerNorm(x, [D], { weight, bias });
    result.pool = { threads: pool.threads, shared: typeof SharedArrayBuffer === "function" && py.data.buffer instanceof SharedArrayBuffer, bitwise: bitwise(py.data, y.data) };
  } finally {
    await pool.close();
  }
} catch (e) {
  result.pool = failure(e);
}
try {
  result.sharedTensor = sharedTensor([2], [1, 2]).data.buffer.constructor.name;
} catch (e) {
  result.sharedTensor = failure(e);
}
try {
  const gpu = await createGpuBackend();
  try {
    const w = gpu.upload(weight), b = gpu.upload(bias), gx = gpu.upload(x);
    const gy = await gpu.layerNorm(gx, [D], { weight: w, bias: b }).read();
    result.gpu = { maxDiff: maxDiff(gy.data, y.data), adapter: gpu.adapterInfo?.description || gpu.adapterInfo?.vendor || "?" };
  } finally {
    gpu.destroy();
  }
} catch (e) {
  result.gpu = failure(e);
}
window.__result = result;
