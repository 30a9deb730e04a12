/**
 * Does the relaxed-SIMD (FMA) build of the kernels pay? Both builds instantiated in one process on
 * the same memory, run in place on the same resident rows, alternating round by round (rotated
 * order); the ratio relaxed ÷ baseline is taken per round, its median and 25–75% range printed,
 * for wall and for this process's CPU time (the steadier one on a shared machine).
 *   npm run build && node --experimental-wasm-relaxed-simd build/bench/fma-cost.js [reps]
 * (Node 20 validates relaxed SIMD only behind that flag; Chromium does by default.)
 */
import * as nk from "../src/index.js";
import { wasmHeap } from "../src/backends/wasm/index.js";
import { kernelsModule } from "../src/backends/wasm/module.js";
import { KernelInstance } from "../src/backends/wasm/runtime.js";
import { race, randn, report } from "./quick-lib.js";

const simd = kernelsModule(true, "simd"), fma = kernelsModule(true, "relaxed-simd");
if (wasmHeap === null || simd === null || fma === null) {
  console.log("relaxed SIMD is not available here: run with node --experimental-wasm-relaxed-simd");
  process.exit(0);
}
const k = { simd: new KernelInstance(simd, wasmHeap.memory), fma: new KernelInstance(fma, wasmHeap.memory) };

for (const [rows, D] of [[4096, 768], [1024, 4096]] as const) {
  const n = rows * D;
  const t = (a?: Float32Array) => nk.wasmTensor([rows, D], a);
  const x = t(randn(n)), dy = t(randn(n)), y = t(), dx = t();
  const p = (a: Float32Array) => nk.wasmTensor([a.length], a);
  const w = p(randn(D)), b = p(randn(D)), mean = p(new Float32Array(rows)), rstd = p(new Float32Array(rows));
  const sums = nk.wasmTensor([4 * D + 16 * 32]); // dw64, db64 (float64) and the backward's scratch
  const [DW, DB, AC] = [sums.byteOffset, sums.byteOffset + 8 * D, sums.byteOffset + 16 * D];
  for (const rms of [false, true]) {
    const M = rms ? 0 : mean.byteOffset;
    const fwd = (i: KernelInstance) => () => i.forwardRows(y.byteOffset, M, rstd.byteOffset, x.byteOffset, w.byteOffset, rms ? 0 : b.byteOffset, 0, rows, D, 1e-5);
    const bwd = (i: KernelInstance) => () => i.backwardRows(dx.byteOffset, DW, DB, AC, dy.byteOffset, x.byteOffset, M, rstd.byteOffset, w.byteOffset, 0, rows, D);
    const op = rms ? "rmsNorm" : "layerNorm";
    report(`${op} forward [${rows}, ${D}], in place`, 8 * n, race({ "simd (baseline)": fwd(k.simd), "relaxed-simd (FMA)": fwd(k.fma) }));
    fwd(k.simd)();
    report(`${op} backward [${rows}, ${D}], in place`, 12 * n, race({ "simd (baseline)": bwd(k.simd), "relaxed-simd (FMA)": bwd(k.fma) }));
  }
  // the two builds agree to float32 rounding, not bitwise
  fwd2(k.simd);
  const a = y.data.slice();
  fwd2(k.fma);
  let diff = 0;
  for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(a[i]! - y.data[i]!));
  console.log(`  max |y(simd) − y(relaxed-simd)| over [${rows}, ${D}]: ${diff.toExponential(2)}`);
  for (const a2 of [x, dy, y, dx, w, b, mean, rstd, sums]) a2.free();

  function fwd2(i: KernelInstance) {
    i.forwardRows(y.byteOffset, mean.byteOffset, rstd.byteOffset, x.byteOffset, w.byteOffset, b.byteOffset, 0, rows, D, 1e-5);
  }
}
