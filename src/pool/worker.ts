/**
 * A pool worker: its own instance of the wasm kernels (src/backends/wasm/runtime.ts), running the
 * rows it is given on shared arrays. Loaded by src/pool/index.ts as a Web Worker (module type) or
 * a Node worker_threads Worker; never imported by the package's entry point.
 */
import { NormError } from "../errors.js";
import { kernelsModule, WasmRuntime } from "../backends/wasm/runtime.js";
import { channelApplyJob, channelBackwardJob, channelStatsJob } from "../backends/wasm/jobs-channels.js";
import { rowsBackwardJob, rowsJob } from "../backends/wasm/jobs-rows.js";
import { importNode } from "./node-builtin.js";
import type { Job, PlainJob, Reply } from "./protocol.js";

interface Port {
  postMessage(m: Reply, transfer?: ArrayBuffer[]): void;
}

/** Issue #12's jobs: the same wasm job loops as the synchronous backend, on this worker's rows or channels. */
function run(rt: WasmRuntime, j: Job): Reply {
  switch (j.kind) {
    case undefined:
      return runPlain(rt, j);
    case "rows":
      rowsJob(rt, j.job, j.r0, j.r1);
      return { id: j.id };
    case "rowsBackward":
      if (j.stats !== null) rowsJob(rt, j.stats, j.r0, j.r1);
      rowsBackwardJob(rt, j.job, j.r0, j.r1);
      return { id: j.id, dw: j.job.dweight ?? undefined, db: j.job.dbias ?? undefined, ds: j.job.dsum ?? undefined };
    case "channelStats": {
      const mean = new Float64Array(j.C), variance = new Float64Array(j.C);
      channelStatsJob(rt, j.x, j.N, j.C, j.S, mean, variance, j.c0, j.c1);
      return { id: j.id, mean, variance };
    }
    case "channelApply":
      channelApplyJob(rt, j.job, j.c0, j.c1);
      return { id: j.id };
    case "channelBackward":
      channelBackwardJob(rt, j.job, j.c0, j.c1);
      return { id: j.id, dw: j.job.dweight ?? undefined, db: j.job.dbias ?? undefined };
  }
}

function runPlain(rt: WasmRuntime, j: PlainJob): Reply {
  if (!j.backward) {
    rt.forward(j.y!, j.rms ? null : j.mean!, j.rstd!, j.x, j.weight, j.bias, j.r0, j.r1, j.D, j.eps);
    return { id: j.id };
  }
  // without saved statistics, backward recomputes this range's, as the synchronous *Backward ops
  // do: rows are independent, so they (and dx) are bitwise those of the synchronous path
  let mean = j.rms ? null : (j.mean ?? null);
  let rstd = j.rstd;
  if (rstd === undefined) {
    mean = j.rms ? null : new Float32Array(j.r1);
    rstd = new Float32Array(j.r1);
    rt.forward(null, mean, rstd, j.x, j.weight, j.bias, j.r0, j.r1, j.D, j.eps);
  }
  const g = rt.backward(j.dx!, j.dy!, j.x, mean, rstd, j.weight, j.r0, j.r1, j.D);
  return { id: j.id, dw: g.dw.slice(), db: g.db.slice() };
}

async function start(): Promise<void> {
  let port: Port;
  let listen: (f: (j: Job) => void) => void;
  if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
    const self = globalThis as unknown as Port & { onmessage: ((e: MessageEvent<Job>) => void) | null };
    port = self;
    listen = (f) => (self.onmessage = (e) => f(e.data));
  } else {
    const { parentPort } = await importNode<typeof import("node:worker_threads")>("worker_threads");
    if (parentPort === null) throw new Error("normkit/worker is the pool's worker script: createPool starts it; it is not for import");
    port = parentPort;
    listen = (f) => parentPort.on("message", f);
  }
  const module = kernelsModule();
  if (module === null) {
    port.postMessage({ ready: false, error: "WebAssembly SIMD is unavailable in this worker" });
    return;
  }
  const rt = new WasmRuntime(module);
  listen((j) => {
    let r: Reply;
    try {
      r = run(rt, j);
    } catch (e) {
      // a NormError (e.g. a row too wide for wasm memory) keeps its code and argument across the thread
      r = e instanceof NormError
        ? { id: j.id, error: e.message.slice(e.argument.length + 2), code: e.code, argument: e.argument }
        : { id: j.id, error: e instanceof Error ? e.message : String(e) };
    } finally {
      rt.trim(); // after a one-off very wide row, give its memory back
    }
    // the float64 sums are this worker's own arrays: transferred, not copied
    const own = "id" in r ? [r.dw, r.db, r.ds, r.mean, r.variance].flatMap((a) => (a ? [a.buffer as ArrayBuffer] : [])) : [];
    port.postMessage(r, [...new Set(own)]);
  });
  port.postMessage({ ready: true });
}

void start();
