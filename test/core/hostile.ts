/** Helpers of the hostile-input suites (test/core/hostile-*.test.ts, test/backends/pool-hostile.test.ts). */
import assert from "node:assert/strict";
import { NormError, type Tensor } from "../../src/index.js";

/** The NormError fn throws (or its promise rejects with); fails on anything else, TypeError/RangeError included. */
export async function normErrorOf(fn: () => unknown): Promise<NormError> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof NormError, `expected a NormError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  return err;
}

/** Asserts a NormError with this code and argument (the message starts with the argument), mentioning each string. */
export async function throwsNorm(fn: () => unknown, code: string, argument: string, mentions: string[] = []): Promise<NormError> {
  const e = await normErrorOf(fn);
  assert.equal(e.code, code, e.message);
  assert.equal(e.argument, argument, e.message);
  assert.ok(e.message.startsWith(`${argument}: `), e.message);
  for (const m of mentions) assert.ok(e.message.includes(m), `message should mention ${JSON.stringify(m)}: ${e.message}`);
  return e;
}

/** The bits of each array, to compare before/after a call. */
export const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));

/** Runs fn (sync or async) and asserts no input changed, bit for bit. */
export async function unchanged(inputs: Array<Tensor | Float32Array | null | undefined>, fn: () => unknown): Promise<void> {
  const arrays = inputs.filter((t): t is Tensor | Float32Array => t != null).map((t) => (t instanceof Float32Array ? t : t.data));
  const before = arrays.map(bits);
  try {
    await fn();
  } finally {
    arrays.forEach((a, i) => assert.deepEqual(bits(a), before[i], `input ${i} was modified`));
  }
}

/** Runs fn with Object.prototype[key] = value, and restores the prototype whatever happens. */
export async function withPolluted(props: Record<string, unknown>, fn: () => unknown): Promise<void> {
  const proto = Object.prototype as Record<string, unknown>;
  for (const [k, v] of Object.entries(props)) Object.defineProperty(proto, k, { value: v, configurable: true, writable: true, enumerable: false });
  try {
    await fn();
  } finally {
    for (const k of Object.keys(props)) delete proto[k];
  }
  for (const k of Object.keys(props)) assert.equal(k in {}, false, `Object.prototype.${k} restored`);
}

/** A tensor over a fresh Float32Array. */
export const t = (shape: number[], fill: number | ((i: number) => number) = 1): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = typeof fill === "number" ? fill : fill(i);
  return { shape, data: d };
};

/** Deterministic non-constant values. */
export const wave = (i: number) => Math.sin(i * 1.7) * 2 + (i % 5) * 0.3;

/** The arrays of a LayerNorm/RMSNorm backward call: rows × D, with `out` and `into` buffers. */
export const BACKWARD_BUFFERS = ["x", "dy", "weight", "bias", "mean", "rstd", "out", "into.dweight", "into.dbias"] as const;
export const WRITTEN = ["out", "into.dweight", "into.dbias"];

/**
 * A layerNormBackward call whose buffers `a` and `b` share memory (both views starting at byte 0
 * of one ArrayBuffer, or of one SharedArrayBuffer with `shared`), every other buffer separate.
 */
export function aliasedBackward(a: string, b: string, rows: number, D: number, shared = false) {
  const size = (n: string) => (["x", "dy", "out"].includes(n) ? rows * D : ["mean", "rstd"].includes(n) ? rows : D);
  const common = shared ? new SharedArrayBuffer(4 * Math.max(size(a), size(b))) : new ArrayBuffer(4 * Math.max(size(a), size(b)));
  const arr = (n: string) => {
    const d = n === a || n === b ? new Float32Array(common, 0, size(n)) : shared ? new Float32Array(new SharedArrayBuffer(4 * size(n))) : new Float32Array(size(n));
    if (!WRITTEN.includes(n)) for (let i = 0; i < d.length; i++) d[i] = n === "rstd" ? 1 + (i % 3) / 10 : wave(i + n.length);
    return d;
  };
  const shapeOf = (n: string) => (size(n) === rows * D ? [rows, D] : size(n) === rows ? [rows] : [D]);
  const tt = Object.fromEntries(BACKWARD_BUFFERS.map((n) => [n, { shape: shapeOf(n), data: arr(n) }])) as Record<string, Tensor>;
  return {
    tensors: tt,
    args: [tt.dy, tt.x, D, {
      weight: tt.weight, bias: tt.bias, mean: tt.mean, rstd: tt.rstd, out: tt.out,
      into: { dweight: tt["into.dweight"], dbias: tt["into.dbias"] },
    }] as const,
  };
}

/** Which argument the NormError for an aliased pair must name: the written one (the later one if both are written). */
export function blamed(a: string, b: string): string | null {
  const wa = WRITTEN.indexOf(a), wb = WRITTEN.indexOf(b);
  if (wa < 0 && wb < 0) return null; // both only read: allowed
  return wa > wb ? a : b;
}
