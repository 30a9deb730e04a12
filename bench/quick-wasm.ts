/**
 * Quick internal timing of the wasm backend on one thread (not a test, not the benchmark: see
 * `npm run bench`; threads: bench/quick-threads.ts). Prints median ms and GB/s (bytes read +
 * written) of each way to call LayerNorm/RMSNorm, forward and backward, against the copy floor
 * (Float32Array.prototype.set of the same bytes), and GroupNorm's. Runs rotate between contenders
 * so drifting machine load hits them alike, and ratios are taken round by round (see `race`).
 *   npm run build && node build/bench/quick-wasm.js [reps]
 *   NORMKIT_WASM_BUILD=simd node build/bench/quick-wasm.js              (the baseline build)
 *   node --experimental-wasm-relaxed-simd build/bench/quick-wasm.js     (the FMA build, Node 20)
 *
 * Two floors. "copy" is what this script has always measured: one copy per round, between the
 * other contenders' runs, so its source was last touched a whole round earlier ("cold"); the
 * targets of issue #11 use it. "copy, back to back" repeats the copy 5 times in a row and times the
 * last, with source and destination still hot in the caches, as `npm run bench`'s floor child
 * does (bench/peer-floor.ts: repeated calls on the same arrays for 150 ms slices).
 */
import * as nk from "../src/index.js";
import { backendKernels } from "../src/backends/registry.js";
import { channelAffine, channelScale, groupNormParamGrads } from "../src/backends/js/channel.js";

import { backToBack, race, randn, report } from "./quick-lib.js";

const js = backendKernels("js");
const wasm = backendKernels("wasm");
console.log(`wasm build: ${nk.wasmBuild()}; memory: ${JSON.stringify(nk.wasmMemory())}`);

for (const [rows, D] of [[4096, 768], [1024, 4096]] as const) {
  const n = rows * D;
  const x = randn(n), dy = randn(n), w = randn(D), b = randn(D);
  const y = new Float32Array(n), dx = new Float32Array(n), dst = new Float32Array(n), dst2 = new Float32Array(n);
  // resident: the same values in wasm memory
  const R = {
    x: nk.wasmTensor([rows, D], x), dy: nk.wasmTensor([rows, D], dy), y: nk.wasmTensor([rows, D]), dx: nk.wasmTensor([rows, D]),
    w: nk.wasmTensor([D], w), b: nk.wasmTensor([D], b), mean: nk.wasmTensor([rows]), rstd: nk.wasmTensor([rows]),
    gw: nk.wasmTensor([D]), gb: nk.wasmTensor([D]),
  };
  const P = {
    x: nk.tensor(x, [rows, D]), dy: nk.tensor(dy, [rows, D]), y: nk.tensor(y, [rows, D]), dx: nk.tensor(dx, [rows, D]),
    w: nk.tensor(w, [D]), b: nk.tensor(b, [D]), gw: nk.tensor(new Float32Array(D), [D]), gb: nk.tensor(new Float32Array(D), [D]),
  };
  nk.setBackend("wasm");
  for (const rms of [false, true]) {
    const op = rms ? "rmsNorm" : "layerNorm";
    // as the benchmark calls them: LayerNorm with weight and bias, RMSNorm with weight only
    const opts = (t: typeof R | typeof P) => (rms ? { weight: t.w } : { weight: t.w, bias: t.b });
    const fwd = (t: typeof R | typeof P, out: nk.Tensor | null) => () => void (rms ? nk.rmsNorm : nk.layerNorm)(t.x, D, { ...opts(t), out });
    const copy = () => dst.set(x);
    report(`${op} forward [${rows}, ${D}]`, 8 * n, race({
      copy, "copy, back to back": backToBack(copy),
      "resident x, out": fwd(R, R.y), "resident x, out, back to back": backToBack(fwd(R, R.y)),
      "plain x, out= (streamed)": fwd(P, P.y), "plain x, fresh y": fwd(P, null),
      "kernels on plain arrays": () => (rms
        ? wasm.rmsNormForward(y, new Float32Array(rows), x, w, null, rows, D, 1e-5)
        : wasm.layerNormForward(y, new Float32Array(rows), new Float32Array(rows), x, w, b, rows, D, 1e-5)),
      js: () => (rms ? js.rmsNormForward(y, new Float32Array(rows), x, w, null, rows, D, 1e-5) : js.layerNormForward(y, new Float32Array(rows), new Float32Array(rows), x, w, b, rows, D, 1e-5)),
    }));
    // backward from the statistics forward saved, dx into out, dγ/dβ into reused tensors
    const stats = rms ? { rstd: R.rstd } : { mean: R.mean, rstd: R.rstd };
    const f = rms ? nk.rmsNormForward(R.x, D, opts(R)) : nk.layerNormForward(R.x, D, opts(R));
    R.rstd.data.set(f.rstd.data);
    if (!rms) R.mean.data.set((f as unknown as { mean: nk.Tensor }).mean.data);
    const plainStats = rms ? { rstd: nk.tensor(f.rstd.data, [rows]) } : { mean: nk.tensor((f as unknown as { mean: nk.Tensor }).mean.data, [rows]), rstd: nk.tensor(f.rstd.data, [rows]) };
    const bwd = (t: typeof R | typeof P, s: object) => () =>
      void (rms ? nk.rmsNormBackward : nk.layerNormBackward)(t.dy, t.x, D, { ...opts(t), ...s, out: t.dx, into: rms ? { dweight: t.gw } : { dweight: t.gw, dbias: t.gb } });
    // backward moves x and dy in, dx out: the floor copies the same 12 bytes per element
    const copy2 = () => {
      dst.set(x);
      dst2.set(dy.subarray(0, n >> 1));
    };
    report(`${op} backward [${rows}, ${D}] (saved statistics, out, into)`, 12 * n, race({
      copy: copy2, "copy, back to back": backToBack(copy2),
      "resident": bwd(R, stats), "plain (streamed)": bwd(P, plainStats),
    }));
  }
  for (const t of Object.values(R)) t.free();
}

// GroupNorm [8, 256, 32·32], 32 groups: js (LayerNorm rows, then per-channel passes) vs wasm
// (group rows gathered G apart, the per-channel weight spread over the row kernel's weight)
{
  const [N, C, S, G] = [8, 256, 1024, 32];
  const n = N * C * S;
  const x = randn(n), dy = randn(n), w = randn(C), b = randn(C);
  const y = new Float32Array(n), dx = new Float32Array(n), dst = new Float32Array(n), dst2 = new Float32Array(n);
  const mean = new Float32Array(N * G), rstd = new Float32Array(N * G), dw = new Float32Array(C), db = new Float32Array(C);
  for (const backward of [false, true]) {
    const run = (k: typeof js) => () =>
      backward ? k.groupNormBackward(dx, dw, db, dy, x, mean, rstd, w, N, C, S, G) : k.groupNormForward(y, mean, rstd, x, w, b, N, C, S, G, 1e-5);
    wasm.groupNormForward(y, mean, rstd, x, w, b, N, C, S, G, 1e-5);
    const copy = backward ? () => { dst.set(x); dst2.set(dy.subarray(0, n >> 1)); } : () => dst.set(x);
    // the earlier path: wasm LayerNorm rows, the per-channel work in separate JS passes
    const L = (C / G) * S;
    const g = new Float32Array(n);
    const passes = backward
      ? () => {
        channelScale(g, dy, w, N, C, S);
        wasm.layerNormBackward(dx, null, null, g, x, mean, rstd, null, N * G, L);
        groupNormParamGrads(dw, db, dy, x, mean, rstd, N, C, S, G);
      }
      : () => {
        wasm.layerNormForward(y, mean, rstd, x, null, null, N * G, L, 1e-5);
        channelAffine(y, w, b, N, C, S);
      };
    report(`groupNorm ${backward ? "backward" : "forward"} [${N}, ${C}, ${S}] G=${G}`, (backward ? 12 : 8) * n,
      race({ copy, wasm: run(wasm), "wasm rows + js passes": passes, js: run(js) }));
  }
}
