/**
 * The js backend's LayerNorm/RMSNorm job kernels (Kernels.normRows / normRowsBackward): any
 * storage dtype, weightOffset, castingMode, the fused residual add. A row at a time: its values
 * widened to float32 (or viewed, for float32), sums in float64 (JS numbers), outputs rounded once
 * on store. Statistics two-pass, never E[x²] − E[x]².
 */
import type { RowBackwardJob, RowJob } from "../types.js";
import { modeRow, type ModeRow } from "../modes.js";
import { narrow, readRow, roundVia32, Scratch, widenAll } from "../storage.js";

export function normRows(j: RowJob): void {
  const { rows, D, eps, rms } = j;
  const sc = new Scratch();
  const w = widenAll(j.weight), b = widenAll(j.bias), ib = widenAll(j.inputBias);
  const xdt = j.x.dtype;
  const mode = xdt === "float32" ? "gemma" : j.castingMode;
  const modeP: ModeRow | null = mode === "gemma" ? null : { mode, rms, xdt, wdt: j.weight?.dtype ?? "float32", weight: w, bias: b, offset: j.weightOffset };
  const off = j.weightOffset;
  const ys = sc.get(0, D);
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let v = readRow(j.x, o, D, sc.get(1, D));
    if (j.residual !== null) {
      // h = (x + residual) + inputBias in float32, this order, rounded once to x's dtype
      const rv = readRow(j.residual, o, D, sc.get(2, D));
      const hs = sc.get(3, D);
      for (let i = 0; i < D; i++) hs[i] = Math.fround(v[i]! + rv[i]!) + (ib !== null ? ib[i]! : 0);
      if (xdt !== "float32") for (let i = 0; i < D; i++) hs[i] = roundVia32(hs[i]!, xdt);
      if (j.h !== null) narrow(j.h, o, hs, 0, D); // after the row's residual was read: h may be residual
      v = hs;
    }
    let m = 0;
    if (!rms) {
      let s = 0;
      for (let i = 0; i < D; i++) s += v[i]!;
      m = s / D;
    }
    let q = 0;
    for (let i = 0; i < D; i++) {
      const d = v[i]! - m;
      q += d * d;
    }
    const rs = 1 / Math.sqrt(q / D + eps);
    if (j.mean !== null) j.mean[r] = m;
    j.rstd[r] = rs;
    if (j.y === null) continue;
    if (modeP !== null) modeRow(modeP, ys, v, D, m, rs);
    else {
      for (let i = 0; i < D; i++) {
        let t = (v[i]! - m) * rs;
        if (w !== null) t *= off + w[i]!;
        if (b !== null) t += b[i]!;
        ys[i] = t;
      }
    }
    narrow(j.y, o, ys, 0, D);
  }
}

export function normRowsBackward(j: RowBackwardJob): void {
  const { rows, D } = j;
  const sc = new Scratch();
  const w = widenAll(j.weight);
  const off = j.weightOffset;
  const xdt = j.x.dtype;
  const llama = xdt !== "float32" && j.castingMode === "llama";
  const dxs = sc.get(0, D);
  const { dweight: dw, dbias: db, dsum: ds } = j;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    const xv = readRow(j.x, o, D, sc.get(1, D));
    const dyv = readRow(j.dy, o, D, sc.get(2, D));
    const dhv = j.dh !== null ? readRow(j.dh, o, D, sc.get(3, D)) : null;
    const m = j.mean !== null ? j.mean[r]! : 0;
    const rs = j.rstd[r]!;
    // g = dy·(offset + w); the row means dx needs: mean(g) (LayerNorm only) and mean(g·x̂)
    let gMean = 0;
    let gxMean = 0;
    for (let i = 0; i < D; i++) {
      const g = w !== null ? dyv[i]! * (off + w[i]!) : dyv[i]!;
      gMean += g;
      gxMean += g * (xv[i]! - m) * rs;
    }
    gMean = j.rms ? 0 : gMean / D;
    gxMean /= D;
    for (let i = 0; i < D; i++) {
      const xh = (xv[i]! - m) * rs;
      const g = w !== null ? dyv[i]! * (off + w[i]!) : dyv[i]!;
      dxs[i] = (g - gMean - xh * gxMean) * rs + (dhv !== null ? dhv[i]! : 0);
      if (dw !== null) dw[i] += dyv[i]! * (llama ? roundVia32(xh, xdt) : xh);
      if (db !== null) db[i] += dyv[i]!;
      if (ds !== null) ds[i] += dxs[i]!;
    }
    narrow(j.dx, o, dxs, 0, D);
  }
}
