/**
 * Aliasing: an array a call writes (out, into.dweight/dbias, BatchNorm's running statistics) may
 * share no byte with any other argument; arrays only read may alias freely. Every pair of buffers
 * of a backward call, on every synchronous backend (the pool: test/backends/pool-hostile.test.ts);
 * inputs are never modified (bits compared before and after).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { assertBitwise, eachBackend } from "../helpers.js";
import { BACKWARD_BUFFERS, WRITTEN, aliasedBackward, blamed, t, throwsNorm, unchanged, wave } from "./hostile.js";

const rows = 3, D = 5;

eachBackend((backend) => {
  test(`[${backend}] every pair of backward buffers sharing memory: a NormError naming the written one, or (both read) the right answer`, async () => {
    nk.setBackend(backend);
    for (const [i, a] of BACKWARD_BUFFERS.entries()) {
      for (const b of BACKWARD_BUFFERS.slice(i + 1)) {
        const c = aliasedBackward(a, b, rows, D);
        const reads = Object.entries(c.tensors).filter(([n]) => !WRITTEN.includes(n)).map(([, v]) => v);
        const who = blamed(a, b);
        if (who === null) {
          // x = dy, weight = bias, mean = rstd, …: all read-only, so the call is fine
          await unchanged(reads, () => nk.layerNormBackward(...c.args));
          continue;
        }
        await unchanged(Object.values(c.tensors), () => throwsNorm(() => nk.layerNormBackward(...c.args), "BAD_ARGUMENT", who, ["overlapping"]));
      }
    }
  });

  test(`[${backend}] forward: out overlapping x, weight or bias (even partly) is rejected; adjacent halves of one buffer are fine`, async () => {
    nk.setBackend(backend);
    const buf = new ArrayBuffer(4 * 2 * rows * D);
    const x = { shape: [rows, D], data: new Float32Array(buf, 0, rows * D) };
    x.data.forEach((_, i) => (x.data[i] = wave(i)));
    const out = { shape: [rows, D], data: new Float32Array(buf, 4 * rows * D, rows * D) };
    assertBitwise(nk.layerNorm(x, D, { out }).data, nk.layerNorm({ shape: x.shape, data: x.data.slice() }, D).data, "adjacent out");
    const partly = { shape: [rows, D], data: new Float32Array(buf, 4 * (rows * D - 1), rows * D) };
    await unchanged([x], () => throwsNorm(() => nk.rmsNorm(x, D, { out: partly }), "BAD_ARGUMENT", "out", ["overlapping x"]));
    const w = t([D], 1);
    await unchanged([w], () => throwsNorm(() => nk.layerNorm(t([1, D], wave), D, { weight: w, out: { shape: [1, D], data: w.data } }), "BAD_ARGUMENT", "out", ["overlapping weight"]));
  });

  test(`[${backend}] BatchNorm: running statistics aliasing x, weight, bias or each other are rejected; nothing is modified`, async () => {
    nk.setBackend(backend);
    const C = 4;
    const x = t([6, C], wave), w = t([C], 1.5), b = t([C], 0.5);
    const rm = t([C], 0), rv = t([C], 1);
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ["runningMean = runningVar", { runningMean: rm, runningVar: rm }, "runningVar"],
      ["runningMean views x", { runningMean: { shape: [C], data: x.data.subarray(0, C) }, runningVar: rv }, "runningMean"],
      ["runningVar = weight", { runningMean: rm, runningVar: w, weight: w }, "runningVar"],
      ["runningMean = bias", { runningMean: b, runningVar: rv, bias: b }, "runningMean"],
    ];
    for (const [what, o, who] of cases) {
      for (const training of [true, false]) {
        await unchanged([x, w, b, rm, rv], () => throwsNorm(() => nk.batchNorm(x, { training, ...o }), "BAD_ARGUMENT", who, ["overlapping"]));
        await unchanged([x, w, b, rm, rv], () => throwsNorm(() => nk.batchNormBackward(x, x, { training, ...o }), "BAD_ARGUMENT", who));
      }
      assert.ok(what);
    }
    // dy = x and weight = bias are reads only: fine
    await unchanged([x, w], () => nk.batchNormBackward(x, x, { training: true, weight: w, bias: w }));
  });
});
