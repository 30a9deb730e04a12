/**
 * The worker pool: LayerNorm and RMSNorm (any storage dtype, weightOffset, castingMode), the fused
 * residual add + norm, forward and backward, with the rows split over threads, and BatchNorm with
 * the channels split over threads (Web Workers in browsers, worker_threads in Node), all running
 * the wasm kernels on normkit's one shared WebAssembly memory (src/backends/wasm/memory.ts).
 *
 * - Same signatures and validation as the synchronous ops (the core's specs), but async. Plain
 *   float32 LayerNorm/RMSNorm run the float32 kernels on byte offsets (Share); issue #12's calls
 *   the wasm job loops (./jobs.ts, ./run-job.ts), each worker's job sent as text in its slot.
 * - `threads` counts the calling thread: it runs the first share of the rows itself, and
 *   `threads − 1` workers run the others. Jobs go through a control block with Atomics
 *   (src/pool/threads.ts): no postMessage and no allocation per call.
 * - Rows are split on the kernels' chunk grid (splitRows), so a row's y, dx, mean, rstd are bitwise
 *   those of the synchronous `wasm` backend whatever the thread count; dweight/dbias are float64
 *   per-thread partials reduced in thread order (bitwise the synchronous result with one thread).
 * - Resident tensors (`wasmTensor`) are used in place, by every thread. Other tensors are copied
 *   into the shared memory for the call (one copy in, one out, on the calling thread: ./staging.ts).
 *   BatchNorm splits channels: each thread owns its channels' sums, so its results are bitwise the
 *   synchronous ones whatever the thread count.
 * - Inputs under `minElements` values run on the calling thread as the synchronous op does.
 * - Calls run one at a time, in order. A resident tensor freed during a call keeps its memory
 *   until the call ends.
 * - Without SharedArrayBuffer (a page that is not cross-origin isolated) every call runs on the
 *   calling thread, with a console warning naming the two headers (as onnxruntime-web does).
 * Nothing Node-specific is imported statically: the Worker implementation is chosen at run time
 * (./spawn.ts).
 */
import { NormError, describe } from "../errors.js";
import { splitRows } from "../backends/wasm/runtime.js";
import { currentWasm, wasmHeap } from "../backends/wasm/index.js";
import type { Kernels } from "../backends/types.js";
import {
  LAYER_NORM_EPS, POOL_KEYS, RMS_NORM_EPS, addNormSpec, alloc, batchNormArgs, checkCount, checkLikeX, checkShape, float32Values, numel, out,
  paramGrads, plainArgs, plainBackwardArgs, readOptions, rowNormBackwardSpec, rowNormSpec, statShape, tensorOf,
  type AnyTensor, type BackwardOptions, type BatchNormOptions, type ForwardOptions, type Grads, type Like, type NormalizedShape,
  type RowNormArgs, type RowNormBackwardArgs, type Tensor,
} from "../core/index.js";
import type { AddNormBackwardOptions, AddNormGrads, AddNormOptions } from "../ops/addNorm.js";
import { batchNormBackwardWithStats, batchNormForwardWithStats, batchNormStats64 } from "../ops/batchNorm.js";
import type { AnyGrads } from "../ops/layerNorm.js";
import { isPlain, rowBackward, rowForward } from "../ops/rows.js";
import {
  channelsBackward, channelsForward, channelsStats, checkRowWidth, rowsBackward, rowsForward, stillThere, type CallContext, type PoolContext,
} from "./jobs.js";
import { OP_BACKWARD, OP_FORWARD, encodeJob, type JobBody, type Share } from "./protocol.js";
import { importNode } from "./node-builtin.js";
import { runJob } from "./run-job.js";
import { ISOLATION_HELP, NOT_ISOLATED } from "./spawn.js";
import { Staging } from "./staging.js";
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
  /** Threads that compute, the calling thread included; 1 where the pool runs on the calling thread alone (no SharedArrayBuffer, see createPool). */
  readonly threads: number;
  /** With resident x (and `out`), every thread reads and writes them in place. Any storage dtype, as layerNorm. */
  layerNorm<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): Promise<Like<T>>;
  layerNormForward<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): Promise<{ y: Like<T>; mean: Tensor; rstd: Tensor }>;
  /** With `options.mean`/`rstd` the threads skip recomputing the statistics; a resident `options.out` gets dx in place. */
  layerNormBackward(dy: Tensor, x: Tensor, normalizedShape: NormalizedShape, options?: BackwardOptions): Promise<Grads>;
  layerNormBackward(dy: AnyTensor, x: AnyTensor, normalizedShape: NormalizedShape, options?: BackwardOptions<AnyTensor>): Promise<AnyGrads>;
  rmsNorm<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): Promise<Like<T>>;
  rmsNormForward<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): Promise<{ y: Like<T>; rstd: Tensor }>;
  rmsNormBackward(dy: Tensor, x: Tensor, normalizedShape: NormalizedShape, options?: BackwardOptions): Promise<Grads>;
  rmsNormBackward(dy: AnyTensor, x: AnyTensor, normalizedShape: NormalizedShape, options?: BackwardOptions<AnyTensor>): Promise<AnyGrads>;
  /** addLayerNorm on the threads; a resident `residualOut` (residual itself included) is written by them in place. */
  addLayerNorm<T extends AnyTensor>(x: T, residual: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormOptions): Promise<{ y: Like<T>; h: Like<T>; mean: Tensor; rstd: Tensor }>;
  addRmsNorm<T extends AnyTensor>(x: T, residual: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormOptions): Promise<{ y: Like<T>; h: Like<T>; rstd: Tensor }>;
  addLayerNormBackward(dy: AnyTensor, h: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormBackwardOptions): Promise<AddNormGrads>;
  addRmsNormBackward(dy: AnyTensor, h: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormBackwardOptions): Promise<AddNormGrads>;
  /** batchNorm with the channels split over the threads (the running statistics updated as the synchronous op does). */
  batchNorm<T extends AnyTensor>(x: T, options?: BatchNormOptions<AnyTensor>): Promise<Like<T>>;
  batchNormBackward(dy: Tensor, x: Tensor, options?: BatchNormOptions): Promise<Grads>;
  batchNormBackward(dy: AnyTensor, x: AnyTensor, options?: BatchNormOptions<AnyTensor>): Promise<AnyGrads>;
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
  // the build the wasm backend runs now (setBackend("wasm", { build })): this pool's for its life,
  // on every thread, so its results equal the synchronous calls' bitwise
  const wasm = currentWasm();
  if (wasm === null || wasmHeap === null) {
    throw new NormError("BACKEND_UNAVAILABLE", "createPool", "the pool runs the wasm kernels, and WebAssembly SIMD is unavailable here");
  }
  // without SharedArrayBuffer (a page that is not cross-origin isolated) the workers cannot share
  // the memory: warn, and run every call on the calling thread
  const isolated = typeof SharedArrayBuffer === "function" && wasmHeap.shared;
  const local: Kernels = wasm.kernels;
  const rt = wasm.runtime, heap = wasmHeap;
  const flush = rt.flush;
  let threads: Threads | null = null;
  if (!isolated) console.warn(NOT_ISOLATED);
  else threads = await Threads.start(nThreads - 1, heap.memory, wasm.build, rt.kernels);
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

  /** One call: its arrays staged in the shared memory (./staging.ts), outputs copied out when f resolves, the staging freed when it settles. */
  function call<R>(f: (c: CallContext) => Promise<R>): Promise<R> {
    return exclusive(async () => {
      const stage = new Staging(heap);
      try {
        const r = await f({ stage, dispatch });
        stage.finish();
        return r;
      } finally {
        stage.release();
      }
    });
  }
  /** Issue #12's jobs: jobs[0] on the calling thread, the others encoded into the workers' slots. */
  async function dispatch(jobs: JobBody[]): Promise<void> {
    if (jobs.length === 0) return;
    const texts = jobs.slice(1).map((j) => encodeJob(j, (b) => heap.owns(b)));
    await threads!.runJobs(texts, () => runJob(rt, jobs[0]!));
  }
  const ctx: PoolContext = { threads: T, flush, call };
  const big = (n: number) => n >= minElements && n > 0 && threads !== null;

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

  /** Plain float32 LayerNorm/RMSNorm forward on the threads: the float32 kernels on byte offsets. `stats`: the caller returns mean/rstd (else they stay in scratch). */
  function plainForward(rms: boolean, a: RowNormArgs, stats: boolean) {
    checkRowWidth(a.D);
    const n = a.rows * a.D;
    const s = statShape(a.x.shape, a.normalizedShape);
    return call(async ({ stage: st }) => {
      stillThere([["x", f32(a.x.data), n], ["weight", f32(a.weight), a.D], ["bias", f32(a.bias), a.D]]);
      const y = a.out ?? alloc(n, "y", true);
      const mean = rms || !stats ? null : alloc(a.rows, "mean"), rstd = stats ? alloc(a.rows, "rstd") : null;
      const base = {
        op: OP_FORWARD, D: a.D, eps: a.eps, recompute: false, DX: 0, DY: 0,
        X: st.inputAt(a.x.data, n), W: st.inputAt(a.weight, a.D, 1),
        // the kernel adds LayerNorm's bias unconditionally (zeros when absent); RMSNorm's only if given
        B: st.inputAt(a.bias, a.D, rms ? undefined : 0),
        Y: st.outputAt(y, n, "out"), M: rms ? 0 : st.outputAt(mean, a.rows, "mean"), R: st.outputAt(rstd, a.rows, "rstd"),
      };
      await threads!.run(shares(base, a.rows, null));
      return { y: out(y, a.x.shape), mean: mean && out(mean, s), rstd: rstd && out(rstd, s) };
    });
  }

  async function forward(rms: boolean, x: unknown, ns: unknown, opts: unknown, stats: boolean) {
    usable();
    const a = rowNormSpec(x, ns, opts, rms ? RMS_NORM_EPS : LAYER_NORM_EPS);
    const s = statShape(a.x.shape, a.normalizedShape);
    if (big(a.rows * a.D) && isPlain(a)) return plainForward(rms, plainArgs(a), stats);
    const r = big(a.rows * a.D) ? await rowsForward(ctx, rms, a, null) : rowForward(a, rms, local);
    return { y: tensorOf(r.y, a.x.shape), mean: r.mean && out(r.mean, s), rstd: out(r.rstd, s) };
  }

  /** Plain float32 LayerNorm/RMSNorm backward on the threads. */
  function plainBackward(rms: boolean, a: RowNormBackwardArgs): Promise<Grads> {
    checkRowWidth(a.D);
    const n = a.rows * a.D;
    return call(async ({ stage: st }) => {
      stillThere([["x", f32(a.x.data), n], ["dy", f32(a.dy), n], ["weight", f32(a.weight), a.D], ["mean", f32(a.stats?.mean ?? null), a.rows], ["rstd", f32(a.stats?.rstd ?? null), a.rows]]);
      const grads = paramGrads(a.weight, a.bias, a.normalizedShape, a.into);
      const dx = a.out ?? alloc(n, "dx", true);
      const sums = threadScratch(a.D);
      // saved statistics are read by every thread; without them each recomputes its rows'
      const saved = a.stats;
      const base = {
        op: OP_BACKWARD, D: a.D, eps: a.eps, recompute: saved === null, Y: 0, B: 0,
        X: st.inputAt(a.x.data, n), DY: st.inputAt(a.dy, n), W: st.inputAt(a.weight, a.D, 1),
        M: rms ? 0 : saved !== null ? st.inputAt(saved.mean, a.rows) : st.outputAt(null, a.rows, "mean"),
        R: saved !== null ? st.inputAt(saved.rstd, a.rows) : st.outputAt(null, a.rows, "rstd"),
        DX: st.outputAt(dx, n, "out"),
      };
      const jobs = shares(base, a.rows, sums);
      const f64 = new Float64Array(heap.memory.buffer);
      for (const j of jobs) f64.fill(0, j.DW64 >> 3, (j.DB64 >> 3) + a.D);
      await threads!.run(jobs);
      // the caller's into may have lost its memory (transferred) while the workers ran
      stillThere([["into.dweight", f32(a.into.dweight), a.D], ["into.dbias", f32(a.into.dbias), a.D]]);
      // per-thread float64 partials, reduced in thread order, added to the float32 gradients once
      const g = new Float64Array(heap.memory.buffer);
      for (const [into, key] of [[grads.dweight, "DW64"], [grads.dbias, "DB64"]] as const) {
        if (into === null) continue;
        for (let i = 0; i < a.D; i++) {
          let t = 0;
          for (const j of jobs) t += g[(j[key] >> 3) + i]!;
          into[i] += t;
        }
      }
      return grads.wrap(dx, a.x.shape);
    });
  }

  async function backward(rms: boolean, add: boolean, dy: unknown, x: unknown, ns: unknown, opts: unknown) {
    usable();
    const a = rowNormBackwardSpec(dy, x, ns, opts, rms ? RMS_NORM_EPS : LAYER_NORM_EPS, rms, add);
    const n = a.rows * a.D;
    if (big(n) && isPlain(a) && a.dh === null && a.inputBias === null) return { ...(await plainBackward(rms, plainBackwardArgs(a))), dinputBias: null };
    return big(n) ? rowsBackward(ctx, rms, a) : rowBackward(a, rms, local);
  }

  async function addForward(rms: boolean, x: unknown, residual: unknown, ns: unknown, opts: unknown) {
    usable();
    const a = addNormSpec(x, residual, ns, opts, rms ? RMS_NORM_EPS : LAYER_NORM_EPS);
    const r = big(a.rows * a.D) ? await rowsForward(ctx, rms, a, a) : rowForward(a, rms, local, a);
    const s = statShape(a.x.shape, a.normalizedShape);
    return { y: tensorOf(r.y, a.x.shape), h: tensorOf(r.h!, a.x.shape), mean: r.mean && out(r.mean, s), rstd: out(r.rstd, s) };
  }

  async function batchForward(x: unknown, opts: unknown) {
    usable();
    const a = batchNormArgs(x, opts);
    return (big(a.N * a.C * a.S) ? await channelsForward(ctx, a) : batchNormForwardWithStats(a, true, local)).y;
  }

  async function batchBackward(dy: unknown, x: unknown, opts: unknown): Promise<AnyGrads> {
    usable();
    const a = batchNormArgs(x, opts);
    const g = checkLikeX(dy, a.x, "dy");
    if (!big(a.N * a.C * a.S)) {
      const { mean, rstd } = batchNormStats64(a, false, local);
      return batchNormBackwardWithStats(a, g, mean, rstd, undefined, local);
    }
    const { mean, rstd } = await channelsStats(ctx, a, false);
    return channelsBackward(ctx, a, g, mean, rstd);
  }

  const grads = (g: { dx: AnyTensor; dweight: AnyTensor | null; dbias: AnyTensor | null }) => ({ dx: g.dx, dweight: g.dweight, dbias: g.dbias });
  const pool = {
    threads: T,
    layerNorm: async (x: unknown, ns: unknown, o: unknown) => (await forward(false, x, ns, o, false)).y,
    rmsNorm: async (x: unknown, ns: unknown, o: unknown) => (await forward(true, x, ns, o, false)).y,
    layerNormForward: async (x: unknown, ns: unknown, o: unknown) => {
      const r = await forward(false, x, ns, o, true);
      return { y: r.y, mean: r.mean!, rstd: r.rstd! };
    },
    rmsNormForward: async (x: unknown, ns: unknown, o: unknown) => {
      const r = await forward(true, x, ns, o, true);
      return { y: r.y, rstd: r.rstd! };
    },
    layerNormBackward: async (dy: unknown, x: unknown, ns: unknown, o: unknown) => grads(await backward(false, false, dy, x, ns, o)),
    rmsNormBackward: async (dy: unknown, x: unknown, ns: unknown, o: unknown) => grads(await backward(true, false, dy, x, ns, o)),
    addLayerNorm: (x: unknown, r: unknown, ns: unknown, o: unknown) => addForward(false, x, r, ns, o),
    addRmsNorm: async (x: unknown, r: unknown, ns: unknown, o: unknown) => {
      const { y, h, rstd } = await addForward(true, x, r, ns, o);
      return { y, h, rstd };
    },
    addLayerNormBackward: (dy: unknown, h: unknown, ns: unknown, o: unknown) => backward(false, true, dy, h, ns, o),
    addRmsNormBackward: (dy: unknown, h: unknown, ns: unknown, o: unknown) => backward(true, true, dy, h, ns, o),
    batchNorm: (x: unknown, o: unknown) => batchForward(x, o),
    batchNormBackward: (dy: unknown, x: unknown, o: unknown) => batchBackward(dy, x, o),
    async close() {
      if (closed) return;
      closed = true;
      while (busy !== null) await busy;
      await threads?.close();
      if (scratchD >= 0) heap.free(scratch);
      scratchD = -1;
    },
  };
  // the methods validate every argument at run time (the core's specs): their types are Pool's
  return pool as unknown as Pool;
}

/** A float32 array as stored data (for stillThere), or null. */
const f32 = (a: Float32Array | null) => (a === null ? null : { data: a, dtype: "float32" as const });
