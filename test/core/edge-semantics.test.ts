/**
 * PyTorch's answers on edge semantics (test/fixtures/edge-cases.json, tools/gen_edge_fixtures.py):
 * BatchNorm's cumulative moving average (momentum null), and the statistics of empty rows.
 * On every synchronous backend.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as nk from "../../src/index.js";
import { assertClose, eachBackend } from "../helpers.js";

const fx = JSON.parse(readFileSync(fileURLToPath(new URL("../../../test/fixtures/edge-cases.json", import.meta.url)), "utf8"));
const num = (v: number | "NaN") => (v === "NaN" ? NaN : v);
type Step = { x: number[][]; y: number[]; runningMean: number[]; runningVar: number[]; numBatchesTracked: number };

eachBackend((backend) => {
  test(`[${backend}] BatchNorm momentum null = PyTorch's cumulative average (module and functional)`, () => {
    nk.setBackend(backend);
    const m = new nk.BatchNorm(3, { momentum: null });
    const rm = nk.tensor([0, 0, 0], [3]), rv = nk.tensor([1, 1, 1], [3]);
    (fx.batchnormCma as Step[]).forEach((s, k) => {
      const x = nk.tensor(s.x.flat(), [s.x.length, 3]);
      const y = m.forward(x);
      assertClose(y.data, s.y, 1e-5, `module y, batch ${k}`);
      assertClose(m.runningMean!.data, s.runningMean, 1e-5, `module runningMean, batch ${k}`);
      assertClose(m.runningVar!.data, s.runningVar, 1e-5, `module runningVar, batch ${k}`);
      assert.equal(m.numBatchesTracked, s.numBatchesTracked);
      // functional: the caller passes the batches averaged so far
      const yf = nk.batchNorm(x, { training: true, momentum: null, numBatchesTracked: k, runningMean: rm, runningVar: rv });
      assertClose(yf.data, s.y, 1e-5, `functional y, batch ${k}`);
      assertClose(rm.data, s.runningMean, 1e-5, `functional runningMean, batch ${k}`);
      assertClose(rv.data, s.runningVar, 1e-5, `functional runningVar, batch ${k}`);
    });
    // the count survives a state dict; eval does not count
    const copy = new nk.BatchNorm(3, { momentum: null });
    copy.loadStateDict(JSON.parse(JSON.stringify(m.stateDict())));
    assert.equal(copy.numBatchesTracked, 3);
    m.eval().forward(nk.tensor([1, 2, 3], [1, 3]));
    assert.equal(m.numBatchesTracked, 3);
    assert.throws(() => nk.batchNorm(nk.tensor([1, 2, 3, 4], [2, 2]), { training: true, momentum: null, runningMean: nk.tensor([0, 0], [2]), runningVar: nk.tensor([1, 1], [2]) }),
      (e: unknown) => e instanceof nk.NormError && e.argument === "numBatchesTracked");
  });

  test(`[${backend}] empty rows: PyTorch's mean 0 and rstd NaN, one per row; backward takes them back`, () => {
    nk.setBackend(backend);
    for (const c of fx.emptyRows as Array<{ op: string; shape: number[]; normalizedShape?: number[]; numGroups?: number; y: number[]; mean: Array<number | "NaN">; rstd: Array<number | "NaN"> }>) {
      const x = nk.tensor(new Float32Array(0), c.shape);
      if (c.op === "groupNorm") {
        assert.deepEqual(nk.groupNorm(x, c.numGroups!).shape, c.y);
        const g = nk.groupNormBackward(x, x, c.numGroups!, { weight: nk.tensor(new Float32Array(c.shape[1]).fill(1), [c.shape[1]]) });
        assert.deepEqual(Array.from(g.dweight!.data), new Array(c.shape[1]).fill(0));
        continue;
      }
      const f = nk.layerNormForward(x, c.normalizedShape!);
      assert.deepEqual(f.y.shape, c.y);
      assertClose(f.mean.data, c.mean.map(num), 0, `${c.shape} mean`);
      assertClose(f.rstd.data, c.rstd.map(num), 0, `${c.shape} rstd`);
      const r = nk.rmsNormForward(x, c.normalizedShape!);
      assert.equal(r.rstd.data.length, c.rstd.length);
      assert.ok(r.rstd.data.every(Number.isNaN), "rmsNorm rstd of an empty row is NaN (0/0)");
      const g = nk.layerNormBackward(x, x, c.normalizedShape!, { mean: f.mean, rstd: f.rstd });
      assert.deepEqual(g.dx.shape, c.shape);
      assert.equal(nk.rmsNormBackward(x, x, c.normalizedShape!, { rstd: r.rstd }).dx.data.length, 0);
    }
  });
});

test("pool: empty rows give the synchronous statistics", async () => {
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  try {
    const x = nk.tensor(new Float32Array(0), [3, 0]);
    const f = await pool.layerNormForward(x, [0]);
    assert.deepEqual(Array.from(f.mean.data), [0, 0, 0]);
    assert.ok(f.rstd.data.length === 3 && f.rstd.data.every(Number.isNaN));
    assert.equal((await pool.layerNormBackward(x, x, [0], { mean: f.mean, rstd: f.rstd })).dx.data.length, 0);
  } finally {
    await pool.close();
  }
});
