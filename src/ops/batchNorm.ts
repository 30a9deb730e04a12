/**
 * BatchNorm (torch.nn.functional.batch_norm) on x of shape [N, C, *]: statistics per channel c over
 * the batch and all positions (n = N·S values each).
 *
 * Forward, training:  μ_c, σ²_c = batch mean and biased variance,  rstd_c = 1/√(σ²_c + ε)
 *                     running_mean ← (1 − m)·running_mean + m·μ_c
 *                     running_var  ← (1 − m)·running_var  + m·σ²_c·n/(n − 1)   (unbiased)
 *          eval:      μ_c, σ²_c = the running statistics (not updated)
 *          both:      x̂ = (x − μ_c)·rstd_c,  y = x̂·γ_c + β_c
 * Backward, training: g = dy·γ_c,  dx = rstd_c·(g − mean_c(g) − x̂·mean_c(g·x̂))
 *           eval:     dx = dy·γ_c·rstd_c   (the statistics are constants)
 *           both:     dγ_c = Σ dy·x̂,  dβ_c = Σ dy
 * Defaults as PyTorch: training = false, momentum = 0.1, ε = 1e-5; momentum null is the cumulative
 * average m = 1/(numBatchesTracked + 1), as nn.BatchNorm with momentum=None. The running statistics in
 * training mode are the one input normkit modifies (in place, as PyTorch does); backward never does.
 * x, weight, bias may be half (float32 math; y, dx in x's dtype); running statistics are float32.
 * The statistics, the normalization and the backward run on the active backend's kernels
 * (Kernels.channelStats / channelApply / channelBackward).
 */
import { kernels } from "../backends/registry.js";
import type { Kernels } from "../backends/types.js";
import {
  BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, addSums, allocStored, batchNormArgs, checkLikeX, gradTarget, tensorOf,
  type AnyTensor, type BatchNormArgs, type BatchNormOptions, type Grads, type Like, type Stored, type Tensor,
} from "../core/index.js";
import type { AnyGrads } from "./layerNorm.js";

export { BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, batchNormArgs, type BatchNormArgs, type BatchNormOptions };

/** Normalizes each channel over the batch and positions (training) or with the running statistics (eval); y has x's dtype. */
export function batchNorm<T extends AnyTensor>(x: T, options?: BatchNormOptions<AnyTensor>): Like<T> {
  return batchNormForwardWithStats(batchNormArgs(x, options), true).y as Like<T>;
}

/** Gradients of BatchNorm (same mode as the forward call); never touches running statistics. */
export function batchNormBackward(dy: Tensor, x: Tensor, options?: BatchNormOptions): Grads;
export function batchNormBackward(dy: AnyTensor, x: AnyTensor, options?: BatchNormOptions<AnyTensor>): AnyGrads;
export function batchNormBackward(dy: AnyTensor, x: AnyTensor, options?: BatchNormOptions<AnyTensor>): AnyGrads {
  const a = batchNormArgs(x, options);
  const g = checkLikeX(dy, a.x, "dy");
  const { mean, rstd } = batchNormStats64(a, false);
  return batchNormBackwardWithStats(a, g, mean, rstd);
}

/** The statistics the forward normalizes with; in training mode optionally updates the running ones. */
export function batchNormStats64(a: BatchNormArgs, updateRunning: boolean, k: Kernels = kernels()) {
  const mean = new Float64Array(a.C), variance = new Float64Array(a.C);
  if (a.training && a.N * a.S > 0) k.channelStats(a.x, a.N, a.C, a.S, mean, variance);
  return finishStats(a, mean, variance, updateRunning);
}

/**
 * From the batch's mean and biased variance (training; ignored in eval, where the running
 * statistics are used): the running update when asked (unbiased variance) and rstd per channel.
 * Shared by the synchronous op and the pool.
 */
export function finishStats(a: BatchNormArgs, mean: Float64Array, variance: Float64Array, updateRunning: boolean) {
  const { C } = a;
  const n = a.N * a.S;
  const rstd = new Float64Array(C);
  if (a.training) {
    if (n === 0) mean.fill(NaN), variance.fill(NaN);
    if (updateRunning && n > 0) updateRunningStats(a, mean, Float64Array.from(variance, (v) => (v * n) / (n - 1)));
  } else {
    for (let c = 0; c < C; c++) {
      mean[c] = a.runningMean![c]!;
      variance[c] = a.runningVar![c]!;
    }
  }
  for (let c = 0; c < C; c++) rstd[c] = 1 / Math.sqrt(variance[c]! + a.eps);
  return { mean, rstd };
}

/** running ← (1 − m)·running + m·batch, per channel (the unbiased variance given), in place. */
export function updateRunningStats(a: { runningMean: Float32Array | null; runningVar: Float32Array | null; momentum: number }, mean: Float64Array, unbiasedVar: Float64Array): void {
  const m = a.momentum;
  for (let c = 0; c < mean.length; c++) {
    if (a.runningMean !== null) a.runningMean[c] = (1 - m) * a.runningMean[c]! + m * mean[c]!;
    if (a.runningVar !== null) a.runningVar[c] = (1 - m) * a.runningVar[c]! + m * unbiasedVar[c]!;
  }
}

export function batchNormForwardWithStats(a: BatchNormArgs, updateRunning: boolean, k: Kernels = kernels()) {
  const { mean, rstd } = batchNormStats64(a, updateRunning, k);
  const y = allocStored(a.x.dtype, a.N * a.C * a.S, "y");
  if (y.data.length > 0) k.channelApply({ N: a.N, C: a.C, S: a.S, x: a.x, y, mean, rstd, weight: a.weight, bias: a.bias });
  return { y: tensorOf(y, a.x.shape), mean, rstd };
}

export function batchNormBackwardWithStats(
  a: BatchNormArgs, dy: Stored, mean: Float64Array, rstd: Float64Array,
  into?: { dweight: Stored | null; dbias: Stored | null }, k: Kernels = kernels(),
): AnyGrads {
  const dx = allocStored(a.x.dtype, a.N * a.C * a.S, "dx");
  const gw = gradTarget(a.weight, into?.dweight ?? null, a.C, "dweight");
  const gb = gradTarget(a.bias, into?.dbias ?? null, a.C, "dbias");
  if (dx.data.length > 0) {
    k.channelBackward({
      N: a.N, C: a.C, S: a.S, dy, x: a.x, mean, rstd, weight: a.weight, training: a.training, dx, dweight: gw?.sum ?? null, dbias: gb?.sum ?? null,
    });
  }
  addSums(gw);
  addSums(gb);
  return { dx: tensorOf(dx, a.x.shape), dweight: gw && tensorOf(gw.target, [a.C]), dbias: gb && tensorOf(gb.target, [a.C]) };
}
