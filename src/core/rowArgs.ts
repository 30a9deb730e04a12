/**
 * LayerNorm/RMSNorm arguments (sync ops, pool, modules, the GPU backend), validated once at the
 * boundary as ATen's layer_norm.cpp does: after this, kernels see contiguous rows × D and trust
 * their input. Options are read from the caller's own properties only (src/core/options.ts).
 */
import { NormError, describe } from "../errors.js";
import { checkWrites } from "./aliasing.js";
import { ROW_BACKWARD_KEYS, ROW_FORWARD_KEYS } from "./defaults.js";
import { gradsInto, savedStats } from "./grads.js";
import { checkEps, readOptions } from "./options.js";
import { checkNormalizedShape, checkParamShape, checkSameShape, statShape } from "./shapes.js";
import { checkTensor, numel, type Tensor } from "./tensor.js";

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
  const o = readOptions(options, "options", ROW_FORWARD_KEYS);
  const a = rowNormArgsOf(checkTensor, x, normalizedShape, o, defaultEps);
  const weight = a.weight?.data ?? null;
  const bias = a.bias?.data ?? null;
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
  const o = readOptions(options, "options", ROW_BACKWARD_KEYS);
  const a = rowNormArgsOf(checkTensor, x, normalizedShape, o, defaultEps);
  const g = checkSameShape(dy, a.x);
  const s = savedStats(checkTensor, o, rms, statShape(a.x.shape, a.normalizedShape));
  const weight = a.weight?.data ?? null;
  const bias = a.bias?.data ?? null;
  const i = gradsInto(checkTensor, o.into, a.weight !== null, a.bias !== null, a.normalizedShape);
  const out = o.out !== undefined && o.out !== null ? checkSameShape(o.out, a.x, "out").data : null;
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

/**
 * rowNormArgs for any tensor-like that `check` accepts (CPU tensors, GPU-resident tensors): the
 * same checks, with weight/bias returned as tensor-likes. `keys`: the valid option keys (null:
 * the caller checked them, or checks its own; own properties are read either way).
 */
export function rowNormArgsOf<T extends { readonly shape: readonly number[] }>(
  check: (t: unknown, name: string) => T, x: unknown, normalizedShape: unknown, options: unknown, defaultEps: number,
  keys: readonly string[] | null = null,
) {
  const o = readOptions(options, "options", keys);
  const t = check(x, "x");
  const ns = checkNormalizedShape(normalizedShape, t.shape);
  const D = numel(ns);
  const param = (p: unknown, name: string): T | null => {
    if (p === undefined || p === null) return null;
    const c = check(p, name);
    checkParamShape(c, name, ns);
    return c;
  };
  const weight = param(o.weight, "weight");
  const bias = param(o.bias, "bias");
  // rows = product of the leading dims, also when D = 0 (x [3, 0] has 3 rows, as in PyTorch)
  return { x: t, rows: numel(statShape(t.shape, ns)), D, normalizedShape: ns, weight, bias, eps: checkEps(o.eps, defaultEps) };
}
