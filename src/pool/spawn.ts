/**
 * The pool's workers: starting them (a Web Worker where the runtime has one: browsers, Deno, Bun;
 * else a Node worker_threads Worker), waiting for their wasm kernels, and turning every way they can
 * fail into an Error: a DOM `Event` has no message (a worker script answered by a 404 rejected with
 * `undefined: undefined` before), and a worker that dies while a job is out must not leave the job's
 * promise pending forever.
 *
 * The worker script is ./worker.js beside this module ("normkit/worker" in package.json's exports).
 * Bundlers must find it from the line in webWorker(): Vite and webpack do so themselves; esbuild
 * copies nothing and needs the worker as an extra entry point (recipes in docs/install.md, each
 * tested in test/package).
 */
import { NormError } from "../errors.js";
import { importNode } from "./node-builtin.js";
import type { Job, Reply } from "./protocol.js";

/** One started worker, over Web Workers and worker_threads alike. */
export interface Thread {
  post(j: Job): void;
  /** Node only: whether an idle pool keeps the process alive. */
  ref(on: boolean): void;
  terminate(): Promise<void>;
}

/** A reply to a job (not the worker's ready message). */
export type JobReply = Extract<Reply, { id: number }>;

interface Events {
  message(r: Reply): void;
  /** the worker failed to load, threw (anything: a worker may throw a non-Error), or exited */
  failure(e: unknown): void;
}

/** The worker script beside this module; a variable where bundlers must not act on it (Vite copies a
 * URL built from a string literal and import.meta.url, outside `new Worker(…)`, as a raw asset). */
const WORKER = "./worker.js";
const HELP = "under a bundler, emit normkit's worker beside your bundle: see normkit's docs/install.md";

function loadError(where: string, detail: string): NormError {
  return new NormError("BACKEND_UNAVAILABLE", "createPool", `the pool's worker script (${where}) did not start: ${detail}; ${HELP}`);
}

/** A module Web Worker; `where` names its script for error messages. */
function webWorker(on: Events): { thread: Thread; where: string } {
  const where = `${WORKER} beside ${String(import.meta.url)}`;
  let w: Worker;
  try {
    // one expression, as Vite and webpack recognise a module worker to bundle (and esbuild keeps);
    // it throws where import.meta.url is empty (an IIFE bundle) or the script is cross-origin
    w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  } catch (e) {
    throw loadError(where, (e as Error).message);
  }
  w.onmessage = (e: MessageEvent<Reply>) => on.message(e.data);
  // an ErrorEvent (an exception in the worker) has a message; a script that failed to load
  // (404, wrong MIME type) gives a bare Event
  w.onerror = (e: Event) => {
    e.preventDefault();
    const message = (e as ErrorEvent).message;
    on.failure(new Error(message ? `normkit worker: ${message}` : "it failed to load (missing, or not served as JavaScript)"));
  };
  w.onmessageerror = () => on.failure(new Error("normkit worker: a message could not be deserialized"));
  return { thread: { post: (j) => w.postMessage(j), ref: () => {}, terminate: async () => w.terminate() }, where };
}

/** A worker_threads Worker; `where` names its script for error messages. */
async function nodeWorker(on: Events): Promise<{ thread: Thread; where: string }> {
  const { Worker: NodeWorker } = await importNode<typeof import("node:worker_threads")>("worker_threads");
  const url = new URL(WORKER, import.meta.url);
  const w = new NodeWorker(url);
  let terminating = false;
  w.on("message", on.message);
  w.on("error", on.failure); // a missing script (MODULE_NOT_FOUND), or an exception in the worker
  w.on("messageerror", on.failure);
  // after an "error" Node emits "exit" too; the pool keeps the first cause
  w.on("exit", (code: number) => terminating || on.failure(new Error(`normkit worker exited with code ${code}`)));
  const thread: Thread = {
    post: (j) => w.postMessage(j),
    ref: (on) => (on ? w.ref() : w.unref()),
    terminate: async () => {
      terminating = true;
      await w.terminate();
    },
  };
  return { thread, where: url.href };
}

/**
 * Starts one worker; resolves once its wasm kernels are ready. Before that, every failure rejects
 * (a NormError BACKEND_UNAVAILABLE when the script cannot load or has no WebAssembly SIMD) and the
 * worker is terminated; after it, replies go to `onReply` and failures to `onFailure`.
 */
export async function startThread(onReply: (r: JobReply) => void, onFailure: (e: Error) => void): Promise<Thread> {
  let ready = false;
  let where = WORKER;
  let settle: { resolve: () => void; reject: (e: Error) => void } | null = null;
  const started = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const on: Events = {
    message(r) {
      if (!("ready" in r)) return onReply(r);
      if (r.ready) {
        ready = true;
        settle!.resolve();
      } else settle!.reject(new NormError("BACKEND_UNAVAILABLE", "createPool", r.error));
    },
    // before ready, any failure means the script did not start (events come after the spawn returns)
    failure(e) {
      const error = e instanceof Error ? e : new Error(`normkit worker: ${String(e)}`);
      if (ready) onFailure(error);
      else settle!.reject(loadError(where, error.message));
    },
  };
  const spawned = typeof (globalThis as { Worker?: unknown }).Worker === "function" ? webWorker(on) : await nodeWorker(on);
  const t = spawned.thread;
  where = spawned.where;
  try {
    await started;
  } catch (e) {
    await t.terminate();
    throw e;
  }
  return t;
}

/**
 * Starts `n` workers. If any fails, terminates those that started and rejects with the first
 * failure (no worker is left running).
 */
export async function startThreads(n: number, onReply: (r: JobReply) => void, onFailure: (e: Error) => void): Promise<Thread[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => startThread(onReply, onFailure)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  const threads = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  if (failed === undefined) return threads;
  await Promise.all(threads.map((t) => t.terminate()));
  throw failed.reason;
}

/** How a page gets SharedArrayBuffer (a cross-origin isolated page). */
export const ISOLATION_HELP =
  "Serve the page cross-origin isolated, with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp";

/**
 * What createPool says where SharedArrayBuffer is missing: the pool then runs every call on the
 * calling thread, as onnxruntime-web does.
 */
export const NOT_ISOLATED = `normkit: SharedArrayBuffer is unavailable, so the pool runs on the calling thread (no workers). ${ISOLATION_HELP}`;
