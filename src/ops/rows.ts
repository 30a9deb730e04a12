/**
 * The drivers shared by LayerNorm, RMSNorm and their fused-add versions, on validated arguments
 * (src/core/rowArgs.ts): allocate the outputs in their dtypes, run the kernels, add the parameter
 * gradients into their tensors. A call that is plain float32 (no half tensor, no weightOffset, no
 * fused add) runs the kernels' float32 fast paths, so its results are bitwise those of before;
 * everything else runs the job entries (Kernels.normRows / normRowsBackward).
 */
import type { Kernels } from "../backends/types.js";
import {
  addSums, alloc, allocStored, gradTarget, paramGrads, tensorOf,
  type AddBackwardExtras, type AnyTensor, type RowNormBackwardSpec, type RowNormSpec, type Stored,
} from "../core/index.js";

/** Whether a call can take the float32 fast paths. */
export function isPlain(a: RowNormSpec): boolean {
  return a.x.dtype === "float32" && (a.weight?.dtype ?? "float32") === "float32" && (a.bias?.dtype ?? "float32") === "float32" && (a.weightOffset === 0 || a.weight === null);
}

/** What the add ops give a row forward: the residual stream's inputs and where h goes. */
export interface AddInputs {
  residual: Stored;
  inputBias: Stored | null;
  residualOut: Stored | null;
}

export interface RowForwardResult {
  y: Stored;
  mean: Float32Array | null;
  rstd: Float32Array;
  /** the add ops' residual stream, else null */
  h: Stored | null;
}

/** LayerNorm (rms false) or RMSNorm forward, optionally with the fused residual add. */
export function rowForward(a: RowNormSpec, rms: boolean, k: Kernels, add: AddInputs | null = null): RowForwardResult {
  const n = a.rows * a.D;
  const y = a.out ?? allocStored(a.x.dtype, n, "y");
  const mean = rms ? null : alloc(a.rows, "mean");
  const rstd = alloc(a.rows, "rstd");
  const h = add === null ? null : (add.residualOut ?? allocStored(a.x.dtype, n, "h"));
  // empty rows (D = 0): PyTorch's mean 0 and rstd NaN (0/0 variance), no kernel call
  if (a.D === 0) rstd.fill(NaN);
  else if (add === null && isPlain(a)) {
    const [x, w, b, yy] = [a.x.data, a.weight?.data ?? null, a.bias?.data ?? null, y.data] as Array<Float32Array | null>;
    if (rms) k.rmsNormForward(yy!, rstd, x!, w, b, a.rows, a.D, a.eps);
    else k.layerNormForward(yy!, mean!, rstd, x!, w, b, a.rows, a.D, a.eps);
  } else {
    k.normRows({
      rms, rows: a.rows, D: a.D, eps: a.eps, x: a.x, residual: add?.residual ?? null, inputBias: add?.inputBias ?? null, h,
      weight: a.weight, bias: a.bias, weightOffset: a.weightOffset, castingMode: a.castingMode, y, mean, rstd,
    });
  }
  return { y, mean, rstd, h };
}

export interface RowGrads {
  dx: AnyTensor;
  dweight: AnyTensor | null;
  dbias: AnyTensor | null;
  dinputBias: AnyTensor | null;
}

/** LayerNorm/RMSNorm backward (the add ops': x is h, plus dh and dinputBias); parameter gradients added into `into`. */
export function rowBackward(a: RowNormBackwardSpec & AddBackwardExtras, rms: boolean, k: Kernels): RowGrads {
  const n = a.rows * a.D;
  const dx = a.out ?? allocStored(a.x.dtype, n, "dx");
  const shape = a.normalizedShape;
  if (isPlain(a) && a.dh === null && a.inputBias === null) {
    // the float32 fast path: float32 gradients accumulated by the kernels
    const into = { dweight: (a.into.dweight?.data ?? null) as Float32Array | null, dbias: (a.into.dbias?.data ?? null) as Float32Array | null };
    const grads = paramGrads(a.weight?.data as Float32Array ?? null, a.bias?.data as Float32Array ?? null, shape, into);
    if (a.D > 0) {
      const [x, dy, w, d] = [a.x.data, a.dy.data, a.weight?.data ?? null, dx.data] as Array<Float32Array | null>;
      // no saved statistics: recompute them, with dx as the forward's scratch y (overwritten below)
      const s = a.stats ?? rowForward({ ...a, out: dx }, rms, k);
      if (rms) k.rmsNormBackward(d!, grads.dweight, grads.dbias, dy!, x!, s.rstd, w, a.rows, a.D);
      else k.layerNormBackward(d!, grads.dweight, grads.dbias, dy!, x!, s.mean!, s.rstd, w, a.rows, a.D);
    }
    return { ...grads.wrap(d32(dx), a.x.shape), dinputBias: null };
  }
  const gw = gradTarget(a.weight, a.into.dweight, a.D, "dweight");
  const gb = gradTarget(a.bias, a.into.dbias, a.D, "dbias");
  const gi = gradTarget(a.inputBias, a.intoInputBias, a.D, "dinputBias");
  if (a.D > 0 && a.rows > 0) {
    let s = a.stats;
    if (s === null) {
      // recompute the statistics as the forward computed them (statistics only: no y)
      const mean = rms ? null : alloc(a.rows, "mean"), rstd = alloc(a.rows, "rstd");
      k.normRows({
        rms, rows: a.rows, D: a.D, eps: a.eps, x: a.x, residual: null, inputBias: null, h: null,
        weight: a.weight, bias: a.bias, weightOffset: a.weightOffset, castingMode: a.castingMode, y: null, mean, rstd,
      });
      s = { mean, rstd };
    }
    k.normRowsBackward({
      rms, rows: a.rows, D: a.D, dy: a.dy, x: a.x, mean: rms ? null : s.mean, rstd: s.rstd, weight: a.weight,
      weightOffset: a.weightOffset, castingMode: a.castingMode, dh: a.dh, dx,
      dweight: gw?.sum ?? null, dbias: gb?.sum ?? null, dsum: gi?.sum ?? null,
    });
  }
  for (const g of [gw, gb, gi]) addSums(g);
  return {
    dx: tensorOf(dx, a.x.shape),
    dweight: gw && tensorOf(gw.target, shape),
    dbias: gb && tensorOf(gb.target, shape),
    dinputBias: gi && tensorOf(gi.target, shape),
  };
}

const d32 = (s: Stored) => s.data as Float32Array;
