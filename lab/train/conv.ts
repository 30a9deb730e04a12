/**
 * Convolution for the lab's small image model (Wu & He 2018's experiment), written as im2col +
 * the lab's matmul: each output position's 3×3×Cin input patch becomes a row, so a convolution is
 * one [positions, 9·Cin]·[9·Cin, Cout] product, and its backward is matmulBackward plus col2im (the
 * patches' gradients added back onto the input). Activations are NCHW, as normkit's BatchNorm and
 * GroupNorm expect ([N, C, H·W]); the matmul's rows come out NHWC and are transposed.
 */

export interface ConvShape {
  B: number;
  Cin: number;
  H: number;
  W: number;
  /** square kernel size (odd), stride and zero padding */
  K: number;
  stride: number;
  pad: number;
}

export const outSize = (n: number, K: number, stride: number, pad: number) => Math.floor((n + 2 * pad - K) / stride) + 1;

/**
 * For one image: the pixel each patch element reads, idx[(oy·Wo + ox)·9·Cin + (ci·K + ky)·K + kx] =
 * ci·H·W + (oy·s + ky − p)·W + (ox·s + kx − p), or −1 where the patch reaches into the zero padding.
 * Computed once per shape; im2col and col2im are then one gather and one scatter-add.
 */
export function patchIndex(s: ConvShape): Int32Array {
  const { Cin, H, W, K, stride, pad } = s;
  const Ho = outSize(H, K, stride, pad);
  const Wo = outSize(W, K, stride, pad);
  const idx = new Int32Array(Ho * Wo * Cin * K * K);
  let c = 0;
  for (let oy = 0; oy < Ho; oy++) {
    for (let ox = 0; ox < Wo; ox++) {
      for (let ci = 0; ci < Cin; ci++) {
        for (let ky = 0; ky < K; ky++) {
          const iy = oy * stride + ky - pad;
          for (let kx = 0; kx < K; kx++, c++) {
            const ix = ox * stride + kx - pad;
            idx[c] = iy >= 0 && iy < H && ix >= 0 && ix < W ? ci * H * W + iy * W + ix : -1;
          }
        }
      }
    }
  }
  return idx;
}

/** cols[b·L + j] = x[b·Cin·H·W + idx[j]] (0 in the padding), L = idx.length: each output position's patch as a row. */
export function im2col(cols: Float32Array, x: Float32Array, s: ConvShape, idx: Int32Array): void {
  const L = idx.length;
  const img = s.Cin * s.H * s.W;
  for (let b = 0; b < s.B; b++) {
    const o = b * L;
    const xo = b * img;
    for (let j = 0; j < L; j++) cols[o + j] = idx[j] >= 0 ? x[xo + idx[j]] : 0;
  }
}

/** dx += col2im(dcols): each patch element's gradient added to the pixel it was read from. */
export function col2im(dx: Float32Array, dcols: Float32Array, s: ConvShape, idx: Int32Array): void {
  const L = idx.length;
  const img = s.Cin * s.H * s.W;
  for (let b = 0; b < s.B; b++) {
    const o = b * L;
    const xo = b * img;
    for (let j = 0; j < L; j++) if (idx[j] >= 0) dx[xo + idx[j]] += dcols[o + j];
  }
}

/** [B, S, C] (rows of C per position) → [B, C, S] (a plane per channel), and back. */
export function nhwcToNchw(out: Float32Array, x: Float32Array, B: number, S: number, C: number): void {
  for (let b = 0; b < B; b++) {
    const o = b * S * C;
    for (let p = 0; p < S; p++) for (let c = 0; c < C; c++) out[o + c * S + p] = x[o + p * C + c];
  }
}

export function nchwToNhwc(out: Float32Array, x: Float32Array, B: number, S: number, C: number): void {
  for (let b = 0; b < B; b++) {
    const o = b * S * C;
    for (let c = 0; c < C; c++) for (let p = 0; p < S; p++) out[o + p * C + c] = x[o + c * S + p];
  }
}

/** out = max(x, 0). */
export function reluForward(out: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : 0;
}

/** dx += dout where x > 0. */
export function reluBackward(dx: Float32Array, x: Float32Array, dout: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) if (x[i] > 0) dx[i] += dout[i];
}

/** out[b, c] = mean over the S positions of x[b, c, :] (global average pooling, NCHW). */
export function avgPoolForward(out: Float32Array, x: Float32Array, B: number, C: number, S: number): void {
  for (let bc = 0; bc < B * C; bc++) {
    let s = 0;
    for (let p = 0; p < S; p++) s += x[bc * S + p];
    out[bc] = s / S;
  }
}

/** dx[b, c, :] += dout[b, c] / S. */
export function avgPoolBackward(dx: Float32Array, dout: Float32Array, B: number, C: number, S: number): void {
  for (let bc = 0; bc < B * C; bc++) {
    const g = dout[bc] / S;
    for (let p = 0; p < S; p++) dx[bc * S + p] += g;
  }
}
