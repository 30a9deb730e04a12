/**
 * The worker pool: LayerNorm and RMSNorm, forward and backward, with the rows split over threads
 * (Web Workers in browsers, worker_threads in Node) that all run the wasm kernels on normkit's one
 * shared WebAssembly memory (src/backends/wasm/memory.ts).
 *
 * - Same signatures and validation as the synchronous ops (rowNormArgs), but async.
 * - `threads` counts the calling thread: it runs the first share of the rows itself, and
 *   `threads − 1` workers run the others. Jobs go through a control block with Atomics
 *   (src/pool/threads.ts): no postMessage and no allocation per call.
 * - Rows are split on the kernels' chunk grid (splitRows), so a row's y, dx, mean, rstd are bitwise
 *   those of the synchronous `wasm` backend whatever the thread count; dweight/dbias are float64
 *   per-thread partials reduced in thread order (bitwise the synchronous result with one thread).
 * - Resident tensors (`wasmTensor`) are used in place, by every thread. Other tensors are copied
 *   into the shared memory for the call (one copy in, one out, on the calling thread).
 * - Inputs under `minElements` values run on the calling thread as the synchronous op does.
 * - Calls run one at a time, in order. A resident tensor freed during a call keeps its memory
 *   until the call ends.
 * - Without SharedArrayBuffer (a page that is not cross-origin isolated) every call runs on the
 *   calling thread, with a console warning naming the two headers (as onnxruntime-web does).
 * Nothing Node-specific is imported statically: the Worker implementation is chosen at run time
 * (./spawn.ts).
 */
import { NormError, describe } from "../errors.js";
import { WASM_MAX_BYTES, splitRows, type WasmRuntime } from "../backends/wasm/runtime.js";
import { wasmBuildInUse, wasmHeap, wasmKernels, wasmRuntime } from "../backends/wasm/index.js";
import type { WasmHeap } from "../backends/wasm/memory.js";
import type { Kernels } from "../backends/types.js";
import {
  LAYER_NORM_EPS, POOL_KEYS, RMS_NORM_EPS, alloc, checkCount, checkShape, float32Values, lostMemory, numel, out, paramGrads, readOptions,
  rowNormArgs, rowNormBackwardArgs, statShape, type BackwardOptions, type ForwardOptions, type Grads, type Tensor,
} from "../core/index.js";
import { layerNormBackwardOf, layerNormForwardWithStats } from "../ops/layerNorm.js";
import { rmsNormBackwardOf, rmsNormForwardWithStats } from "../ops/rmsNorm.js";
import { OP_BACKWARD, OP_FORWARD, type Share } from "./protocol.js";
import { importNode } from "./node-builtin.js";
import { ISOLATION_HELP, NOT_ISOLATED } from "./spawn.js";
import { Threads } from "./threads.js";

export interface PoolOptions {
  /**
   * Threads that compute, the calling thread included (default: the hardware concurrency, at
   * least 1; at most max(64, hardware concurrency)). `threads: 1` starts no worker.
   */
  threads?: number;
  /** Inputs with fewer values run on the calling thread (default 262144 = 1 MiB of float32). */
  minElements?: number;
}

export interface Pool {
  readonly threads: number;
  /** With resident x (and `out`), every thread reads and writes them in place. */
  layerNorm(x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions): Promise<Tensor>;
  layerNormForward(x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions): Promise<{ y: Tensor; mean: Tensor; rstd: Tensor }>;
  /** With `options.mean`/`rstd` the threads skip recomputing the statistics; a resident `options.out` gets dx in place. */
  layerNormBackward(dy: Tensor, x: Tensor, normalizedShape: number | readonly number[], options?: BackwardOptions): Promise<Grads>;
  rmsNorm(x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions): Promise<Tensor>;
  rmsNormForward(x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions): Promise<{ y: Tensor; rstd: Tensor }>;
  rmsNormBackward(dy: Tensor, x: Tensor, normalizedShape: number | readonly number[], options?: BackwardOptions): Promise<Grads>;
  /** Waits for the calls in flight, then terminates the workers. */
  close(): Promise<void>;
}

/** Logical CPUs: navigator.hardwareConcurrency (browsers, Node ≥ 21), else Node's os.availableParallelism. */
async function hardwareThreads(): Promise<number> {
  const hw = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (hw !== undefined) return hw;
  try {
    return (await importNode<typeof import("node:os")>("os")).availableParallelism();
  } catch {
    return 2;
  }
}

const sharedZeros = (n: number) => alloc(n, "SharedArrayBuffer", true);

/** At most this many threads, or the hardware's count where larger: more workers than cores only add memory and start-up time. */
export const MAX_THREADS = 64;

/**
 * A tensor whose data live in a SharedArrayBuffer (zeros, or a copy of `data`), for code that
 * shares arrays between its own workers. For the pool, `wasmTensor` is the zero-copy tensor: the
 * pool copies a sharedTensor into its WebAssembly memory for the call, as any other tensor.
 */
export function sharedTensor(shape: readonly number[], data?: ArrayLike<number>): Tensor {
  if (typeof SharedArrayBuffer !== "function") throw new NormError("BACKEND_UNAVAILABLE", "sharedTensor", `SharedArrayBuffer is unavailable. ${ISOLATION_HELP}`);
  const dims = checkShape(shape, "shape");
  const n = numel(dims);
  const values = data === undefined ? null : float32Values(data, "data");
  if (values !== null && values.length !== n) {
    throw new NormError("SHAPE_MISMATCH", "data", `expected ${n} values for shape [${dims.join(", ")}], got ${describe(data)}`);
  }
  const t = { shape: dims, data: sharedZeros(n) };
  if (values !== null) t.data.set(values);
  return t;
}

/** A row the wasm kernels cannot hold (4 arrays of D float32 at least) is a NormError before any copy. */
function checkRowWidth(D: number): void {
  if (16 * D > WASM_MAX_BYTES) {
    throw new NormError("LIMIT_EXCEEDED", "normalizedShape", `a row of ${D} values needs more than the ${WASM_MAX_BYTES / 2 ** 30} GiB of WebAssembly memory the pool's kernels can address (at most ${WASM_MAX_BYTES / 16} values); use the synchronous js backend`);
  }
}

/** Each [name, array, length] must still have its memory (an await may have let the caller transfer it). */
function stillThere(arrays: ReadonlyArray<readonly [string, Float32Array | null, number]>): void {
  for (const [name, a, n] of arrays) {
    if (a !== null && lostMemory(a, n)) {
      throw new NormError("DETACHED_BUFFER", name, "expected its memory to stay until the call resolved, but its buffer was detached (transferred) during the call; nothing was written");
    }
  }
}

/**
 * The arrays of one pool call as byte offsets in the shared memory: resident ones in place (their
 * blocks pinned, so a free() during the call waits), others copied into blocks of their own.
 */
class Staging {
  private readonly temps: number[] = [];
  private readonly pinned: number[] = [];
  private readonly outs: Array<[Float32Array, number, number]> = [];

  constructor(private readonly heap: WasmHeap, private readonly rt: WasmRuntime) {}

  private temp(n: number): number {
    const p = this.heap.alloc(4 * n, "scratch", "pool");
    this.temps.push(p);
    return p;
  }

  private resident(a: Float32Array): number {
    const p = this.rt.residentOffset(a);
    if (p < 0) return -1;
    const b = this.heap.tensorBlockAt(p, 4 * a.length);
    if (b !== undefined) {
      this.heap.pin(b.start);
      this.pinned.push(b.start);
    }
    return p;
  }

  /** An input's offset: in place, or a copy (or `fill` values when a is null; 0 when null and no fill). */
  input(a: Float32Array | null, n: number, fill?: number): number {
    if (a === null) {
      if (fill === undefined) return 0;
      const p = this.temp(n);
      this.heap.f32.fill(fill, p >> 2, (p >> 2) + n);
      return p;
    }
    const r = this.resident(a);
    if (r >= 0) return r;
    const p = this.temp(n);
    this.heap.f32.set(a, p >> 2);
    return p;
  }

  /** An output's offset: in place, or a block copied into `a` by `finish` (a null: scratch only). */
  output(a: Float32Array | null, n: number): number {
    if (a !== null) {
      const r = this.resident(a);
      if (r >= 0) return r;
    }
    const p = this.temp(n);
    if (a !== null) this.outs.push([a, p, n]);
    return p;
  }

  /** Copies the staged outputs out (their arrays checked still there first). */
  finish(names: ReadonlyMap<Float32Array, string>): void {
    stillThere(this.outs.map(([a, , n]) => [names.get(a) ?? "out", a, n] as const));
    const f = this.heap.f32;
    for (const [a, p, n] of this.outs) a.set(f.subarray(p >> 2, (p >> 2) + n));
  }

  release(): void {
    for (const p of this.temps) this.heap.free(p);
    for (const p of this.pinned) this.heap.unpin(p);
  }
}

/**
 * Starts `threads − 1` workers on the shared wasm memory; resolves once all are ready. Rejects
 * with a NormError BACKEND_UNAVAILABLE when a worker cannot start (its script missing under a
 * bundler: docs/install.md). Without SharedArrayBuffer (a page that is not cross-origin isolated)
 * it warns once and returns a pool that runs every call on the calling thread.
 */
export async function createPool(options?: PoolOptions): Promise<Pool> {
  const o = readOptions(options, "options", POOL_KEYS);
  const hw = Math.max(1, await hardwareThreads());
  const nThreads = o.threads === undefined ? hw : checkCount(o.threads, "threads", 1, "BAD_ARGUMENT", "a positive integer");
  const maxThreads = Math.max(MAX_THREADS, hw);
  if (nThreads > maxThreads) {
    throw new NormError("LIMIT_EXCEEDED", "threads", `expected at most ${maxThreads} (max(${MAX_THREADS}, the ${hw} hardware threads)), got ${nThreads}`);
  }
  const minGiven = o.minElements ?? 1 << 18;
  if (typeof minGiven !== "number" || !(minGiven >= 0)) {
    throw new NormError("BAD_ARGUMENT", "minElements", `expected a number ≥ 0 (Infinity: always the calling thread), got ${describe(minGiven)}`);
  }
  const minElements = minGiven;
  if (wasmKernels === null || wasmRuntime === null || wasmHeap === null || wasmBuildInUse === null) {
    throw new NormError("BACKEND_UNAVAILABLE", "createPool", "the pool runs the wasm kernels, and WebAssembly SIMD is unavailable here");
  }
  // without SharedArrayBuffer (a page that is not cross-origin isolated) the workers cannot share
  // the memory: warn, and run every call on the calling thread
  const isolated = typeof SharedArrayBuffer === "function" && wasmHeap.shared;
  const local: Kernels = wasmKernels;
  const rt = wasmRuntime, heap = wasmHeap;
  const flush = rt.flush;
  let threads: Threads | null = null;
  if (!isolated) console.warn(NOT_ISOLATED);
  else threads = await Threads.start(nThreads - 1, heap.memory, wasmBuildInUse, rt.kernels);
  const T = threads?.count ?? 1;

  let closed = false;
  const usable = () => {
    if (closed) throw new NormError("BAD_ARGUMENT", "pool", "the pool is closed");
    if (threads?.failed) throw threads.failed;
  };

  // calls run one at a time: each waits for the one before (idle: no wait, so a call stages its
  // inputs before it returns its promise)
  let busy: Promise<void> | null = null;
  async function exclusive<R>(f: () => Promise<R>): Promise<R> {
    while (busy !== null) await busy;
    usable();
    let done!: () => void;
    busy = new Promise<void>((r) => (done = r));
    try {
      return await f();
    } finally {
      busy = null;
      done();
    }
  }

  /** The pool's own scratch, kept between calls: per thread the backward's sums (AC, DW64, DB64). */
  let scratch = 0, scratchD = -1;
  const perThread = (D: number) => 64 * flush + 16 * D + 64;
  function threadScratch(D: number): number[] {
    if (D > scratchD) {
      if (scratchD >= 0) heap.free(scratch);
      scratch = heap.alloc(T * perThread(D), "scratch", "normalizedShape");
      scratchD = D;
    }
    return Array.from({ length: T }, (_, t) => scratch + t * perThread(scratchD));
  }

  /** Shares of rows [0, rows) on the chunk grid, the calling thread's first. */
  const shares = (base: Omit<Share, "r0" | "r1" | "DW64" | "DB64" | "AC">, rows: number, sums: number[] | null): Share[] =>
    splitRows(rows, base.D, T, flush).map(([r0, r1], t) => {
      const s = sums?.[t] ?? 0;
      // AC, then DW64 and DB64 on 64-byte boundaries
      const dw = s + 64 * flush;
      return { ...base, r0, r1, AC: s, DW64: s === 0 ? 0 : dw, DB64: s === 0 ? 0 : dw + 8 * base.D };
    });

  /** `stats`: the caller returns mean/rstd (else they stay in the pool's scratch). */
  async function forward(rms: boolean, x: unknown, ns: unknown, opts: unknown, stats: boolean) {
    usable();
    const a = rowNormArgs(x, ns, opts, rms ? RMS_NORM_EPS : LAYER_NORM_EPS, true);
    const n = a.rows * a.D;
    const s = statShape(a.x.shape, a.normalizedShape);
    if (n < minElements || n === 0 || threads === null) {
      const r = rms ? { ...rmsNormForwardWithStats(a, local), mean: null } : layerNormForwardWithStats(a, local);
      return { y: r.y, mean: r.mean && out(r.mean, s), rstd: out(r.rstd, s) };
    }
    checkRowWidth(a.D);
    return exclusive(async () => {
      stillThere([["x", a.x.data, n], ["weight", a.weight, a.D], ["bias", a.bias, a.D]]);
      const y = a.out ?? sharedZeros(n);
      const mean = rms || !stats ? null : alloc(a.rows, "mean"), rstd = stats ? alloc(a.rows, "rstd") : null;
      const st = new Staging(heap, rt);
      try {
        const base = {
          op: OP_FORWARD, D: a.D, eps: a.eps, recompute: false, DX: 0, DY: 0,
          X: st.input(a.x.data, n), W: st.input(a.weight, a.D, 1),
          // the kernel adds LayerNorm's bias unconditionally (zeros when absent); RMSNorm's only if given
          B: st.input(a.bias, a.D, rms ? undefined : 0),
          Y: st.output(y, n), M: rms ? 0 : st.output(mean, a.rows), R: st.output(rstd, a.rows),
        };
        await threads!.run(shares(base, a.rows, null));
        st.finish(new Map([[y, "out"]]));
      } finally {
        st.release();
      }
      return { y: out(y, a.x.shape), mean: mean && out(mean, s), rstd: rstd && out(rstd, s) };
    });
  }

  async function backward(rms: boolean, dy: unknown, x: unknown, ns: unknown, opts: unknown): Promise<Grads> {
    usable();
    const a = rowNormBackwardArgs(dy, x, ns, opts, rms ? RMS_NORM_EPS : LAYER_NORM_EPS, rms);
    const n = a.rows * a.D;
    if (n < minElements || n === 0 || threads === null) return (rms ? rmsNormBackwardOf : layerNormBackwardOf)(a, local);
    checkRowWidth(a.D);
    return exclusive(async () => {
      stillThere([["x", a.x.data, n], ["dy", a.dy, n], ["weight", a.weight, a.D], ["mean", a.stats?.mean ?? null, a.rows], ["rstd", a.stats?.rstd ?? null, a.rows]]);
      const grads = paramGrads(a.weight, a.bias, a.normalizedShape, a.into);
      const dx = a.out ?? sharedZeros(n);
      const st = new Staging(heap, rt);
      const sums = threadScratch(a.D);
      try {
        // saved statistics are read by every thread; without them each recomputes its rows'
        const saved = a.stats;
        const base = {
          op: OP_BACKWARD, D: a.D, eps: a.eps, recompute: saved === null, Y: 0, B: 0,
          X: st.input(a.x.data, n), DY: st.input(a.dy, n), W: st.input(a.weight, a.D, 1),
          M: rms ? 0 : saved !== null ? st.input(saved.mean, a.rows) : st.output(null, a.rows),
          R: saved !== null ? st.input(saved.rstd, a.rows) : st.output(null, a.rows),
          DX: st.output(dx, n),
        };
        const jobs = shares(base, a.rows, sums);
        const f64 = new Float64Array(heap.f32.buffer);
        for (const j of jobs) f64.fill(0, j.DW64 >> 3, (j.DB64 >> 3) + a.D);
        await threads!.run(jobs);
        // the caller's out and into may have lost their memory (transferred) while the workers ran
        stillThere([["into.dweight", a.into.dweight, a.D], ["into.dbias", a.into.dbias, a.D]]);
        st.finish(new Map([[dx, "out"]]));
        // per-thread float64 partials, reduced in thread order, added to the float32 gradients once
        const g = new Float64Array(heap.f32.buffer);
        for (const [into, key] of [[grads.dweight, "DW64"], [grads.dbias, "DB64"]] as const) {
          if (into === null) continue;
          for (let i = 0; i < a.D; i++) {
            let s = 0;
            for (const j of jobs) s += g[(j[key] >> 3) + i]!;
            into[i] += s;
          }
        }
      } finally {
        st.release();
      }
      return grads.wrap(dx, a.x.shape);
    });
  }

  return {
    threads: T,
    layerNorm: async (x, ns, o) => (await forward(false, x, ns, o, false)).y,
    rmsNorm: async (x, ns, o) => (await forward(true, x, ns, o, false)).y,
    layerNormForward: async (x, ns, o) => {
      const r = await forward(false, x, ns, o, true);
      return { y: r.y, mean: r.mean!, rstd: r.rstd! };
    },
    rmsNormForward: async (x, ns, o) => {
      const r = await forward(true, x, ns, o, true);
      return { y: r.y, rstd: r.rstd! };
    },
    layerNormBackward: (dy, x, ns, o) => backward(false, dy, x, ns, o),
    rmsNormBackward: (dy, x, ns, o) => backward(true, dy, x, ns, o),
    async close() {
      if (closed) return;
      closed = true;
      while (busy !== null) await busy;
      await threads?.close();
      if (scratchD >= 0) heap.free(scratch);
      scratchD = -1;
    },
  };
}
