/**
 * The arrays of one pool call in the shared WebAssembly memory, where every thread can reach
 * them: resident ones (views of the memory: `wasmTensor`s) used in place, their blocks pinned so
 * a free() during the call waits for it; others copied into blocks of their own (inputs in at
 * once, outputs out by `finish`). All on the calling thread, which alone allocates in the memory.
 */
import type { WasmHeap } from "../backends/wasm/memory.js";
import type { Stored } from "../core/index.js";
import { stillThere } from "./jobs.js";

type View = Float32Array | Uint16Array | Float64Array;
type ViewClass = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => View;
type Placeable = View | Stored | null;

const isStored = (v: View | Stored): v is Stored => !ArrayBuffer.isView(v);

export class Staging {
  private readonly temps: number[] = [];
  private readonly pinned: number[] = [];
  private readonly outs: Array<{ name: string; target: View; n: number; from: View; stored: Stored | null }> = [];

  constructor(private readonly heap: WasmHeap) {}

  private temp(bytes: number): number {
    const p = this.heap.alloc(Math.max(bytes, 1), "scratch", "pool");
    this.temps.push(p);
    return p;
  }

  /** Byte offset of a resident array (its tensor's block pinned), else -1. */
  private resident(a: View): number {
    if (!this.heap.owns(a.buffer)) return -1;
    const b = this.heap.tensorBlockAt(a.byteOffset, a.byteLength);
    if (b !== undefined) {
      this.heap.pin(b.start);
      this.pinned.push(b.start);
    }
    return a.byteOffset;
  }

  /** `a` itself when resident, else a view of a new block (holding a copy of `a` when `copy`). */
  private place(a: View, copy: boolean): View {
    if (this.resident(a) >= 0) return a;
    const p = this.temp(a.byteLength);
    const v = new (a.constructor as ViewClass)(this.heap.memory.buffer, p, a.length);
    if (copy) v.set(a as never);
    return v;
  }

  /** An input as a view of the memory (in place, or a copy), as array or stored data; null stays null. */
  input<T extends Placeable>(v: T): T {
    if (v === null) return v;
    if (isStored(v)) return { ...v, data: this.place(v.data, true) } as T;
    return this.place(v, true) as T;
  }

  /** Where the threads write an output: `target` itself when resident, else a block copied into `target` by `finish`. */
  output<T extends Placeable>(target: T, name: string): T {
    if (target === null) return target;
    const a: View = isStored(target as View | Stored) ? (target as Stored).data : (target as View);
    const v = this.place(a, false);
    if (v !== a) this.outs.push({ name, target: a, n: a.length, from: v, stored: isStored(target) ? target : null });
    return (isStored(target) ? { ...target, data: v } : v) as T;
  }

  /** n zeros in a block of the memory (scratch of this call: statistics recomputed, partial sums). */
  scratch<C extends typeof Float32Array | typeof Float64Array>(ctor: C, n: number): InstanceType<C> {
    // allocate first: the allocation may grow the memory, and a buffer read before it is the old, shorter one
    const p = this.temp(n * ctor.BYTES_PER_ELEMENT);
    const v = new (ctor as unknown as ViewClass)(this.heap.memory.buffer, p, n);
    return v.fill(0) as InstanceType<C>;
  }

  /** Byte offset of a float32 input (the plain path's shares): in place, a copy, or `fill` values when null (0 when null and no fill). */
  inputAt(a: Float32Array | null, n: number, fill?: number): number {
    if (a !== null) return this.input(a).byteOffset;
    if (fill === undefined) return 0;
    return this.scratch(Float32Array, n).fill(fill).byteOffset;
  }

  /** Byte offset of a float32 output (null: scratch of n values). */
  outputAt(a: Float32Array | null, n: number, name: string): number {
    return a === null ? this.scratch(Float32Array, n).byteOffset : this.output(a, name).byteOffset;
  }

  /** Copies the staged outputs out (their arrays checked still there first). */
  finish(): void {
    stillThere(this.outs.map(({ name, target, n, stored }) => [name, stored ?? { data: target as Float32Array, dtype: "float32" as const }, n] as const));
    for (const { target, from } of this.outs) target.set(from as never);
  }

  release(): void {
    for (const p of this.temps) this.heap.free(p);
    for (const p of this.pinned) this.heap.unpin(p);
  }
}
