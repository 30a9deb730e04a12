/** Machine-readable reason of a NormError; stable across releases. */
export type NormErrorCode =
  | "BAD_DTYPE" // data is not a Float32Array
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
  | "BAD_ARGUMENT" // any other misuse (wrong option type, unknown backend, …)
  | "BACKEND_UNAVAILABLE" // no such backend, no WebGPU, no adapter
  | "DEVICE_LOST" // the GPU device was lost or destroyed
  | "LIMIT_EXCEEDED" // a buffer larger than the GPU device allows
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

/** Short, readable rendering of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return `[${v.map(describe).join(", ")}]`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length})`;
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object") return v.constructor?.name && v.constructor !== Object ? v.constructor.name : "object";
  return String(v);
}
