/**
 * Helpers of the WebGPU suite's test files (browser-safe: no Node imports): expected NormErrors,
 * test problems, a skip signal, and a GPUDevice wrapper that injects what a software renderer
 * cannot produce on demand (an out-of-memory error, smaller limits).
 */
/// <reference types="@webgpu/types" />
import { NormError } from "../../src/errors.js";
import { rng } from "../shared.js";

/** Thrown by a test that cannot run in this environment. */
export class Skip extends Error {}

export function check(msg: string | null): void {
  if (msg !== null) throw new Error(msg);
}

/** Expects a NormError of `code` (thrown or rejected) whose message mentions `mentions` and whose argument is `argument`. */
export async function throwsNorm(fn: () => unknown, code: string, mentions?: string, argument?: string): Promise<NormError> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof NormError)) throw new Error(`expected NormError ${code}, got ${String(e)}`);
    if (e.code !== code) throw new Error(`expected NormError ${code}, got ${e.code}: ${e.message}`);
    if (mentions !== undefined && !e.message.includes(mentions)) throw new Error(`message lacks "${mentions}": ${e.message}`);
    if (argument !== undefined && e.argument !== argument) throw new Error(`expected argument "${argument}", got "${e.argument}": ${e.message}`);
    return e;
  }
  throw new Error(`expected NormError ${code}${mentions ? ` (${mentions})` : ""}, nothing thrown`);
}

/** Random row-norm problem; `hostile` plants NaN/Inf/constant/huge/tiny rows. */
export function problem(seed: number, rows: number, D: number, o: { w: boolean; b: boolean; scale?: number; offset?: number; hostile?: boolean }) {
  const r = rng(seed);
  const x = r.tensor([rows, D], o.scale ?? 1, o.offset ?? 0);
  const dy = r.tensor([rows, D]);
  if (o.hostile && rows >= 6) {
    x.data[1 * D + (D >> 1)] = NaN;
    x.data[2 * D] = Infinity;
    x.data.fill(3.25, 3 * D, 4 * D); // constant row: variance 0, ε alone
    for (let i = 4 * D; i < 5 * D; i++) x.data[i] = 1e15 * r.normal();
    for (let i = 5 * D; i < 6 * D; i++) x.data[i] = 1e-20 * r.normal();
    dy.data[rows * D - 1] = NaN;
  }
  const weight = o.w ? r.tensor([D], 0.5, 1) : undefined;
  const bias = o.b ? r.tensor([D], 0.5) : undefined;
  return { x, dy, weight, bias };
}

/**
 * A GPUDevice seen through a wrapper: `failNext(filter)` makes the next error scope of that filter
 * report an error (as a device that ran out of memory does), `limits` overrides some limits, and
 * `created()` counts createBuffer calls. Everything else is the real device.
 */
export function instrumentedDevice(device: GPUDevice, limits: Record<string, number> = {}) {
  const failing = new Set<GPUErrorFilter>();
  const stack: GPUErrorFilter[] = [];
  let created = 0;
  const fake = (f: GPUErrorFilter) => {
    const msg = `injected ${f} error`;
    const C = (globalThis as Record<string, unknown>)[f === "out-of-memory" ? "GPUOutOfMemoryError" : f === "validation" ? "GPUValidationError" : "GPUInternalError"];
    return typeof C === "function" ? new (C as new (m: string) => GPUError)(msg) : ({ message: msg } as GPUError);
  };
  const lim = new Proxy(device.limits, { get: (t, p) => (typeof p === "string" && p in limits ? limits[p] : Reflect.get(t, p, t)) });
  const proxy = new Proxy(device, {
    get(t, p) {
      if (p === "limits") return lim;
      if (p === "pushErrorScope") {
        return (f: GPUErrorFilter) => {
          stack.push(f);
          t.pushErrorScope(f);
        };
      }
      if (p === "popErrorScope") {
        return () => {
          const f = stack.pop()!;
          const r = t.popErrorScope();
          if (!failing.delete(f)) return r;
          return r.then(() => fake(f));
        };
      }
      if (p === "createBuffer") {
        return (d: GPUBufferDescriptor) => {
          created++;
          return t.createBuffer(d);
        };
      }
      const v = Reflect.get(t, p, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
  return { device: proxy, failNext: (f: GPUErrorFilter) => failing.add(f), created: () => created };
}

/** A buffer of `bytes` on `device` holding `data` at `byteOffset` (the caller's, as another engine's would be). */
export function callerBuffer(device: GPUDevice, bytes: number, usage: number, data?: Float32Array, byteOffset = 0): GPUBuffer {
  const b = device.createBuffer({ size: bytes, usage });
  if (data) device.queue.writeBuffer(b, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  return b;
}

/** Reads `bytes` of a caller's buffer (COPY_SRC) through the test's own staging buffer. */
export async function readCallerBuffer(device: GPUDevice, b: GPUBuffer, byteOffset: number, bytes: number): Promise<Float32Array> {
  const st = device.createBuffer({ size: bytes, usage: 0x1 | 0x8 });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(b, byteOffset, st, 0, bytes);
  device.queue.submit([enc.finish()]);
  await st.mapAsync(0x1);
  const out = new Float32Array(st.getMappedRange().slice(0));
  st.destroy();
  return out;
}
