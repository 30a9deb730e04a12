/// <reference types="@webgpu/types" />
/**
 * GpuTensor: a tensor in a GPU buffer (float32, or float16/bfloat16 bit patterns packed two per
 * 32-bit word), as a handle whose state lives here (a WeakMap keyed
 * by the handle), so that a fake object, a Proxy or `Object.create(GpuTensor.prototype)` is no
 * tensor at all (a NormError, never a TypeError from a missing private field) and so that the
 * context can mark a tensor failed without a public setter.
 *
 * Two kinds: buffers normkit made (upload, op outputs), which `destroy()` frees, and buffers a
 * caller wraps (`gpu.wrap`), which normkit never destroys: `destroy()` only detaches them.
 * The shape is a frozen copy: mutating the caller's array afterwards changes nothing.
 */
import { NormError } from "../../errors.js";
import { shapeStr } from "../../core/index.js";
import type { DType } from "../../dtype.js";
import type { GpuBackend } from "./backend.js";
import type { GpuContext } from "./context.js";
import type { TensorOf } from "./types.js";

/** A failed call's error; `inherited` when the call only consumed a tensor of a failed call. */
export type Verdict = { error: NormError; inherited: boolean } | null;

export interface TensorState {
  readonly ctx: GpuContext;
  readonly backend: GpuBackend;
  /** null once destroyed, detached or failed */
  buffer: GPUBuffer | null;
  readonly byteOffset: number;
  readonly wrapped: boolean;
  readonly shape: readonly number[];
  readonly size: number;
  /** storage dtype: float32, or float16/bfloat16 (2 bytes per element, little-endian halves of 32-bit words) */
  readonly dtype: DType;
  /** the device's error for the work that made (or last wrote) this tensor, once known */
  fault: NormError | null;
  /** the device's verdict on that work while it is pending; null once it came back clean */
  pending: Promise<Verdict> | null;
}

const states = new WeakMap<object, TensorState>();

/** The state of a GpuTensor handle, or undefined for anything else (also a brand check). */
export function stateOf(t: unknown): TensorState | undefined {
  return typeof t === "object" && t !== null ? states.get(t) : undefined;
}

/** A new handle; `shape` must be a validated array of dims (it is copied and frozen here). */
export function makeTensor(
  ctx: GpuContext, backend: GpuBackend, buffer: GPUBuffer, shape: readonly number[], byteOffset = 0, wrapped = false, dtype: DType = "float32",
): GpuTensor<DType> {
  const frozen = Object.freeze([...shape]);
  let size = 1;
  for (const d of frozen) size *= d;
  const t = Object.create(GpuTensor.prototype) as GpuTensor<DType>;
  states.set(t, { ctx, backend, buffer, byteOffset, wrapped, shape: frozen, size, dtype, fault: null, pending: null });
  return t;
}

function own(t: unknown): TensorState {
  const s = stateOf(t);
  if (s === undefined) throw new NormError("BAD_ARGUMENT", "this", "not a GpuTensor (GPU tensors come from gpu.upload, gpu.wrap or an op)");
  return s;
}

/** The error of an op that consumes tensor `name` of a failed call. */
export function inheritedError(name: string, e: NormError): NormError {
  return new NormError(e.code, name, `comes from a GPU call that failed: ${e.message}`);
}

/** The DESTROYED_TENSOR error for `name`, saying who destroyed it. */
export function destroyedError(s: TensorState, name: string): NormError {
  const by = s.ctx.destroyed ? "gpu.destroy() of its backend" : s.wrapped ? "destroy() (detached from the wrapped buffer)" : "destroy()";
  return new NormError("DESTROYED_TENSOR", name, `GPU tensor of shape ${shapeStr(s.shape)} was used after ${by}`);
}

/** Bytes of `n` elements of `dtype` (float32: 4, half: 2). */
export const bytesOf = (n: number, dtype: DType): number => n * (dtype === "float32" ? 4 : 2);

/**
 * A tensor in a GPU buffer of the backend that made or wrapped it. `D` is its storage dtype
 * (`dtype`): float32 by default; ops keep x's dtype for y, h and dx.
 */
export class GpuTensor<D extends DType = "float32"> {
  private constructor() {
    throw new NormError("BAD_ARGUMENT", "GpuTensor", "GPU tensors come from gpu.upload(), gpu.wrap() or an op, not from new");
  }
  get backend(): GpuBackend {
    return own(this).backend;
  }
  /** The dims (a frozen copy of what was given). */
  get shape(): readonly number[] {
    return own(this).shape;
  }
  /** Number of elements. */
  get size(): number {
    return own(this).size;
  }
  /** Storage dtype: "float32", or "float16"/"bfloat16" (bit patterns, two per 32-bit word). */
  get dtype(): D {
    return own(this).dtype as D;
  }
  /** Where the data starts in `buffer` (0 except for wrapped buffers). */
  get byteOffset(): number {
    return own(this).byteOffset;
  }
  /** Whether the buffer is a caller's (`gpu.wrap`): normkit never destroys it. */
  get wrapped(): boolean {
    return own(this).wrapped;
  }
  /** True after `destroy()`, after `gpu.destroy()`, and once the call that made it failed. */
  get destroyed(): boolean {
    const s = own(this);
    return s.buffer === null || s.ctx.destroyed;
  }
  /** The GPU buffer; the data is `size` elements of `dtype` from `byteOffset` (throws once destroyed). */
  get buffer(): GPUBuffer {
    const s = own(this);
    if (s.fault !== null) throw s.fault;
    if (s.buffer === null || s.ctx.destroyed) throw destroyedError(s, "tensor");
    return s.buffer;
  }
  /**
   * Copies the data back: a CPU tensor of the same shape, float32 data, or for half tensors the
   * bit patterns in a Uint16Array with `dtype` (rejects with the NormError of a failed call).
   */
  read(): Promise<TensorOf<D>> {
    return own(this).backend.read(this) as Promise<TensorOf<D>>;
  }
  /**
   * Resolves once the device has accepted the work that made this tensor (not once that work has
   * run); rejects with the call's NormError if the device rejected it (validation, out of memory).
   */
  async ready(): Promise<void> {
    const s = own(this);
    // destroyed first: after gpu.destroy() the device's verdicts need not come back
    if (s.fault === null && (s.buffer === null || s.ctx.destroyed)) throw destroyedError(s, "tensor");
    const v = s.pending === null ? null : await s.pending;
    if (s.fault !== null) throw s.fault;
    if (v !== null) throw v.error;
  }
  /**
   * Frees the GPU buffer now (idempotent); a wrapped buffer is only detached, never destroyed.
   * Later use throws DESTROYED_TENSOR.
   */
  destroy(): void {
    const s = own(this);
    if (s.buffer !== null && !s.wrapped) s.ctx.release(s.buffer);
    s.buffer = null;
  }
}
