/**
 * LayerNorm (torch.nn.functional.layer_norm), over the trailing dims `normalizedShape` (D = their
 * product); every other dim is a row.
 *
 * Forward, per row:   μ = Σx/D,  σ² = Σ(x − μ)²/D (biased),  rstd = 1/√(σ² + ε)
 *                     x̂ = (x − μ)·rstd,  y = x̂·γ + β
 * Backward, per row:  g = dy·γ
 *                     dx = rstd·(g − mean(g) − x̂·mean(g·x̂))
 *                     dγ = Σ_rows dy·x̂,   dβ = Σ_rows dy
 * The three dx terms are the direct path, the path through μ and the path through σ.
 * Defaults as PyTorch: ε = 1e-5, no γ/β unless given.
 */
import { kernels } from "../backends/registry.js";
import type { Kernels } from "../backends/types.js";
import type { Tensor } from "../tensor.js";
import { checkSameShape, out, paramGrads, rowNormArgs, type ForwardOptions, type Grads, type NormOptions, type RowNormArgs } from "./common.js";

export const LAYER_NORM_EPS = 1e-5;

/** y = (x − mean)/√(var + eps)·weight + bias over the trailing `normalizedShape` dims. */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions): Tensor {
  return layerNormForwardWithStats(rowNormArgs(x, normalizedShape, options, LAYER_NORM_EPS, true)).y;
}

/** Gradients of LayerNorm with respect to x, weight and bias, for the upstream gradient dy. */
export function layerNormBackward(
  dy: Tensor, x: Tensor, normalizedShape: number | readonly number[], options?: NormOptions,
): Grads {
  const a = rowNormArgs(x, normalizedShape, options, LAYER_NORM_EPS);
  const g = checkSameShape(dy, a.x);
  return layerNormBackwardOf(a, g.data);
}

/** The public backward after validation: the statistics recomputed, then the backward kernel. */
export function layerNormBackwardOf(a: RowNormArgs, dy: Float32Array, k: Kernels = kernels()): Grads {
  const { mean, rstd } = layerNormForwardWithStats(a, k);
  return layerNormBackwardWithStats(a, dy, mean, rstd, undefined, k);
}

/** Forward that also returns the row statistics (used by the modules, which keep them for backward). */
export function layerNormForwardWithStats(a: RowNormArgs, k: Kernels = kernels()) {
  const y = a.out ?? new Float32Array(a.rows * a.D);
  const mean = new Float32Array(a.rows);
  const rstd = new Float32Array(a.rows);
  k.layerNormForward(y, mean, rstd, a.x.data, a.weight, a.bias, a.rows, a.D, a.eps);
  return { y: out(y, a.x.shape), mean, rstd };
}

/** Backward from saved statistics; dweight/dbias, when given, are accumulated into (+=). */
export function layerNormBackwardWithStats(
  a: RowNormArgs, dy: Float32Array, mean: Float32Array, rstd: Float32Array,
  into?: { dweight: Float32Array | null; dbias: Float32Array | null }, k: Kernels = kernels(),
): Grads {
  const grads = paramGrads(a.weight, a.bias, a.normalizedShape, into);
  const dx = new Float32Array(a.rows * a.D);
  k.layerNormBackward(dx, grads.dweight, grads.dbias, dy, a.x.data, mean, rstd, a.weight, a.rows, a.D);
  return grads.wrap(dx, a.x.shape);
}
