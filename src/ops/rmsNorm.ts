/**
 * RMSNorm (torch.nn.RMSNorm / F.rms_norm), over the trailing dims `normalizedShape` (D = their
 * product). No mean is subtracted, which saves a reduction.
 *
 * Forward, per row:   rstd = 1/√(Σx²/D + ε),  x̂ = x·rstd,  y = x̂·γ (+ β, optional)
 * Backward, per row:  g = dy·γ
 *                     dx = rstd·(g − x̂·mean(g·x̂))
 *                     dγ = Σ_rows dy·x̂,   dβ = Σ_rows dy
 * Default ε as PyTorch's eps=None: float32 machine epsilon, 2⁻²³.
 */
import { kernels } from "../backends/registry.js";
import type { Kernels } from "../backends/types.js";
import {
  RMS_NORM_EPS, alloc, out, paramGrads, rowNormArgs, rowNormBackwardArgs, statShape,
  type BackwardOptions, type ForwardOptions, type Grads, type RowNormArgs, type RowNormBackwardArgs, type Tensor,
} from "../core/index.js";

export { RMS_NORM_EPS };

/** y = x/√(mean(x²) + eps)·weight (+ bias) over the trailing `normalizedShape` dims. */
export function rmsNorm(x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions): Tensor {
  return rmsNormForward(x, normalizedShape, options).y;
}

/** rmsNorm that also returns each row's rstd (shape: x's leading dims), to hand to rmsNormBackward. */
export function rmsNormForward(
  x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions,
): { y: Tensor; rstd: Tensor } {
  const a = rowNormArgs(x, normalizedShape, options, RMS_NORM_EPS, true);
  const { y, rstd } = rmsNormForwardWithStats(a);
  return { y, rstd: out(rstd, statShape(a.x.shape, a.normalizedShape)) };
}

/**
 * Gradients of RMSNorm with respect to x, weight and bias, for the upstream gradient dy; from
 * `options.rstd` when given, else from statistics recomputed here.
 */
export function rmsNormBackward(
  dy: Tensor, x: Tensor, normalizedShape: number | readonly number[], options?: BackwardOptions,
): Grads {
  return rmsNormBackwardOf(rowNormBackwardArgs(dy, x, normalizedShape, options, RMS_NORM_EPS, true));
}

/** Forward on validated arguments, returning rstd as an array (the modules keep it), written into `stats.rstd` when given. */
export function rmsNormForwardWithStats(a: RowNormArgs, k: Kernels = kernels(), stats?: { rstd: Float32Array }) {
  const y = a.out ?? alloc(a.rows * a.D, "y");
  const rstd = stats?.rstd ?? alloc(a.rows, "rstd");
  // empty rows (D = 0): rstd NaN (the mean of no squares is 0/0), as PyTorch's LayerNorm gives
  if (a.D === 0) rstd.fill(NaN);
  else k.rmsNormForward(y, rstd, a.x.data, a.weight, a.bias, a.rows, a.D, a.eps);
  return { y: out(y, a.x.shape), rstd };
}

/** Backward on validated arguments; dweight/dbias in `a.into` are accumulated into (+=). */
export function rmsNormBackwardOf(a: RowNormBackwardArgs, k: Kernels = kernels()): Grads {
  const dx = a.out ?? alloc(a.rows * a.D, "dx");
  const grads = paramGrads(a.weight, a.bias, a.normalizedShape, a.into);
  if (a.D === 0) return grads.wrap(dx, a.x.shape); // nothing to differentiate
  // no saved rstd: recompute it, with dx as the forward's scratch y (overwritten below)
  const rstd = a.stats?.rstd ?? rmsNormForwardWithStats({ ...a, out: dx }, k).rstd;
  k.rmsNormBackward(dx, grads.dweight, grads.dbias, a.dy, a.x.data, rstd, a.weight, a.rows, a.D);
  return grads.wrap(dx, a.x.shape);
}
