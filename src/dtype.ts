/**
 * Half-precision storage: exact conversions between float32 and the 16-bit formats normkit stores.
 *
 * - float16: IEEE 754 binary16 (1 sign, 5 exponent, 10 mantissa bits; max 65504, subnormals down
 *   to 2⁻²⁴).
 * - bfloat16: the top 16 bits of a float32 (1 sign, 8 exponent, 7 mantissa bits; float32's range).
 *
 * float32 → half rounds to nearest, ties to even, as IEEE 754 (and torch's `.to()`) does:
 * overflow gives ±Inf, float16 subnormals are exact, ±0 keep their sign. A NaN stays a NaN and
 * comes out quiet (quiet bit set, sign and top payload bits kept, as x86 F16C/AVX512-BF16 do).
 * half → float32 is exact (every half value is a float32), NaN payloads included in the array
 * versions. The `f64…` functions round a float64 (any JS number) once, correctly: the reference
 * uses them, where rounding through float32 first could round twice.
 *
 * Bit arithmetic on the float32 bit patterns, no tables: about as fast as a 65,536-entry lookup
 * table for half → float32, measured by `node build/bench/dtype.js` (docs/ops-semantics.md).
 */
import { NormError, describe } from "./errors.js";

export type DType = "float32" | "float16" | "bfloat16";
export type HalfDType = "float16" | "bfloat16";

/**
 * An array in one of the storage dtypes, as the validated arguments and the kernels carry it:
 * float32 values, or the uint16 bit patterns of a half dtype (a Float16Array is read through a
 * Uint16Array view of its memory: the same bits).
 */
export type Stored = { readonly data: Float32Array; readonly dtype: "float32" } | { readonly data: Uint16Array; readonly dtype: HalfDType };

/** Whether `d` names a storage dtype. */
export const isDType = (d: unknown): d is DType => d === "float32" || d === "float16" || d === "bfloat16";

// one float32 ↔ uint32 scratch for the scalar versions (no allocation per call)
const F = new Float32Array(1);
const U = new Int32Array(F.buffer);
const TWO52 = 2 ** 52;
const TWO_M24 = 2 ** -24;

// ---------------------------------------------------------------- float16

/** binary16 bits of a float32 bit pattern `u` (uint32), round to nearest even. */
export function f16FromF32Pattern(u: number): number {
  const s = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a >= 0x47800000) {
    // |x| ≥ 65536 (Inf, NaN, or overflow): NaN keeps its top 10 payload bits, quiet bit set
    return a > 0x7f800000 ? s | 0x7e00 | ((a >>> 13) & 0x3ff) : s | 0x7c00;
  }
  if (a >= 0x38800000) {
    // normal half (|x| ≥ 2⁻¹⁴): rebias the exponent (127 → 15), round the 13 dropped bits to
    // nearest even; a carry runs into the exponent (65520 → Inf, as IEEE rounding does)
    return s | ((a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13);
  }
  if (a <= 0x33000000) return s; // |x| ≤ 2⁻²⁵: ties to the even 0
  // subnormal half: q = |x|/2⁻²⁴ rounded; |x| = m·2^(e−150) with the 24-bit significand m
  const sh = 126 - (a >>> 23); // 14..24
  const m = (a & 0x7fffff) | 0x800000;
  const rem = m & ((1 << sh) - 1);
  const half = 1 << (sh - 1);
  let q = m >>> sh;
  if (rem > half || (rem === half && (q & 1) === 1)) q++; // q = 1024 is the smallest normal: right
  return s | q;
}

/** binary16 bits (0..65535) of `x` rounded to float32 first (as a Float32Array store would). */
export function f32ToF16Bits(x: number): number {
  F[0] = x;
  return f16FromF32Pattern(U[0]);
}

/** float32 bit pattern (as an int32) of binary16 bits `h`: exact, NaN payload kept. */
export function f32PatternFromF16(h: number): number {
  const s = (h & 0x8000) << 16;
  const em = (h & 0x7fff) << 13; // exponent and mantissa in float32's places
  const e = h & 0x7c00;
  if (e === 0x7c00) return s | em | 0x7f800000; // Inf, NaN
  if (e !== 0) return s | (em + 0x38000000); // normal: rebias the exponent (15 → 127)
  if (em === 0) return s;
  // subnormal half m·2⁻²⁴ is a normal float32: move the leading 1 of m to the implicit bit
  const m = h & 0x3ff;
  const lead = 31 - Math.clz32(m); // 0..9
  return s | ((lead + 103) << 23) | (((m << (10 - lead)) & 0x3ff) << 13);
}

/** The value of binary16 bits `h` (exact). */
export function f16BitsToF32(h: number): number {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? m * TWO_M24 : e === 31 ? (m === 0 ? Infinity : NaN) : (1024 + m) * 2 ** (e - 25);
  return h & 0x8000 ? -v : v;
}

// ---------------------------------------------------------------- bfloat16

/** bfloat16 bits of a float32 bit pattern `u`: round to nearest even; NaN quiet, payload top bits kept. */
export function bf16FromF32Pattern(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; // the carry makes max·(1 + 2⁻⁸) and above ±Inf
}

/** bfloat16 bits (0..65535) of `x` rounded to float32 first. */
export function f32ToBf16Bits(x: number): number {
  F[0] = x;
  return bf16FromF32Pattern(U[0]);
}

/** The value of bfloat16 bits `h` (exact). */
export function bf16BitsToF32(h: number): number {
  U[0] = (h & 0xffff) << 16;
  return F[0];
}

// ---------------------------------------------------------------- float64 → half, one rounding

/** rint for 0 ≤ v < 2⁵²: adding 2⁵² leaves no fraction bits, so the add rounds to nearest even. */
const rint = (v: number) => v + TWO52 - TWO52;

/**
 * Bits of |x| (a float64) rounded once to a format with `p` significand bits (implicit 1 included),
 * smallest normal exponent `emin` and exponent bias `bias`; `infBits` its +Inf pattern.
 */
function halfBitsOf64(x: number, p: number, emin: number, bias: number, infBits: number, signBit: number, nanBits: number): number {
  if (x !== x) return nanBits;
  const s = x < 0 || Object.is(x, -0) ? signBit : 0;
  const a = Math.abs(x);
  if (a < 2 ** emin) return s | rint(a * 2 ** (p - 1 - emin)); // subnormal (or the smallest normal)
  if (a === Infinity) return s | infBits;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 may be off by one next to a power of two
  else if (2 ** (e + 1) <= a) e++;
  let q = rint(a * 2 ** (p - 1 - e)); // in [2^(p−1), 2^p]
  if (q === 2 ** p) {
    q /= 2;
    e++;
  }
  const field = e + bias;
  if (field >= infBits >>> (p - 1)) return s | infBits;
  return s | (field << (p - 1)) | (q - 2 ** (p - 1));
}

/** binary16 bits of the float64 `x` rounded once to nearest even (NaN → 0x7e00). */
export function f64ToF16Bits(x: number): number {
  return halfBitsOf64(x, 11, -14, 15, 0x7c00, 0x8000, 0x7e00);
}

/** bfloat16 bits of the float64 `x` rounded once to nearest even (NaN → 0x7fc0). */
export function f64ToBf16Bits(x: number): number {
  return halfBitsOf64(x, 8, -126, 127, 0x7f80, 0x8000, 0x7fc0);
}

/** `x` (a float64) rounded once to `dtype`, as a number. */
export function roundToDType(x: number, dtype: DType): number {
  if (dtype === "float16") return f16BitsToF32(f64ToF16Bits(x));
  if (dtype === "bfloat16") return bf16BitsToF32(f64ToBf16Bits(x));
  return Math.fround(x); // float32: Math.fround rounds once, to nearest even
}

// ---------------------------------------------------------------- arrays

function checkArray<T>(a: unknown, ctor: { new (n: number): T; name: string }, name: string): T {
  // ArrayBuffer.isView: a Proxy of a typed array passes instanceof but has no buffer to view
  if (!ArrayBuffer.isView(a) || !(a instanceof (ctor as unknown as typeof Uint16Array))) {
    throw new NormError("BAD_DTYPE", name, `expected a ${ctor.name}, got ${describe(a)}`);
  }
  return a as T;
}

/** `out` (made if absent) of src's length, not overlapping src. */
function outArray<T extends Uint16Array | Float32Array>(
  src: ArrayBufferView & { length: number }, out: unknown, ctor: { new (n: number): T; name: string },
): T {
  if (out === undefined) return new ctor(src.length);
  const o = checkArray(out, ctor, "out");
  if (o.length !== src.length) {
    throw new NormError("SHAPE_MISMATCH", "out", `expected ${src.length} elements (src's length), got ${o.length}`);
  }
  const overlap = o.buffer === src.buffer && o.byteOffset < src.byteOffset + src.byteLength && src.byteOffset < o.byteOffset + o.byteLength;
  if (overlap && o.byteLength > 0) throw new NormError("BAD_ARGUMENT", "out", "must not overlap src");
  return o;
}

/**
 * The bit patterns of a Float32Array (same memory), as int32 (the helpers above take either). An
 * empty array (a detached one is empty) gets a fresh view: a detached buffer cannot be viewed.
 */
const bitsOf = (a: Float32Array) => (a.length === 0 ? new Int32Array(0) : new Int32Array(a.buffer, a.byteOffset, a.length));

/** binary16 bits of every element of `src` (into `out` if given). */
export function f32ToF16BitsArray(src: Float32Array, out?: Uint16Array): Uint16Array {
  const u = bitsOf(checkArray(src, Float32Array, "src"));
  const o = outArray(src, out, Uint16Array);
  for (let i = 0; i < u.length; i++) o[i] = f16FromF32Pattern(u[i]);
  return o;
}

/** The float32 values of binary16 bits `src` (into `out` if given); NaN payloads kept. */
export function f16BitsToF32Array(src: Uint16Array, out?: Float32Array): Float32Array {
  checkArray(src, Uint16Array, "src");
  const o = outArray(src, out, Float32Array);
  const u = bitsOf(o);
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const h = src[i];
    const e = h & 0x7c00;
    // the normal case inline: 8–10% faster than calling f32PatternFromF16 for every element (two
    // runs of 21 rounds on the shared 2-core VM)
    u[i] = e !== 0 && e !== 0x7c00 ? ((h & 0x8000) << 16) | (((h & 0x7fff) << 13) + 0x38000000) : f32PatternFromF16(h);
  }
  return o;
}

/** bfloat16 bits of every element of `src` (into `out` if given). */
export function f32ToBf16BitsArray(src: Float32Array, out?: Uint16Array): Uint16Array {
  const u = bitsOf(checkArray(src, Float32Array, "src"));
  const o = outArray(src, out, Uint16Array);
  for (let i = 0; i < u.length; i++) o[i] = bf16FromF32Pattern(u[i]);
  return o;
}

/** The float32 values of bfloat16 bits `src` (into `out` if given); NaN payloads kept. */
export function bf16BitsToF32Array(src: Uint16Array, out?: Float32Array): Float32Array {
  checkArray(src, Uint16Array, "src");
  const o = outArray(src, out, Float32Array);
  const u = bitsOf(o);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
  return o;
}
