// normkit row kernels in AssemblyScript, f32x4 SIMD (compiled by scripts/build-wasm.mjs with
// --enable simd -O3; no relaxed SIMD, so no FMA: every lane rounds like the scalar tail does).
//
// Every pointer is a byte offset into linear memory, 16-byte aligned by the caller (src/backends/
// wasm/runtime.ts), which lays out the buffers; nothing here allocates. Rows are contiguous, width D.
// Reductions over a row use four f32x4 accumulators (16 lanes) combined in a fixed order, then the
// scalar tail: a row's result depends only on that row and D, never on which call or thread ran it.
// Forward rows whose sums overflow float32 (finite inputs ~1e19 and up) are redone in float64.
// The module grew past 4 KB with issue #12 (convert.ts, elementwise.ts, columns.ts): older
// Chromium refused a synchronous compile over 4 KB on the main thread; Chromium 156 allows 8 MB
// (measured), and the ops compile it synchronously at import.
//
// Speed (measured with V8/TurboFan in Node 20, bench/quick-wasm.ts): every hot loop handles 16
// floats per iteration, as V8 adds a stack check and an address computation per pointer to each
// iteration and does not unroll large loop bodies; backward walks a block of rows strip by strip so
// dweight/dbias accumulate in registers instead of a load-add-store of memory per row and element.

// ---- row reductions -----------------------------------------------------------------------------
//
// Accuracy at any width. A float32 running sum's error grows with the number of terms added to it:
// the previous kernels summed a row in 16 float32 lanes, and drifted on wide rows (LayerNorm over
// relu(N(0, 1)) rows of 2^20: y error 2.0e-3, against PyTorch float32's 1.2e-6; test/fixtures/
// accuracy.json). Now every row sum is float64 or folds into float64 every BLOCK values:
// - the mean: a float64 sum of the promoted float32 values (sum64), exact to 2^-53·Σ|x|, so rows
//   like 1e4 + noise, [1e10, −1e10, 1, 2] or [3e38, 3e38, −3e38] get their mean right;
// - Σ(x − μ)², Σx², and backward's Σg, Σg·x̂: 16 float32 lanes over a block of BLOCK values (16
//   terms per lane), the block's lanes then added into float64 (fold). A block's float32 error is
//   that of a 16-term sum whatever the width, and the float64 sum of the blocks adds nothing
//   measurable: the error no longer grows with the width.
// Folding costs ~8 operations per BLOCK values (≤ 3% of a kernel's time); the float64 mean
// ≈12–20% of the LayerNorm forward's (docs/accuracy.md, bench/accuracy-cost.ts).
const BLOCK: i32 = 256;

// Fixed-order horizontal sum: (l0 + l1) + (l2 + l3).
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// q + the four float32 lanes of v, in float64 (two f64x2 lanes).
@inline function fold(q: v128, v: v128): v128 {
  return f64x2.add(q, f64x2.add(f64x2.promote_low_f32x4(v), f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 2, 3))));
}

@inline function lanes64(q: v128): f64 {
  return f64x2.extract_lane(q, 0) + f64x2.extract_lane(q, 1);
}

// Σ x[i] in float64: every float32 value promoted, then added in four f64x2 accumulators (fixed
// order). Exact to 2^-53·Σ|x|: no row's mean depends on which values share a float32 partial sum.
// Cheaper variants were measured and rejected: adding 4 values in float32 first (≈3% of the
// LayerNorm forward's time, against ≈12–20% for this) leaves an error ∝ |μ|/σ in y (1.2e-4 on
// 1e4 + N(0, 1) rows of 16, where this gives 1e-7), and correcting a rough mean by Σ(x − m) in the
// variance pass gets [1e10, −1e10, 1, 2]'s mean wrong (1.125), as x − m loses the small values.
function sum64(x: usize, D: i32): f64 {
  let a0 = f64x2.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let i = 0;
  for (; i + 8 <= D; i += 8) {
    const p = x + (<usize>i << 2);
    const v0 = v128.load(p), v1 = v128.load(p, 16);
    a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v0));
    a1 = f64x2.add(a1, f64x2.promote_low_f32x4(f32x4.shuffle(v0, v0, 2, 3, 2, 3)));
    a2 = f64x2.add(a2, f64x2.promote_low_f32x4(v1));
    a3 = f64x2.add(a3, f64x2.promote_low_f32x4(f32x4.shuffle(v1, v1, 2, 3, 2, 3)));
  }
  let t: f64 = 0;
  for (; i < D; i++) t += <f64>load<f32>(x + (<usize>i << 2));
  return lanes64(f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3))) + t;
}

// (v − m) − mlo (ln) or v (RMSNorm: m = mlo = 0); `ln` is constant at each (inlined) call.
@inline function dev(v: v128, mv: v128, lv: v128, ln: bool): v128 {
  return ln ? f32x4.sub(f32x4.sub(v, mv), lv) : v;
}

// q = Σ_i d_i² with d_i = (x[i] − m) − mlo (ln) or x[i]: with m + mlo the float64 mean, the
// two-pass Σ(x − μ)², never E[x²] − E[x]²; x − m is exact for x near m, so a row of 1e4 + noise
// keeps the noise's bits. With `ln`, each d_i is also parked at y[i] for normalizeRow to scale (a
// store here instead of a load and two subtractions there). float32 lanes per BLOCK, folded into
// float64 (see above).
@inline function sumSq(x: usize, D: i32, m: f32, mlo: f32, ln: bool, y: usize): f64 {
  const mv = f32x4.splat(m), lv = f32x4.splat(mlo);
  let q = f64x2.splat(0);
  let i = 0;
  while (i + 16 <= D) {
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    const end = min(D - 15, i + BLOCK);
    for (; i < end; i += 16) {
      const p = x + (<usize>i << 2);
      const d0 = dev(v128.load(p), mv, lv, ln);
      const d1 = dev(v128.load(p, 16), mv, lv, ln);
      const d2 = dev(v128.load(p, 32), mv, lv, ln);
      const d3 = dev(v128.load(p, 48), mv, lv, ln);
      if (ln) {
        const o = y + (<usize>i << 2);
        v128.store(o, d0);
        v128.store(o, d1, 16);
        v128.store(o, d2, 32);
        v128.store(o, d3, 48);
      }
      a0 = f32x4.add(a0, f32x4.mul(d0, d0));
      a1 = f32x4.add(a1, f32x4.mul(d1, d1));
      a2 = f32x4.add(a2, f32x4.mul(d2, d2));
      a3 = f32x4.add(a3, f32x4.mul(d3, d3));
    }
    q = fold(q, f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  }
  // the last < 16 values
  let t: f32 = 0;
  for (; i < D; i++) {
    const d = ln ? (load<f32>(x + (<usize>i << 2)) - m) - mlo : load<f32>(x + (<usize>i << 2));
    if (ln) store<f32>(y + (<usize>i << 2), d);
    t += d * d;
  }
  return lanes64(q) + <f64>t;
}

// rstd = 1/√(q/D + ε), in float64.
@inline function rstdOf(q: f64, D: i32, eps: f64): f64 {
  return 1.0 / Math.sqrt(q / D + eps);
}

// ---- forward ------------------------------------------------------------------------------------

// y[i] = v[i]·rs·w[i] + b[i] (`bias`) or v[i]·rs·w[i]: normalize and affine fused in one pass over
// the cached row; v = x (RMSNorm) or, for LayerNorm, the deviations (x − m) − mlo parked in y by
// sumSq. The mean is m + mlo (its float32 rounding and the remainder): x − m is exact for x near
// m, so a row of 1e4 + noise keeps the noise's bits. The caller passes w = ones when there is no
// weight, and for LayerNorm b = zeros when there is no bias; RMSNorm's rare bias is added by a
// second pass (addBias), keeping the module small.
@inline function normalizeRow(y: usize, v: usize, w: usize, b: usize, D: i32, rs: f32, bias: bool): void {
  const rv = f32x4.splat(rs);
  let i = 0;
  for (; i + 16 <= D; i += 16) {
    const o = <usize>i << 2;
    const vo = v + o, wo = w + o, yo = y + o;
    v128.store(yo, affine(v128.load(vo), rv, v128.load(wo), b + o, 0, bias));
    v128.store(yo, affine(v128.load(vo, 16), rv, v128.load(wo, 16), b + o, 16, bias), 16);
    v128.store(yo, affine(v128.load(vo, 32), rv, v128.load(wo, 32), b + o, 32, bias), 32);
    v128.store(yo, affine(v128.load(vo, 48), rv, v128.load(wo, 48), b + o, 48, bias), 48);
  }
  for (; i < D; i++) {
    const o = <usize>i << 2;
    const h = load<f32>(v + o) * rs * load<f32>(w + o);
    store<f32>(y + o, bias ? h + load<f32>(b + o) : h);
  }
}

// One f32x4 of normalizeRow: v·rs·w + b[bo + k], or v·rs·w.
@inline function affine(v: v128, rv: v128, wv: v128, bo: usize, k: usize, bias: bool): v128 {
  const h = f32x4.mul(f32x4.mul(v, rv), wv);
  return bias ? f32x4.add(h, v128.load(bo + k)) : h;
}

// y[i] += b[i] over `rows` rows (RMSNorm with a bias).
function addBias(y: usize, b: usize, rows: i32, D: i32): void {
  const n = rows * D;
  for (let i = 0; i < n; i++) {
    const p = y + (<usize>i << 2);
    store<f32>(p, load<f32>(p) + load<f32>(b + (<usize>(i % D) << 2)));
  }
}

// LayerNorm (mean != 0) or RMSNorm (mean == 0) forward over `rows` rows:
//   LayerNorm: μ = Σx/D (float64, kept as float32 m + remainder mlo),
//              σ² = Σ(x − μ)²/D,  rstd = 1/√(σ² + ε),  y = (x − μ)·rstd·w + b
//   RMSNorm:   rstd = 1/√(Σx²/D + ε),  y = x·rstd·w + b
// w = 0: statistics only (y is then scratch), for a backward that recomputes them.
export function forward(y: usize, mean: usize, rstd: usize, x: usize, w: usize, b: usize, rows: i32, D: i32, eps: f64): void {
  if (mean != 0) forwardRows(y, mean, rstd, x, w, b, rows, D, eps, true);
  else {
    forwardRows(y, mean, rstd, x, w, b, rows, D, eps, false);
    if (b != 0 && w != 0) addBias(y, b, rows, D);
  }
}

@inline function forwardRows(y: usize, mean: usize, rstd: usize, x: usize, w: usize, b: usize, rows: i32, D: i32, eps: f64, ln: bool): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>D << 2;
    const xr = x + o, yr = y + o;
    const m64 = ln ? sum64(xr, D) / D : 0;
    const m = <f32>m64;
    const q = sumSq(xr, D, m, <f32>(m64 - <f64>m), ln, yr);
    let rs: f32;
    if (!isFinite<f64>(q)) {
      // a row whose float32 squares overflowed ((x − μ)² or x² past 3.4e38, e.g. [3e38, 3e38,
      // −3e38]) is redone in float64; a row with a NaN/Inf gets the same NaN/Inf/0 either way
      rs = redo(yr, xr, w, b, D, m64, eps, ln);
    } else {
      rs = <f32>rstdOf(q, D, eps);
      if (w != 0) normalizeRow(yr, ln ? yr : xr, w, b, D, rs, ln);
    }
    if (ln) store<f32>(mean + (<usize>r << 2), m);
    store<f32>(rstd + (<usize>r << 2), rs);
  }
}

// The float64 redo of one row (slow path): σ² (or the mean square) about the float64 mean m64, and
// y = (x − μ)·rstd·w (+ b for LayerNorm; RMSNorm's bias comes from addBias) rounded once.
function redo(y: usize, x: usize, w: usize, b: usize, D: i32, m64: f64, eps: f64, ln: bool): f32 {
  let q: f64 = 0;
  for (let i = 0; i < D; i++) {
    const d = <f64>load<f32>(x + (<usize>i << 2)) - m64;
    q += d * d;
  }
  const rs = rstdOf(q, D, eps);
  if (w != 0) {
    for (let i = 0; i < D; i++) {
      const k = <usize>i << 2;
      const h = (<f64>load<f32>(x + k) - m64) * rs * <f64>load<f32>(w + k);
      store<f32>(y + k, <f32>(ln ? h + <f64>load<f32>(b + k) : h));
    }
  }
  return <f32>rs;
}

// ---- backward -----------------------------------------------------------------------------------

// dweight/dbias are summed in float32 over blocks of FLUSH rows (and the end of a call), each
// block's sums then added to the float64 accumulators: float32 error stays that of a FLUSH-term
// sum, and as the caller starts calls at multiples of FLUSH rows, the sums do not depend on how
// rows are split. Exported so the caller chunks rows on the same grid.
export const FLUSH: i32 = 32;

// dst[j..j+4) (float64) += the float32 lanes of v.
@inline function flush4(dst: usize, v: v128): void {
  v128.store(dst, f64x2.add(v128.load(dst), f64x2.promote_low_f32x4(v)));
  v128.store(dst, f64x2.add(v128.load(dst, 16), f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 2, 3))), 16);
}

// (Σg, Σg·x̂) of one row as the two lanes of an f64x2, g = dy·w, x̂ = (x − m)·rs; each x̂ is also
// parked at dx[i] for pass 2. 8 float32 lanes per sum over blocks of BLOCK/2 values (16 terms per
// lane), folded into float64 (see "row reductions").
@inline function rowSums(dxr: usize, dyr: usize, xr: usize, w: usize, D: i32, m: f32, rs: f32): v128 {
  const mv = f32x4.splat(m), rv = f32x4.splat(rs);
  let S = f64x2.splat(0), T = S;
  let i = 0;
  while (i + 8 <= D) {
    let s0 = f32x4.splat(0), s1 = s0, t0 = s0, t1 = s0;
    const end = min(D - 7, i + (BLOCK >> 1));
    for (; i < end; i += 8) {
      const p = <usize>i << 2;
      const g0 = f32x4.mul(v128.load(dyr + p), v128.load(w + p));
      const g1 = f32x4.mul(v128.load(dyr + p, 16), v128.load(w + p, 16));
      const h0 = f32x4.mul(f32x4.sub(v128.load(xr + p), mv), rv);
      const h1 = f32x4.mul(f32x4.sub(v128.load(xr + p, 16), mv), rv);
      v128.store(dxr + p, h0);
      v128.store(dxr + p, h1, 16);
      s0 = f32x4.add(s0, g0);
      s1 = f32x4.add(s1, g1);
      t0 = f32x4.add(t0, f32x4.mul(g0, h0));
      t1 = f32x4.add(t1, f32x4.mul(g1, h1));
    }
    S = fold(S, f32x4.add(s0, s1));
    T = fold(T, f32x4.add(t0, t1));
  }
  let s: f32 = 0, t: f32 = 0;
  for (; i < D; i++) {
    const p = <usize>i << 2;
    const g = load<f32>(dyr + p) * load<f32>(w + p);
    const h = (load<f32>(xr + p) - m) * rs;
    store<f32>(dxr + p, h);
    s += g;
    t += g * h;
  }
  return f64x2.replace_lane(f64x2.splat(lanes64(S) + <f64>s), 1, lanes64(T) + <f64>t);
}

// rowSums in float64 (slow path: a finite row where x − m overflows float32, e.g. [3e38, 3e38,
// −3e38]): x̂ computed in float64, then parked rounded to float32 (|x̂| ≤ √D).
function rowSums64(dxr: usize, dyr: usize, xr: usize, w: usize, D: i32, m: f32, rs: f32): v128 {
  let S: f64 = 0, T: f64 = 0;
  for (let i = 0; i < D; i++) {
    const p = <usize>i << 2;
    const g = <f64>load<f32>(dyr + p) * <f64>load<f32>(w + p);
    const h = (<f64>load<f32>(xr + p) - <f64>m) * <f64>rs;
    store<f32>(dxr + p, <f32>h);
    S += g;
    T += g * h;
  }
  return f64x2.replace_lane(f64x2.splat(S), 1, T);
}

// LayerNorm (mean != 0) or RMSNorm (mean == 0, so m = 0 and mean(g) is not subtracted) backward:
//   x̂ = (x − m)·rs,  g = dy·w,  dx = (g − mean(g) − x̂·mean(g·x̂))·rs,
//   dw64 += Σ_rows dy·x̂,  db64 += Σ_rows dy   (float64 accumulators, via float32 block sums).
// Per block of ≤ FLUSH rows: first each row's x̂ (parked in dx) and two means (rowSums), kept with
// rs as splats in `ac` (scratch of 64·FLUSH bytes); then strips of 8 columns down the block's
// rows, writing dx over x̂ and summing dy·x̂ and dy in registers, in row order: the float32 sums of
// a row-by-row walk. Parking x̂ trades pass 2's load of x, subtraction and product for one store
// in pass 1, which has none.
export function backward(dx: usize, dw64: usize, db64: usize, ac: usize, dy: usize, x: usize, mean: usize, rstd: usize, w: usize, rows: i32, D: i32): void {
  const ln = mean != 0;
  const rowBytes = <usize>D << 2;
  for (let r0 = 0; r0 < rows; r0 += FLUSH) {
    const nb = min(FLUSH, rows - r0);
    // pass 1: a = mean(g), c = mean(g·x̂) of each row of the block
    for (let r = 0; r < nb; r++) {
      const o = <usize>(r0 + r) * rowBytes;
      const xr = x + o, dyr = dy + o, dxr = dx + o;
      const m = ln ? load<f32>(mean + (<usize>(r0 + r) << 2)) : 0;
      const rs = load<f32>(rstd + (<usize>(r0 + r) << 2));
      let st = rowSums(dxr, dyr, xr, w, D, m, rs);
      // redone in float64 where float32 overflowed (or a NaN/Inf made them non-finite anyway)
      if (!isFinite<f64>(f64x2.extract_lane(st, 0) + f64x2.extract_lane(st, 1))) st = rowSums64(dxr, dyr, xr, w, D, m, rs);
      const k = ac + (<usize>r << 6);
      v128.store(k, f32x4.splat(rs), 16);
      v128.store(k, f32x4.splat(ln ? <f32>(f64x2.extract_lane(st, 0) / D) : 0), 32);
      v128.store(k, f32x4.splat(<f32>(f64x2.extract_lane(st, 1) / D)), 48);
    }
    // pass 2: dx and the block's dweight/dbias sums, 8 columns at a time down the rows
    const base = <usize>r0 * rowBytes;
    let j = 0;
    for (; j + 8 <= D; j += 8) {
      const p = <usize>j << 2;
      const w0 = v128.load(w + p), w1 = v128.load(w + p, 16);
      let sw0 = f32x4.splat(0), sw1 = sw0, sb0 = sw0, sb1 = sw0;
      let q = base + p;
      for (let k = ac; k < ac + (<usize>nb << 6); k += 64) {
        const rv = v128.load(k, 16), av = v128.load(k, 32), cv = v128.load(k, 48);
        const d0 = v128.load(dy + q), d1 = v128.load(dy + q, 16);
        const h0 = v128.load(dx + q), h1 = v128.load(dx + q, 16);
        v128.store(dx + q, f32x4.mul(f32x4.sub(f32x4.sub(f32x4.mul(d0, w0), av), f32x4.mul(h0, cv)), rv));
        v128.store(dx + q, f32x4.mul(f32x4.sub(f32x4.sub(f32x4.mul(d1, w1), av), f32x4.mul(h1, cv)), rv), 16);
        sw0 = f32x4.add(sw0, f32x4.mul(d0, h0));
        sw1 = f32x4.add(sw1, f32x4.mul(d1, h1));
        sb0 = f32x4.add(sb0, d0);
        sb1 = f32x4.add(sb1, d1);
        q += rowBytes;
      }
      flush4(dw64 + (<usize>j << 3), sw0);
      flush4(dw64 + (<usize>j << 3) + 32, sw1);
      flush4(db64 + (<usize>j << 3), sb0);
      flush4(db64 + (<usize>j << 3) + 32, sb1);
    }
    for (; j < D; j++) {
      const p = <usize>j << 2;
      const wj = load<f32>(w + p);
      let sw: f32 = 0, sb: f32 = 0;
      let q = base + p;
      for (let k = ac; k < ac + (<usize>nb << 6); k += 64) {
        const rs = load<f32>(k + 16);
        const d = load<f32>(dy + q);
        const xh = load<f32>(dx + q);
        store<f32>(dx + q, ((d * wj - load<f32>(k + 32)) - xh * load<f32>(k + 48)) * rs);
        sw += d * xh;
        sb += d;
        q += rowBytes;
      }
      const pd = <usize>j << 3;
      store<f64>(dw64 + pd, load<f64>(dw64 + pd) + <f64>sw);
      store<f64>(db64 + pd, load<f64>(db64 + pd) + <f64>sb);
    }
  }
}

// First free byte of linear memory: the caller lays its buffers out from here.
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

// ---- issue #12: storage conversions, elementwise steps, column kernels (one file each) -----------
export { widenF16, widenBf16, narrowF16, narrowBf16 } from "./convert";
export { addRows, addTo, silu, siluGateRows } from "./elementwise";
export { colSum, colSumSq, colApply, colGradSums, colBackward } from "./columns";
