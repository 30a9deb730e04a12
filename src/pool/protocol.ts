import type { NormErrorCode } from "../errors.js";
import type { ChannelBackwardJob, ChannelJob, RowBackwardJob, RowJob, Stored } from "../backends/types.js";

/** Messages between the pool (src/pool/index.ts, src/pool/jobs.ts) and its workers (src/pool/worker.ts). */

/**
 * A float32 job: rows [r0, r1) of a LayerNorm (rms false) or RMSNorm forward or backward. Row
 * arrays (x, dy, y, mean, rstd, dx) are full-size views on SharedArrayBuffers, indexed by global
 * row; the worker writes only its rows. weight/bias are copied (small).
 */
export interface PlainJob {
  kind?: undefined;
  id: number;
  rms: boolean;
  backward: boolean;
  D: number;
  eps: number;
  r0: number;
  r1: number;
  x: Float32Array;
  weight: Float32Array | null;
  bias: Float32Array | null;
  /** forward outputs; mean/rstd are backward inputs when the caller saved them */
  y?: Float32Array;
  mean?: Float32Array;
  rstd?: Float32Array;
  /** backward input and output */
  dy?: Float32Array;
  dx?: Float32Array;
}

/**
 * Issue #12's row jobs (any dtype, weightOffset, castingMode, fused add) on rows [r0, r1): the
 * Kernels job with its row arrays on SharedArrayBuffers. A backward without saved statistics
 * carries `stats`: the statistics-only forward to run on the same rows first (into shared mean/rstd).
 * Column sums come back in the reply (dweight/dbias/dsum of the job: zeros, filled by the worker).
 */
export interface RowsJob {
  kind: "rows";
  id: number;
  r0: number;
  r1: number;
  job: RowJob;
}
export interface RowsBackwardJob {
  kind: "rowsBackward";
  id: number;
  r0: number;
  r1: number;
  stats: RowJob | null;
  job: RowBackwardJob;
}

/** BatchNorm on channels [c0, c1) (the pool splits channels, so every channel's sums are one thread's). */
export interface ChannelStatsJob {
  kind: "channelStats";
  id: number;
  c0: number;
  c1: number;
  x: Stored;
  N: number;
  C: number;
  S: number;
}
export interface ChannelApplyJob {
  kind: "channelApply";
  id: number;
  c0: number;
  c1: number;
  job: ChannelJob;
}
export interface ChannelBackwardJobMsg {
  kind: "channelBackward";
  id: number;
  c0: number;
  c1: number;
  job: ChannelBackwardJob;
}

export type Job = PlainJob | RowsJob | RowsBackwardJob | ChannelStatsJob | ChannelApplyJob | ChannelBackwardJobMsg;

/**
 * A worker's answer: float64 column sums of a backward (dw = Σ dy·x̂, db = Σ dy, ds = Σ dx), or
 * BatchNorm's per-channel mean and variance, or an error.
 */
export type Reply =
  | { ready: true }
  | { ready: false; error: string }
  | {
    id: number; dw?: Float64Array; db?: Float64Array; ds?: Float64Array; mean?: Float64Array; variance?: Float64Array;
    error?: string; code?: NormErrorCode; argument?: string;
  };
