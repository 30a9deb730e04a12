/**
 * The float64 oracle: one plain, obviously-correct implementation of every op, forward and
 * backward, written straight from the formulas with no attention to speed. Every backend's kernels
 * and the public ops are tested against it; it is itself checked by finite differences.
 * Inputs are any array of numbers (float32 data is read exactly); outputs are Float64Array.
 * Layouts: LayerNorm/RMSNorm see `rows × D`; BatchNorm/GroupNorm see `[N, C, S]` (S = spatial size).
 */
type Vec = ArrayLike<number>;
type Opt = Vec | null | undefined;

export interface RefGrads {
  dx: Float64Array;
  dweight: Float64Array | null;
  dbias: Float64Array | null;
}

/** mean and biased variance of the `n` values at `idx(0..n-1)`, two-pass. */
function stats(n: number, at: (i: number) => number): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < n; i++) s += at(i);
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (at(i) - mean) ** 2;
  return { mean, variance: v / n };
}

// ---------------------------------------------------------------- LayerNorm / RMSNorm (rows × D)

/** y = (x − μ)/√(σ² + ε)·γ + β, or with `rms`: y = x/√(mean(x²) + ε)·γ + β. */
export function rowNormRef(rms: boolean, x: Vec, rows: number, D: number, weight: Opt, bias: Opt, eps: number): Float64Array {
  const y = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    const at = (i: number) => x[r * D + i];
    const { mean, variance } = rms ? { mean: 0, variance: meanSq(D, at) } : stats(D, at);
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < D; i++) {
      y[r * D + i] = (at(i) - mean) * rstd * (weight ? weight[i] : 1) + (bias ? bias[i] : 0);
    }
  }
  return y;
}

/**
 * The statistics forward returns, per row of width D: mean (LayerNorm; 0 for `rms`) and
 * rstd = 1/√(σ² + ε), or 1/√(mean(x²) + ε) with `rms`. GroupNorm's are those of its N·G rows of
 * (C/G)·S contiguous values.
 */
export function rowStatsRef(rms: boolean, x: Vec, rows: number, D: number, eps: number): { mean: Float64Array; rstd: Float64Array } {
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const at = (i: number) => x[r * D + i];
    const s = rms ? { mean: 0, variance: meanSq(D, at) } : stats(D, at);
    mean[r] = s.mean;
    rstd[r] = 1 / Math.sqrt(s.variance + eps);
  }
  return { mean, rstd };
}

function meanSq(n: number, at: (i: number) => number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += at(i) ** 2;
  return s / n;
}

/**
 * Gradients of Σ dy·y. With x̂ = (x − μ)·rstd and g = dy·γ:
 * LayerNorm dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); RMSNorm dx = rstd·(g − x̂·mean(g·x̂));
 * dγ = Σ_rows dy·x̂; dβ = Σ_rows dy.
 */
export function rowNormBackwardRef(
  rms: boolean, dy: Vec, x: Vec, rows: number, D: number, weight: Opt, bias: Opt, eps: number,
): RefGrads {
  const dx = new Float64Array(rows * D);
  const dweight = weight ? new Float64Array(D) : null;
  const dbias = bias ? new Float64Array(D) : null;
  for (let r = 0; r < rows; r++) {
    const at = (i: number) => x[r * D + i];
    const { mean, variance } = rms ? { mean: 0, variance: meanSq(D, at) } : stats(D, at);
    const rstd = 1 / Math.sqrt(variance + eps);
    const xhat = (i: number) => (at(i) - mean) * rstd;
    const g = (i: number) => dy[r * D + i] * (weight ? weight[i] : 1);
    let gMean = 0;
    let gxMean = 0;
    for (let i = 0; i < D; i++) {
      gMean += g(i) / D;
      gxMean += (g(i) * xhat(i)) / D;
    }
    for (let i = 0; i < D; i++) {
      dx[r * D + i] = rstd * (g(i) - (rms ? 0 : gMean) - xhat(i) * gxMean);
      if (dweight) dweight[i] += dy[r * D + i] * xhat(i);
      if (dbias) dbias[i] += dy[r * D + i];
    }
  }
  return { dx, dweight, dbias };
}

// ---------------------------------------------------------------- GroupNorm ([N, C, S])

/** Each (n, group) is normalized over its C/G channels × S positions; affine is per channel. */
export function groupNormRef(x: Vec, N: number, C: number, S: number, G: number, weight: Opt, bias: Opt, eps: number): Float64Array {
  const y = new Float64Array(N * C * S);
  const L = (C / G) * S; // elements per group, contiguous
  for (let r = 0; r < N * G; r++) {
    const { mean, variance } = stats(L, (i) => x[r * L + i]);
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < L; i++) {
      const c = Math.floor(((r % G) * L + i) / S);
      y[r * L + i] = (x[r * L + i] - mean) * rstd * (weight ? weight[c] : 1) + (bias ? bias[c] : 0);
    }
  }
  return y;
}

export function groupNormBackwardRef(
  dy: Vec, x: Vec, N: number, C: number, S: number, G: number, weight: Opt, bias: Opt, eps: number,
): RefGrads {
  const dx = new Float64Array(N * C * S);
  const dweight = weight ? new Float64Array(C) : null;
  const dbias = bias ? new Float64Array(C) : null;
  const L = (C / G) * S;
  for (let r = 0; r < N * G; r++) {
    const { mean, variance } = stats(L, (i) => x[r * L + i]);
    const rstd = 1 / Math.sqrt(variance + eps);
    const chan = (i: number) => Math.floor(((r % G) * L + i) / S);
    const xhat = (i: number) => (x[r * L + i] - mean) * rstd;
    const g = (i: number) => dy[r * L + i] * (weight ? weight[chan(i)] : 1);
    let gMean = 0;
    let gxMean = 0;
    for (let i = 0; i < L; i++) {
      gMean += g(i) / L;
      gxMean += (g(i) * xhat(i)) / L;
    }
    for (let i = 0; i < L; i++) {
      dx[r * L + i] = rstd * (g(i) - gMean - xhat(i) * gxMean);
      if (dweight) dweight[chan(i)] += dy[r * L + i] * xhat(i);
      if (dbias) dbias[chan(i)] += dy[r * L + i];
    }
  }
  return { dx, dweight, dbias };
}

// ---------------------------------------------------------------- BatchNorm ([N, C, S])

export interface BatchNormRefOptions {
  weight?: Opt;
  bias?: Opt;
  runningMean?: Opt;
  runningVar?: Opt;
  training: boolean;
  momentum: number;
  eps: number;
}

export interface BatchNormRefResult {
  y: Float64Array;
  /** running statistics after the call (training mode updates them; null when not given) */
  runningMean: Float64Array | null;
  runningVar: Float64Array | null;
}

/** Channel c's values are x[n, c, s] over all n, s. */
function channelStats(x: Vec, N: number, C: number, S: number, c: number) {
  return stats(N * S, (i) => x[(Math.floor(i / S) * C + c) * S + (i % S)]);
}

/**
 * training: normalize with the batch's biased variance; running ← (1 − m)·running + m·stat, the
 * variance stat being unbiased (·n/(n − 1)). eval: normalize with the running statistics.
 */
export function batchNormRef(x: Vec, N: number, C: number, S: number, o: BatchNormRefOptions): BatchNormRefResult {
  const y = new Float64Array(N * C * S);
  const rm = o.runningMean ? Float64Array.from(o.runningMean) : null;
  const rv = o.runningVar ? Float64Array.from(o.runningVar) : null;
  const n = N * S;
  for (let c = 0; c < C; c++) {
    let mean: number, variance: number;
    if (o.training) {
      ({ mean, variance } = channelStats(x, N, C, S, c));
      if (n > 0) {
        if (rm) rm[c] = (1 - o.momentum) * rm[c] + o.momentum * mean;
        if (rv) rv[c] = (1 - o.momentum) * rv[c] + o.momentum * ((variance * n) / (n - 1));
      }
    } else {
      mean = rm![c];
      variance = rv![c];
    }
    const rstd = 1 / Math.sqrt(variance + o.eps);
    for (let b = 0; b < N; b++) {
      for (let s = 0; s < S; s++) {
        const k = (b * C + c) * S + s;
        y[k] = (x[k] - mean) * rstd * (o.weight ? o.weight[c] : 1) + (o.bias ? o.bias[c] : 0);
      }
    }
  }
  return { y, runningMean: rm, runningVar: rv };
}

/**
 * training: dx = rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)) with g = dy·γ_c (statistics over N and S);
 * eval: the statistics are constants, so dx = g·rstd. dγ_c = Σ dy·x̂, dβ_c = Σ dy.
 */
export function batchNormBackwardRef(dy: Vec, x: Vec, N: number, C: number, S: number, o: BatchNormRefOptions): RefGrads {
  const dx = new Float64Array(N * C * S);
  const dweight = o.weight ? new Float64Array(C) : null;
  const dbias = o.bias ? new Float64Array(C) : null;
  const n = N * S;
  for (let c = 0; c < C; c++) {
    const { mean, variance } = o.training ? channelStats(x, N, C, S, c) : { mean: o.runningMean![c], variance: o.runningVar![c] };
    const rstd = 1 / Math.sqrt(variance + o.eps);
    const w = o.weight ? o.weight[c] : 1;
    let gMean = 0;
    let gxMean = 0;
    for (let b = 0; b < N; b++) {
      for (let s = 0; s < S; s++) {
        const k = (b * C + c) * S + s;
        const xhat = (x[k] - mean) * rstd;
        gMean += (dy[k] * w) / n;
        gxMean += (dy[k] * w * xhat) / n;
        if (dweight) dweight[c] += dy[k] * xhat;
        if (dbias) dbias[c] += dy[k];
      }
    }
    for (let b = 0; b < N; b++) {
      for (let s = 0; s < S; s++) {
        const k = (b * C + c) * S + s;
        const xhat = (x[k] - mean) * rstd;
        dx[k] = o.training ? rstd * (dy[k] * w - gMean - xhat * gxMean) : dy[k] * w * rstd;
      }
    }
  }
  return { dx, dweight, dbias };
}
export * from "./ops.js";
