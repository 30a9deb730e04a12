/**
 * Options objects as a hostile user writes them: misspelled and unknown keys (a NormError naming
 * the key and the closest valid one), null options, booleans as strings, getters and proxies, and
 * polluted prototypes (Object.prototype.weight = … changes nothing). Every public entry point, on
 * every synchronous backend (the pool: test/backends/pool-hostile.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { assertBitwise, eachBackend } from "../helpers.js";
import { t, throwsNorm, unchanged, wave, withPolluted } from "./hostile.js";

const x = t([4, 6], wave), dy = t([4, 6], (i) => wave(i + 3));
const w6 = t([6], (i) => 1 + i / 10), b6 = t([6], (i) => i / 7 - 0.3);
const x3 = t([5, 4, 3], wave), dy3 = t([5, 4, 3], (i) => wave(i + 1));
const w4 = t([4], (i) => 1 + i / 3), b4 = t([4], (i) => -i / 5);

/** [call, the misspelled key, the key it should suggest] for every op entry point. */
const typos: Array<[string, () => unknown, string, string | null]> = [
  ["layerNorm epsilon", () => nk.layerNorm(x, 6, { epsilon: 1e-3 } as never), "epsilon", "eps"],
  ["layerNorm weigth", () => nk.layerNorm(x, 6, { weigth: w6 } as never), "weigth", "weight"],
  ["layerNormForward Bias", () => nk.layerNormForward(x, 6, { Bias: b6 } as never), "Bias", "bias"],
  ["layerNormBackward output", () => nk.layerNormBackward(dy, x, 6, { output: t([4, 6]) } as never), "output", "out"],
  ["layerNormBackward into.dweigth", () => nk.layerNormBackward(dy, x, 6, { weight: w6, into: { dweigth: t([6]) } } as never), "into.dweigth", "dweight"],
  ["rmsNorm gamma", () => nk.rmsNorm(x, 6, { gamma: w6 } as never), "gamma", "weight"],
  ["rmsNormForward EPS", () => nk.rmsNormForward(x, 6, { EPS: 1e-3 } as never), "EPS", "eps"],
  ["rmsNormBackward r_std", () => nk.rmsNormBackward(dy, x, 6, { r_std: t([4]) } as never), "r_std", "rstd"],
  ["batchNorm running_mean", () => nk.batchNorm(x3, { training: true, running_mean: t([4], 0) } as never), "running_mean", "runningMean"],
  ["batchNorm is_training", () => nk.batchNorm(x3, { is_training: true } as never), "is_training", "training"],
  ["batchNormBackward momentun", () => nk.batchNormBackward(dy3, x3, { training: true, momentun: 0.2 } as never), "momentun", "momentum"],
  ["groupNorm out (groupNorm has none)", () => nk.groupNorm(x3, 2, { out: t([5, 4, 3]) } as never), "out", null],
  ["groupNormBackward num_groups", () => nk.groupNormBackward(dy3, x3, 2, { num_groups: 2 } as never), "num_groups", null],
];

eachBackend((backend) => {
  test(`[${backend}] unknown option keys: UNKNOWN_OPTION naming the key, with the closest valid one; inputs untouched`, async () => {
    nk.setBackend(backend);
    for (const [what, call, key, suggestion] of typos) {
      await unchanged([x, dy, w6, b6, x3, dy3], async () => {
        const e = await throwsNorm(call, "UNKNOWN_OPTION", key);
        if (suggestion !== null) assert.ok(e.message.includes(`did you mean "${suggestion}"`), `${what}: ${e.message}`);
        assert.ok(e.message.includes("valid options:"), `${what}: ${e.message}`);
      });
    }
  });

  test(`[${backend}] null options, non-objects and booleans given as strings are NormErrors`, async () => {
    nk.setBackend(backend);
    await throwsNorm(() => nk.layerNorm(x, 6, null as never), "BAD_ARGUMENT", "options", ["null"]);
    await throwsNorm(() => nk.rmsNormBackward(dy, x, 6, null as never), "BAD_ARGUMENT", "options");
    await throwsNorm(() => nk.groupNorm(x3, 2, null as never), "BAD_ARGUMENT", "options");
    await throwsNorm(() => nk.batchNorm(x3, null as never), "BAD_ARGUMENT", "options");
    await throwsNorm(() => nk.layerNorm(x, 6, [w6] as never), "BAD_ARGUMENT", "options");
    await throwsNorm(() => nk.layerNorm(x, 6, "eps=1e-3" as never), "BAD_ARGUMENT", "options");
    await throwsNorm(() => nk.layerNormBackward(dy, x, 6, { weight: w6, into: 3 } as never), "BAD_ARGUMENT", "into");
    await throwsNorm(() => nk.batchNorm(x3, { training: "false" } as never), "BAD_ARGUMENT", "training", ['"false"', "true or false"]);
    await throwsNorm(() => nk.batchNorm(x3, { training: 1, runningMean: t([4], 0), runningVar: t([4]) } as never), "BAD_ARGUMENT", "training");
    await throwsNorm(() => nk.layerNorm(x, 6, { eps: "1e-5" } as never), "BAD_EPS", "eps");
    await throwsNorm(() => nk.batchNorm(x3, { training: true, momentum: "0.1" } as never), "BAD_MOMENTUM", "momentum");
    // into: null is "none", as weight: null is
    assert.deepEqual(nk.layerNormBackward(dy, x, 6, { weight: w6, into: null }).dweight!.shape, [6]);
  });

  test(`[${backend}] polluted Object.prototype (weight, bias, eps, out, training, running stats, …) changes nothing`, async () => {
    nk.setBackend(backend);
    const rm = t([4], 0.5), rv = t([4], 2);
    const clean = {
      ln: nk.layerNorm(x, 6).data.slice(),
      lnb: nk.layerNormBackward(dy, x, 6).dx.data.slice(),
      rms: nk.rmsNorm(x, 6).data.slice(),
      rmsb: nk.rmsNormBackward(dy, x, 6),
      gn: nk.groupNorm(x3, 2).data.slice(),
      bn: nk.batchNorm(x3, { runningMean: rm, runningVar: rv }).data.slice(),
      bnb: nk.batchNormBackward(dy3, x3, { runningMean: rm, runningVar: rv }).dx.data.slice(),
    };
    const polluter = t([4, 6], 7);
    const pollution = {
      weight: t([6], 3), bias: t([6], 2), eps: 0.5, out: polluter, mean: t([4], 9), rstd: t([4], 9), into: { dweight: t([6]) },
      training: true, momentum: 1, runningMean: t([4], 5), runningVar: t([4], 5), numBatchesTracked: 7,
      shape: [4, 6], dims: [4, 6], type: "float32", data: new Float32Array(24),
    };
    await unchanged([x, dy, x3, dy3, rm, rv, polluter], () => withPolluted(pollution, async () => {
      assertBitwise(nk.layerNorm(x, 6).data, clean.ln, "layerNorm");
      assertBitwise(nk.layerNorm(x, 6, {}).data, clean.ln, "layerNorm {}");
      assertBitwise(nk.layerNormBackward(dy, x, 6).dx.data, clean.lnb, "layerNormBackward");
      assertBitwise(nk.rmsNorm(x, 6).data, clean.rms, "rmsNorm");
      const g = nk.rmsNormBackward(dy, x, 6);
      assertBitwise(g.dx.data, clean.rmsb.dx.data, "rmsNormBackward");
      assert.equal(g.dweight, null, "no dweight: no weight was given");
      assertBitwise(nk.groupNorm(x3, 2).data, clean.gn, "groupNorm");
      // an eval batchNorm stays eval: running stats not updated, y from them
      assertBitwise(nk.batchNorm(x3, { runningMean: rm, runningVar: rv }).data, clean.bn, "batchNorm eval");
      assertBitwise(nk.batchNormBackward(dy3, x3, { runningMean: rm, runningVar: rv }).dx.data, clean.bnb, "batchNormBackward eval");
      const m = new nk.LayerNorm(6);
      assert.equal(m.eps, nk.LAYER_NORM_EPS);
      assertBitwise(m.forward(x).data, clean.ln, "LayerNorm module");
      // a nested options object reads its own keys only too
      const gw = t([6], 0);
      await withPolluted({ dweight: gw, dbias: gw }, () => {
        const g2 = nk.layerNormBackward(dy, x, 6, { weight: w6, into: {} });
        assert.ok(g2.dweight!.data !== gw.data && gw.data.every((v) => v === 0), "into.dweight not taken from the prototype");
      });
      // a tensor missing its shape does not borrow Object.prototype.shape
      await throwsNorm(() => nk.layerNorm({ data: x.data } as never, 6), "BAD_SHAPE", "x.shape");
    }));
    const holes = [, 6] as unknown as number[]; // eslint-disable-line no-sparse-arrays
    Object.defineProperty(Array.prototype, 0, { value: 4, configurable: true, writable: true });
    try {
      await throwsNorm(() => nk.layerNorm(x, holes), "BAD_NORMALIZED_SHAPE", "normalizedShape", ["hole"]);
    } finally {
      delete (Array.prototype as unknown as Record<number, unknown>)[0];
    }
  });

  test(`[${backend}] options are read once, own properties only: getters run once, proxies and symbol keys are fine`, () => {
    nk.setBackend(backend);
    let reads = 0;
    const o = { get eps() { reads++; return 1e-3; }, weight: w6, [Symbol("tag")]: 1 };
    const y = nk.layerNorm(x, 6, o);
    assert.equal(reads, 1);
    assertBitwise(y.data, nk.layerNorm(x, 6, { eps: 1e-3, weight: w6 }).data, "getter eps");
    const proxied = new Proxy({ weight: w6, bias: b6 }, {});
    assertBitwise(nk.layerNorm(x, 6, proxied).data, nk.layerNorm(x, 6, { weight: w6, bias: b6 }).data, "proxy options");
    const inherited = Object.create({ weight: t([6], 5) }) as object; // a class-like prototype is not the caller's own
    assertBitwise(nk.layerNorm(x, 6, inherited).data, nk.layerNorm(x, 6).data, "inherited option ignored");
  });
});

test("module constructors and calls: unknown keys, null options, string booleans", async () => {
  await throwsNorm(() => new nk.LayerNorm(4, { elementwise_affine: false } as never), "UNKNOWN_OPTION", "elementwise_affine", ['did you mean "elementwiseAffine"']);
  await throwsNorm(() => new nk.RMSNorm(4, { epsilon: 1e-6 } as never), "UNKNOWN_OPTION", "epsilon", ['did you mean "eps"']);
  await throwsNorm(() => new nk.RMSNorm(4, { affine: false } as never), "UNKNOWN_OPTION", "affine", ['did you mean "elementwiseAffine"']);
  await throwsNorm(() => new nk.GroupNorm(2, 4, { epsilon: 1e-3 } as never), "UNKNOWN_OPTION", "epsilon", ['did you mean "eps"']);
  await throwsNorm(() => new nk.BatchNorm(4, { track_running_stats: false } as never), "UNKNOWN_OPTION", "track_running_stats", ['did you mean "trackRunningStats"']);
  await throwsNorm(() => new nk.BatchNorm(4, { elementwiseAffine: false } as never), "UNKNOWN_OPTION", "elementwiseAffine", ['did you mean "affine"']);
  await throwsNorm(() => new nk.LayerNorm(4, null as never), "BAD_ARGUMENT", "options");
  await throwsNorm(() => new nk.BatchNorm(4, null as never), "BAD_ARGUMENT", "options");
  await throwsNorm(() => new nk.LayerNorm(4, { elementwiseAffine: "false" } as never), "BAD_ARGUMENT", "elementwiseAffine");
  await throwsNorm(() => new nk.RMSNorm(4, { bias: "true" } as never), "BAD_ARGUMENT", "bias");
  await throwsNorm(() => new nk.BatchNorm(4, { affine: 0 } as never), "BAD_ARGUMENT", "affine");
  await throwsNorm(() => new nk.BatchNorm(4, { momentum: 2 }), "BAD_MOMENTUM", "momentum");
  const m = new nk.LayerNorm(6);
  await throwsNorm(() => m.forward(x, { output: t([4, 6]) } as never), "UNKNOWN_OPTION", "output", ['did you mean "out"']);
  m.forward(x);
  await throwsNorm(() => m.backward(dy, { outt: t([4, 6]) } as never), "UNKNOWN_OPTION", "outt", ['did you mean "out"']);
  await throwsNorm(() => new nk.GroupNorm(2, 4).forward(x3, { out: t([5, 4, 3]) } as never), "UNKNOWN_OPTION", "out", ["takes no options"]);
  await throwsNorm(() => new nk.BatchNorm(4).forward(x3, null as never), "BAD_ARGUMENT", "options");
  await throwsNorm(() => m.train("false" as never), "BAD_ARGUMENT", "mode");
  assert.equal(m.training, true);
});

test("setBackend: a name, suggested when misspelled", async () => {
  await throwsNorm(() => nk.setBackend("WASM"), "BACKEND_UNAVAILABLE", "name", ['did you mean "wasm"']);
  await throwsNorm(() => nk.setBackend("jss"), "BACKEND_UNAVAILABLE", "name", ['did you mean "js"']);
  await throwsNorm(() => nk.setBackend(1 as never), "BAD_ARGUMENT", "name");
  await throwsNorm(() => nk.setBackend("toString"), "BACKEND_UNAVAILABLE", "name");
});

test("setBackend's build option: checked, kept across setBackend calls without it, wasm only", async () => {
  const [backend, build] = [nk.getBackend(), nk.wasmBuild()];
  assert.ok(build !== null, "Node 20 has WebAssembly SIMD");
  try {
    await throwsNorm(() => nk.setBackend("wasm", { buid: "simd" } as never), "UNKNOWN_OPTION", "buid", ['did you mean "build"']);
    await throwsNorm(() => nk.setBackend("wasm", { build: "SIMD" } as never), "BAD_ARGUMENT", "build", ['did you mean "simd"']);
    await throwsNorm(() => nk.setBackend("wasm", { build: 1 } as never), "BAD_ARGUMENT", "build");
    await throwsNorm(() => nk.setBackend("wasm", { build: "toString" } as never), "BAD_ARGUMENT", "build");
    await throwsNorm(() => nk.setBackend("wasm", null as never), "BAD_ARGUMENT", "options");
    await throwsNorm(() => nk.setBackend("wasm", "simd" as never), "BAD_ARGUMENT", "options");
    await throwsNorm(() => nk.setBackend("js", { build: "simd" }), "BAD_ARGUMENT", "build", ["wasm"]);
    await throwsNorm(() => nk.setBackend("jss", { build: "simd" }), "BACKEND_UNAVAILABLE", "name");
    if (build !== "relaxed-simd") {
      // Node without --experimental-wasm-relaxed-simd (test/backends/fma-child.ts runs with it)
      await throwsNorm(() => nk.setBackend("wasm", { build: "relaxed-simd" }), "BACKEND_UNAVAILABLE", "build", ["--experimental-wasm-relaxed-simd"]);
    }
    assert.deepEqual([nk.getBackend(), nk.wasmBuild()], [backend, build], "a refused call changes nothing");
    // an inherited key is not an option
    await withPolluted({ build: "nonsense" }, () => nk.setBackend("wasm", {}));
    assert.equal(nk.wasmBuild(), build);
    nk.setBackend("wasm", { build: "simd" });
    assert.equal(nk.wasmBuild(), "simd");
    nk.setBackend("js");
    assert.equal(nk.wasmBuild(), "simd", "the wasm backend's build, also while js is active");
    nk.setBackend("wasm");
    assert.deepEqual([nk.getBackend(), nk.wasmBuild()], ["wasm", "simd"], "setBackend without build keeps it");
    nk.setBackend("wasm", { build: undefined });
    assert.equal(nk.wasmBuild(), "simd", "build: undefined is not given");
  } finally {
    nk.setBackend("wasm", { build });
    nk.setBackend(backend);
  }
});
