/**
 * LayerNorm (torch.nn.functional.layer_norm), over the trailing dims `normalizedShape` (D = their
 * product); every other dim is a row.
 *
 * Forward, per row:   μ = Σx/D,  σ² = Σ(x − μ)²/D (biased),  rstd = 1/√(σ² + ε)
 *                     x̂ = (x − μ)·rstd,  y = x̂·(offset + γ) + β
 * Backward, per row:  g = dy·(offset + γ)
 *                     dx = rstd·(g − mean(g) − x̂·mean(g·x̂))
 *                     dγ = Σ_rows dy·x̂,   dβ = Σ_rows dy
 * The three dx terms are the direct path, the path through μ and the path through σ.
 * Defaults as PyTorch: ε = 1e-5, no γ/β unless given; weightOffset 0 (Gemma: 1). Half-precision
 * x, weight, bias: float32 math, y and dx in x's dtype, dγ/dβ in the parameter's (castingMode for
 * half x: docs/ops-semantics.md).
 */
import { kernels } from "../backends/registry.js";
import {
  LAYER_NORM_EPS, out, rowNormBackwardSpec, rowNormSpec, statShape, tensorOf,
  type AnyTensor, type NormalizedShape, type BackwardOptions, type ForwardOptions, type Grads, type Like, type Tensor,
} from "../core/index.js";
import { rowBackward, rowForward } from "./rows.js";

export { LAYER_NORM_EPS };

/** Gradients of a backward with half tensors: dx of x's dtype, dweight/dbias of their parameter's. */
export interface AnyGrads {
  dx: AnyTensor;
  dweight: AnyTensor | null;
  dbias: AnyTensor | null;
}

/** y = (x − mean)/√(var + eps)·(weightOffset + weight) + bias over the trailing `normalizedShape` dims; y has x's dtype. */
export function layerNorm<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): Like<T> {
  return layerNormForward(x, normalizedShape, options).y;
}

/**
 * layerNorm that also returns each row's mean and rstd (float32, shape: x's leading dims), to
 * hand to layerNormBackward as autograd would (PyTorch: `torch.native_layer_norm`).
 */
export function layerNormForward<T extends AnyTensor>(
  x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>,
): { y: Like<T>; mean: Tensor; rstd: Tensor } {
  const a = rowNormSpec(x, normalizedShape, options, LAYER_NORM_EPS);
  const r = rowForward(a, false, kernels());
  const s = statShape(a.x.shape, a.normalizedShape);
  return { y: tensorOf(r.y, a.x.shape) as Like<T>, mean: out(r.mean!, s), rstd: out(r.rstd, s) };
}

/**
 * Gradients of LayerNorm with respect to x, weight and bias, for the upstream gradient dy (x's
 * dtype); from `options.mean`/`rstd` when given, else from statistics recomputed here.
 */
export function layerNormBackward(dy: Tensor, x: Tensor, normalizedShape: NormalizedShape, options?: BackwardOptions): Grads;
export function layerNormBackward(dy: AnyTensor, x: AnyTensor, normalizedShape: NormalizedShape, options?: BackwardOptions<AnyTensor>): AnyGrads;
export function layerNormBackward(dy: AnyTensor, x: AnyTensor, normalizedShape: NormalizedShape, options?: BackwardOptions<AnyTensor>): AnyGrads {
  const { dx, dweight, dbias } = rowBackward(rowNormBackwardSpec(dy, x, normalizedShape, options, LAYER_NORM_EPS, false), false, kernels());
  return { dx, dweight, dbias };
}
