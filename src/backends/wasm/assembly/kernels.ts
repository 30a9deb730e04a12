// normkit row kernels in AssemblyScript, f32x4 SIMD (compiled by scripts/build-wasm.mjs with
// --enable simd -O3; no relaxed SIMD, so no FMA: every lane rounds like the scalar tail does).
//
// Every pointer is a byte offset into linear memory, 16-byte aligned by the caller (src/backends/
// wasm/runtime.ts), which lays out the buffers; nothing here allocates. Rows are contiguous, width D.
// Reductions over a row use several f32x4 accumulators (16 lanes forward, 8 backward) combined in
// a fixed order, then the scalar tail: a row's result depends only on that row and D, never on which call or thread ran it.
// Forward rows whose sums overflow float32 (finite inputs ~1e19 and up) are redone in float64.
// Keep the module under 4 KB: browsers refuse a larger synchronous compile on the main thread.

// ---- row reductions -----------------------------------------------------------------------------

// Fixed-order horizontal sum: (l0 + l1) + (l2 + l3).
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// s = Σ_i (x[i] − c): the sum shifted by c (a value of the row), so a row of 1e4 + noise sums the
// noise, not 1e4s whose float32 rounding would swamp it.
function sumShifted(x: usize, D: i32, c: f32): f32 {
  const cv = f32x4.splat(c);
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let i = 0;
  for (; i + 16 <= D; i += 16) {
    const p = x + (<usize>i << 2);
    a0 = f32x4.add(a0, f32x4.sub(v128.load(p), cv));
    a1 = f32x4.add(a1, f32x4.sub(v128.load(p, 16), cv));
    a2 = f32x4.add(a2, f32x4.sub(v128.load(p, 32), cv));
    a3 = f32x4.add(a3, f32x4.sub(v128.load(p, 48), cv));
  }
  for (; i + 4 <= D; i += 4) a0 = f32x4.add(a0, f32x4.sub(v128.load(x + (<usize>i << 2)), cv));
  let t: f32 = 0;
  for (; i < D; i++) t += load<f32>(x + (<usize>i << 2)) - c;
  return hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3))) + t;
}

// q = Σ_i ((x[i] − m) − mlo)². Two-pass: m + mlo is the row
// mean already computed (see normalizeRow), never E[x²] − E[x]².
function sumSqDev(x: usize, D: i32, m: f32, mlo: f32): f32 {
  const mv = f32x4.splat(m), lv = f32x4.splat(mlo);
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let i = 0;
  for (; i + 16 <= D; i += 16) {
    const p = x + (<usize>i << 2);
    const d0 = f32x4.sub(f32x4.sub(v128.load(p), mv), lv);
    const d1 = f32x4.sub(f32x4.sub(v128.load(p, 16), mv), lv);
    const d2 = f32x4.sub(f32x4.sub(v128.load(p, 32), mv), lv);
    const d3 = f32x4.sub(f32x4.sub(v128.load(p, 48), mv), lv);
    a0 = f32x4.add(a0, f32x4.mul(d0, d0));
    a1 = f32x4.add(a1, f32x4.mul(d1, d1));
    a2 = f32x4.add(a2, f32x4.mul(d2, d2));
    a3 = f32x4.add(a3, f32x4.mul(d3, d3));
  }
  for (; i + 4 <= D; i += 4) {
    const d = f32x4.sub(f32x4.sub(v128.load(x + (<usize>i << 2)), mv), lv);
    a0 = f32x4.add(a0, f32x4.mul(d, d));
  }
  let t: f32 = 0;
  for (; i < D; i++) {
    const d = (load<f32>(x + (<usize>i << 2)) - m) - mlo;
    t += d * d;
  }
  return hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3))) + t;
}

// q = Σ_i x[i]² (RMSNorm), as sumSqDev without the subtractions.
function sumSq(x: usize, D: i32): f32 {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let i = 0;
  for (; i + 16 <= D; i += 16) {
    const p = x + (<usize>i << 2);
    const d0 = v128.load(p), d1 = v128.load(p, 16), d2 = v128.load(p, 32), d3 = v128.load(p, 48);
    a0 = f32x4.add(a0, f32x4.mul(d0, d0));
    a1 = f32x4.add(a1, f32x4.mul(d1, d1));
    a2 = f32x4.add(a2, f32x4.mul(d2, d2));
    a3 = f32x4.add(a3, f32x4.mul(d3, d3));
  }
  for (; i + 4 <= D; i += 4) {
    const d = v128.load(x + (<usize>i << 2));
    a0 = f32x4.add(a0, f32x4.mul(d, d));
  }
  let t: f32 = 0;
  for (; i < D; i++) {
    const d = load<f32>(x + (<usize>i << 2));
    t += d * d;
  }
  return hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3))) + t;
}

// Whether every x[i] is finite (slow path only).
function allFinite(x: usize, D: i32): bool {
  for (let i = 0; i < D; i++) if (!isFinite<f32>(load<f32>(x + (<usize>i << 2)))) return false;
  return true;
}

// float64 two-pass mean of a row (slow path only).
function mean64(x: usize, D: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < D; i++) s += <f64>load<f32>(x + (<usize>i << 2));
  return s / D;
}

// float64 Σ(x − m)² (slow path only).
function sqDev64(x: usize, D: i32, m: f64): f64 {
  let q: f64 = 0;
  for (let i = 0; i < D; i++) {
    const d = <f64>load<f32>(x + (<usize>i << 2)) - m;
    q += d * d;
  }
  return q;
}

// rstd = 1/√(q/D + ε), in float64, rounded once.
@inline function rstdOf(q: f64, D: i32, eps: f64): f32 {
  return <f32>(1.0 / Math.sqrt(q / D + eps));
}

// ---- forward ------------------------------------------------------------------------------------

// y[i] = ((x[i] − m) − mlo)·rs·w[i] + b[i]: normalize and affine fused in one pass over the cached
// row. The mean is m + mlo (its float32 rounding and the remainder): x − m is exact for x near m,
// so a row of 1e4 + noise keeps the noise's bits. The caller passes w = ones and b = zeros when
// the op has no weight/bias.
function normalizeRow(y: usize, x: usize, w: usize, b: usize, D: i32, m: f32, mlo: f32, rs: f32): void {
  const mv = f32x4.splat(m), lv = f32x4.splat(mlo), rv = f32x4.splat(rs);
  let i = 0;
  for (; i + 8 <= D; i += 8) {
    const o = <usize>i << 2;
    const h0 = f32x4.mul(f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o), mv), lv), rv), v128.load(w + o));
    const h1 = f32x4.mul(f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o, 16), mv), lv), rv), v128.load(w + o, 16));
    v128.store(y + o, f32x4.add(h0, v128.load(b + o)));
    v128.store(y + o, f32x4.add(h1, v128.load(b + o, 16)), 16);
  }
  for (; i + 4 <= D; i += 4) {
    const o = <usize>i << 2;
    const h = f32x4.mul(f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o), mv), lv), rv), v128.load(w + o));
    v128.store(y + o, f32x4.add(h, v128.load(b + o)));
  }
  for (; i < D; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, ((load<f32>(x + o) - m) - mlo) * rs * load<f32>(w + o) + load<f32>(b + o));
  }
}

// y[i] = x[i]·rs·w[i] + b[i]: RMSNorm's normalizeRow, without the two mean subtractions.
function scaleRow(y: usize, x: usize, w: usize, b: usize, D: i32, rs: f32): void {
  const rv = f32x4.splat(rs);
  let i = 0;
  for (; i + 8 <= D; i += 8) {
    const o = <usize>i << 2;
    const h0 = f32x4.mul(f32x4.mul(v128.load(x + o), rv), v128.load(w + o));
    const h1 = f32x4.mul(f32x4.mul(v128.load(x + o, 16), rv), v128.load(w + o, 16));
    v128.store(y + o, f32x4.add(h0, v128.load(b + o)));
    v128.store(y + o, f32x4.add(h1, v128.load(b + o, 16)), 16);
  }
  for (; i + 4 <= D; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(f32x4.mul(f32x4.mul(v128.load(x + o), rv), v128.load(w + o)), v128.load(b + o)));
  }
  for (; i < D; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) * rs * load<f32>(w + o) + load<f32>(b + o));
  }
}

// LayerNorm forward over `rows` rows:
//   μ = x₀ + Σ(x − x₀)/D (float64, kept as float32 m + remainder mlo),
//   σ² = Σ(x − μ)²/D,  rstd = 1/√(σ² + ε),  y = (x − μ)·rstd·w + b
export function layerNormForward(y: usize, mean: usize, rstd: usize, x: usize, w: usize, b: usize, rows: i32, D: i32, eps: f64): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>D << 2;
    const xr = x + o;
    const x0 = load<f32>(xr);
    let m64 = <f64>x0 + <f64>sumShifted(xr, D, x0) / D;
    let m = <f32>m64;
    const q = sumSqDev(xr, D, m, <f32>(m64 - <f64>m));
    let rs: f32;
    if (!isFinite<f32>(q) && allFinite(xr, D)) {
      // float32 overflow on a finite row: redo its statistics in float64
      m64 = mean64(xr, D);
      m = <f32>m64;
      rs = rstdOf(sqDev64(xr, D, m64), D, eps);
    } else {
      rs = rstdOf(<f64>q, D, eps);
    }
    normalizeRow(y + o, xr, w, b, D, m, <f32>(m64 - <f64>m), rs);
    store<f32>(mean + (<usize>r << 2), m);
    store<f32>(rstd + (<usize>r << 2), rs);
  }
}

// RMSNorm forward:  rstd = 1/√(Σx²/D + ε),  y = x·rstd·w + b
export function rmsNormForward(y: usize, rstd: usize, x: usize, w: usize, b: usize, rows: i32, D: i32, eps: f64): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>D << 2;
    const xr = x + o;
    const q = sumSq(xr, D);
    const rs = !isFinite<f32>(q) && allFinite(xr, D) ? rstdOf(sqDev64(xr, D, 0), D, eps) : rstdOf(<f64>q, D, eps);
    scaleRow(y + o, xr, w, b, D, rs);
    store<f32>(rstd + (<usize>r << 2), rs);
  }
}

// ---- backward -----------------------------------------------------------------------------------

// Rows of float32 partial sums of dweight/dbias are flushed into the float64 accumulators every
// FLUSH rows (and at the end of a call): float32 error stays that of a FLUSH-term sum, and as the
// caller starts calls at multiples of FLUSH rows, the partials do not depend on how rows are split.
// Exported so the caller chunks rows on the same grid.
export const FLUSH: i32 = 32;

function flush(acc64: usize, acc32: usize, D: i32): void {
  let i = 0;
  for (; i + 4 <= D; i += 4) {
    const v = v128.load(acc32 + (<usize>i << 2));
    const p = acc64 + (<usize>i << 3);
    v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(v)));
    v128.store(p, f64x2.add(v128.load(p, 16), f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 2, 3))), 16);
    v128.store(acc32 + (<usize>i << 2), f32x4.splat(0));
  }
  for (; i < D; i++) {
    const p = acc64 + (<usize>i << 3);
    store<f64>(p, load<f64>(p) + <f64>load<f32>(acc32 + (<usize>i << 2)));
    store<f32>(acc32 + (<usize>i << 2), 0);
  }
}

// One row of the fused backward pass, given its two means a = mean(g), c = mean(g·x̂):
//   x̂ = (x − m)·rs,  g = dy·w,  dx = (g − a − x̂·c)·rs,  dw32 += dy·x̂,  db32 += dy
// (RMSNorm: m = 0, a = 0.) dw32/db32 are float32 row-block partials (zeros when the op has no
// weight/bias: they are then simply not read back).
function backwardRow(dx: usize, dw32: usize, db32: usize, dy: usize, x: usize, w: usize, D: i32, m: f32, rs: f32, a: f32, c: f32): void {
  const mv = f32x4.splat(m), rv = f32x4.splat(rs), av = f32x4.splat(a), cv = f32x4.splat(c);
  let i = 0;
  for (; i + 4 <= D; i += 4) {
    const o = <usize>i << 2;
    const d = v128.load(dy + o);
    const xh = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
    const g = f32x4.mul(d, v128.load(w + o));
    v128.store(dx + o, f32x4.mul(f32x4.sub(f32x4.sub(g, av), f32x4.mul(xh, cv)), rv));
    v128.store(dw32 + o, f32x4.add(v128.load(dw32 + o), f32x4.mul(d, xh)));
    v128.store(db32 + o, f32x4.add(v128.load(db32 + o), d));
  }
  for (; i < D; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(dy + o);
    const xh = (load<f32>(x + o) - m) * rs;
    const g = d * load<f32>(w + o);
    store<f32>(dx + o, (g - a - xh * c) * rs);
    store<f32>(dw32 + o, load<f32>(dw32 + o) + d * xh);
    store<f32>(db32 + o, load<f32>(db32 + o) + d);
  }
}

// Σg and Σg·x̂ of a row (x̂ = (x − m)·rs, g = dy·w), two accumulators each, fixed order.
// Returns Σg; Σg·x̂ goes to the global `sumGX` (AssemblyScript has no tuple returns).
let sumGX: f32 = 0;
function rowMoments(dy: usize, x: usize, w: usize, D: i32, m: f32, rs: f32): f32 {
  const mv = f32x4.splat(m), rv = f32x4.splat(rs);
  let s0 = f32x4.splat(0), s1 = s0, t0 = s0, t1 = s0;
  let i = 0;
  for (; i + 8 <= D; i += 8) {
    const o = <usize>i << 2;
    const g0 = f32x4.mul(v128.load(dy + o), v128.load(w + o));
    const g1 = f32x4.mul(v128.load(dy + o, 16), v128.load(w + o, 16));
    const h0 = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
    const h1 = f32x4.mul(f32x4.sub(v128.load(x + o, 16), mv), rv);
    s0 = f32x4.add(s0, g0);
    s1 = f32x4.add(s1, g1);
    t0 = f32x4.add(t0, f32x4.mul(g0, h0));
    t1 = f32x4.add(t1, f32x4.mul(g1, h1));
  }
  for (; i + 4 <= D; i += 4) {
    const o = <usize>i << 2;
    const g = f32x4.mul(v128.load(dy + o), v128.load(w + o));
    s0 = f32x4.add(s0, g);
    t0 = f32x4.add(t0, f32x4.mul(g, f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv)));
  }
  let s: f32 = 0, t: f32 = 0;
  for (; i < D; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(dy + o) * load<f32>(w + o);
    s += g;
    t += g * ((load<f32>(x + o) - m) * rs);
  }
  sumGX = hsum(f32x4.add(t0, t1)) + t;
  return hsum(f32x4.add(s0, s1)) + s;
}

// LayerNorm backward over `rows` rows:  dx = rstd·(g − mean(g) − x̂·mean(g·x̂));
// dw64 += Σ_rows dy·x̂, db64 += Σ_rows dy (float64 accumulators, via the float32 blocks dw32/db32,
// which must be zero on entry and are zero again on return).
export function layerNormBackward(dx: usize, dw64: usize, db64: usize, dw32: usize, db32: usize, dy: usize, x: usize, mean: usize, rstd: usize, w: usize, rows: i32, D: i32): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>D << 2;
    const m = load<f32>(mean + (<usize>r << 2));
    const rs = load<f32>(rstd + (<usize>r << 2));
    const sg = rowMoments(dy + o, x + o, w, D, m, rs);
    backwardRow(dx + o, dw32, db32, dy + o, x + o, w, D, m, rs, <f32>(<f64>sg / D), <f32>(<f64>sumGX / D));
    if ((r + 1) % FLUSH == 0 || r + 1 == rows) {
      flush(dw64, dw32, D);
      flush(db64, db32, D);
    }
  }
}

// RMSNorm backward:  dx = rstd·(g − x̂·mean(g·x̂)); dw64/db64 as in layerNormBackward.
export function rmsNormBackward(dx: usize, dw64: usize, db64: usize, dw32: usize, db32: usize, dy: usize, x: usize, rstd: usize, w: usize, rows: i32, D: i32): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>D << 2;
    const rs = load<f32>(rstd + (<usize>r << 2));
    rowMoments(dy + o, x + o, w, D, 0, rs);
    backwardRow(dx + o, dw32, db32, dy + o, x + o, w, D, 0, rs, 0, <f32>(<f64>sumGX / D));
    if ((r + 1) % FLUSH == 0 || r + 1 == rows) {
      flush(dw64, dw32, D);
      flush(db64, db32, D);
    }
  }
}

// First free byte of linear memory: the caller lays its buffers out from here.
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}
