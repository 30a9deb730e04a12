/**
 * Accuracy at every width (issue #9 §1): rows from 1 to 2^20 wide and GroupNorm groups of 10^4
 * to 10^6 values, forward and backward, on `js`, `wasm` and the worker pool, against the float64
 * reference, within 4 × PyTorch's own float32 error on the same inputs (test/fixtures/accuracy.json,
 * tools/gen_accuracy.py). Also the finite rows whose float32 sums used to fail, and the wasm
 * kernels' float64 redo of rows whose float32 squares overflow.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createPool, reference, sharedTensor } from "../../src/index.js";
import { backendKernels, listBackends } from "../../src/backends/registry.js";
import { accuracyError, expectedOf, inputsOf, runKernels as runOn, toleranceUsed, type AccuracyCase, type AccuracyFixture, type Output } from "../accuracy.js";
import { assertBitwise } from "../helpers.js";

const FIXTURE = fileURLToPath(new URL("../../../test/fixtures/accuracy.json", import.meta.url));
const fixture = JSON.parse(readFileSync(FIXTURE, "utf8")) as AccuracyFixture;

type Got = Partial<Record<Output, Float32Array>>;

const runKernels = (name: string, c: AccuracyCase, p: ReturnType<typeof inputsOf>) => runOn(backendKernels(name as "js"), c, p);

for (const c of fixture.cases) {
  test(`accuracy ${c.name}: ${listBackends().join(", ")} within 4 × PyTorch's float32 error`, (t) => {
    const p = inputsOf(c);
    const want = expectedOf(c, p);
    const bad: string[] = [];
    for (const name of listBackends()) {
      const got = runKernels(name, c, p);
      const msg = accuracyError(c, got, want, name);
      if (msg !== null) bad.push(msg);
      const used = toleranceUsed(c, got, want);
      t.diagnostic(`${name}: ${used.output} uses ${(100 * used.share).toFixed(0)}% of its tolerance`);
    }
    assert.deepEqual(bad, []);
  });
}

test("the pool (2 threads) gives the synchronous wasm backend's bits on wide rows and many rows; its dweight/dbias are within tolerance", async () => {
  const pool = await createPool({ threads: 2, minElements: 0 });
  try {
    for (const name of ["ln relu [4, 262144] (issue)", "rms heavy [2, 65539]", "ln relu [65536, 16] many rows", "rms normal [16384, 64] many rows"]) {
      const c = fixture.cases.find((k) => k.name === name)!;
      const p = inputsOf(c);
      const rms = c.op === "rmsNorm";
      const x = sharedTensor([p.rows, p.D], p.x), dy = sharedTensor([p.rows, p.D], p.dy);
      const opts = { weight: p.weight ? { shape: [p.D], data: p.weight } : undefined, bias: p.bias ? { shape: [p.D], data: p.bias } : undefined, eps: c.eps };
      const want = runKernels("wasm", c, p);
      const f = rms ? await pool.rmsNormForward(x, [p.D], opts) : await pool.layerNormForward(x, [p.D], opts);
      const g = rms ? await pool.rmsNormBackward(dy, x, [p.D], opts) : await pool.layerNormBackward(dy, x, [p.D], opts);
      assertBitwise(f.y.data, want.y!, `${name}: pool y`);
      assertBitwise(f.rstd.data, want.rstd!, `${name}: pool rstd`);
      if ("mean" in f) assertBitwise((f.mean as { data: Float32Array }).data, want.mean!, `${name}: pool mean`);
      assertBitwise(g.dx.data, want.dx!, `${name}: pool dx`);
      const got: Got = { y: f.y.data, dx: g.dx.data };
      if (g.dweight) got.dweight = g.dweight.data;
      if (g.dbias) got.dbias = g.dbias.data;
      assert.equal(accuracyError(c, got, expectedOf(c, p), "pool"), null);
    }
  } finally {
    await pool.close();
  }
});

/**
 * Rows whose float32 sums used to fail: the mean of [1e10, −1e10, 1, 2] came out 0, and
 * [3e38, 3e38, −3e38] gave −Inf (its deviations square past float32's 3.4e38; the wasm kernels
 * now redo such rows in float64). PyTorch float32 gets 0.75 for the first and NaN for the second;
 * the float64 reference is the answer for both. Each sits in a batch between ordinary rows, at
 * widths 4 and 3 (scalar code) and spread over 100 values (the f32x4 loops).
 */
function hostileRows(D: number, rms: boolean): Float32Array {
  const x = Float32Array.from({ length: 4 * D }, (_, i) => Math.sin(i) + 0.25);
  const put = (r: number, vals: number[], stride: number) => vals.slice(0, D).forEach((v, j) => (x[r * D + j * stride] = v));
  for (const r of [1, 2]) x.fill(0, r * D, (r + 1) * D);
  const big = rms ? [2e19, -3e19, 1] : [3e38, 3e38, -3e38]; // RMSNorm: x² past 3.4e38
  put(1, [1e10, -1e10, 1, 2], Math.max(1, Math.floor(D / 4)));
  put(2, big, Math.max(1, Math.floor(D / 3)));
  return x;
}

for (const rms of [false, true]) {
  test(`${rms ? "RMSNorm" : "LayerNorm"}: finite rows that overflowed or cancelled float32 sums get the float64 reference's answer on every backend and the pool; other rows keep their bits`, async () => {
    const pool = await createPool({ threads: 2, minElements: 0 });
    try {
      for (const D of [4, 100, 3]) {
        const rows = 4, n = rows * D;
        const x = hostileRows(D, rms);
        const dy = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
        const w = Float32Array.from({ length: D }, (_, i) => 1 + 0.1 * i), b = Float32Array.from({ length: D }, (_, i) => 0.5 - 0.01 * i);
        const eps = 1e-5;
        const yRef = reference.rowNormRef(rms, x, rows, D, w, b, eps);
        const gRef = reference.rowNormBackwardRef(rms, dy, x, rows, D, w, b, eps);
        const sRef = reference.rowStatsRef(rms, x, rows, D, eps);
        const results: Record<string, Got> = {};
        for (const name of listBackends()) {
          const c = { op: rms ? "rmsNorm" : "layerNorm", eps } as AccuracyCase;
          results[name] = runKernels(name, c, { x, dy, weight: w, bias: b, n, D, rows, N: rows, C: 0, S: 0, G: 0 });
        }
        const tx = sharedTensor([rows, D], x);
        const o = { weight: { shape: [D], data: w }, bias: { shape: [D], data: b }, eps };
        const f = rms ? await pool.rmsNormForward(tx, [D], o) : await pool.layerNormForward(tx, [D], o);
        const g = rms ? await pool.rmsNormBackward(sharedTensor([rows, D], dy), tx, [D], o) : await pool.layerNormBackward(sharedTensor([rows, D], dy), tx, [D], o);
        results.pool = { y: f.y.data, rstd: f.rstd.data, dx: g.dx.data, dweight: g.dweight!.data, dbias: g.dbias!.data };
        if ("mean" in f) results.pool.mean = (f.mean as { data: Float32Array }).data;
        for (const [name, got] of Object.entries(results)) {
          const what = `${name} D=${D}`;
          // relative to each output's largest value: the dx of the 3e38 row is ~1e-39 (subnormal)
          const rel = (k: Output, ref: Float64Array, r: number, t = 1e-6) => {
            const seg = (a: ArrayLike<number>) => Array.from(a).slice(r * (k === "mean" || k === "rstd" ? 1 : D), (r + 1) * (k === "mean" || k === "rstd" ? 1 : D));
            const want = seg(ref), have = seg(got[k]!);
            const scale = Math.max(...want.map(Math.abs));
            have.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= t * scale, `${what} row ${r} ${k}[${i}]: ${v}, want ${want[i]}`));
          };
          for (let r = 0; r < rows; r++) {
            rel("y", yRef, r);
            rel("dx", gRef.dx, r, 1e-5);
            rel("rstd", sRef.rstd, r);
            if (!rms) rel("mean", sRef.mean, r);
          }
          // the mean of the cancelling row is the float64 mean, rounded once (0.75 at D = 4)
          if (!rms) assert.equal(got.mean![1], Math.fround(sRef.mean[1]!), `${what}: mean of [1e10, −1e10, 1, 2]`);
          assert.ok(got.dweight!.every(Number.isFinite) && got.dbias!.every(Number.isFinite), `${what}: finite dweight/dbias`);
          for (const k of ["dweight", "dbias"] as const) {
            const ref = (k === "dweight" ? gRef.dweight : gRef.dbias)!;
            const scale = Math.max(...Array.from(ref, Math.abs));
            got[k]!.forEach((v, i) => assert.ok(Math.abs(v - ref[i]!) <= 1e-6 * scale, `${what} ${k}[${i}]: ${v}, want ${ref[i]}`));
          }
        }
        // the slow path is confined to its row: rows 0 and 3 as computed without the others
        const wasm = backendKernels("wasm");
        const alone = new Float32Array(2 * D), m2 = new Float32Array(2), r2 = new Float32Array(2);
        const x03 = new Float32Array(2 * D);
        x03.set(x.subarray(0, D));
        x03.set(x.subarray(3 * D), D);
        if (rms) wasm.rmsNormForward(alone, r2, x03, w, b, 2, D, eps);
        else wasm.layerNormForward(alone, m2, r2, x03, w, b, 2, D, eps);
        assertBitwise(results.wasm!.y!.subarray(0, D), alone.subarray(0, D), `D=${D} row 0`);
        assertBitwise(results.wasm!.y!.subarray(3 * D), alone.subarray(D), `D=${D} row 3`);
        assertBitwise(results.pool.y!, results.wasm!.y!, `D=${D} pool y = sync wasm y`);
        assertBitwise(results.pool.dx!, results.wasm!.dx!, `D=${D} pool dx = sync wasm dx`);
      }
    } finally {
      await pool.close();
    }
  });
}

test("GroupNorm: a group whose float32 squares overflow is redone in float64 (wasm), and matches the reference on every backend", () => {
  const [N, C, S, G] = [2, 4, 5, 2];
  const n = N * C * S;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  x[3] = 3e38; x[7] = 3e38; x[9] = -3e38; // sample 0, group 0
  const dy = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
  const w = Float32Array.from({ length: C }, (_, i) => 1 + 0.5 * i), b = Float32Array.from({ length: C }, (_, i) => 0.1 * i);
  const yRef = reference.groupNormRef(x, N, C, S, G, w, b, 1e-5);
  const gRef = reference.groupNormBackwardRef(dy, x, N, C, S, G, w, b, 1e-5);
  for (const name of listBackends()) {
    const got = runKernels(name, { op: "groupNorm", eps: 1e-5 } as AccuracyCase, { x, dy, weight: w, bias: b, n, D: S, rows: N * C, N, C, S, G });
    for (const [k, ref] of [["y", yRef], ["dx", gRef.dx], ["dweight", gRef.dweight!], ["dbias", gRef.dbias!]] as const) {
      // per group row (10 values): the overflowing group's dx is ~1e-39
      for (let r = 0; r < ref.length / 10; r++) {
        const seg = ref.subarray(r * 10, (r + 1) * 10), scale = Math.max(...Array.from(seg, Math.abs));
        for (let i = 0; i < seg.length; i++) {
          const v = got[k]![r * 10 + i]!;
          assert.ok(Math.abs(v - seg[i]!) <= 1e-5 * scale, `${name} ${k}[${r * 10 + i}]: ${v}, want ${seg[i]}`);
        }
      }
    }
  }
});
