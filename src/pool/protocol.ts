import type { NormErrorCode } from "../errors.js";

/** Messages between the pool (src/pool/index.ts) and its workers (src/pool/worker.ts). */

/**
 * One job: rows [r0, r1) of a LayerNorm (rms false) or RMSNorm forward or backward. Row arrays
 * (x, dy, y, mean, rstd, dx) are full-size views on SharedArrayBuffers, indexed by global row; the
 * worker writes only its rows. weight/bias are copied (small).
 */
export interface Job {
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

/** A worker's answer: float64 Σ dy·x̂ and Σ dy over its rows for a backward job, or an error. */
export type Reply =
  | { ready: true }
  | { ready: false; error: string }
  | { id: number; dw?: Float64Array; db?: Float64Array; error?: string; code?: NormErrorCode; argument?: string };
