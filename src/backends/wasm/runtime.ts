/**
 * One instance of the WebAssembly kernels with its own linear memory, and the row loops that feed
 * it. Used by the synchronous `wasm` backend (src/backends/wasm/index.ts) and by each pool worker
 * (src/pool/worker.ts), so both run the same code on the same row grid: a row's result is
 * bitwise the same whichever thread computes it.
 *
 * Data streams through wasm memory in chunks of whole rows (~64 KiB per array): copy a chunk of x
 * in, run the kernel, copy the chunk of y out. The chunk stays in L2, so main memory sees x read
 * once and y written once, as for a kernel working in place; memory stays small and only grows for
 * very wide rows. Measured (bench/quick-wasm.ts, CPU time, 2-vCPU shared VM): this costs about
 * the copy floor plus the kernels' arithmetic on cached rows, and is no slower than the kernels on
 * data already in wasm memory, where memory stalls and arithmetic do not overlap either. The
 * arithmetic (≈0.43 ns/element LayerNorm forward, 0.23 RMSNorm, 0.67 backward, on L1-resident
 * rows) is about as long as copying the bytes, so the copy floor cannot be approached through
 * this path with f32x4 code. Chunks of 16 or 32 KiB (L1-sized) measured slower (more calls), and
 * 256 or 512 KiB no faster.
 */
import { NormError } from "../../errors.js";
import { KERNELS_WASM_BASE64 } from "./kernels.generated.js";

/** wasm32 linear memory tops out at 65536 pages of 64 KiB. */
export const WASM_MAX_BYTES = 65536 * 65536;
/**
 * Memory a runtime keeps between calls: the 64 KiB chunks of rows up to 16384 wide need < 2 MiB.
 * Wider rows grow it (one row per chunk: ~16 bytes per value forward, ~32 backward); `trim()`
 * then drops the instance, so a one-off wide call does not pin its memory for the process's life.
 */
const KEEP_BYTES = 16 << 20;

export interface KernelExports {
  memory: WebAssembly.Memory;
  FLUSH: WebAssembly.Global;
  heapBase(): number;
  /** LayerNorm forward, or RMSNorm where mean = 0; b = 0: no bias; w = 0: statistics only. */
  forward(y: number, mean: number, rstd: number, x: number, w: number, b: number, rows: number, D: number, eps: number): void;
  /** LayerNorm backward, or RMSNorm where mean = 0; ac: scratch of 64·FLUSH bytes. */
  backward(dx: number, dw64: number, db64: number, ac: number, dy: number, x: number, mean: number, rstd: number, w: number, rows: number, D: number): void;
  // issue #12 (assembly/convert.ts, elementwise.ts, columns.ts; the loops that call them: jobs-*.ts)
  widenF16(dst: number, src: number, n: number): void;
  widenBf16(dst: number, src: number, n: number): void;
  narrowF16(dst: number, src: number, n: number): void;
  narrowBf16(dst: number, src: number, n: number): void;
  addRows(h: number, x: number, r: number, ib: number, rows: number, D: number): void;
  addTo(dst: number, src: number, n: number): void;
  silu(y: number, n: number): void;
  siluGateRows(g: number, dy: number, x: number, mean: number, rstd: number, w: number, b: number, rows: number, D: number): void;
  colSum(acc: number, x: number, rows: number, W: number): void;
  colSumSq(acc: number, x: number, mu: number, rows: number, W: number): void;
  colApply(y: number, x: number, m: number, mlo: number, s: number, b: number, rows: number, W: number, silu: boolean): void;
  colGradSums(sg: number, sgx: number, dy: number, x: number, m: number, mlo: number, rs: number, w: number, b: number, rows: number, W: number, silu: boolean): void;
  colBackward(dx: number, dy: number, x: number, m: number, mlo: number, rs: number, w: number, b: number, a: number, c: number, rows: number, W: number, silu: boolean): void;
}

/** Floats per streamed array chunk (16 Ki floats = 64 KiB). */
const CHUNK_FLOATS = 16384;

let compiled: WebAssembly.Module | null | undefined;

/** The compiled kernels, or null where WebAssembly or its SIMD is unavailable (compiled once). */
export function kernelsModule(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    // atob: in every browser and in Node ≥ 16; no Buffer, so browser bundles need no polyfill
    const s = atob(KERNELS_WASM_BASE64);
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    // synchronous compile, also on a browser's main thread: the module is ~13 KB since issue #12
    // (half storage, fused add, column kernels), past the 4 KB that older Chromium compiled
    // synchronously on the main thread; Chromium 156 compiles 8 MB synchronously (measured);
    // test/backends/browser-pool.test.ts checks that a page gets wasm
    compiled = new WebAssembly.Module(bytes);
  } catch {
    compiled = null;
  }
  return compiled;
}

/**
 * Rows per chunk for width D. When a chunk holds FLUSH rows or more it is a multiple of FLUSH, so
 * the kernels' float32 dweight/dbias blocks fall on the same global row grid for any split of the
 * rows into chunk-aligned ranges (threads split on chunk boundaries: see `splitRows`).
 */
export function chunkRows(D: number, flush: number): number {
  const cr = Math.max(1, Math.floor(CHUNK_FLOATS / Math.max(1, D)));
  return cr >= flush ? cr - (cr % flush) : cr;
}

/** Splits rows [0, rows) into `parts` chunk-aligned ranges, in order (some may be empty). */
export function splitRows(rows: number, D: number, parts: number, flush: number): Array<[number, number]> {
  const cr = chunkRows(D, flush);
  const chunks = Math.ceil(rows / cr);
  const out: Array<[number, number]> = [];
  for (let t = 0; t < parts; t++) {
    const c0 = Math.floor((t * chunks) / parts);
    const c1 = Math.floor(((t + 1) * chunks) / parts);
    out.push([Math.min(rows, c0 * cr), Math.min(rows, c1 * cr)]);
  }
  return out;
}

export class WasmRuntime {
  readonly flush: number;
  private ex: KernelExports;
  private readonly base: number;

  constructor(private readonly module: WebAssembly.Module) {
    this.ex = new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
    this.base = this.ex.heapBase();
    this.flush = this.ex.FLUSH.value as number;
  }

  /** Bytes of linear memory this runtime holds now. */
  get memoryBytes(): number {
    return this.ex.memory.buffer.byteLength;
  }

  /**
   * Wasm memory cannot shrink: after a call grew it past KEEP_BYTES, start over on a fresh
   * instance (same module, ~0.1 ms) and let the old memory be collected. Views a previous call
   * returned keep the old memory alive until dropped, so they stay valid.
   */
  trim(): void {
    if (this.memoryBytes > KEEP_BYTES) this.ex = new WebAssembly.Instance(this.module, {}).exports as unknown as KernelExports;
  }

  /** The instance's exports (issue #12's job loops call them; valid until the next trim). */
  get kernels(): KernelExports {
    return this.ex;
  }

  /** Byte offsets (16-byte aligned) of consecutive buffers of the given byte sizes; grows memory to fit. */
  layout(bytes: number[]): number[] {
    const offs: number[] = [];
    let p = this.base;
    for (const b of bytes) {
      offs.push(p);
      p += (b + 15) & ~15;
    }
    const mem = this.ex.memory;
    if (p > mem.buffer.byteLength) {
      const need = `a row of this width needs ${(p / 2 ** 20).toFixed(0)} MiB of WebAssembly memory`;
      if (p > WASM_MAX_BYTES) throw new NormError("LIMIT_EXCEEDED", "normalizedShape", `${need}, over wasm32's limit of 4 GiB; use the js backend`);
      try {
        mem.grow(Math.ceil((p - mem.buffer.byteLength) / 65536));
      } catch (e) {
        throw new NormError("LIMIT_EXCEEDED", "normalizedShape", `${need} and the runtime refused to grow it (${e instanceof Error ? e.message : String(e)}); use the js backend`);
      }
    }
    return offs;
  }

  /**
   * LayerNorm (mean !== null) or RMSNorm forward of rows [r0, r1) of x into y (null: statistics
   * only), mean, rstd. Row r is x[(r·stride + base)·D …] and its statistics sit at r·stride + base:
   * stride 1 for contiguous rows, G for GroupNorm's group g (base g) across samples.
   */
  forward(
    y: Float32Array | null, mean: Float32Array | null, rstd: Float32Array,
    x: Float32Array, w: Float32Array | null, b: Float32Array | null,
    r0: number, r1: number, D: number, eps: number, stride = 1, base = 0,
  ): void {
    if (r1 <= r0 || D === 0) return;
    const cr = chunkRows(D, this.flush);
    const n = cr * D;
    const [W, B, X, Y, M, R] = this.layout([4 * D, 4 * D, 4 * n, 4 * n, 4 * cr, 4 * cr]);
    const f = new Float32Array(this.ex.memory.buffer);
    if (w !== null) f.set(w, W >> 2);
    else f.fill(1, W >> 2, (W >> 2) + D);
    // the kernel adds LayerNorm's bias unconditionally (zeros when absent); RMSNorm's only if given
    if (b !== null) f.set(b, B >> 2);
    else if (mean !== null) f.fill(0, B >> 2, (B >> 2) + D);
    const Bp = b !== null || mean !== null ? B : 0;
    const rows = new Rows(stride, base, D);
    for (let r = r0; r < r1; r += cr) {
      const k = Math.min(cr, r1 - r);
      rows.gather(f, X >> 2, x, r, k);
      // w = 0 asks for the statistics only when y is not wanted
      this.ex.forward(Y, mean !== null ? M : 0, R, X, y !== null ? W : 0, Bp, k, D, eps);
      if (mean !== null) rows.scatterStats(mean, f, M >> 2, r, k);
      if (y !== null) rows.scatter(y, f, Y >> 2, r, k);
      rows.scatterStats(rstd, f, R >> 2, r, k);
    }
  }

  /**
   * LayerNorm (mean !== null) or RMSNorm backward of rows [r0, r1) (laid out as for forward):
   * writes dx; returns float64 Σ dy·x̂ and Σ dy per column over those rows (views into wasm
   * memory, valid until the next call).
   */
  backward(
    dx: Float32Array, dy: Float32Array, x: Float32Array, mean: Float32Array | null, rstd: Float32Array,
    w: Float32Array | null, r0: number, r1: number, D: number, stride = 1, base = 0,
  ): { dw: Float64Array; db: Float64Array } {
    const cr = chunkRows(D, this.flush);
    const n = cr * D;
    const [W, AC, DW64, DB64, X, DY, DX, M, R] = this.layout(
      [4 * D, 64 * this.flush, 8 * D, 8 * D, 4 * n, 4 * n, 4 * n, 4 * cr, 4 * cr],
    );
    const buf = this.ex.memory.buffer;
    const f = new Float32Array(buf);
    if (w !== null) f.set(w, W >> 2);
    else f.fill(1, W >> 2, (W >> 2) + D);
    const dw = new Float64Array(buf, DW64, D).fill(0);
    const db = new Float64Array(buf, DB64, D).fill(0);
    const rows = new Rows(stride, base, D);
    for (let r = r0; r < r1; r += cr) {
      const k = Math.min(cr, r1 - r);
      rows.gather(f, X >> 2, x, r, k);
      rows.gather(f, DY >> 2, dy, r, k);
      rows.gatherStats(f, R >> 2, rstd, r, k);
      if (mean !== null) rows.gatherStats(f, M >> 2, mean, r, k);
      this.ex.backward(DX, DW64, DB64, AC, DY, X, mean !== null ? M : 0, R, W, k, D);
      rows.scatter(dx, f, DX >> 2, r, k);
    }
    return { dw, db };
  }
}

/**
 * Moves k rows starting at row r between a caller's array and wasm memory: one block copy when
 * rows are contiguous (stride 1, base 0), else one copy per row (row r at (r·stride + base)·D).
 */
class Rows {
  constructor(private readonly stride: number, private readonly base: number, private readonly D: number) {}

  private at(r: number): number {
    return r * this.stride + this.base;
  }

  gather(f: Float32Array, to: number, src: Float32Array, r: number, k: number): void {
    const D = this.D;
    if (this.stride === 1 && this.base === 0) f.set(src.subarray(r * D, (r + k) * D), to);
    else for (let i = 0; i < k; i++) f.set(src.subarray(this.at(r + i) * D, (this.at(r + i) + 1) * D), to + i * D);
  }

  scatter(dst: Float32Array, f: Float32Array, from: number, r: number, k: number): void {
    const D = this.D;
    if (this.stride === 1 && this.base === 0) dst.set(f.subarray(from, from + k * D), r * D);
    else for (let i = 0; i < k; i++) dst.set(f.subarray(from + i * D, from + (i + 1) * D), this.at(r + i) * D);
  }

  gatherStats(f: Float32Array, to: number, src: Float32Array, r: number, k: number): void {
    if (this.stride === 1 && this.base === 0) f.set(src.subarray(r, r + k), to);
    else for (let i = 0; i < k; i++) f[to + i] = src[this.at(r + i)]!;
  }

  scatterStats(dst: Float32Array, f: Float32Array, from: number, r: number, k: number): void {
    if (this.stride === 1 && this.base === 0) dst.set(f.subarray(from, from + k), r);
    else for (let i = 0; i < k; i++) dst[this.at(r + i)] = f[from + i]!;
  }
}
