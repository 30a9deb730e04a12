/** The nn modules: same results as the functional ops, gradients accumulate, train/eval, state dicts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { BatchNorm, GroupNorm, LayerNorm, NormError, RMSNorm } from "../../src/index.js";
import { assertBitwise, rng } from "../helpers.js";

const r = rng(11);

test("LayerNorm module = functional layerNorm; backward reuses saved stats and accumulates grads", () => {
  const m = new LayerNorm([3, 4]);
  m.weight!.value.data.set(r.tensor([12], 0.5, 1).data);
  m.bias!.value.data.set(r.tensor([12]).data);
  const x = r.tensor([5, 3, 4], 2, 1), dy = r.tensor([5, 3, 4]);
  const opts = { weight: m.weight!.value, bias: m.bias!.value };
  assertBitwise(m.forward(x).data, nk.layerNorm(x, [3, 4], opts).data, "y");
  assert.equal(m.stats!.rstd.length, 5);
  const g = nk.layerNormBackward(dy, x, [3, 4], opts);
  assertBitwise(m.backward(dy).data, g.dx.data, "dx");
  assertBitwise(m.weight!.grad.data, g.dweight!.data, "dweight");
  m.backward(dy); // += : twice the gradient
  for (let i = 0; i < 12; i++) assert.ok(Math.abs(m.bias!.grad.data[i] - 2 * g.dbias!.data[i]) <= 1e-6 * Math.abs(g.dbias!.data[i]) + 1e-7);
  m.zeroGrad();
  assert.ok(m.weight!.grad.data.every((v) => v === 0));
});

test("RMSNorm module: no bias by default, optional bias, matches rmsNorm", () => {
  const m = new RMSNorm(8);
  assert.equal(m.bias, null);
  assert.equal(m.eps, nk.RMS_NORM_EPS);
  const x = r.tensor([3, 8]), dy = r.tensor([3, 8]);
  assertBitwise(m.forward(x).data, nk.rmsNorm(x, [8], { weight: m.weight!.value }).data, "y");
  assertBitwise(m.backward(dy).data, nk.rmsNormBackward(dy, x, [8], { weight: m.weight!.value }).dx.data, "dx");
  const mb = new RMSNorm(8, { bias: true, eps: 1e-6 });
  assert.ok(mb.bias);
  assert.equal(new RMSNorm(8, { elementwiseAffine: false }).parameters().length, 0);
});

test("GroupNorm module = functional groupNorm", () => {
  const m = new GroupNorm(2, 4);
  const x = r.tensor([3, 4, 5]), dy = r.tensor([3, 4, 5]);
  assertBitwise(m.forward(x).data, nk.groupNorm(x, 2, { weight: m.weight!.value, bias: m.bias!.value }).data, "y");
  const g = nk.groupNormBackward(dy, x, 2, { weight: m.weight!.value, bias: m.bias!.value });
  assertBitwise(m.backward(dy).data, g.dx.data, "dx");
  assertBitwise(m.weight!.grad.data, g.dweight!.data, "dweight");
  assert.throws(() => new GroupNorm(3, 4), NormError);
});

test("BatchNorm module: training updates running stats, eval uses them", () => {
  const m = new BatchNorm(3);
  const x = r.tensor([8, 3, 2], 2, 5);
  const y = m.forward(x);
  assert.ok(m.runningMean!.data.every((v) => v > 0.3), "running mean moved toward 5 by momentum 0.1");
  const rm = nk.tensor([0, 0, 0], [3]), rv = nk.tensor([1, 1, 1], [3]);
  assertBitwise(y.data, nk.batchNorm(x, { training: true, runningMean: rm, runningVar: rv, weight: m.weight!.value, bias: m.bias!.value }).data, "train y");
  assertBitwise(m.runningMean!.data, rm.data, "running mean");
  m.eval();
  const ye = m.forward(x);
  assertBitwise(ye.data, nk.batchNorm(x, { runningMean: m.runningMean!, runningVar: m.runningVar!, weight: m.weight!.value, bias: m.bias!.value }).data, "eval y");
  const before = m.runningMean!.data.slice();
  m.forward(x);
  assertBitwise(m.runningMean!.data, before, "eval leaves running stats alone");
  const dy = r.tensor([8, 3, 2]);
  assertBitwise(m.backward(dy).data, nk.batchNormBackward(dy, x, { runningMean: m.runningMean!, runningVar: m.runningVar!, weight: m.weight!.value }).dx.data, "eval dx");
});

test("state dict round-trips through JSON", () => {
  const a = new BatchNorm(2);
  a.weight!.value.data.set([2, 3]);
  a.forward(r.tensor([4, 2], 1, 3));
  const json = JSON.stringify(a.stateDict());
  const b = new BatchNorm(2);
  b.loadStateDict(JSON.parse(json));
  assert.deepEqual(b.stateDict(), a.stateDict());
  assert.deepEqual(Object.keys(a.stateDict()), ["weight", "bias", "runningMean", "runningVar", "numBatchesTracked"]);
  assert.throws(() => new LayerNorm(3).loadStateDict(new LayerNorm(4).stateDict()), NormError);
});

test("backward before forward is a NormError", () => {
  assert.throws(() => new LayerNorm(3).backward(nk.tensor([1, 2, 3], [1, 3])), NormError);
});

test("LayerNorm/RMSNorm modules: forward/backward into `out` = without (bitwise); out is validated", () => {
  for (const M of [LayerNorm, RMSNorm]) {
    const a = new M(16), b = new M(16);
    a.weight!.value.data.set(r.tensor([16], 0.5, 1).data);
    b.weight!.value.data.set(a.weight!.value.data);
    const x = r.tensor([6, 16], 2, 1), dy = r.tensor([6, 16]);
    const yOut = nk.tensor(new Float32Array(96).fill(NaN), [6, 16]), dxOut = nk.tensor(new Float32Array(96).fill(NaN), [6, 16]);
    const y = a.forward(x, { out: yOut });
    assert.equal(y.data, yOut.data, `${M.name}: y is a tensor over out's data`);
    assertBitwise(yOut.data, b.forward(x).data, `${M.name} y`);
    const dx = a.backward(dy, { out: dxOut });
    assert.equal(dx.data, dxOut.data);
    assertBitwise(dxOut.data, b.backward(dy).data, `${M.name} dx`);
    assertBitwise(a.weight!.grad.data, b.weight!.grad.data, `${M.name} dweight`);
    const bad = (fn: () => unknown, code: string) => {
      const e = (() => { try { fn(); } catch (err) { return err; } })();
      assert.ok(e instanceof NormError && e.code === code && e.argument === "out", String(e));
    };
    bad(() => a.forward(x, { out: x }), "BAD_ARGUMENT");
    bad(() => a.backward(dy, { out: dy }), "BAD_ARGUMENT");
    bad(() => a.backward(dy, { out: r.tensor([16, 6]) }), "SHAPE_MISMATCH");
  }
});
