import { TYPED_LENGTH, TYPED_TAG } from "./core/intrinsics.js";

/** Machine-readable reason of a NormError; stable across releases. */
export type NormErrorCode =
  | "BAD_DTYPE" // data of the wrong kind (not a Float32Array / Uint16Array / Float16Array, not numbers), a dtype that does not fit the data, or a tensor of another dtype than required (dy, out, into, residual)
  | "BAD_SHAPE" // a dim is negative, fractional or not a number
  | "SHAPE_MISMATCH" // data length ≠ product of shape, or dy shape ≠ x shape
  | "BAD_NORMALIZED_SHAPE" // empty, longer than the input, or ≠ its trailing dims
  | "BAD_PARAM_SHAPE" // weight / bias / running statistics of the wrong size
  | "BAD_EPS"
  | "BAD_MOMENTUM"
  | "BAD_NUM_GROUPS"
  | "BAD_RANK" // too few dims for the op
  | "TOO_FEW_VALUES" // BatchNorm training with one value per channel
  | "MISSING_RUNNING_STATS" // BatchNorm eval without running statistics
  | "UNKNOWN_OPTION" // an options key normkit does not know (the message suggests the closest valid one)
  | "DETACHED_BUFFER" // a typed array whose buffer was detached (transferred), before or during the call
  | "BAD_ARGUMENT" // any other misuse (wrong option type, overlapping buffers, proxies, …)
  | "BACKEND_UNAVAILABLE" // no such backend, no WebGPU, no adapter
  | "DEVICE_LOST" // the GPU device was lost or destroyed
  | "LIMIT_EXCEEDED" // more than the runtime allows: GPU buffer size, wasm memory, pool threads, allocation
  | "DESTROYED_TENSOR"; // a GPU tensor used after destroy()

/**
 * The one error normkit throws for bad input. The message names the argument, what was expected
 * and what was given; `code` is for programs, `argument` names the offending argument.
 */
export class NormError extends Error {
  override readonly name = "NormError";
  constructor(
    readonly code: NormErrorCode,
    readonly argument: string,
    message: string,
  ) {
    super(`${argument}: ${message}`);
  }
}

/**
 * Short, readable rendering of a value for error messages. Never throws (a hostile getter or a
 * proxy becomes "object") and never runs long: arrays show their first 8 entries.
 */
export function describe(v: unknown): string {
  try {
    if (v === null) return "null";
    if (v === undefined) return "undefined";
    if (Array.isArray(v)) {
      const head = Array.from({ length: Math.min(v.length, 8) }, (_, i) => (Object.hasOwn(v, i) ? describe(v[i]) : "<hole>"));
      return `[${head.join(", ")}${v.length > 8 ? `, … (${v.length} entries)` : ""}]`;
    }
    if (ArrayBuffer.isView(v)) {
      // the intrinsic getters: a subclass may override name or length
      const tag = Reflect.apply(TYPED_TAG, v, []) as string | undefined;
      return tag === undefined ? "DataView" : `${tag}(${Reflect.apply(TYPED_LENGTH, v, []) as number})`;
    }
    if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
    if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
    if (typeof v === "object") {
      const name = (v.constructor as { name?: unknown } | undefined)?.name;
      return typeof name === "string" && v.constructor !== Object ? name : "object";
    }
    if (typeof v === "function") return "function";
    return String(v);
  } catch {
    return "object";
  }
}
