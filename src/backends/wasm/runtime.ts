/**
 * The row loops that feed the WebAssembly kernels, on normkit's one linear memory
 * (src/backends/wasm/memory.ts). Used by the synchronous `wasm` backend (src/backends/wasm/index.ts)
 * and, at the pointer level (KernelInstance), by each pool worker (src/pool/worker.ts) on the same
 * shared memory, all on one row grid: a row's result is bitwise the same whichever thread computes
 * it, and whether its arrays are resident or streamed.
 *
 * Each row array of a call (x, y, dy, dx, mean, rstd) is either resident — a view of the memory,
 * e.g. a `wasmTensor`'s data — and then the kernel reads and writes it in place, or it is streamed:
 * copied through a scratch chunk of whole rows (~64 KiB) next to the kernel, x in before the
 * kernel runs, y out after. Mixed calls stream only the arrays that are not resident.
 *
 * What each costs, measured with bench/quick-wasm.ts on a 2-vCPU Intel Xeon VM (KVM, 300 MiB L3,
 * Node 20.20; shared with other work, load average 11–13, so CPU time of the process, median of
 * per-round ratios to a plain copy of the same bytes, source cold): LayerNorm forward [4096, 768]
 * in place 2.45×, streamed into a reused `out` 3.55×, streamed into a fresh y 4.6×; RMSNorm
 * forward 1.86× / 2.71× / 4.61×; LayerNorm backward (saved statistics, `out`, `into`) 1.70× in
 * place, 3.08× streamed; at [1024, 4096] the same within 0.3×. So the two copies cost about a
 * floor and a half, and the chunks do not hide them: on this machine the kernels' arithmetic
 * (≈0.7–1.0 ns per value for LayerNorm forward on rows already in L1, against ≈0.2 ns for the
 * copy) is what keeps the in-place kernels above the copy floor. (On the AMD EPYC VM of issue #11
 * the in-place forward ran at 0.97× the copy; an earlier note here, from an Intel VM, said
 * streaming cost no more than in place: not so on either machine now.) Chunks of 16 or 32 KiB
 * (L1-sized) measured slower (more calls), and 256 or 512 KiB no faster (earlier measurement).
 */
import { NormError } from "../../errors.js";
import { FIRST, WASM_MAX_BYTES, WasmHeap } from "./memory.js";

export { WASM_MAX_BYTES };
export { kernelsModule } from "./module.js";

/**
 * Scratch a runtime keeps between calls: the streamed chunks of rows up to 16384 wide need < 1 MiB.
 * Wider rows need more (one row per chunk: ~16 bytes per value forward, ~32 backward); `trim()`
 * then frees it for other allocations. A call that would need more than this and has no
 * resident array runs on a throwaway memory instead (see `spill`), as the memory itself never
 * shrinks: a one-off very wide row does not pin its memory for the process's life.
 */
const KEEP_BYTES = 16 << 20;

/** Floats per streamed array chunk (16 Ki floats = 64 KiB). */
const CHUNK_FLOATS = 16384;

export interface KernelExports {
  FLUSH: WebAssembly.Global;
  memory?: WebAssembly.Memory;
  heapBase(): number;
  /** LayerNorm forward, or RMSNorm where mean = 0; b = 0: no bias; w = 0: statistics only (y is scratch). */
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

/**
 * One instance of the kernels on a memory, and the row loops over byte offsets in it: what a pool
 * worker runs on rows that are all in the (shared) memory.
 */
export class KernelInstance {
  readonly flush: number;
  readonly ex: KernelExports;

  /** `memory`: the memory a module that imports one runs on (ignored by a module that exports its own). */
  constructor(readonly module: WebAssembly.Module, memory: WebAssembly.Memory | null) {
    const imports: WebAssembly.Imports = memory === null ? {} : { env: { memory } };
    this.ex = new WebAssembly.Instance(module, imports).exports as unknown as KernelExports;
    this.flush = this.ex.FLUSH.value as number;
  }

  /**
   * Forward of rows [r0, r1), all at byte offsets: y (or, with W = 0, scratch for a statistics-only
   * pass), mean (0: RMSNorm), rstd, x, weight W and bias B (0: none; LayerNorm needs zeros).
   * Rows are independent, so one kernel call covers the range.
   */
  forwardRows(Y: number, M: number, R: number, X: number, W: number, B: number, r0: number, r1: number, D: number, eps: number): void {
    if (r1 <= r0 || D === 0) return;
    const o = 4 * r0 * D;
    this.ex.forward(Y + o, M === 0 ? 0 : M + 4 * r0, R + 4 * r0, X + o, W, B, r1 - r0, D, eps);
  }

  /**
   * Backward of rows [r0, r1) at byte offsets, adding float64 Σ dy·x̂ and Σ dy per column into
   * DW64/DB64 (zeroed by the caller); AC: 64·FLUSH bytes of scratch. Called chunk by chunk on the
   * streamed path's grid, so dweight/dbias sum the same float32 row blocks either way.
   */
  backwardRows(DX: number, DW64: number, DB64: number, AC: number, DY: number, X: number, M: number, R: number, W: number, r0: number, r1: number, D: number): void {
    const cr = chunkRows(D, this.flush);
    for (let r = r0; r < r1; r += cr) {
      const k = Math.min(cr, r1 - r), o = 4 * r * D;
      this.ex.backward(DX + o, DW64, DB64, AC, DY + o, X + o, M === 0 ? 0 : M + 4 * r, R + 4 * r, W, k, D);
    }
  }
}

/**
 * The kernels on a heap: the row loops of the synchronous backend (Float32Array arguments, each
 * resident or streamed) with the scratch they need.
 */
export class WasmRuntime {
  readonly flush: number;
  readonly heap: WasmHeap;
  readonly kernels: KernelInstance;
  readonly #module: WebAssembly.Module;
  readonly #importsMemory: boolean;
  /** a throwaway runtime (see spill) streams everything itself */
  #throwaway = false;
  #scratch = 0;
  #scratchBytes = 0;

  /**
   * A runtime of `module` on `heap` (default: a heap of its own, as each runtime had its own memory
   * before memory was shared). A module that exports its own memory (an older build, as
   * bench/accuracy-cost.ts compiles) gets a heap over that memory.
   */
  constructor(module: WebAssembly.Module, heap?: WasmHeap) {
    const imports = WebAssembly.Module.imports(module).some((i) => i.kind === "memory");
    this.#module = module;
    this.#importsMemory = imports;
    if (imports) {
      this.heap = heap ?? new WasmHeap();
      this.kernels = new KernelInstance(module, this.heap.memory);
    } else {
      this.kernels = new KernelInstance(module, null);
      this.heap = new WasmHeap({ memory: this.kernels.ex.memory!, shared: false, maxBytes: WASM_MAX_BYTES });
    }
    // the heap hands out offsets from FIRST: the kernels' own static data must end below
    if (this.kernels.ex.heapBase() > FIRST) throw new Error("normkit: the kernels' static data overlap the heap");
    this.flush = this.kernels.flush;
  }

  /** Bytes of scratch this runtime holds now (its streamed chunks and sums). */
  get memoryBytes(): number {
    return this.#scratchBytes;
  }

  /** After a call whose scratch grew past KEEP_BYTES (a one-off very wide row), gives it back to the heap. */
  trim(): void {
    if (this.#scratchBytes > KEEP_BYTES) {
      this.heap.free(this.#scratch);
      this.#scratch = 0;
      this.#scratchBytes = 0;
    }
  }

  /** Byte offset of a resident array (a view of this runtime's memory), else -1. */
  residentOffset(a: Float32Array): number {
    return this.heap.owns(a.buffer) ? a.byteOffset : -1;
  }

  /**
   * A runtime on a memory of its own, for one call too large for the kept scratch with nothing
   * resident (a very wide row): dropped after the call, so the garbage collector frees its memory.
   */
  private spill(bytes: number, resident: boolean): WasmRuntime | null {
    if (bytes <= KEEP_BYTES || resident || !this.#importsMemory || !this.heap.shared || this.#throwaway) return null;
    const r = new WasmRuntime(this.#module, new WasmHeap(undefined, 1));
    r.#throwaway = true;
    return r;
  }

  /** Refuses a row wider than wasm32 memory can stream (4 arrays of D float32 at least). */
  private checkWidth(D: number): void {
    if (16 * D > WASM_MAX_BYTES) {
      throw new NormError("LIMIT_EXCEEDED", "normalizedShape", `a row of ${D} values needs more than wasm32's 4 GiB of WebAssembly memory (at most ${WASM_MAX_BYTES / 16} values); use the js backend`);
    }
  }

  /** The kernels' exports (issue #12's job loops, src/backends/wasm/jobs-*.ts, call them on offsets from `layout`). */
  get ex(): KernelExports {
    return this.kernels.ex;
  }

  /**
   * Byte offsets (64-byte aligned) of consecutive scratch buffers of the given byte sizes, in this
   * runtime's scratch block (grown, so possibly moved, when too small; views of a plain memory
   * made before a call to layout may be detached by it).
   */
  layout(bytes: number[]): number[] {
    let total = 0;
    const offs = bytes.map((b) => {
      const o = total;
      total += Math.ceil(b / 64) * 64;
      return o;
    });
    if (total > this.#scratchBytes) {
      if (this.#scratchBytes > 0) this.heap.free(this.#scratch);
      this.#scratch = 0;
      this.#scratchBytes = 0;
      this.#scratch = this.heap.alloc(total, "scratch", "normalizedShape");
      this.#scratchBytes = total;
    }
    return offs.map((o) => this.#scratch + o);
  }

  /** W: the weight's offset (resident), else a scratch copy (ones when absent). */
  private param(f: Float32Array, p: Float32Array | null, at: number, D: number, fill: number): number {
    if (p === null) f.fill(fill, at >> 2, (at >> 2) + D);
    else f.set(p, at >> 2);
    return at;
  }

  /**
   * LayerNorm (mean !== null) or RMSNorm forward of rows [r0, r1) of x into y (null: statistics
   * only), mean, rstd. Row r is x[(r·stride + base)·D …] and its statistics sit at r·stride + base:
   * stride 1 for contiguous rows, G for GroupNorm's group g (base g) across samples; strided rows
   * are always streamed.
   */
  forward(
    y: Float32Array | null, mean: Float32Array | null, rstd: Float32Array,
    x: Float32Array, w: Float32Array | null, b: Float32Array | null,
    r0: number, r1: number, D: number, eps: number, stride = 1, base = 0,
  ): void {
    if (r1 <= r0 || D === 0) return;
    this.checkWidth(D);
    const rows = new Rows(stride, base);
    // offsets of resident arrays first: allocating scratch may grow (and, if plain, detach) the memory
    const on = (a: Float32Array | null) => (a !== null && rows.contiguous ? this.residentOffset(a) : -1);
    const px = on(x), py = on(y), pm = on(mean), pr = on(rstd);
    const pw = w !== null ? this.residentOffset(w) : -1, pb = b !== null ? this.residentOffset(b) : -1;
    // the kernel adds LayerNorm's bias unconditionally (zeros when absent); RMSNorm's only if given
    const needB = b !== null || mean !== null;
    const all = px >= 0 && py >= 0 && pr >= 0 && (mean === null || pm >= 0);
    const cr = all ? r1 - r0 : chunkRows(D, this.flush);
    const spill = this.spill(16 * cr * D, Math.max(px, py, pm, pr, pw, pb) >= 0);
    if (spill !== null) return spill.forward(y, mean, rstd, x, w, b, r0, r1, D, eps, stride, base);
    const n = cr * D;
    const [W, B, X, Y, M, R] = this.layout([
      pw < 0 ? 4 * D : 0, needB && pb < 0 ? 4 * D : 0, px < 0 ? 4 * n : 0, py < 0 ? 4 * n : 0, pm < 0 ? 4 * cr : 0, pr < 0 ? 4 * cr : 0,
    ]);
    const f = this.heap.f32;
    const Wp = pw >= 0 ? pw : this.param(f, w, W!, D, 1);
    const Bp = !needB ? 0 : pb >= 0 ? pb : this.param(f, b, B!, D, 0);
    const lx = new Lane(rows, x, px, X!, D), ly = new Lane(rows, y, py, Y!, D);
    const lm = new Lane(rows, mean, pm, M!, 1), lr = new Lane(rows, rstd, pr, R!, 1);
    for (let r = r0; r < r1; r += cr) {
      const k = Math.min(cr, r1 - r);
      const Xp = lx.load(f, r, k);
      // w = 0 asks for the statistics only when y is not wanted
      this.kernels.ex.forward(ly.at(r), mean !== null ? lm.at(r) : 0, lr.at(r), Xp, y !== null ? Wp : 0, Bp, k, D, eps);
      lm.store(f, r, k);
      ly.store(f, r, k);
      lr.store(f, r, k);
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
    this.checkWidth(D);
    const rows = new Rows(stride, base);
    const on = (a: Float32Array | null) => (a !== null && rows.contiguous ? this.residentOffset(a) : -1);
    const px = on(x), pdy = on(dy), pdx = on(dx), pm = on(mean), pr = on(rstd);
    const pw = w !== null ? this.residentOffset(w) : -1;
    const cr = chunkRows(D, this.flush);
    const spill = this.spill(12 * cr * D + 16 * D, Math.max(px, pdy, pdx, pm, pr, pw) >= 0);
    if (spill !== null) {
      // the sums are views of the throwaway memory: copied out before it goes
      const g = spill.backward(dx, dy, x, mean, rstd, w, r0, r1, D, stride, base);
      return { dw: g.dw.slice(), db: g.db.slice() };
    }
    const n = cr * D;
    const [W, AC, DW64, DB64, X, DY, DX, M, R] = this.layout([
      pw < 0 ? 4 * D : 0, 64 * this.flush, 8 * D, 8 * D, px < 0 ? 4 * n : 0, pdy < 0 ? 4 * n : 0, pdx < 0 ? 4 * n : 0,
      pm < 0 ? 4 * cr : 0, pr < 0 ? 4 * cr : 0,
    ]);
    const f = this.heap.f32;
    const buf = f.buffer;
    const Wp = pw >= 0 ? pw : this.param(f, w, W!, D, 1);
    const dw = new Float64Array(buf, DW64!, D).fill(0);
    const db = new Float64Array(buf, DB64!, D).fill(0);
    const lx = new Lane(rows, x, px, X!, D), ldy = new Lane(rows, dy, pdy, DY!, D), ldx = new Lane(rows, dx, pdx, DX!, D);
    const lm = new Lane(rows, mean, pm, M!, 1), lr = new Lane(rows, rstd, pr, R!, 1);
    for (let r = r0; r < r1; r += cr) {
      const k = Math.min(cr, r1 - r);
      const Xp = lx.load(f, r, k), DYp = ldy.load(f, r, k), Rp = lr.load(f, r, k);
      const Mp = mean !== null ? lm.load(f, r, k) : 0;
      this.kernels.ex.backward(ldx.at(r), DW64!, DB64!, AC!, DYp, Xp, Mp, Rp, Wp, k, D);
      ldx.store(f, r, k);
    }
    return { dw, db };
  }
}

/** Where row r of an array starts, in elements of `width` per row: (r·stride + base)·width. */
class Rows {
  readonly contiguous: boolean;
  constructor(readonly stride: number, readonly base: number) {
    this.contiguous = stride === 1 && base === 0;
  }
}

/**
 * One row array of a call (`width` floats per row: D, or 1 for statistics): resident at byte
 * offset `ptr` (contiguous rows only), or streamed through the scratch slot `slot`, which holds
 * the current chunk's rows.
 */
class Lane {
  constructor(
    private readonly rows: Rows, private readonly a: Float32Array | null,
    private readonly ptr: number, private readonly slot: number, private readonly width: number,
  ) {}

  /** Byte offset of the chunk starting at row r. */
  at(r: number): number {
    return this.ptr >= 0 ? this.ptr + 4 * r * this.width : this.slot;
  }

  /** An input chunk: copied into the slot when streamed; returns its offset. */
  load(f: Float32Array, r: number, k: number): number {
    const a = this.a;
    if (this.ptr < 0 && a !== null) {
      const w = this.width, to = this.slot >> 2, { stride, base } = this.rows;
      if (this.rows.contiguous) f.set(a.subarray(r * w, (r + k) * w), to);
      else if (w === 1) for (let i = 0; i < k; i++) f[to + i] = a[(r + i) * stride + base]!;
      else for (let i = 0; i < k; i++) f.set(a.subarray(((r + i) * stride + base) * w, ((r + i) * stride + base + 1) * w), to + i * w);
    }
    return this.at(r);
  }

  /** An output chunk: copied out of the slot when streamed. */
  store(f: Float32Array, r: number, k: number): void {
    const a = this.a;
    if (this.ptr >= 0 || a === null) return;
    const w = this.width, from = this.slot >> 2, { stride, base } = this.rows;
    if (this.rows.contiguous) a.set(f.subarray(from, from + k * w), r * w);
    else if (w === 1) for (let i = 0; i < k; i++) a[(r + i) * stride + base] = f[from + i]!;
    else for (let i = 0; i < k; i++) a.set(f.subarray(from + i * w, from + (i + 1) * w), ((r + i) * stride + base) * w);
  }
}
