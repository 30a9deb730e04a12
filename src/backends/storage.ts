/**
 * Rows of stored data (float32, or half bit patterns) as float32 values, for the CPU kernels'
 * TypeScript side (js kernels; the wasm runtime's chunk loops): a row, or a run of rows, is
 * widened into a scratch array, computed on, and narrowed back — the inputs are never converted
 * as a whole. The bit arithmetic is src/dtype.ts's (exact; round to nearest even; NaN kept quiet).
 */
import { bf16FromF32Pattern, f16FromF32Pattern, f32PatternFromF16, type DType, type Stored } from "../dtype.js";

/** Reusable float32 scratch arrays, grown on demand (one set per kernel call). */
export class Scratch {
  private readonly arrays: Float32Array[] = [];

  /** Scratch array number k, of at least n values. */
  get(k: number, n: number): Float32Array {
    let a = this.arrays[k];
    if (a === undefined || a.length < n) this.arrays[k] = a = new Float32Array(n);
    return a;
  }
}

/**
 * Values [at, at + n) of `s` as float32: a view of s itself when it is float32 (no copy), else
 * widened into `scratch` (exact) and returned as its first n values.
 */
export function readRow(s: Stored, at: number, n: number, scratch: Float32Array): Float32Array {
  if (s.dtype === "float32") return s.data.subarray(at, at + n);
  widen(scratch, 0, s, at, n);
  return scratch.subarray(0, n);
}

/** dst[to + i] = value of s[at + i], i < n (exact). */
export function widen(dst: Float32Array, to: number, s: Stored, at: number, n: number): void {
  if (s.dtype === "float32") {
    dst.set(s.data.subarray(at, at + n), to);
    return;
  }
  const u = new Int32Array(dst.buffer, dst.byteOffset, dst.length);
  const h = s.data;
  if (s.dtype === "bfloat16") {
    for (let i = 0; i < n; i++) u[to + i] = h[at + i]! << 16;
    return;
  }
  for (let i = 0; i < n; i++) {
    const b = h[at + i]!;
    const e = b & 0x7c00;
    // normal values inline (as f16BitsToF32Array), the rest through the general conversion
    u[to + i] = e !== 0 && e !== 0x7c00 ? ((b & 0x8000) << 16) | (((b & 0x7fff) << 13) + 0x38000000) : f32PatternFromF16(b);
  }
}

/** s[at + i] = src[from + i], i < n, rounded once to s's dtype (src holds float32 values). */
export function narrow(s: Stored, at: number, src: Float32Array, from: number, n: number): void {
  if (s.dtype === "float32") {
    s.data.set(src.subarray(from, from + n), at);
    return;
  }
  const u = new Int32Array(src.buffer, src.byteOffset, src.length);
  const h = s.data;
  if (s.dtype === "bfloat16") for (let i = 0; i < n; i++) h[at + i] = bf16FromF32Pattern(u[from + i]!);
  else for (let i = 0; i < n; i++) h[at + i] = f16FromF32Pattern(u[from + i]!);
}

/** A small array (parameters: D or C values) widened whole to float32, or null. */
export function widenAll(s: Stored | null): Float32Array | null {
  if (s === null) return null;
  if (s.dtype === "float32") return s.data;
  const out = new Float32Array(s.data.length);
  widen(out, 0, s, 0, out.length);
  return out;
}

const F = new Float32Array(1);
const U = new Int32Array(F.buffer);

/**
 * v rounded to `dtype` (through float32: a float64 value within 2⁻²⁴ relative of a half rounding
 * boundary may round the other way than a single rounding would; the casting modes' roundings,
 * the only users, are specified on float32 values).
 */
export function roundVia32(v: number, dtype: DType): number {
  F[0] = v;
  if (dtype === "float32") return F[0];
  U[0] = dtype === "float16" ? f32PatternFromF16(f16FromF32Pattern(U[0])) : bf16FromF32Pattern(U[0]) << 16;
  return F[0];
}
