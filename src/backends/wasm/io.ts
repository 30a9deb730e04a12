/**
 * Moving stored data (float32, or half bit patterns) between a caller's arrays and a wasm
 * runtime's linear memory, for issue #12's job loops: a chunk of float32 values is copied in or
 * out; a chunk of half values is copied as u16 into a scratch area and widened there by the
 * kernels (narrowed there on the way out), so no float32 copy of a half input is ever made in JS.
 */
import type { Stored } from "../../dtype.js";
import type { WasmRuntime } from "./runtime.js";

export class Io {
  readonly f: Float32Array;
  readonly u: Uint16Array;
  readonly d: Float64Array;

  /** Views of the runtime's memory as it is now (make one after `layout`, which may grow it); U: a u16 scratch of ≥ 2 bytes per value moved at once. */
  constructor(private readonly rt: WasmRuntime, private readonly U: number) {
    const buf = rt.kernels.memory.buffer;
    this.f = new Float32Array(buf);
    this.u = new Uint16Array(buf);
    this.d = new Float64Array(buf);
  }

  /** Values [at, at + n) of s as float32 at byte offset X (exact). */
  load(s: Stored, at: number, n: number, X: number): void {
    if (s.dtype === "float32") {
      this.f.set(s.data.subarray(at, at + n), X >> 2);
      return;
    }
    this.u.set(s.data.subarray(at, at + n), this.U >> 1);
    if (s.dtype === "float16") this.rt.kernels.widenF16(X, this.U, n);
    else this.rt.kernels.widenBf16(X, this.U, n);
  }

  /** The n float32 values at byte offset X into s[at …], rounded once to s's dtype. */
  store(s: Stored, at: number, n: number, X: number): void {
    if (s.dtype === "float32") {
      s.data.set(this.f.subarray(X >> 2, (X >> 2) + n), at);
      return;
    }
    if (s.dtype === "float16") this.rt.kernels.narrowF16(this.U, X, n);
    else this.rt.kernels.narrowBf16(this.U, X, n);
    s.data.set(this.u.subarray(this.U >> 1, (this.U >> 1) + n), at);
  }

  /** n float32 values at byte offset X: `v` (widened, or `fill` where null). */
  param(v: Float32Array | null, n: number, X: number, fill: number): void {
    if (v !== null) this.f.set(v.subarray(0, n), X >> 2);
    else this.f.fill(fill, X >> 2, (X >> 2) + n);
  }

  /** A float64 view of n values at byte offset X (8-aligned). */
  f64(X: number, n: number): Float64Array {
    return this.d.subarray(X >> 3, (X >> 3) + n);
  }

  /** A float32 view of n values at byte offset X. */
  f32(X: number, n: number): Float32Array {
    return this.f.subarray(X >> 2, (X >> 2) + n);
  }
}
