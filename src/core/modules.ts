/**
 * The modules' checks: constructor arguments and options (validated once, kept for the module's
 * life), and state dicts, which load all or nothing (PyTorch's strict=True).
 */
import { NormError, describe } from "../errors.js";
import { checkShape, field, numel, shapeStr } from "./tensor.js";
import { didYouMean } from "./suggest.js";

/** A module's normalizedShape: a number or a non-empty array of integer dims ≥ 0; a frozen copy. */
export function moduleShape(normalizedShape: unknown): readonly number[] {
  const ns = checkShape(typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape, "normalizedShape", "BAD_NORMALIZED_SHAPE");
  if (ns.length === 0) throw new NormError("BAD_NORMALIZED_SHAPE", "normalizedShape", "expected a number or a non-empty array of dims, got []");
  return ns;
}

/** State dict entries: `{ shape, data }` with data as numbers; ±Inf and NaN as the strings "Infinity", "-Infinity", "NaN" (JSON has no such numbers). */
export type StateValue = number | "NaN" | "Infinity" | "-Infinity";
export type StateDict = Record<string, { shape: number[]; data: StateValue[] }>;

/** A value as JSON can carry it: non-finite numbers as strings. */
export function encodeValue(v: number): StateValue {
  return Number.isFinite(v) ? v : Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
}

const DECODE: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/**
 * Reads every expected entry of a state dict (own properties only) into new arrays, checking
 * keys, shapes and values before anything is written: unknown or missing keys, shapes that
 * differ and non-numeric values are NormErrors, and a failed load changes nothing.
 */
export function readStateDict(sd: unknown, expected: ReadonlyArray<{ name: string; shape: readonly number[] }>): Map<string, Float64Array> {
  if (sd === null || typeof sd !== "object" || Array.isArray(sd)) {
    throw new NormError("BAD_ARGUMENT", "stateDict", `expected an object of { shape, data } entries, got ${describe(sd)}`);
  }
  const names = expected.map((e) => e.name);
  for (const k of Object.keys(sd)) {
    if (!names.includes(k)) throw new NormError("BAD_ARGUMENT", `stateDict.${k}`, `unexpected key${didYouMean(k, names)} (this module has ${names.join(", ")})`);
  }
  const values = new Map<string, Float64Array>();
  for (const { name, shape } of expected) {
    const arg = `stateDict.${name}`;
    const e = Object.hasOwn(sd, name) ? (sd as Record<string, unknown>)[name] : undefined;
    if (e === undefined || e === null || typeof e !== "object") throw new NormError("BAD_ARGUMENT", arg, `expected an entry { shape, data }, got ${describe(e)}`);
    const s = field(e, "shape");
    const got = Array.isArray(s) ? checkShape(s, `${arg}.shape`) : null;
    if (got === null || got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new NormError("BAD_PARAM_SHAPE", arg, `expected shape ${shapeStr(shape)}, got ${describe(s)}`);
    }
    const data = field(e, "data");
    const n = numel(shape);
    const isList = Array.isArray(data) || ArrayBuffer.isView(data);
    const len = isList ? (data as ArrayLike<unknown>).length : -1;
    if (len !== n) throw new NormError("SHAPE_MISMATCH", arg, `expected ${n} values, got ${describe(data)}`);
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const d = Array.isArray(data) && !Object.hasOwn(data, i) ? undefined : (data as ArrayLike<unknown>)[i];
      const num = typeof d === "number" ? d : typeof d === "string" && Object.hasOwn(DECODE, d) ? DECODE[d]! : undefined;
      if (num === undefined) {
        throw new NormError("BAD_DTYPE", arg, `expected numbers (or "NaN", "Infinity", "-Infinity"), got ${describe(d)} at index ${i}`);
      }
      v[i] = num;
    }
    values.set(name, v);
  }
  return values;
}
