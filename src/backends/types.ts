/**
 * The kernel interface every backend implements (js, wasm, …). As in ATen's CPU kernels, kernels
 * see contiguous `rows × D` float32 matrices and trust their input: all validation happens once, in
 * src/ops. As in llm.c, outputs come first, the statistics (mean, rstd; one float32 per row) are
 * explicit outputs of forward and inputs of backward, forward/dx outputs are written (=) while
 * parameter gradients accumulate (+=). `weight`/`bias`/`dweight`/`dbias` are null when absent.
 *
 * Contract every implementation is tested against (test/core/golden.test.ts, test/backends/wasm.test.ts):
 * - results within the golden-case tolerances of the float64 reference (src/reference);
 * - never σ² = E[x²] − E[x]²; ε inside the square root;
 * - a row's outputs depend only on that row (bitwise), never on `rows` or on other rows;
 * - a NaN/Inf in a row poisons only that row's outputs.
 */
import type { Stored } from "../dtype.js";
import type { CastingMode } from "../core/options.js";

export type { DType, Stored } from "../dtype.js";
export type { CastingMode } from "../core/options.js";

/**
 * One LayerNorm/RMSNorm forward over rows × D, any storage dtype (`normRows`). Arrays are
 * `Stored`: float32 values, or the uint16 bits of a half dtype; kernels read and write them in
 * place, converting a row (or a chunk of rows) at a time: never a float32 copy of a whole input.
 */
export interface RowJob {
  /** RMSNorm (no mean subtracted; `mean` is null) or LayerNorm */
  readonly rms: boolean;
  readonly rows: number;
  readonly D: number;
  readonly eps: number;
  /** rows × D; with `residual`, the first addend */
  readonly x: Stored;
  /**
   * Fused residual add: h = round_x((x + residual) + inputBias), the two adds in float32 in that
   * order, rounded once to x's dtype, is normalized instead of x (x's dtype; rows × D).
   */
  readonly residual: Stored | null;
  /** D values of any dtype (ONNX SkipLayerNormalization's bias); only with `residual` */
  readonly inputBias: Stored | null;
  /**
   * Where h is written (x's dtype, rows × D), or null. May be `residual`'s own array (h over the
   * residual stream in place): a kernel reads a row's x and residual before writing its h.
   */
  readonly h: Stored | null;
  readonly weight: Stored | null;
  readonly bias: Stored | null;
  /** y = x̂·(weightOffset + w) + b; ignored without a weight */
  readonly weightOffset: number;
  /** for half x; float32 x computes as "gemma" */
  readonly castingMode: CastingMode;
  /** rows × D output of x's dtype, each value rounded once (nearest even); null: statistics only */
  readonly y: Stored | null;
  /** LayerNorm's row means (float32); null for RMSNorm */
  readonly mean: Float32Array | null;
  /** 1/√(σ² + ε) per row (float32) */
  readonly rstd: Float32Array;
}

/** One LayerNorm/RMSNorm backward over rows × D, any storage dtype (`normRowsBackward`). */
export interface RowBackwardJob {
  readonly rms: boolean;
  readonly rows: number;
  readonly D: number;
  /** x's dtype */
  readonly dy: Stored;
  /** the normalized input (for the add ops: h) */
  readonly x: Stored;
  /** the forward's statistics (float32; mean null for RMSNorm) */
  readonly mean: Float32Array | null;
  readonly rstd: Float32Array;
  readonly weight: Stored | null;
  readonly weightOffset: number;
  /** "llama" with half x changes dweight only: Σ dy·round_x(x̂) */
  readonly castingMode: CastingMode;
  /** added to dx (x's dtype), the gradient arriving on h; null: none */
  readonly dh: Stored | null;
  /** rows × D, x's dtype: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) + dh, g = dy·(offset + w) */
  readonly dx: Stored;
  /** float64 column sums over the rows, added into (+=); null where not wanted: Σ dy·x̂ */
  readonly dweight: Float64Array | null;
  /** Σ dy */
  readonly dbias: Float64Array | null;
  /** Σ dx (dh included) as computed in float32, before rounding to x's dtype: an inputBias's gradient */
  readonly dsum: Float64Array | null;
}

/**
 * One GroupNorm forward (`normGroups`), any dtype: x [N, C, S] or, channels last, [N, S, C];
 * group (n, g) = channels [g·C/G, (g + 1)·C/G) at every position. y = x̂·w_c + b_c, then with
 * activation "silu" y·σ(y); each output rounded once to x's dtype.
 */
export interface GroupJob {
  readonly N: number;
  readonly C: number;
  readonly S: number;
  readonly G: number;
  readonly eps: number;
  readonly channelsLast: boolean;
  readonly activation: "silu" | null;
  readonly x: Stored;
  readonly weight: Stored | null;
  readonly bias: Stored | null;
  /** x's dtype and layout; null: statistics only */
  readonly y: Stored | null;
  /** per (n, g), float32 [N, G] */
  readonly mean: Float32Array;
  readonly rstd: Float32Array;
}

/**
 * One GroupNorm backward (`normGroupsBackward`). With "silu", y is recomputed from x, the
 * statistics, weight and bias, and dy becomes dy·σ(y)·(1 + y·(1 − σ(y))) before LayerNorm's dx
 * per group (g = that·w_c); dweight_c += Σ that·x̂, dbias_c += Σ that.
 */
export interface GroupBackwardJob {
  readonly N: number;
  readonly C: number;
  readonly S: number;
  readonly G: number;
  readonly channelsLast: boolean;
  readonly activation: "silu" | null;
  readonly dy: Stored;
  readonly x: Stored;
  readonly mean: Float32Array;
  readonly rstd: Float32Array;
  readonly weight: Stored | null;
  /** read only with "silu" (to recompute y) */
  readonly bias: Stored | null;
  readonly dx: Stored;
  readonly dweight: Float64Array | null;
  readonly dbias: Float64Array | null;
}

/** BatchNorm's normalization with given per-channel statistics (`channelApply`): x, y [N, C, S]. */
export interface ChannelJob {
  readonly N: number;
  readonly C: number;
  readonly S: number;
  readonly x: Stored;
  /** x's dtype: y = (x − mean_c)·rstd_c·w_c + b_c, rounded once */
  readonly y: Stored;
  /** float64 statistics per channel (batch statistics, or the running ones in eval) */
  readonly mean: Float64Array;
  readonly rstd: Float64Array;
  readonly weight: Stored | null;
  readonly bias: Stored | null;
}

/** BatchNorm's backward (`channelBackward`). */
export interface ChannelBackwardJob {
  readonly N: number;
  readonly C: number;
  readonly S: number;
  readonly dy: Stored;
  readonly x: Stored;
  readonly mean: Float64Array;
  readonly rstd: Float64Array;
  readonly weight: Stored | null;
  /** true: dx = rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)); false (statistics are constants): dx = g·rstd; g = dy·w_c */
  readonly training: boolean;
  readonly dx: Stored;
  /** float64 per-channel sums, added into: Σ dy·x̂ and Σ dy */
  readonly dweight: Float64Array | null;
  readonly dbias: Float64Array | null;
}

/**
 * The kernel interface every backend implements (js, wasm; the WebGPU backend mirrors it in
 * WGSL). The first six entries are the float32 fast paths of LayerNorm/RMSNorm/GroupNorm; the
 * job entries take every storage dtype and issue #12's options, and the ops use them whenever a
 * call needs more than the fast paths. Contract of the job entries, beyond the fast paths' (below):
 * - math is float32 or wider; every output rounded once to its dtype (nearest even); statistics float32;
 * - half data is converted a row (or a chunk of rows) at a time, never as a full-size float32 copy;
 * - a fused add reads x and residual once and writes h once, in the same pass as the statistics;
 * - parameter gradients are float64 sums (+=) the op adds into the gradient tensors once.
 */
export interface Kernels {
  readonly name: string;
  /** y = (x − mean)·rstd·w + b per row; mean = Σx/D, rstd = 1/√(Σ(x−mean)²/D + eps). */
  layerNormForward(
    y: Float32Array, mean: Float32Array, rstd: Float32Array,
    x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
    rows: number, D: number, eps: number,
  ): void;
  /**
   * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w, x̂ = (x − mean)·rstd;
   * dweight += Σ_rows dy·x̂; dbias += Σ_rows dy.
   */
  layerNormBackward(
    dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
    dy: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, weight: Float32Array | null,
    rows: number, D: number,
  ): void;
  /** y = x·rstd·w + b per row; rstd = 1/√(Σx²/D + eps). */
  rmsNormForward(
    y: Float32Array, rstd: Float32Array,
    x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
    rows: number, D: number, eps: number,
  ): void;
  /** dx = rstd·(g − x̂·mean(g·x̂)) with g = dy·w, x̂ = x·rstd; dweight += Σ dy·x̂; dbias += Σ dy. */
  rmsNormBackward(
    dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
    dy: Float32Array, x: Float32Array, rstd: Float32Array, weight: Float32Array | null,
    rows: number, D: number,
  ): void;
  /**
   * GroupNorm over x [N, C, S] in G groups: row (n, g) is the contiguous (C/G)·S values of sample n,
   * channels g·C/G …; mean/rstd per row (N·G), as LayerNorm's; y = x̂·w_c + b_c per channel.
   */
  groupNormForward(
    y: Float32Array, mean: Float32Array, rstd: Float32Array,
    x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
    N: number, C: number, S: number, G: number, eps: number,
  ): void;
  /**
   * LayerNorm's dx on each group row with g = dy·w_c; dweight_c += Σ_{n,s} dy·x̂; dbias_c += Σ_{n,s} dy.
   */
  groupNormBackward(
    dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
    dy: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, weight: Float32Array | null,
    N: number, C: number, S: number, G: number,
  ): void;
  /** LayerNorm/RMSNorm forward of any dtype, with weightOffset, castingMode and the fused residual add (RowJob). */
  normRows(job: RowJob): void;
  /** LayerNorm/RMSNorm backward of any dtype (RowBackwardJob). */
  normRowsBackward(job: RowBackwardJob): void;
  /** GroupNorm forward of any dtype, channels first or last, optional SiLU (GroupJob). */
  normGroups(job: GroupJob): void;
  /** GroupNorm backward of any dtype (GroupBackwardJob). */
  normGroupsBackward(job: GroupBackwardJob): void;
  /** BatchNorm statistics of x [N, C, S] (any dtype) per channel: the mean and biased variance over N·S values, float64, two-pass. */
  channelStats(x: Stored, N: number, C: number, S: number, mean: Float64Array, variance: Float64Array): void;
  /** BatchNorm's y from per-channel statistics (ChannelJob). */
  channelApply(job: ChannelJob): void;
  /** BatchNorm's backward (ChannelBackwardJob). */
  channelBackward(job: ChannelBackwardJob): void;
}
