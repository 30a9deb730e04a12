/**
 * The wasm backend's BatchNorm jobs (Kernels.channelStats / channelApply / channelBackward) on
 * the column kernels: x [N, C, S] seen as N rows of width C·S, channel c's values in columns
 * [c·S, (c + 1)·S), its parameters and statistics spread over them. Channels [c0, c1) only: the
 * pool gives each thread a range of channels, and each channel's sums are the same whichever
 * range holds it (float64 per column, rows in order), so the pool matches one thread bit for bit.
 */
import type { Stored } from "../../dtype.js";
import type { ChannelBackwardJob, ChannelJob } from "../types.js";
import { widenAll } from "../storage.js";
import { chunkOf, eachChunk, loadRows, storeRows, type Segments } from "./columns.js";
import { Io } from "./io.js";
import type { WasmRuntime } from "./runtime.js";

/** The rows of channels [c0, c1) of an [N, C, S] array. */
function segments(N: number, C: number, S: number, c0: number, c1: number): Segments {
  const W = (c1 - c0) * S;
  return { rows: N, W, cr: chunkOf(W), at: (r) => r * C * S + c0 * S, contiguous: c1 - c0 === C };
}

/** v[c] for each of channels [c0, c1), repeated S times: a per-channel value per column. */
function spread(f: Float32Array, at: number, c0: number, c1: number, S: number, v: (c: number) => number): void {
  for (let c = c0; c < c1; c++) f.fill(v(c), at + (c - c0) * S, at + (c - c0 + 1) * S);
}

/** Σ over each channel's S columns of float64 column sums. */
const perChannel = (sums: Float64Array, c0: number, c1: number, S: number, each: (c: number, s: number) => void) => {
  for (let c = c0; c < c1; c++) {
    let t = 0;
    for (let s = (c - c0) * S; s < (c - c0 + 1) * S; s++) t += sums[s]!;
    each(c, t);
  }
};

/** mean[c], variance[c] (biased) over the N·S values of channels [c0, c1): two passes, float64. */
export function channelStatsJob(rt: WasmRuntime, x: Stored, N: number, C: number, S: number, mean: Float64Array, variance: Float64Array, c0 = 0, c1 = C): void {
  const g = segments(N, C, S, c0, c1);
  if (g.W === 0 || N === 0) return;
  const n = g.cr * g.W;
  const [ACC, MU, X, U] = rt.layout([8 * g.W, 8 * g.W, 4 * n, 2 * n]);
  const io = new Io(rt, U), ex = rt.kernels;
  const acc = io.f64(ACC, g.W).fill(0);
  eachChunk(g, (r, k) => {
    loadRows(io, x, g, r, k, X);
    ex.colSum(ACC, X, k, g.W);
  });
  perChannel(acc, c0, c1, S, (c, t) => (mean[c] = t / (N * S)));
  const mu = io.f64(MU, g.W);
  for (let c = c0; c < c1; c++) mu.fill(mean[c]!, (c - c0) * S, (c - c0 + 1) * S);
  acc.fill(0);
  eachChunk(g, (r, k) => {
    loadRows(io, x, g, r, k, X);
    ex.colSumSq(ACC, X, MU, k, g.W);
  });
  perChannel(acc, c0, c1, S, (c, t) => (variance[c] = t / (N * S)));
}

/** y = ((x − m) − mlo)·(rstd·w) + b over channels [c0, c1) (m + mlo: the float64 mean). */
export function channelApplyJob(rt: WasmRuntime, j: ChannelJob, c0 = 0, c1 = j.C): void {
  const { N, C, S } = j;
  const g = segments(N, C, S, c0, c1);
  if (g.W === 0 || N === 0) return;
  const n = g.cr * g.W;
  const [M, ML, SV, BV, X, Y, U] = rt.layout([4 * g.W, 4 * g.W, 4 * g.W, 4 * g.W, 4 * n, 4 * n, 2 * n]);
  const io = new Io(rt, U), ex = rt.kernels;
  const w = widenAll(j.weight), b = widenAll(j.bias);
  spread(io.f, M >> 2, c0, c1, S, (c) => Math.fround(j.mean[c]!));
  spread(io.f, ML >> 2, c0, c1, S, (c) => j.mean[c]! - Math.fround(j.mean[c]!));
  spread(io.f, SV >> 2, c0, c1, S, (c) => j.rstd[c]! * (w !== null ? w[c]! : 1));
  spread(io.f, BV >> 2, c0, c1, S, (c) => (b !== null ? b[c]! : 0));
  eachChunk(g, (r, k) => {
    loadRows(io, j.x, g, r, k, X);
    ex.colApply(Y, X, M, ML, SV, BV, k, g.W, false);
    storeRows(io, j.y, g, r, k, Y);
  });
}

/** BatchNorm backward over channels [c0, c1): per-channel Σ dy, Σ dy·x̂ (float64, added into the job's), then dx. */
export function channelBackwardJob(rt: WasmRuntime, j: ChannelBackwardJob, c0 = 0, c1 = j.C): void {
  const { N, C, S } = j;
  const g = segments(N, C, S, c0, c1);
  if (g.W === 0 || N === 0) return;
  const n = g.cr * g.W;
  const [SG, SGX, M, ML, RS, WV, A, CV, X, DY, DX, U] = rt.layout(
    [8 * g.W, 8 * g.W, 4 * g.W, 4 * g.W, 4 * g.W, 4 * g.W, 4 * g.W, 4 * g.W, 4 * n, 4 * n, 4 * n, 2 * n],
  );
  const io = new Io(rt, U), ex = rt.kernels;
  const w = widenAll(j.weight);
  spread(io.f, M >> 2, c0, c1, S, (c) => Math.fround(j.mean[c]!));
  spread(io.f, ML >> 2, c0, c1, S, (c) => j.mean[c]! - Math.fround(j.mean[c]!));
  spread(io.f, RS >> 2, c0, c1, S, (c) => j.rstd[c]!);
  spread(io.f, WV >> 2, c0, c1, S, (c) => (w !== null ? w[c]! : 1));
  const sg = io.f64(SG, g.W).fill(0), sgx = io.f64(SGX, g.W).fill(0);
  eachChunk(g, (r, k) => {
    loadRows(io, j.x, g, r, k, X);
    loadRows(io, j.dy, g, r, k, DY);
    ex.colGradSums(SG, SGX, DY, X, M, ML, RS, WV, WV, k, g.W, false);
  });
  const count = N * S;
  const sumDy = new Float64Array(C), sumDyX = new Float64Array(C);
  perChannel(sg, c0, c1, S, (c, t) => (sumDy[c] = t));
  perChannel(sgx, c0, c1, S, (c, t) => (sumDyX[c] = t));
  for (let c = c0; c < c1; c++) {
    if (j.dweight !== null) j.dweight[c] += sumDyX[c]!;
    if (j.dbias !== null) j.dbias[c] += sumDy[c]!;
  }
  // mean(g) and mean(g·x̂), g = dy·w_c; constants in eval (the statistics do not depend on x)
  spread(io.f, A >> 2, c0, c1, S, (c) => (j.training ? (sumDy[c]! * (w !== null ? w[c]! : 1)) / count : 0));
  spread(io.f, CV >> 2, c0, c1, S, (c) => (j.training ? (sumDyX[c]! * (w !== null ? w[c]! : 1)) / count : 0));
  eachChunk(g, (r, k) => {
    loadRows(io, j.x, g, r, k, X);
    loadRows(io, j.dy, g, r, k, DY);
    ex.colBackward(DX, DY, X, M, ML, RS, WV, WV, A, CV, k, g.W, false);
    storeRows(io, j.dx, g, r, k, DX);
  });
}
