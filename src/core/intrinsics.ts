/**
 * The built-in getters of typed arrays and buffers, captured when normkit loads. They read the
 * internal slots, so no subclass (overriding `length`, `buffer`, `subarray`…), own property or
 * Proxy can make them lie; on a Proxy or a non-typed-array they throw or return undefined.
 */
const TYPED_PROTO = Object.getPrototypeOf(Uint8Array.prototype) as object;
const getter = (o: object, k: PropertyKey) => Object.getOwnPropertyDescriptor(o, k)!.get!;

export const TYPED_TAG = getter(TYPED_PROTO, Symbol.toStringTag);
export const TYPED_LENGTH = getter(TYPED_PROTO, "length");
const TYPED_BUFFER = getter(TYPED_PROTO, "buffer");
const TYPED_OFFSET = getter(TYPED_PROTO, "byteOffset");
const AB_BYTES = getter(ArrayBuffer.prototype, "byteLength");
const AB_DETACHED = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "detached")?.get;
/**
 * SharedArrayBuffer's prototype, also where the global is hidden (Chromium on a page that is not
 * cross-origin isolated) but a shared WebAssembly memory still has a SharedArrayBuffer.
 */
const SAB_PROTO: object | undefined = typeof SharedArrayBuffer === "function"
  ? SharedArrayBuffer.prototype
  : (() => {
    try {
      return Object.getPrototypeOf(new WebAssembly.Memory({ initial: 0, maximum: 1, shared: true }).buffer) as object;
    } catch {
      return undefined;
    }
  })();
const SAB_BYTES = SAB_PROTO !== undefined ? getter(SAB_PROTO, "byteLength") : undefined;

/** The element type's name ("Float32Array", …) of a genuine typed array, else undefined (proxies, plain objects, DataView). */
export function typedTag(v: unknown): string | undefined {
  return v !== null && typeof v === "object" ? (Reflect.apply(TYPED_TAG, v, []) as string | undefined) : undefined;
}

/** Intrinsic length, buffer and byte offset of a genuine typed array (typedTag(v) !== undefined). */
export function typedLength(v: object): number {
  return Reflect.apply(TYPED_LENGTH, v, []) as number;
}
export function typedBuffer(v: object): ArrayBufferLike {
  return Reflect.apply(TYPED_BUFFER, v, []) as ArrayBufferLike;
}
export function typedByteOffset(v: object): number {
  return Reflect.apply(TYPED_OFFSET, v, []) as number;
}

/**
 * Whether a buffer lives in shared memory (SharedArrayBuffer; never detached). The prototype says
 * which getter should work, and that getter confirms it (a changed prototype cannot lie): the
 * common case throws nothing, as an exception per call cost ~10 µs (measured: most of a
 * [21, 768] layerNorm call on a loaded 2-core VM).
 */
export function isShared(b: ArrayBufferLike): boolean {
  if (SAB_BYTES === undefined) return false;
  const likely = Object.getPrototypeOf(b) === SAB_PROTO;
  try {
    Reflect.apply(likely ? SAB_BYTES : AB_BYTES, b, []);
    return likely;
  } catch {
    return !likely;
  }
}

/** Whether an ArrayBuffer was detached (transferred with postMessage/structuredClone, or `transfer()`). */
export function isDetached(b: ArrayBufferLike): boolean {
  if (isShared(b)) return false;
  if (AB_DETACHED !== undefined) return Reflect.apply(AB_DETACHED, b, []) as boolean;
  if ((Reflect.apply(AB_BYTES, b, []) as number) !== 0) return false;
  try {
    new Uint8Array(b); // a view on a detached buffer cannot be made (Node 20 has no `detached` getter)
    return false;
  } catch {
    return true;
  }
}
