/**
 * Every misuse throws a NormError naming the argument, with what was expected and what was given,
 * and leaves every input unchanged. Valid edge cases (empty batch, D = 1) work.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { NormError, tensor, type Tensor } from "../../src/index.js";

const t = (shape: number[], fill = 1) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill), shape);

/** Asserts fn throws NormError with this code, naming `arg`, and that the message contains each of `mentions`. */
function throwsNorm(fn: () => unknown, code: string, arg: string, mentions: string[] = []) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof NormError, `expected a NormError, got ${err}`);
  assert.ok(err instanceof Error);
  assert.equal(err.code, code, err.message);
  assert.equal(err.argument, arg, err.message);
  assert.ok(err.message.startsWith(arg), `message should name ${arg}: ${err.message}`);
  for (const m of mentions) assert.ok(err.message.includes(m), `message should mention ${JSON.stringify(m)}: ${err.message}`);
}

/** Runs fn on inputs and checks none of them changed. */
function unchanged(inputs: Tensor[], fn: () => void) {
  const before = inputs.map((x) => x.data.slice());
  fn();
  inputs.forEach((x, i) => assert.deepEqual(x.data, before[i], "input modified"));
}

test("tensor(): data length ≠ product of shape", () => {
  throwsNorm(() => tensor([1, 2, 3], [2, 2]), "SHAPE_MISMATCH", "tensor", ["3 elements", "[2, 2]", "4"]);
  throwsNorm(() => nk.layerNorm({ shape: [2, 3], data: new Float32Array(5) }, [3]), "SHAPE_MISMATCH", "x", ["5", "[2, 3]", "6"]);
});

test("negative or fractional dims", () => {
  throwsNorm(() => tensor([], [2, -1]), "BAD_SHAPE", "shape", ["-1"]);
  throwsNorm(() => nk.layerNorm({ shape: [1.5, 2], data: new Float32Array(3) }, [2]), "BAD_SHAPE", "x.shape", ["1.5"]);
});

test("data that is not a Float32Array", () => {
  throwsNorm(() => nk.layerNorm({ shape: [2], data: new Float64Array(2) } as unknown as Tensor, [2]), "BAD_DTYPE", "x.data", ["Float32Array", "Float64Array(2)"]);
  throwsNorm(() => nk.rmsNorm({ shape: [2], data: [1, 2] } as unknown as Tensor, [2]), "BAD_DTYPE", "x.data", ["Float32Array"]);
  throwsNorm(() => tensor("abc" as unknown as number[], [3]), "BAD_DTYPE", "data");
});

test("normalizedShape empty, longer than the input, or not its trailing dims", () => {
  const x = t([2, 3]);
  throwsNorm(() => nk.layerNorm(x, []), "BAD_NORMALIZED_SHAPE", "normalizedShape", ["non-empty", "[2, 3]", "[]"]);
  throwsNorm(() => nk.layerNorm(x, [1, 2, 3]), "BAD_NORMALIZED_SHAPE", "normalizedShape", ["at most 2", "[1, 2, 3]"]);
  throwsNorm(() => nk.rmsNorm(x, [2]), "BAD_NORMALIZED_SHAPE", "normalizedShape", ["[3]", "[2]"]);
  throwsNorm(() => nk.layerNormBackward(x, x, [4]), "BAD_NORMALIZED_SHAPE", "normalizedShape");
});

test("weight / bias / running statistics of the wrong size", () => {
  const x = t([2, 3]);
  throwsNorm(() => nk.layerNorm(x, [3], { weight: t([4]) }), "BAD_PARAM_SHAPE", "weight", ["[3]", "[4]"]);
  throwsNorm(() => nk.rmsNorm(x, [3], { bias: t([2]) }), "BAD_PARAM_SHAPE", "bias", ["[3]", "[2]"]);
  throwsNorm(() => nk.groupNorm(t([2, 4, 3]), 2, { weight: t([3]) }), "BAD_PARAM_SHAPE", "weight", ["[4]", "[3]"]);
  throwsNorm(() => nk.batchNorm(t([4, 3]), { runningMean: t([2]), runningVar: t([3]) }), "BAD_PARAM_SHAPE", "runningMean", ["[3]", "[2]"]);
  throwsNorm(() => nk.batchNorm(t([4, 3]), { runningMean: t([3]), runningVar: t([3, 1]) }), "BAD_PARAM_SHAPE", "runningVar", ["[3]", "[3, 1]"]);
});

test("eps negative or not finite", () => {
  const x = t([2, 3]);
  throwsNorm(() => nk.layerNorm(x, [3], { eps: -1e-5 }), "BAD_EPS", "eps", ["≥ 0", "-0.00001"]);
  throwsNorm(() => nk.rmsNorm(x, [3], { eps: NaN }), "BAD_EPS", "eps", ["NaN"]);
  throwsNorm(() => nk.groupNorm(t([1, 2]), 1, { eps: Infinity }), "BAD_EPS", "eps", ["Infinity"]);
  throwsNorm(() => nk.batchNorm(t([2, 2]), { training: true, eps: -1 }), "BAD_EPS", "eps");
});

test("momentum outside [0, 1]", () => {
  throwsNorm(() => nk.batchNorm(t([4, 2]), { training: true, momentum: 1.5 }), "BAD_MOMENTUM", "momentum", ["[0, 1]", "1.5"]);
  throwsNorm(() => nk.batchNorm(t([4, 2]), { training: true, momentum: -0.1 }), "BAD_MOMENTUM", "momentum", ["-0.1"]);
});

test("dy shape ≠ x shape", () => {
  const x = t([2, 3]);
  throwsNorm(() => nk.layerNormBackward(t([3, 2]), x, [3]), "SHAPE_MISMATCH", "dy", ["[2, 3]", "[3, 2]"]);
  throwsNorm(() => nk.rmsNormBackward(t([2, 3, 1]), x, [3]), "SHAPE_MISMATCH", "dy");
  throwsNorm(() => nk.groupNormBackward(t([2, 4]), t([2, 4, 1]), 2), "SHAPE_MISMATCH", "dy");
  throwsNorm(() => nk.batchNormBackward(t([2, 3]), t([3, 3]), { training: true }), "SHAPE_MISMATCH", "dy");
});

test("numGroups ≤ 0 or not dividing C", () => {
  throwsNorm(() => nk.groupNorm(t([2, 6, 2]), 0), "BAD_NUM_GROUPS", "numGroups", ["6 channels", "0"]);
  throwsNorm(() => nk.groupNorm(t([2, 6, 2]), 4), "BAD_NUM_GROUPS", "numGroups", ["4"]);
  throwsNorm(() => nk.groupNorm(t([2, 6, 2]), 1.5), "BAD_NUM_GROUPS", "numGroups", ["1.5"]);
});

test("BatchNorm / GroupNorm on inputs with fewer than 2 dims", () => {
  throwsNorm(() => nk.batchNorm(t([5]), { training: true }), "BAD_RANK", "x", ["at least 2 dims", "[5]"]);
  throwsNorm(() => nk.groupNorm(t([5]), 1), "BAD_RANK", "x", ["[5]"]);
});

test("BatchNorm training with one value per channel", () => {
  throwsNorm(() => nk.batchNorm(t([1, 3]), { training: true }), "TOO_FEW_VALUES", "x", ["more than 1 value per channel", "[1, 3]"]);
  throwsNorm(() => nk.batchNorm(t([1, 3, 1]), { training: true }), "TOO_FEW_VALUES", "x");
});

test("BatchNorm eval without running statistics", () => {
  throwsNorm(() => nk.batchNorm(t([4, 3])), "MISSING_RUNNING_STATS", "runningMean", ["eval mode", "undefined"]);
  throwsNorm(() => nk.batchNorm(t([4, 3]), { runningMean: t([3]) }), "MISSING_RUNNING_STATS", "runningVar");
});

test("a failed call leaves every input unchanged (BatchNorm running stats included)", () => {
  const x = t([4, 3], 2), rm = t([3], 0.5), rv = t([3], 2), w = t([3]);
  unchanged([x, rm, rv, w], () => assert.throws(() => nk.batchNorm(x, { training: true, runningMean: rm, runningVar: rv, weight: w, momentum: 2 }), NormError));
  unchanged([x, rm, rv, w], () => nk.batchNormBackward(x, x, { training: true, runningMean: rm, runningVar: rv, weight: w }));
  unchanged([x, rm, rv, w], () => nk.batchNorm(x, { training: false, runningMean: rm, runningVar: rv, weight: w }));
});

test("valid edge cases: empty batch, D = 1", () => {
  const empty = t([0, 4]);
  const w = t([4], 2), b = t([4], 3);
  assert.equal(nk.layerNorm(empty, [4], { weight: w, bias: b }).data.length, 0);
  const g = nk.layerNormBackward(empty, empty, [4], { weight: w, bias: b });
  assert.equal(g.dx.data.length, 0);
  assert.deepEqual(Array.from(g.dweight!.data), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(g.dbias!.data), [0, 0, 0, 0]);
  assert.deepEqual(nk.rmsNorm(t([0, 2, 3]), [2, 3]).shape, [0, 2, 3]);
  assert.equal(nk.groupNorm(t([0, 4, 2]), 2).data.length, 0);
  const gg = nk.groupNormBackward(t([0, 4, 2]), t([0, 4, 2]), 2, { weight: w, bias: b });
  assert.deepEqual(Array.from(gg.dweight!.data), [0, 0, 0, 0]);
  assert.equal(nk.batchNorm(t([0, 4]), { training: true, runningMean: t([4], 0), runningVar: t([4], 1) }).data.length, 0);
  // D = 1: the normalized value is 0, so the output is the bias and dx is 0
  const x1 = tensor([5, -3, 7], [3, 1]);
  assert.deepEqual(Array.from(nk.layerNorm(x1, [1], { weight: t([1], 2), bias: tensor([0.25], [1]) }).data), [0.25, 0.25, 0.25]);
  assert.deepEqual(Array.from(nk.layerNormBackward(x1, x1, [1]).dx.data), [0, 0, 0]);
  assert.deepEqual(nk.layerNorm(x1, 1).shape, [3, 1]); // a number is accepted for a single trailing dim
});

test("NormError is an Error subclass with a code", () => {
  const e = new NormError("BAD_EPS", "eps", "x");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "NormError");
  assert.equal(typeof e.code, "string");
});
