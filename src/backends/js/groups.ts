/**
 * The js backend's GroupNorm job kernels (Kernels.normGroups / normGroupsBackward): any storage
 * dtype, channels first [N, C, S] or last [N, S, C], optional fused SiLU. A sample at a time: its
 * C·S values widened to float32 and walked in memory order (the channel of each position from a
 * table), float64 sums per group (two-pass), outputs rounded once on store.
 */
import type { GroupBackwardJob, GroupJob } from "../types.js";
import { narrow, Scratch, widen, widenAll } from "../storage.js";

/** The channel of each of a sample's C·S values, in memory order. */
function channelTable(channelsLast: boolean, C: number, S: number): Int32Array {
  const t = new Int32Array(C * S);
  for (let k = 0; k < t.length; k++) t[k] = channelsLast ? k % C : Math.floor(k / S);
  return t;
}

/** The group of each channel. */
const groupTable = (C: number, G: number) => Int32Array.from({ length: C }, (_, c) => Math.floor(c / (C / G)));

/** y·σ(y) = y/(1 + e^(−y)): −0 for y → −∞, NaN stays NaN. */
const silu = (y: number) => y / (1 + Math.exp(-y));

export function normGroups(j: GroupJob): void {
  const { N, C, S, G, eps } = j;
  const Cg = C / G, L = Cg * S, n1 = C * S;
  const w = widenAll(j.weight), b = widenAll(j.bias);
  const sc = new Scratch();
  const xs = sc.get(0, n1), ys = sc.get(1, n1);
  const chan = channelTable(j.channelsLast, C, S), grp = groupTable(C, G);
  const sum = new Float64Array(G), mean = new Float64Array(G), rstd = new Float64Array(G);
  for (let n = 0; n < N; n++) {
    widen(xs, 0, j.x, n * n1, n1);
    sum.fill(0);
    for (let k = 0; k < n1; k++) sum[grp[chan[k]!]!] += xs[k]!;
    for (let g = 0; g < G; g++) mean[g] = sum[g]! / L;
    sum.fill(0);
    for (let k = 0; k < n1; k++) {
      const g = grp[chan[k]!]!;
      const d = xs[k]! - mean[g]!;
      sum[g] += d * d;
    }
    for (let g = 0; g < G; g++) {
      rstd[g] = 1 / Math.sqrt(sum[g]! / L + eps);
      j.mean[n * G + g] = mean[g]!;
      j.rstd[n * G + g] = rstd[g]!;
    }
    if (j.y === null) continue;
    for (let k = 0; k < n1; k++) {
      const c = chan[k]!, g = grp[c]!;
      let t = (xs[k]! - mean[g]!) * rstd[g]!;
      if (w !== null) t *= w[c]!;
      if (b !== null) t += b[c]!;
      ys[k] = j.activation === "silu" ? silu(t) : t;
    }
    narrow(j.y, n * n1, ys, 0, n1);
  }
}

export function normGroupsBackward(j: GroupBackwardJob): void {
  const { N, C, S, G } = j;
  const Cg = C / G, L = Cg * S, n1 = C * S;
  const w = widenAll(j.weight), b = widenAll(j.bias);
  const sc = new Scratch();
  const xs = sc.get(0, n1), dys = sc.get(1, n1), dxs = sc.get(2, n1);
  const gout = new Float64Array(n1); // dy through the SiLU (or dy itself)
  const chan = channelTable(j.channelsLast, C, S), grp = groupTable(C, G);
  const sumG = new Float64Array(G), sumGX = new Float64Array(G);
  const dw = new Float64Array(C), db = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    widen(xs, 0, j.x, n * n1, n1);
    widen(dys, 0, j.dy, n * n1, n1);
    sumG.fill(0);
    sumGX.fill(0);
    for (let k = 0; k < n1; k++) {
      const c = chan[k]!, g = grp[c]!;
      const wc = w !== null ? w[c]! : 1;
      const xh = (xs[k]! - j.mean[n * G + g]!) * j.rstd[n * G + g]!;
      let d = dys[k]!;
      if (j.activation === "silu") {
        // ∂(y·σ(y))/∂y = σ(y)·(1 + y·(1 − σ(y))), y recomputed from x and the statistics
        const y = xh * wc + (b !== null ? b[c]! : 0);
        const sg = 1 / (1 + Math.exp(-y));
        d *= sg * (1 + y * (1 - sg));
      }
      gout[k] = d;
      sumG[g] += d * wc;
      sumGX[g] += d * wc * xh;
      dw[c] += d * xh;
      db[c] += d;
    }
    for (let k = 0; k < n1; k++) {
      const c = chan[k]!, g = grp[c]!;
      const rs = j.rstd[n * G + g]!;
      const xh = (xs[k]! - j.mean[n * G + g]!) * rs;
      dxs[k] = (gout[k]! * (w !== null ? w[c]! : 1) - sumG[g]! / L - xh * (sumGX[g]! / L)) * rs;
    }
    narrow(j.dx, n * n1, dxs, 0, n1);
  }
  for (let c = 0; c < C; c++) {
    if (j.dweight !== null) j.dweight[c] += dw[c]!;
    if (j.dbias !== null) j.dbias[c] += db[c]!;
  }
}
