/**
 * RMSNorm (torch.nn.RMSNorm / F.rms_norm), over the trailing dims `normalizedShape` (D = their
 * product). No mean is subtracted, which saves a reduction.
 *
 * Forward, per row:   rstd = 1/√(Σx²/D + ε),  x̂ = x·rstd,  y = x̂·(offset + γ) (+ β, optional)
 * Backward, per row:  g = dy·(offset + γ)
 *                     dx = rstd·(g − x̂·mean(g·x̂))
 *                     dγ = Σ_rows dy·x̂,   dβ = Σ_rows dy
 * Default ε as PyTorch's eps=None: float32 machine epsilon, 2⁻²³ (for half x too, as F.rms_norm
 * upcasts). weightOffset 1 is Gemma's (1 + w); half storage and castingMode as layerNorm.
 */
import { kernels } from "../backends/registry.js";
import {
  RMS_NORM_EPS, out, rowNormBackwardSpec, rowNormSpec, statShape, tensorOf,
  type AnyTensor, type NormalizedShape, type BackwardOptions, type ForwardOptions, type Grads, type Like, type Tensor,
} from "../core/index.js";
import type { AnyGrads } from "./layerNorm.js";
import { rowBackward, rowForward } from "./rows.js";

export { RMS_NORM_EPS };

/** y = x/√(mean(x²) + eps)·(weightOffset + weight) (+ bias) over the trailing `normalizedShape` dims; y has x's dtype. */
export function rmsNorm<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): Like<T> {
  return rmsNormForward(x, normalizedShape, options).y;
}

/** rmsNorm that also returns each row's rstd (float32, shape: x's leading dims), to hand to rmsNormBackward. */
export function rmsNormForward<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): { y: Like<T>; rstd: Tensor } {
  const a = rowNormSpec(x, normalizedShape, options, RMS_NORM_EPS);
  const r = rowForward(a, true, kernels());
  return { y: tensorOf(r.y, a.x.shape) as Like<T>, rstd: out(r.rstd, statShape(a.x.shape, a.normalizedShape)) };
}

/**
 * Gradients of RMSNorm with respect to x, weight and bias, for the upstream gradient dy (x's
 * dtype); from `options.rstd` when given, else from statistics recomputed here.
 */
export function rmsNormBackward(dy: Tensor, x: Tensor, normalizedShape: NormalizedShape, options?: BackwardOptions): Grads;
export function rmsNormBackward(dy: AnyTensor, x: AnyTensor, normalizedShape: NormalizedShape, options?: BackwardOptions<AnyTensor>): AnyGrads;
export function rmsNormBackward(dy: AnyTensor, x: AnyTensor, normalizedShape: NormalizedShape, options?: BackwardOptions<AnyTensor>): AnyGrads {
  const { dx, dweight, dbias } = rowBackward(rowNormBackwardSpec(dy, x, normalizedShape, options, RMS_NORM_EPS, true), true, kernels());
  return { dx, dweight, dbias };
}
