/**
 * GroupNorm (torch.nn.functional.group_norm) on x of shape [N, C, *]: the C channels are split into
 * G groups of C/G; each (sample, group) is normalized over its C/G channels × all positions. Those
 * values are contiguous, so a group is a row of width L = (C/G)·S and the row kernels of LayerNorm
 * serve; only the affine is per channel.
 *
 * Forward, per (n, g):  μ, σ² over the group,  x̂ = (x − μ)·rstd,  y = x̂·γ_c + β_c
 * Backward, per (n, g): g' = dy·γ_c,  dx = rstd·(g' − mean(g') − x̂·mean(g'·x̂))   (LayerNorm's dx)
 *                       dγ_c = Σ_{n,s} dy·x̂,  dβ_c = Σ_{n,s} dy
 * Defaults as PyTorch: ε = 1e-5.
 */
import { kernels } from "../backends/registry.js";
import {
  GROUP_NORM_EPS, alloc, checkSameShape, groupNormArgs, out, paramGrads, type GroupNormArgs, type Grads, type NormOptions, type Tensor,
} from "../core/index.js";

export { GROUP_NORM_EPS };

/** Normalizes each group of C/numGroups channels per sample, then applies the per-channel weight and bias. */
export function groupNorm(x: Tensor, numGroups: number, options?: NormOptions): Tensor {
  return groupNormForwardWithStats(groupNormArgs(x, numGroups, options)).y;
}

/** Gradients of GroupNorm with respect to x, weight and bias, for the upstream gradient dy. */
export function groupNormBackward(dy: Tensor, x: Tensor, numGroups: number, options?: NormOptions): Grads {
  const a = groupNormArgs(x, numGroups, options);
  const g = checkSameShape(dy, a.x);
  const { mean, rstd } = groupNormForwardWithStats(a);
  return groupNormBackwardWithStats(a, g.data, mean, rstd);
}

export function groupNormForwardWithStats(a: GroupNormArgs) {
  const { N, C, S, G } = a;
  const y = alloc(N * C * S, "y");
  const mean = alloc(N * G, "mean");
  const rstd = alloc(N * G, "rstd");
  // empty groups (C/G·S = 0): PyTorch's mean 0 and rstd NaN, no kernel call
  if (C * S === 0) rstd.fill(NaN);
  else kernels().groupNormForward(y, mean, rstd, a.x.data, a.weight, a.bias, N, C, S, G, a.eps);
  return { y: out(y, a.x.shape), mean, rstd };
}

export function groupNormBackwardWithStats(
  a: GroupNormArgs, dy: Float32Array, mean: Float32Array, rstd: Float32Array,
  into?: { dweight: Float32Array | null; dbias: Float32Array | null },
): Grads {
  const { N, C, S, G } = a;
  const grads = paramGrads(a.weight, a.bias, [C], into);
  const dx = alloc(N * C * S, "dx");
  if (C * S > 0) kernels().groupNormBackward(dx, grads.dweight, grads.dbias, dy, a.x.data, mean, rstd, a.weight, N, C, S, G);
  return grads.wrap(dx, a.x.shape);
}
