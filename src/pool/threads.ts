/**
 * The pool's threads: workers started once on the shared WebAssembly memory, and the dispatch of a
 * job over them through a control block (src/pool/protocol.ts) with Atomics, the calling thread
 * running the first share of the rows itself. No postMessage and no allocation per call.
 */
import { NormError, describe } from "../errors.js";
import type { KernelInstance } from "../backends/wasm/runtime.js";
import type { WasmBuild } from "../backends/wasm/module.js";
import {
  ARGS_AT, ARG_COUNT, DONE, FAILED, MESSAGE_AT, MESSAGE_CHARS, OP, OP_FORWARD, OP_QUIT, SEQ, SLOT_BYTES, writeShare,
  type Init, type Ready, type Share,
} from "./protocol.js";

export type { Share };

/** The little of a Worker the pool uses, over Web Workers and worker_threads alike. */
interface Thread {
  post(m: Init): void;
  onMessage(f: (r: Ready) => void): void;
  onError(f: (e: unknown) => void): void;
  /** Node only: whether an idle pool keeps the process alive. */
  ref(on: boolean): void;
  terminate(): Promise<void>;
}

async function spawn(): Promise<Thread> {
  if (typeof (globalThis as { Worker?: unknown }).Worker === "function") {
    // written as bundlers (Vite, webpack, esbuild) recognise a module worker to bundle
    const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    return {
      post: (m) => w.postMessage(m),
      onMessage: (f) => (w.onmessage = (e: MessageEvent<Ready>) => f(e.data)),
      onError: (f) => (w.onerror = (e) => f(e)),
      ref: () => {},
      terminate: async () => w.terminate(),
    };
  }
  const spec = "node:worker_threads"; // a variable: bundlers for browsers leave it alone
  const { Worker: NodeWorker } = (await import(spec)) as typeof import("node:worker_threads");
  const w = new NodeWorker(new URL("./worker.js", import.meta.url));
  return {
    post: (m) => w.postMessage(m),
    onMessage: (f) => w.on("message", f),
    onError: (f) => w.on("error", f),
    ref: (on) => (on ? w.ref() : w.unref()),
    terminate: async () => void (await w.terminate()),
  };
}

/** A pool rejection as an Error: a worker's error event (a bare Event in browsers) becomes a NormError. */
export function asError(e: unknown): Error {
  if (e instanceof Error) return e;
  const msg = (e as { message?: unknown } | null)?.message;
  return new NormError("BACKEND_UNAVAILABLE", "pool", `a worker failed: ${typeof msg === "string" && msg ? msg : describe(e)}`);
}

/** Atomics.waitAsync (ES2024: Node ≥ 16, Chromium ≥ 87; where missing the pool polls with setTimeout). */
type WaitAsync = (a: Int32Array, i: number, v: number, ms: number) => { async: false; value: string } | { async: true; value: Promise<string> };

/**
 * How long the calling thread polls for the workers before it yields to the event loop
 * (Atomics.waitAsync), in polls: a worker finishing its share right after the caller finishes
 * its own is then seen at once, and a long one costs no CPU.
 */
const POLLS = 2000;

export class Threads {
  private readonly i32: Int32Array;
  private readonly args: Float64Array[];
  private readonly seq: number[];
  private failure: Error | null = null;

  private constructor(private readonly workers: Thread[], control: SharedArrayBuffer, private readonly local: KernelInstance) {
    this.i32 = new Int32Array(control);
    this.args = workers.map((_, s) => new Float64Array(control, s * SLOT_BYTES + 8 * ARGS_AT, ARG_COUNT));
    this.seq = workers.map(() => 0);
    for (const w of workers) w.onError((e) => void (this.failure ??= asError(e)));
  }

  /** Starts `n` workers on `memory` (shared), each with the `build` of the kernels; resolves once all are ready. */
  static async start(n: number, memory: WebAssembly.Memory, build: WasmBuild, local: KernelInstance): Promise<Threads> {
    const control = new SharedArrayBuffer(Math.max(1, n) * SLOT_BYTES);
    const workers: Thread[] = [];
    try {
      await Promise.all(
        Array.from({ length: n }, async (_, slot) => {
          const t = await spawn();
          workers[slot] = t;
          await new Promise<void>((resolve, reject) => {
            t.onError((e) => reject(asError(e)));
            t.onMessage((r) => (r.ready ? resolve() : reject(new NormError("BACKEND_UNAVAILABLE", "createPool", r.error))));
            t.post({ memory, control, slot, build });
          });
          t.ref(false); // idle: an unclosed pool does not keep the process alive
        }),
      );
    } catch (e) {
      await Promise.all(workers.filter((w) => w !== undefined).map((w) => w.terminate()));
      throw e;
    }
    return new Threads(workers, control, local);
  }

  /** Threads that compute a job: the workers and the calling thread. */
  get count(): number {
    return this.workers.length + 1;
  }

  /** A worker failed (crashed): the pool cannot be used. */
  get failed(): Error | null {
    return this.failure;
  }

  /**
   * Runs shares[0] on the calling thread and shares[1…] on the workers (one each, in slot order);
   * resolves when all are done. The caller serializes calls (one job at a time).
   */
  async run(shares: readonly Share[]): Promise<void> {
    const n = this.workers.length;
    for (const w of this.workers) w.ref(true);
    try {
      for (let s = 0; s < n; s++) this.post(s, shares[s + 1]!);
      runShare(this.local, shares[0]!);
      for (let s = 0; s < n; s++) await this.finished(s);
      for (let s = 0; s < n; s++) this.check(s);
    } finally {
      for (const w of this.workers) w.ref(false);
    }
  }

  private post(s: number, j: Share): void {
    writeShare(this.args[s]!, j);
    const base = (s * SLOT_BYTES) >> 2;
    Atomics.store(this.i32, base + OP, j.op);
    // the release of the job number publishes the fields above to the worker that acquires it
    Atomics.store(this.i32, base + SEQ, ++this.seq[s]!);
    Atomics.notify(this.i32, base + SEQ);
  }

  /** Waits for worker s's current job: a short poll, then Atomics.waitAsync (the event loop runs meanwhile). */
  private async finished(s: number): Promise<void> {
    const at = ((s * SLOT_BYTES) >> 2) + DONE, want = this.seq[s]!;
    for (let i = 0; i < POLLS; i++) if (Atomics.load(this.i32, at) === want) return;
    for (;;) {
      const seen = Atomics.load(this.i32, at);
      if (seen === want) return;
      if (this.failure !== null) throw this.failure;
      // wake at the worker's notify, or every 100 ms to notice a worker that died
      const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
      if (waitAsync === undefined) {
        await new Promise((r) => setTimeout(r, 0));
        continue;
      }
      const r = waitAsync(this.i32, at, seen, 100);
      if (r.async) await r.value;
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
