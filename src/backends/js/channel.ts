/**
 * Per-channel kernels for BatchNorm and GroupNorm on [N, C, S] layouts (S = spatial size), shared by
 * every CPU backend: channel c's values sit in N strided runs of S, so these are not row kernels.
 * Sums are float64, statistics two-pass, written to float64 buffers.
 */

/** BatchNorm batch statistics per channel: mean, biased variance (two-pass over N·S values). */
export function batchNormStats(mean: Float64Array, variance: Float64Array, x: Float32Array, N: number, C: number, S: number): void {
  const n = N * S;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let b = 0; b < N; b++) {
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) s += x[o + i];
    }
    const m = s / n;
    let v = 0;
    for (let b = 0; b < N; b++) {
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) {
        const d = x[o + i] - m;
        v += d * d;
      }
    }
    mean[c] = m;
    variance[c] = v / n;
  }
}

/** y = (x − mean_c)·rstd_c·γ_c + β_c. */
export function channelNormApply(
  y: Float32Array, x: Float32Array, mean: Float64Array, rstd: Float64Array,
  weight: Float32Array | null, bias: Float32Array | null, N: number, C: number, S: number,
): void {
  for (let b = 0; b < N; b++) {
    for (let c = 0; c < C; c++) {
      const o = (b * C + c) * S;
      const m = mean[c];
      const sc = rstd[c] * (weight !== null ? weight[c] : 1);
      const sh = bias !== null ? bias[c] : 0;
      for (let i = 0; i < S; i++) y[o + i] = (x[o + i] - m) * sc + sh;
    }
  }
}

/**
 * BatchNorm backward. training: dx = rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)), g = dy·γ_c;
 * eval (statistics are constants): dx = g·rstd. Both: dγ_c += Σ dy·x̂, dβ_c += Σ dy.
 */
export function batchNormBackward(
  dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
  dy: Float32Array, x: Float32Array, mean: Float64Array, rstd: Float64Array, weight: Float32Array | null,
  N: number, C: number, S: number, training: boolean,
): void {
  const n = N * S;
  for (let c = 0; c < C; c++) {
    const m = mean[c];
    const rs = rstd[c];
    const w = weight !== null ? weight[c] : 1;
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let b = 0; b < N; b++) {
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) {
        sumDy += dy[o + i];
        sumDyXhat += dy[o + i] * (x[o + i] - m) * rs;
      }
    }
    // mean(g) and mean(g·x̂), with g = dy·γ_c constant in γ over the channel
    const gMean = training ? (sumDy * w) / n : 0;
    const gxMean = training ? (sumDyXhat * w) / n : 0;
    for (let b = 0; b < N; b++) {
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) {
        const xh = (x[o + i] - m) * rs;
        dx[o + i] = (dy[o + i] * w - gMean - xh * gxMean) * rs;
      }
    }
    if (dweight !== null) dweight[c] += sumDyXhat;
    if (dbias !== null) dbias[c] += sumDy;
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
