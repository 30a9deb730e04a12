/**
 * How the pool (src/pool/index.ts) and its workers (src/pool/worker.ts) talk. Once, at start: a
 * message with the shared WebAssembly memory and a control block (a SharedArrayBuffer). Then per
 * call, no messages: the pool writes a job into each worker's slot of the control block and wakes
 * it with Atomics.notify; the worker runs the kernels on byte offsets of the shared memory, stores
 * the job's number in `done` and notifies back.
 *
 * Two kinds of job. Plain float32 LayerNorm/RMSNorm (OP_FORWARD, OP_BACKWARD): byte offsets and
 * sizes in the slot's float64 fields (a Share). Issue #12's jobs (OP_JOB: half storage, fused add,
 * casting modes, BatchNorm; see JobBody): the job object as JSON text in the slot's text area, its
 * arrays written as references to views of the shared memory (encodeJob/decodeJob).
 */
import type { WasmBuild } from "../backends/wasm/module.js";
import type { ChannelBackwardJob, ChannelJob, RowBackwardJob, RowJob, Stored } from "../backends/types.js";

/** The start message: the memory every thread's kernels run on, the control block, this worker's slot. */
export interface Init {
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  slot: number;
  build: WasmBuild;
}

/** A worker's answer to Init (the only message a worker sends, except a failure's). */
export type Ready = { ready: true } | { ready: false; error: string };

/** Bytes per worker slot (a few cache lines, so two workers' slots never share one). */
export const SLOT_BYTES = 512;

/** Int32 fields of a slot (Atomics work on Int32Array): */
export const SEQ = 0; // the pool: number of the latest job
export const DONE = 1; // the worker: number of the latest job finished
export const OP = 2; // what to run (OP_*)
export const FAILED = 3; // 1 when the job threw; the message follows at MESSAGE

/** Operations. */
export const OP_FORWARD = 1;
export const OP_BACKWARD = 2;
export const OP_QUIT = 3;
export const OP_JOB = 4;

/** Float64 fields of a slot, from byte 16: byte offsets into the memory, row range, sizes. */
export const ARGS_AT = 2; // in float64 units
export const A = {
  Y: 0, M: 1, R: 2, X: 3, W: 4, B: 5, DX: 6, DY: 7, DW64: 8, DB64: 9, AC: 10,
  r0: 11, r1: 12, D: 13, eps: 14, /** backward: 1 when this worker recomputes its rows' statistics */ recompute: 15,
} as const;
export const ARG_COUNT = 16;

/** A failed job's message: UTF-16 code units from this byte, up to the slot's end. */
export const MESSAGE_AT = 16 + 8 * ARG_COUNT;
export const MESSAGE_CHARS = (SLOT_BYTES - MESSAGE_AT) / 2;

/** One share of a job: what a thread runs on its rows (byte offsets into the shared memory). */
export interface Share {
  op: number;
  Y: number; M: number; R: number; X: number; W: number; B: number;
  DX: number; DY: number; DW64: number; DB64: number; AC: number;
  r0: number; r1: number; D: number; eps: number;
  /** backward: this thread recomputes its rows' statistics first */
  recompute: boolean;
}

/** Writes a share into a slot's float64 fields. */
export function writeShare(a: Float64Array, j: Share): void {
  a[A.Y] = j.Y; a[A.M] = j.M; a[A.R] = j.R; a[A.X] = j.X; a[A.W] = j.W; a[A.B] = j.B;
  a[A.DX] = j.DX; a[A.DY] = j.DY; a[A.DW64] = j.DW64; a[A.DB64] = j.DB64; a[A.AC] = j.AC;
  a[A.r0] = j.r0; a[A.r1] = j.r1; a[A.D] = j.D; a[A.eps] = j.eps; a[A.recompute] = j.recompute ? 1 : 0;
}

/** Reads a share back (the worker side of writeShare). */
export function shareOf(op: number, a: Float64Array): Share {
  return {
    op, Y: a[A.Y]!, M: a[A.M]!, R: a[A.R]!, X: a[A.X]!, W: a[A.W]!, B: a[A.B]!,
    DX: a[A.DX]!, DY: a[A.DY]!, DW64: a[A.DW64]!, DB64: a[A.DB64]!, AC: a[A.AC]!,
    r0: a[A.r0]!, r1: a[A.r1]!, D: a[A.D]!, eps: a[A.eps]!, recompute: a[A.recompute] === 1,
  };
}

/**
 * Issue #12's row jobs (any dtype, weightOffset, castingMode, fused add) on rows [r0, r1): the
 * Kernels job, its arrays in the shared memory. A backward without saved statistics carries
 * `stats`: the statistics-only forward to run on the same rows first. Column sums go into the
 * job's dweight/dbias/dsum: zeros in the shared memory, one set per thread.
 */
export interface RowsJob {
  kind: "rows";
  r0: number;
  r1: number;
  job: RowJob;
}
export interface RowsBackwardJob {
  kind: "rowsBackward";
  r0: number;
  r1: number;
  stats: RowJob | null;
  job: RowBackwardJob;
}

/** BatchNorm on channels [c0, c1) (the pool splits channels, so every channel's sums are one thread's); mean/variance: float64 outputs, C values. */
export interface ChannelStatsJob {
  kind: "channelStats";
  c0: number;
  c1: number;
  x: Stored;
  N: number;
  C: number;
  S: number;
  mean: Float64Array;
  variance: Float64Array;
}
export interface ChannelApplyJob {
  kind: "channelApply";
  c0: number;
  c1: number;
  job: ChannelJob;
}
export interface ChannelBackwardJobMsg {
  kind: "channelBackward";
  c0: number;
  c1: number;
  job: ChannelBackwardJob;
}

/** One thread's part of an issue #12 call. */
export type JobBody = RowsJob | RowsBackwardJob | ChannelStatsJob | ChannelApplyJob | ChannelBackwardJobMsg;

/** Bytes of a slot's text area (after all slots): an encoded JobBody is well under 2 KiB. */
export const TEXT_BYTES = 16384;

type View = Float32Array | Uint16Array | Float64Array;
const VIEWS = { f32: Float32Array, u16: Uint16Array, f64: Float64Array } as const;

/**
 * A job as JSON, each typed array written as { $: kind, at: byte offset, n: length } — a
 * reference into the shared memory, which `owns` must confirm (an array elsewhere is a bug of the
 * pool: it stages every array into the memory first).
 */
export function encodeJob(j: JobBody, owns: (b: ArrayBufferLike) => boolean): string {
  return JSON.stringify(j, (_k, v: unknown) => {
    if (!ArrayBuffer.isView(v)) return typeof v === "number" && !Number.isFinite(v) ? { $: "num", v: String(v) } : v;
    if (!owns(v.buffer)) throw new Error("normkit pool: a job array is not in the shared memory");
    const $ = v instanceof Float32Array ? "f32" : v instanceof Uint16Array ? "u16" : "f64";
    return { $, at: v.byteOffset, n: (v as View).length };
  });
}

/** The job encodeJob wrote, its arrays views of `buffer` (the shared memory as the worker sees it now). */
export function decodeJob(text: string, buffer: ArrayBufferLike): JobBody {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v === null || typeof v !== "object" || !("$" in v)) return v;
    const r = v as { $: keyof typeof VIEWS | "num"; at: number; n: number; v: string };
    return r.$ === "num" ? Number(r.v) : new VIEWS[r.$](buffer as ArrayBuffer, r.at, r.n);
  }) as JobBody;
}
