// Elementwise steps of issue #12's row jobs, on float32 rows in linear memory: the fused residual
// add, dh added to dx, and GroupNorm's SiLU epilogue (forward) and its gradient gate (backward).

// h = (x + r) + ib per row of D (ib = 0: no input bias): float32 adds in ONNX Runtime's CPU and
// WebGPU order. h may be x (in place).
export function addRows(h: usize, x: usize, r: usize, ib: usize, rows: i32, D: i32): void {
  for (let k = 0; k < rows; k++) {
    const o = <usize>k * <usize>D << 2;
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const p = o + (<usize>i << 2);
      let s = f32x4.add(v128.load(x + p), v128.load(r + p));
      if (ib != 0) s = f32x4.add(s, v128.load(ib + (<usize>i << 2)));
      v128.store(h + p, s);
    }
    for (; i < D; i++) {
      const p = o + (<usize>i << 2);
      let s = load<f32>(x + p) + load<f32>(r + p);
      if (ib != 0) s += load<f32>(ib + (<usize>i << 2));
      store<f32>(h + p, s);
    }
  }
}

// dst[i] += src[i]
export function addTo(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = <usize>i << 2;
    v128.store(dst + p, f32x4.add(v128.load(dst + p), v128.load(src + p)));
  }
  for (; i < n; i++) {
    const p = <usize>i << 2;
    store<f32>(dst + p, load<f32>(dst + p) + load<f32>(src + p));
  }
}

// y·σ(y) = y/(1 + e^(−y)): −0 for y → −∞ (e^(−y) = Inf), NaN stays NaN.
@inline export function siluOf(y: f32): f32 {
  return y / (<f32>1 + Mathf.exp(-y));
}

// ∂(y·σ(y))/∂y = σ(y)·(1 + y·(1 − σ(y)))
@inline export function siluGrad(y: f32): f32 {
  const s = <f32>1 / (<f32>1 + Mathf.exp(-y));
  return s * (<f32>1 + y * (<f32>1 - s));
}

// y = y·σ(y) over n values, in place.
export function silu(y: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = y + (<usize>i << 2);
    store<f32>(p, siluOf(load<f32>(p)));
  }
}

// The SiLU gate of a GroupNorm backward on rows of D (a group's values, channels first): with
// y = (x − mean_r)·rstd_r·w[i] + b[i] recomputed (w, b per position, D each), g = dy·σ'(y).
export function siluGateRows(g: usize, dy: usize, x: usize, mean: usize, rstd: usize, w: usize, b: usize, rows: i32, D: i32): void {
  for (let k = 0; k < rows; k++) {
    const m = load<f32>(mean + (<usize>k << 2)), rs = load<f32>(rstd + (<usize>k << 2));
    const o = <usize>k * <usize>D << 2;
    for (let i = 0; i < D; i++) {
      const p = o + (<usize>i << 2), q = <usize>i << 2;
      const y = (load<f32>(x + p) - m) * rs * load<f32>(w + q) + load<f32>(b + q);
      store<f32>(g + p, load<f32>(dy + p) * siluGrad(y));
    }
  }
}
