/**
 * normkit's LayerNorm and RMSNorm as TF.js ops with gradients (`tf.customGrad`): the forward runs
 * normkit's kernel on the tensors' data, and the gradient function hands the forward's saved
 * statistics (mean, rstd) to normkit's backward, as autograd does, so backward does not recompute
 * them.
 *
 * Data movement per call (what `dataSync()` and `tf.tensor()` cost): on TF.js's `cpu` backend,
 * `dataSync()` returns the backend's own Float32Array (no copy) and `tf.tensor(float32Array)`
 * stores the array it is given (no copy), so a forward allocates y (x's size) plus two floats per
 * row (mean, rstd), and a backward allocates dx and dγ/dβ: the outputs, nothing else. On other
 * backends (webgl, webgpu, wasm), `dataSync()` copies each input to the CPU (a synchronous
 * readback on a GPU) and `tf.tensor()` uploads each output.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  NormError, layerNormForward, layerNormBackward, rmsNormForward, rmsNormBackward, tensor,
  LAYER_NORM_EPS, RMS_NORM_EPS, type Tensor, type Grads,
} from "../index.js";
import { describe } from "../errors.js";

/** Options of the TF.js ops: normkit's (PyTorch's) arguments, with TF.js tensors. */
export interface TfNormOptions {
  /** γ, the learned scale, of shape `normalizedShape`; omitted means 1. Gets a gradient. */
  weight?: tf.Tensor | null;
  /** β, the learned shift, of shape `normalizedShape`; omitted means 0. Gets a gradient. */
  bias?: tf.Tensor | null;
  /** Added to the variance (mean square for RMSNorm) inside the square root. */
  eps?: number;
}

const OPTION_KEYS = ["weight", "bias", "eps"] as const;

/**
 * A TF.js tensor as a normkit tensor `{ shape, data }`. On the `cpu` backend `data` is TF.js's own
 * storage (no copy): read it, never write to it. On other backends it is a copy read back with
 * `dataSync()`. Throws a NormError naming `name` unless `t` is a live float32 `tf.Tensor` of the
 * `@tensorflow/tfjs-core` this module loads.
 */
export function fromTfjs(t: tf.Tensor, name = "x"): Tensor {
  if (!(t instanceof tf.Tensor)) {
    throw new NormError(
      "BAD_ARGUMENT", name,
      `expected a tf.Tensor of the @tensorflow/tfjs-core that normkit/tfjs imports (a second copy of tfjs-core installed?), got ${describe(t)}`,
    );
  }
  if (t.isDisposed) throw new NormError("BAD_ARGUMENT", name, "expected a live tf.Tensor, got a disposed one");
  if (t.dtype !== "float32") {
    throw new NormError("BAD_DTYPE", name, `expected a float32 tf.Tensor, got ${t.dtype} (tf.cast(${name}, "float32") converts it)`);
  }
  return tensor(t.dataSync() as Float32Array, t.shape);
}

/** A normkit tensor as a float32 `tf.Tensor`; on the `cpu` backend it keeps `t.data` (no copy). */
export function toTfjs(t: Tensor): tf.Tensor {
  return tf.tensor(t.data, [...t.shape], "float32");
}

/**
 * LayerNorm over the trailing dims `normalizedShape` of a TF.js tensor, as
 * `F.layer_norm(x, normalizedShape, weight, bias, eps)`; differentiable with respect to x,
 * weight and bias. Default eps 1e-5 (PyTorch's, as normkit's `layerNorm`; TF.js's
 * `tf.layers.layerNormalization` defaults to 1e-3).
 */
export function layerNorm(x: tf.Tensor, normalizedShape: number | readonly number[], options?: TfNormOptions): tf.Tensor {
  return rowNorm(layerNormForward, layerNormBackward, LAYER_NORM_EPS, x, normalizedShape, options);
}

/**
 * RMSNorm over the trailing dims `normalizedShape` of a TF.js tensor, as
 * `F.rms_norm(x, normalizedShape, weight, eps)` (plus an optional bias); differentiable with
 * respect to x, weight and bias. Default eps 2⁻²³ (PyTorch's `eps=None`, as normkit's `rmsNorm`).
 */
export function rmsNorm(x: tf.Tensor, normalizedShape: number | readonly number[], options?: TfNormOptions): tf.Tensor {
  return rowNorm(rmsNormForward, rmsNormBackward, RMS_NORM_EPS, x, normalizedShape, options);
}

type Forward = (x: Tensor, ns: number | readonly number[], o: object) => { y: Tensor; mean?: Tensor; rstd: Tensor };
type Backward = (dy: Tensor, x: Tensor, ns: number | readonly number[], o: object) => Grads;

function rowNorm(
  forward: Forward, backward: Backward, defaultEps: number,
  x: tf.Tensor, normalizedShape: number | readonly number[], options: TfNormOptions | undefined,
): tf.Tensor {
  const o = ownOptions(options);
  const params = (["weight", "bias"] as const).filter((k) => o[k] !== undefined && o[k] !== null);
  // tensors checked before customGrad: its own checks throw plain Errors
  const xs = fromTfjs(x, "x");
  const p = Object.fromEntries(params.map((k) => [k, fromTfjs(o[k] as tf.Tensor, k)]));
  const args = Object.assign(Object.create(null) as object, p, { eps: o.eps ?? defaultEps });
  const op = tf.customGrad(() => {
    const { y, ...stats } = forward(xs, normalizedShape, args);
    return {
      value: toTfjs(y),
      gradFunc: (dy: tf.Tensor) => {
        // The gradient below is computed outside TF.js, so a gradient of it would silently be 0.
        if (tf.engine().state.gradientDepth > 0) {
          throw new NormError("BAD_ARGUMENT", "x", "expected first-order gradients only: normkit/tfjs ops have no gradient of their gradient (tf.grad inside tf.grad)");
        }
        const g = backward(fromTfjs(dy, "dy"), xs, normalizedShape, Object.assign(Object.create(null) as object, args, stats));
        const grads = [toTfjs(g.dx)];
        if (g.dweight !== null) grads.push(toTfjs(g.dweight));
        if (g.dbias !== null) grads.push(toTfjs(g.dbias));
        return grads;
      },
    };
  });
  return op(x, ...params.map((k) => o[k] as tf.Tensor));
}

/** The options' own keys (a polluted Object.prototype adds none); unknown keys are a NormError. */
function ownOptions(options: unknown): TfNormOptions {
  const out: Record<string, unknown> = Object.create(null);
  if (options === undefined || options === null) return out;
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new NormError("BAD_ARGUMENT", "options", `expected an options object { weight?, bias?, eps? }, got ${describe(options)}`);
  }
  for (const k of Object.keys(options)) {
    if (!(OPTION_KEYS as readonly string[]).includes(k)) {
      throw new NormError("BAD_ARGUMENT", `options.${k}`, `expected one of ${OPTION_KEYS.join(", ")}, got an unknown option "${k}"`);
    }
    out[k] = (options as Record<string, unknown>)[k];
  }
  return out as TfNormOptions;
}
