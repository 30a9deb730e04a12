/**
 * The wasm backend's kernels against the float64 reference over many widths (every tail length of
 * the f32x4 loops, 127, 768, 4097) and hostile rows, plus the row-grid invariants the worker pool
 * relies on: a row's bits do not depend on batch size or on how rows are split between runtimes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as nk from "../../src/index.js";
import { backendKernels, getBackend } from "../../src/backends/registry.js";
import { kernelsModule, splitRows, WasmRuntime } from "../../src/backends/wasm/runtime.js";
import { wasmKernels } from "../../src/backends/wasm/index.js";
import { KERNELS_WASM_BASE64 } from "../../src/backends/wasm/kernels.generated.js";
import { assertBitwise, assertClose, rng } from "../helpers.js";

const WIDTHS = [...Array.from({ length: 70 }, (_, i) => i + 1), 127, 768, 4097];

test("wasm is registered and is the default synchronous backend in Node", () => {
  assert.ok(wasmKernels !== null, "WebAssembly SIMD should be available in Node ≥ 20");
  assert.ok(nk.listBackends().includes("wasm"));
  assert.equal(getBackend(), "wasm");
});

test("the kernels module stays small: under 32 KB (issue #12 took it past older Chromium's 4 KB main-thread limit; Chromium 156 compiles 8 MB synchronously)", () => {
  // the synchronous compile on a page's main thread is checked in Chromium by test/backends/browser-pool.test.ts
  assert.ok(atob(KERNELS_WASM_BASE64).length < 32768, `${atob(KERNELS_WASM_BASE64).length} bytes`);
});

test("without WebAssembly the ops fall back to js silently, and createPool says why it cannot run", () => {
  const index = new URL("../../src/index.js", import.meta.url).href;
  const script = `
    delete globalThis.WebAssembly;
    const nk = await import(${JSON.stringify(index)});
    const y = nk.layerNorm(nk.tensor([1, 2, 3, 4], [2, 2]), 2);
    let pool = "created";
    try { await nk.createPool({ threads: 1 }); } catch (e) { pool = e.code; }
    const ref = Array.from(nk.reference.rowNormRef(false, [1, 2, 3, 4], 2, 2, null, null, 1e-5));
    console.log(JSON.stringify({ backend: nk.getBackend(), backends: nk.listBackends(), y: Array.from(y.data), ref, pool }));`;
  const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }));
  assert.equal(out.backend, "js");
  assert.deepEqual(out.backends, ["js"]);
  assertClose(out.y, out.ref, 1e-6, "y on the js fallback");
  assert.equal(out.pool, "BACKEND_UNAVAILABLE");
});

type Kind = "normal" | "offset" | "huge" | "tiny" | "overflow" | "constant";
/** Rows of one kind: x = offset + scale·N(0, 1) with the kind's offset/scale. */
function rowsOf(kind: Kind, rows: number, D: number, seed: number): Float32Array {
  const r = rng(seed);
  const [off, sc] = { normal: [0.5, 2], offset: [1e4, 1], huge: [0, 1e15], tiny: [0, 1e-4], overflow: [0, 1e25], constant: [3.25, 0] }[kind];
  const x = new Float32Array(rows * D);
  for (let i = 0; i < x.length; i++) x[i] = off + sc * r.normal();
  return x;
}

/**
 * Error bound of the row kernels, relative to the output's scale: their sums fold into float64
 * every 256 values, so it does not grow with D (it was 1e-6·√D with float32 row sums); the wide
 * rows, up to 2^20, are in test/backends/accuracy.test.ts.
 */
const tol = (_D: number) => 1e-6;

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
const div = (a: ArrayLike<number>, s: number) => Float64Array.from(a, (v) => v / s);

for (const rms of [false, true]) {
  const op = rms ? "rmsNorm" : "layerNorm";
  for (const kind of ["normal", "offset", "huge", "tiny", "overflow", "constant"] as Kind[]) {
    // Forward against the float64 reference. Backward against the js backend (float64 sums) fed the
    // same float32 mean/rstd: the statistics the interface passes in carry |μ|·2⁻²⁴ of rounding,
    // which ill-conditioned rows (1e4 + noise, σ ≪ 1) amplify in dx alike in every backend; the
    // kernels' own error is what is tested. Well-conditioned rows also go end to end below.
    test(`wasm ${op} ${kind} rows: forward vs float64 reference, backward vs js, widths 1..70, 127, 768, 4097`, () => {
      const wa = backendKernels("wasm");
      const js = backendKernels("js");
      for (const D of WIDTHS) {
        if (kind !== "normal" && D > 70 && D !== 4097) continue;
        const rows = 3;
        const x = rowsOf(kind, rows, D, D * 7 + 1);
        const r = rng(D);
        const dy = Float32Array.from({ length: rows * D }, () => r.normal());
        const w = Float32Array.from({ length: D }, () => 1 + 0.5 * r.normal());
        const b = Float32Array.from({ length: D }, () => r.normal());
        const eps = 1e-5;
        const y = new Float32Array(rows * D);
        const mean = new Float32Array(rows);
        const rstd = new Float32Array(rows);
        if (rms) wa.rmsNormForward(y, rstd, x, w, b, rows, D, eps);
        else wa.layerNormForward(y, mean, rstd, x, w, b, rows, D, eps);
        assertClose(y, nk.reference.rowNormRef(rms, x, rows, D, w, b, eps), tol(D), `${op} ${kind} D=${D} y`);
        const got = { dx: new Float32Array(rows * D), dw: new Float32Array(D).fill(0.5), db: new Float32Array(D).fill(-0.25) };
        const want = { dx: new Float32Array(rows * D), dw: new Float32Array(D).fill(0.5), db: new Float32Array(D).fill(-0.25) };
        for (const [k, o] of [[wa, got], [js, want]] as const) {
          // dw/db start non-zero: accumulation (+=) is part of the contract
          if (rms) k.rmsNormBackward(o.dx, o.dw, o.db, dy, x, rstd, w, rows, D);
          else k.layerNormBackward(o.dx, o.dw, o.db, dy, x, mean, rstd, w, rows, D);
        }
        // compare relative to the size of the terms (dx can cancel to ~0, e.g. D = 1 or 2):
        // dx ~ rstd·|dy·w|, dweight ~ rows·|dy|·|x̂|, dbias ~ rows·|dy|
        const xhat = Float64Array.from(x, (v, i) => (v - (rms ? 0 : mean[Math.floor(i / D)])) * rstd[Math.floor(i / D)]);
        const scales = {
          dx: maxAbs(rstd) * maxAbs(dy) * maxAbs(w),
          dw: rows * maxAbs(dy) * maxAbs(xhat),
          db: rows * maxAbs(dy),
        };
        for (const k of ["dx", "dw", "db"] as const) {
          const s = scales[k];
          assertClose(div(got[k], s), div(want[k], s), tol(D), `${op} ${kind} D=${D} ${k}`);
        }
        if (kind === "normal") {
          const ref = nk.reference.rowNormBackwardRef(rms, dy, x, rows, D, w, b, eps);
          assertClose(got.dx, ref.dx, 2 * tol(D), `${op} D=${D} dx vs reference`);
          assertClose(got.dw, ref.dweight!.map((v) => v + 0.5), 2 * tol(D) * rows, `${op} D=${D} dweight vs reference`);
          assertClose(got.db, ref.dbias!.map((v) => v - 0.25), 2 * tol(D) * rows, `${op} D=${D} dbias vs reference`);
        }
      }
    });
  }
}

test("wasm: a NaN or Inf poisons only its own row, forward and backward", () => {
  const k = backendKernels("wasm");
  for (const D of [5, 16, 33]) {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const rows = 3;
      const x = rowsOf("normal", rows, D, D);
      const dy = rowsOf("normal", rows, D, D + 1);
      x[D + (D >> 1)] = bad; // row 1
      const y = new Float32Array(rows * D);
      const mean = new Float32Array(rows);
      const rstd = new Float32Array(rows);
      k.layerNormForward(y, mean, rstd, x, null, null, rows, D, 1e-5);
      const dx = new Float32Array(rows * D);
      k.layerNormBackward(dx, null, null, dy, x, mean, rstd, null, rows, D);
      for (const out of [y, dx]) {
        for (let i = 0; i < rows * D; i++) {
          const row = Math.floor(i / D);
          if (row === 1) assert.ok(!Number.isFinite(out[i]), `row 1 should be non-finite at ${i} (D=${D}, ${bad})`);
          else assert.ok(Number.isFinite(out[i]), `row ${row} should stay finite (D=${D}, ${bad})`);
        }
      }
      const clean = rowsOf("normal", rows, D, D);
      const yc = new Float32Array(rows * D);
      k.layerNormForward(yc, mean, rstd, clean, null, null, rows, D, 1e-5);
      assertBitwise(y.subarray(0, D), yc.subarray(0, D), "row 0 untouched by row 1's NaN/Inf");
      assertBitwise(y.subarray(2 * D), yc.subarray(2 * D), "row 2 untouched by row 1's NaN/Inf");
    }
  }
});

test("wasm: a row's y, mean, rstd, dx are bitwise the same alone and at any position in any batch", () => {
  const k = backendKernels("wasm");
  // from many rows per chunk (D = 3, 17) to one row per chunk (D = 20000 > the 16 Ki-float chunk)
  for (const D of [3, 17, 768, 4097, 20000]) {
    const rows = D >= 4097 ? 5 : 70; // 70 rows of D=3 cross the 32-row flush grid and chunks
    const x = rowsOf("offset", rows, D, D);
    const dy = rowsOf("normal", rows, D, D + 3);
    const w = rowsOf("normal", 1, D, 9);
    const all = { y: new Float32Array(rows * D), m: new Float32Array(rows), s: new Float32Array(rows), dx: new Float32Array(rows * D) };
    k.layerNormForward(all.y, all.m, all.s, x, w, null, rows, D, 1e-5);
    k.layerNormBackward(all.dx, null, null, dy, x, all.m, all.s, w, rows, D);
    for (const [lo, hi] of [[0, 1], [rows - 1, rows], [1, rows], [Math.floor(rows / 2), rows - 1]]) {
      const n = hi - lo;
      const y = new Float32Array(n * D), m = new Float32Array(n), s = new Float32Array(n), dx = new Float32Array(n * D);
      k.layerNormForward(y, m, s, x.slice(lo * D, hi * D), w, null, n, D, 1e-5);
      k.layerNormBackward(dx, null, null, dy.slice(lo * D, hi * D), x.slice(lo * D, hi * D), m, s, w, n, D);
      assertBitwise(y, all.y.subarray(lo * D, hi * D), `y D=${D} rows ${lo}..${hi}`);
      assertBitwise(m, all.m.subarray(lo, hi), `mean D=${D} rows ${lo}..${hi}`);
      assertBitwise(s, all.s.subarray(lo, hi), `rstd D=${D} rows ${lo}..${hi}`);
      assertBitwise(dx, all.dx.subarray(lo * D, hi * D), `dx D=${D} rows ${lo}..${hi}`);
    }
  }
});

test("wasm runtimes: rows split over 1..4 runtimes (as over pool threads) give the same bits", () => {
  const module = kernelsModule()!;
  const rts = [0, 1, 2, 3].map(() => new WasmRuntime(module));
  for (const rms of [false, true]) {
    for (const D of [5, 256, 1000]) {
      const rows = 300;
      const x = rowsOf("normal", rows, D, D);
      const dy = rowsOf("normal", rows, D, D + 1);
      const w = rowsOf("normal", 1, D, 2);
      const run = (parts: number) => {
        const y = new Float32Array(rows * D), mean = new Float32Array(rows), rstd = new Float32Array(rows), dx = new Float32Array(rows * D);
        const dw = new Float64Array(D), db = new Float64Array(D);
        splitRows(rows, D, parts, rts[0].flush).forEach(([r0, r1], t) => {
          rts[t].forward(y, rms ? null : mean, rstd, x, w, null, r0, r1, D, 1e-5);
          const g = rts[t].backward(dx, dy, x, rms ? null : mean, rstd, w, r0, r1, D);
          for (let i = 0; i < D; i++) {
            dw[i] += g.dw[i];
            db[i] += g.db[i];
          }
        });
        return { y, mean, rstd, dx, dw: Float32Array.from(dw), db: Float32Array.from(db) };
      };
      const one = run(1);
      for (const parts of [2, 3, 4]) {
        const p = run(parts);
        for (const k of ["y", "mean", "rstd", "dx"] as const) assertBitwise(p[k], one[k], `${k} D=${D} parts=${parts}`);
        // dweight/dbias: the same float32 row blocks summed in float64 in another association
        assertClose(p.dw, one.dw, 1e-6 * rows, `dweight D=${D} parts=${parts}`);
        assertClose(p.db, one.db, 1e-6 * rows, `dbias D=${D} parts=${parts}`);
      }
    }
  }
});

test("wasm and js agree within float32 noise on a large random case", () => {
  const js = backendKernels("js");
  const wa = backendKernels("wasm");
  const rows = 64, D = 1000;
  const x = rowsOf("normal", rows, D, 5);
  const ys = [js, wa].map((k) => {
    const y = new Float32Array(rows * D);
    k.layerNormForward(y, new Float32Array(rows), new Float32Array(rows), x, null, null, rows, D, 1e-5);
    return y;
  });
  assertClose(ys[1], ys[0], 1e-5, "wasm vs js y");
});

test("wasm GroupNorm (strided group rows, per-channel affine inside the row kernel) = the float64 reference; rows independent", () => {
  const r = rng(77);
  const wasm = backendKernels("wasm");
  // tiny groups (many rows per chunk), a group wider than a chunk, and a middle case
  for (const [N, C, S, G] of [[300, 4, 2, 2], [3, 8, 5000, 2], [5, 12, 33, 3]]) {
    const n = N * C * S, L = (C / G) * S;
    const x = r.tensor([n], 2, 1).data, dy = r.tensor([n]).data;
    const w = r.tensor([C], 0.5, 1).data, b = r.tensor([C]).data;
    x[L + 3] = NaN; // row (0, 1): its own row only
    const y = new Float32Array(n), mean = new Float32Array(N * G), rstd = new Float32Array(N * G);
    wasm.groupNormForward(y, mean, rstd, x, w, b, N, C, S, G, 1e-5);
    const yRef = nk.reference.groupNormRef(x, N, C, S, G, w, b, 1e-5);
    for (let row = 0; row < N * G; row++) {
      const seg = (a: ArrayLike<number>) => Array.from({ length: L }, (_, i) => a[row * L + i]!);
      if (row === 1) assert.ok(seg(y).every(Number.isNaN), "the NaN row is NaN");
      else assertClose(seg(y), seg(yRef), 1e-5 * Math.sqrt(L) + 1e-5, `[${N},${C},${S}] G=${G} y row ${row}`);
    }
    x[L + 3] = 0.5;
    wasm.groupNormForward(y, mean, rstd, x, w, b, N, C, S, G, 1e-5);
    const dx = new Float32Array(n), dw = new Float32Array(C), db = new Float32Array(C);
    wasm.groupNormBackward(dx, dw, db, dy, x, mean, rstd, w, N, C, S, G);
    const g = nk.reference.groupNormBackwardRef(dy, x, N, C, S, G, w, b, 1e-5);
    assertClose(dx, g.dx, 1e-4, `[${N},${C},${S}] G=${G} dx`);
    assertClose(dw, g.dweight!, 1e-5 * N * S, `[${N},${C},${S}] G=${G} dweight`);
    assertClose(db, g.dbias!, 1e-5 * N * S, `[${N},${C},${S}] G=${G} dbias`);
    // the last sample alone gives its bits inside the batch
    const last = x.subarray((N - 1) * C * S);
    const y1 = new Float32Array(C * S);
    wasm.groupNormForward(y1, new Float32Array(G), new Float32Array(G), last, w, b, 1, C, S, G, 1e-5);
    assertBitwise(y1, y.subarray((N - 1) * C * S), `[${N},${C},${S}] G=${G} last sample alone`);
  }
});
