/**
 * The plain TypeScript backend: the debugging reference among the fast backends and the fallback
 * where WebAssembly is unavailable. JS numbers are float64, so every sum here is a float64 sum of
 * float32 inputs, rounded to float32 once on store: more accurate than PyTorch's float32 kernels.
 * Statistics are two-pass over the row (mean first, then Σ(x − mean)²), never E[x²] − E[x]².
 */
import type { Kernels } from "../types.js";
import { channelAffine, channelApply, channelBackward, channelScale, channelStats, groupNormParamGrads } from "./channel.js";
import { normGroups, normGroupsBackward } from "./groups.js";
import { normRows, normRowsBackward } from "./rows.js";

export function layerNormForward(
  y: Float32Array, mean: Float32Array, rstd: Float32Array,
  x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
  rows: number, D: number, eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let s = 0;
    for (let i = 0; i < D; i++) s += x[o + i];
    const m = s / D;
    let v = 0;
    for (let i = 0; i < D; i++) {
      const d = x[o + i] - m;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v / D + eps);
    for (let i = 0; i < D; i++) {
      let h = (x[o + i] - m) * rs;
      if (weight !== null) h *= weight[i];
      if (bias !== null) h += bias[i];
      y[o + i] = h;
    }
    mean[r] = m;
    rstd[r] = rs;
  }
}

export function layerNormBackward(
  dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
  dy: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, weight: Float32Array | null,
  rows: number, D: number,
): void {
  rowBackward(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, D);
}

/**
 * LayerNorm backward, or RMSNorm's where mean is null (x̂ = x·rstd, and no mean(g) term: the RMS
 * does not depend on a mean), as the wasm kernel does it.
 */
function rowBackward(
  dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
  dy: Float32Array, x: Float32Array, mean: Float32Array | null, rstd: Float32Array, weight: Float32Array | null,
  rows: number, D: number,
): void {
  // float64 partial sums of dweight/dbias over rows, added to the float32 outputs once at the end
  const dw = dweight !== null ? new Float64Array(D) : null;
  const db = dbias !== null ? new Float64Array(D) : null;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    const m = mean !== null ? mean[r] : 0;
    const rs = rstd[r];
    // g = dy·w; the two row means dx needs: mean(g) (LayerNorm only) and mean(g·x̂)
    let gMean = 0;
    let gxMean = 0;
    for (let i = 0; i < D; i++) {
      const xh = (x[o + i] - m) * rs;
      const g = weight !== null ? dy[o + i] * weight[i] : dy[o + i];
      gMean += g;
      gxMean += g * xh;
    }
    gMean = mean !== null ? gMean / D : 0;
    gxMean /= D;
    for (let i = 0; i < D; i++) {
      const xh = (x[o + i] - m) * rs;
      const g = weight !== null ? dy[o + i] * weight[i] : dy[o + i];
      // term 1: g (direct), term 2: −mean(g) (through μ), term 3: −x̂·mean(g·x̂) (through σ or the RMS)
      dx[o + i] = (g - gMean - xh * gxMean) * rs;
      if (dw !== null) dw[i] += dy[o + i] * xh;
      if (db !== null) db[i] += dy[o + i];
    }
  }
  if (dweight !== null && dw !== null) for (let i = 0; i < D; i++) dweight[i] += dw[i];
  if (dbias !== null && db !== null) for (let i = 0; i < D; i++) dbias[i] += db[i];
}

export function rmsNormForward(
  y: Float32Array, rstd: Float32Array,
  x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
  rows: number, D: number, eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let ss = 0;
    for (let i = 0; i < D; i++) ss += x[o + i] * x[o + i];
    const rs = 1 / Math.sqrt(ss / D + eps);
    for (let i = 0; i < D; i++) {
      let h = x[o + i] * rs;
      if (weight !== null) h *= weight[i];
      if (bias !== null) h += bias[i];
      y[o + i] = h;
    }
    rstd[r] = rs;
  }
}

export function rmsNormBackward(
  dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
  dy: Float32Array, x: Float32Array, rstd: Float32Array, weight: Float32Array | null,
  rows: number, D: number,
): void {
  rowBackward(dx, dweight, dbias, dy, x, null, rstd, weight, rows, D);
}

/**
 * GroupNorm: each (n, g) is a contiguous row of L = (C/G)·S values, so LayerNorm's row kernels give
 * the statistics and x̂; then the per-channel affine (forward), or dy scaled per channel into the
 * row backward and the per-channel parameter sums (backward).
 */
function groupNormForward(
  y: Float32Array, mean: Float32Array, rstd: Float32Array, x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
  N: number, C: number, S: number, G: number, eps: number,
): void {
  layerNormForward(y, mean, rstd, x, null, null, N * G, (C / G) * S, eps);
  channelAffine(y, weight, bias, N, C, S);
}

function groupNormBackward(
  dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
  dy: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, weight: Float32Array | null,
  N: number, C: number, S: number, G: number,
): void {
  let g = dy;
  if (weight !== null) {
    g = new Float32Array(dy.length);
    channelScale(g, dy, weight, N, C, S);
  }
  layerNormBackward(dx, null, null, g, x, mean, rstd, null, N * G, (C / G) * S);
  groupNormParamGrads(dweight, dbias, dy, x, mean, rstd, N, C, S, G);
}

export const jsKernels: Kernels = {
  name: "js",
  layerNormForward,
  layerNormBackward,
  rmsNormForward,
  rmsNormBackward,
  groupNormForward,
  groupNormBackward,
  normRows,
  normRowsBackward,
  normGroups,
  normGroupsBackward,
  channelStats,
  channelApply,
  channelBackward,
};
