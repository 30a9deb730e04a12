/**
 * What normkit/tfjs costs per call on TF.js's cpu backend (not a test; numbers for docs/tfjs.md):
 * median ms of LayerNorm forward and forward + backward (tf.grads with dy given: dx, dγ, dβ), through normkit/tfjs, through
 * tf.layers.layerNormalization, and normkit's core op on the same Float32Arrays (the adapter's
 * overhead is the difference). Contenders take turns in rotating order, round by round.
 *   npm run build && node build/bench/tfjs.js [reps]
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import { layerNorm } from "../src/tfjs/index.js";
import * as core from "../src/index.js";
import { median } from "./lib.js";
import { race as timeRace } from "./race.js";

const REPS = Number(process.argv[2] ?? 9);
tf.env().set("PROD", true); // no "install tfjs-node" banner
await tf.setBackend("cpu");

function race(contenders: Record<string, () => void>): Record<string, number> {
  return Object.fromEntries(Object.entries(timeRace(contenders, REPS)).map(([n, t]) => [n, median(t.wall)]));
}

// TF.js's layer takes seconds per call on wider inputs
for (const shape of [[64, 768], [256, 768]]) {
  const [rows, D] = shape as [number, number];
  const x = tf.randomNormal(shape, 0, 1, "float32", 1), dy = tf.randomNormal(shape, 0, 1, "float32", 2);
  const w = tf.randomNormal([D], 1, 0.1, "float32", 3), b = tf.randomNormal([D], 0, 0.1, "float32", 4);
  const theirs = tfl.layers.layerNormalization({ epsilon: 1e-5 });
  theirs.build(shape);
  theirs.setWeights([w, b]);
  const [gamma, beta] = theirs.trainableWeights.map((v) => v.read() as tf.Variable);
  const xs = core.tensor(x.dataSync() as Float32Array, shape), dys = core.tensor(dy.dataSync() as Float32Array, shape);
  const ws = core.tensor(w.dataSync() as Float32Array, [D]), bs = core.tensor(b.dataSync() as Float32Array, [D]);
  const fwd = race({
    "normkit core layerNorm (Float32Arrays)": () => void core.layerNorm(xs, D, { weight: ws, bias: bs }),
    "normkit/tfjs layerNorm": () => tf.dispose(layerNorm(x, D, { weight: w, bias: b })),
    "tf.layers.layerNormalization": () => tf.dispose(theirs.apply(x) as tf.Tensor),
  });
  const both = race({
    "normkit core layerNormForward + layerNormBackward": () => {
      const { mean, rstd } = core.layerNormForward(xs, D, { weight: ws, bias: bs });
      core.layerNormBackward(dys, xs, D, { weight: ws, bias: bs, mean, rstd });
    },
    "normkit/tfjs layerNorm, tf.grads": () =>
      tf.dispose(tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => layerNorm(x, D, { weight: w, bias: b }))([x, gamma!, beta!], dy)),
    // the layer reads gamma and beta itself; tf.grads differentiates with respect to them all the same
    "tf.layers.layerNormalization, tf.grads": () =>
      tf.dispose(tf.grads((x: tf.Tensor) => theirs.apply(x) as tf.Tensor)([x, gamma!, beta!], dy)),
  });
  console.log(`[${rows}, ${D}] (backend ${core.getBackend()}, ${REPS} rounds, median ms)`);
  for (const [n, ms] of Object.entries({ ...fwd, ...both })) console.log(`  ${n.padEnd(52)} ${ms.toFixed(3)}`);
  tf.dispose([x, dy, w, b]);
}
