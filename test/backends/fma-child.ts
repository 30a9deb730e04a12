/**
 * Run by test/backends/resident-env.test.ts as `node --experimental-wasm-relaxed-simd --test …`
 * next to the golden-case and invariance suites: the relaxed-SIMD (FMA) build is the one in use,
 * and the pool equals the synchronous call bitwise on it, as on the baseline build; and
 * `setBackend("wasm", { build: "simd" })` selects the baseline there (its bits printed for the parent
 * to compare with a Node run without relaxed SIMD), for the sync calls and for pools created after.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { assertBitwise, rng } from "../helpers.js";
import { bitwiseError } from "../shared.js";
import { bitsDigest, buildProbe, probeInputs, PROBE } from "./build-probe.js";

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

test("setBackend('wasm', { build: 'simd' }) where relaxed SIMD is the default: the baseline's bits, kept across setBackend calls, on pools created after", async (t) => {
  assert.equal(nk.wasmBuild(), "relaxed-simd");
  const fma = buildProbe(nk);
  nk.setBackend("wasm", { build: "simd" });
  try {
    assert.equal(nk.wasmBuild(), "simd");
    assert.equal(nk.getBackend(), "wasm");
    const base = buildProbe(nk);
    // the parent compares this digest with a Node run's without relaxed SIMD
    t.diagnostic(`baseline-bits ${bitsDigest(base.y, base.dx)}`);
    const differs = bitwiseError(fma.y, base.y, "y") !== null || bitwiseError(fma.dx, base.dx, "dx") !== null;
    t.diagnostic(`fma-differs ${differs}`);
    nk.setBackend("js");
    nk.setBackend("wasm");
    assert.equal(nk.wasmBuild(), "simd", "setBackend without a build keeps the build");
    assertBitwise(buildProbe(nk).y, base.y, "y after setBackend('js'), setBackend('wasm')");
    // a pool created now runs the baseline on every thread (where FMA differs, an FMA pool would fail this)
    const pool = await nk.createPool({ threads: 3, minElements: 0 });
    try {
      const { x, weight, bias } = probeInputs(nk);
      assertBitwise((await pool.layerNorm(x, [PROBE.D], { weight, bias })).data, base.y, "pool y on the baseline");
    } finally {
      await pool.close();
    }
  } finally {
    nk.setBackend("wasm", { build: "relaxed-simd" });
  }
  assert.equal(nk.wasmBuild(), "relaxed-simd");
  assertBitwise(buildProbe(nk).y, fma.y, "y back on the FMA build");
});
