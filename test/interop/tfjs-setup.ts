/**
 * TF.js for the interop tests: tfjs-core with its pure-JS `cpu` backend (no binary download),
 * tfjs-layers, and TF.js's test mode (IS_TEST), which also checks every kernel for leaked tensors.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import { rng } from "../shared.js";

tf.env().set("IS_TEST", true);
await tf.setBackend("cpu");

export { tf, tfl };

/** A float32 tf.Tensor of normals (offset + scale·N(0, 1)) from the tests' seeded PRNG. */
export function randn(seed: number, shape: number[], scale = 1, offset = 0): tf.Tensor {
  return tf.tensor(rng(seed).tensor(shape, scale, offset).data, shape, "float32");
}

/** max |a − b| over two tensors' values. */
export function maxDiff(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number {
  const va = a instanceof tf.Tensor ? a.dataSync() : a;
  const vb = b instanceof tf.Tensor ? b.dataSync() : b;
  if (va.length !== vb.length) return Infinity;
  let m = 0;
  for (let i = 0; i < va.length; i++) m = Math.max(m, Math.abs(va[i]! - vb[i]!) || (Object.is(va[i], vb[i]) ? 0 : Infinity));
  return m;
}
