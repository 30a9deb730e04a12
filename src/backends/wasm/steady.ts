/**
 * Issue #12's job loops (jobs-*.ts) hold their arrays as views while they call `layout`, which may
 * grow the memory. A shared memory never detaches a view, so there they run on resident arrays in
 * place of copies. A plain memory (a page that is neither cross-origin isolated nor Chromium:
 * memory.ts) detaches every view when it grows, so there a job whose arrays are views of it runs on
 * copies of those arrays, and the ones it writes are copied back through fresh views afterwards.
 */
import type { WasmHeap } from "./memory.js";

type View = Float32Array | Uint16Array | Float64Array;
/** The job fields the loops write (the others are only read: copying them back changes nothing, but is not needed). */
const WRITTEN = new Set(["y", "h", "dx", "mean", "rstd"]);

const isView = (v: unknown): v is View => v instanceof Float32Array || v instanceof Uint16Array || v instanceof Float64Array;

/** Runs `f` on `job`, or, when the heap is plain and the job holds views of it, on a copy (see above). */
export function steady<J extends object, R>(heap: WasmHeap, job: J, f: (j: J) => R): R {
  if (heap.shared) return f(job);
  const back: Array<[View, number, number, View]> = [];
  let copied = false;
  const copy: Record<string, unknown> = { ...(job as Record<string, unknown>) };
  for (const [key, v] of Object.entries(job)) {
    const stored = v !== null && typeof v === "object" && "dtype" in v && isView((v as { data: unknown }).data);
    const a = stored ? (v as { data: View }).data : isView(v) ? v : null;
    if (a === null || !heap.owns(a.buffer)) continue;
    copied = true;
    const c = a.slice();
    copy[key] = stored ? { ...(v as object), data: c } : c;
    if (WRITTEN.has(key)) back.push([a, a.byteOffset, a.length, c]);
  }
  if (!copied) return f(job);
  const r = f(copy as J);
  for (const [a, at, n, c] of back) {
    const Ctor = a.constructor as new (b: ArrayBufferLike, at: number, n: number) => View;
    new Ctor(heap.memory.buffer, at, n).set(c as never);
  }
  return r;
}
