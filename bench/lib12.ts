/**
 * Issue #12's pure benchmark parts: the float64 reference each peer's output is checked against
 * (once per case: a benchmark of a wrong result is worthless), and the issue's targets for the
 * fused add + norm and half storage. test/bench/issue12.test.ts covers them without any peer.
 */
import { bf16BitsToF32Array, f16BitsToF32Array, roundToDType } from "../src/dtype.js";
import { addInputRef, addRowNormBackwardRef, addRowNormRef, rowNormModeBackwardRef, rowNormModeRef } from "../src/reference/index.js";
import {
  BIG_SHAPE, EPS, bestOf, caseDType, caseKey, check, hasBias, inputB, inputDy, inputR, inputW, inputX, isFused, isRms,
  type Case, type CaseDType, type HalfDType, type Measurement, type TargetCheck,
} from "./lib.js";

// ---- inputs and reference ----

/** float32's, float16's and bfloat16's machine epsilon (the ulp of 1): the unit of a check's error. */
export const DTYPE_EPS: Readonly<Record<CaseDType, number>> = { float32: 2 ** -23, float16: 2 ** -10, bfloat16: 2 ** -7 };

/**
 * Largest error a peer's output may have against the float64 reference, in DTYPE_EPS × the row's
 * largest |value|. Half: 4 units (2% of the row's scale in bfloat16), above what PyTorch's own
 * bfloat16 kernels and onnxruntime's float16 kernel (which normalizes the unrounded h) reach on
 * these inputs, below a missing γ (up to 10%). float32: 2¹⁰ units (1.2e-4 of the scale), room
 * for onnxruntime's one-pass E[h²] − μ² variance and sequential sums over 4096 values; everything
 * that computes another function (no γ, another ε by 10×, the unrounded h in a float16 backward,
 * rows mixed up) is far above it (test/bench/issue12.test.ts).
 */
export const REF_LIMIT: Readonly<Record<CaseDType, number>> = { float32: 64, float16: 4, bfloat16: 4 };

/** `f(i)` for i in [from, from + n), as the children store it: float32, then rounded once to `dtype`. */
export function storedValues(f: (i: number) => number, from: number, n: number, dtype: CaseDType): Float64Array {
  return Float64Array.from({ length: n }, (_, k) => roundToDType(Math.fround(f(from + k)), dtype));
}

/** Float32 values of a half output (bit patterns of `dtype`), for the checks. */
export const halfValues = (bits: Uint16Array, dtype: HalfDType) => (dtype === "float16" ? f16BitsToF32Array(bits) : bf16BitsToF32Array(bits));

/** The reference of one row: y (forward), y and h (fused forward) or dx (backward). */
function referenceRow(c: Case, r: number): Float64Array[] {
  const dt = caseDType(c);
  const { D } = c;
  const x = storedValues(inputX, r * D, D, dt);
  const weight = storedValues(inputW, 0, D, dt);
  const bias = hasBias(c.op) ? storedValues(inputB, 0, D, dt) : null;
  const o = { weight, bias, eps: EPS, ...(dt === "float32" ? {} : { dtypes: { x: dt, weight: dt, bias: dt } }) };
  const rms = isRms(c.op);
  const residual = isFused(c.op) ? storedValues(inputR, r * D, D, dt) : null;
  if (c.dir === "forward") {
    if (residual === null) return [rowNormModeRef(rms, x, 1, D, o)];
    const { y, h } = addRowNormRef(rms, x, residual, 1, D, o);
    return [y, h];
  }
  const dy = storedValues(inputDy, r * D, D, dt);
  if (residual === null) return [rowNormModeBackwardRef(rms, dy, x, 1, D, o).dx];
  return [addRowNormBackwardRef(rms, dy, addInputRef(x, residual, null, D, dt), 1, D, o).dx];
}

/**
 * The float64 reference at the flat indices `idx` of the output (a fused forward: of y, then of h at
 * the same indices), and each value's scale: the largest |reference| in its row of that output.
 */
export function expectedValues(c: Case, idx: readonly number[]): { value: Float64Array; scale: Float64Array } {
  const outs = isFused(c.op) && c.dir === "forward" ? 2 : 1;
  const value = new Float64Array(idx.length * outs);
  const scale = new Float64Array(idx.length * outs);
  const rows = new Map<number, { ref: Float64Array[]; max: number[] }>();
  idx.forEach((i, k) => {
    const r = Math.floor(i / c.D);
    let row = rows.get(r);
    if (row === undefined) {
      const ref = referenceRow(c, r);
      row = { ref, max: ref.map((a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0)) };
      rows.set(r, row);
    }
    for (let o = 0; o < outs; o++) {
      value[o * idx.length + k] = row.ref[o]![i - r * c.D]!;
      scale[o * idx.length + k] = row.max[o]!;
    }
  });
  return { value, scale };
}

export interface RefCheck {
  /** max |got − reference| / (DTYPE_EPS · scale) over the checked values; Infinity for NaN or a missing value */
  error: number;
  limit: number;
  ok: boolean;
  /** the checked value with the largest error (its position in `got`) */
  worst: number;
}

/** A peer's checked values (checkIndices order, see expectedValues) against the float64 reference. */
export function refCheck(c: Case, idx: readonly number[], got: readonly number[]): RefCheck {
  const dt = caseDType(c);
  const { value, scale } = expectedValues(c, idx);
  const limit = REF_LIMIT[dt];
  if (got.length !== value.length) return { error: Infinity, limit, ok: false, worst: -1 };
  let error = 0;
  let worst = 0;
  for (let k = 0; k < value.length; k++) {
    const g = got[k];
    // a row of zeros has scale 0: any difference is then an infinite error, none is 0
    const e = typeof g !== "number" || Number.isNaN(g) ? Infinity : Math.abs(g - value[k]!) / (DTYPE_EPS[dt] * scale[k]!) || 0;
    if (!(e <= error)) {
      error = e;
      worst = k;
    }
  }
  return { error, limit, ok: error <= limit, worst };
}

/** One line for a failed check: where, what was expected, what came. */
export function refCheckText(c: Case, idx: readonly number[], got: readonly number[], r: RefCheck): string {
  if (r.worst < 0) return `wrong result: ${got.length} checked values, expected ${expectedValues(c, idx).value.length}`;
  const { value } = expectedValues(c, idx);
  const n = idx.length;
  const what = isFused(c.op) && c.dir === "forward" ? (r.worst < n ? "y" : "h") : c.dir === "forward" ? "y" : "dx";
  const at = idx[r.worst % n]!;
  return `wrong result: ${what}[${Math.floor(at / c.D)}, ${at % c.D}] = ${got[r.worst]} (reference ${value[r.worst]!.toPrecision(8)}), ` +
    `error ${r.error.toPrecision(3)} > ${r.limit} units of ${caseDType(c)} epsilon × the row's scale`;
}

// ---- targets ----

/** The shapes #12's ratio targets are read at: its big shape and the two classic target shapes. */
export const TARGET12_SHAPES: readonly (readonly [number, number])[] = [BIG_SHAPE, [4096, 768], [1024, 4096]];

export interface Targets12Variants {
  /** normkit variants that run on the calling thread (classic and #12's) */
  normkit1: string[];
  /** onnxruntime's fused contrib ops on one intra-op thread */
  ortFused1: string[];
}

/**
 * Issue #12's targets on one run's medians, normkit's best single-thread variant throughout:
 * fused add + RMSNorm forward ≤ 1.15× RMSNorm alone; bfloat16 ≤ 0.7× float32 at BIG_SHAPE (every
 * op and direction); fused forward faster than onnxruntime's fused op (float32 and float16, and
 * bfloat16 against onnxruntime's float16, as onnxruntime-node has no bfloat16 tensors).
 */
export function evaluateTargets12(ms: readonly Measurement[], tv: Targets12Variants): TargetCheck[] {
  const nk = (c: Case) => bestOf(ms, c, tv.normkit1);
  const ort = (c: Case) => bestOf(ms, c, tv.ortFused1);
  const div = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a / b);
  const out: TargetCheck[] = [];
  for (const [rows, D] of TARGET12_SHAPES) {
    const fused: Case = { op: "addRmsNorm", dir: "forward", rows, D };
    out.push(check("fused add + RMSNorm forward ≤ 1.15× RMSNorm alone", fused, div(nk(fused), nk({ ...fused, op: "rmsNorm" })), 1.15, "le"));
  }
  for (const op of ["rmsNorm", "addRmsNorm", "layerNorm", "addLayerNorm"] as const) {
    for (const dir of ["forward", "backward"] as const) {
      const f32: Case = { op, dir, rows: BIG_SHAPE[0], D: BIG_SHAPE[1] };
      const bf: Case = { ...f32, dtype: "bfloat16" };
      out.push(check("bfloat16 storage ≤ 0.7× float32", bf, div(nk(bf), nk(f32)), 0.7, "le"));
    }
  }
  const noOrt = "no onnxruntime time for this case";
  for (const op of ["addRmsNorm", "addLayerNorm"] as const) {
    for (const dtype of [undefined, "float16"] as const) {
      for (const [rows, D] of TARGET12_SHAPES) {
        const c: Case = { op, dir: "forward", rows, D, ...(dtype ? { dtype } : {}) };
        const o = ort(c);
        out.push(check("fused forward faster than onnxruntime's fused op", c, div(nk(c), o), 1, "le", o === undefined ? noOrt : undefined));
      }
    }
    const bf: Case = { op, dir: "forward", rows: BIG_SHAPE[0], D: BIG_SHAPE[1], dtype: "bfloat16" };
    const o = ort({ ...bf, dtype: "float16" });
    out.push(check("bfloat16 fused forward faster than onnxruntime's float16 one", bf, div(nk(bf), o), 1, "le", o === undefined ? noOrt : undefined));
  }
  return out;
}

/** The reference check's summary: per dtype, the largest error of the runs that passed, and the runs that failed. */
export function refCheckLines(ms: readonly Measurement[]): string[] {
  const worst = new Map<CaseDType, { e: number; n: number; key: string }>();
  for (const m of ms) {
    if (m.refError === undefined || !(m.refError <= REF_LIMIT[caseDType(m.case)])) continue;
    const dt = caseDType(m.case);
    const w = worst.get(dt) ?? { e: -1, n: 0, key: "" };
    w.n++;
    if (m.refError > w.e) Object.assign(w, { e: m.refError, key: `${m.variant}, ${caseKey(m.case)}` });
    worst.set(dt, w);
  }
  const lines = [...worst].map(([dt, w]) =>
    `${dt}: ${w.n} run${w.n > 1 ? "s" : ""} within ${REF_LIMIT[dt]} units (largest ${w.e.toFixed(2)}: ${w.key})`);
  const wrong = ms.filter((m) => m.skip?.startsWith("wrong result"));
  if (wrong.length) lines.push(`${wrong.length} run${wrong.length > 1 ? "s" : ""} failed the check and ${wrong.length > 1 ? "are" : "is"} not timed (listed under Skipped)`);
  return lines;
}
