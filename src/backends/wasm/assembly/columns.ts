// Column kernels: `rows` contiguous rows of width W in linear memory, reduced or transformed per
// column j with per-column parameters. BatchNorm runs on them with x [N, C, S] seen as N rows of
// width C·S (channel c's parameters spread over its S columns), channels-last GroupNorm with a
// sample [S, C] seen as S rows of width C (a group's statistics spread over its channels).
// Reductions are float64 per column in row order, so a column's sum does not depend on which
// other columns share the call: the pool splits columns over threads and matches the single thread
// bit for bit.
import { siluGrad, siluOf } from "./elementwise";

// acc[j] += Σ_r x[r][j], each value promoted to float64 (exact to 2⁻⁵³·Σ|x|).
export function colSum(acc: usize, x: usize, rows: i32, W: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>W << 2);
    let j = 0;
    for (; j + 4 <= W; j += 4) {
      const v = v128.load(xr + (<usize>j << 2));
      const a = acc + (<usize>j << 3);
      v128.store(a, f64x2.add(v128.load(a), f64x2.promote_low_f32x4(v)));
      v128.store(a, f64x2.add(v128.load(a, 16), f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 2, 3))), 16);
    }
    for (; j < W; j++) {
      const a = acc + (<usize>j << 3);
      store<f64>(a, load<f64>(a) + <f64>load<f32>(xr + (<usize>j << 2)));
    }
  }
}

// acc[j] += Σ_r (x[r][j] − mu[j])², in float64 (mu: float64 per column): the two-pass variance.
export function colSumSq(acc: usize, x: usize, mu: usize, rows: i32, W: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>W << 2);
    let j = 0;
    for (; j + 4 <= W; j += 4) {
      const v = v128.load(xr + (<usize>j << 2));
      const a = acc + (<usize>j << 3), m = mu + (<usize>j << 3);
      const d0 = f64x2.sub(f64x2.promote_low_f32x4(v), v128.load(m));
      const d1 = f64x2.sub(f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 2, 3)), v128.load(m, 16));
      v128.store(a, f64x2.add(v128.load(a), f64x2.mul(d0, d0)));
      v128.store(a, f64x2.add(v128.load(a, 16), f64x2.mul(d1, d1)), 16);
    }
    for (; j < W; j++) {
      const a = acc + (<usize>j << 3);
      const d = <f64>load<f32>(xr + (<usize>j << 2)) - load<f64>(mu + (<usize>j << 3));
      store<f64>(a, load<f64>(a) + d * d);
    }
  }
}

// (x − m) − mlo of 4 columns at byte offset q of a row (x + o): the deviation from the mean m + mlo.
@inline function dev4(x: usize, o: usize, q: usize, m: usize, mlo: usize): v128 {
  return f32x4.sub(f32x4.sub(v128.load(x + o + q), v128.load(m + q)), v128.load(mlo + q));
}

@inline function dev1(x: usize, o: usize, q: usize, m: usize, mlo: usize): f32 {
  return (load<f32>(x + o + q) - load<f32>(m + q)) - load<f32>(mlo + q);
}

// y = ((x − m) − mlo)·s + b per column (m + mlo the float64 mean as float32 and its remainder,
// s = rstd·w): x − m is exact for x near m, so large offsets keep their small differences. silu:
// then y·σ(y).
export function colApply(y: usize, x: usize, m: usize, mlo: usize, s: usize, b: usize, rows: i32, W: i32, silu: bool): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>W << 2;
    let j = 0;
    if (!silu) {
      for (; j + 4 <= W; j += 4) {
        const q = <usize>j << 2;
        v128.store(y + o + q, f32x4.add(f32x4.mul(dev4(x, o, q, m, mlo), v128.load(s + q)), v128.load(b + q)));
      }
    }
    for (; j < W; j++) {
      const q = <usize>j << 2;
      const v = dev1(x, o, q, m, mlo) * load<f32>(s + q) + load<f32>(b + q);
      store<f32>(y + o + q, silu ? siluOf(v) : v);
    }
  }
}

// The upstream gradient of the normalization: dy, or with silu dy·σ'(y), y = x̂·w + b.
@inline function gate(d: f32, xh: f32, w: f32, b: f32, silu: bool): f32 {
  return silu ? d * siluGrad(xh * w + b) : d;
}

// sg[j] += Σ_r g, sgx[j] += Σ_r g·x̂ (float64), x̂ = ((x − m) − mlo)·rs, g as `gate`.
export function colGradSums(sg: usize, sgx: usize, dy: usize, x: usize, m: usize, mlo: usize, rs: usize, w: usize, b: usize, rows: i32, W: i32, silu: bool): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>W << 2;
    let j = 0;
    if (!silu) {
      for (; j + 4 <= W; j += 4) {
        const q = <usize>j << 2;
        const d = v128.load(dy + o + q);
        const xh = f32x4.mul(dev4(x, o, q, m, mlo), v128.load(rs + q));
        const dxh = f32x4.mul(d, xh);
        const a = sg + (<usize>j << 3), c = sgx + (<usize>j << 3);
        v128.store(a, f64x2.add(v128.load(a), f64x2.promote_low_f32x4(d)));
        v128.store(a, f64x2.add(v128.load(a, 16), f64x2.promote_low_f32x4(f32x4.shuffle(d, d, 2, 3, 2, 3))), 16);
        v128.store(c, f64x2.add(v128.load(c), f64x2.promote_low_f32x4(dxh)));
        v128.store(c, f64x2.add(v128.load(c, 16), f64x2.promote_low_f32x4(f32x4.shuffle(dxh, dxh, 2, 3, 2, 3))), 16);
      }
    }
    for (; j < W; j++) {
      const q = <usize>j << 2;
      const xh = dev1(x, o, q, m, mlo) * load<f32>(rs + q);
      const g = gate(load<f32>(dy + o + q), xh, load<f32>(w + q), load<f32>(b + q), silu);
      const a = sg + (<usize>j << 3), c = sgx + (<usize>j << 3);
      store<f64>(a, load<f64>(a) + <f64>g);
      store<f64>(c, load<f64>(c) + <f64>(g * xh));
    }
  }
}

// dx = ((g·w − a) − x̂·c)·rs per column (a = mean(g·w), c = mean(g·w·x̂) of the column's
// statistics group, spread per column; 0 for BatchNorm's eval), g as `gate`.
export function colBackward(dx: usize, dy: usize, x: usize, m: usize, mlo: usize, rs: usize, w: usize, b: usize, a: usize, c: usize, rows: i32, W: i32, silu: bool): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>W << 2;
    let j = 0;
    if (!silu) {
      for (; j + 4 <= W; j += 4) {
        const q = <usize>j << 2;
        const rv = v128.load(rs + q);
        const xh = f32x4.mul(dev4(x, o, q, m, mlo), rv);
        const t = f32x4.sub(f32x4.sub(f32x4.mul(v128.load(dy + o + q), v128.load(w + q)), v128.load(a + q)), f32x4.mul(xh, v128.load(c + q)));
        v128.store(dx + o + q, f32x4.mul(t, rv));
      }
    }
    for (; j < W; j++) {
      const q = <usize>j << 2;
      const rsj = load<f32>(rs + q), wj = load<f32>(w + q);
      const xh = dev1(x, o, q, m, mlo) * rsj;
      const g = gate(load<f32>(dy + o + q), xh, wj, load<f32>(b + q), silu);
      store<f32>(dx + o + q, ((g * wj - load<f32>(a + q)) - xh * load<f32>(c + q)) * rsj);
    }
  }
}
