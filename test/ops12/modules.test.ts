/**
 * Issue #12's module features, per backend: InstanceNorm (nn.InstanceNorm1d/2d/3d: defaults,
 * train/eval, running statistics as PyTorch, cumulative momentum, state dict), weightOffset and
 * castingMode on LayerNorm/RMSNorm (weight initialised to 1 − offset), GroupNorm's channelsLast and
 * activation, and every module on half-precision input: module = functional op, bit for bit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { eachBackend, rng } from "../helpers.js";

const bitsOf = (a: nk.AnyTensor) => [...new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength)];

eachBackend((backend) => {
  test(`[${backend}] InstanceNorm: PyTorch's defaults (no affine, no running stats), and module = instanceNorm, forward and backward`, () => {
    nk.setBackend(backend);
    const r = rng(51);
    const x = r.tensor([3, 4, 10], 2, 1), dy = r.tensor([3, 4, 10]);
    const m = new nk.InstanceNorm(4);
    assert.deepEqual(m.options, { eps: 1e-5, momentum: 0.1, affine: false, trackRunningStats: false });
    assert.equal(m.weight, null);
    assert.equal(m.runningMean, null);
    assert.deepEqual(Object.keys(m.stateDict()), []);
    assert.deepEqual(bitsOf(m.forward(x)), bitsOf(nk.instanceNorm(x)));
    assert.deepEqual(bitsOf(m.backward(dy)), bitsOf(nk.instanceNormBackward(dy, x).dx));
    // eval without running statistics still uses the input's (PyTorch: use_input_stats = training || !track)
    m.eval();
    assert.deepEqual(bitsOf(m.forward(x)), bitsOf(nk.instanceNorm(x)));
  });

  test(`[${backend}] InstanceNorm affine + trackRunningStats: training updates the running statistics (batch mean, unbiased), eval uses them`, () => {
    nk.setBackend(backend);
    const r = rng(52);
    const C = 3;
    const m = new nk.InstanceNorm(C, { affine: true, trackRunningStats: true, momentum: 0.3 });
    assert.deepEqual(Object.keys(m.stateDict()), ["weight", "bias", "runningMean", "runningVar", "numBatchesTracked"]);
    m.weight!.value.data.set([1.5, -0.5, 2]);
    m.bias!.value.data.set([0.1, 0.2, -0.3]);
    const x = r.tensor([2, C, 4, 5], 1.7, 0.4), dy = r.tensor([2, C, 4, 5]);
    const rm = nk.tensor(new Float32Array(C), [C]), rv = nk.tensor(new Float32Array(C).fill(1), [C]);
    const o = { weight: m.weight!.value, bias: m.bias!.value, momentum: 0.3 };
    const want = nk.instanceNorm(x, { ...o, runningMean: rm, runningVar: rv });
    assert.deepEqual(bitsOf(m.forward(x)), bitsOf(want));
    assert.deepEqual([...m.runningMean!.data], [...rm.data]);
    assert.deepEqual([...m.runningVar!.data], [...rv.data]);
    assert.equal(m.numBatchesTracked, 1);
    // the running mean is the batch mean of per-instance means, the variance of unbiased per-instance variances
    for (let c = 0; c < C; c++) {
      let mu = 0, v = 0;
      for (let n = 0; n < 2; n++) {
        const vals = Array.from({ length: 20 }, (_, s) => x.data[(n * C + c) * 20 + s]!);
        const mean = vals.reduce((a, b) => a + b) / 20;
        mu += mean / 2;
        v += vals.reduce((a, b) => a + (b - mean) ** 2, 0) / 19 / 2;
      }
      assert.ok(Math.abs(m.runningMean!.data[c]! - 0.3 * mu) < 1e-6);
      assert.ok(Math.abs(m.runningVar!.data[c]! - (0.7 + 0.3 * v)) < 1e-6);
    }
    const gw = nk.instanceNormBackward(dy, x, { ...o });
    m.backward(dy);
    assert.deepEqual([...m.weight!.grad.data], [...gw.dweight!.data]);
    m.eval();
    const yEval = m.forward(x);
    assert.deepEqual(bitsOf(yEval), bitsOf(nk.instanceNorm(x, { ...o, runningMean: m.runningMean, runningVar: m.runningVar, useInputStats: false })));
    assert.equal(m.numBatchesTracked, 1, "eval does not count");
    assert.deepEqual(bitsOf(m.backward(dy)), bitsOf(nk.instanceNormBackward(dy, x, { ...o, runningMean: m.runningMean, runningVar: m.runningVar, useInputStats: false }).dx));
    // state dict round trip
    const m2 = new nk.InstanceNorm(C, { affine: true, trackRunningStats: true });
    m2.loadStateDict(JSON.parse(JSON.stringify(m.stateDict())));
    assert.deepEqual([...m2.runningVar!.data], [...m.runningVar!.data]);
    assert.equal(m2.numBatchesTracked, 1);
  });

  test(`[${backend}] InstanceNorm momentum null: the cumulative average of the batches' statistics`, () => {
    nk.setBackend(backend);
    const r = rng(53);
    const m = new nk.InstanceNorm(2, { trackRunningStats: true, momentum: null });
    const xs = [r.tensor([2, 2, 6]), r.tensor([2, 2, 6], 2, 1), r.tensor([2, 2, 6], 0.5, -1)];
    const means = xs.map((x) => {
      const one = new nk.InstanceNorm(2, { trackRunningStats: true, momentum: 1 });
      one.forward(x);
      return [...one.runningMean!.data];
    });
    for (const x of xs) m.forward(x);
    for (let c = 0; c < 2; c++) assert.ok(Math.abs(m.runningMean!.data[c]! - means.reduce((a, v) => a + v[c]!, 0) / 3) < 1e-6);
    assert.equal(m.numBatchesTracked, 3);
  });

  test(`[${backend}] LayerNorm/RMSNorm weightOffset: weight starts at 1 − offset (y = x̂), module = functional; castingMode is kept`, () => {
    nk.setBackend(backend);
    const r = rng(54);
    const x = r.tensor([3, 8], 2, 1), dy = r.tensor([3, 8]);
    for (const M of [nk.LayerNorm, nk.RMSNorm]) {
      const m = new M(8, { weightOffset: 1, castingMode: "llama" });
      assert.ok(m.weight!.value.data.every((v) => v === 0), "Gemma's zeros");
      assert.equal(m.weightOffset, 1);
      assert.equal(m.castingMode, "llama");
      const plain = M === nk.LayerNorm ? nk.layerNorm(x, 8) : nk.rmsNorm(x, 8);
      const y = m.forward(x);
      for (let i = 0; i < y.data.length; i++) assert.ok(Math.abs(y.data[i]! - plain.data[i]!) < 1e-6, "y = x̂ at init");
      m.weight!.value.data.set(r.tensor([8], 0.2).data);
      const o = { weight: m.weight!.value, bias: m.bias?.value, weightOffset: 1, castingMode: "llama" as const };
      const hx = nk.cast(x, "bfloat16"), hdy = nk.cast(dy, "bfloat16");
      const f = M === nk.LayerNorm ? nk.layerNorm : nk.rmsNorm;
      const b = M === nk.LayerNorm ? nk.layerNormBackward : nk.rmsNormBackward;
      assert.deepEqual(bitsOf(m.forward(hx)), bitsOf(f(hx, 8, o)));
      m.zeroGrad();
      assert.deepEqual(bitsOf(m.backward(hdy)), bitsOf(b(hdy, hx, 8, o).dx));
      assert.deepEqual([...m.weight!.grad.data], [...b(hdy, hx, 8, o).dweight!.data]);
    }
  });

  test(`[${backend}] GroupNorm module: channelsLast and SiLU as the functional op; BatchNorm module on half input`, () => {
    nk.setBackend(backend);
    const r = rng(55);
    const x = nk.cast(r.tensor([2, 3, 3, 8], 2, 0.5), "float16"), dy = nk.cast(r.tensor([2, 3, 3, 8]), "float16");
    const gn = new nk.GroupNorm(4, 8, { channelsLast: true, activation: "silu" });
    assert.deepEqual(gn.options, { eps: 1e-5, affine: true, channelsLast: true, activation: "silu" });
    gn.weight!.value.data.set(r.tensor([8], 0.5, 1).data);
    const o = { weight: gn.weight!.value, bias: gn.bias!.value, channelsLast: true, activation: "silu" as const };
    const y = gn.forward(x);
    assert.equal(y.dtype, "float16");
    assert.deepEqual(bitsOf(y), bitsOf(nk.groupNorm(x, 4, o)));
    assert.deepEqual(bitsOf(gn.backward(dy)), bitsOf(nk.groupNormBackward(dy, x, 4, o).dx));
    assert.deepEqual([...gn.weight!.grad.data], [...nk.groupNormBackward(dy, x, 4, o).dweight!.data]);

    const bn = new nk.BatchNorm(3);
    const xb = nk.cast(r.tensor([4, 3, 5], 1.5, 2), "bfloat16"), dyb = nk.cast(r.tensor([4, 3, 5]), "bfloat16");
    const rm = nk.tensor(new Float32Array(3), [3]), rv = nk.tensor(new Float32Array(3).fill(1), [3]);
    const bo = { weight: bn.weight!.value, bias: bn.bias!.value, training: true };
    const yb = bn.forward(xb);
    assert.equal(yb.dtype, "bfloat16");
    assert.deepEqual(bitsOf(yb), bitsOf(nk.batchNorm(xb, { ...bo, runningMean: rm, runningVar: rv })));
    assert.deepEqual([...bn.runningMean!.data], [...rm.data]);
    assert.deepEqual(bitsOf(bn.backward(dyb)), bitsOf(nk.batchNormBackward(dyb, xb, bo).dx));
  });
});
