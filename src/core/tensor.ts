/**
 * Tensor-likes at the public boundary. A tensor is `{ shape, data: Float32Array }` (row-major,
 * contiguous), or an onnxruntime-style `{ dims, data, type: "float32" }`. Validation returns a new
 * `{ shape, data }`: the shape a frozen copy (mutating the caller's array later changes nothing),
 * the data a genuine Float32Array read through the intrinsic getters (src/core/intrinsics.ts).
 *
 * Policy for typed arrays: a Float32Array or a subclass of it is accepted, whatever it overrides
 * (`length`, `subarray`, `set`…): normkit works on a plain Float32Array view of the same memory,
 * so the answer is the right one. A Proxy (or any object imitating a Float32Array) is rejected
 * with a NormError: its reads could not be trusted, and the kernels copy rows by the buffer.
 */
import { NormError, describe } from "../errors.js";
import { isDetached, typedBuffer, typedByteOffset, typedLength, typedTag } from "./intrinsics.js";
import { checkResidentView } from "./resident.js";

/** A dense float32 tensor: row-major, contiguous. Any object of this form is accepted. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * A property as the caller's object defines it: own, or from its class (getters such as
 * onnxruntime's `data`), but never from Object.prototype, so a polluted prototype is not read.
 */
export function field(o: object, key: string): unknown {
  let p: object | null = o;
  while (p !== null && p !== Object.prototype) {
    const d = Reflect.getOwnPropertyDescriptor(p, key);
    if (d !== undefined) return d.get !== undefined ? Reflect.apply(d.get, o, []) : d.value;
    p = Reflect.getPrototypeOf(p);
  }
  return undefined;
}

/** Product of dims (1 for a scalar shape). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** More dims than any real tensor has (PyTorch's kernels stop at 25); also bounds the checks' work on a hostile array. */
export const MAX_RANK = 64;

/**
 * A shape: an array (no holes) of integer dims in [0, 2^53) whose product is below 2^53 too.
 * Returns a frozen copy.
 */
export function checkShape(shape: unknown, name: string, code: "BAD_SHAPE" | "BAD_NORMALIZED_SHAPE" = "BAD_SHAPE"): readonly number[] {
  if (!Array.isArray(shape)) {
    throw new NormError(code, name, `expected an array of non-negative integers, got ${describe(shape)}`);
  }
  const n = shape.length;
  if (!(n <= MAX_RANK)) throw new NormError(code, name, `expected at most ${MAX_RANK} dims, got ${describe(n)}`);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < n; i++) {
    if (!Object.hasOwn(shape, i)) throw new NormError(code, name, `expected a dim at position ${i}, got a hole in ${describe(shape)}`);
    const d: unknown = shape[i];
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw new NormError(code, name, `expected non-negative integer dims, got ${describe(d)} at position ${i} of ${describe(shape)}`);
    }
    size *= d;
    dims.push(d);
  }
  if (!Number.isSafeInteger(size)) throw new NormError(code, name, `expected at most 2^53 elements, got shape ${shapeStr(dims)}`);
  return Object.freeze(dims);
}

/**
 * `v` as a genuine Float32Array: `v` itself when it is a plain one, else a plain view of its
 * memory (subclasses); proxies, other types and detached buffers are NormErrors.
 */
export function float32Data(v: unknown, name: string): Float32Array {
  const tag = typedTag(v);
  if (tag === undefined) {
    let imitates = false;
    try {
      imitates = v instanceof Float32Array;
    } catch {
      imitates = true; // a Proxy whose getPrototypeOf trap throws
    }
    const what = imitates ? "a Proxy or an object imitating one (normkit reads typed arrays by their buffer; pass the array itself)" : describe(v);
    throw new NormError("BAD_DTYPE", name, `expected a Float32Array, got ${what}`);
  }
  if (tag !== "Float32Array") throw new NormError("BAD_DTYPE", name, `expected a Float32Array, got ${describe(v)}`);
  const a = v as Float32Array;
  const buffer = typedBuffer(a);
  if (isDetached(buffer)) throw detached(name);
  checkResidentView(buffer, typedByteOffset(a), 4 * typedLength(a), name);
  if (Object.getPrototypeOf(a) === Float32Array.prototype && !OVERRIDABLE.some((k) => Object.hasOwn(a, k))) return a;
  return new Float32Array(buffer, typedByteOffset(a), typedLength(a));
}
const OVERRIDABLE = ["length", "subarray", "set", "fill", "slice", "buffer", "byteOffset", "byteLength", "constructor"];

export function detached(name: string): NormError {
  return new NormError("DETACHED_BUFFER", name, "expected a Float32Array with its memory, got one whose buffer was detached (transferred)");
}

/** Whether a validated array lost its memory (detached or shrunk) since it was checked. */
export function lostMemory(a: Float32Array, length: number): boolean {
  return typedLength(a) !== length || isDetached(typedBuffer(a));
}

/** `t.data`, read once; a NormError its getter throws (a freed wasmTensor) is renamed to `<name>.data`. */
function dataOf(t: object, name: string): unknown {
  try {
    return field(t, "data");
  } catch (e) {
    if (e instanceof NormError && e.argument === "data") throw new NormError(e.code, `${name}.data`, e.message.slice("data: ".length));
    throw e;
  }
}

/** Validates a tensor-like argument at the public boundary; returns a validated copy of its shape with its data. */
export function checkTensor(t: unknown, name: string): Tensor {
  if (t === null || typeof t !== "object") {
    throw new NormError("BAD_ARGUMENT", name, `expected a tensor {shape, data: Float32Array}, got ${describe(t)}`);
  }
  let shape: readonly number[];
  let data: Float32Array;
  try {
    const s = field(t, "shape");
    const dims = s === undefined ? field(t, "dims") : undefined;
    if (s === undefined && dims !== undefined) {
      // onnxruntime-style { dims, data, type }
      const type = field(t, "type");
      if (type !== "float32") {
        const half = type === "float16" || type === "bfloat16";
        throw new NormError("BAD_DTYPE", `${name}.type`, half
          ? `${type} storage is not supported yet: expected "float32" (convert the tensor to float32 first)`
          : `expected "float32", got ${describe(type)}`);
      }
      shape = checkShape(dims, `${name}.dims`);
    } else {
      shape = checkShape(s, `${name}.shape`);
    }
    data = float32Data(dataOf(t, name), `${name}.data`);
  } catch (e) {
    if (e instanceof NormError) throw e;
    throw new NormError("BAD_ARGUMENT", name, `expected a tensor, but reading it threw: ${describe(e instanceof Error ? e.message : e)}`);
  }
  const n = numel(shape);
  if (data.length !== n) {
    throw new NormError("SHAPE_MISMATCH", name, `data has ${data.length} elements but shape ${shapeStr(shape)} needs ${n}`);
  }
  return { shape, data };
}

/** A Float32Array of n zeros; an allocation the runtime refuses is a NormError, not a RangeError. */
export function alloc(n: number, what: string, shared = false): Float32Array {
  try {
    return shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n);
  } catch (e) {
    throw new NormError("LIMIT_EXCEEDED", what, `could not allocate ${n} float32 values (${(n / 2 ** 28).toFixed(2)} GiB): ${describe(e instanceof Error ? e.message : e)}`);
  }
}

/**
 * Float32 values from the caller: a Float32Array as is (not copied), other typed arrays and
 * arrays of numbers copied. Holes, strings, null, bigints are NormErrors (never a silent NaN).
 */
export function float32Values(data: unknown, name: string): Float32Array {
  const tag = typedTag(data);
  if (tag === "Float32Array") return float32Data(data, name);
  if (tag !== undefined) {
    if (tag.startsWith("Big")) throw new NormError("BAD_DTYPE", name, `expected numbers, got ${describe(data)} (bigints)`);
    if (isDetached(typedBuffer(data as object))) throw detached(name);
    return new Float32Array(data as Float64Array); // reads the internal slots, not overridable methods
  }
  if (data === null || typeof data !== "object") {
    throw new NormError("BAD_DTYPE", name, `expected a Float32Array or an array of numbers, got ${describe(data)}`);
  }
  if (!Array.isArray(data)) float32Data(data, name); // throws: a Proxy of a typed array, or another object
  const arr = data as unknown[];
  const n = arr.length;
  const out = alloc(n, name);
  for (let i = 0; i < n; i++) {
    if (!Object.hasOwn(arr, i)) throw new NormError("BAD_DTYPE", name, `expected a number at index ${i}, got a hole`);
    const v = arr[i];
    if (typeof v !== "number") throw new NormError("BAD_DTYPE", name, `expected a number at index ${i}, got ${describe(v)}`);
    out[i] = v;
  }
  return out;
}

/**
 * Makes a tensor. A Float32Array is used as is (not copied: like torch.from_numpy); any other
 * array of numbers is copied into a new Float32Array. Throws NormError if the shape does not fit
 * the data, or if the data are not numbers.
 */
export function tensor(data: Float32Array | ArrayLike<number>, shape: readonly number[]): Tensor {
  const dims = checkShape(shape, "shape");
  const f32 = float32Values(data, "data");
  const n = numel(dims);
  if (f32.length !== n) throw new NormError("SHAPE_MISMATCH", "tensor", `data has ${f32.length} elements but shape ${shapeStr(dims)} needs ${n}`);
  return { shape: dims, data: f32 };
}
