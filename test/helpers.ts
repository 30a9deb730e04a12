/** Shared test helpers: golden-case decoding, comparison, and running a suite once per backend. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { listBackends, setBackend, getBackend } from "../src/index.js";
import { bitwiseError, closeError } from "./shared.js";

export { rng } from "./shared.js";

export const FIXTURES = fileURLToPath(new URL("../../test/fixtures/normalization-cases.json", import.meta.url));

type Enc32 = { shape: number[]; f32: string };
type Enc64 = { shape: number[]; f64: string };
export interface GoldenCase {
  name: string;
  op: "layerNorm" | "rmsNorm" | "batchNorm" | "groupNorm";
  x: Enc32;
  dy: Enc32;
  weight: Enc32 | null;
  bias: Enc32 | null;
  normalizedShape?: number[];
  numGroups?: number;
  eps: number | null;
  training?: boolean;
  momentum?: number;
  runningMean?: Enc32 | null;
  runningVar?: Enc32 | null;
  expected: Record<string, Enc64>;
  tolerance: Record<string, number>;
}

export function loadCases(path = FIXTURES): GoldenCase[] {
  return JSON.parse(readFileSync(path, "utf8")).cases;
}

export const f32 = (t: Enc32) => ({ shape: t.shape, data: new Float32Array(new Uint8Array(Buffer.from(t.f32, "base64")).buffer) });
export const f64 = (t: Enc64) => new Float64Array(new Uint8Array(Buffer.from(t.f64, "base64")).buffer);

/** NaN/±Inf must match exactly; finite values within `tol` (absolute). */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  const msg = closeError(got, want, tol, what);
  if (msg !== null) assert.fail(msg);
}

/** Bitwise equality of two float32 arrays (NaN payloads compared as bits too). */
export function assertBitwise(a: Float32Array, b: Float32Array, what: string): void {
  const msg = bitwiseError(a, b, what);
  if (msg !== null) assert.fail(msg);
}

/** Runs `fn` once per available synchronous backend, with that backend selected. */
export function eachBackend(fn: (name: string) => void): void {
  for (const name of listBackends()) {
    const before = getBackend();
    setBackend(name);
    try {
      fn(name);
    } finally {
      setBackend(before);
    }
  }
}

/** fn's result with the named backend selected (then the previous one again). */
export function onBackend<T>(name: string, fn: () => T): T {
  const before = getBackend();
  setBackend(name);
  try {
    return fn();
  } finally {
    setBackend(before);
  }
}
