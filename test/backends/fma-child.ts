/**
 * Run by test/backends/resident-env.test.ts as `node --experimental-wasm-relaxed-simd --test …`
 * next to the golden-case and invariance suites: the relaxed-SIMD (FMA) build is the one in use,
 * and the pool equals the synchronous call bitwise on it, as on the baseline build.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { assertBitwise, rng } from "../helpers.js";

test("the relaxed-SIMD (FMA) build runs where the engine has relaxed SIMD; pool = sync bitwise on it", async () => {
  assert.equal(nk.wasmBuild(), "relaxed-simd");
  const pool = await nk.createPool({ threads: 3, minElements: 0 });
  try {
    const r = rng(9);
    const x = nk.wasmTensor([300, 257], r.tensor([300, 257], 2, 1).data), dy = r.tensor([300, 257]);
    const w = r.tensor([257], 0.5, 1);
    assertBitwise((await pool.layerNorm(x, 257, { weight: w })).data, nk.layerNorm(x, 257, { weight: w }).data, "y");
    assertBitwise((await pool.rmsNormBackward(dy, x, 257, { weight: w })).dx.data, nk.rmsNormBackward(dy, x, 257, { weight: w }).dx.data, "dx");
    x.free();
  } finally {
    await pool.close();
  }
});
