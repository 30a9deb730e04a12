/**
 * The wasm backend's GroupNorm jobs (Kernels.normGroups / normGroupsBackward), any dtype.
 * - Channels first: group (n, g) is a contiguous row of (C/G)·S values, run by the row kernels of
 *   LayerNorm with the per-channel weight and bias spread over the row (as the float32 GroupNorm
 *   of src/backends/wasm/index.ts), then SiLU in place; backward gates dy through SiLU first.
 * - Channels last: a sample [S, C] is S rows of width C; the column kernels sum each channel over
 *   the positions (float64), the group statistics are those sums over the group's channels, and
 *   the normalization (+ SiLU) and the backward run per column with the group statistics spread
 *   over its channels. Three passes over the sample forward (sum, squares, apply), two backward.
 */
import type { GroupBackwardJob, GroupJob } from "../types.js";
import { widenAll } from "../storage.js";
import { chunkOf, eachChunk, loadRows, storeRows, type Segments } from "./columns.js";
import { Io } from "./io.js";
import { chunkRows, type WasmRuntime } from "./runtime.js";

/** p[c0 + ⌊i/S⌋] for i < Cg·S into f at `at` (fill where p is null): a per-channel parameter as a per-position row. */
function spreadRow(f: Float32Array, at: number, p: Float32Array | null, c0: number, Cg: number, S: number, fill: number): void {
  for (let c = 0; c < Cg; c++) f.fill(p !== null ? p[c0 + c]! : fill, at + c * S, at + (c + 1) * S);
}

export function groupsJob(rt: WasmRuntime, j: GroupJob): void {
  if (j.channelsLast) return groupsLastJob(rt, j);
  const { N, C, S, G } = j;
  const Cg = C / G, D = Cg * S;
  const cr = chunkRows(D, rt.flush), n = cr * D;
  const [W, B, X, Y, M, RS, U] = rt.layout([4 * D, 4 * D, 4 * n, 4 * n, 4 * cr, 4 * cr, 2 * n]);
  const io = new Io(rt, U), ex = rt.kernels;
  const w = widenAll(j.weight), b = widenAll(j.bias);
  for (let g = 0; g < G; g++) {
    spreadRow(io.f, W >> 2, w, g * Cg, Cg, S, 1);
    spreadRow(io.f, B >> 2, b, g * Cg, Cg, S, 0);
    for (let n0 = 0; n0 < N; n0 += cr) {
      const k = Math.min(cr, N - n0);
      // row (n, g) starts at (n·G + g)·D
      for (let i = 0; i < k; i++) io.load(j.x, ((n0 + i) * G + g) * D, D, X + 4 * i * D);
      ex.forward(Y, M, RS, X, j.y !== null ? W : 0, B, k, D, j.eps);
      for (let i = 0; i < k; i++) {
        j.mean[(n0 + i) * G + g] = io.f[(M >> 2) + i]!;
        j.rstd[(n0 + i) * G + g] = io.f[(RS >> 2) + i]!;
      }
      if (j.y === null) continue;
      if (j.activation === "silu") ex.silu(Y, k * D);
      for (let i = 0; i < k; i++) io.store(j.y, ((n0 + i) * G + g) * D, D, Y + 4 * i * D);
    }
  }
}

export function groupsBackwardJob(rt: WasmRuntime, j: GroupBackwardJob): void {
  if (j.channelsLast) return groupsLastBackwardJob(rt, j);
  const { N, C, S, G } = j;
  const Cg = C / G, D = Cg * S;
  const cr = chunkRows(D, rt.flush), n = cr * D;
  const [W, B, AC, DW, DB, X, DY, GQ, DX, M, RS, U] = rt.layout(
    [4 * D, 4 * D, 64 * rt.flush, 8 * D, 8 * D, 4 * n, 4 * n, 4 * n, 4 * n, 4 * cr, 4 * cr, 2 * n],
  );
  const io = new Io(rt, U), ex = rt.kernels;
  const w = widenAll(j.weight), b = widenAll(j.bias);
  const silu = j.activation === "silu";
  const dw = io.f64(DW, D), db = io.f64(DB, D);
  for (let g = 0; g < G; g++) {
    spreadRow(io.f, W >> 2, w, g * Cg, Cg, S, 1);
    spreadRow(io.f, B >> 2, b, g * Cg, Cg, S, 0);
    dw.fill(0);
    db.fill(0);
    for (let n0 = 0; n0 < N; n0 += cr) {
      const k = Math.min(cr, N - n0);
      for (let i = 0; i < k; i++) {
        const at = ((n0 + i) * G + g) * D;
        io.load(j.x, at, D, X + 4 * i * D);
        io.load(j.dy, at, D, DY + 4 * i * D);
        io.f[(M >> 2) + i] = j.mean[(n0 + i) * G + g]!;
        io.f[(RS >> 2) + i] = j.rstd[(n0 + i) * G + g]!;
      }
      // with SiLU the row backward gets dy·σ'(y), y recomputed from x and the statistics
      if (silu) ex.siluGateRows(GQ, DY, X, M, RS, W, B, k, D);
      ex.backward(DX, DW, DB, AC, silu ? GQ : DY, X, M, RS, W, k, D);
      for (let i = 0; i < k; i++) io.store(j.dx, ((n0 + i) * G + g) * D, D, DX + 4 * i * D);
    }
    // per-position sums of the row → per channel
    for (const [into, sums] of [[j.dweight, dw], [j.dbias, db]] as const) {
      if (into === null) continue;
      for (let c = 0; c < Cg; c++) {
        let t = 0;
        for (let s = c * S; s < (c + 1) * S; s++) t += sums[s]!;
        into[g * Cg + c] += t;
      }
    }
  }
}

/** The S rows (positions) of width C of sample n of a channels-last [N, S, C] array. */
const sample = (n: number, S: number, C: number): Segments => ({ rows: S, W: C, cr: chunkOf(C), at: (r) => (n * S + r) * C, contiguous: true });

function groupsLastJob(rt: WasmRuntime, j: GroupJob): void {
  const { N, C, S, G } = j;
  const Cg = C / G, L = Cg * S;
  const cr = chunkOf(C), n = cr * C;
  const [ACC, MU, M, ML, SV, BV, X, Y, U] = rt.layout([8 * C, 8 * C, 4 * C, 4 * C, 4 * C, 4 * C, 4 * n, 4 * n, 2 * n]);
  const io = new Io(rt, U), ex = rt.kernels;
  const w = widenAll(j.weight), b = widenAll(j.bias);
  const acc = io.f64(ACC, C), mu = io.f64(MU, C);
  const groupSum = (g: number) => {
    let t = 0;
    for (let c = g * Cg; c < (g + 1) * Cg; c++) t += acc[c]!;
    return t;
  };
  io.param(b, C, BV, 0);
  for (let ns = 0; ns < N; ns++) {
    const seg = sample(ns, S, C);
    acc.fill(0);
    eachChunk(seg, (r, k) => {
      loadRows(io, j.x, seg, r, k, X);
      ex.colSum(ACC, X, k, C);
    });
    const means = Float64Array.from({ length: G }, (_, g) => groupSum(g) / L);
    for (let c = 0; c < C; c++) mu[c] = means[Math.floor(c / Cg)]!;
    acc.fill(0);
    eachChunk(seg, (r, k) => {
      loadRows(io, j.x, seg, r, k, X);
      ex.colSumSq(ACC, X, MU, k, C);
    });
    const rstds = Float64Array.from({ length: G }, (_, g) => 1 / Math.sqrt(groupSum(g) / L + j.eps));
    for (let g = 0; g < G; g++) {
      j.mean[ns * G + g] = means[g]!;
      j.rstd[ns * G + g] = rstds[g]!;
    }
    if (j.y === null) continue;
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      io.f[(M >> 2) + c] = means[g]!;
      io.f[(ML >> 2) + c] = means[g]! - io.f[(M >> 2) + c]!;
      io.f[(SV >> 2) + c] = rstds[g]! * (w !== null ? w[c]! : 1);
    }
    const y = j.y;
    eachChunk(seg, (r, k) => {
      loadRows(io, j.x, seg, r, k, X);
      ex.colApply(Y, X, M, ML, SV, BV, k, C, j.activation === "silu");
      storeRows(io, y, seg, r, k, Y);
    });
  }
}

function groupsLastBackwardJob(rt: WasmRuntime, j: GroupBackwardJob): void {
  const { N, C, S, G } = j;
  const Cg = C / G, L = Cg * S;
  const cr = chunkOf(C), n = cr * C;
  const [SG, SGX, M, ML, RS, WV, BV, A, CV, X, DY, DX, U] = rt.layout(
    [8 * C, 8 * C, 4 * C, 4 * C, 4 * C, 4 * C, 4 * C, 4 * C, 4 * C, 4 * n, 4 * n, 4 * n, 2 * n],
  );
  const io = new Io(rt, U), ex = rt.kernels;
  const w = widenAll(j.weight);
  io.param(w, C, WV, 1);
  io.param(widenAll(j.bias), C, BV, 0);
  io.f.fill(0, ML >> 2, (ML >> 2) + C); // the saved mean is float32: no remainder
  const sg = io.f64(SG, C), sgx = io.f64(SGX, C);
  const silu = j.activation === "silu";
  for (let ns = 0; ns < N; ns++) {
    const seg = sample(ns, S, C);
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      io.f[(M >> 2) + c] = j.mean[ns * G + g]!;
      io.f[(RS >> 2) + c] = j.rstd[ns * G + g]!;
    }
    sg.fill(0);
    sgx.fill(0);
    eachChunk(seg, (r, k) => {
      loadRows(io, j.x, seg, r, k, X);
      loadRows(io, j.dy, seg, r, k, DY);
      ex.colGradSums(SG, SGX, DY, X, M, ML, RS, WV, BV, k, C, silu);
    });
    // per group: mean(g·w) and mean(g·w·x̂); per channel: dweight += Σ g·x̂, dbias += Σ g
    for (let g = 0; g < G; g++) {
      let a = 0, cc = 0;
      for (let c = g * Cg; c < (g + 1) * Cg; c++) {
        const wc = w !== null ? w[c]! : 1;
        a += wc * sg[c]!;
        cc += wc * sgx[c]!;
      }
      io.f.fill(a / L, (A >> 2) + g * Cg, (A >> 2) + (g + 1) * Cg);
      io.f.fill(cc / L, (CV >> 2) + g * Cg, (CV >> 2) + (g + 1) * Cg);
    }
    for (let c = 0; c < C; c++) {
      if (j.dweight !== null) j.dweight[c] += sgx[c]!;
      if (j.dbias !== null) j.dbias[c] += sg[c]!;
    }
    eachChunk(seg, (r, k) => {
      loadRows(io, j.x, seg, r, k, X);
      loadRows(io, j.dy, seg, r, k, DY);
      ex.colBackward(DX, DY, X, M, ML, RS, WV, BV, A, CV, k, C, silu);
      storeRows(io, j.dx, seg, r, k, DX);
    });
  }
}
