/**
 * Portable transcendental functions for the lab's result paths (initialisation, data, GELU,
 * softmax, cross-entropy, Adam's bias correction).
 *
 * Why: ECMAScript leaves Math.exp, log, sin, cos, tanh and pow "implementation-approximated", and
 * engines differ in the last bit. Measured here on 200,000 random arguments each: Node 20 (V8 11.3)
 * and Chromium 156 disagree on 3.4 % of Math.log results, 9.8 % of Math.exp, 3.5 % of Math.sin/cos, 9 %
 * of Math.pow, 0.08 % of Math.tanh (0.9 ** 4 is 0.6561000000000001 in one and 0.6561 in the other).
 * A one-bit difference in a loss or an initial weight made `npm start` and the web lab (issue 13)
 * disagree on training losses. These functions use only +, −, ×, ÷ and sqrt, which IEEE 754 rounds
 * exactly and JavaScript never fuses, so they return the same bits in every engine and version.
 *
 * Accuracy (test/lab/web-math.test.ts, against Math.* on the same arguments): within 1 ulp for exp
 * and log, 2 ulp for sin/cos, 4 ulp for tanh/expm1. The algorithms are the classic ones (as in Sun's
 * fdlibm): Cody–Waite argument reduction, then a minimax rational or polynomial approximation.
 */

// the two 32-bit words of a double (hosts are little-endian in practice; checked, not assumed)
const F = new Float64Array(1);
const W = new Uint32Array(F.buffer);
F[0] = 1;
const HI = W[1] === 0x3ff00000 ? 1 : 0;
const LO = 1 - HI;

/** 2^n for an integer n in [−1022, 1023], exactly, from its bits. */
function pow2(n: number): number {
  W[HI] = (n + 1023) << 20;
  W[LO] = 0;
  return F[0];
}

const LN2_HI = 6.93147180369123816490e-1; // ln 2 to 33 bits: k·LN2_HI is exact for |k| < 2^20
const LN2_LO = 1.90821492927058770002e-10; // ln 2 − LN2_HI
const INV_LN2 = 1.44269504088896338700;
// minimax coefficients of R(r²), where r·(e^r + 1)/(e^r − 1) = 2 + R, on |r| ≤ ln2/2
const P1 = 1.66666666666666019037e-1;
const P2 = -2.77777777770155933842e-3;
const P3 = 6.61375632143793436117e-5;
const P4 = -1.65339022054652515390e-6;
const P5 = 4.13813679705723846039e-8;
const TWO_M1000 = 9.33263618503218878990e-302; // 2^-1000

/** c(r) = r − r²·(P1 + …): then e^r = 1 + r + r·c/(2 − c), accurate to < 1 ulp on |r| ≤ ln2/2. */
const expC = (r: number) => {
  const t = r * r;
  return r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
};

/** e^x, the same bits in every JavaScript engine. */
export function exp(x: number): number {
  if (x !== x) return NaN;
  if (x > 7.09782712893383973096e2) return Infinity;
  if (x < -7.45133219101941108420e2) return 0;
  const ax = x < 0 ? -x : x;
  if (ax < 3.725290298461914e-9) return 1 + x; // |x| < 2^-28: e^x = 1 + x to the last bit
  if (ax <= 0.34657359027997264) {
    // |x| ≤ ln2/2: no reduction
    const c = expC(x);
    return 1 - ((x * c) / (c - 2) - x);
  }
  // x = k·ln2 + (hi − lo), |hi − lo| ≤ ln2/2, k rounded half away from zero
  const k = Math.trunc(INV_LN2 * x + (x < 0 ? -0.5 : 0.5));
  const hi = x - k * LN2_HI;
  const lo = k * LN2_LO;
  const r = hi - lo;
  const c = expC(r);
  const y = 1 - ((lo - (r * c) / (2 - c)) - hi);
  if (k >= -1021) return k === 1024 ? y * 2 * pow2(1023) : y * pow2(k);
  return y * pow2(k + 1000) * TWO_M1000; // subnormal result: scale in two steps
}

/** e^x − 1, accurate also near 0. */
export function expm1(x: number): number {
  const ax = x < 0 ? -x : x;
  if (ax <= 0.34657359027997264) {
    if (x === 0) return x; // keeps −0
    const c = expC(x);
    return x + (x * c) / (2 - c);
  }
  // |e^x − 1| ≥ 0.29 here, so the subtraction costs at most ~2 ulp
  return exp(x) - 1;
}

// log: minimax coefficients of (log(1+f) − 2s)/s, s = f/(2+f), on the reduced range
const LG1 = 6.666666666666735130e-1;
const LG2 = 3.999999999940941908e-1;
const LG3 = 2.857142874366239149e-1;
const LG4 = 2.222219843214978396e-1;
const LG5 = 1.818357216161805012e-1;
const LG6 = 1.531383769920937332e-1;
const LG7 = 1.479819860511658591e-1;
const TWO54 = 1.80143985094819840000e16;

/** Natural logarithm, the same bits in every JavaScript engine. */
export function log(x: number): number {
  F[0] = x;
  let hx = W[HI] | 0;
  const lx = W[LO];
  let k = 0;
  if (hx < 0x00100000) {
    // zero, negative or subnormal
    if (((hx & 0x7fffffff) | lx) === 0) return -Infinity;
    if (hx < 0) return NaN;
    k -= 54;
    x *= TWO54;
    F[0] = x;
    hx = W[HI] | 0;
  }
  if (hx >= 0x7ff00000) return x + x; // +Infinity or NaN
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  // x = 2^k·m with m in [√2/2, √2): i says whether the mantissa is past √2 and m must be halved
  const i = (hx + 0x95f64) & 0x100000;
  F[0] = x;
  W[HI] = hx | (i ^ 0x3ff00000);
  const m = F[0];
  k += i >> 20;
  const f = m - 1;
  const dk = k;
  if ((0x000fffff & (2 + hx)) < 3) {
    // |f| < 2^-20: a short series suffices
    if (f === 0) return k === 0 ? 0 : dk * LN2_HI + dk * LN2_LO;
    const R = f * f * (0.5 - 0.33333333333333333 * f);
    return k === 0 ? f - R : dk * LN2_HI - ((R - dk * LN2_LO) - f);
  }
  const s = f / (2 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const R = t2 + t1;
  if (((hx - 0x6147a) | (0x6b851 - hx)) > 0) {
    const hfsq = 0.5 * f * f;
    return k === 0 ? f - (hfsq - s * (hfsq + R)) : dk * LN2_HI - ((hfsq - (s * (hfsq + R) + dk * LN2_LO)) - f);
  }
  return k === 0 ? f - s * (f - R) : dk * LN2_HI - ((s * (f - R) - dk * LN2_LO) - f);
}

// sin/cos kernels on [−π/4, π/4] (x + y, y the tail of the reduced argument)
const S1 = -1.66666666666666324348e-1;
const S2 = 8.33333333332248946124e-3;
const S3 = -1.98412698298579493134e-4;
const S4 = 2.75573137070700676789e-6;
const S5 = -2.50507602534068634195e-8;
const S6 = 1.58969099521155010221e-10;
const C1 = 4.16666666666666019037e-2;
const C2 = -1.38888888888741095749e-3;
const C3 = 2.48015872894767294178e-5;
const C4 = -2.75573143513906633035e-7;
const C5 = 2.08757232129817482790e-9;
const C6 = -1.13596475577881948265e-11;

function kSin(x: number, y: number): number {
  const z = x * x;
  const v = z * x;
  const r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
  return x - ((z * (0.5 * y - v * r) - y) - v * S1);
}

function kCos(x: number, y: number): number {
  const z = x * x;
  const r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
  const hz = 0.5 * z;
  const w = 1 - hz;
  return w + (((1 - w) - hz) + (z * r - x * y));
}

const PIO2_1 = 1.57079632673412561417; // π/2 to 33 bits: n·PIO2_1 is exact for n < 2^20
const PIO2_1T = 6.07710050650619224932e-11; // π/2 − PIO2_1
const INV_PIO2 = 6.36619772367581382433e-1;
/** Beyond this the two-part π/2 loses accuracy; the lab's angles stay below 2π. */
const REDUCE_MAX = 1.6e5;

/** x = n·π/2 + (r + tail), |r| ≤ ~π/4; calls `f(n mod 4, r, tail)`. */
function reduced(x: number, f: (q: number, r: number, tail: number) => number): number {
  const n = Math.trunc(x * INV_PIO2 + (x < 0 ? -0.5 : 0.5));
  const y0 = x - n * PIO2_1;
  const w = n * PIO2_1T;
  const r = y0 - w;
  return f(n & 3, r, (y0 - r) - w);
}

/** sin x, the same bits in every JavaScript engine for |x| < 1.6·10⁵ (beyond: Math.sin). */
export function sin(x: number): number {
  const ax = x < 0 ? -x : x;
  if (!(ax < REDUCE_MAX)) return Math.sin(x); // NaN, ±Infinity, or an angle the lab never uses
  if (ax <= 0.7853981633974483) return ax < 7.450580596923828e-9 ? x : kSin(x, 0);
  return reduced(x, (q, r, t) => (q === 0 ? kSin(r, t) : q === 1 ? kCos(r, t) : q === 2 ? -kSin(r, t) : -kCos(r, t)));
}

/** cos x, the same bits in every JavaScript engine for |x| < 1.6·10⁵ (beyond: Math.cos). */
export function cos(x: number): number {
  const ax = x < 0 ? -x : x;
  if (!(ax < REDUCE_MAX)) return Math.cos(x);
  if (ax <= 0.7853981633974483) return kCos(x, 0);
  return reduced(x, (q, r, t) => (q === 0 ? kCos(r, t) : q === 1 ? -kSin(r, t) : q === 2 ? -kCos(r, t) : kSin(r, t)));
}

/** tanh x from expm1, as fdlibm does: no cancellation near 0, exactly ±1 beyond |x| = 22. */
export function tanh(x: number): number {
  if (x !== x) return NaN;
  const ax = x < 0 ? -x : x;
  let z: number;
  if (ax >= 22) z = 1;
  else if (ax < 3.725290298461914e-9) return x;
  else if (ax >= 1) z = 1 - 2 / (expm1(2 * ax) + 2);
  else {
    const t = expm1(-2 * ax);
    z = -t / (t + 2);
  }
  return x < 0 ? -z : z;
}

// double-double products (Dekker): a·b = hi + lo exactly, from + − × only (no FMA needed)
const SPLIT = 134217729; // 2^27 + 1
let ddLo = 0;
/** hi of (ah + al)·(bh + bl) in double-double; its lo is left in ddLo. */
function ddMul(ah: number, al: number, bh: number, bl: number): number {
  const p = ah * bh;
  const ca = SPLIT * ah, a1 = ca - (ca - ah), a2 = ah - a1;
  const cb = SPLIT * bh, b1 = cb - (cb - bh), b2 = bh - b1;
  const err = ((a1 * b1 - p) + a1 * b2 + a2 * b1) + a2 * b2; // p + err = ah·bh exactly
  const lo = err + (ah * bl + al * bh);
  const hi = p + lo;
  ddLo = lo - (hi - p);
  return hi;
}

/**
 * b^n for an integer n ≥ 0 (Adam's β^t), as `b ** n` differs by engine: repeated squaring in
 * double-double, so the ~2·log2(n) roundings cost ~2^-100 each and the result is within 1 ulp
 * (plain repeated squaring doubles the error with every squaring: 860 ulp for 0.9^5000).
 * Intermediate powers must stay within about 1e±290 (Dekker's split overflows beyond).
 */
export function powInt(b: number, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new Error(`powInt: n must be a non-negative integer, got ${n}`);
  let rh = 1, rl = 0;
  let bh = b, bl = 0;
  for (let e = n; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) {
      rh = ddMul(rh, rl, bh, bl);
      rl = ddLo;
    }
    if (e > 1) {
      bh = ddMul(bh, bl, bh, bl);
      bl = ddLo;
    }
  }
  return rh;
}
