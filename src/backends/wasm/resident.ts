/**
 * Resident tensors: tensors whose data is a view of normkit's WebAssembly memory (memory.ts), so
 * the wasm kernels, and the pool's workers, read and write them in place, with no copies.
 *
 * Lifetime: `free()` returns the memory at once (idempotent). A tensor that is never freed is
 * freed by a FinalizationRegistry after the garbage collector collects it, and its data view
 * keeps it alive (a WeakMap from the view to the tensor), so memory is never reused under a view
 * you still hold. But collection comes when the JS heap needs it, not when wasm memory runs low:
 * in a loop, free() (or reuse) your tensors; the registry is a safety net, not a plan.
 *
 * After free(), reading `data` throws a FREED_TENSOR NormError, as does passing the tensor to any
 * op. A Float32Array taken from `data` before free() is a view of memory normkit reuses: normkit
 * rejects it where it no longer lies in a live tensor, but cannot tell once another tensor holds
 * those bytes (the contract of TF.js's dispose()): do not keep such views past free().
 */
import { NormError, describe } from "../../errors.js";
import { checkShape, float32Values, numel, shapeStr, type Tensor } from "../../core/tensor.js";
import type { WasmBuild, WasmMemoryStats } from "./api-types.js";
import type { WasmHeap } from "./memory.js";
import { currentWasm, wasmHeap } from "./index.js";

let live = 0;
/** each view handed out → its tensor: a view in use keeps the tensor (and its memory) alive */
const owners = new WeakMap<Float32Array, WasmTensor>();
const registry = typeof FinalizationRegistry === "function"
  ? new FinalizationRegistry<{ heap: WasmHeap; ptr: number }>(({ heap, ptr }) => {
    live--;
    heap.free(ptr);
  })
  : null;

/**
 * `new WasmTensor` for this module: the constructor is private, so the published declarations
 * name no WasmHeap (its WebAssembly.Memory would need lib "DOM" in consumers: api-types.ts).
 */
let make: (heap: WasmHeap, shape: readonly number[], what: string) => WasmTensor;

/** A tensor in normkit's WebAssembly memory (see `wasmTensor`). */
export class WasmTensor implements Tensor {
  static {
    make = (heap, shape, what) => new WasmTensor(heap, shape, what);
  }

  readonly shape: readonly number[];
  readonly #heap: WasmHeap;
  readonly #n: number;
  #ptr: number;
  #view: Float32Array | null = null;

  /** use `wasmTensor(shape, data?)` */
  private constructor(heap: WasmHeap, shape: readonly number[], what: string) {
    this.shape = shape;
    this.#heap = heap;
    this.#n = numel(shape);
    this.#ptr = heap.alloc(4 * this.#n, "tensor", what);
    live++;
    registry?.register(this, { heap, ptr: this.#ptr }, this);
  }

  /**
   * The values: a Float32Array view of wasm memory (the same object on every read where the
   * memory is shared; where it is not, re-made after the memory grew). Throws FREED_TENSOR after free().
   */
  get data(): Float32Array {
    if (this.#ptr < 0) throw new NormError("FREED_TENSOR", "data", `expected a live tensor, got a wasmTensor of shape ${shapeStr(this.shape)} that was freed (free() gives its memory to other tensors)`);
    // a view of a shared memory stays valid as it grows; a plain memory's growth detaches it
    if (this.#view === null || (!this.#heap.shared && this.#view.buffer !== this.#heap.memory.buffer)) {
      this.#view = new Float32Array(this.#heap.memory.buffer, this.#ptr, this.#n);
      owners.set(this.#view, this);
    }
    return this.#view;
  }

  /** Whether free() was called. */
  get freed(): boolean {
    return this.#ptr < 0;
  }

  /** Byte offset of the data in wasm memory (-1 once freed). */
  get byteOffset(): number {
    return this.#ptr;
  }

  /**
   * Gives the memory back now (to be reused by other tensors). Idempotent: a second call does
   * nothing. A pool call in flight on this tensor keeps the memory until it finishes.
   */
  free(): void {
    if (this.#ptr < 0) return;
    registry?.unregister(this);
    this.#heap.free(this.#ptr);
    this.#ptr = -1;
    this.#view = null;
    live--;
  }
}

function heapOrThrow(name: string): WasmHeap {
  if (wasmHeap === null) throw new NormError("BACKEND_UNAVAILABLE", name, "WebAssembly is unavailable in this runtime: use tensor() instead");
  return wasmHeap;
}

/**
 * Makes a tensor whose data lives in normkit's WebAssembly memory: zeros, or a copy of `data`
 * (any array of numbers). On the `wasm` backend and the pool, calls whose tensors are all resident
 * run the kernels in place (no copies, no allocation); mixed calls still work. Free it with
 * `free()` when done (see docs/resident.md).
 */
export function wasmTensor(shape: readonly number[], data?: ArrayLike<number>): WasmTensor {
  const dims = checkShape(shape, "shape");
  const n = numel(dims);
  const values = data === undefined ? null : float32Values(data, "data");
  if (values !== null && values.length !== n) {
    throw new NormError("SHAPE_MISMATCH", "data", `expected ${n} values for shape [${dims.join(", ")}], got ${describe(data)}`);
  }
  const heap = heapOrThrow("wasmTensor");
  const t = make(heap, dims, "shape");
  if (values !== null) t.data.set(values);
  else if (!heap.lastAllocZeroed) t.data.fill(0); // reused memory: zero it (never-used memory is zero already)
  return t;
}

/** @internal a resident buffer for normkit's own use (modules); null where memory is not shared (views could detach). */
export function residentBuffer(shape: readonly number[], what: string): WasmTensor | null {
  if (wasmHeap === null || !wasmHeap.shared) return null;
  return make(wasmHeap, Object.freeze([...shape]), what);
}

/** Whether `a` is a view of normkit's WebAssembly memory (a resident tensor's data, or part of it). */
export function isResident(a: Float32Array): boolean {
  return wasmHeap !== null && wasmHeap.owns(a.buffer);
}

/** @internal the resident tensor a view belongs to (the view `data` returned), if any. */
export function ownerOf(a: Float32Array): WasmTensor | undefined {
  return owners.get(a);
}

/** Statistics of normkit's WebAssembly memory: bytes in use (tensors and scratch), reserved, live tensors. */
export function wasmMemory(): WasmMemoryStats {
  return heapOrThrow("wasmMemory").stats(live);
}

/**
 * The build of the wasm kernels the wasm backend runs now (and a pool created now would run):
 * "relaxed-simd" (fused multiply-add: the default where the engine has relaxed SIMD), "simd" (the
 * f32x4 baseline), or null when the wasm backend is unavailable. `setBackend("wasm", { build })`
 * selects one.
 */
export function wasmBuild(): WasmBuild | null {
  return currentWasm()?.build ?? null;
}
