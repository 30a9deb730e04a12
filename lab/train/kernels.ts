/**
 * The dense layers of the lab's models, written as in llm.c: explicit forward and backward per
 * layer on flat Float32Arrays, outputs first, gradients accumulated (+=) so callers zero them once
 * per step. Matmuls run i-k-j so the innermost loop walks contiguous rows. Each row's output
 * depends only on that row, so a sample's result never depends on the rest of its batch.
 */
// exp/log/tanh from ./math.ts: Math's differ in the last bit between JavaScript engines, and the
// web lab must reproduce `npm start`'s losses bitwise
import { exp, log, tanh } from "./math.js";

/**
 * out[N, OC] = inp[N, C] · w[C, OC] + bias[OC]. i-k-j order, four k at a time: the inner loop
 * streams four contiguous weight rows into an output row, one store per four multiply-adds (the
 * one-k loop is store-bound, about 2× slower in V8). Four rows share each weight load: 1.0–1.2 ns
 * per multiply-add against 2.1–2.8 ns one row at a time ([128, 32]·[32, 96] and the GPT's other
 * shapes, V8 12). Every output element is summed by the same expression in the same k order
 * whether its row runs in a block of four or alone, so a row's result never depends on the batch.
 */
export function matmulForward(
  out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null, N: number, C: number, OC: number,
): void {
  let i = 0;
  for (; i + 3 < N; i += 4) {
    const o0 = i * OC, o1 = o0 + OC, o2 = o1 + OC, o3 = o2 + OC;
    if (bias !== null) {
      for (let j = 0; j < OC; j++) {
        const b = bias[j];
        out[o0 + j] = b; out[o1 + j] = b; out[o2 + j] = b; out[o3 + j] = b;
      }
    } else out.fill(0, o0, o3 + OC);
    const p0 = i * C, p1 = p0 + C, p2 = p1 + C, p3 = p2 + C;
    let k = 0;
    for (; k + 3 < C; k += 4) {
      const a0 = inp[p0 + k], a1 = inp[p0 + k + 1], a2 = inp[p0 + k + 2], a3 = inp[p0 + k + 3];
      const b0 = inp[p1 + k], b1 = inp[p1 + k + 1], b2 = inp[p1 + k + 2], b3 = inp[p1 + k + 3];
      const c0 = inp[p2 + k], c1 = inp[p2 + k + 1], c2 = inp[p2 + k + 2], c3 = inp[p2 + k + 3];
      const d0 = inp[p3 + k], d1 = inp[p3 + k + 1], d2 = inp[p3 + k + 2], d3 = inp[p3 + k + 3];
      const w0 = k * OC, w1 = w0 + OC, w2 = w1 + OC, w3 = w2 + OC;
      for (let j = 0; j < OC; j++) {
        const x0 = w[w0 + j], x1 = w[w1 + j], x2 = w[w2 + j], x3 = w[w3 + j];
        out[o0 + j] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
        out[o1 + j] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3;
        out[o2 + j] += c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3;
        out[o3 + j] += d0 * x0 + d1 * x1 + d2 * x2 + d3 * x3;
      }
    }
    for (; k < C; k++) {
      const wk = k * OC;
      const a = inp[p0 + k], b = inp[p1 + k], c = inp[p2 + k], d = inp[p3 + k];
      for (let j = 0; j < OC; j++) {
        const x = w[wk + j];
        out[o0 + j] += a * x; out[o1 + j] += b * x; out[o2 + j] += c * x; out[o3 + j] += d * x;
      }
    }
  }
  for (; i < N; i++) {
    const o = i * OC;
    if (bias !== null) for (let j = 0; j < OC; j++) out[o + j] = bias[j];
    else out.fill(0, o, o + OC);
    const ip = i * C;
    let k = 0;
    for (; k + 3 < C; k += 4) {
      const a0 = inp[ip + k], a1 = inp[ip + k + 1], a2 = inp[ip + k + 2], a3 = inp[ip + k + 3];
      const w0 = k * OC, w1 = w0 + OC, w2 = w1 + OC, w3 = w2 + OC;
      for (let j = 0; j < OC; j++) out[o + j] += a0 * w[w0 + j] + a1 * w[w1 + j] + a2 * w[w2 + j] + a3 * w[w3 + j];
    }
    for (; k < C; k++) {
      const a = inp[ip + k];
      const wk = k * OC;
      for (let j = 0; j < OC; j++) out[o + j] += a * w[wk + j];
    }
  }
}

/** dinp[i, :] += dout[i, :] · wᵀ for one row i (the odd row left over by matmulBackward's pairs). */
function rowDinp(dinp: Float32Array, dout: Float32Array, w: Float32Array, i: number, C: number, OC: number): void {
  const o = i * OC;
  const ip = i * C;
  let k = 0;
  // four independent sums per pass: one long dependent chain of adds is latency-bound
  for (; k + 3 < C; k += 4) {
    const w0 = k * OC, w1 = w0 + OC, w2 = w1 + OC, w3 = w2 + OC;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let j = 0; j < OC; j++) {
      const d = dout[o + j];
      s0 += d * w[w0 + j];
      s1 += d * w[w1 + j];
      s2 += d * w[w2 + j];
      s3 += d * w[w3 + j];
    }
    dinp[ip + k] += s0; dinp[ip + k + 1] += s1; dinp[ip + k + 2] += s2; dinp[ip + k + 3] += s3;
  }
  for (; k < C; k++) {
    const wk = k * OC;
    let s = 0;
    for (let j = 0; j < OC; j++) s += dout[o + j] * w[wk + j];
    dinp[ip + k] += s;
  }
}

/**
 * dinp += dout · wᵀ (row dot products, four k at a time, two rows sharing each weight load), dw +=
 * inpᵀ · dout (four rows of the batch at a time, two k rows sharing each dout load), dbias +=
 * Σ_rows dout. The blocking takes the backward from 5.2–8.3 to 3.3–5.0 ns per pair of multiply-adds
 * at the GPT's shapes; the sums keep their order, so dinp's rows stay independent of the batch.
 */
export function matmulBackward(
  dinp: Float32Array | null, dw: Float32Array, dbias: Float32Array | null,
  dout: Float32Array, inp: Float32Array, w: Float32Array, N: number, C: number, OC: number,
): void {
  if (dinp !== null) {
    let i = 0;
    for (; i + 1 < N; i += 2) {
      const o0 = i * OC, o1 = o0 + OC;
      const p0 = i * C, p1 = p0 + C;
      let k = 0;
      for (; k + 3 < C; k += 4) {
        const w0 = k * OC, w1 = w0 + OC, w2 = w1 + OC, w3 = w2 + OC;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (let j = 0; j < OC; j++) {
          const d = dout[o0 + j], e = dout[o1 + j];
          const x0 = w[w0 + j], x1 = w[w1 + j], x2 = w[w2 + j], x3 = w[w3 + j];
          s0 += d * x0; s1 += d * x1; s2 += d * x2; s3 += d * x3;
          t0 += e * x0; t1 += e * x1; t2 += e * x2; t3 += e * x3;
        }
        dinp[p0 + k] += s0; dinp[p0 + k + 1] += s1; dinp[p0 + k + 2] += s2; dinp[p0 + k + 3] += s3;
        dinp[p1 + k] += t0; dinp[p1 + k + 1] += t1; dinp[p1 + k + 2] += t2; dinp[p1 + k + 3] += t3;
      }
      for (; k < C; k++) {
        const wk = k * OC;
        let s = 0, t = 0;
        for (let j = 0; j < OC; j++) {
          s += dout[o0 + j] * w[wk + j];
          t += dout[o1 + j] * w[wk + j];
        }
        dinp[p0 + k] += s;
        dinp[p1 + k] += t;
      }
    }
    if (i < N) rowDinp(dinp, dout, w, i, C, OC);
  }
  let i = 0;
  for (; i + 3 < N; i += 4) {
    const d0 = i * OC, d1 = d0 + OC, d2 = d1 + OC, d3 = d2 + OC;
    const ip = i * C;
    let k = 0;
    for (; k + 1 < C; k += 2) {
      const a0 = inp[ip + k], a1 = inp[ip + C + k], a2 = inp[ip + 2 * C + k], a3 = inp[ip + 3 * C + k];
      const b0 = inp[ip + k + 1], b1 = inp[ip + C + k + 1], b2 = inp[ip + 2 * C + k + 1], b3 = inp[ip + 3 * C + k + 1];
      const wk = k * OC, wl = wk + OC;
      for (let j = 0; j < OC; j++) {
        const y0 = dout[d0 + j], y1 = dout[d1 + j], y2 = dout[d2 + j], y3 = dout[d3 + j];
        dw[wk + j] += a0 * y0 + a1 * y1 + a2 * y2 + a3 * y3;
        dw[wl + j] += b0 * y0 + b1 * y1 + b2 * y2 + b3 * y3;
      }
    }
    for (; k < C; k++) {
      const a0 = inp[ip + k], a1 = inp[ip + C + k], a2 = inp[ip + 2 * C + k], a3 = inp[ip + 3 * C + k];
      const wk = k * OC;
      for (let j = 0; j < OC; j++) dw[wk + j] += a0 * dout[d0 + j] + a1 * dout[d1 + j] + a2 * dout[d2 + j] + a3 * dout[d3 + j];
    }
  }
  for (; i < N; i++) {
    const o = i * OC;
    const ip = i * C;
    for (let k = 0; k < C; k++) {
      const a = inp[ip + k];
      const wk = k * OC;
      for (let j = 0; j < OC; j++) dw[wk + j] += a * dout[o + j];
    }
  }
  if (dbias !== null) {
    for (let r = 0; r < N; r++) {
      const o = r * OC;
      for (let j = 0; j < OC; j++) dbias[j] += dout[o + j];
    }
  }
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (GPT-2's). */
export function geluForward(out: Float32Array, inp: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    out[i] = 0.5 * x * (1 + tanh(GELU_C * (x + 0.044715 * x * x * x)));
  }
}

export function geluBackward(dinp: Float32Array, inp: Float32Array, dout: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    const u = GELU_C * (x + 0.044715 * x * x * x);
    const t = tanh(u);
    const sech2 = 1 - t * t;
    const g = 0.5 * (1 + t) + 0.5 * x * sech2 * GELU_C * (1 + 3 * 0.044715 * x * x);
    dinp[i] += g * dout[i];
  }
}

/** out = a + b. */
export function residualForward(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/**
 * Softmax cross-entropy, mean over the N rows. Writes probs; returns the loss (float64 sum).
 * Rows whose target is negative are skipped (none in the lab, but it keeps the mean honest).
 */
export function crossEntropyForward(probs: Float32Array, logits: Float32Array, targets: Int32Array, N: number, V: number): number {
  let loss = 0;
  for (let i = 0; i < N; i++) {
    const o = i * V;
    let mx = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j] > mx) mx = logits[o + j];
    let s = 0;
    for (let j = 0; j < V; j++) s += exp(logits[o + j] - mx);
    for (let j = 0; j < V; j++) probs[o + j] = exp(logits[o + j] - mx) / s;
    // log-sum-exp form, so a confident wrong prediction gives a large finite loss, not log(0)
    loss += mx + log(s) - logits[o + targets[i]];
  }
  return loss / N;
}

/** dlogits += (probs − onehot)/N. */
export function crossEntropyBackward(dlogits: Float32Array, probs: Float32Array, targets: Int32Array, N: number, V: number): void {
  const inv = 1 / N;
  for (let i = 0; i < N; i++) {
    const o = i * V;
    for (let j = 0; j < V; j++) dlogits[o + j] += (probs[o + j] - (j === targets[i] ? 1 : 0)) * inv;
  }
}

/**
 * Causal multi-head self-attention (llm.c's attention_forward). inp is [B, T, 3C] (q, k, v),
 * out [B, T, C]; preatt and att [B, NH, T, T] are kept for backward.
 */
export function attentionForward(
  out: Float32Array, preatt: Float32Array, att: Float32Array, inp: Float32Array,
  B: number, T: number, C: number, NH: number,
): void {
  const C3 = 3 * C;
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const q = b * T * C3 + t * C3 + h * hs;
        const pa = b * NH * T * T + h * T * T + t * T;
        let mx = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = b * T * C3 + t2 * C3 + h * hs + C;
          let v = 0;
          for (let i = 0; i < hs; i++) v += inp[q + i] * inp[k + i];
          v *= scale;
          preatt[pa + t2] = v;
          if (v > mx) mx = v;
        }
        let s = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const e = exp(preatt[pa + t2] - mx);
          att[pa + t2] = e;
          s += e;
        }
        const inv = s === 0 ? 0 : 1 / s;
        for (let t2 = 0; t2 < T; t2++) att[pa + t2] = t2 <= t ? att[pa + t2] * inv : 0;
        const o = b * T * C + t * C + h * hs;
        for (let i = 0; i < hs; i++) out[o + i] = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const v = b * T * C3 + t2 * C3 + h * hs + 2 * C;
          const a = att[pa + t2];
          for (let i = 0; i < hs; i++) out[o + i] += a * inp[v + i];
        }
      }
    }
  }
}

/** Backward of attentionForward; dinp, dpreatt and datt are accumulated (+=), so zero them first. */
export function attentionBackward(
  dinp: Float32Array, dpreatt: Float32Array, datt: Float32Array,
  dout: Float32Array, inp: Float32Array, att: Float32Array,
  B: number, T: number, C: number, NH: number,
): void {
  const C3 = 3 * C;
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const pa = b * NH * T * T + h * T * T + t * T;
        const q = b * T * C3 + t * C3 + h * hs;
        const o = b * T * C + t * C + h * hs;
        // through the value accumulation
        for (let t2 = 0; t2 <= t; t2++) {
          const v = b * T * C3 + t2 * C3 + h * hs + 2 * C;
          let s = 0;
          for (let i = 0; i < hs; i++) {
            s += inp[v + i] * dout[o + i];
            dinp[v + i] += att[pa + t2] * dout[o + i];
          }
          datt[pa + t2] += s;
        }
        // through the softmax: dpre = att·(datt − Σ att·datt)
        let dot = 0;
        for (let t2 = 0; t2 <= t; t2++) dot += att[pa + t2] * datt[pa + t2];
        for (let t2 = 0; t2 <= t; t2++) dpreatt[pa + t2] += att[pa + t2] * (datt[pa + t2] - dot);
        // through q·k
        for (let t2 = 0; t2 <= t; t2++) {
          const k = b * T * C3 + t2 * C3 + h * hs + C;
          const d = dpreatt[pa + t2] * scale;
          for (let i = 0; i < hs; i++) {
            dinp[q + i] += inp[k + i] * d;
            dinp[k + i] += inp[q + i] * d;
          }
        }
      }
    }
  }
}

/** Root mean square of a[0..n). */
export function rms(a: Float32Array, n = a.length): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * a[i];
  return Math.sqrt(s / Math.max(n, 1));
}

/** Euclidean norm. */
export function l2(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}
