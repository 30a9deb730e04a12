/** `out`: forward ops write into a caller's tensor (reused buffers, shared memory for the pool). */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { NormError } from "../../src/index.js";
import { assertBitwise, eachBackend, rng } from "../helpers.js";

const r = rng(21);

eachBackend((backend) => {
  for (const op of ["layerNorm", "rmsNorm"] as const) {
    test(`[${backend}] ${op} with out = without (bitwise), written in place and returned`, () => {
      nk.setBackend(backend);
      const x = r.tensor([7, 33], 2, 1), weight = r.tensor([33], 0.5, 1), bias = r.tensor([33]);
      const fresh = nk[op](x, 33, { weight, bias });
      const out = nk.tensor(new Float32Array(7 * 33).fill(NaN), [7, 33]);
      const y = nk[op](x, 33, { weight, bias, out });
      assert.equal(y.data, out.data, "the result is a tensor over out's data");
      assertBitwise(out.data, fresh.data, `${op} out`);
    });
  }
});

test("out: wrong shape or overlapping an input is a NormError", () => {
  const x = r.tensor([4, 8]);
  const bad = (fn: () => unknown, code: string) => {
    const e = (() => { try { fn(); } catch (err) { return err; } })();
    assert.ok(e instanceof NormError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.argument, "out");
  };
  bad(() => nk.layerNorm(x, 8, { out: r.tensor([8, 4]) }), "SHAPE_MISMATCH");
  bad(() => nk.rmsNorm(x, 8, { out: x }), "BAD_ARGUMENT");
  bad(() => nk.layerNorm(x, 8, { out: nk.tensor(new Float32Array(x.data.buffer, 0, 32), [4, 8]) }), "BAD_ARGUMENT");
  bad(() => nk.layerNormBackward(r.tensor([4, 8]), x, 8, { out: x }), "BAD_ARGUMENT");
  const before = x.data.slice();
  assert.throws(() => nk.layerNorm(x, 8, { out: x }));
  assert.deepEqual(x.data, before);
});

test("pool forward with a shared out (written by the workers) and a plain out, = the synchronous result", async () => {
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  try {
    const x = nk.sharedTensor([300, 96], r.tensor([300, 96], 3, 1).data);
    const weight = r.tensor([96], 0.5, 1);
    const want = nk.layerNorm(x, 96, { weight });
    const shared = nk.sharedTensor([300, 96]);
    const y = await pool.layerNorm(x, 96, { weight, out: shared });
    assert.equal(y.data, shared.data);
    assertBitwise(shared.data, want.data, "shared out");
    const plain = nk.tensor(new Float32Array(300 * 96), [300, 96]);
    assertBitwise((await pool.rmsNorm(x, 96, { weight, out: plain })).data, nk.rmsNorm(x, 96, { weight }).data, "plain out");
    assert.equal(plain.data[0], nk.rmsNorm(x, 96, { weight }).data[0]);
  } finally {
    await pool.close();
  }
});

test("sharedTensor: shared zeros or a copy; bad shapes and lengths are NormErrors", () => {
  const t = nk.sharedTensor([2, 3], [1, 2, 3, 4, 5, 6]);
  assert.ok(t.data.buffer instanceof SharedArrayBuffer);
  assert.deepEqual(Array.from(t.data), [1, 2, 3, 4, 5, 6]);
  assert.ok(nk.sharedTensor([4]).data.every((v) => v === 0));
  assert.throws(() => nk.sharedTensor([2, 3], [1, 2]), NormError);
  assert.throws(() => nk.sharedTensor([-1]), NormError);
});
