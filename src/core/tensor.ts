/**
 * Tensor-likes at the public boundary. A tensor is `{ shape, data, dtype? }` (row-major,
 * contiguous): float32 data in a Float32Array (dtype absent or "float32"), or half-precision
 * storage — `dtype: "float16" | "bfloat16"` with the bit patterns in a Uint16Array, or a
 * Float16Array (dtype "float16" implied) where the runtime has one. An onnxruntime-style
 * `{ dims, data, type }` with type "float32", "float16" or "bfloat16" is a tensor too.
 * Validation returns a new `{ shape, data, dtype }`: the shape a frozen copy (mutating the
 * caller's array later changes nothing), the data a genuine Float32Array or Uint16Array read
 * through the intrinsic getters (src/core/intrinsics.ts); a Float16Array is read through a
 * Uint16Array view of its memory (the same bits).
 *
 * Policy for typed arrays: a Float32Array/Uint16Array/Float16Array or a subclass of one is
 * accepted, whatever it overrides (`length`, `subarray`, `set`…): normkit works on a plain view of
 * the same memory, so the answer is the right one. A Proxy (or any object imitating a typed array)
 * is rejected with a NormError: its reads could not be trusted, and the kernels copy rows by the
 * buffer.
 */
import { NormError, describe } from "../errors.js";
import { f64ToBf16Bits, f64ToF16Bits, isDType, type DType, type HalfDType, type Stored } from "../dtype.js";
import { isDetached, typedBuffer, typedByteOffset, typedLength, typedTag } from "./intrinsics.js";
import { checkResidentView } from "./resident.js";

export type { DType, HalfDType, Stored } from "../dtype.js";

/** A dense float32 tensor: row-major, contiguous. Any object of this form is accepted. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
  /** absent or "float32" */
  readonly dtype?: "float32";
}

/**
 * A dense half-precision tensor: the uint16 bit patterns of IEEE binary16 ("float16") or of
 * bfloat16 (the top 16 bits of a float32). Results of half inputs come back in this form; a
 * `Float16Array` is accepted as data for "float16" (pass it with `as never` where its type is
 * unknown to TypeScript's lib) and read as the same bits.
 */
export interface HalfTensor {
  readonly shape: readonly number[];
  readonly data: Uint16Array;
  readonly dtype: HalfDType;
}

/** A tensor of any storage dtype. */
export type AnyTensor = Tensor | HalfTensor;

/**
 * The result type of an op whose output takes T's dtype: HalfTensor for a HalfTensor, Tensor for
 * a Tensor, AnyTensor for either (and Tensor for an argument cast `as never`).
 */
export type Like<T extends AnyTensor> = [T] extends [never] ? Tensor : T extends HalfTensor ? HalfTensor : Tensor;

/** A validated tensor: its frozen shape and its storage (dtype always set). */
export type CheckedTensor = Stored & { readonly shape: readonly number[] };

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

/** Bytes per element of the typed arrays normkit reads and writes. */
export const ELEMENT_BYTES: Readonly<Record<string, number>> = Object.freeze({ Float32Array: 4, Uint16Array: 2, Float16Array: 2 });

/**
 * `v` as a genuine typed array of one of the `accepted` kinds (tags "Float32Array",
 * "Uint16Array", "Float16Array"): `v` itself when it is a plain one, else a plain view of its
 * memory (subclasses); proxies, other types and detached buffers are NormErrors naming `expected`.
 */
function typedData(v: unknown, name: string, accepted: readonly string[], expected: string): { tag: string; a: Float32Array | Uint16Array } {
  const tag = typedTag(v);
  if (tag === undefined) {
    let imitates = false;
    try {
      imitates = v instanceof Float32Array || v instanceof Uint16Array;
    } catch {
      imitates = true; // a Proxy whose getPrototypeOf trap throws
    }
    const what = imitates ? "a Proxy or an object imitating one (normkit reads typed arrays by their buffer; pass the array itself)" : describe(v);
    throw new NormError("BAD_DTYPE", name, `expected ${expected}, got ${what}`);
  }
  if (!accepted.includes(tag)) throw new NormError("BAD_DTYPE", name, `expected ${expected}, got ${describe(v)}`);
  const a = v as Float32Array | Uint16Array;
  const buffer = typedBuffer(a);
  if (isDetached(buffer)) throw detached(name, tag);
  checkResidentView(buffer, typedByteOffset(a), (ELEMENT_BYTES[tag] ?? 4) * typedLength(a), name);
  if (tag === "Float32Array") {
    if (Object.getPrototypeOf(a) === Float32Array.prototype && !OVERRIDABLE.some((k) => Object.hasOwn(a, k))) return { tag, a };
    return { tag, a: new Float32Array(buffer, typedByteOffset(a), typedLength(a)) };
  }
  // Uint16Array (bits), or a Float16Array read as the same bits
  if (tag === "Uint16Array" && Object.getPrototypeOf(a) === Uint16Array.prototype && !OVERRIDABLE.some((k) => Object.hasOwn(a, k))) return { tag, a };
  return { tag, a: new Uint16Array(buffer, typedByteOffset(a), typedLength(a)) };
}
const OVERRIDABLE = ["length", "subarray", "set", "fill", "slice", "buffer", "byteOffset", "byteLength", "constructor"];

/**
 * `v` as a genuine Float32Array: `v` itself when it is a plain one, else a plain view of its
 * memory (subclasses); proxies, other types and detached buffers are NormErrors.
 */
export function float32Data(v: unknown, name: string): Float32Array {
  return typedData(v, name, ["Float32Array"], "a Float32Array").a as Float32Array;
}

export function detached(name: string, tag = "Float32Array"): NormError {
  const what = tag === "Float32Array" ? "a Float32Array" : `a ${tag}`;
  return new NormError("DETACHED_BUFFER", name, `expected ${what} with its memory, got one whose buffer was detached (transferred)`);
}

/** Whether a validated array lost its memory (detached or shrunk) since it was checked. */
export function lostMemory(a: Float32Array | Uint16Array, length: number): boolean {
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

/** A dtype argument: "float32", "float16" or "bfloat16" (BAD_DTYPE naming `name` otherwise). */
export function checkDType(v: unknown, name: string): DType {
  if (!isDType(v)) throw new NormError("BAD_DTYPE", name, `expected "float32", "float16" or "bfloat16", got ${describe(v)}`);
  return v;
}

/** The dtype of a (validated or GPU) tensor-like: its `dtype`, "float32" when absent. */
export const dtypeOf = (t: { readonly dtype?: unknown }): DType => (isDType(t.dtype) ? t.dtype : "float32");

/**
 * Validates a tensor-like of any storage dtype at the public boundary: returns a validated copy
 * of its shape with its data and dtype. A `dtype` that does not fit the data (half bits in a
 * Float32Array, a Uint16Array without a dtype, a Float16Array tagged bfloat16) is BAD_DTYPE.
 */
export function checkAnyTensor(t: unknown, name: string): CheckedTensor {
  if (t === null || typeof t !== "object") {
    throw new NormError("BAD_ARGUMENT", name, `expected a tensor {shape, data: Float32Array} (or {shape, data: Uint16Array, dtype: "float16" | "bfloat16"}), got ${describe(t)}`);
  }
  let shape: readonly number[];
  let c: Stored;
  try {
    const s = field(t, "shape");
    const dims = s === undefined ? field(t, "dims") : undefined;
    let dtype: DType | undefined;
    let dtypeArg: string;
    if (s === undefined && dims !== undefined) {
      // onnxruntime-style { dims, data, type }
      dtype = checkDType(field(t, "type"), `${name}.type`);
      dtypeArg = `${name}.type`;
      shape = checkShape(dims, `${name}.dims`);
    } else {
      shape = checkShape(s, `${name}.shape`);
      const d = field(t, "dtype");
      dtype = d === undefined ? undefined : checkDType(d, `${name}.dtype`);
      dtypeArg = `${name}.dtype`;
    }
    c = storedOf(dataOf(t, name), `${name}.data`, dtype, dtypeArg);
  } catch (e) {
    if (e instanceof NormError) throw e;
    throw new NormError("BAD_ARGUMENT", name, `expected a tensor, but reading it threw: ${describe(e instanceof Error ? e.message : e)}`);
  }
  const n = numel(shape);
  if (c.data.length !== n) {
    throw new NormError("SHAPE_MISMATCH", name, `data has ${c.data.length} elements but shape ${shapeStr(shape)} needs ${n}`);
  }
  return { ...c, shape } as CheckedTensor;
}

/** Data of a declared (or, when undefined, inferred) dtype: the array kinds each dtype takes. */
function storedOf(v: unknown, name: string, dtype: DType | undefined, dtypeArg: string): Stored {
  if (dtype === "float32") return { data: float32Data(v, name), dtype };
  if (dtype === undefined) {
    const { tag, a } = typedData(v, name, ["Float32Array", "Uint16Array", "Float16Array"], "a Float32Array (or half-precision data with a dtype)");
    if (tag === "Float32Array") return { data: a as Float32Array, dtype: "float32" };
    if (tag === "Float16Array") return { data: a as Uint16Array, dtype: "float16" };
    throw new NormError("BAD_DTYPE", dtypeArg, `expected "float16" or "bfloat16" for Uint16Array data (the bit patterns of which format?), got none`);
  }
  const accepted = dtype === "float16" ? ["Uint16Array", "Float16Array"] : ["Uint16Array"];
  const typed = typedTag(v);
  if (typed !== undefined && !accepted.includes(typed)) {
    throw new NormError("BAD_DTYPE", dtypeArg, `${describe(dtype)} does not fit data ${describe(v)}: ${dtype} data is ${dtype === "float16" ? "a Uint16Array of bit patterns or a Float16Array" : "a Uint16Array of bit patterns"}`);
  }
  const { a } = typedData(v, name, accepted, dtype === "float16" ? "a Uint16Array (float16 bit patterns) or a Float16Array" : "a Uint16Array (bfloat16 bit patterns)");
  return { data: a as Uint16Array, dtype };
}

/** BAD_DTYPE unless a validated tensor (CPU or GPU) is float32. */
export function requireFloat32<T extends Typed>(t: T, name: string): T {
  if (t.dtype !== "float32") {
    throw new NormError("BAD_DTYPE", name, `expected a float32 tensor (this call computes on float32 storage; cast(t, "float32") converts), got a ${t.dtype} tensor`);
  }
  return t;
}

/**
 * Validates a float32 tensor-like (calls that compute on float32 tensors only); half-precision
 * tensors are BAD_DTYPE. Returns a validated copy of its shape with its data.
 */
export function checkTensor(t: unknown, name: string): Tensor {
  const c = requireFloat32(checkAnyTensor(t, name), name);
  return { shape: c.shape, data: c.data as Float32Array };
}

/** A validated tensor of any backend (a CPU CheckedTensor, a GPU tensor): what the argument checks look at. */
export type Typed = { readonly shape: readonly number[]; readonly dtype: DType };

/**
 * How a backend validates the tensors of one call, for the argument checks every backend shares
 * (rowArgs.ts, channelArgs.ts): `read` for the tensors the call reads, `write` for the ones it
 * writes (out, into, residualOut, updated running statistics). The CPU's are both checkAnyTensor
 * (then checkWrites on the arrays); a GPU backend's also record each tensor as read or written for
 * its own aliasing check (by GPUBuffer). Same checks, same order, same NormErrors on every backend.
 */
export interface Reader<T extends Typed> {
  read(t: unknown, name: string): T;
  write(t: unknown, name: string): T;
}

/** The CPU's reader: tensor-likes checked by checkAnyTensor. */
export const CPU_READER: Reader<CheckedTensor> = Object.freeze({ read: checkAnyTensor, write: checkAnyTensor });

/** A float32 tensor the call reads (saved statistics, running statistics in eval), through a reader. */
export const readFloat32 = <T extends Typed>(r: Reader<T>, t: unknown, name: string): T => requireFloat32(r.read(t, name), name);

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

/** n zeros of a storage dtype (float32: a Float32Array; half: a Uint16Array of +0 bits). */
export function allocStored(dtype: DType, n: number, what: string, shared = false): Stored {
  if (dtype === "float32") return { data: alloc(n, what, shared), dtype };
  try {
    return { data: shared ? new Uint16Array(new SharedArrayBuffer(2 * n)) : new Uint16Array(n), dtype };
  } catch (e) {
    throw new NormError("LIMIT_EXCEEDED", what, `could not allocate ${n} ${dtype} values (${(n / 2 ** 29).toFixed(2)} GiB): ${describe(e instanceof Error ? e.message : e)}`);
  }
}

/** A result tensor over stored data: `{ shape, data }` for float32, `{ shape, data, dtype }` for a half dtype. */
export function tensorOf(s: Stored, shape: readonly number[]): AnyTensor {
  const frozen = Object.freeze([...shape]);
  return s.dtype === "float32" ? { shape: frozen, data: s.data } : { shape: frozen, data: s.data, dtype: s.dtype };
}

/**
 * Makes a tensor. Without a dtype (or "float32"): a Float32Array is used as is (not copied: like
 * torch.from_numpy), any other array of numbers is copied into a new Float32Array, and a
 * Float16Array (where the runtime has one) is a float16 tensor over its memory. With dtype
 * "float16"/"bfloat16": a Uint16Array holds the bit patterns and is used as is (a Float16Array
 * too, for "float16"); numbers (an array, a Float32Array, …) are rounded once to the dtype, to
 * nearest even, into new storage. Throws NormError if the shape does not fit the data, or if the
 * data are not numbers.
 */
export function tensor(data: Float32Array | ArrayLike<number>, shape: readonly number[]): Tensor;
export function tensor(data: Float32Array | ArrayLike<number>, shape: readonly number[], dtype: "float32"): Tensor;
export function tensor(data: Uint16Array | ArrayLike<number>, shape: readonly number[], dtype: HalfDType): HalfTensor;
export function tensor(data: Float32Array | Uint16Array | ArrayLike<number>, shape: readonly number[], dtype?: DType): AnyTensor;
export function tensor(data: Float32Array | Uint16Array | ArrayLike<number>, shape: readonly number[], dtype?: DType): AnyTensor {
  const dims = checkShape(shape, "shape");
  if (dtype !== undefined) checkDType(dtype, "dtype");
  const tag = typedTag(data);
  let s: Stored;
  if (tag === "Float16Array" && (dtype === undefined || dtype === "float16")) s = storedOf(data, "data", "float16", "dtype");
  else if (tag === "Uint16Array" && dtype !== undefined && dtype !== "float32") s = storedOf(data, "data", dtype, "dtype");
  else {
    const f32 = float32Values(data, "data");
    if (dtype === undefined || dtype === "float32") s = { data: f32, dtype: "float32" };
    else {
      // numbers rounded once to the half dtype (a float64 number directly, not through float32)
      const bits = allocStored(dtype, f32.length, "data").data as Uint16Array;
      const src = tag === "Float32Array" ? f32 : (data as ArrayLike<number>);
      const round = dtype === "float16" ? f64ToF16Bits : f64ToBf16Bits;
      for (let i = 0; i < bits.length; i++) bits[i] = round(src[i]!);
      s = { data: bits, dtype };
    }
  }
  const n = numel(dims);
  if (s.data.length !== n) throw new NormError("SHAPE_MISMATCH", "tensor", `data has ${s.data.length} elements but shape ${shapeStr(dims)} needs ${n}`);
  return s.dtype === "float32" ? { shape: dims, data: s.data } : { shape: dims, data: s.data, dtype: s.dtype };
}
