/**
 * The pool's issue #12 calls: the row jobs (half storage, weightOffset, castingMode, fused
 * residual add) split by rows as the float32 ones, and BatchNorm split by channels. Each worker
 * runs the same wasm job loops as the synchronous backend (src/backends/wasm/jobs-*.ts) on its
 * part, on shared memory:
 * - rows: split on the kernels' chunk grid (splitRows), so y, h, dx, mean, rstd are bitwise the
 *   synchronous ones whatever the thread count; column sums (dweight, dbias, dinputBias) are
 *   float64 per-thread partials reduced in thread order (bitwise with one thread);
 * - BatchNorm: each thread owns a range of channels, and a channel's sums are computed whole by
 *   its owner exactly as the synchronous backend computes them, so everything — statistics, y, dx,
 *   dweight, dbias — is bitwise the synchronous result whatever the thread count.
 */
import { NormError } from "../errors.js";
import { splitRows, WASM_MAX_BYTES } from "../backends/wasm/runtime.js";
import type { RowJob } from "../backends/types.js";
import {
  addSums, alloc, allocStored, gradTarget, lostMemory, tensorOf,
  type AddBackwardExtras, type BatchNormArgs, type RowNormBackwardSpec, type RowNormSpec, type Stored,
} from "../core/index.js";
import { finishStats } from "../ops/batchNorm.js";
import type { AnyGrads } from "../ops/layerNorm.js";
import type { AddInputs, RowForwardResult, RowGrads } from "../ops/rows.js";
import type { Job, Reply } from "./protocol.js";

/** A job without its id (the pool numbers them). */
export type JobBody = Job extends infer J ? (J extends Job ? Omit<J, "id"> : never) : never;
type JobReply = Extract<Reply, { id: number }>;

/** What the pool gives these drivers: its threads and a way to run one job per thread. */
export interface PoolContext {
  readonly threads: number;
  readonly flush: number;
  /** runs the jobs (at most one per thread); resolves with the replies in order */
  dispatch(jobs: JobBody[]): Promise<JobReply[]>;
}

const isShared = (a: ArrayBufferView) => typeof SharedArrayBuffer === "function" && a.buffer instanceof SharedArrayBuffer;

/** `s` itself if it lives in shared memory, else a shared copy. */
export function sharedStored(s: Stored): Stored {
  if (isShared(s.data)) return s;
  const c = allocStored(s.dtype, s.data.length, "SharedArrayBuffer", true);
  (c.data as Float32Array).set(s.data as Float32Array);
  return c;
}

/** The caller's `target` when it is shared (the workers write it directly), else new shared storage of its dtype and size. */
const sharedTarget = (target: Stored | null, dtype: Stored["dtype"], n: number, what: string): Stored =>
  target !== null && isShared(target.data) ? target : allocStored(dtype, n, what, true);

/** A row the wasm kernels cannot hold (4 arrays of D float32 at least) is a NormError before any copy. */
export function checkRowWidth(D: number): void {
  if (16 * D > WASM_MAX_BYTES) {
    throw new NormError("LIMIT_EXCEEDED", "normalizedShape", `a row of ${D} values needs more than the ${WASM_MAX_BYTES / 2 ** 30} GiB of WebAssembly memory the pool's kernels can address (at most ${WASM_MAX_BYTES / 16} values); use the synchronous js backend`);
  }
}

/** Each [name, array, length] must still have its memory after an await. */
export function stillThere(arrays: ReadonlyArray<readonly [string, Stored | null, number]>): void {
  for (const [name, a, n] of arrays) {
    if (a !== null && lostMemory(a.data, n)) {
      throw new NormError("DETACHED_BUFFER", name, "expected its memory to stay until the call resolved, but its buffer was detached (transferred) during the call; nothing was written");
    }
  }
}

/** Copies the workers' output into the caller's (non-shared) target, if it had to be elsewhere. */
function copyBack(target: Stored | null, from: Stored): void {
  if (target !== null && target.data !== from.data) (target.data as Float32Array).set(from.data as Float32Array);
}

/** LayerNorm/RMSNorm forward (and the fused add) on the workers. */
export async function rowsForward(ctx: PoolContext, rms: boolean, a: RowNormSpec, add: AddInputs | null): Promise<RowForwardResult> {
  checkRowWidth(a.D);
  const n = a.rows * a.D;
  const y = sharedTarget(a.out, a.x.dtype, n, "y");
  const h = add === null ? null : sharedTarget(add.residualOut, a.x.dtype, n, "h");
  const mean = rms ? null : alloc(a.rows, "mean", true), rstd = alloc(a.rows, "rstd", true);
  // h over a residual in shared memory is written in place by the workers (each row read first);
  // over one that is not, into shared memory and copied back below
  const residual = add === null ? null : add.residualOut !== null && h === add.residualOut ? add.residual : sharedStored(add.residual);
  const job: RowJob = {
    rms, rows: a.rows, D: a.D, eps: a.eps, x: sharedStored(a.x), residual, inputBias: add?.inputBias ?? null, h,
    weight: a.weight, bias: a.bias, weightOffset: a.weightOffset, castingMode: a.castingMode, y, mean, rstd,
  };
  await ctx.dispatch(splitRows(a.rows, a.D, ctx.threads, ctx.flush).map(([r0, r1]) => ({ kind: "rows" as const, r0, r1, job })));
  stillThere([["out", a.out === y ? null : a.out, n], ["residualOut", add?.residualOut === h ? null : (add?.residualOut ?? null), n]]);
  copyBack(a.out, y);
  if (add !== null) copyBack(add.residualOut, h!);
  return { y: a.out ?? y, mean, rstd, h: add === null ? null : (add.residualOut ?? h) };
}

/** LayerNorm/RMSNorm backward (and the add ops') on the workers. */
export async function rowsBackward(ctx: PoolContext, rms: boolean, a: RowNormBackwardSpec & AddBackwardExtras): Promise<RowGrads> {
  checkRowWidth(a.D);
  const n = a.rows * a.D, D = a.D;
  const dx = sharedTarget(a.out, a.x.dtype, n, "dx");
  const x = sharedStored(a.x);
  // without saved statistics each worker first recomputes its rows' (statistics only), as the synchronous backward does
  let stats: RowJob | null = null;
  let mean = a.stats?.mean ?? null, rstd = a.stats?.rstd ?? null;
  if (rstd === null) {
    mean = rms ? null : alloc(a.rows, "mean", true);
    rstd = alloc(a.rows, "rstd", true);
    stats = {
      rms, rows: a.rows, D, eps: a.eps, x, residual: null, inputBias: null, h: null, weight: a.weight, bias: a.bias,
      weightOffset: a.weightOffset, castingMode: a.castingMode, y: null, mean, rstd,
    };
  }
  const st = (v: Float32Array | null) => (v === null ? null : (sharedStored({ data: v, dtype: "float32" }).data as Float32Array));
  const gw = gradTarget(a.weight, a.into.dweight, D, "dweight");
  const gb = gradTarget(a.bias, a.into.dbias, D, "dbias");
  const gi = gradTarget(a.inputBias, a.intoInputBias, D, "dinputBias");
  const job = {
    rms, rows: a.rows, D, dy: sharedStored(a.dy), x, mean: rms ? null : st(mean), rstd: st(rstd)!, weight: a.weight,
    weightOffset: a.weightOffset, castingMode: a.castingMode, dh: a.dh && sharedStored(a.dh), dx,
    dweight: gw && new Float64Array(D), dbias: gb && new Float64Array(D), dsum: gi && new Float64Array(D),
  };
  const replies = await ctx.dispatch(splitRows(a.rows, D, ctx.threads, ctx.flush).map(([r0, r1]) => ({ kind: "rowsBackward" as const, r0, r1, stats, job })));
  // the caller's out and into may have lost their memory (transferred) while the workers ran
  stillThere([["out", a.out === dx ? null : a.out, n], ["into.dweight", a.into.dweight, D], ["into.dbias", a.into.dbias, D], ["into.dinputBias", a.intoInputBias, D]]);
  copyBack(a.out, dx);
  // per-thread float64 partials, reduced in thread order, added to the gradients once
  for (const [g, key] of [[gw, "dw"], [gb, "db"], [gi, "ds"]] as const) {
    if (g === null) continue;
    for (const r of replies) {
      const p = r[key]!;
      for (let i = 0; i < D; i++) g.sum[i] += p[i]!;
    }
    addSums(g);
  }
  const shape = a.normalizedShape;
  return {
    dx: tensorOf(a.out ?? dx, a.x.shape), dweight: gw && tensorOf(gw.target, shape), dbias: gb && tensorOf(gb.target, shape), dinputBias: gi && tensorOf(gi.target, shape),
  };
}

/** Channels [0, C) in `parts` contiguous ranges, in order (some may be empty). */
const channelRanges = (C: number, parts: number) =>
  Array.from({ length: parts }, (_, t) => [Math.floor((t * C) / parts), Math.floor(((t + 1) * C) / parts)] as const).filter(([c0, c1]) => c1 > c0);

/** BatchNorm's statistics on the workers (each a range of channels); updates the running statistics when asked, as the synchronous op. */
export async function channelsStats(ctx: PoolContext, a: BatchNormArgs, updateRunning: boolean, x: Stored = sharedStored(a.x)) {
  const { N, C, S } = a;
  const mean = new Float64Array(C), variance = new Float64Array(C);
  if (a.training && N * S > 0) {
    const ranges = channelRanges(C, ctx.threads);
    const replies = await ctx.dispatch(ranges.map(([c0, c1]) => ({ kind: "channelStats" as const, c0, c1, x, N, C, S })));
    replies.forEach((r, t) => {
      const [c0, c1] = ranges[t]!;
      mean.set(r.mean!.subarray(c0, c1), c0);
      variance.set(r.variance!.subarray(c0, c1), c0);
    });
  }
  return finishStats(a, mean, variance, updateRunning);
}

/** BatchNorm forward on the workers (each a range of channels); updates the running statistics as the synchronous op. */
export async function channelsForward(ctx: PoolContext, a: BatchNormArgs) {
  const { N, C, S } = a;
  const x = sharedStored(a.x);
  const ranges = channelRanges(C, ctx.threads);
  const s = await channelsStats(ctx, a, true, x);
  const y = allocStored(a.x.dtype, N * C * S, "y", true);
  const job = { N, C, S, x, y, mean: s.mean, rstd: s.rstd, weight: a.weight, bias: a.bias };
  if (y.data.length > 0) await ctx.dispatch(ranges.map(([c0, c1]) => ({ kind: "channelApply" as const, c0, c1, job })));
  return { y: tensorOf(y, a.x.shape), ...s };
}

/** BatchNorm backward on the workers (each a range of channels, whose dweight/dbias it alone sums). */
export async function channelsBackward(ctx: PoolContext, a: BatchNormArgs, dy: Stored, mean: Float64Array, rstd: Float64Array): Promise<AnyGrads> {
  const { N, C, S } = a;
  const dx = allocStored(a.x.dtype, N * C * S, "dx", true);
  const gw = gradTarget(a.weight, null, C, "dweight"), gb = gradTarget(a.bias, null, C, "dbias");
  if (dx.data.length > 0) {
    const ranges = channelRanges(C, ctx.threads);
    const job = {
      N, C, S, dy: sharedStored(dy), x: sharedStored(a.x), mean, rstd, weight: a.weight, training: a.training, dx,
      dweight: gw && new Float64Array(C), dbias: gb && new Float64Array(C),
    };
    const replies = await ctx.dispatch(ranges.map(([c0, c1]) => ({ kind: "channelBackward" as const, c0, c1, job })));
    replies.forEach((r, t) => {
      const [c0, c1] = ranges[t]!;
      gw?.sum.set(r.dw!.subarray(c0, c1), c0);
      gb?.sum.set(r.db!.subarray(c0, c1), c0);
    });
  }
  addSums(gw);
  addSums(gb);
  return { dx: tensorOf(dx, a.x.shape), dweight: gw && tensorOf(gw.target, [C]), dbias: gb && tensorOf(gb.target, [C]) };
}
