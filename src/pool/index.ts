/**
 * The worker pool: LayerNorm and RMSNorm, forward and backward, with the rows split over threads
 * (Web Workers in browsers, worker_threads in Node), each running its own instance of the wasm
 * kernels on shared memory (SharedArrayBuffer).
 *
 * - Same signatures and validation as the synchronous ops (rowNormArgs), but async.
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
import { WASM_MAX_BYTES, splitRows } from "../backends/wasm/runtime.js";
import { wasmKernels, wasmRuntime } from "../backends/wasm/index.js";
import type { Kernels } from "../backends/types.js";
import {
  LAYER_NORM_EPS, POOL_KEYS, RMS_NORM_EPS, alloc, checkCount, checkShape, float32Values, lostMemory, numel, out, paramGrads, readOptions,
  rowNormArgs, rowNormBackwardArgs, statShape, type BackwardOptions, type ForwardOptions, type Grads, type Tensor,
} from "../core/index.js";
import { layerNormBackwardOf, layerNormForwardWithStats } from "../ops/layerNorm.js";
import { rmsNormBackwardOf, rmsNormForwardWithStats } from "../ops/rmsNorm.js";
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
  /** `options.out` in a SharedArrayBuffer (see sharedTensor) is written by the workers directly. */
  layerNorm(x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions): Promise<Tensor>;
  layerNormForward(x: Tensor, normalizedShape: number | readonly number[], options?: ForwardOptions): Promise<{ y: Tensor; mean: Tensor; rstd: Tensor }>;
  /** With `options.mean`/`rstd` the workers skip recomputing the statistics; a shared `options.out` gets dx in place. */
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

/** A row the wasm kernels cannot hold (4 arrays of D float32 at least) is a NormError before any copy. */
function checkRowWidth(D: number): void {
  if (16 * D > WASM_MAX_BYTES) {
    throw new NormError("LIMIT_EXCEEDED", "normalizedShape", `a row of ${D} values needs more than the ${WASM_MAX_BYTES / 2 ** 30} GiB of WebAssembly memory the pool's kernels can address (at most ${WASM_MAX_BYTES / 16} values); use the synchronous js backend`);
  }
}

/** Each [name, array, length] must still have its memory after an await; returns the first array. */
function stillThere(arrays: ReadonlyArray<readonly [string, Float32Array | null, number]>): Float32Array {
  for (const [name, a, n] of arrays) {
    if (a !== null && lostMemory(a, n)) {
      throw new NormError("DETACHED_BUFFER", name, "expected its memory to stay until the call resolved, but its buffer was detached (transferred) during the call; nothing was written");
    }
  }
  return arrays[0]![1]!;
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
  /** Runs one job per thread (rows split on the chunk grid); resolves with the replies in thread order. */
  const usable = () => {
    if (closed) throw new NormError("BAD_ARGUMENT", "pool", "the pool is closed");
    if (failure !== null) throw failure;
  };
  async function dispatch(base: Omit<Job, "id" | "r0" | "r1">, rows: number): Promise<Reply[]> {
    usable();
    if (inFlight++ === 0) for (const t of threads) t.ref(true);
    try {
      const ranges = splitRows(rows, base.D, threads.length, flush);
      return await Promise.all(
        ranges.map(([r0, r1], i) => {
          const id = nextId++;
          const job: Job = { ...base, id, r0, r1 };
          return new Promise<Reply>((resolve, reject) => {
            pending.set(id, { resolve, reject });
            threads[i].post(job);
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

  async function forward(rms: boolean, x: unknown, ns: unknown, opts: unknown) {
    usable();
    const a = rowNormArgs(x, ns, opts, rms ? RMS_NORM_EPS : LAYER_NORM_EPS, true);
    const n = a.rows * a.D;
    const s = statShape(a.x.shape, a.normalizedShape);
    if (n < minElements || n === 0) {
      const r = rms ? { ...rmsNormForwardWithStats(a, local), mean: null } : layerNormForwardWithStats(a, local);
      return { y: r.y, mean: r.mean && out(r.mean, s), rstd: out(r.rstd, s) };
    }
    checkRowWidth(a.D);
    // workers write y in place when out is shared; otherwise into shared memory, copied to out after
    const y = a.out !== null && a.out.buffer instanceof SharedArrayBuffer ? a.out : sharedZeros(n);
    const mean = rms ? null : sharedZeros(a.rows), rstd = sharedZeros(a.rows);
    await dispatch(
      { rms, backward: false, D: a.D, eps: a.eps, x: shared(a.x.data), weight: a.weight, bias: a.bias, y, mean: mean ?? undefined, rstd },
      a.rows,
    );
    if (a.out !== null && a.out !== y) stillThere([["out", a.out, n]]).set(y);
    return { y: out(a.out ?? y, a.x.shape), mean: mean && out(mean, s), rstd: out(rstd, s) };
  }

  async function backward(rms: boolean, dy: unknown, x: unknown, ns: unknown, opts: unknown): Promise<Grads> {
    usable();
    const a = rowNormBackwardArgs(dy, x, ns, opts, rms ? RMS_NORM_EPS : LAYER_NORM_EPS, rms);
    const n = a.rows * a.D;
    if (n < minElements || n === 0) return (rms ? rmsNormBackwardOf : layerNormBackwardOf)(a, local);
    checkRowWidth(a.D);
    const grads = paramGrads(a.weight, a.bias, a.normalizedShape, a.into);
    // as forward's y: dx written in place when out is shared
    const dx = a.out !== null && a.out.buffer instanceof SharedArrayBuffer ? a.out : sharedZeros(n);
    const replies = await dispatch(
      {
        rms, backward: true, D: a.D, eps: a.eps, x: shared(a.x.data), weight: a.weight, bias: a.bias, dy: shared(a.dy), dx,
        // saved statistics are read by the workers; without them each recomputes its rows'
        mean: a.stats?.mean ? shared(a.stats.mean) : undefined, rstd: a.stats ? shared(a.stats.rstd) : undefined,
      },
      a.rows,
    );
    // the caller's out and into may have lost their memory (transferred) while the workers ran
    stillThere([["out", a.out === dx ? null : a.out, n], ["into.dweight", a.into.dweight, a.D], ["into.dbias", a.into.dbias, a.D]]);
    if (a.out !== null && a.out !== dx) a.out.set(dx);
    // per-thread float64 partials, reduced in thread order, added to the float32 gradients once
    for (const [into, key] of [[grads.dweight, "dw"], [grads.dbias, "db"]] as const) {
      if (into === null) continue;
      const s = new Float64Array(a.D);
      for (const r of replies) {
        const p = (r as { dw?: Float64Array; db?: Float64Array })[key]!;
        for (let i = 0; i < a.D; i++) s[i] += p[i];
      }
      for (let i = 0; i < a.D; i++) into[i] += s[i];
    }
    return grads.wrap(a.out ?? dx, a.x.shape);
  }

  return {
    threads: isolated ? nThreads : 1,
    layerNorm: async (x, ns, o) => (await forward(false, x, ns, o)).y,
    rmsNorm: async (x, ns, o) => (await forward(true, x, ns, o)).y,
    layerNormForward: async (x, ns, o) => {
      const r = await forward(false, x, ns, o);
      return { y: r.y, mean: r.mean!, rstd: r.rstd };
    },
    rmsNormForward: async (x, ns, o) => {
      const r = await forward(true, x, ns, o);
      return { y: r.y, rstd: r.rstd };
    },
    layerNormBackward: (dy, x, ns, o) => backward(false, dy, x, ns, o),
    rmsNormBackward: (dy, x, ns, o) => backward(true, dy, x, ns, o),
    async close() {
      if (closed) return;
      closed = true;
      if (inFlight > 0) await new Promise<void>((r) => inFlightDone.push(r));
      await Promise.all(threads.map((t) => t.terminate()));
    },
  };
}
