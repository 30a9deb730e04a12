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
import type { Tensor } from "../tensor.js";
import { checkSameShape, out, paramGrads, rowNormArgs, type ForwardOptions, type Grads, type NormOptions, type RowNormArgs } from "./common.js";

export const RMS_NORM_EPS = 2 ** -23;

/** y = x/√(mean(x²) + eps)·weight (+ bias) over the trailing `normalizedShape` dims. */
export function rmsNorm(x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions): Tensor {
  return rmsNormForwardWithStats(rowNormArgs(x, normalizedShape, options, RMS_NORM_EPS, true)).y;
}

/** Gradients of RMSNorm with respect to x, weight and bias, for the upstream gradient dy. */
export function rmsNormBackward(
  dy: Tensor, x: Tensor, normalizedShape: number | readonly number[], options?: NormOptions,
): Grads {
  const a = rowNormArgs(x, normalizedShape, options, RMS_NORM_EPS);
  const g = checkSameShape(dy, a.x);
  return rmsNormBackwardOf(a, g.data);
}

/** The public backward after validation: the statistics recomputed, then the backward kernel. */
export function rmsNormBackwardOf(a: RowNormArgs, dy: Float32Array, k: Kernels = kernels()): Grads {
  const { rstd } = rmsNormForwardWithStats(a, k);
  return rmsNormBackwardWithStats(a, dy, rstd, undefined, k);
}

export function rmsNormForwardWithStats(a: RowNormArgs, k: Kernels = kernels()) {
  const y = a.out ?? new Float32Array(a.rows * a.D);
  const rstd = new Float32Array(a.rows);
  k.rmsNormForward(y, rstd, a.x.data, a.weight, a.bias, a.rows, a.D, a.eps);
  return { y: out(y, a.x.shape), rstd };
}

export function rmsNormBackwardWithStats(
  a: RowNormArgs, dy: Float32Array, rstd: Float32Array,
  into?: { dweight: Float32Array | null; dbias: Float32Array | null }, k: Kernels = kernels(),
): Grads {
  const grads = paramGrads(a.weight, a.bias, a.normalizedShape, into);
  const dx = new Float32Array(a.rows * a.D);
  k.rmsNormBackward(dx, grads.dweight, grads.dbias, dy, a.x.data, rstd, a.weight, a.rows, a.D);
  return grads.wrap(dx, a.x.shape);
}
