/**
 * The pool's threads: workers started once on the shared WebAssembly memory, and the dispatch of a
 * job over them through a control block (src/pool/protocol.ts) with Atomics, the calling thread
 * running the first share of the rows itself. No postMessage and no allocation per call.
 */
import { NormError } from "../errors.js";
import type { KernelInstance } from "../backends/wasm/runtime.js";
import type { WasmBuild } from "../backends/wasm/module.js";
import {
  ARGS_AT, ARG_COUNT, DONE, FAILED, MESSAGE_AT, MESSAGE_CHARS, OP, OP_FORWARD, OP_JOB, OP_QUIT, SEQ, SLOT_BYTES, TEXT_BYTES, writeShare,
  type Share,
} from "./protocol.js";
import { startThreads, type Thread } from "./spawn.js";

export type { Share };

/** Atomics.waitAsync (ES2024: Node ≥ 16, Chromium ≥ 87; where missing the pool polls with setTimeout). */
type WaitAsync = (a: Int32Array, i: number, v: number, ms: number) => { async: false; value: string } | { async: true; value: Promise<string> };

/**
 * How long the calling thread polls for the workers before it yields to the event loop
 * (Atomics.waitAsync), in polls: a worker finishing its share right after the caller finishes
 * its own is then seen at once, and a long one costs no CPU.
 */
const POLLS = 2000;

/**
 * How long the calling thread may block in Atomics.wait for the workers before it yields to the
 * event loop: long enough for the workers' share of most calls (they run as long as its own), short
 * enough that a worker that died is noticed (its exit event needs the event loop).
 */
const BLOCK_MS = 50;

/** Whether Atomics.wait may block this thread (it throws on a browser's main thread). */
const canBlock = (() => {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
})();

export class Threads {
  private readonly i32: Int32Array;
  private readonly args: Float64Array[];
  private readonly seq: number[];

  private constructor(private readonly workers: Thread[], control: SharedArrayBuffer, private readonly local: KernelInstance, fail: { error: Error | null }) {
    this.i32 = new Int32Array(control);
    this.args = workers.map((_, s) => new Float64Array(control, s * SLOT_BYTES + 8 * ARGS_AT, ARG_COUNT));
    this.seq = workers.map(() => 0);
    this.fail = fail;
  }

  private readonly fail: { error: Error | null };

  /**
   * Starts `n` workers on `memory` (shared), each with the `build` of the kernels; resolves once all
   * are ready (src/pool/spawn.ts: a worker that fails to start rejects, and none is left running).
   */
  static async start(n: number, memory: WebAssembly.Memory, build: WasmBuild, local: KernelInstance): Promise<Threads> {
    // the slots, then each slot's text area (issue #12's jobs, as JSON)
    const control = new SharedArrayBuffer(Math.max(1, n) * (SLOT_BYTES + TEXT_BYTES));
    // a worker that dies or throws later fails the pool: the call waiting on it rejects with it
    const fail: { error: Error | null } = { error: null };
    const workers = await startThreads(n, (slot) => ({ memory, control, slot, build }), (e) => void (fail.error ??= e));
    for (const w of workers) w.ref(false); // idle: an unclosed pool does not keep the process alive
    return new Threads(workers, control, local, fail);
  }

  /** Threads that compute a job: the workers and the calling thread. */
  get count(): number {
    return this.workers.length + 1;
  }

  /** A worker failed (crashed): the pool cannot be used. */
  get failed(): Error | null {
    return this.fail.error;
  }

  /**
   * Runs shares[0] on the calling thread and shares[1…] on the workers (one each, in slot order);
   * resolves when all are done. The caller serializes calls (one job at a time).
   */
  run(shares: readonly Share[]): Promise<void> {
    return this.#run(shares.length - 1, (s) => this.post(s, shares[s + 1]!), () => runShare(this.local, shares[0]!));
  }

  /**
   * Issue #12's jobs: texts[s] (an encoded JobBody) on worker s, and `local` (the first job) on
   * the calling thread; fewer texts than workers leave the others idle.
   */
  runJobs(texts: readonly string[], local: () => void): Promise<void> {
    return this.#run(texts.length, (s) => this.postText(s, texts[s]!), local);
  }

  async #run(posted: number, post: (slot: number) => void, local: () => void): Promise<void> {
    const n = Math.min(posted, this.workers.length);
    for (const w of this.workers) w.ref(true);
    try {
      for (let s = 0; s < n; s++) post(s);
      local();
      for (let s = 0; s < n; s++) await this.finished(s);
      for (let s = 0; s < n; s++) this.check(s);
    } finally {
      for (const w of this.workers) w.ref(false);
    }
  }

  private postText(s: number, text: string): void {
    if (2 * (text.length + 1) > TEXT_BYTES) throw new Error(`normkit pool: a job of ${text.length} characters does not fit a slot`);
    const at = this.workers.length * SLOT_BYTES + s * TEXT_BYTES;
    const u16 = new Uint16Array(this.i32.buffer, at, text.length);
    for (let i = 0; i < text.length; i++) u16[i] = text.charCodeAt(i);
    this.args[s]![0] = text.length;
    this.publish(s, OP_JOB);
  }

  private post(s: number, j: Share): void {
    writeShare(this.args[s]!, j);
    this.publish(s, j.op);
  }

  private publish(s: number, op: number): void {
    const base = (s * SLOT_BYTES) >> 2;
    Atomics.store(this.i32, base + OP, op);
    // the release of the job number publishes the fields above to the worker that acquires it
    Atomics.store(this.i32, base + SEQ, ++this.seq[s]!);
    Atomics.notify(this.i32, base + SEQ);
  }

  /**
   * Waits for worker s's current job: a short poll; then, where this thread may block (Node's main
   * thread, workers; not a browser's main thread), Atomics.wait for up to BLOCK_MS, which wakes
   * at the worker's notify without a trip through the event loop; then Atomics.waitAsync, so the
   * event loop runs (and sees a worker that died).
   */
  private async finished(s: number): Promise<void> {
    const at = ((s * SLOT_BYTES) >> 2) + DONE, want = this.seq[s]!;
    for (let i = 0; i < POLLS; i++) if (Atomics.load(this.i32, at) === want) return;
    if (canBlock) {
      const until = performance.now() + BLOCK_MS;
      for (let seen = Atomics.load(this.i32, at); seen !== want; seen = Atomics.load(this.i32, at)) {
        const left = until - performance.now();
        if (left <= 0) break;
        Atomics.wait(this.i32, at, seen, left);
      }
    }
    for (;;) {
      const seen = Atomics.load(this.i32, at);
      if (seen === want) return;
      if (this.fail.error !== null) throw this.fail.error;
      // wake at the worker's notify, or every 100 ms to notice a worker that died
      const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
      if (waitAsync === undefined) {
        await new Promise((r) => setTimeout(r, 0));
        continue;
      }
      const r = waitAsync(this.i32, at, seen, 100);
      if (!r.async) continue;
      // a pending waitAsync does not keep Node's event loop alive (a timer does), and a worker that
      // died never notifies: wake at the notify or after 100 ms, whichever comes first
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([r.value, new Promise((ok) => (timer = setTimeout(ok, 100)))]);
      clearTimeout(timer);
    }
  }

  private check(s: number): void {
    const base = (s * SLOT_BYTES) >> 2;
    if (this.i32[base + FAILED] !== 1) return;
    const msg = new Uint16Array(this.i32.buffer, s * SLOT_BYTES + MESSAGE_AT, MESSAGE_CHARS);
    let text = "";
    for (let i = 0; i < msg.length && msg[i] !== 0; i++) text += String.fromCharCode(msg[i]!);
    throw new NormError("BACKEND_UNAVAILABLE", "pool", `a worker's kernel failed: ${text}`);
  }

  /** Tells the workers to leave their loop, then terminates them. */
  async close(): Promise<void> {
    for (let s = 0; s < this.workers.length; s++) {
      const base = (s * SLOT_BYTES) >> 2;
      Atomics.store(this.i32, base + OP, OP_QUIT);
      Atomics.store(this.i32, base + SEQ, ++this.seq[s]!);
      Atomics.notify(this.i32, base + SEQ);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** One share on the calling thread: what src/pool/worker.ts does with a slot. */
export function runShare(k: KernelInstance, j: Share): void {
  if (j.op === OP_FORWARD) {
    k.forwardRows(j.Y, j.M, j.R, j.X, j.W, j.B, j.r0, j.r1, j.D, j.eps);
    return;
  }
  if (j.recompute) k.forwardRows(j.DX, j.M, j.R, j.X, 0, 0, j.r0, j.r1, j.D, j.eps);
  k.backwardRows(j.DX, j.DW64, j.DB64, j.AC, j.DY, j.X, j.M, j.R, j.W, j.r0, j.r1, j.D);
}
