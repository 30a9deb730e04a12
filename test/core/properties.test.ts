/**
 * Property-based tests (fast-check) of the public ops against the float64 reference, once per
 * backend: random shapes, affine on/off, and hostile rows (large offsets, tiny scales, constant
 * rows, huge magnitudes, NaN/Inf). Also: inputs are never modified, and a NaN/Inf stays in its row.
 *
 * Tolerance: float32 kernels lose accuracy in proportion to how far values sit from the row mean
 * in units of σ (cancellation in x − μ), so the allowed error is (2e-5 + 4e-6·cond)·scale, with
 * cond = max_row max|x|·rstd and scale the natural size of each output. A wrong formula misses by O(1).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as nk from "../../src/index.js";
import { reference as ref } from "../../src/index.js";
import { eachBackend } from "../helpers.js";

type RowKind = "normal" | "offset" | "tiny" | "constant" | "huge" | "nan" | "inf";
const rowKinds: RowKind[] = ["normal", "normal", "normal", "offset", "tiny", "constant", "huge", "nan", "inf"];

/** Row-structured float32 data with a chosen kind per row. */
const rowsArb = (maxRows: number, maxD: number) =>
  fc.record({
    rows: fc.integer({ min: 0, max: maxRows }),
    D: fc.integer({ min: 1, max: maxD }),
    seed: fc.integer(),
    kinds: fc.array(fc.constantFrom(...rowKinds), { minLength: maxRows, maxLength: maxRows }),
    affine: fc.boolean(),
    withBias: fc.boolean(),
    eps: fc.constantFrom(undefined, 1e-5, 1e-6, 1e-3),
  });

function makeData(rows: number, D: number, kinds: RowKind[], seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const n = () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
  const x = new Float32Array(rows * D);
  for (let r = 0; r < rows; r++) {
    const k = kinds[r];
    const c = n() * 3;
    for (let i = 0; i < D; i++) {
      const v = k === "offset" ? 1e4 + n() : k === "tiny" ? 1e-4 * n() : k === "constant" ? c : k === "huge" ? 1e15 * n() : n() * 2 + 0.5;
      x[r * D + i] = v;
    }
    if (k === "nan") x[r * D + Math.floor(u() * D)] = NaN;
    if (k === "inf") x[r * D + Math.floor(u() * D)] = u() < 0.5 ? Infinity : -Infinity;
  }
  return x;
}

function vecOf(n: number, seed: number, base: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = base + Math.sin(seed + i * 1.7) * 0.8;
  return v;
}

/** max over rows of max|x − centre|·rstd: how badly float32 cancellation can hurt this input. */
function condition(x: Float32Array, rows: number, D: number, rms: boolean, eps: number): number {
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    let s = 0, ss = 0, mx = 0;
    for (let i = 0; i < D; i++) s += x[r * D + i];
    const m = rms ? 0 : s / D;
    for (let i = 0; i < D; i++) {
      ss += (x[r * D + i] - m) ** 2;
      mx = Math.max(mx, Math.abs(x[r * D + i]));
    }
    const c = mx / Math.sqrt(ss / D + eps);
    if (Number.isFinite(c)) worst = Math.max(worst, c);
  }
  return worst;
}

function maxAbsFinite(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function check(got: Float32Array, want: Float64Array, tol: number, what: string) {
  for (let i = 0; i < want.length; i++) {
    const w = want[i], g = got[i];
    if (Number.isNaN(w)) assert.ok(Number.isNaN(g), `${what}[${i}]: expected NaN, got ${g}`);
    else if (!Number.isFinite(w)) assert.equal(g, w, `${what}[${i}]`);
    else assert.ok(Math.abs(g - w) <= tol, `${what}[${i}]: got ${g}, want ${w}, tolerance ${tol}`);
  }
}

const snapshot = (...arrs: (Float32Array | null)[]) => arrs.map((a) => (a ? Uint32Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)) : null));
function assertUnchanged(before: (Uint32Array | null)[], ...arrs: (Float32Array | null)[]) {
  arrs.forEach((a, k) => {
    if (a) assert.deepEqual(new Uint32Array(a.buffer, a.byteOffset, a.length), before[k], "an input was modified");
  });
}

eachBackend((backend) => {
  for (const rms of [false, true]) {
    const name = rms ? "rmsNorm" : "layerNorm";
    test(`[${backend}] property: ${name} forward/backward match the float64 reference on hostile inputs`, () => {
      fc.assert(
        fc.property(rowsArb(6, 70), ({ rows, D, seed, kinds, affine, withBias, eps }) => {
          nk.setBackend(backend);
          const x = makeData(rows, D, kinds, seed);
          const dy = makeData(rows, D, kinds.map(() => "normal"), seed + 1);
          const weight = affine ? vecOf(D, seed, 1) : null;
          const bias = affine && withBias ? vecOf(D, seed + 2, 0) : null;
          const e = eps ?? (rms ? nk.RMS_NORM_EPS : nk.LAYER_NORM_EPS);
          const opts = { weight: weight && nk.tensor(weight, [D]), bias: bias && nk.tensor(bias, [D]), eps };
          const before = snapshot(x, dy, weight, bias);
          const X = nk.tensor(x, [rows, D]);
          const [fwd, bwd] = rms ? [nk.rmsNorm, nk.rmsNormBackward] : [nk.layerNorm, nk.layerNormBackward];
          const y = fwd(X, [D], opts);
          const g = bwd(nk.tensor(dy, [rows, D]), X, [D], opts);
          assertUnchanged(before, x, dy, weight, bias);

          const cond = condition(x, rows, D, rms, e);
          const rel = 2e-5 + 4e-6 * cond;
          const yRef = ref.rowNormRef(rms, x, rows, D, weight, bias, e);
          const gRef = ref.rowNormBackwardRef(rms, dy, x, rows, D, weight, bias, e);
          const wMax = weight ? maxAbsFinite(weight) : 1;
          check(y.data, yRef, rel * Math.max(1, maxAbsFinite(yRef)) * Math.max(1, wMax), `${name} y`);
          // dx ~ rstd·|dy·γ|: scale by the largest rstd·|g| over finite rows
          let dxScale = 0;
          for (let r = 0; r < rows; r++) {
            const row = x.subarray(r * D, (r + 1) * D);
            const c = rms ? 0 : row.reduce((a, b) => a + b, 0) / D;
            const rs = 1 / Math.sqrt(row.reduce((a, b) => a + (b - c) ** 2, 0) / D + e);
            if (Number.isFinite(rs)) dxScale = Math.max(dxScale, rs * maxAbsFinite(dy.subarray(r * D, (r + 1) * D)) * wMax);
          }
          check(g.dx.data, gRef.dx, rel * Math.max(1e-30, dxScale) * 4, `${name} dx`);
          assert.equal(g.dweight === null, weight === null);
          assert.equal(g.dbias === null, bias === null);
          if (g.dweight) check(g.dweight.data, gRef.dweight!, rel * Math.max(1, rows) * maxAbsFinite(dy) * Math.max(1, cond), `${name} dweight`);
          if (g.dbias) check(g.dbias.data, gRef.dbias!, 1e-5 * Math.max(1, rows) * maxAbsFinite(dy), `${name} dbias`);

          // a NaN/Inf stays in its row: every other row's outputs are finite
          for (let r = 0; r < rows; r++) {
            const finiteRow = x.subarray(r * D, (r + 1) * D).every(Number.isFinite);
            if (finiteRow) {
              assert.ok(y.data.subarray(r * D, (r + 1) * D).every(Number.isFinite), `row ${r} y poisoned`);
              assert.ok(g.dx.data.subarray(r * D, (r + 1) * D).every(Number.isFinite), `row ${r} dx poisoned`);
            }
          }
        }),
        { numRuns: 150, seed: 42 },
      );
    });
  }

  test(`[${backend}] property: groupNorm and batchNorm match the float64 reference`, () => {
    fc.assert(
      fc.property(
        fc.record({
          N: fc.integer({ min: 1, max: 4 }),
          G: fc.integer({ min: 1, max: 3 }),
          Cg: fc.integer({ min: 1, max: 3 }),
          S: fc.integer({ min: 1, max: 9 }),
          seed: fc.integer(),
          affine: fc.boolean(),
          training: fc.boolean(),
          offset: fc.constantFrom(0, 0, 100),
        }),
        ({ N, G, Cg, S, seed, affine, training, offset }) => {
          nk.setBackend(backend);
          const C = G * Cg;
          const x = makeData(N * C, S, Array(N * C).fill("normal"), seed).map((v) => v + offset);
          const dy = makeData(N * C, S, Array(N * C).fill("normal"), seed + 5);
          const weight = affine ? vecOf(C, seed, 1) : null;
          const bias = affine ? vecOf(C, seed + 3, 0) : null;
          const w = weight && nk.tensor(weight, [C]);
          const b = bias && nk.tensor(bias, [C]);
          const X = nk.tensor(x, [N, C, S]);
          const DY = nk.tensor(dy, [N, C, S]);
          const tol = 2e-4 * (1 + offset);

          const y = nk.groupNorm(X, G, { weight: w, bias: b });
          const g = nk.groupNormBackward(DY, X, G, { weight: w, bias: b });
          check(y.data, ref.groupNormRef(x, N, C, S, G, weight, bias, 1e-5), tol * 4, "groupNorm y");
          const gr = ref.groupNormBackwardRef(dy, x, N, C, S, G, weight, bias, 1e-5);
          check(g.dx.data, gr.dx, tol * 20, "groupNorm dx");
          if (g.dweight) check(g.dweight.data, gr.dweight!, tol * 10 * N * S, "groupNorm dweight");

          if (training && N * S < 2) return;
          const rm = vecOf(C, seed + 9, 0.1), rv = vecOf(C, seed + 11, 1.5);
          const o = { weight, bias, runningMean: Float64Array.from(rm), runningVar: Float64Array.from(rv), training, momentum: 0.1, eps: 1e-5 };
          const bref = ref.batchNormRef(x, N, C, S, o);
          const bgr = ref.batchNormBackwardRef(dy, x, N, C, S, o);
          const rmT = nk.tensor(rm.slice(), [C]), rvT = nk.tensor(rv.slice(), [C]);
          const bgot = nk.batchNormBackward(DY, X, { weight: w, bias: b, runningMean: rmT, runningVar: rvT, training });
          const by = nk.batchNorm(X, { weight: w, bias: b, runningMean: rmT, runningVar: rvT, training });
          check(by.data, bref.y, tol * 4, "batchNorm y");
          check(rmT.data, bref.runningMean!, 1e-5 * (1 + offset), "runningMean");
          check(rvT.data, bref.runningVar!, 1e-4, "runningVar");
          check(bgot.dx.data, bgr.dx, tol * 20, "batchNorm dx");
          if (bgot.dweight) check(bgot.dweight.data, bgr.dweight!, tol * 10 * N * S, "batchNorm dweight");
          if (bgot.dbias) check(bgot.dbias.data, bgr.dbias!, 1e-5 * N * S * 4, "batchNorm dbias");
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });
});
