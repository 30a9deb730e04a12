/**
 * Argument checks of the issue #12 GPU ops that the validation core does not have yet: tensors of
 * any dtype (CPU side: float16/bfloat16 bit patterns), dtype agreement between arguments, and the
 * new options (weightOffset, castingMode, activation, channelsLast, useInputStats).
 * TODO(core): the CPU engineer's core functions replace these at merge (same codes and messages).
 */
import { NormError, describe } from "../../errors.js";
import { BATCH_NORM_KEYS, checkShape, field, numel, shapeStr, type Tensor } from "../../core/index.js";
import { isDetached, typedBuffer, typedByteOffset, typedLength, typedTag } from "../../core/intrinsics.js";
import type { DType } from "../../dtype.js";
import type { CastingMode } from "../../reference/ops.js";
import type { AnyGpuTensor, HalfTensor } from "./types.js";

const DTYPES: readonly DType[] = Object.freeze(["float32", "float16", "bfloat16"]);

/** A dtype argument. TODO(core) */
export function checkDType(v: unknown, name: string): DType {
  if (typeof v !== "string" || !(DTYPES as readonly string[]).includes(v)) {
    throw new NormError("BAD_DTYPE", name, `expected "float32", "float16" or "bfloat16", got ${describe(v)}`);
  }
  return v as DType;
}

/** A CPU tensor of any dtype, checked: data as stored (Float32Array, or Uint16Array bit patterns). */
export type AnyTensor = Tensor | HalfTensor;
export type CheckedTensor = { shape: readonly number[]; data: Float32Array | Uint16Array; dtype: DType };

/**
 * A CPU tensor-like of any dtype: `{ shape, data: Float32Array }` (dtype absent or "float32"),
 * `{ shape, data: Uint16Array, dtype: "float16" | "bfloat16" }`, or `{ shape, data: Float16Array }`
 * (float16). Typed arrays as the core takes them: subclasses viewed plainly, proxies refused.
 * TODO(core): the core's checkTensor once it knows dtypes.
 */
export function checkAnyTensor(t: unknown, name: string): CheckedTensor {
  if (t === null || typeof t !== "object") {
    throw new NormError("BAD_ARGUMENT", name, `expected a tensor {shape, data[, dtype]}, got ${describe(t)}`);
  }
  let shape: readonly number[], data: unknown, dt: unknown;
  try {
    shape = checkShape(field(t, "shape"), `${name}.shape`);
    data = field(t, "data");
    dt = field(t, "dtype");
  } catch (e) {
    if (e instanceof NormError) throw e;
    throw new NormError("BAD_ARGUMENT", name, `expected a tensor, but reading it threw: ${describe(e instanceof Error ? e.message : e)}`);
  }
  const tag = typedTag(data);
  const dtype = dt === undefined ? (tag === "Float16Array" ? "float16" : "float32") : checkDType(dt, `${name}.dtype`);
  const want = dtype === "float32" ? ["Float32Array"] : dtype === "float16" ? ["Uint16Array", "Float16Array"] : ["Uint16Array"];
  if (tag === undefined || !want.includes(tag)) {
    const what = tag === undefined && ArrayBuffer.isView(data) ? "a Proxy of a typed array (pass the array itself)" : describe(data);
    throw new NormError("BAD_DTYPE", `${name}.data`, `expected a ${want.join(" or ")} for dtype ${dtype}, got ${what}`);
  }
  const buffer = typedBuffer(data as object);
  if (isDetached(buffer)) throw new NormError("DETACHED_BUFFER", `${name}.data`, "expected a typed array with its memory, got one whose buffer was detached (transferred)");
  const off = typedByteOffset(data as object), len = typedLength(data as object);
  // the caller's array itself when it is a plain one (results written into it are then that array), else a plain view
  const plain = (p: object) => Object.getPrototypeOf(data) === p && !OVERRIDABLE.some((k) => Object.hasOwn(data as object, k));
  const view = dtype === "float32"
    ? plain(Float32Array.prototype) ? (data as Float32Array) : new Float32Array(buffer, off, len)
    : plain(Uint16Array.prototype) ? (data as Uint16Array) : new Uint16Array(buffer, off, len);
  const n = numel(shape);
  if (len !== n) throw new NormError("SHAPE_MISMATCH", name, `data has ${len} elements but shape ${shapeStr(shape)} needs ${n}`);
  return { shape, data: view, dtype };
}

const OVERRIDABLE = ["length", "subarray", "set", "fill", "slice", "buffer", "byteOffset", "byteLength", "constructor"];

/** A GPU argument must have `dtype` (dy, residual, dh: x's; statistics: float32). TODO(core) */
export function expectDType(t: AnyGpuTensor | null, dtype: DType, name: string, why: string): void {
  if (t !== null && t.dtype !== dtype) {
    throw new NormError("BAD_DTYPE", name, `expected ${dtype} (${why}), got ${t.dtype}`);
  }
}

/** weightOffset: a finite number (default 0). TODO(core) */
export function checkWeightOffset(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new NormError("BAD_ARGUMENT", "weightOffset", `expected a finite number, got ${describe(v)}`);
  return v;
}

/** castingMode: "gemma" (default), "llama" or "none". TODO(core) */
export function checkCastingMode(v: unknown): CastingMode {
  if (v === undefined || v === null) return "gemma";
  if (v !== "gemma" && v !== "llama" && v !== "none") {
    throw new NormError("BAD_ARGUMENT", "castingMode", `expected "gemma", "llama" or "none", got ${describe(v)}`);
  }
  return v;
}

/** activation: "silu" or none. TODO(core) */
export function checkActivation(v: unknown): "silu" | null {
  if (v === undefined || v === null) return null;
  if (v !== "silu") throw new NormError("BAD_ARGUMENT", "activation", `expected "silu" or null, got ${describe(v)}`);
  return v;
}

/** Option keys of the #12 GPU ops (`plan` forces a kernel variant). TODO(core): the core's key lists. */
const ROW = ["weight", "bias", "eps", "weightOffset", "castingMode", "plan"];
export const EXT_ROW_FORWARD_KEYS = Object.freeze(ROW);
export const EXT_ROW_BACKWARD_KEYS = Object.freeze([...ROW, "mean", "rstd", "into"]);
export const ADD_FORWARD_KEYS = Object.freeze([...ROW, "inputBias", "residualOut"]);
export const ADD_BACKWARD_KEYS = Object.freeze([...ROW, "mean", "rstd", "into", "inputBias", "dh"]);
export const ADD_INTO_KEYS = Object.freeze(["dweight", "dbias", "dinputBias"]);
export const EXT_GROUP_KEYS = Object.freeze(["weight", "bias", "eps", "channelsLast", "activation", "plan"]);
export const EXT_GROUP_BACKWARD_KEYS = Object.freeze([...EXT_GROUP_KEYS, "mean", "rstd", "into"]);
export const EXT_BATCH_KEYS = Object.freeze([...BATCH_NORM_KEYS, "plan"]);
export const EXT_BATCH_BACKWARD_KEYS = Object.freeze([...EXT_BATCH_KEYS, "into"]);
export const INSTANCE_KEYS = Object.freeze(["weight", "bias", "eps", "runningMean", "runningVar", "useInputStats", "momentum", "numBatchesTracked", "plan"]);
export const INSTANCE_BACKWARD_KEYS = Object.freeze([...INSTANCE_KEYS, "into"]);

type Named = readonly [string, Float32Array | Uint16Array | null];

/**
 * CPU arrays a call writes (out, into, residualOut, running statistics) share no byte with the
 * arrays it reads, nor with each other: the core's checkWrites for arrays of any element size.
 * TODO(core): the core's checkWrites once it takes half arrays.
 */
export function checkCpuWrites(written: readonly Named[], read: readonly Named[], why = "inputs are never modified"): void {
  const range = (a: Float32Array | Uint16Array) => {
    const o = typedByteOffset(a);
    return [typedBuffer(a), o, o + typedLength(a) * (a instanceof Float32Array ? 4 : 2)] as const;
  };
  written.forEach(([name, w], k) => {
    if (w === null) return;
    const [wb, w0, w1] = range(w);
    for (const [other, r] of [...read, ...written.slice(0, k)]) {
      if (r === null) continue;
      const [rb, r0, r1] = range(r);
      if (wb === rb && w0 < r1 && r0 < w1) {
        throw new NormError("BAD_ARGUMENT", name, `expected memory not overlapping ${other} (${why}), got a view of ${other}'s memory`);
      }
    }
  });
}

/** Whether a CPU tensor-like may be half, seen without running getters (own data properties only; an accessor: maybe). */
export function maybeHalfCpu(t: unknown): boolean {
  if (t === null || typeof t !== "object") return false;
  const d = Object.getOwnPropertyDescriptor(t, "dtype");
  if (d !== undefined && (d.get !== undefined || (d.value !== undefined && d.value !== "float32"))) return true;
  const data = Object.getOwnPropertyDescriptor(t, "data");
  if (data === undefined) return false;
  if (data.get !== undefined) return true;
  const tag = typedTag(data.value);
  return tag === "Uint16Array" || tag === "Float16Array";
}
