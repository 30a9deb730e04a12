/**
 * A pool worker: the kernels instantiated on the pool's shared WebAssembly memory
 * (src/backends/wasm/runtime.ts, KernelInstance), running the jobs the pool writes into its slot of
 * the control block (src/pool/protocol.ts). It blocks in Atomics.wait between jobs: no message
 * per call, and a wake-up costs a futex, not a trip through the event loop. Loaded by
 * src/pool/index.ts as a Web Worker (module type) or a Node worker_threads Worker; never imported
 * by the package's entry point.
 */
import { kernelsModule } from "../backends/wasm/module.js";
import { KernelInstance, WasmRuntime } from "../backends/wasm/runtime.js";
import {
  ARGS_AT, ARG_COUNT, DONE, FAILED, MESSAGE_AT, MESSAGE_CHARS, OP, OP_JOB, OP_QUIT, SEQ, SLOT_BYTES, TEXT_BYTES, decodeJob, shareOf,
  type Init, type Ready,
} from "./protocol.js";
import { runJob } from "./run-job.js";
import { runShare } from "./threads.js";
import { importNode } from "./node-builtin.js";

interface Port {
  postMessage(m: Ready): void;
}

/**
 * Issue #12's jobs (OP_JOB) stream their arrays through scratch as the synchronous backend does:
 * this worker's own runtime on a private memory (made at the first such job), as only the thread
 * that made the shared memory allocates in it. The job's arrays are views of the shared memory.
 */
let jobRuntime: WasmRuntime | null = null;

/** The job loop: wait for a new job number, run it, publish `done`; until OP_QUIT. */
function serve(k: KernelInstance, init: Init): void {
  const { control, slot, memory } = init;
  const slots = control.byteLength / (SLOT_BYTES + TEXT_BYTES);
  const text = new Uint16Array(control, slots * SLOT_BYTES + slot * TEXT_BYTES, TEXT_BYTES / 2);
  const i32 = new Int32Array(control, slot * SLOT_BYTES, SLOT_BYTES / 4);
  const args = new Float64Array(control, slot * SLOT_BYTES + 8 * ARGS_AT, ARG_COUNT);
  const msg = new Uint16Array(control, slot * SLOT_BYTES + MESSAGE_AT, MESSAGE_CHARS);
  // job numbers start at 1: a job posted before this loop starts (right after "ready") is not missed
  let seen = 0;
  for (;;) {
    Atomics.wait(i32, SEQ, seen);
    const seq = Atomics.load(i32, SEQ);
    if (seq === seen) continue;
    seen = seq;
    const op = Atomics.load(i32, OP);
    if (op === OP_QUIT) break;
    try {
      if (op === OP_JOB) {
        jobRuntime ??= new WasmRuntime(k.module);
        runJob(jobRuntime, decodeJob(String.fromCharCode(...text.subarray(0, args[0]!)), memory.buffer));
      } else runShare(k, shareOf(op, args));
      i32[FAILED] = 0;
    } catch (e) {
      const text = (e instanceof Error ? e.message : String(e)).slice(0, MESSAGE_CHARS - 1);
      for (let i = 0; i < text.length; i++) msg[i] = text.charCodeAt(i);
      msg[text.length] = 0;
      i32[FAILED] = 1;
    }
    Atomics.store(i32, DONE, seq);
    Atomics.notify(i32, DONE);
  }
  Atomics.store(i32, DONE, seen);
  Atomics.notify(i32, DONE);
}

async function start(): Promise<void> {
  let port: Port;
  let listen: (f: (m: Init) => void) => void;
  if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
    const self = globalThis as unknown as Port & { onmessage: ((e: MessageEvent<Init>) => void) | null };
    port = self;
    listen = (f) => (self.onmessage = (e) => f(e.data));
  } else {
    const { parentPort } = await importNode<typeof import("node:worker_threads")>("worker_threads");
    if (parentPort === null) throw new Error("normkit/worker is the pool's worker script: createPool starts it; it is not for import");
    port = parentPort;
    listen = (f) => parentPort.once("message", f);
  }
  listen((init) => {
    let k: KernelInstance;
    try {
      const module = kernelsModule(true, init.build);
      if (module === null) throw new Error(`the ${init.build} build of the kernels does not compile in this worker`);
      k = new KernelInstance(module, init.memory);
    } catch (e) {
      port.postMessage({ ready: false, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    port.postMessage({ ready: true });
    serve(k, init);
    // Node: let the thread end (the pool terminates it too)
    (globalThis as { close?: () => void }).close?.();
  });
}

void start();
