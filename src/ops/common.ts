/**
 * Validation shared by the public ops, done once at the boundary (as ATen's layer_norm.cpp does):
 * after it, kernels see contiguous rows × width and trust their input.
 */
import { NormError, describe } from "../errors.js";
import { checkEps, checkOptions, checkParam, checkParamShape, checkSameShape, checkTensor, numel, shapeStr, type Tensor } from "../tensor.js";

/** Options of LayerNorm, RMSNorm and GroupNorm. */
export interface NormOptions {
  /** γ, the learned scale; omitted means 1. */
  weight?: Tensor | null;
  /** β, the learned shift; omitted means 0. */
  bias?: Tensor | null;
  /** Added to the variance inside the square root. */
  eps?: number;
}

/** Options of the LayerNorm/RMSNorm forward ops. */
export interface ForwardOptions extends NormOptions {
  /**
   * Write y into this tensor (x's shape, not overlapping x, weight or bias) instead of a new one,
   * and return a tensor over its data: for loops that reuse an output buffer, and for the pool,
   * where an `out` in a SharedArrayBuffer is written by the workers directly.
   */
  out?: Tensor | null;
}

/** Gradients returned by every `*Backward`: `dweight`/`dbias` are tensors exactly when weight/bias were given. */
export interface Grads {
  dx: Tensor;
  dweight: Tensor | null;
  dbias: Tensor | null;
}

/** LayerNorm/RMSNorm arguments after validation: x seen as rows × D. */
export interface RowNormArgs {
  x: Tensor;
  rows: number;
  D: number;
  normalizedShape: readonly number[];
  weight: Float32Array | null;
  bias: Float32Array | null;
  eps: number;
  /** where forward writes y (ForwardOptions.out), or null for a new array */
  out: Float32Array | null;
}

export function rowNormArgs(
  x: unknown, normalizedShape: unknown, options: unknown, defaultEps: number, forward = false,
): RowNormArgs {
  const a = rowNormArgsOf(checkTensor, x, normalizedShape, options, defaultEps);
  const weight = a.weight?.data ?? null;
  const bias = a.bias?.data ?? null;
  const o = (options ?? {}) as { out?: unknown };
  let out: Float32Array | null = null;
  if (o.out !== undefined && o.out !== null) {
    if (!forward) {
      throw new NormError("BAD_ARGUMENT", "out", `expected no out (backward returns new tensors; out is a forward option), got ${describe(o.out)}`);
    }
    out = checkSameShape(o.out, a.x, "out").data;
    for (const [name, other] of [["x", a.x.data], ["weight", weight], ["bias", bias]] as const) {
      if (other !== null && overlaps(out, other)) {
        throw new NormError("BAD_ARGUMENT", "out", `expected memory not overlapping ${name} (inputs are never modified), got a view of ${name}'s buffer`);
      }
    }
  }
  return { ...a, weight, bias, out };
}

function overlaps(a: Float32Array, b: Float32Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * rowNormArgs for any tensor-like that `check` accepts (CPU tensors, GPU-resident tensors): the
 * same checks, with weight/bias returned as tensor-likes.
 */
export function rowNormArgsOf<T extends { readonly shape: readonly number[] }>(
  check: (t: unknown, name: string) => T, x: unknown, normalizedShape: unknown, options: unknown, defaultEps: number,
) {
  const t = check(x, "x");
  const ns = checkNormalizedShape(normalizedShape, t.shape);
  const o = checkOptions<{ weight: unknown; bias: unknown; eps: unknown }>(options);
  const D = numel(ns);
  const param = (p: unknown, name: string): T | null => {
    if (p === undefined || p === null) return null;
    const c = check(p, name);
    checkParamShape(c, name, ns);
    return c;
  };
  const weight = param(o.weight, "weight");
  const bias = param(o.bias, "bias");
  return { x: t, rows: D === 0 ? 0 : numel(t.shape) / D, D, normalizedShape: ns, weight, bias, eps: checkEps(o.eps, defaultEps) };
}

/** Accepts a number (one trailing dim) or an array equal to x's trailing dims. */
export function checkNormalizedShape(normalizedShape: unknown, xShape: readonly number[]): readonly number[] {
  const ns = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(ns) || ns.length === 0) {
    throw new NormError(
      "BAD_NORMALIZED_SHAPE",
      "normalizedShape",
      `expected a non-empty array of x's trailing dims (x has shape ${shapeStr(xShape)}), got ${describe(normalizedShape)}`,
    );
  }
  if (ns.length > xShape.length) {
    throw new NormError(
      "BAD_NORMALIZED_SHAPE",
      "normalizedShape",
      `expected at most ${xShape.length} dims (x has shape ${shapeStr(xShape)}), got ${describe(ns)}`,
    );
  }
  const tail = xShape.slice(xShape.length - ns.length);
  if (ns.some((d, i) => d !== tail[i])) {
    throw new NormError(
      "BAD_NORMALIZED_SHAPE",
      "normalizedShape",
      `expected x's trailing dims ${shapeStr(tail)} (x has shape ${shapeStr(xShape)}), got ${describe(ns)}`,
    );
  }
  return Object.freeze([...(ns as number[])]);
}

/** BatchNorm/GroupNorm see x as [N, C, S] with S the product of the spatial dims. */
export interface ChannelArgs {
  x: Tensor;
  N: number;
  C: number;
  S: number;
  weight: Float32Array | null;
  bias: Float32Array | null;
  eps: number;
}

export function channelArgs(op: string, x: unknown, options: Partial<NormOptions>, defaultEps: number): ChannelArgs {
  const t = checkTensor(x, "x");
  if (t.shape.length < 2) {
    throw new NormError(
      "BAD_RANK",
      "x",
      `${op} expects an input of shape [N, C, ...] with at least 2 dims, got shape ${shapeStr(t.shape)}`,
    );
  }
  const [N, C] = t.shape as [number, number];
  const S = numel(t.shape.slice(2));
  return {
    x: t,
    N,
    C,
    S,
    weight: checkParam(options.weight, "weight", [C])?.data ?? null,
    bias: checkParam(options.bias, "bias", [C])?.data ?? null,
    eps: checkEps(options.eps, defaultEps),
  };
}

export { checkSameShape, checkOptions };

/** A result tensor of the given shape. */
export function out(data: Float32Array, shape: readonly number[]): Tensor {
  return { shape: Object.freeze([...shape]), data };
}

/**
 * Gradient buffers for the parameters that were given: fresh zeros, or the caller's buffers
 * (`into`, a module's accumulated grads) which the kernels then add to.
 */
export function paramGrads(
  weight: Float32Array | null, bias: Float32Array | null, shape: readonly number[],
  into?: { dweight: Float32Array | null; dbias: Float32Array | null },
) {
  const dweight = into ? into.dweight : weight !== null ? new Float32Array(weight.length) : null;
  const dbias = into ? into.dbias : bias !== null ? new Float32Array(bias.length) : null;
  return {
    dweight,
    dbias,
    wrap(dx: Float32Array, xShape: readonly number[]): Grads {
      return {
        dx: out(dx, xShape),
        dweight: dweight !== null ? out(dweight, shape) : null,
        dbias: dbias !== null ? out(dbias, shape) : null,
      };
    },
  };
}
