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
 */
import { batchNormBackward as batchNormBackwardKernel, batchNormStats, channelNormApply } from "../backends/js/channel.js";
import {
  BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, alloc, batchNormArgs, checkSameShape, out, paramGrads,
  type BatchNormArgs, type BatchNormOptions, type Grads, type Tensor,
} from "../core/index.js";

export { BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, batchNormArgs, type BatchNormArgs, type BatchNormOptions };

/** Normalizes each channel over the batch and positions (training) or with the running statistics (eval). */
export function batchNorm(x: Tensor, options?: BatchNormOptions): Tensor {
  return batchNormForwardWithStats(batchNormArgs(x, options), true).y;
}

/** Gradients of BatchNorm (same mode as the forward call); never touches running statistics. */
export function batchNormBackward(dy: Tensor, x: Tensor, options?: BatchNormOptions): Grads {
  const a = batchNormArgs(x, options);
  const g = checkSameShape(dy, a.x);
  const { mean, rstd } = batchNormStats64(a, false);
  return batchNormBackwardWithStats(a, g.data, mean, rstd);
}

/** The statistics the forward normalizes with; in training mode optionally updates running stats. */
function batchNormStats64(a: BatchNormArgs, updateRunning: boolean) {
  const { N, C, S } = a;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  const rstd = new Float64Array(C);
  if (a.training) {
    batchNormStats(mean, variance, a.x.data, N, C, S);
    const n = N * S;
    const m = a.momentum;
    if (updateRunning && n > 0) {
      for (let c = 0; c < C; c++) {
        if (a.runningMean !== null) a.runningMean[c] = (1 - m) * a.runningMean[c] + m * mean[c];
        if (a.runningVar !== null) a.runningVar[c] = (1 - m) * a.runningVar[c] + m * ((variance[c] * n) / (n - 1));
      }
    }
  } else {
    for (let c = 0; c < C; c++) {
      mean[c] = a.runningMean![c];
      variance[c] = a.runningVar![c];
    }
  }
  for (let c = 0; c < C; c++) rstd[c] = 1 / Math.sqrt(variance[c] + a.eps);
  return { mean, rstd };
}

export function batchNormForwardWithStats(a: BatchNormArgs, updateRunning: boolean) {
  const { mean, rstd } = batchNormStats64(a, updateRunning);
  const y = alloc(a.N * a.C * a.S, "y");
  channelNormApply(y, a.x.data, mean, rstd, a.weight, a.bias, a.N, a.C, a.S);
  return { y: out(y, a.x.shape), mean, rstd };
}

export function batchNormBackwardWithStats(
  a: BatchNormArgs, dy: Float32Array, mean: Float64Array, rstd: Float64Array,
  into?: { dweight: Float32Array | null; dbias: Float32Array | null },
): Grads {
  const grads = paramGrads(a.weight, a.bias, [a.C], into);
  const dx = alloc(a.N * a.C * a.S, "dx");
  batchNormBackwardKernel(dx, grads.dweight, grads.dbias, dy, a.x.data, mean, rstd, a.weight, a.N, a.C, a.S, a.training);
  return grads.wrap(dx, a.x.shape);
}
