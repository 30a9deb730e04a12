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
 * Defaults as PyTorch: training = false, momentum = 0.1, ε = 1e-5. The running statistics in
 * training mode are the one input normkit modifies (in place, as PyTorch does); backward never does.
 */
import { NormError, describe } from "../errors.js";
import { batchNormBackward as batchNormBackwardKernel, batchNormStats, channelNormApply } from "../backends/js/channel.js";
import { checkParam, type Tensor } from "../tensor.js";
import { channelArgs, checkOptions, checkSameShape, out, paramGrads, type ChannelArgs, type Grads, type NormOptions } from "./common.js";

export const BATCH_NORM_EPS = 1e-5;
export const BATCH_NORM_MOMENTUM = 0.1;

export interface BatchNormOptions extends NormOptions {
  /** Per-channel running mean, shape [C]; updated in place in training mode. */
  runningMean?: Tensor | null;
  /** Per-channel running (unbiased) variance, shape [C]; updated in place in training mode. */
  runningVar?: Tensor | null;
  /** true: normalize with batch statistics and update the running ones. Default false. */
  training?: boolean;
  /** Weight of the new batch statistic in the running update, in [0, 1]. Default 0.1. */
  momentum?: number;
}

export interface BatchNormArgs extends ChannelArgs {
  runningMean: Float32Array | null;
  runningVar: Float32Array | null;
  training: boolean;
  momentum: number;
}

export function batchNormArgs(x: unknown, options: unknown): BatchNormArgs {
  const o = checkOptions<BatchNormOptions>(options);
  const a = channelArgs("batchNorm", x, o, BATCH_NORM_EPS);
  const training = o.training ?? false;
  if (typeof training !== "boolean") {
    throw new NormError("BAD_ARGUMENT", "training", `expected a boolean, got ${describe(training)}`);
  }
  const momentum = o.momentum ?? BATCH_NORM_MOMENTUM;
  if (typeof momentum !== "number" || !(momentum >= 0 && momentum <= 1)) {
    throw new NormError("BAD_MOMENTUM", "momentum", `expected a number in [0, 1], got ${describe(momentum)}`);
  }
  const runningMean = checkParam(o.runningMean, "runningMean", [a.C])?.data ?? null;
  const runningVar = checkParam(o.runningVar, "runningVar", [a.C])?.data ?? null;
  if (!training && (runningMean === null || runningVar === null)) {
    throw new NormError(
      "MISSING_RUNNING_STATS",
      runningMean === null ? "runningMean" : "runningVar",
      `expected running statistics of shape [${a.C}] in eval mode (training: false), got ${describe(runningMean === null ? o.runningMean : o.runningVar)}`,
    );
  }
  if (training && a.N * a.S === 1) {
    throw new NormError(
      "TOO_FEW_VALUES",
      "x",
      `expected more than 1 value per channel when training, got input of shape [${a.x.shape.join(", ")}]`,
    );
  }
  return { ...a, runningMean, runningVar, training, momentum };
}

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
  const y = new Float32Array(a.N * a.C * a.S);
  channelNormApply(y, a.x.data, mean, rstd, a.weight, a.bias, a.N, a.C, a.S);
  return { y: out(y, a.x.shape), mean, rstd };
}

export function batchNormBackwardWithStats(
  a: BatchNormArgs, dy: Float32Array, mean: Float64Array, rstd: Float64Array,
  into?: { dweight: Float32Array | null; dbias: Float32Array | null },
): Grads {
  const grads = paramGrads(a.weight, a.bias, [a.C], into);
  const dx = new Float32Array(a.N * a.C * a.S);
  batchNormBackwardKernel(dx, grads.dweight, grads.dbias, dy, a.x.data, mean, rstd, a.weight, a.N, a.C, a.S, a.training);
  return grads.wrap(dx, a.x.shape);
}
