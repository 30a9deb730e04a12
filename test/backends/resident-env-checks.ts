/**
 * Checks of resident tensors that must hold in every JS environment, run by
 * test/backends/resident-env.test.ts in a Node child (plain memory forced) and in Chromium pages
 * (shared memory, and plain memory forced): public API only, no Node built-ins. Returns what it
 * saw, for the test to assert on.
 */
import type * as Normkit from "../../src/index.js";

/** Makes `new WebAssembly.Memory({ shared: true })` throw, as in Firefox or Safari on a page without COOP/COEP. */
export function refuseSharedMemory(): void {
  const Memory = WebAssembly.Memory;
  const Patched = function (d: WebAssembly.MemoryDescriptor) {
    if (d.shared) throw new TypeError("shared memory refused (test)");
    return new Memory(d);
  } as unknown as typeof WebAssembly.Memory;
  Patched.prototype = Memory.prototype;
  (WebAssembly as { Memory: typeof WebAssembly.Memory }).Memory = Patched;
}

export async function residentChecks(nk: typeof Normkit) {
  const [rows, D] = [64, 300];
  const values = Float32Array.from({ length: rows * D }, (_, i) => Math.sin(i * 0.37) * 3 + 1);
  const plain = nk.tensor(values, [rows, D]);
  const w = nk.tensor(Float32Array.from({ length: D }, (_, j) => 1 + 0.1 * Math.cos(j)), [D]);
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.slice().buffer));
  const same = (a: Float32Array, b: Float32Array) => {
    const [p, q] = [bits(a), bits(b)];
    return p.length === q.length && p.every((v, i) => v === q[i]);
  };
  const x = nk.wasmTensor([rows, D], values), y = nk.wasmTensor([rows, D]), dx = nk.wasmTensor([rows, D]);
  const yPlain = nk.layerNorm(plain, D, { weight: w });
  nk.layerNorm(x, D, { weight: w, out: y });
  const dxPlain = nk.rmsNormBackward(plain, plain, D, { weight: w });
  nk.rmsNormBackward(x, x, D, { weight: w, out: dx });
  // issue #12's job loops on resident arrays (on a plain memory: run on copies, written back; steady.ts):
  // the fused add with h over a resident residual in place, and a float16 x viewing resident memory
  const res = nk.wasmTensor([rows, D], values.map((v) => v * 0.5)), yAdd = nk.wasmTensor([rows, D]);
  const addPlain = nk.addRmsNorm(plain, nk.tensor(values.map((v) => v * 0.5), [rows, D]), D, { weight: w });
  nk.addRmsNorm(x, res, D, { weight: w, out: yAdd, residualOut: res });
  const addBitwise = same(yAdd.data, addPlain.y.data) && same(res.data, addPlain.h.data);
  const half = nk.cast(plain, "float16");
  const x16 = nk.wasmTensor([rows * D / 2]);
  const bits16 = new Uint16Array(x16.data.buffer, x16.data.byteOffset, rows * D);
  bits16.set(half.data as Uint16Array);
  const halfBitwise = same(
    new Float32Array(Uint16Array.from(nk.layerNorm({ shape: [rows, D], data: bits16, dtype: "float16" }, D).data as Uint16Array).buffer),
    new Float32Array(Uint16Array.from(nk.layerNorm(half, D).data as Uint16Array).buffer),
  );
  for (const t of [res, yAdd, x16]) t.free();
  // the float64 reference, within float32 noise
  let refError = 0;
  const ref = nk.reference.rowNormRef(false, values, rows, D, w.data, null, 1e-5);
  for (let i = 0; i < ref.length; i++) refError = Math.max(refError, Math.abs(ref[i]! - y.data[i]!));
  // grow the memory with a view of x kept from before
  const kept = x.data;
  const before = nk.wasmMemory();
  const big = nk.wasmTensor([before.reserved / 4 + (1 << 18)]);
  const after = nk.wasmMemory();
  let keptError: string | null = null;
  try {
    nk.layerNorm({ shape: [rows, D], data: kept }, D);
  } catch (e) {
    keptError = (e as Normkit.NormError).code ?? String(e);
  }
  const yAgain = nk.layerNorm(x, D, { weight: w }).data;
  big.free();
  const result = {
    build: nk.wasmBuild(),
    backend: nk.getBackend(),
    shared: after.shared,
    grew: after.reserved > before.reserved,
    residentForwardBitwise: same(y.data, yPlain.data),
    residentBackwardBitwise: same(dx.data, dxPlain.dx.data),
    refError,
    keptLength: kept.length,
    keptError,
    dataReads: same(x.data, values),
    afterGrowthBitwise: same(yAgain, yPlain.data),
    addBitwise,
    halfBitwise,
  };
  for (const t of [x, y, dx]) t.free();
  return result;
}
