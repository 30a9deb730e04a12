/**
 * Fused residual add + LayerNorm/RMSNorm, as the transformer block calls them (ONNX Runtime's
 * SkipLayerNormalization / SkipSimplifiedLayerNormalization, Liger's LigerFusedAddRMSNorm,
 * FlashInfer's fused_add_rmsnorm):
 *
 *   h = round_x((x + residual) + inputBias)   the new residual stream (float32 adds, ORT's order)
 *   y = norm(h)                                of that rounded h, in one pass over memory
 *
 * Backward takes dy and dh (the gradient arriving on h from later uses of the stream) and returns
 * dx = ∂(Σ dy·y)/∂h + dh, the one gradient shared by x and residual, and dinputBias = Σ_rows dx.
 * `residualOut` may be `residual` itself: h is then written over the residual stream in place.
 * Semantics and the libraries' differences: docs/ops-semantics.md.
 */
import { kernels } from "../backends/registry.js";
import {
  LAYER_NORM_EPS, RMS_NORM_EPS, addNormSpec, out, rowNormBackwardSpec, statShape, tensorOf,
  type AnyTensor, type NormalizedShape, type BackwardOptions, type ForwardOptions, type Like, type Tensor,
} from "../core/index.js";
import { rowBackward, rowForward, type RowGrads } from "./rows.js";

/** Options of addLayerNorm/addRmsNorm. */
export interface AddNormOptions extends ForwardOptions<AnyTensor> {
  /** ONNX SkipLayerNormalization's bias input (normalizedShape, any dtype): h = (x + residual) + inputBias. */
  inputBias?: AnyTensor | null;
  /** Write h here (x's shape and dtype) instead of a new tensor; may be `residual` itself (in place). */
  residualOut?: AnyTensor | null;
}

/** Options of addLayerNormBackward/addRmsNormBackward. */
export interface AddNormBackwardOptions extends Omit<BackwardOptions<AnyTensor>, "into"> {
  /** The forward's inputBias (its presence, shape and dtype make a dinputBias). */
  inputBias?: AnyTensor | null;
  /** The gradient arriving on h (h's shape and dtype), added to dx. */
  dh?: AnyTensor | null;
  /** Add the gradients into these tensors (+=), each of its parameter's shape and dtype. */
  into?: { dweight?: AnyTensor | null; dbias?: AnyTensor | null; dinputBias?: AnyTensor | null } | null;
}

/** Gradients of the add ops: dx (h's dtype) is the gradient of both x and residual. */
export interface AddNormGrads {
  dx: AnyTensor;
  dweight: AnyTensor | null;
  dbias: AnyTensor | null;
  /** Σ_rows dx (inputBias's dtype) when an inputBias was given, else null */
  dinputBias: AnyTensor | null;
}

function addForward(rms: boolean, x: unknown, residual: unknown, ns: unknown, options: unknown) {
  const a = addNormSpec(x, residual, ns, options, rms ? RMS_NORM_EPS : LAYER_NORM_EPS);
  const r = rowForward(a, rms, kernels(), a);
  const s = statShape(a.x.shape, a.normalizedShape);
  return { y: tensorOf(r.y, a.x.shape), h: tensorOf(r.h!, a.x.shape), mean: r.mean && out(r.mean, s), rstd: out(r.rstd, s) };
}

/**
 * h = x + residual (+ inputBias), y = layerNorm(h): `{ y, h, mean, rstd }` (y and h of x's
 * dtype; mean and rstd float32, one per row, for addLayerNormBackward).
 */
export function addLayerNorm<T extends AnyTensor>(
  x: T, residual: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormOptions,
): { y: Like<T>; h: Like<T>; mean: Tensor; rstd: Tensor } {
  const r = addForward(false, x, residual, normalizedShape, options);
  return { y: r.y as Like<T>, h: r.h as Like<T>, mean: r.mean!, rstd: r.rstd };
}

/** h = x + residual (+ inputBias), y = rmsNorm(h): `{ y, h, rstd }`. */
export function addRmsNorm<T extends AnyTensor>(
  x: T, residual: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormOptions,
): { y: Like<T>; h: Like<T>; rstd: Tensor } {
  const r = addForward(true, x, residual, normalizedShape, options);
  return { y: r.y as Like<T>, h: r.h as Like<T>, rstd: r.rstd };
}

/** Gradients of addLayerNorm from dy and h (its output), plus `dh`: dx (for x and residual), dweight, dbias, dinputBias. */
export function addLayerNormBackward(dy: AnyTensor, h: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormBackwardOptions): AddNormGrads {
  return grads(rowBackward(rowNormBackwardSpec(dy, h, normalizedShape, options, LAYER_NORM_EPS, false, true), false, kernels()));
}

/** Gradients of addRmsNorm (as addLayerNormBackward; saved statistics: rstd only). */
export function addRmsNormBackward(dy: AnyTensor, h: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormBackwardOptions): AddNormGrads {
  return grads(rowBackward(rowNormBackwardSpec(dy, h, normalizedShape, options, RMS_NORM_EPS, true, true), true, kernels()));
}

const grads = (g: RowGrads): AddNormGrads => ({ dx: g.dx, dweight: g.dweight, dbias: g.dbias, dinputBias: g.dinputBias });
