/**
 * The float64 oracle for issue #12's ops and options, built on the plain references of ./index.ts:
 * weightOffset and castingMode (LayerNorm/RMSNorm), the fused residual add (addLayerNorm /
 * addRmsNorm), InstanceNorm, channels-last GroupNorm with SiLU, and BatchNorm's cumulative-average
 * momentum. Formulas and their PyTorch / ONNX Runtime / Liger equivalents: docs/ops-semantics.md.
 *
 * Half-precision inputs are passed as their values (any array of numbers); `dtypes` names the
 * storage dtype of each, which decides the roundings a casting mode makes. Outputs are float64 and
 * unrounded (the kernel rounds y to x's dtype once); the one exception is h, the residual stream,
 * which the reference rounds exactly as every kernel must: float32 math, then once to x's dtype.
 */
import { roundToDType, type DType } from "../dtype.js";
import {
  batchNormBackwardRef, batchNormRef, groupNormBackwardRef, groupNormRef, rowNormBackwardRef, rowNormRef,
  type BatchNormRefResult, type RefGrads,
} from "./index.js";

type Vec = ArrayLike<number>;
type Opt = Vec | null | undefined;

export type CastingMode = "gemma" | "llama" | "none";

/** Storage dtypes of the inputs (absent: float32). */
export type RefDTypes = Partial<Record<"x" | "weight" | "bias" | "inputBias", DType>>;

export interface RowNormModeRefOptions {
  weight?: Opt;
  bias?: Opt;
  eps: number;
  /** y = x̂·(weightOffset + w) + b; ignored without a weight (y = x̂ + b), as Liger. Default 0. */
  weightOffset?: number;
  /** for half x only (float32 x computes as "gemma"); default "gemma" */
  castingMode?: CastingMode;
  dtypes?: RefDTypes;
}

/** Mean (0 for RMSNorm) and 1/√(variance + ε) of one row, two-pass. */
function rowStats(x: Vec, at: number, D: number, rms: boolean, eps: number): { mean: number; rstd: number } {
  let mean = 0;
  if (!rms) {
    for (let i = 0; i < D; i++) mean += x[at + i];
    mean /= D;
  }
  let ss = 0;
  for (let i = 0; i < D; i++) ss += (x[at + i] - mean) ** 2;
  return { mean, rstd: 1 / Math.sqrt(ss / D + eps) };
}

/** offset + w per element, or null without a weight. */
const effectiveWeight = (weight: Opt, offset: number): Float64Array | null =>
  weight ? Float64Array.from(weight, (w) => offset + w) : null;

const promote = (a: DType, b: DType): DType => (a === b ? a : "float32");

/**
 * LayerNorm (rms false) / RMSNorm over rows × D with weightOffset and castingMode:
 * - "gemma": y = x̂·(offset + w) + b, all in float32 (here float64), rounded once.
 * - "llama": x̂ rounded to x's dtype, then y = round(x̂)·(offset + w) + b in float32.
 * - "none": statistics in float32; then each op rounded to its dtype as torch half ops do:
 *   r = round(rstd), [LN: c = round(x − round(mean))], x̂ = round(c·r),
 *   y = round_p(x̂·round_w(w + offset)) + b (p = the product's promoted dtype).
 */
export function rowNormModeRef(rms: boolean, x: Vec, rows: number, D: number, o: RowNormModeRefOptions): Float64Array {
  const xdt = o.dtypes?.x ?? "float32";
  const mode = xdt === "float32" ? "gemma" : (o.castingMode ?? "gemma");
  const offset = o.weightOffset ?? 0;
  const { weight, bias } = o;
  if (mode === "gemma") return rowNormRef(rms, x, rows, D, effectiveWeight(weight, offset), bias, o.eps);
  const y = new Float64Array(rows * D);
  if (mode === "llama") {
    const xhat = rowNormRef(rms, x, rows, D, null, null, o.eps);
    for (let k = 0; k < y.length; k++) {
      const i = k % D;
      y[k] = roundToDType(xhat[k], xdt) * (weight ? offset + weight[i] : 1) + (bias ? bias[i] : 0);
    }
    return y;
  }
  const wdt = o.dtypes?.weight ?? "float32";
  const pdt = weight ? promote(xdt, wdt) : xdt;
  for (let r = 0; r < rows; r++) {
    const { mean, rstd } = rowStats(x, r * D, D, rms, o.eps);
    const rh = roundToDType(rstd, xdt);
    const mh = rms ? 0 : roundToDType(mean, xdt);
    for (let i = 0; i < D; i++) {
      const c = rms ? x[r * D + i] : roundToDType(x[r * D + i] - mh, xdt);
      let v = roundToDType(c * rh, xdt);
      if (weight) v *= roundToDType(weight[i] + offset, wdt);
      y[r * D + i] = bias ? roundToDType(v, pdt) + bias[i] : v;
    }
  }
  return y;
}

/**
 * Gradients of Σ dy·y for rowNormModeRef: g = dy·(offset + w) in rowNormBackwardRef; dweight =
 * Σ dy·x̂, dbias = Σ dy. "llama" with half x: dweight = Σ dy·round(x̂) (the derivative of its
 * forward in w, as Liger's backward); dx never sees the mode's roundings ("none" = "gemma").
 */
export function rowNormModeBackwardRef(rms: boolean, dy: Vec, x: Vec, rows: number, D: number, o: RowNormModeRefOptions): RefGrads {
  const xdt = o.dtypes?.x ?? "float32";
  const g = rowNormBackwardRef(rms, dy, x, rows, D, effectiveWeight(o.weight, o.weightOffset ?? 0), o.bias, o.eps);
  if (o.weight && xdt !== "float32" && o.castingMode === "llama") {
    const xhat = rowNormRef(rms, x, rows, D, null, null, o.eps);
    const dw = new Float64Array(D);
    for (let k = 0; k < xhat.length; k++) dw[k % D] += dy[k] * roundToDType(xhat[k], xdt);
    return { dx: g.dx, dweight: dw, dbias: g.dbias };
  }
  return g;
}

// ---------------------------------------------------------------- fused residual add + norm

export interface AddNormRefOptions extends RowNormModeRefOptions {
  /** ONNX SkipLayerNormalization's bias input, shape D: h = (x + residual) + inputBias */
  inputBias?: Opt;
  /** gradient arriving on h from later uses of the residual stream (backward) */
  dh?: Opt;
}

export interface AddNormRefGrads extends RefGrads {
  dinputBias: Float64Array | null;
}

/**
 * h = (x + residual) + inputBias, in float32 and in that order (ONNX Runtime's CPU and WebGPU
 * kernels), rounded once to x's dtype: the exact residual stream every kernel writes.
 */
export function addInputRef(x: Vec, residual: Vec, inputBias: Opt, D: number, dtype: DType = "float32"): Float64Array {
  return Float64Array.from({ length: x.length }, (_, k) => {
    const s = Math.fround(Math.fround(x[k] + residual[k]) + (inputBias ? inputBias[k % D] : 0));
    return roundToDType(s, dtype);
  });
}

/** addLayerNorm (rms false) / addRmsNorm: y = norm(h) of the rounded h = addInputRef(...). */
export function addRowNormRef(
  rms: boolean, x: Vec, residual: Vec, rows: number, D: number, o: AddNormRefOptions,
): { y: Float64Array; h: Float64Array } {
  const h = addInputRef(x, residual, o.inputBias, D, o.dtypes?.x);
  return { y: rowNormModeRef(rms, h, rows, D, o), h };
}

/** dx = ∂(Σ dy·norm(h))/∂h + dh, shared by x and residual; dinputBias = Σ_rows dx (with inputBias). */
export function addRowNormBackwardRef(rms: boolean, dy: Vec, h: Vec, rows: number, D: number, o: AddNormRefOptions): AddNormRefGrads {
  const g = rowNormModeBackwardRef(rms, dy, h, rows, D, o);
  const dh = o.dh;
  if (dh) for (let k = 0; k < g.dx.length; k++) g.dx[k] += dh[k];
  let dinputBias: Float64Array | null = null;
  if (o.inputBias) {
    dinputBias = new Float64Array(D);
    for (let k = 0; k < g.dx.length; k++) dinputBias[k % D] += g.dx[k];
  }
  return { ...g, dinputBias };
}

// ---------------------------------------------------------------- InstanceNorm ([N, C, S])

export interface InstanceNormRefOptions {
  weight?: Opt;
  bias?: Opt;
  runningMean?: Opt;
  runningVar?: Opt;
  useInputStats: boolean;
  /** the factor of this call: a number, or runningStatsFactor(null, numBatchesTracked) */
  momentum: number;
  eps: number;
}

/** The C values of `v` repeated N times (PyTorch's repeat_if_defined), or null. */
const tile = (v: Opt, N: number): Float64Array | null => (v ? Float64Array.from({ length: N * v.length }, (_, k) => v[k % v.length]) : null);

/** Σ over n of an [N, C] array, or null. */
function sumOverN(v: Float64Array | null, N: number, C: number): Float64Array | null {
  if (!v) return null;
  const s = new Float64Array(C);
  for (let k = 0; k < N * C; k++) s[k % C] += v[k];
  return s;
}

/**
 * F.instance_norm as PyTorch computes it: BatchNorm of x viewed as [1, N·C, S] with the parameters
 * and running statistics repeated N times; each running statistic then becomes the mean over n of
 * its N updated copies (so the update uses the batch mean of the per-instance mean and unbiased
 * variance). useInputStats false normalizes with the running statistics, as BatchNorm's eval.
 */
export function instanceNormRef(x: Vec, N: number, C: number, S: number, o: InstanceNormRefOptions): BatchNormRefResult {
  const r = batchNormRef(x, 1, N * C, S, {
    weight: tile(o.weight, N), bias: tile(o.bias, N), runningMean: tile(o.runningMean, N), runningVar: tile(o.runningVar, N),
    training: o.useInputStats, momentum: o.momentum, eps: o.eps,
  });
  const mean = (v: Float64Array | null) => sumOverN(v, N, C)?.map((s) => s / N) ?? null;
  return { y: r.y, runningMean: mean(r.runningMean), runningVar: mean(r.runningVar) };
}

export function instanceNormBackwardRef(dy: Vec, x: Vec, N: number, C: number, S: number, o: InstanceNormRefOptions): RefGrads {
  const g = batchNormBackwardRef(dy, x, 1, N * C, S, {
    weight: tile(o.weight, N), bias: tile(o.bias, N), runningMean: tile(o.runningMean, N), runningVar: tile(o.runningVar, N),
    training: o.useInputStats, momentum: o.momentum, eps: o.eps,
  });
  return { dx: g.dx, dweight: sumOverN(g.dweight, N, C), dbias: sumOverN(g.dbias, N, C) };
}

/**
 * The running-statistics factor of one training call: `momentum`, or for momentum null the
 * cumulative average 1/(numBatchesTracked + 1), numBatchesTracked counting the calls before this
 * one (PyTorch's _BatchNorm.forward; normkit gives InstanceNorm the same, where PyTorch raises).
 */
export function runningStatsFactor(momentum: number | null, numBatchesTracked: number): number {
  return momentum === null ? 1 / (numBatchesTracked + 1) : momentum;
}

// ---------------------------------------------------------------- GroupNorm: channels-last, SiLU

export interface GroupNormModeRefOptions {
  weight?: Opt;
  bias?: Opt;
  eps: number;
  /** x laid out [N, S, C] (channels last) instead of [N, C, S] */
  channelsLast?: boolean;
  /** "silu": out = y·σ(y) of the normalized, affine y (ONNX Runtime's GroupNorm, activation = 1) */
  activation?: "silu" | null;
}

/** [N, A, B] → [N, B, A] */
function swapLast(v: Vec, N: number, A: number, B: number): Float64Array {
  const out = new Float64Array(N * A * B);
  for (let n = 0; n < N; n++) for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) out[(n * B + b) * A + a] = v[(n * A + a) * B + b];
  return out;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** GroupNorm of x ([N, C, S], or [N, S, C] channels-last; the result in x's layout), then SiLU if asked. */
export function groupNormModeRef(x: Vec, N: number, C: number, S: number, G: number, o: GroupNormModeRefOptions): Float64Array {
  const xc = o.channelsLast ? swapLast(x, N, S, C) : x;
  const y = groupNormRef(xc, N, C, S, G, o.weight, o.bias, o.eps);
  if (o.activation === "silu") for (let k = 0; k < y.length; k++) y[k] *= sigmoid(y[k]);
  return o.channelsLast ? swapLast(y, N, C, S) : y;
}

/** Through SiLU: ∂(y·σ(y))/∂y = σ(y)·(1 + y·(1 − σ(y))), y recomputed from x; then groupNormBackwardRef. */
export function groupNormModeBackwardRef(dy: Vec, x: Vec, N: number, C: number, S: number, G: number, o: GroupNormModeRefOptions): RefGrads {
  const xc = o.channelsLast ? swapLast(x, N, S, C) : x;
  const dout = o.channelsLast ? swapLast(dy, N, S, C) : dy;
  let g: Vec = dout;
  if (o.activation === "silu") {
    const y = groupNormRef(xc, N, C, S, G, o.weight, o.bias, o.eps);
    g = Float64Array.from(y, (v, k) => {
      const s = sigmoid(v);
      return dout[k] * s * (1 + v * (1 - s));
    });
  }
  const r = groupNormBackwardRef(g, xc, N, C, S, G, o.weight, o.bias, o.eps);
  return { ...r, dx: o.channelsLast ? swapLast(r.dx, N, C, S) : r.dx };
}
