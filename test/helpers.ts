/** Shared test helpers: golden-case decoding, comparison, and running a suite once per backend. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { listBackends, setBackend, getBackend } from "../src/index.js";

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
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (!Number.isFinite(w)) {
      assert.ok(Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w)), `${what}[${i}]: expected ${w}, got ${g}`);
      continue;
    }
    const e = Math.abs(g - w);
    if (!(e <= worst)) {
      worst = Number.isNaN(e) ? Infinity : e;
      at = i;
    }
  }
  assert.ok(worst <= tol, `${what}: max error ${worst} at [${at}] (got ${got[at]}, want ${want[at]}) > tolerance ${tol}`);
}

/** Bitwise equality of two float32 arrays (NaN payloads compared as bits too). */
export function assertBitwise(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) assert.fail(`${what}[${i}]: ${a[i]} !== ${b[i]} (bitwise)`);
  }
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

/** Deterministic PRNG (mulberry32) + Box–Muller normals, for test data. */
export function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(u() + 1e-300)) * Math.cos(2 * Math.PI * u());
  return {
    u,
    normal,
    tensor(shape: number[], scale = 1, offset = 0) {
      const n = shape.reduce((a, b) => a * b, 1);
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = offset + scale * normal();
      return { shape, data: d };
    },
  };
}
