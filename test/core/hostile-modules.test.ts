/**
 * Modules as a hostile user drives them: bad constructor arguments, x changed between forward
 * and backward (backward differentiates the forward's x: the module keeps a copy), state dicts
 * with unknown keys, non-numeric data or NaN/±Inf, options mutated after construction. On every
 * synchronous backend.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { BatchNorm, GroupNorm, LayerNorm, RMSNorm } from "../../src/index.js";
import { assertBitwise, eachBackend } from "../helpers.js";
import { bits, t, throwsNorm, wave } from "./hostile.js";

test("module constructors: bad sizes are NormErrors (never RangeError/TypeError)", async () => {
  await throwsNorm(() => new LayerNorm(-1), "BAD_NORMALIZED_SHAPE", "normalizedShape", ["-1"]);
  await throwsNorm(() => new LayerNorm(Infinity), "BAD_NORMALIZED_SHAPE", "normalizedShape", ["Infinity"]);
  await throwsNorm(() => new LayerNorm([2, , 3] as never), "BAD_NORMALIZED_SHAPE", "normalizedShape", ["hole"]); // eslint-disable-line no-sparse-arrays
  await throwsNorm(() => new LayerNorm([]), "BAD_NORMALIZED_SHAPE", "normalizedShape");
  await throwsNorm(() => new LayerNorm("4" as never), "BAD_NORMALIZED_SHAPE", "normalizedShape");
  await throwsNorm(() => new RMSNorm(-3), "BAD_NORMALIZED_SHAPE", "normalizedShape", ["-3"]);
  await throwsNorm(() => new RMSNorm(1.5), "BAD_NORMALIZED_SHAPE", "normalizedShape", ["1.5"]);
  await throwsNorm(() => new GroupNorm(2, -4), "BAD_SHAPE", "numChannels", ["-4"]);
  await throwsNorm(() => new GroupNorm(0, 4), "BAD_NUM_GROUPS", "numGroups");
  await throwsNorm(() => new GroupNorm(3, 4), "BAD_NUM_GROUPS", "numGroups", ["4 channels"]);
  await throwsNorm(() => new BatchNorm(-2), "BAD_SHAPE", "numFeatures", ["-2"]);
  await throwsNorm(() => new BatchNorm(NaN), "BAD_SHAPE", "numFeatures");
  await throwsNorm(() => new BatchNorm(2 ** 40), "LIMIT_EXCEEDED", "weight");
  await throwsNorm(() => new LayerNorm(4, { eps: -1 }), "BAD_EPS", "eps");
  // accepted as PyTorch does: a number for one dim, eps 0, zero features
  assert.deepEqual(new LayerNorm(4, { eps: 0 }).normalizedShape, [4]);
  assert.equal(new BatchNorm(0).parameters()[0]!.value.data.length, 0);
});

test("GroupNorm and BatchNorm keep their construction-time options (mutating the object later changes nothing)", () => {
  const opts = { eps: 0.5, affine: true };
  const g = new GroupNorm(2, 4, opts);
  const x = t([3, 4, 5], wave);
  const before = g.forward(x).data.slice();
  opts.eps = 100;
  assert.equal(g.eps, 0.5);
  assertBitwise(g.forward(x).data, before, "GroupNorm y with the construction-time eps");
  assertBitwise(before, nk.groupNorm(x, 2, { eps: 0.5, weight: g.weight!.value, bias: g.bias!.value }).data, "= functional with eps 0.5");
  const bo = { eps: 0.25, momentum: 0.5 };
  const b = new BatchNorm(4, bo);
  bo.momentum = 1;
  b.forward(t([6, 4], wave));
  const rm = t([4], 0), rv = t([4], 1);
  nk.batchNorm(t([6, 4], wave), { training: true, momentum: 0.5, eps: 0.25, runningMean: rm, runningVar: rv });
  assertBitwise(b.runningMean!.data, rm.data, "momentum 0.5 kept");
});

eachBackend((backend) => {
  test(`[${backend}] x modified between forward and backward: backward differentiates the forward's x`, () => {
    nk.setBackend(backend);
    const cases = [
      { m: new LayerNorm(8), x: t([5, 8], wave), grad: (dy: nk.Tensor, x: nk.Tensor, m: LayerNorm) => nk.layerNormBackward(dy, x, 8, { weight: m.weight!.value, bias: m.bias!.value }).dx },
      { m: new RMSNorm(8), x: t([5, 8], wave), grad: (dy: nk.Tensor, x: nk.Tensor, m: RMSNorm) => nk.rmsNormBackward(dy, x, 8, { weight: m.weight!.value }).dx },
      { m: new GroupNorm(2, 4), x: t([3, 4, 2], wave), grad: (dy: nk.Tensor, x: nk.Tensor, m: GroupNorm) => nk.groupNormBackward(dy, x, 2, { weight: m.weight!.value, bias: m.bias!.value }).dx },
      { m: new BatchNorm(4), x: t([6, 4], wave), grad: (dy: nk.Tensor, x: nk.Tensor, m: BatchNorm) => nk.batchNormBackward(dy, x, { training: true, weight: m.weight!.value, bias: m.bias!.value }).dx },
    ] as const;
    for (const c of cases) {
      const original = { shape: c.x.shape, data: c.x.data.slice() };
      const dy = t(c.x.shape as number[], (i) => wave(i + 11));
      (c.m as { forward(x: nk.Tensor): nk.Tensor }).forward(c.x);
      c.x.data.reverse(); // the caller reuses its buffer before backward
      c.x.data[0] = 1e6;
      const dx = (c.m as { backward(dy: nk.Tensor): nk.Tensor }).backward(dy);
      const want = (c.grad as (dy: nk.Tensor, x: nk.Tensor, m: unknown) => nk.Tensor)(dy, original, c.m);
      assertBitwise(dx.data, want.data, `${c.m.constructor.name} dx of the forward's x`);
      const other = (c.grad as (dy: nk.Tensor, x: nk.Tensor, m: unknown) => nk.Tensor)(dy, c.x, c.m);
      assert.notDeepEqual(bits(dx.data), bits(other.data), `${c.m.constructor.name}: not the gradient of the modified x`);
    }
  });
});

test("module stats are copies; mutating them cannot change backward", () => {
  const m = new LayerNorm(8), x = t([3, 8], wave), dy = t([3, 8], (i) => wave(i + 2));
  m.forward(x);
  const want = nk.layerNormBackward(dy, x, 8, { weight: m.weight!.value, bias: m.bias!.value }).dx;
  m.stats!.rstd.fill(0);
  assertBitwise(m.backward(dy).data, want.data, "dx");
});

test("loadStateDict: unknown keys (strict), non-numeric data, wrong shapes are NormErrors, and a failed load changes nothing", async () => {
  const m = new BatchNorm(3);
  m.forward(t([4, 3], wave));
  const good = m.stateDict();
  const snapshot = JSON.stringify(good);
  const target = new BatchNorm(3);
  const before = JSON.stringify(target.stateDict());
  const bad: Array<[unknown, string, string, string[]]> = [
    [{ ...good, runing_mean: good.runningMean }, "BAD_ARGUMENT", "stateDict.runing_mean", ['did you mean "runningMean"']],
    [{ ...good, running_mean: good.runningMean }, "BAD_ARGUMENT", "stateDict.running_mean", ['did you mean "runningMean"']],
    [{ ...good, runningVar: { shape: [3], data: [1, "2", 3] } }, "BAD_DTYPE", "stateDict.runningVar", ['"2"']],
    [{ ...good, runningVar: { shape: [3], data: [1, null, 3] } }, "BAD_DTYPE", "stateDict.runningVar", ["null"]],
    [{ ...good, runningVar: { shape: [3], data: [1, 2] } }, "SHAPE_MISMATCH", "stateDict.runningVar", []],
    [{ ...good, runningVar: { shape: [1, 3], data: [1, 2, 3] } }, "BAD_PARAM_SHAPE", "stateDict.runningVar", []],
    [{ ...good, numBatchesTracked: { shape: [], data: [1.5] } }, "BAD_ARGUMENT", "stateDict.numBatchesTracked", ["1.5"]],
    [{ weight: good.weight }, "BAD_ARGUMENT", "stateDict.bias", ["expected an entry"]],
    [null, "BAD_ARGUMENT", "stateDict", []],
  ];
  for (const [sd, code, arg, mentions] of bad) {
    await throwsNorm(() => target.loadStateDict(sd as never), code, arg, mentions);
    assert.equal(JSON.stringify(target.stateDict()), before, `${arg}: a failed load changed the module`);
  }
  // weight comes first and is valid, bias is bad: weight must not have been written either
  await throwsNorm(() => target.loadStateDict({ ...good, bias: { shape: [3], data: ["x", 0, 0] } } as never), "BAD_DTYPE", "stateDict.bias");
  assert.equal(JSON.stringify(target.stateDict()), before);
  // polluted prototypes do not supply missing entries
  Object.defineProperty(Object.prototype, "bias", { value: good.bias, configurable: true });
  try {
    const { bias: _, ...noBias } = good;
    await throwsNorm(() => target.loadStateDict(noBias as never), "BAD_ARGUMENT", "stateDict.bias");
  } finally {
    delete (Object.prototype as Record<string, unknown>).bias;
  }
  target.loadStateDict(JSON.parse(snapshot));
  assert.equal(JSON.stringify(target.stateDict()), snapshot);
});

test("stateDict round-trips NaN and ±Inf through JSON, bit for bit", () => {
  const a = new LayerNorm(4);
  a.weight!.value.data.set([NaN, Infinity, -Infinity, -0.5]);
  a.bias!.value.data.set([1e-40, -Infinity, 3.4e38, 0]);
  const b = new LayerNorm(4);
  b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
  assertBitwise(b.weight!.value.data, a.weight!.value.data, "weight");
  assertBitwise(b.bias!.value.data, a.bias!.value.data, "bias");
  assert.deepEqual(a.stateDict().weight!.data, ["NaN", "Infinity", "-Infinity", -0.5]);
});
