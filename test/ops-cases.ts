/**
 * The golden cases of issue #12 (test/fixtures/ops-cases.json, format tools/FIXTURES.md):
 * types, decoding of float32 / float16 / bfloat16 tensors, and the comparison rule for outputs
 * (NaN/±Inf exact; finite values within the case's tolerance, or, for half outputs, within `ulp`
 * of the expected value rounded to the output's dtype). No Node imports: runs in browsers too.
 */
import { bf16BitsToF32Array, f16BitsToF32Array, f64ToBf16Bits, f64ToF16Bits, roundToDType, type DType, type HalfDType } from "../src/dtype.js";

/** An input tensor: float32 bytes, or the uint16 bit patterns of a half dtype. */
export type EncIn = { shape: number[]; f32: string } | { shape: number[]; dtype: HalfDType; u16: string };
/** An expected output: float64 bytes; `dtype` the output's storage dtype (absent: float32). */
export type EncOut = { shape: number[]; f64: string; dtype?: HalfDType };

export type OpsCaseOp = "layerNorm" | "rmsNorm" | "addLayerNorm" | "addRmsNorm" | "groupNorm" | "batchNorm" | "instanceNorm";

export interface OpsCase {
  name: string;
  op: OpsCaseOp;
  x: EncIn;
  dy: EncIn;
  weight: EncIn | null;
  bias: EncIn | null;
  residual?: EncIn;
  inputBias?: EncIn | null;
  dh?: EncIn | null;
  runningMean?: EncIn | null;
  runningVar?: EncIn | null;
  normalizedShape?: number[];
  numGroups?: number;
  eps: number | null;
  weightOffset?: number;
  castingMode?: "gemma" | "llama" | "none";
  channelsLast?: boolean;
  activation?: "silu" | null;
  training?: boolean;
  useInputStats?: boolean;
  /** null: the module's cumulative average, this call's factor 1/(numBatchesTracked + 1) */
  momentum?: number | null;
  numBatchesTracked?: number;
  expected: Record<string, EncOut>;
  tolerance: Record<string, number>;
  ulp?: Record<string, number>;
}

/** A decoded tensor: its storage (Float32Array, or Uint16Array bit patterns) and its values. */
export interface Decoded {
  shape: number[];
  dtype: DType;
  data: Float32Array | Uint16Array;
  values: Float32Array;
}

const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;

export function decodeIn(t: EncIn): Decoded {
  if ("f32" in t) {
    const data = new Float32Array(bytes(t.f32));
    return { shape: t.shape, dtype: "float32", data, values: data };
  }
  const data = new Uint16Array(bytes(t.u16));
  const values = t.dtype === "float16" ? f16BitsToF32Array(data) : bf16BitsToF32Array(data);
  return { shape: t.shape, dtype: t.dtype, data, values };
}

/** An optional input's values, or null. */
export const valuesOf = (t: EncIn | null | undefined): Float32Array | null => (t ? decodeIn(t).values : null);

export const decodeOut = (t: EncOut): { values: Float64Array; dtype: DType } => ({ values: new Float64Array(bytes(t.f64)), dtype: t.dtype ?? "float32" });

/** Integers whose differences count the values of `dtype` between two of its values. */
function ulpKey(v: number, dtype: HalfDType): number {
  const b = dtype === "float16" ? f64ToF16Bits(v) : f64ToBf16Bits(v);
  return b & 0x8000 ? -(b & 0x7fff) : b;
}

/**
 * null when `got` (the output's values) passes case output `name`, else why not: NaN/±Inf where
 * expected exactly; finite values within the case's tolerance of the float64 expectation, or for a
 * half output within `ulp` of that expectation rounded to its dtype (`got` must hold values of that
 * dtype).
 */
export function outputError(c: OpsCase, name: string, got: ArrayLike<number>): string | null {
  const { values: want, dtype } = decodeOut(c.expected[name]);
  const tol = c.tolerance[name];
  const ulp = c.ulp?.[name] ?? 0;
  const what = `${c.name}.${name}`;
  if (got.length !== want.length) return `${what}: length ${got.length} ≠ ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (dtype !== "float32" && !Number.isNaN(g) && roundToDType(g, dtype) !== g) return `${what}[${i}]: ${g} is not a ${dtype} value`;
    if (!Number.isFinite(w)) {
      if (!(Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w)))) return `${what}[${i}]: expected ${w}, got ${g}`;
      continue;
    }
    if (Math.abs(g - w) <= tol) continue;
    if (dtype !== "float32" && !Number.isNaN(g) && Math.abs(ulpKey(g, dtype) - ulpKey(roundToDType(w, dtype), dtype)) <= ulp) continue;
    const allowed = dtype === "float32" ? "" : ` (${dtype}: ${roundToDType(w, dtype)} ± ${ulp} ulp)`;
    return `${what}[${i}]: got ${g}, want ${w}${allowed} or within ${tol}`;
  }
  return null;
}
