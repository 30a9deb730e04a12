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

/** Options of the LayerNorm/RMSNorm backward ops. */
export interface BackwardOptions extends NormOptions {
  /**
   * The statistics `layerNormForward`/`rmsNormForward` returned for this x (shape: x's leading
   * dims, one value per row), so backward does not recompute them, as autograd reuses what
   * forward saved. LayerNorm takes both or neither; RMSNorm takes rstd only.
   */
  mean?: Tensor | null;
  rstd?: Tensor | null;
  /** Write dx into this tensor (x's shape, not overlapping any input) instead of a new one. */
  out?: Tensor | null;
  /**
   * Add dweight/dbias into these tensors (normalizedShape; += as in llm.c and the modules' `.grad`)
   * instead of returning fresh ones; each only where its parameter was given.
   */
  into?: { dweight?: Tensor | null; dbias?: Tensor | null } | null;
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
  /** where forward writes y, or backward dx (`options.out`); null for a new array */
  out: Float32Array | null;
}

/** LayerNorm/RMSNorm backward arguments after validation. */
export interface RowNormBackwardArgs extends RowNormArgs {
  dy: Float32Array;
  /** saved statistics (`options.mean`/`rstd`), or null: recompute them */
  stats: { mean: Float32Array | null; rstd: Float32Array } | null;
  /** gradient buffers to add into (`options.into`); null entries get fresh arrays */
  into: { dweight: Float32Array | null; dbias: Float32Array | null };
}

/**
 * Validates a forward's arguments; `out` (y) is allowed only where `outOk` (the ops and the pool;
 * not the GPU backend's CPU conveniences, which return new tensors).
 */
export function rowNormArgs(x: unknown, normalizedShape: unknown, options: unknown, defaultEps: number, outOk = false): RowNormArgs {
  const a = rowNormArgsOf(checkTensor, x, normalizedShape, options, defaultEps);
  const weight = a.weight?.data ?? null;
  const bias = a.bias?.data ?? null;
  const o = (options ?? {}) as { out?: unknown };
  let out: Float32Array | null = null;
  if (o.out !== undefined && o.out !== null) {
    if (!outOk) throw new NormError("BAD_ARGUMENT", "out", `expected no out (this call returns new tensors), got ${describe(o.out)}`);
    out = checkSameShape(o.out, a.x, "out").data;
    checkWrites([["out", out]], [["x", a.x.data], ["weight", weight], ["bias", bias]]);
  }
  return { ...a, weight, bias, out };
}

/** Validates a backward's arguments: rowNormArgs plus dy, the saved statistics, `out` (dx) and `into`. */
export function rowNormBackwardArgs(
  dy: unknown, x: unknown, normalizedShape: unknown, options: unknown, defaultEps: number, rms: boolean,
): RowNormBackwardArgs {
  const a = rowNormArgsOf(checkTensor, x, normalizedShape, options, defaultEps);
  const g = checkSameShape(dy, a.x);
  const o = options as BackwardOptions | undefined;
  const s = savedStats(checkTensor, o, rms, statShape(a.x.shape, a.normalizedShape));
  const weight = a.weight?.data ?? null;
  const bias = a.bias?.data ?? null;
  const i = gradsInto(checkTensor, o?.into, a.weight !== null, a.bias !== null, a.normalizedShape);
  const out = o?.out !== undefined && o.out !== null ? checkSameShape(o.out, a.x, "out").data : null;
  checkWrites(
    [["out", out], ["into.dweight", i.dweight?.data ?? null], ["into.dbias", i.dbias?.data ?? null]],
    [["x", a.x.data], ["dy", g.data], ["weight", weight], ["bias", bias], ["mean", s?.mean?.data ?? null], ["rstd", s?.rstd.data ?? null]],
  );
  return {
    ...a, weight, bias, out, dy: g.data,
    stats: s === null ? null : { mean: s.mean?.data ?? null, rstd: s.rstd.data },
    into: { dweight: i.dweight?.data ?? null, dbias: i.dbias?.data ?? null },
  };
}

/** Shape of the row statistics: x's leading dims (one value per row). */
export function statShape(xShape: readonly number[], normalizedShape: readonly number[]): readonly number[] {
  return xShape.slice(0, xShape.length - normalizedShape.length);
}

/**
 * `options.mean`/`options.rstd` of a backward, for any tensor-like `check` accepts (CPU tensors,
 * GPU tensors), each of the given shape: null when neither is given (backward recomputes them).
 */
export function savedStats<T extends { readonly shape: readonly number[] }>(
  check: (t: unknown, name: string) => T, options: { mean?: unknown; rstd?: unknown } | undefined | null,
  rms: boolean, shape: readonly number[],
): { mean: T | null; rstd: T } | null {
  const m = options?.mean ?? null, r = options?.rstd ?? null;
  if (rms && m !== null) {
    throw new NormError("BAD_ARGUMENT", "mean", `expected no mean (RMSNorm subtracts none; pass rstd alone), got ${describe(m)}`);
  }
  if (m === null && r === null) return null;
  if (r === null) throw new NormError("BAD_ARGUMENT", "rstd", "expected the rstd saved with mean (layerNormForward returns both), got none");
  if (!rms && m === null) throw new NormError("BAD_ARGUMENT", "mean", "expected the mean saved with rstd (layerNormForward returns both), got none");
  const stat = (t: unknown, name: string): T => {
    const c = check(t, name);
    if (c.shape.length !== shape.length || c.shape.some((d, k) => d !== shape[k])) {
      throw new NormError("BAD_PARAM_SHAPE", name, `expected shape ${shapeStr(shape)} (one value per normalized row, as the forward returns), got ${shapeStr(c.shape)}`);
    }
    return c;
  };
  return { mean: m === null ? null : stat(m, "mean"), rstd: stat(r, "rstd") };
}

/**
 * `options.into` of a backward: the gradient tensors to add into, each allowed only where its
 * parameter was given (otherwise there is no such gradient), with the parameter's shape.
 */
export function gradsInto<T extends { readonly shape: readonly number[] }>(
  check: (t: unknown, name: string) => T, into: unknown, hasWeight: boolean, hasBias: boolean, normalizedShape: readonly number[],
): { dweight: T | null; dbias: T | null } {
  const o = checkOptions<{ dweight: unknown; dbias: unknown }>(into, "into");
  const grad = (t: unknown, name: string, has: boolean, param: string): T | null => {
    if (t === undefined || t === null) return null;
    if (!has) throw new NormError("BAD_ARGUMENT", name, `expected none (no ${param} was given, so there is no gradient for it), got ${describe(t)}`);
    const c = check(t, name);
    checkParamShape(c, name, normalizedShape);
    return c;
  };
  return { dweight: grad(o.dweight, "into.dweight", hasWeight, "weight"), dbias: grad(o.dbias, "into.dbias", hasBias, "bias") };
}

/** Each written array must overlap no read array and no other written one (inputs are never modified). */
function checkWrites(written: ReadonlyArray<readonly [string, Float32Array | null]>, read: ReadonlyArray<readonly [string, Float32Array | null]>): void {
  written.forEach(([name, w], k) => {
    if (w === null) return;
    for (const [other, r] of [...read, ...written.slice(0, k)]) {
      if (r !== null && overlaps(w, r)) {
        throw new NormError("BAD_ARGUMENT", name, `expected memory not overlapping ${other} (inputs are never modified), got a view of ${other}'s buffer`);
      }
    }
  });
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
  const a = channelArgsOf(checkTensor, op, x, options, defaultEps);
  return { ...a, weight: a.weight?.data ?? null, bias: a.bias?.data ?? null };
}

/** channelArgs for any tensor-like `check` accepts (CPU tensors, GPU tensors); weight/bias as tensor-likes. */
export function channelArgsOf<T extends { readonly shape: readonly number[] }>(
  check: (t: unknown, name: string) => T, op: string, x: unknown, options: Partial<NormOptions> | Record<string, unknown>, defaultEps: number,
) {
  const t = check(x, "x");
  if (t.shape.length < 2) {
    throw new NormError(
      "BAD_RANK",
      "x",
      `${op} expects an input of shape [N, C, ...] with at least 2 dims, got shape ${shapeStr(t.shape)}`,
    );
  }
  const [N, C] = t.shape as [number, number];
  const S = numel(t.shape.slice(2));
  const param = (p: unknown, name: string): T | null => {
    if (p === undefined || p === null) return null;
    const c = check(p, name);
    checkParamShape(c, name, [C]);
    return c;
  };
  return { x: t, N, C, S, weight: param(options.weight, "weight"), bias: param(options.bias, "bias"), eps: checkEps(options.eps, defaultEps) };
}

export { checkSameShape, checkOptions };

/** A result tensor of the given shape. */
export function out(data: Float32Array, shape: readonly number[]): Tensor {
  return { shape: Object.freeze([...shape]), data };
}

/**
 * Gradient buffers for the parameters that were given: fresh zeros, or the caller's buffers
 * (`into`: `options.into`, a module's accumulated grads) which the kernels then add to.
 */
export function paramGrads(
  weight: Float32Array | null, bias: Float32Array | null, shape: readonly number[],
  into?: { dweight: Float32Array | null; dbias: Float32Array | null },
) {
  const dweight = weight === null ? null : (into?.dweight ?? new Float32Array(weight.length));
  const dbias = bias === null ? null : (into?.dbias ?? new Float32Array(bias.length));
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
