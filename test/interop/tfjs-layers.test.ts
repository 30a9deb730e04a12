/**
 * normkit/tfjs layers: LayerNormalization against tf.layers.layerNormalization (defaults, outputs,
 * gradients, training side by side), RMSNormalization against the formula in TF.js ops, a model
 * that trains, saving and loading, and misuse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, tfl, randn, maxDiff } from "./tfjs-setup.js";
import { LayerNormalization, RMSNormalization, layerNormalization, rmsNormalization } from "../../src/tfjs/index.js";
import { NormError } from "../../src/index.js";
import { rng } from "../shared.js";

const isNormError = (code: string, argument: string) => (e: unknown) =>
  e instanceof NormError && e.code === code && e.argument === argument;

test("LayerNormalization has tf.layers.layerNormalization's defaults and weights (epsilon 1e-3, gamma, beta)", () => {
  const ours = new LayerNormalization();
  const theirs = tfl.layers.layerNormalization({});
  for (const key of ["axis", "epsilon", "center", "scale", "betaInitializer", "gammaInitializer", "betaRegularizer", "gammaRegularizer"]) {
    assert.deepEqual(ours.getConfig()[key], theirs.getConfig()[key], key);
  }
  ours.build([null, 6]);
  theirs.build([null, 6]);
  assert.deepEqual(ours.getWeights().map((w) => [w.shape, Array.from(w.dataSync())]), theirs.getWeights().map((w) => [w.shape, Array.from(w.dataSync())]));
  assert.deepEqual(ours.weights.map((w) => w.originalName.split("/").pop()), ["gamma", "beta"]);
  assert.equal(new RMSNormalization().epsilon, 1e-6);
  assert.equal(rmsNormalization().center, false);
  assert.ok(layerNormalization({ epsilon: 1e-5 }) instanceof LayerNormalization);
});

for (const axis of [-1, [-2, -1]]) {
  test(`LayerNormalization(axis ${JSON.stringify(axis)}): output and gradients (input, gamma, beta) as tf.layers.layerNormalization`, () => {
    tf.tidy(() => {
      const x = randn(1, [3, 5, 24], 2, 4), R = randn(2, [3, 5, 24]);
      const pshape = axis === -1 ? [24] : [5, 24];
      const weights = [randn(3, pshape, 0.3, 1), randn(4, pshape)];
      const pair = [new LayerNormalization({ axis }), tfl.layers.layerNormalization({ axis })];
      const [o, t] = pair.map((layer) => {
        layer.build(x.shape);
        layer.setWeights(weights);
        const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, R)) as tf.Scalar, vars);
        const dx = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, R)))(x);
        return { y: layer.apply(x) as tf.Tensor, loss: value, dx, dgamma: grads[vars[0]!.name]!, dbeta: grads[vars[1]!.name]! };
      });
      for (const k of ["y", "dx", "dgamma", "dbeta"] as const) {
        const scale = Math.max(1, ...Array.from(t![k].dataSync(), Math.abs));
        assert.ok(maxDiff(o![k], t![k]) <= 1e-5 * scale, `${k}: max |Δ| ${maxDiff(o![k], t![k])}`);
      }
    });
  });
}

test("RMSNormalization (center on): output and gradients as x·rsqrt(mean(x²) + ε)·γ + β in TF.js ops", () => {
  tf.tidy(() => {
    const x = randn(5, [4, 32], 1.5, 0.5), R = randn(6, [4, 32]);
    const layer = new RMSNormalization({ center: true, epsilon: 1e-4 });
    layer.build(x.shape);
    layer.setWeights([randn(7, [32], 0.3, 1), randn(8, [32])]);
    const [gamma, beta] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const formula = (x: tf.Tensor) => tf.add(tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-4))), gamma!), beta!);
    const loss = (f: (x: tf.Tensor) => tf.Tensor) => () => tf.sum(tf.mul(f(x), R)) as tf.Scalar;
    const apply = (x: tf.Tensor) => layer.apply(x) as tf.Tensor;
    assert.ok(maxDiff(apply(x), formula(x)) < 1e-5);
    const g = tf.variableGrads(loss(apply), [gamma!, beta!]).grads, f = tf.variableGrads(loss(formula), [gamma!, beta!]).grads;
    for (const v of [gamma!, beta!]) assert.ok(maxDiff(g[v.name]!, f[v.name]!) < 2e-5, v.name);
    const dx = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(apply(x), R)))(x), fdx = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(formula(x), R)))(x);
    assert.ok(maxDiff(dx, fdx) < 2e-5);
  });
});

/** A 2-layer MLP with the given norm between the dense layers, seeded weights. */
function mlp(norm: () => tfl.layers.Layer[]) {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ units: 16, inputShape: [8], activation: "relu", kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  for (const layer of norm()) model.add(layer);
  model.add(tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  return model;
}

/** y = sin(Σ x·v) for 128 seeded samples of 8 features, on a scale the layers must learn. */
function data() {
  const r = rng(42);
  const xs = r.tensor([128, 8], 3, 1).data, ys = new Float32Array(128);
  for (let i = 0; i < 128; i++) ys[i] = 2 * Math.sin(xs.subarray(i * 8, i * 8 + 8).reduce((s, v, j) => s + v * (j - 3.5) * 0.1, 0));
  return { x: tf.tensor(xs, [128, 8]), y: tf.tensor(ys, [128, 1]) };
}

test("a model with LayerNormalization and RMSNormalization trains: loss falls, γ and β move", async () => {
  const { x, y } = data();
  const model = mlp(() => [new LayerNormalization(), new RMSNormalization({ center: true })]);
  model.compile({ optimizer: tf.train.adam(0.01), loss: "meanSquaredError" });
  const before = model.getWeights().map((w) => w.dataSync().slice());
  const h = await model.fit(x, y, { epochs: 30, batchSize: 32, shuffle: false, verbose: 0 });
  const loss = h.history.loss as number[];
  assert.ok(loss.at(-1)! < 0.5 * loss[0]!, `loss ${loss[0]} → ${loss.at(-1)}`);
  // the norm layers' weights (indices 2–5: LN gamma, beta, RMS gamma, beta) were trained
  const after = model.getWeights().map((w) => w.dataSync());
  for (const i of [2, 3, 4, 5]) assert.ok(maxDiff(after[i]!, before[i]!) > 1e-3, `weight ${model.weights[i]!.name} unchanged`);
  model.dispose();
  tf.dispose([x, y]);
});

test("training side by side with tf.layers.layerNormalization (same weights, SGD): the same losses and weights", async () => {
  const { x, y } = data();
  const runs = [];
  for (const norm of [() => new LayerNormalization(), () => tfl.layers.layerNormalization({})]) {
    const model = mlp(() => [norm()]);
    model.compile({ optimizer: tf.train.sgd(0.05), loss: "meanSquaredError" });
    const h = await model.fit(x, y, { epochs: 5, batchSize: 32, shuffle: false, verbose: 0 });
    runs.push({ loss: h.history.loss as number[], weights: model.getWeights().map((w) => w.dataSync().slice()) });
    model.dispose();
  }
  const [o, t] = runs;
  o!.loss.forEach((l, i) => assert.ok(Math.abs(l - t!.loss[i]!) <= 1e-5 * t!.loss[i]!, `epoch ${i}: ${l} vs ${t!.loss[i]}`));
  o!.weights.forEach((w, i) => assert.ok(maxDiff(w, t!.weights[i]!) < 1e-5, `weight ${i}: ${maxDiff(w, t!.weights[i]!)}`));
  assert.ok(t!.loss.at(-1)! < t!.loss[0]!);
  tf.dispose([x, y]);
});

test("save and load (tf.io.withSaveHandler → tf.loadLayersModel): the same layers, config and predictions", async () => {
  const model = mlp(() => [new LayerNormalization({ epsilon: 1e-5, gammaInitializer: "randomNormal" }), new RMSNormalization({ axis: [-1], gammaRegularizer: tfl.regularizers.l2({ l2: 0.01 }) })]);
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  }));
  assert.match(JSON.stringify(saved!.modelTopology), /"class_name":"NormkitLayerNormalization".*"class_name":"NormkitRMSNormalization"/);
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
  assert.ok(loaded.layers[1] instanceof LayerNormalization && loaded.layers[2] instanceof RMSNormalization);
  // as JSON (a seed saved as undefined loads as null)
  const json = (l: tfl.layers.Layer) => JSON.stringify(l.getConfig(), (_, v) => v ?? null);
  assert.equal(json(loaded.layers[1]!), json(model.layers[1]!));
  assert.equal(json(loaded.layers[2]!), json(model.layers[2]!));
  const x = randn(9, [5, 8]);
  const a = model.predict(x) as tf.Tensor, b = loaded.predict(x) as tf.Tensor;
  assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
  // TF.js's own LayerNormalization still deserializes as TF.js's
  const own = tf.serialization.SerializationMap.getMap().classNameMap["LayerNormalization"]![0];
  assert.equal(own, tfl.layers.layerNormalization({}).constructor);
  tf.dispose([x, a, b]);
  model.dispose();
  loaded.dispose();
});

test("a saved model with LayerNormalization renamed to TF.js's class loads as tf.layers.layerNormalization, same predictions", async () => {
  const model = mlp(() => [new LayerNormalization({ gammaInitializer: "randomNormal", betaInitializer: "randomNormal" })]);
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  }));
  const topology = JSON.parse(JSON.stringify(saved!.modelTopology).replaceAll('"NormkitLayerNormalization"', '"LayerNormalization"'));
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory({ ...saved!, modelTopology: topology }));
  assert.equal(loaded.layers[1]!.constructor, tfl.layers.layerNormalization({}).constructor);
  tf.tidy(() => {
    const x = randn(12, [7, 8], 2);
    const a = model.predict(x) as tf.Tensor, b = loaded.predict(x) as tf.Tensor;
    assert.ok(maxDiff(a, b) < 1e-5, `max |Δ| ${maxDiff(a, b)}`);
  });
  model.dispose();
  loaded.dispose();
});

test("layer misuse: a NormError naming the argument", () => {
  assert.throws(() => new LayerNormalization({ epsilom: 1e-5 } as never), isNormError("BAD_ARGUMENT", "args.epsilom"));
  assert.throws(() => new LayerNormalization({ epsilon: -1 }), isNormError("BAD_EPS", "epsilon"));
  assert.throws(() => new LayerNormalization({ epsilon: "1e-5" as never }), isNormError("BAD_EPS", "epsilon"));
  assert.throws(() => new RMSNormalization({ center: "yes" as never }), isNormError("BAD_ARGUMENT", "center"));
  assert.throws(() => new LayerNormalization({ axis: 1.5 }), isNormError("BAD_ARGUMENT", "axis"));
  assert.throws(() => new LayerNormalization({ axis: [-1, -1] }), isNormError("BAD_ARGUMENT", "axis"));
  assert.throws(() => new LayerNormalization({ gammaInitializer: "onse" }), isNormError("BAD_ARGUMENT", "gammaInitializer"));
  assert.throws(() => new LayerNormalization({ betaInitializer: { className: "Dense", config: {} } }), isNormError("BAD_ARGUMENT", "betaInitializer"));
  assert.throws(() => new RMSNormalization({ gammaRegularizer: 3 as never }), isNormError("BAD_ARGUMENT", "gammaRegularizer"));
  // normkit normalizes trailing dims: other axes are refused when the layer is built, not normalized wrongly
  assert.throws(() => new LayerNormalization({ axis: 1 }).build([null, 4, 6]), isNormError("BAD_ARGUMENT", "axis"));
  assert.throws(() => new LayerNormalization({ axis: [-1, -2] }).build([null, 4, 6]), isNormError("BAD_ARGUMENT", "axis"));
  assert.throws(() => new LayerNormalization({ axis: -1 }).build([null, null]), isNormError("BAD_SHAPE", "inputShape"));
  tf.tidy(() => {
    const layer = new LayerNormalization();
    layer.apply(randn(10, [2, 6]));
    assert.throws(() => layer.apply(randn(11, [2, 5])), isNormError("BAD_PARAM_SHAPE", "weight"));
    assert.throws(() => layer.apply(tf.ones([2, 6], "int32")), isNormError("BAD_DTYPE", "x"));
  });
  // the accepted forms of initializers
  for (const init of ["ones", "Ones", tfl.initializers.ones(), { className: "Ones", config: {} }]) {
    assert.equal(new LayerNormalization({ gammaInitializer: init }).gammaInitializer.getClassName(), "Ones");
  }
});
