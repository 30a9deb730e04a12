/**
 * normkit/tfjs ops (layerNorm, rmsNorm on TF.js tensors, with gradients): against TF.js's own
 * result (tf.layers.layerNormalization, and RMSNorm written in TF.js ops, differentiated by TF.js),
 * against normkit's core (bitwise: the same kernels), without copies on the cpu backend, and as a
 * hostile user would call them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, tfl, randn, maxDiff } from "./tfjs-setup.js";
import { layerNorm, rmsNorm, fromTfjs, toTfjs } from "../../src/tfjs/index.js";
import * as core from "../../src/index.js";
import { assertBitwise } from "../helpers.js";

const isNormError = (code: string, argument: string) => (e: unknown) =>
  e instanceof core.NormError && e.code === code && e.argument === argument;

/** Within `rel` of the larger side's largest magnitude (at least 1): float32 rounding, not a different formula. */
function assertNear(got: tf.Tensor | ArrayLike<number>, want: tf.Tensor | ArrayLike<number>, what: string, rel = 1e-5) {
  const w = want instanceof tf.Tensor ? want.dataSync() : want;
  let scale = 1;
  for (let i = 0; i < w.length; i++) scale = Math.max(scale, Math.abs(w[i]!));
  const d = maxDiff(got, want);
  assert.ok(d <= rel * scale, `${what}: max |Δ| ${d} > ${rel} × ${scale}`);
}

// shape, normalized trailing dims, eps, data offset (large offsets stress the mean subtraction)
const CASES = [
  { shape: [3, 5], k: 1, eps: 1e-3, offset: 0 },
  { shape: [4, 7, 768], k: 1, eps: 1e-5, offset: 3 },
  { shape: [2, 3, 4, 5], k: 2, eps: 1e-3, offset: 100 },
  { shape: [16, 1023], k: 1, eps: 1e-5, offset: -2 },
];

for (const { shape, k, eps, offset } of CASES) {
  const ns = shape.slice(shape.length - k);
  test(`layerNorm ${JSON.stringify(shape)} over ${JSON.stringify(ns)}, eps ${eps}: y, dx, dγ, dβ as tf.layers.layerNormalization`, () => {
    tf.tidy(() => {
      const x = randn(1, shape, 1, offset), w = randn(2, ns, 0.5, 1), b = randn(3, ns), R = randn(4, shape);
      const theirs = tfl.layers.layerNormalization({ epsilon: eps, axis: k === 1 ? -1 : [-2, -1] });
      theirs.build(x.shape);
      theirs.setWeights([w, b]);
      const [gamma, beta] = theirs.trainableWeights.map((v) => v.read() as tf.Variable);
      const tLoss = () => tf.sum(tf.mul(theirs.apply(x) as tf.Tensor, R)) as tf.Scalar;
      const tdx = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(theirs.apply(x) as tf.Tensor, R)))(x);
      const tg = tf.variableGrads(tLoss, [gamma!, beta!]).grads;

      const y = layerNorm(x, ns, { weight: w, bias: b, eps });
      const [dx, dw, db] = tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layerNorm(x, ns, { weight: w, bias: b, eps }), R)))([x, w, b]);
      assertNear(y, theirs.apply(x) as tf.Tensor, "y");
      assertNear(dx!, tdx, "dx");
      assertNear(dw!, tg[gamma!.name]!, "dγ");
      assertNear(db!, tg[beta!.name]!, "dβ");

      // the same kernels as normkit's core: bitwise equal
      const f = core.layerNormForward(fromTfjs(x), ns, { weight: fromTfjs(w), bias: fromTfjs(b), eps });
      assertBitwise(y.dataSync() as Float32Array, f.y.data, "y vs core");
      const g = core.layerNormBackward(fromTfjs(R), fromTfjs(x), ns, { weight: fromTfjs(w), bias: fromTfjs(b), eps });
      assertBitwise(dx!.dataSync() as Float32Array, g.dx.data, "dx vs core");
      assertBitwise(dw!.dataSync() as Float32Array, g.dweight!.data, "dγ vs core");
      assertBitwise(db!.dataSync() as Float32Array, g.dbias!.data, "dβ vs core");
    });
  });

  test(`rmsNorm ${JSON.stringify(shape)} over ${JSON.stringify(ns)}, eps ${eps}: y, dx, dγ, dβ as the same formula in TF.js ops`, () => {
    tf.tidy(() => {
      const x = randn(5, shape, 1, offset), w = randn(6, ns, 0.5, 1), b = randn(7, ns), R = randn(8, shape);
      const axes = ns.map((_, i) => shape.length - k + i);
      const theirs = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.add(tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), axes, true), eps))), w), b);
      const loss = (f: typeof theirs) => (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(x, w, b), R));
      const ours = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => rmsNorm(x, ns, { weight: w, bias: b, eps });
      assertNear(ours(x, w, b), theirs(x, w, b), "y");
      const g = tf.grads(loss(ours))([x, w, b]);
      const t = tf.grads(loss(theirs))([x, w, b]);
      ["dx", "dγ", "dβ"].forEach((what, i) => assertNear(g[i]!, t[i]!, what, 2e-5));
    });
  });
}

test("defaults are normkit's (PyTorch's): layerNorm eps 1e-5, rmsNorm eps 2⁻²³, no weight or bias", () => {
  tf.tidy(() => {
    const x = randn(9, [4, 32], 0.01);
    assertBitwise(layerNorm(x, 32).dataSync() as Float32Array, core.layerNorm(fromTfjs(x), 32, { eps: 1e-5 }).data, "layerNorm");
    assertBitwise(rmsNorm(x, [32]).dataSync() as Float32Array, core.rmsNorm(fromTfjs(x), [32], { eps: 2 ** -23 }).data, "rmsNorm");
    // with a weight but no bias: one gradient per input
    const w = randn(10, [32]);
    const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(rmsNorm(x, 32, { weight: w })))([x, w]);
    assert.deepEqual(g.map((t) => t.shape), [[4, 32], [32]]);
  });
});

test("cpu backend: no copies in or out (dataSync's array is read as is; outputs wrap normkit's arrays)", () => {
  tf.tidy(() => {
    const x = randn(11, [8, 16]);
    const view = fromTfjs(x);
    assert.equal(view.data, x.dataSync(), "fromTfjs reads TF.js's own storage");
    const t = toTfjs(view);
    assert.equal(t.dataSync(), view.data, "toTfjs keeps the array");
    assert.deepEqual(t.shape, [8, 16]);
  });
});

test("inputs are never modified; no tensor is leaked by forward or backward", () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const x = randn(12, [6, 10], 2, 1), w = randn(13, [10]), b = randn(14, [10]);
    const copies = [x, w, b].map((t) => Float32Array.from(t.dataSync()));
    for (let i = 0; i < 3; i++) {
      tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(layerNorm(x, 10, { weight: w, bias: b })))([x, w, b]);
      tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(rmsNorm(x, 10, { weight: w, bias: b })))([x, w, b]);
    }
    [x, w, b].forEach((t, i) => assertBitwise(t.dataSync() as Float32Array, copies[i]!, `input ${i}`));
  });
  assert.equal(tf.memory().numTensors, before);
  // and a plain forward returns exactly one new tensor
  const x = randn(15, [2, 3]);
  const n = tf.memory().numTensors;
  const y = layerNorm(x, 3);
  assert.equal(tf.memory().numTensors, n + 1);
  tf.dispose([x, y]);
});

test("a row's result does not depend on the batch (bitwise)", () => {
  tf.tidy(() => {
    const x = randn(16, [9, 33], 1, 5);
    const all = layerNorm(x, 33).dataSync();
    const one = layerNorm(tf.slice(x, [4, 0], [1, 33]), 33).dataSync();
    assertBitwise(one as Float32Array, (all as Float32Array).subarray(4 * 33, 5 * 33), "row 4");
  });
});

test("hostile calls: a NormError naming the argument, never a wrong number", () => {
  tf.tidy(() => {
    const x = randn(17, [2, 4]);
    assert.throws(() => layerNorm(tf.cast(x, "int32"), 4), isNormError("BAD_DTYPE", "x"));
    assert.throws(() => layerNorm(core.tensor(new Float32Array(8), [2, 4]) as never, 4), isNormError("BAD_ARGUMENT", "x"));
    assert.throws(() => layerNorm(x, 4, { epsilon: 1e-3 } as never), isNormError("BAD_ARGUMENT", "options.epsilon"));
    assert.throws(() => layerNorm(x, 4, [] as never), isNormError("BAD_ARGUMENT", "options"));
    assert.throws(() => layerNorm(x, 4, { weight: randn(18, [3]) }), isNormError("BAD_PARAM_SHAPE", "weight"));
    assert.throws(() => rmsNorm(x, 4, { bias: new Float32Array(4) as never }), isNormError("BAD_ARGUMENT", "bias"));
    assert.throws(() => rmsNorm(x, [3]), isNormError("BAD_NORMALIZED_SHAPE", "normalizedShape"));
    assert.throws(() => layerNorm(x, 4, { eps: -1 }), isNormError("BAD_EPS", "eps"));
    const gone = randn(19, [2, 4]);
    gone.dispose();
    assert.throws(() => layerNorm(gone, 4), isNormError("BAD_ARGUMENT", "x"));
  });
});

test("one tensor as x, weight and bias at once: gradients add up as TF.js's own ops'", () => {
  tf.tidy(() => {
    const v = randn(22, [12], 1, 0.5);
    const ours = tf.grad((v: tf.Tensor) => tf.sum(tf.square(rmsNorm(v, 12, { weight: v, bias: v }))))(v);
    const formula = (v: tf.Tensor) => tf.add(tf.mul(tf.mul(v, tf.rsqrt(tf.add(tf.mean(tf.square(v)), 2 ** -23))), v), v);
    const theirs = tf.grad((v: tf.Tensor) => tf.sum(tf.square(formula(v))))(v);
    assertNear(ours, theirs, "d/dv", 2e-5);
  });
});

test("a polluted Object.prototype changes nothing", () => {
  tf.tidy(() => {
    const x = randn(20, [3, 8]);
    const want = layerNorm(x, 8).dataSync().slice();
    const proto = Object.prototype as Record<string, unknown>;
    proto.eps = 0.5;
    proto.weight = tf.zeros([8]);
    try {
      assertBitwise(layerNorm(x, 8).dataSync() as Float32Array, want as Float32Array, "y");
      assertBitwise(layerNorm(x, 8, {}).dataSync() as Float32Array, want as Float32Array, "y with {}");
    } finally {
      delete proto.eps;
      delete proto.weight;
    }
  });
});

test("a gradient of the gradient is refused (it would silently be 0), first-order works inside tf.grad's backward", () => {
  tf.tidy(() => {
    const x = randn(21, [2, 6]);
    const inner = (x: tf.Tensor) => tf.sum(tf.grad((z: tf.Tensor) => tf.sum(tf.square(layerNorm(z, 6))))(x));
    assert.throws(() => tf.grad(inner)(x), isNormError("BAD_ARGUMENT", "x"));
    // and the first-order gradient of the same thing still works afterwards
    assert.deepEqual(tf.grad((z: tf.Tensor) => tf.sum(tf.square(layerNorm(z, 6))))(x).shape, [2, 6]);
  });
});
