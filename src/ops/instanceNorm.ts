/**
 * InstanceNorm (torch.nn.functional.instance_norm) on x of shape [N, C, *]: each (sample,
 * channel) instance is normalized over its positions — GroupNorm with G = C, so the group kernels
 * run it — with an optional per-channel affine, as F.instance_norm:
 *
 *   useInputStats (default):  μ, σ² per instance;  y = (x − μ)·rstd·γ_c + β_c
 *                             running_mean ← (1 − m)·running_mean + m·mean_n(μ_{n,c})
 *                             running_var  ← (1 − m)·running_var  + m·mean_n(σ²_{n,c}·S/(S − 1))
 *   useInputStats false:      the running statistics normalize (BatchNorm's eval), not updated
 *
 * PyTorch computes it as BatchNorm of x viewed as [1, N·C, S] with the parameters and running
 * statistics repeated N times, then averages the N updated copies of each running statistic:
 * the update above. momentum null is the cumulative average 1/(numBatchesTracked + 1) (PyTorch's
 * F.instance_norm raises on it; normkit gives it BatchNorm's meaning, for the module).
 */
import { kernels } from "../backends/registry.js";
import type { Kernels } from "../backends/types.js";
import {
  INSTANCE_NORM_EPS, INSTANCE_NORM_MOMENTUM, checkLikeX, instanceNormArgs,
  type AnyTensor, type Grads, type InstanceNormArgs, type InstanceNormOptions, type Like, type Stored, type Tensor,
} from "../core/index.js";
import { batchNormBackwardWithStats, batchNormForwardWithStats, updateRunningStats } from "./batchNorm.js";
import { groupNormBackwardWithStats, groupNormForwardWithStats } from "./groupNorm.js";
import type { AnyGrads } from "./layerNorm.js";

export { INSTANCE_NORM_EPS, INSTANCE_NORM_MOMENTUM, type InstanceNormOptions };

/** Normalizes each (sample, channel) over its positions (or with the running statistics); y has x's dtype. */
export function instanceNorm<T extends AnyTensor>(x: T, options?: InstanceNormOptions<AnyTensor>): Like<T> {
  return instanceNormForwardWithStats(instanceNormArgs(x, options), true).y as Like<T>;
}

/** Gradients of InstanceNorm (the forward's mode); never touches the running statistics. */
export function instanceNormBackward(dy: Tensor, x: Tensor, options?: InstanceNormOptions): Grads;
export function instanceNormBackward(dy: AnyTensor, x: AnyTensor, options?: InstanceNormOptions<AnyTensor>): AnyGrads;
export function instanceNormBackward(dy: AnyTensor, x: AnyTensor, options?: InstanceNormOptions<AnyTensor>): AnyGrads {
  const a = instanceNormArgs(x, options);
  const g = checkLikeX(dy, a.x, "dy");
  return instanceNormBackwardWithStats(a, g, a.useInputStats ? instanceStats(a, kernels(), false) : null);
}

/** The GroupNorm (G = C) arguments of an instance norm. */
const asGroups = (a: InstanceNormArgs) => ({ ...a, G: a.C, channelsLast: false, activation: null });

/** Per-instance statistics ([N·C], float32) from the group kernels; with `y`, the normalized output too. */
function instanceStats(a: InstanceNormArgs, k: Kernels, withY: boolean) {
  return groupNormForwardWithStats(asGroups(a), k, withY);
}

/** The forward; with useInputStats and `updateRunning`, updates the running statistics in place. Returns what backward needs. */
export function instanceNormForwardWithStats(a: InstanceNormArgs, updateRunning: boolean, k: Kernels = kernels()) {
  if (!a.useInputStats) {
    const r = batchNormForwardWithStats({ ...a, training: false }, false, k);
    return { y: r.y, stats: null };
  }
  const r = instanceStats(a, k, true);
  const { N, C, S } = a;
  if (updateRunning && (a.runningMean !== null || a.runningVar !== null) && N > 0) {
    // the batch mean of each channel's per-instance mean and unbiased variance (σ² = 1/rstd² − ε
    // from the kernels' float32 rstd: relative error ≈ 2⁻²³ of σ² + ε, as a float32 variance)
    const mean = new Float64Array(C), unbiased = new Float64Array(C);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const rs = r.rstd[n * C + c]!;
        mean[c] += r.mean[n * C + c]! / N;
        unbiased[c] += ((1 / (rs * rs) - a.eps) * S) / (S - 1) / N;
      }
    }
    updateRunningStats(a, mean, unbiased);
  }
  return { y: r.y, stats: { mean: r.mean, rstd: r.rstd } };
}

/** Backward from the forward's per-instance statistics (useInputStats) or the running statistics (stats null). */
export function instanceNormBackwardWithStats(
  a: InstanceNormArgs, dy: Stored, stats: { mean: Float32Array; rstd: Float32Array } | null,
  into?: { dweight: Stored | null; dbias: Stored | null }, k: Kernels = kernels(),
): AnyGrads {
  if (stats !== null) return groupNormBackwardWithStats(asGroups(a), dy, stats.mean, stats.rstd, into, k);
  const C = a.C;
  const mean = Float64Array.from(a.runningMean!), rstd = Float64Array.from(a.runningVar!, (v) => 1 / Math.sqrt(v + a.eps));
  return batchNormBackwardWithStats({ ...a, training: false }, dy, mean.subarray(0, C), rstd, into, k);
}
