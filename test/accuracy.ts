/**
 * The wide-row accuracy cases (test/fixtures/accuracy.json, written by tools/gen_accuracy.py):
 * the inputs are rebuilt here from the same counter-based integer hash as the generator's, bit for
 * bit, and every output is compared with the float64 reference under the fixture's tolerance
 * (4 × PyTorch's own float32 error on that output, or a floor of a few ulps of its largest value).
 * Browser-safe (no Node imports): the CPU tests (test/backends/accuracy.test.ts) and the WebGPU
 * suite (test/webgpu/wide.ts) share it.
 */
import { reference, type Kernels } from "../src/index.js";

export type Output = "y" | "mean" | "rstd" | "dx" | "dweight" | "dbias";

export interface AccuracyCase {
  name: string;
  op: "layerNorm" | "rmsNorm" | "groupNorm";
  kind: "normal" | "offset" | "constant" | "relu" | "heavy" | "massive";
  shape: number[];
  seed: number;
  weight: boolean;
  bias: boolean;
  eps: number;
  numGroups?: number;
  torchError: Partial<Record<Output, number>>;
  tolerance: Partial<Record<Output, number>>;
}

export interface AccuracyFixture {
  generator: string;
  floorUlps: number;
  cases: AccuracyCase[];
}

// ---- the generator of tools/gen_accuracy.py, mirrored (change both together) ------------------

/** lowbias32 (C. Wellons): a bijective 32-bit integer hash. */
function hash32(k: number): number {
  k = k >>> 0;
  k ^= k >>> 16;
  k = Math.imul(k, 0x7feb352d) >>> 0;
  k ^= k >>> 15;
  k = Math.imul(k, 0x846ca68b) >>> 0;
  k ^= k >>> 16;
  return k >>> 0;
}

/** The i-th value in (0, 1) of stream `seed`: (top 24 bits of hash(hash(seed) + i) + 0.5) / 2^24. */
function uniformAt(h0: number, i: number): number {
  return ((hash32((h0 + i) >>> 0) >>> 8) + 0.5) / 16777216;
}

/** n Irwin–Hall normals, (u0 + u1 + u2 + u3 − 2)·√3, each rounded once to float32. */
export function normal(seed: number, n: number): Float32Array {
  const h0 = hash32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = (uniformAt(h0, 4 * i) + uniformAt(h0, 4 * i + 1)) + (uniformAt(h0, 4 * i + 2) + uniformAt(h0, 4 * i + 3)) - 2;
    out[i] = s * 1.7320508075688772;
  }
  return out;
}

/** x of a kind of row, rows × D (see tools/gen_accuracy.py `values`). */
export function values(kind: AccuracyCase["kind"], seed: number, rows: number, D: number): Float32Array {
  const n = rows * D;
  const z = normal(seed, n);
  const h7 = hash32(seed + 7);
  switch (kind) {
    case "normal": return z;
    case "offset": return z.map((v) => 1e4 + v);
    case "constant": return z.fill(0.1);
    case "relu": return z.map((v) => Math.max(v, 0));
    case "heavy": return z.map((v, i) => v / uniformAt(h7, i));
    case "massive": for (let r = 0; r < rows; r++) z[r * D + Math.floor(D / 3)] = 1e4; return z;
  }
}

/** A case's inputs, and its layout for the kernels: rows × D (row ops) or [N, C, S] (GroupNorm). */
export function inputsOf(c: AccuracyCase) {
  const gn = c.op === "groupNorm";
  const n = c.shape.reduce((a, b) => a * b, 1);
  const D = c.shape[c.shape.length - 1]!;
  const x = values(c.kind, c.seed, n / D, D);
  const dy = normal(c.seed + 1, n);
  const P = gn ? c.shape[1]! : D;
  const weight = c.weight ? normal(c.seed + 2, P).map((v) => 1 + 0.5 * v) : null;
  const bias = c.bias ? normal(c.seed + 3, P).map((v) => 0.5 * v) : null;
  const N = c.shape[0]!, C = gn ? c.shape[1]! : 0, S = gn ? n / (N * C) : 0;
  return { x, dy, weight, bias, n, D, rows: n / D, N, C, S, G: c.numGroups ?? 0 };
}

// ---- running a case ---------------------------------------------------------------------------

/** Forward, then backward from the forward's float32 statistics (as the ops do), on one backend's kernels. */
export function runKernels(k: Kernels, c: AccuracyCase, p: ReturnType<typeof inputsOf>): Partial<Record<Output, Float32Array>> {
  const R = c.op === "groupNorm" ? p.N * p.G : p.rows;
  const y = new Float32Array(p.n), mean = new Float32Array(R), rstd = new Float32Array(R), dx = new Float32Array(p.n);
  const dweight = p.weight ? new Float32Array(p.weight.length) : null;
  const dbias = p.bias ? new Float32Array(p.bias.length) : null;
  if (c.op === "groupNorm") {
    k.groupNormForward(y, mean, rstd, p.x, p.weight, p.bias, p.N, p.C, p.S, p.G, c.eps);
    k.groupNormBackward(dx, dweight, dbias, p.dy, p.x, mean, rstd, p.weight, p.N, p.C, p.S, p.G);
  } else if (c.op === "layerNorm") {
    k.layerNormForward(y, mean, rstd, p.x, p.weight, p.bias, p.rows, p.D, c.eps);
    k.layerNormBackward(dx, dweight, dbias, p.dy, p.x, mean, rstd, p.weight, p.rows, p.D);
  } else {
    k.rmsNormForward(y, rstd, p.x, p.weight, p.bias, p.rows, p.D, c.eps);
    k.rmsNormBackward(dx, dweight, dbias, p.dy, p.x, rstd, p.weight, p.rows, p.D);
  }
  const got: Partial<Record<Output, Float32Array>> = { y, rstd, dx };
  if (c.op !== "rmsNorm") got.mean = mean;
  if (dweight) got.dweight = dweight;
  if (dbias) got.dbias = dbias;
  return got;
}

// ---- the float64 answers ----------------------------------------------------------------------

/** Every output of the case in float64 (src/reference), statistics included. */
export function expectedOf(c: AccuracyCase, p: ReturnType<typeof inputsOf>): Partial<Record<Output, Float64Array>> {
  const gn = c.op === "groupNorm";
  const rms = c.op === "rmsNorm";
  // statistics per normalized row: (sample, group) rows of (C/G)·S values for GroupNorm
  const R = gn ? p.N * p.G : p.rows;
  const { mean, rstd } = reference.rowStatsRef(rms, p.x, R, p.n / R, c.eps);
  const y = gn
    ? reference.groupNormRef(p.x, p.N, p.C, p.S, p.G, p.weight, p.bias, c.eps)
    : reference.rowNormRef(rms, p.x, p.rows, p.D, p.weight, p.bias, c.eps);
  const g = gn
    ? reference.groupNormBackwardRef(p.dy, p.x, p.N, p.C, p.S, p.G, p.weight, p.bias, c.eps)
    : reference.rowNormBackwardRef(rms, p.dy, p.x, p.rows, p.D, p.weight, p.bias, c.eps);
  const out: Partial<Record<Output, Float64Array>> = { y, rstd, dx: g.dx };
  if (!rms) out.mean = mean;
  if (g.dweight) out.dweight = g.dweight;
  if (g.dbias) out.dbias = g.dbias;
  return out;
}

/** Largest |got − want| (Infinity if any value is non-finite or the lengths differ). */
export function maxError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let e = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= e)) e = Number.isNaN(d) ? Infinity : d;
  }
  return e;
}

/** The output that uses the largest share of its tolerance, and that share (error ÷ tolerance). */
export function toleranceUsed(c: AccuracyCase, got: Partial<Record<Output, ArrayLike<number>>>, want: Partial<Record<Output, Float64Array>>) {
  let worst = { output: "y" as Output, share: 0 };
  for (const k of Object.keys(c.tolerance) as Output[]) {
    const share = got[k] ? maxError(got[k]!, want[k]!) / c.tolerance[k]! : 0;
    if (!(share <= worst.share)) worst = { output: k, share };
  }
  return worst;
}

/**
 * null when every output the case lists is within its tolerance, else the outputs that are not.
 * `got` may lack statistics a backend does not expose; every output the fixture has is required
 * otherwise (y, dx and the parameter gradients).
 */
export function accuracyError(c: AccuracyCase, got: Partial<Record<Output, ArrayLike<number>>>, want: Partial<Record<Output, Float64Array>>, what: string): string | null {
  const bad: string[] = [];
  for (const k of Object.keys(c.tolerance) as Output[]) {
    const g = got[k];
    if (g === undefined) {
      if (k === "mean" || k === "rstd") continue;
      bad.push(`${k} missing`);
      continue;
    }
    const e = maxError(g, want[k]!);
    if (!(e <= c.tolerance[k]!)) bad.push(`${k} error ${e.toExponential(2)} > ${c.tolerance[k]!.toExponential(2)} (PyTorch float32 ${c.torchError[k]!.toExponential(2)})`);
  }
  return bad.length ? `${what} ${c.name}: ${bad.join("; ")}` : null;
}
