/**
 * The pool's issue #12 calls: the row jobs (half storage, weightOffset, castingMode, fused
 * residual add) split by rows as the float32 ones, and BatchNorm split by channels. Every array of
 * a call is staged in the shared WebAssembly memory (resident tensors in place, others copied in,
 * outputs copied out: src/pool/staging.ts), and each thread runs the same wasm job loops as the
 * synchronous backend (src/backends/wasm/jobs-*.ts) on its part:
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
import type { JobBody } from "./protocol.js";
import type { Staging } from "./staging.js";

/** One pool call's view of the pool: its arrays staged in the shared memory, and the threads. */
export interface CallContext {
  readonly stage: Staging;
  /** runs jobs[0] on the calling thread and jobs[1…] on the workers; resolves when all are done */
  dispatch(jobs: JobBody[]): Promise<void>;
}

/** What the pool gives these drivers. */
export interface PoolContext {
  readonly threads: number;
  readonly flush: number;
  /** runs `f` as one call (calls run one at a time); its staging is copied out, then freed, when f settles */
  call<R>(f: (c: CallContext) => Promise<R>): Promise<R>;
}

/** A row the wasm kernels cannot hold (4 arrays of D float32 at least) is a NormError before any copy. */
export function checkRowWidth(D: number): void {
  if (16 * D > WASM_MAX_BYTES) {
    throw new NormError("LIMIT_EXCEEDED", "normalizedShape", `a row of ${D} values needs more than the ${WASM_MAX_BYTES / 2 ** 30} GiB of WebAssembly memory the pool's kernels can address (at most ${WASM_MAX_BYTES / 16} values); use the synchronous js backend`);
  }
}

/** Each [name, array, length] must still have its memory (an await may have let the caller transfer it). */
export function stillThere(arrays: ReadonlyArray<readonly [string, Stored | null, number]>): void {
  for (const [name, a, n] of arrays) {
    if (a !== null && lostMemory(a.data, n)) {
      throw new NormError("DETACHED_BUFFER", name, "expected its memory to stay until the call resolved, but its buffer was detached (transferred) during the call; nothing was written");
    }
  }
}

/** LayerNorm/RMSNorm forward (and the fused add) on the threads. */
export function rowsForward(ctx: PoolContext, rms: boolean, a: RowNormSpec, add: AddInputs | null): Promise<RowForwardResult> {
  checkRowWidth(a.D);
  const n = a.rows * a.D;
  return ctx.call(async ({ stage: s, dispatch }) => {
    stillThere([["x", a.x, n], ["residual", add?.residual ?? null, n]]);
    const y = a.out ?? allocStored(a.x.dtype, n, "y", true);
    const h = add === null ? null : (add.residualOut ?? allocStored(a.x.dtype, n, "h", true));
    const mean = rms ? null : alloc(a.rows, "mean"), rstd = alloc(a.rows, "rstd");
    // h over the residual itself: staged twice when not resident (read from the copy, written to
    // the other block, copied back); in place when resident (each row read before it is written)
    const job: RowJob = {
      rms, rows: a.rows, D: a.D, eps: a.eps, x: s.input(a.x), residual: s.input(add?.residual ?? null), inputBias: s.input(add?.inputBias ?? null),
      h: s.output(h, "residualOut"), weight: s.input(a.weight), bias: s.input(a.bias), weightOffset: a.weightOffset, castingMode: a.castingMode,
      y: s.output(y, "out"), mean: s.output(mean, "mean"), rstd: s.output(rstd, "rstd"),
    };
    await dispatch(splitRows(a.rows, a.D, ctx.threads, ctx.flush).map(([r0, r1]) => ({ kind: "rows" as const, r0, r1, job })));
    return { y, mean, rstd, h };
  });
}

/** LayerNorm/RMSNorm backward (and the add ops') on the threads. */
export function rowsBackward(ctx: PoolContext, rms: boolean, a: RowNormBackwardSpec & AddBackwardExtras): Promise<RowGrads> {
  checkRowWidth(a.D);
  const n = a.rows * a.D, D = a.D;
  return ctx.call(async ({ stage: s, dispatch }) => {
    stillThere([["x", a.x, n], ["dy", a.dy, n], ["dh", a.dh, n]]);
    const dx = a.out ?? allocStored(a.x.dtype, n, "dx", true);
    const x = s.input(a.x);
    // without saved statistics each thread first recomputes its rows' (statistics only), as the synchronous backward does
    let stats: RowJob | null = null;
    let mean = s.input(a.stats?.mean ?? null), rstd = s.input(a.stats?.rstd ?? null);
    if (rstd === null) {
      mean = rms ? null : s.scratch(Float32Array, a.rows);
      rstd = s.scratch(Float32Array, a.rows);
      stats = {
        rms, rows: a.rows, D, eps: a.eps, x, residual: null, inputBias: null, h: null, weight: s.input(a.weight), bias: s.input(a.bias),
        weightOffset: a.weightOffset, castingMode: a.castingMode, y: null, mean, rstd,
      };
    }
    const gw = gradTarget(a.weight, a.into.dweight, D, "dweight");
    const gb = gradTarget(a.bias, a.into.dbias, D, "dbias");
    const gi = gradTarget(a.inputBias, a.intoInputBias, D, "dinputBias");
    const job = {
      rms, rows: a.rows, D, dy: s.input(a.dy), x, mean: rms ? null : mean, rstd: rstd!, weight: s.input(a.weight),
      weightOffset: a.weightOffset, castingMode: a.castingMode, dh: s.input(a.dh), dx: s.output(dx, "out"),
    };
    // each thread its own float64 partial sums
    const jobs = splitRows(a.rows, D, ctx.threads, ctx.flush).map(([r0, r1]) => ({
      kind: "rowsBackward" as const, r0, r1, stats,
      job: { ...job, dweight: gw && s.scratch(Float64Array, D), dbias: gb && s.scratch(Float64Array, D), dsum: gi && s.scratch(Float64Array, D) },
    }));
    await dispatch(jobs);
    // the caller's into may have lost its memory (transferred) while the threads ran
    stillThere([["into.dweight", a.into.dweight, D], ["into.dbias", a.into.dbias, D], ["into.dinputBias", a.intoInputBias, D]]);
    // per-thread float64 partials, reduced in thread order, added to the gradients once
    for (const [g, key] of [[gw, "dweight"], [gb, "dbias"], [gi, "dsum"]] as const) {
      if (g === null) continue;
      for (const { job: j } of jobs) {
        const p = j[key]!;
        for (let i = 0; i < D; i++) g.sum[i] += p[i]!;
      }
      addSums(g);
    }
    const shape = a.normalizedShape;
    return {
      dx: tensorOf(dx, a.x.shape), dweight: gw && tensorOf(gw.target, shape), dbias: gb && tensorOf(gb.target, shape), dinputBias: gi && tensorOf(gi.target, shape),
    };
  });
}

/** Channels [0, C) in `parts` contiguous ranges, in order (empty ones dropped). */
const channelRanges = (C: number, parts: number) =>
  Array.from({ length: parts }, (_, t) => [Math.floor((t * C) / parts), Math.floor(((t + 1) * C) / parts)] as const).filter(([c0, c1]) => c1 > c0);

/** BatchNorm's per-channel mean and variance (float64), each thread a range of channels. */
async function channelSums(ctx: PoolContext, c: CallContext, a: BatchNormArgs, x: Stored) {
  const { N, C, S } = a;
  const mean = new Float64Array(C), variance = new Float64Array(C);
  if (a.training && N * S > 0) {
    const jobs = channelRanges(C, ctx.threads).map(([c0, c1]) => ({
      kind: "channelStats" as const, c0, c1, x, N, C, S, mean: c.stage.scratch(Float64Array, C), variance: c.stage.scratch(Float64Array, C),
    }));
    await c.dispatch(jobs);
    for (const j of jobs) {
      mean.set(j.mean.subarray(j.c0, j.c1), j.c0);
      variance.set(j.variance.subarray(j.c0, j.c1), j.c0);
    }
  }
  return { mean, variance };
}

/** BatchNorm's statistics on the threads; updates the running statistics when asked, as the synchronous op. */
export function channelsStats(ctx: PoolContext, a: BatchNormArgs, updateRunning: boolean) {
  return ctx.call(async (c) => {
    const { mean, variance } = await channelSums(ctx, c, a, c.stage.input(a.x));
    return finishStats(a, mean, variance, updateRunning);
  });
}

/** BatchNorm forward on the threads (each a range of channels); updates the running statistics as the synchronous op. */
export function channelsForward(ctx: PoolContext, a: BatchNormArgs) {
  const { N, C, S } = a;
  return ctx.call(async (c) => {
    const x = c.stage.input(a.x);
    const { mean, variance } = await channelSums(ctx, c, a, x);
    const st = finishStats(a, mean, variance, true);
    const y = allocStored(a.x.dtype, N * C * S, "y", true);
    const s = c.stage;
    const job = { N, C, S, x, y: s.output(y, "y"), mean: s.input(st.mean), rstd: s.input(st.rstd), weight: s.input(a.weight), bias: s.input(a.bias) };
    if (y.data.length > 0) await c.dispatch(channelRanges(C, ctx.threads).map(([c0, c1]) => ({ kind: "channelApply" as const, c0, c1, job })));
    return { y: tensorOf(y, a.x.shape), ...st };
  });
}

/** BatchNorm backward on the threads (each a range of channels, whose dweight/dbias it alone sums). */
export function channelsBackward(ctx: PoolContext, a: BatchNormArgs, dy: Stored, mean: Float64Array, rstd: Float64Array): Promise<AnyGrads> {
  const { N, C, S } = a;
  return ctx.call(async ({ stage: s, dispatch }) => {
    const dx = allocStored(a.x.dtype, N * C * S, "dx", true);
    const gw = gradTarget(a.weight, null, C, "dweight"), gb = gradTarget(a.bias, null, C, "dbias");
    if (dx.data.length > 0) {
      const job = {
        N, C, S, dy: s.input(dy), x: s.input(a.x), mean: s.input(mean), rstd: s.input(rstd), weight: s.input(a.weight), training: a.training, dx: s.output(dx, "dx"),
      };
      const jobs = channelRanges(C, ctx.threads).map(([c0, c1]) => ({
        kind: "channelBackward" as const, c0, c1, job: { ...job, dweight: gw && s.scratch(Float64Array, C), dbias: gb && s.scratch(Float64Array, C) },
      }));
      await dispatch(jobs);
      for (const { c0, c1, job: j } of jobs) {
        gw?.sum.set(j.dweight!.subarray(c0, c1), c0);
        gb?.sum.set(j.dbias!.subarray(c0, c1), c0);
      }
    }
    addSums(gw);
    addSums(gb);
    return { dx: tensorOf(dx, a.x.shape), dweight: gw && tensorOf(gw.target, [C]), dbias: gb && tensorOf(gb.target, [C]) };
  });
}
