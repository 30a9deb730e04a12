/**
 * The worker pool: LayerNorm and RMSNorm (any storage dtype, weightOffset, castingMode), the fused
 * residual add + norm, forward and backward, with the rows split over threads, and BatchNorm with
 * the channels split over threads (Web Workers in browsers, worker_threads in Node), each running
 * its own instance of the wasm kernels on shared memory (SharedArrayBuffer).
 *
 * - Same signatures and validation as the synchronous ops (the core's specs), but async. Issue
 *   #12's calls run the wasm job loops (./jobs.ts); plain float32 LayerNorm/RMSNorm the float32 ones.
 * - Rows are split on the kernels' chunk grid (splitRows), so a row's y, dx, mean, rstd are bitwise
 *   those of the synchronous `wasm` backend whatever the thread count; dweight/dbias are float64
 *   per-thread partials reduced in thread order (bitwise the synchronous result with one thread).
 * - Inputs whose data already live in a SharedArrayBuffer are used in place; others are copied
 *   once. Outputs are Float32Arrays on SharedArrayBuffers, ready to feed the next pool call.
 * - Inputs under `minElements` values run on the calling thread (a round trip costs ~0.1 ms).
 * - Without SharedArrayBuffer (a page that is not cross-origin isolated) every call runs on the
 *   calling thread, with a console warning naming the two headers (as onnxruntime-web does).
 * Nothing Node-specific is imported statically: the Worker implementation is chosen at run time
 * (./spawn.ts).
 */
import { NormError, describe } from "../errors.js";
import { splitRows } from "../backends/wasm/runtime.js";
import { wasmKernels, wasmRuntime } from "../backends/wasm/index.js";
import type { Kernels } from "../backends/types.js";
import {
  LAYER_NORM_EPS, POOL_KEYS, RMS_NORM_EPS, addNormSpec, alloc, batchNormArgs, checkCount, checkLikeX, checkShape, float32Values, numel, out,
  paramGrads, plainArgs, plainBackwardArgs, readOptions, rowNormBackwardSpec, rowNormSpec, statShape, tensorOf,
  type AnyTensor, type BackwardOptions, type BatchNormOptions, type ForwardOptions, type Grads, type NormalizedShape, type RowNormArgs, type RowNormBackwardArgs, type Tensor, type Like,
} from "../core/index.js";
import type { AddNormBackwardOptions, AddNormGrads, AddNormOptions } from "../ops/addNorm.js";
import { batchNormBackwardWithStats, batchNormForwardWithStats, batchNormStats64 } from "../ops/batchNorm.js";
import type { AnyGrads } from "../ops/layerNorm.js";
import { isPlain, rowBackward, rowForward } from "../ops/rows.js";
import { channelsBackward, channelsForward, channelsStats, checkRowWidth, rowsBackward, rowsForward, stillThere, type JobBody, type PoolContext } from "./jobs.js";
import type { Job, Reply } from "./protocol.js";
import { importNode } from "./node-builtin.js";
import { ISOLATION_HELP, NOT_ISOLATED, startThreads, type JobReply, type Thread } from "./spawn.js";

export interface PoolOptions {
  /** Worker threads (default: the hardware concurrency, at least 1; at most max(64, hardware concurrency)). */
  threads?: number;
  /** Inputs with fewer values run on the calling thread (default 262144 = 1 MiB of float32). */
  minElements?: number;
}

export interface Pool {
  /** Worker threads; 1 where the pool runs on the calling thread (no SharedArrayBuffer, see createPool). */
  readonly threads: number;
  /** `options.out` in a SharedArrayBuffer (see sharedTensor) is written by the workers directly. Any storage dtype, as layerNorm. */
  layerNorm<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): Promise<Like<T>>;
  layerNormForward<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): Promise<{ y: Like<T>; mean: Tensor; rstd: Tensor }>;
  /** With `options.mean`/`rstd` the workers skip recomputing the statistics; a shared `options.out` gets dx in place. */
  layerNormBackward(dy: Tensor, x: Tensor, normalizedShape: NormalizedShape, options?: BackwardOptions): Promise<Grads>;
  layerNormBackward(dy: AnyTensor, x: AnyTensor, normalizedShape: NormalizedShape, options?: BackwardOptions<AnyTensor>): Promise<AnyGrads>;
  rmsNorm<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): Promise<Like<T>>;
  rmsNormForward<T extends AnyTensor>(x: T, normalizedShape: NormalizedShape, options?: ForwardOptions<AnyTensor>): Promise<{ y: Like<T>; rstd: Tensor }>;
  rmsNormBackward(dy: Tensor, x: Tensor, normalizedShape: NormalizedShape, options?: BackwardOptions): Promise<Grads>;
  rmsNormBackward(dy: AnyTensor, x: AnyTensor, normalizedShape: NormalizedShape, options?: BackwardOptions<AnyTensor>): Promise<AnyGrads>;
  /** addLayerNorm on the workers; a shared `residualOut` (residual itself included) is written by them directly. */
  addLayerNorm<T extends AnyTensor>(x: T, residual: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormOptions): Promise<{ y: Like<T>; h: Like<T>; mean: Tensor; rstd: Tensor }>;
  addRmsNorm<T extends AnyTensor>(x: T, residual: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormOptions): Promise<{ y: Like<T>; h: Like<T>; rstd: Tensor }>;
  addLayerNormBackward(dy: AnyTensor, h: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormBackwardOptions): Promise<AddNormGrads>;
  addRmsNormBackward(dy: AnyTensor, h: AnyTensor, normalizedShape: NormalizedShape, options?: AddNormBackwardOptions): Promise<AddNormGrads>;
  /** batchNorm with the channels split over the workers (the running statistics updated as the synchronous op does). */
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

/** `a` itself if it lives in shared memory, else a shared copy. */
function shared(a: Float32Array): Float32Array {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const s = sharedZeros(a.length);
  s.set(a);
  return s;
}
const sharedZeros = (n: number) => alloc(n, "SharedArrayBuffer", true);

/** At most this many threads, or the hardware's count where larger: more workers than cores only add memory and start-up time. */
export const MAX_THREADS = 64;

/**
 * A tensor whose data live in a SharedArrayBuffer (zeros, or a copy of `data`): pool inputs there are
 * used without a copy, and a pool forward's `out` there is written by the workers directly, so a
 * loop that allocates its tensors once pays neither copies nor fresh-memory page faults per call.
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
 * Starts `threads` workers, each with its own wasm kernels; resolves once all are ready. Rejects
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
  let minElements = minGiven;
  if (wasmKernels === null || wasmRuntime === null) {
    throw new NormError("BACKEND_UNAVAILABLE", "createPool", "the pool runs the wasm kernels, and WebAssembly SIMD is unavailable here");
  }
  const isolated = typeof SharedArrayBuffer === "function";
  if (!isolated) {
    console.warn(NOT_ISOLATED);
    minElements = Infinity; // every call takes the calling-thread path below
  }
  const local: Kernels = wasmKernels;
  const flush = wasmRuntime.flush;

  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();
  let nextId = 0;
  let closed = false;
  let failure: unknown = null;
  const fail = (e: Error) => {
    failure ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  const reply = (r: JobReply) => {
    const p = pending.get(r.id);
    if (p === undefined) return;
    pending.delete(r.id);
    if (r.error !== undefined) p.reject(r.code !== undefined ? new NormError(r.code, r.argument ?? "pool", r.error) : new Error(`normkit worker: ${r.error}`));
    else p.resolve(r);
  };
  // spawn.ts turns every worker failure into an Error (a DOM Event has no message)
  const threads: Thread[] = isolated ? await startThreads(nThreads, reply, fail) : [];
  // idle: an unclosed pool does not keep the process alive
  for (const t of threads) t.ref(false);

  let inFlight = 0;
  const inFlightDone: Array<() => void> = [];
  const usable = () => {
    if (closed) throw new NormError("BAD_ARGUMENT", "pool", "the pool is closed");
    if (failure !== null) throw failure;
  };
  /** Runs the jobs, job i on thread i; resolves with the replies in thread order. */
  async function dispatch(jobs: JobBody[]): Promise<JobReply[]> {
    usable();
    if (inFlight++ === 0) for (const t of threads) t.ref(true);
    try {
      return await Promise.all(
        jobs.map((body, i) => {
          const id = nextId++;
          return new Promise<JobReply>((resolve, reject) => {
            pending.set(id, { resolve: (r) => resolve(r as JobReply), reject });
            threads[i]!.post({ ...body, id } as Job);
          });
        }),
      );
    } finally {
      if (--inFlight === 0) {
        for (const t of threads) t.ref(false);
        for (const f of inFlightDone.splice(0)) f();
      }
    }
  }
  const ctx: PoolContext = { threads: threads.length, flush, dispatch };
  const big = (n: number) => n >= minElements && n > 0;

  /** Plain float32 LayerNorm/RMSNorm forward on the workers (the float32 kernels, rows split on the chunk grid). */
  async function plainForward(rms: boolean, a: RowNormArgs) {
    const n = a.rows * a.D;
    const s = statShape(a.x.shape, a.normalizedShape);
    checkRowWidth(a.D);
    // workers write y in place when out is shared; otherwise into shared memory, copied to out after
    const y = a.out !== null && a.out.buffer instanceof SharedArrayBuffer ? a.out : sharedZeros(n);
    const mean = rms ? null : sharedZeros(a.rows), rstd = sharedZeros(a.rows);
    const base = { rms, backward: false, D: a.D, eps: a.eps, x: shared(a.x.data), weight: a.weight, bias: a.bias, y, mean: mean ?? undefined, rstd };
    await dispatch(splitRows(a.rows, a.D, threads.length, flush).map(([r0, r1]) => ({ ...base, r0, r1 })));
    if (a.out !== null && a.out !== y) {
      stillThere([["out", f32(a.out), n]]);
      a.out.set(y);
    }
    return { y: out(a.out ?? y, a.x.shape), mean: mean && out(mean, s), rstd: out(rstd, s) };
  }

  async function forward(rms: boolean, x: unknown, ns: unknown, opts: unknown) {
    usable();
    const a = rowNormSpec(x, ns, opts, rms ? RMS_NORM_EPS : LAYER_NORM_EPS);
    const s = statShape(a.x.shape, a.normalizedShape);
    if (big(a.rows * a.D) && isPlain(a)) return plainForward(rms, plainArgs(a));
    const r = big(a.rows * a.D) ? await rowsForward(ctx, rms, a, null) : rowForward(a, rms, local);
    return { y: tensorOf(r.y, a.x.shape), mean: r.mean && out(r.mean, s), rstd: out(r.rstd, s) };
  }

  /** Plain float32 LayerNorm/RMSNorm backward on the workers. */
  async function plainBackward(rms: boolean, a: RowNormBackwardArgs): Promise<Grads> {
    const n = a.rows * a.D;
    checkRowWidth(a.D);
    const grads = paramGrads(a.weight, a.bias, a.normalizedShape, a.into);
    // as forward's y: dx written in place when out is shared
    const dx = a.out !== null && a.out.buffer instanceof SharedArrayBuffer ? a.out : sharedZeros(n);
    const base = {
      rms, backward: true, D: a.D, eps: a.eps, x: shared(a.x.data), weight: a.weight, bias: a.bias, dy: shared(a.dy), dx,
      // saved statistics are read by the workers; without them each recomputes its rows'
      mean: a.stats?.mean ? shared(a.stats.mean) : undefined, rstd: a.stats ? shared(a.stats.rstd) : undefined,
    };
    const replies = await dispatch(splitRows(a.rows, a.D, threads.length, flush).map(([r0, r1]) => ({ ...base, r0, r1 })));
    // the caller's out and into may have lost their memory (transferred) while the workers ran
    stillThere([["out", a.out === dx ? null : f32(a.out), n], ["into.dweight", f32(a.into.dweight), a.D], ["into.dbias", f32(a.into.dbias), a.D]]);
    if (a.out !== null && a.out !== dx) a.out.set(dx);
    // per-thread float64 partials, reduced in thread order, added to the float32 gradients once
    for (const [into, key] of [[grads.dweight, "dw"], [grads.dbias, "db"]] as const) {
      if (into === null) continue;
      const s = new Float64Array(a.D);
      for (const r of replies) {
        const p = r[key]!;
        for (let i = 0; i < a.D; i++) s[i] += p[i]!;
      }
      for (let i = 0; i < a.D; i++) into[i] += s[i]!;
    }
    return grads.wrap(a.out ?? dx, a.x.shape);
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
    threads: isolated ? nThreads : 1,
    layerNorm: async (x: unknown, ns: unknown, o: unknown) => (await forward(false, x, ns, o)).y,
    rmsNorm: async (x: unknown, ns: unknown, o: unknown) => (await forward(true, x, ns, o)).y,
    layerNormForward: async (x: unknown, ns: unknown, o: unknown) => {
      const r = await forward(false, x, ns, o);
      return { y: r.y, mean: r.mean!, rstd: r.rstd };
    },
    rmsNormForward: async (x: unknown, ns: unknown, o: unknown) => {
      const r = await forward(true, x, ns, o);
      return { y: r.y, rstd: r.rstd };
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
      if (inFlight > 0) await new Promise<void>((r) => inFlightDone.push(r));
      await Promise.all(threads.map((t) => t.terminate()));
    },
  };
  // the methods validate every argument at run time (the core's specs): their types are Pool's
  return pool as unknown as Pool;
}

/** A float32 array as stored data (for stillThere), or null. */
const f32 = (a: Float32Array | null) => (a === null ? null : { data: a, dtype: "float32" as const });
