/**
 * The js backend's per-channel kernels for BatchNorm (any storage dtype) and GroupNorm's float32
 * affine on [N, C, S] layouts (S = spatial size): channel c's values sit in N strided runs of S,
 * so these are not row kernels. Sums are float64, statistics two-pass, written to float64 buffers.
 */
import type { ChannelBackwardJob, ChannelJob, Stored } from "../types.js";
import { narrow, readRow, widenAll } from "../storage.js";

/** BatchNorm batch statistics per channel: mean, biased variance (two-pass over N·S values, float64). */
export function channelStats(x: Stored, N: number, C: number, S: number, mean: Float64Array, variance: Float64Array): void {
  const n = N * S;
  const buf = new Float32Array(S);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let b = 0; b < N; b++) {
      const v = readRow(x, (b * C + c) * S, S, buf);
      for (let i = 0; i < S; i++) s += v[i]!;
    }
    const m = s / n;
    let q = 0;
    for (let b = 0; b < N; b++) {
      const v = readRow(x, (b * C + c) * S, S, buf);
      for (let i = 0; i < S; i++) {
        const d = v[i]! - m;
        q += d * d;
      }
    }
    mean[c] = m;
    variance[c] = q / n;
  }
}

/** y = (x − mean_c)·rstd_c·γ_c + β_c, per run of S values. */
export function channelApply(j: ChannelJob): void {
  const { N, C, S } = j;
  const w = widenAll(j.weight), b = widenAll(j.bias);
  const buf = new Float32Array(S), ys = new Float32Array(S);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const o = (n * C + c) * S;
      const v = readRow(j.x, o, S, buf);
      const m = j.mean[c]!;
      const sc = j.rstd[c]! * (w !== null ? w[c]! : 1);
      const sh = b !== null ? b[c]! : 0;
      for (let i = 0; i < S; i++) ys[i] = (v[i]! - m) * sc + sh;
      narrow(j.y, o, ys, 0, S);
    }
  }
}

/**
 * BatchNorm backward. training: dx = rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)), g = dy·γ_c;
 * eval (statistics are constants): dx = g·rstd. Both: dγ_c += Σ dy·x̂, dβ_c += Σ dy (float64).
 */
export function channelBackward(j: ChannelBackwardJob): void {
  const { N, C, S } = j;
  const n = N * S;
  const w = widenAll(j.weight);
  const xb = new Float32Array(S), db = new Float32Array(S), dxs = new Float32Array(S);
  for (let c = 0; c < C; c++) {
    const m = j.mean[c]!;
    const rs = j.rstd[c]!;
    const wc = w !== null ? w[c]! : 1;
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let b = 0; b < N; b++) {
      const o = (b * C + c) * S;
      const x = readRow(j.x, o, S, xb), dy = readRow(j.dy, o, S, db);
      for (let i = 0; i < S; i++) {
        sumDy += dy[i]!;
        sumDyXhat += dy[i]! * (x[i]! - m) * rs;
      }
    }
    // mean(g) and mean(g·x̂), with g = dy·γ_c constant in γ over the channel
    const gMean = j.training ? (sumDy * wc) / n : 0;
    const gxMean = j.training ? (sumDyXhat * wc) / n : 0;
    for (let b = 0; b < N; b++) {
      const o = (b * C + c) * S;
      const x = readRow(j.x, o, S, xb), dy = readRow(j.dy, o, S, db);
      for (let i = 0; i < S; i++) dxs[i] = (dy[i]! * wc - gMean - (x[i]! - m) * rs * gxMean) * rs;
      narrow(j.dx, o, dxs, 0, S);
    }
    if (j.dweight !== null) j.dweight[c] += sumDyXhat;
    if (j.dbias !== null) j.dbias[c] += sumDy;
  }
}

/** In place: y = y·γ_c + β_c (GroupNorm's per-channel affine after a per-group row norm). */
export function channelAffine(y: Float32Array, weight: Float32Array | null, bias: Float32Array | null, N: number, C: number, S: number): void {
  if (weight === null && bias === null) return;
  for (let b = 0; b < N; b++) {
    for (let c = 0; c < C; c++) {
      const o = (b * C + c) * S;
      const w = weight !== null ? weight[c] : 1;
      const sh = bias !== null ? bias[c] : 0;
      for (let i = 0; i < S; i++) y[o + i] = y[o + i] * w + sh;
    }
  }
}

/** g = dy·γ_c (GroupNorm: the upstream gradient of the row norm's x̂). */
export function channelScale(g: Float32Array, dy: Float32Array, weight: Float32Array, N: number, C: number, S: number): void {
  for (let b = 0; b < N; b++) {
    for (let c = 0; c < C; c++) {
      const o = (b * C + c) * S;
      const w = weight[c];
      for (let i = 0; i < S; i++) g[o + i] = dy[o + i] * w;
    }
  }
}

/** GroupNorm parameter gradients: dγ_c += Σ_{n,s} dy·x̂, dβ_c += Σ_{n,s} dy, x̂ from the group's stats. */
export function groupNormParamGrads(
  dweight: Float32Array | null, dbias: Float32Array | null,
  dy: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array,
  N: number, C: number, S: number, G: number,
): void {
  const Cg = C / G;
  for (let c = 0; c < C; c++) {
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let b = 0; b < N; b++) {
      const r = b * G + Math.floor(c / Cg);
      const m = mean[r];
      const rs = rstd[r];
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) {
        sumDy += dy[o + i];
        sumDyXhat += dy[o + i] * (x[o + i] - m) * rs;
      }
    }
    if (dweight !== null) dweight[c] += sumDyXhat;
    if (dbias !== null) dbias[c] += sumDy;
  }
}
