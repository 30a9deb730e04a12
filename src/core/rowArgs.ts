/**
 * LayerNorm/RMSNorm arguments (sync ops, pool, modules, the GPU backend), validated once at the
 * boundary as ATen's layer_norm.cpp does: after this, kernels see contiguous rows × D and trust
 * their input. Options are read from the caller's own properties only (src/core/options.ts).
 *
 * Two forms: the `*Spec` functions take every storage dtype and issue #12's options (the ops and
 * modules use them); `rowNormArgs`/`rowNormBackwardArgs` keep the float32-only result of before
 * (float32 arrays, no weightOffset) for callers that compute on float32 only.
 */
import { NormError, describe } from "../errors.js";
import { checkWrites } from "./aliasing.js";
import { ADD_BACKWARD_KEYS, ADD_FORWARD_KEYS, ADD_INTO_KEYS, INTO_KEYS, ROW_BACKWARD_KEYS, ROW_FORWARD_KEYS } from "./defaults.js";
import { savedStats } from "./grads.js";
import { checkCastingMode, checkEps, checkWeightOffset, readOptions, type CastingMode, type Options } from "./options.js";
import { checkNormalizedShape, checkParamShape, checkShapeEqual, statShape } from "./shapes.js";
import { CPU_READER, checkAnyTensor, numel, readFloat32, type AnyTensor, type CheckedTensor, type Reader, type Stored, type Tensor, type Typed } from "./tensor.js";

/** A LayerNorm/RMSNorm normalizedShape: the trailing dims of x normalized over (a number: one dim). */
export type NormalizedShape = number | readonly number[];

/** Options of LayerNorm, RMSNorm and GroupNorm. */
export interface NormOptions<T extends AnyTensor = Tensor> {
  /** γ, the learned scale; omitted means 1. Any storage dtype. */
  weight?: T | null;
  /** β, the learned shift; omitted means 0. Any storage dtype. */
  bias?: T | null;
  /** Added to the variance inside the square root. */
  eps?: number;
}

/** LayerNorm/RMSNorm options of issue #12 (forward and backward). */
export interface RowModeOptions {
  /** y = x̂·(weightOffset + w) + b (Gemma: 1); ignored without a weight. Default 0. */
  weightOffset?: number;
  /** For half x: Liger-Kernel's "gemma" (default: all float32), "llama" or "none" (docs/ops-semantics.md). */
  castingMode?: CastingMode;
}

/** Options of the LayerNorm/RMSNorm forward ops. */
export interface ForwardOptions<T extends AnyTensor = Tensor> extends NormOptions<T>, RowModeOptions {
  /**
   * Write y into this tensor (x's shape and dtype, not overlapping x, weight or bias) instead of a
   * new one, and return a tensor over its data: for loops that reuse an output buffer, and for the
   * pool, where an `out` in a SharedArrayBuffer is written by the workers directly.
   */
  out?: T | null;
}

/** Options of the LayerNorm/RMSNorm backward ops. */
export interface BackwardOptions<T extends AnyTensor = Tensor> extends NormOptions<T>, RowModeOptions {
  /**
   * The statistics `layerNormForward`/`rmsNormForward` returned for this x (shape: x's leading
   * dims, one float32 value per row), so backward does not recompute them, as autograd reuses
   * what forward saved. LayerNorm takes both or neither; RMSNorm takes rstd only.
   */
  mean?: Tensor | null;
  rstd?: Tensor | null;
  /** Write dx into this tensor (x's shape and dtype, not overlapping any input) instead of a new one. */
  out?: T | null;
  /**
   * Add dweight/dbias into these tensors (normalizedShape, the parameter's dtype; += as in llm.c
   * and the modules' `.grad`) instead of returning fresh ones; each only where its parameter was given.
   */
  into?: { dweight?: T | null; dbias?: T | null } | null;
}

/** LayerNorm/RMSNorm arguments after validation (float32 only): x seen as rows × D. */
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

/** LayerNorm/RMSNorm backward arguments after validation (float32 only). */
export interface RowNormBackwardArgs extends RowNormArgs {
  dy: Float32Array;
  /** saved statistics (`options.mean`/`rstd`), or null: recompute them */
  stats: { mean: Float32Array | null; rstd: Float32Array } | null;
  /** gradient buffers to add into (`options.into`); null entries get fresh arrays */
  into: { dweight: Float32Array | null; dbias: Float32Array | null };
}

/** LayerNorm/RMSNorm arguments of any dtype, with issue #12's options. */
export interface RowNormSpec {
  x: CheckedTensor;
  rows: number;
  D: number;
  normalizedShape: readonly number[];
  weight: Stored | null;
  bias: Stored | null;
  eps: number;
  weightOffset: number;
  /** as given; the kernels apply it to half x only */
  castingMode: CastingMode;
  /** where forward writes y, or backward dx (`options.out`; x's dtype); null for a new array */
  out: Stored | null;
}

export interface RowNormBackwardSpec extends RowNormSpec {
  dy: Stored;
  /** saved statistics (`options.mean`/`rstd`, float32), or null: recompute them */
  stats: { mean: Float32Array | null; rstd: Float32Array } | null;
  /** gradient tensors to add into (`options.into`; each of its parameter's dtype) */
  into: { dweight: Stored | null; dbias: Stored | null };
}

const storedOf = (t: CheckedTensor | null): Stored | null => (t === null ? null : ({ data: t.data, dtype: t.dtype } as Stored));

/** A tensor argument that must have x's shape and dtype (dy, out, residual, dh), read by `check`. */
export function likeX<T extends Typed>(check: (t: unknown, name: string) => T, t: unknown, x: Typed, name: string, xName = "x"): T {
  const c = check(t, name);
  checkShapeEqual(c, x, name);
  checkDTypeIs(c, x.dtype, name, `${xName}'s dtype`);
  return c;
}

/** likeX for CPU tensor-likes. */
export function checkLikeX(t: unknown, x: Typed, name: string, xName = "x"): CheckedTensor {
  return likeX(checkAnyTensor, t, x, name, xName);
}

/** BAD_DTYPE unless `t` has dtype `want` (`what` says whose dtype that is). */
export function checkDTypeIs(t: Typed, want: string, name: string, what: string): void {
  if (t.dtype !== want) throw new NormError("BAD_DTYPE", name, `expected ${what} ${describe(want)}, got a ${t.dtype} tensor`);
}

/**
 * The row arguments every LayerNorm/RMSNorm call shares — x (any dtype), normalizedShape,
 * parameters, eps, the modes — as Stored, and the parameters as checked tensors (for `into`'s dtype checks).
 */
function specOf(a: ReturnType<typeof rowNormArgsOf<CheckedTensor>>) {
  return {
    x: a.x, rows: a.rows, D: a.D, normalizedShape: a.normalizedShape, eps: a.eps, weightOffset: a.weightOffset, castingMode: a.castingMode,
    weight: storedOf(a.weight), bias: storedOf(a.bias),
  };
}

/** Validates a forward's arguments, any dtype; `keys`: the call's option keys. */
export function rowNormSpec(x: unknown, normalizedShape: unknown, options: unknown, defaultEps: number, keys: readonly string[] = ROW_FORWARD_KEYS): RowNormSpec {
  const o = readOptions(options, "options", keys);
  const a = specOf(rowNormArgsOf(checkAnyTensor, x, normalizedShape, o, defaultEps));
  let out: Stored | null = null;
  if (o.out !== undefined && o.out !== null) {
    out = storedOf(checkLikeX(o.out, a.x, "out"));
    checkWrites([["out", out!.data]], [["x", a.x.data], ["weight", a.weight?.data ?? null], ["bias", a.bias?.data ?? null]]);
  }
  return { ...a, out };
}

/**
 * `options.into` of a backward for parameters of any dtype: each gradient tensor allowed only
 * where its parameter was given, with the parameter's shape and dtype; `write` reads each (a
 * tensor the call writes). `keys` as INTO_KEYS.
 */
export function gradsIntoOf<T extends Typed>(
  write: (t: unknown, name: string) => T, into: unknown, params: ReadonlyArray<readonly [string, string, Typed | null]>,
  paramShape: readonly number[], keys: readonly string[],
): Record<string, T | null> {
  const o = readOptions(into ?? undefined, "into", keys);
  const res: Record<string, T | null> = {};
  for (const [key, param, p] of params) {
    const t = o[key];
    const name = `into.${key}`;
    if (t === undefined || t === null) {
      res[key] = null;
      continue;
    }
    if (p === null) throw new NormError("BAD_ARGUMENT", name, `expected none (no ${param} was given, so there is no gradient for it), got ${describe(t)}`);
    const c = write(t, name);
    checkParamShape(c, name, paramShape);
    checkDTypeIs(c, p.dtype, name, `${param}'s dtype`);
    res[key] = c;
  }
  return res;
}

/**
 * A backward's arguments through a backend's reader (options already read with the call's keys):
 * the forward's plus dy, saved statistics (float32), `out` (dx) and `into`. With `add`
 * (addLayerNormBackward/addRmsNormBackward, x named "h"): also `inputBias` (normalizedShape, any
 * dtype: only its presence, shape and dtype matter), `dh` (h's shape and dtype) and `into.dinputBias`.
 */
export function rowBackwardOf<T extends Typed>(
  r: Reader<T>, dy: unknown, x: unknown, normalizedShape: unknown, o: Options, defaultEps: number, rms: boolean, add: boolean,
) {
  const xName = add ? "h" : "x";
  const a = rowNormArgsOf(r.read, x, normalizedShape, o, defaultEps, null, xName);
  const g = likeX(r.read, dy, a.x, "dy", xName);
  const inputBias = add ? paramOf(r.read, o.inputBias, "inputBias", a.normalizedShape) : null;
  const dh = add && o.dh !== undefined && o.dh !== null ? likeX(r.read, o.dh, a.x, "dh", xName) : null;
  const stats = savedStats((t, name) => readFloat32(r, t, name), o, rms, statShape(a.x.shape, a.normalizedShape));
  const into = gradsIntoOf(
    r.write, o.into, [["dweight", "weight", a.weight], ["dbias", "bias", a.bias], ...(add ? [["dinputBias", "inputBias", inputBias] as const] : [])],
    a.normalizedShape, add ? ADD_INTO_KEYS : INTO_KEYS,
  );
  const out = o.out !== undefined && o.out !== null ? likeX(r.write, o.out, a.x, "out", xName) : null;
  return { ...a, dy: g, inputBias, dh, stats, into, out };
}

/**
 * Validates a backward's arguments, any dtype, on the CPU (rowBackwardOf with the CPU's reader,
 * then no written array may overlap a read one).
 */
export function rowNormBackwardSpec(
  dy: unknown, x: unknown, normalizedShape: unknown, options: unknown, defaultEps: number, rms: boolean, add = false,
): RowNormBackwardSpec & AddBackwardExtras {
  const o = readOptions(options, "options", add ? ADD_BACKWARD_KEYS : ROW_BACKWARD_KEYS);
  const b = rowBackwardOf(CPU_READER, dy, x, normalizedShape, o, defaultEps, rms, add);
  const a = specOf(b);
  const { stats: s, into: i } = b;
  checkWrites(
    [["out", b.out?.data ?? null], ["into.dweight", i.dweight?.data ?? null], ["into.dbias", i.dbias?.data ?? null], ["into.dinputBias", i.dinputBias?.data ?? null]],
    [
      [add ? "h" : "x", a.x.data], ["dy", b.dy.data], ["weight", a.weight?.data ?? null], ["bias", a.bias?.data ?? null], ["mean", s?.mean?.data ?? null],
      ["rstd", s?.rstd.data ?? null], ["inputBias", b.inputBias?.data ?? null], ["dh", b.dh?.data ?? null],
    ],
  );
  return {
    ...a, out: storedOf(b.out), dy: storedOf(b.dy)!,
    stats: s === null ? null : { mean: (s.mean?.data ?? null) as Float32Array | null, rstd: s.rstd.data as Float32Array },
    into: { dweight: storedOf(i.dweight ?? null), dbias: storedOf(i.dbias ?? null) },
    inputBias: storedOf(b.inputBias), dh: storedOf(b.dh), intoInputBias: storedOf(i.dinputBias ?? null),
  };
}

/** What the add ops' backward adds to a row backward's arguments (null for the plain ops). */
export interface AddBackwardExtras {
  /** `options.inputBias` (only its dtype and presence matter: it makes a dinputBias) */
  inputBias: Stored | null;
  /** `options.dh`: the gradient arriving on h from later uses of the residual stream */
  dh: Stored | null;
  /** `options.into.dinputBias` */
  intoInputBias: Stored | null;
}

/** An optional parameter-shaped tensor of any dtype (undefined/null: none), read by `check`. */
export function paramOf<T extends Typed>(check: (t: unknown, name: string) => T, t: unknown, name: string, shape: readonly number[]): T | null {
  if (t === undefined || t === null) return null;
  const c = check(t, name);
  checkParamShape(c, name, shape);
  return c;
}

/** addLayerNorm/addRmsNorm arguments: the row forward's, plus the residual stream. */
export interface AddNormSpec extends RowNormSpec {
  residual: Stored;
  /** ONNX SkipLayerNormalization's bias input (normalizedShape, any dtype): h = (x + residual) + inputBias */
  inputBias: Stored | null;
  /** where h is written (x's shape and dtype); may be residual itself; null for a new array */
  residualOut: Stored | null;
}

/**
 * addLayerNorm/addRmsNorm's arguments through a backend's reader (options already read): the row
 * forward's, the residual (written when `residualOut` is `residual` itself: h over it in place,
 * `inPlace`), inputBias, `out` and `residualOut`.
 */
export function addNormOf<T extends Typed>(r: Reader<T>, x: unknown, residual: unknown, normalizedShape: unknown, o: Options, defaultEps: number) {
  const a = rowNormArgsOf(r.read, x, normalizedShape, o, defaultEps);
  const inPlace = o.residualOut !== undefined && o.residualOut !== null && o.residualOut === residual;
  const res = likeX(inPlace ? r.write : r.read, residual, a.x, "residual");
  const inputBias = paramOf(r.read, o.inputBias, "inputBias", a.normalizedShape);
  const out = o.out !== undefined && o.out !== null ? likeX(r.write, o.out, a.x, "out") : null;
  const residualOut = inPlace ? res : o.residualOut !== undefined && o.residualOut !== null ? likeX(r.write, o.residualOut, a.x, "residualOut") : null;
  return { ...a, residual: res, inputBias, out, residualOut, inPlace };
}

/** Validates addLayerNorm/addRmsNorm's arguments on the CPU. */
export function addNormSpec(x: unknown, residual: unknown, normalizedShape: unknown, options: unknown, defaultEps: number): AddNormSpec {
  const o = readOptions(options, "options", ADD_FORWARD_KEYS);
  const b = addNormOf(CPU_READER, x, residual, normalizedShape, o, defaultEps);
  const a = specOf(b);
  checkWrites(
    [["out", b.out?.data ?? null], ["residualOut", b.residualOut?.data ?? null]],
    [["x", a.x.data], ["residual", b.residual.data], ["weight", a.weight?.data ?? null], ["bias", a.bias?.data ?? null], ["inputBias", b.inputBias?.data ?? null]],
    "inputs are never modified; residualOut may be residual itself", [["residualOut", "residual"]],
  );
  return { ...a, out: storedOf(b.out), residual: storedOf(b.residual)!, inputBias: storedOf(b.inputBias), residualOut: storedOf(b.residualOut) };
}

/** A spec as the float32-only arguments of before: BAD_DTYPE for half tensors, BAD_ARGUMENT for a weightOffset. */
export function plainArgs<S extends RowNormSpec>(a: S): RowNormArgs {
  for (const [name, t] of [["x", a.x], ["weight", a.weight], ["bias", a.bias]] as const) {
    if (t !== null && t.dtype !== "float32") {
      throw new NormError("BAD_DTYPE", name, `expected a float32 tensor (this call computes on float32 storage; cast(t, "float32") converts), got a ${t.dtype} tensor`);
    }
  }
  if (a.weightOffset !== 0 && a.weight !== null) {
    throw new NormError("BAD_ARGUMENT", "weightOffset", `expected 0 (this call does not take a weight offset; layerNorm/rmsNorm do), got ${a.weightOffset}`);
  }
  return {
    x: { shape: a.x.shape, data: a.x.data as Float32Array }, rows: a.rows, D: a.D, normalizedShape: a.normalizedShape, eps: a.eps,
    weight: (a.weight?.data ?? null) as Float32Array | null, bias: (a.bias?.data ?? null) as Float32Array | null, out: (a.out?.data ?? null) as Float32Array | null,
  };
}

/**
 * Validates a forward's arguments, float32 only; `out` (y) is allowed only where `outOk` (the
 * ops and the pool; not the GPU backend's CPU conveniences, which return new tensors).
 */
export function rowNormArgs(x: unknown, normalizedShape: unknown, options: unknown, defaultEps: number, outOk = false): RowNormArgs {
  const o = readOptions(options, "options", ROW_FORWARD_KEYS);
  if (!outOk && o.out !== undefined && o.out !== null) {
    throw new NormError("BAD_ARGUMENT", "out", `expected no out (this call returns new tensors), got ${describe(o.out)}`);
  }
  return plainArgs(rowNormSpec(x, normalizedShape, o, defaultEps));
}

/** Validates a backward's arguments, float32 only: rowNormArgs plus dy, the saved statistics, `out` (dx) and `into`. */
export function rowNormBackwardArgs(
  dy: unknown, x: unknown, normalizedShape: unknown, options: unknown, defaultEps: number, rms: boolean,
): RowNormBackwardArgs {
  return plainBackwardArgs(rowNormBackwardSpec(dy, x, normalizedShape, options, defaultEps, rms));
}

/** A backward spec as the float32-only arguments of before (plainArgs' checks). */
export function plainBackwardArgs(a: RowNormBackwardSpec): RowNormBackwardArgs {
  const p = plainArgs(a);
  return {
    ...p, dy: a.dy.data as Float32Array, stats: a.stats,
    into: { dweight: (a.into.dweight?.data ?? null) as Float32Array | null, dbias: (a.into.dbias?.data ?? null) as Float32Array | null },
  };
}

/**
 * rowNormArgs for any tensor-like that `check` accepts (CPU tensors, GPU-resident tensors): the
 * same checks, with weight/bias returned as tensor-likes, and issue #12's weightOffset and
 * castingMode read. `keys`: the valid option keys (null: the caller checked them, or checks its
 * own; own properties are read either way). `xName`: how errors name x (the add ops' backward: "h").
 */
export function rowNormArgsOf<T extends { readonly shape: readonly number[] }>(
  check: (t: unknown, name: string) => T, x: unknown, normalizedShape: unknown, options: unknown, defaultEps: number,
  keys: readonly string[] | null = null, xName = "x",
) {
  const o = readOptions(options, "options", keys);
  const t = check(x, xName);
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
  return {
    x: t, rows: numel(statShape(t.shape, ns)), D, normalizedShape: ns, weight, bias, eps: checkEps(o.eps, defaultEps),
    weightOffset: checkWeightOffset(o.weightOffset), castingMode: checkCastingMode(o.castingMode),
  };
}
