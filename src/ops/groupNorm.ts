/**
 * GroupNorm (torch.nn.functional.group_norm) on x of shape [N, C, *]: the C channels are split into
 * G groups of C/G; each (sample, group) is normalized over its C/G channels × all positions. Those
 * values are contiguous, so a group is a row of width L = (C/G)·S and the row kernels of LayerNorm
 * serve; only the affine is per channel.
 *
 * Forward, per (n, g):  μ, σ² over the group,  x̂ = (x − μ)·rstd,  y = x̂·γ_c + β_c
 * Backward, per (n, g): g' = dy·γ_c,  dx = rstd·(g' − mean(g') − x̂·mean(g'·x̂))   (LayerNorm's dx)
 *                       dγ_c = Σ_{n,s} dy·x̂,  dβ_c = Σ_{n,s} dy
 * Issue #12: `channelsLast` (x [N, *, C]; group g = channels [g·C/G, (g + 1)·C/G) at every
 * position), `activation: "silu"` (out = y·σ(y); backward multiplies dy by σ(y)·(1 + y·(1 − σ(y)))
 * with y recomputed), half storage (float32 math). Defaults as PyTorch: ε = 1e-5.
 */
import { kernels } from "../backends/registry.js";
import type { Kernels } from "../backends/types.js";
import {
  GROUP_BACKWARD_KEYS, GROUP_NORM_EPS, addSums, alloc, allocStored, checkLikeX, checkTensor, gradTarget, groupNormSpec, out, readOptions, savedStats, tensorOf,
  type AnyTensor, type GroupNormBackwardOptions, type GroupNormOptions, type GroupNormSpec, type Grads, type Like, type Stored, type Tensor,
} from "../core/index.js";
import type { AnyGrads } from "./layerNorm.js";

export { GROUP_NORM_EPS };

/** Normalizes each group of C/numGroups channels per sample, then applies the per-channel weight and bias (and SiLU). */
export function groupNorm<T extends AnyTensor>(x: T, numGroups: number, options?: GroupNormOptions<AnyTensor>): Like<T> {
  return groupNormForward(x, numGroups, options).y;
}

/** groupNorm that also returns each (sample, group)'s mean and rstd (float32, shape [N, G]) for groupNormBackward. */
export function groupNormForward<T extends AnyTensor>(
  x: T, numGroups: number, options?: GroupNormOptions<AnyTensor>,
): { y: Like<T>; mean: Tensor; rstd: Tensor } {
  const a = groupNormSpec(x, numGroups, options);
  const r = groupNormForwardWithStats(a);
  return { y: r.y as Like<T>, mean: out(r.mean, [a.N, a.G]), rstd: out(r.rstd, [a.N, a.G]) };
}

/**
 * Gradients of GroupNorm with respect to x, weight and bias, for the upstream gradient dy (x's
 * dtype); from `options.mean`/`rstd` (groupNormForward's) when given, else recomputed.
 */
export function groupNormBackward(dy: Tensor, x: Tensor, numGroups: number, options?: GroupNormBackwardOptions): Grads;
export function groupNormBackward(dy: AnyTensor, x: AnyTensor, numGroups: number, options?: GroupNormBackwardOptions<AnyTensor>): AnyGrads;
export function groupNormBackward(dy: AnyTensor, x: AnyTensor, numGroups: number, options?: GroupNormBackwardOptions<AnyTensor>): AnyGrads {
  const o = readOptions(options, "options", GROUP_BACKWARD_KEYS);
  const a = groupNormSpec(x, numGroups, o, GROUP_BACKWARD_KEYS);
  const g = checkLikeX(dy, a.x, "dy");
  const s = savedStats(checkTensor, o, false, [a.N, a.G]);
  const { mean, rstd } = s === null ? groupNormForwardWithStats(a, kernels(), false) : { mean: s.mean!.data, rstd: s.rstd.data };
  return groupNormBackwardWithStats(a, g, mean, rstd);
}

/** Whether a call can take the float32 channels-first fast path. */
const isPlain = (a: GroupNormSpec) =>
  !a.channelsLast && a.activation === null && a.x.dtype === "float32" && (a.weight?.dtype ?? "float32") === "float32" && (a.bias?.dtype ?? "float32") === "float32";

/** Forward on validated arguments (the modules keep the statistics); `withY` false: statistics only. */
export function groupNormForwardWithStats(a: GroupNormSpec, k: Kernels = kernels(), withY = true) {
  const { N, C, S, G } = a;
  const y = allocStored(a.x.dtype, withY ? N * C * S : 0, "y");
  const mean = alloc(N * G, "mean");
  const rstd = alloc(N * G, "rstd");
  // empty groups (C/G·S = 0): PyTorch's mean 0 and rstd NaN, no kernel call
  if (C * S === 0) rstd.fill(NaN);
  else if (isPlain(a)) {
    const yy = withY ? (y.data as Float32Array) : alloc(N * C * S, "y");
    k.groupNormForward(yy, mean, rstd, a.x.data as Float32Array, w32(a.weight), w32(a.bias), N, C, S, G, a.eps);
  } else {
    k.normGroups({
      N, C, S, G, eps: a.eps, channelsLast: a.channelsLast, activation: a.activation, x: a.x, weight: a.weight, bias: a.bias,
      y: withY ? y : null, mean, rstd,
    });
  }
  return { y: tensorOf(y, a.x.shape), mean, rstd };
}

const w32 = (s: Stored | null) => (s === null ? null : (s.data as Float32Array));

/** Backward on validated arguments and statistics; `into` (float32 modules' grads) accumulated into (+=). */
export function groupNormBackwardWithStats(
  a: GroupNormSpec, dy: Stored, mean: Float32Array, rstd: Float32Array,
  into?: { dweight: Stored | null; dbias: Stored | null }, k: Kernels = kernels(),
): AnyGrads {
  const { N, C, S, G } = a;
  const dx = allocStored(a.x.dtype, N * C * S, "dx");
  const gw = gradTarget(a.weight, into?.dweight ?? null, C, "dweight");
  const gb = gradTarget(a.bias, into?.dbias ?? null, C, "dbias");
  const plain = isPlain(a);
  if (C * S > 0 && N > 0) {
    if (plain) {
      // the float32 fast path adds its sums into the float32 gradients itself
      const t = (g: typeof gw) => (g === null ? null : (g.target.data as Float32Array));
      k.groupNormBackward(dx.data as Float32Array, t(gw), t(gb), dy.data as Float32Array, a.x.data as Float32Array, mean, rstd, w32(a.weight), N, C, S, G);
    } else {
      k.normGroupsBackward({
        N, C, S, G, channelsLast: a.channelsLast, activation: a.activation, dy, x: a.x, mean, rstd, weight: a.weight, bias: a.bias, dx,
        dweight: gw?.sum ?? null, dbias: gb?.sum ?? null,
      });
    }
  }
  if (!plain) {
    addSums(gw);
    addSums(gb);
  }
  return { dx: tensorOf(dx, a.x.shape), dweight: gw && tensorOf(gw.target, [C]), dbias: gb && tensorOf(gb.target, [C]) };
}
