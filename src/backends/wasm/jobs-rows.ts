/**
 * The wasm backend's LayerNorm/RMSNorm jobs (Kernels.normRows / normRowsBackward) on rows
 * [r0, r1), chunk by chunk through linear memory as the float32 paths of runtime.ts: x (and the
 * residual) copied in and widened, h = (x + residual) + inputBias added and rounded in the same
 * chunk, then the same forward/backward kernels as the float32 ops — so a float32 fused add
 * normalizes h with exactly the statistics layerNorm(h) computes — and the outputs narrowed on
 * the way out. castingMode "llama"/"none" (half x): statistics from the kernel, the elementwise
 * roundings in TypeScript (src/backends/modes.ts) on the chunk in wasm memory.
 */
import type { RowBackwardJob, RowJob } from "../types.js";
import { modeRow, type ModeRow } from "../modes.js";
import { roundVia32, widenAll } from "../storage.js";
import { Io } from "./io.js";
import { chunkRows, type WasmRuntime } from "./runtime.js";

/** offset + w per element, as float32 (null: no weight, the offset ignored). */
function effectiveWeight(w: Float32Array | null, offset: number): Float32Array | null {
  return w === null || offset === 0 ? w : w.map((v) => offset + v);
}

export function rowsJob(rt: WasmRuntime, j: RowJob, r0 = 0, r1 = j.rows): void {
  const { D, rms } = j;
  if (r1 <= r0 || D === 0) return;
  const ex = rt.kernels;
  const cr = chunkRows(D, rt.flush);
  const n = cr * D;
  const [W, B, IB, X, R, Y, M, RS, U] = rt.layout([4 * D, 4 * D, 4 * D, 4 * n, 4 * n, 4 * n, 4 * cr, 4 * cr, 2 * n]);
  const io = new Io(rt, U);
  const w = widenAll(j.weight), b = widenAll(j.bias), ib = widenAll(j.inputBias);
  const mode = j.x.dtype === "float32" ? "gemma" : j.castingMode;
  const modeP: ModeRow | null = mode === "gemma" ? null : { mode, rms, xdt: j.x.dtype, wdt: j.weight?.dtype ?? "float32", weight: w, bias: b, offset: j.weightOffset };
  io.param(effectiveWeight(w, j.weightOffset), D, W, 1);
  // the kernel adds LayerNorm's bias unconditionally (zeros when absent); RMSNorm's only if given
  io.param(b, D, B, 0);
  const Bp = b !== null || !rms ? B : 0;
  if (ib !== null) io.param(ib, D, IB, 0);
  for (let r = r0; r < r1; r += cr) {
    const k = Math.min(cr, r1 - r);
    const o = r * D, kn = k * D;
    io.load(j.x, o, kn, X);
    if (j.residual !== null) {
      io.load(j.residual, o, kn, R);
      ex.addRows(X, X, R, ib !== null ? IB : 0, k, D);
      if (j.x.dtype !== "float32") {
        // h rounded once to x's dtype: narrowed (and written out), then widened back to normalize
        const h = j.h ?? { data: new Uint16Array(kn), dtype: j.x.dtype };
        io.store(h, j.h !== null ? o : 0, kn, X);
        io.load(h, j.h !== null ? o : 0, kn, X);
      } else if (j.h !== null) io.store(j.h, o, kn, X); // after this chunk of residual was read: h may be residual
    }
    // w = 0 asks for the statistics only (no y, or y from the casting mode below)
    ex.forward(Y, rms ? 0 : M, RS, X, j.y !== null && modeP === null ? W : 0, Bp, k, D, j.eps);
    if (j.mean !== null) j.mean.set(io.f32(M, k), r);
    j.rstd.set(io.f32(RS, k), r);
    if (j.y === null) continue;
    if (modeP !== null) {
      for (let i = 0; i < k; i++) {
        modeRow(modeP, io.f32(Y + 4 * i * D, D), io.f32(X + 4 * i * D, D), D, rms ? 0 : io.f[(M >> 2) + i]!, io.f[(RS >> 2) + i]!);
      }
    }
    io.store(j.y, o, kn, Y);
  }
}

/**
 * Rows [r0, r1) of a backward; the float64 column sums (Σ dy·x̂, Σ dy, Σ dx) are added into the
 * job's arrays. llama with half x: dweight = Σ dy·round_x(x̂), summed here in float64.
 */
export function rowsBackwardJob(rt: WasmRuntime, j: RowBackwardJob, r0 = 0, r1 = j.rows): void {
  const { D, rms } = j;
  if (r1 <= r0 || D === 0) return;
  const ex = rt.kernels;
  const cr = chunkRows(D, rt.flush);
  const n = cr * D;
  const [W, AC, DW, DB, DS, X, DY, DX, DH, M, RS, U] = rt.layout(
    [4 * D, 64 * rt.flush, 8 * D, 8 * D, 8 * D, 4 * n, 4 * n, 4 * n, 4 * n, 4 * cr, 4 * cr, 2 * n],
  );
  const io = new Io(rt, U);
  io.param(effectiveWeight(widenAll(j.weight), j.weightOffset), D, W, 1);
  const dw = io.f64(DW, D).fill(0), db = io.f64(DB, D).fill(0), ds = io.f64(DS, D).fill(0);
  const xdt = j.x.dtype;
  const llama = xdt !== "float32" && j.castingMode === "llama" && j.dweight !== null ? new Float64Array(D) : null;
  for (let r = r0; r < r1; r += cr) {
    const k = Math.min(cr, r1 - r);
    const o = r * D, kn = k * D;
    io.load(j.x, o, kn, X);
    io.load(j.dy, o, kn, DY);
    if (!rms) io.f.set(j.mean!.subarray(r, r + k), M >> 2);
    io.f.set(j.rstd.subarray(r, r + k), RS >> 2);
    if (llama !== null) {
      const xv = io.f32(X, kn), dyv = io.f32(DY, kn);
      for (let i = 0; i < k; i++) {
        const m = rms ? 0 : j.mean![r + i]!, rs = j.rstd[r + i]!;
        for (let c = 0; c < D; c++) llama[c] += dyv[i * D + c]! * roundVia32((xv[i * D + c]! - m) * rs, xdt);
      }
    }
    ex.backward(DX, DW, DB, AC, DY, X, rms ? 0 : M, RS, W, k, D);
    if (j.dh !== null) {
      io.load(j.dh, o, kn, DH);
      ex.addTo(DX, DH, kn);
    }
    if (j.dsum !== null) ex.colSum(DS, DX, k, D);
    io.store(j.dx, o, kn, DX);
  }
  const add = (into: Float64Array | null, s: Float64Array) => {
    if (into !== null) for (let i = 0; i < D; i++) into[i] += s[i]!;
  };
  add(j.dweight, llama ?? dw);
  add(j.dbias, db);
  add(j.dsum, ds);
}
