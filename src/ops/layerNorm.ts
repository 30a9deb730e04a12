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
import {
  LAYER_NORM_EPS, alloc, out, paramGrads, rowNormArgs, rowNormBackwardArgs, statShape,
  type BackwardOptions, type ForwardOptions, type Grads, type RowNormArgs, type RowNormBackwardArgs, type Tensor,
} from "../core/index.js";

export { LAYER_NORM_EPS };

/** y = (x − mean)/√(var + eps)·weight + bias over the trailing `normalizedShape` dims. */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions): Tensor {
  return layerNormForward(x, normalizedShape, options).y;
}

/**
 * layerNorm that also returns each row's mean and rstd (shape: x's leading dims), to hand to
 * layerNormBackward as autograd would (PyTorch: `torch.native_layer_norm`).
 */
export function layerNormForward(
  x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions,
): { y: Tensor; mean: Tensor; rstd: Tensor } {
  const a = rowNormArgs(x, normalizedShape, options, LAYER_NORM_EPS, true);
  const { y, mean, rstd } = layerNormForwardWithStats(a);
  const s = statShape(a.x.shape, a.normalizedShape);
  return { y, mean: out(mean, s), rstd: out(rstd, s) };
}

/**
 * Gradients of LayerNorm with respect to x, weight and bias, for the upstream gradient dy; from
 * `options.mean`/`rstd` when given, else from statistics recomputed here.
 */
export function layerNormBackward(
  dy: Tensor, x: Tensor, normalizedShape: number | readonly number[], options?: BackwardOptions,
): Grads {
  return layerNormBackwardOf(rowNormBackwardArgs(dy, x, normalizedShape, options, LAYER_NORM_EPS, false));
}

/**
 * Forward on validated arguments, returning the row statistics as arrays (the modules keep them),
 * written into `stats` when given (buffers a module reuses, a.rows values each).
 */
export function layerNormForwardWithStats(a: RowNormArgs, k: Kernels = kernels(), stats?: { mean: Float32Array; rstd: Float32Array }) {
  const y = a.out ?? alloc(a.rows * a.D, "y");
  const mean = stats?.mean ?? alloc(a.rows, "mean");
  const rstd = stats?.rstd ?? alloc(a.rows, "rstd");
  // empty rows (D = 0): PyTorch's mean 0 and rstd NaN (0/0 variance), no kernel call
  if (a.D === 0) rstd.fill(NaN);
  else k.layerNormForward(y, mean, rstd, a.x.data, a.weight, a.bias, a.rows, a.D, a.eps);
  return { y: out(y, a.x.shape), mean, rstd };
}

/** Backward on validated arguments; dweight/dbias in `a.into` are accumulated into (+=). */
export function layerNormBackwardOf(a: RowNormBackwardArgs, k: Kernels = kernels()): Grads {
  const dx = a.out ?? alloc(a.rows * a.D, "dx");
  const grads = paramGrads(a.weight, a.bias, a.normalizedShape, a.into);
  if (a.D === 0) return grads.wrap(dx, a.x.shape); // nothing to differentiate
  // no saved statistics: recompute them, with dx as the forward's scratch y (overwritten below)
  const { mean, rstd } = a.stats ?? layerNormForwardWithStats({ ...a, out: dx }, k);
  k.layerNormBackward(dx, grads.dweight, grads.dbias, a.dy, a.x.data, mean!, rstd, a.weight, a.rows, a.D);
  return grads.wrap(dx, a.x.shape);
}
