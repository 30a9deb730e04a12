/**
 * The WebGPU suite's issue #12 property tests against the float64 references (reference.*): the
 * #12 kernels at widths and kernel variants the golden cases do not reach (item widths 1/2/4, the
 * scratch-and-pack path of odd half widths, registers and loop, workgroup and subgroup
 * reductions), hostile rows, wide rows whose error must not grow with the width, and bitwise batch
 * invariance. Half outputs pass within 1 ulp of the reference rounded to their dtype (or within the
 * float32 tolerance where the output is near zero by cancellation). Browser-safe.
 */
import { reference, type Tensor } from "../../src/index.js";
import type { AnyGpuTensor, ExtPlan, GpuBackend, HalfTensor } from "../../src/backends/webgpu/index.js";
import { f32ToBf16BitsArray, f32ToF16BitsArray, f64ToBf16Bits, f64ToF16Bits, roundToDType, type DType } from "../../src/dtype.js";
import { rng } from "../shared.js";
import { Skip, check } from "./gpu-helpers.js";
import { valuesOf } from "./ops12.js";
import type { SuiteEnv, T } from "./suite.js";

export type AnyT = Tensor | HalfTensor;

/** Random values of `shape` stored in `dtype`: the tensor and its exact values. */
export function randomOf(seed: number, shape: number[], dtype: DType, scale = 1, offset = 0): { t: AnyT; v: Float32Array } {
  const f = rng(seed).tensor(shape, scale, offset).data;
  return halfOf(f, shape, dtype);
}

/** `f` rounded to `dtype`: the tensor and its exact values. */
export function halfOf(f: Float32Array, shape: readonly number[], dtype: DType): { t: AnyT; v: Float32Array } {
  if (dtype === "float32") return { t: { shape, data: f }, v: f };
  const bits = dtype === "float16" ? f32ToF16BitsArray(f) : f32ToBf16BitsArray(f);
  const t: HalfTensor = { shape, data: bits, dtype };
  return { t, v: valuesOf(t) };
}

const ulpKey = (v: number, dt: "float16" | "bfloat16") => {
  const b = dt === "float16" ? f64ToF16Bits(v) : f64ToBf16Bits(v);
  return b & 0x8000 ? -(b & 0x7fff) : b;
};

/**
 * null when `got` (values of dtype `dt`) matches the float64 `want`: NaN/±Inf exactly (a finite
 * value past the dtype's range: its infinity), else within `tol`, or for half within 1 ulp of
 * `want` rounded to `dt`.
 */
export function halfError(got: ArrayLike<number>, want: ArrayLike<number>, dt: DType, tol: number, what: string): string | null {
  if (got.length !== want.length) return `${what}: length ${got.length} ≠ ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w0 = want[i]!;
    const w = Number.isFinite(w0) ? w0 : w0;
    if (Number.isNaN(w)) {
      if (!Number.isNaN(g)) return `${what}[${i}]: expected NaN, got ${g}`;
      continue;
    }
    const r = roundToDType(w, dt);
    if (!Number.isFinite(r)) {
      if (g !== r) return `${what}[${i}]: expected ${r} (${w}), got ${g}`;
      continue;
    }
    if (Math.abs(g - w) <= tol) continue;
    if (dt !== "float32" && Number.isFinite(g) && Math.abs(ulpKey(g, dt) - ulpKey(r, dt)) <= 1) continue;
    return `${what}[${i}]: got ${g}, want ${w}${dt === "float32" ? "" : ` (${dt} ${r} ± 1 ulp)`} or within ${tol}`;
  }
  return null;
}

/** The largest finite |v|, at least 1. */
function scaleOf(v: ArrayLike<number>): number {
  let m = 1;
  for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i]!)) m = Math.max(m, Math.abs(v[i]!));
  return m;
}

/** Runs `fn` with the GPU tensors it uploads freed at the end. */
export async function held<R>(gpu: GpuBackend, fn: (up: (t: AnyT | undefined | null) => AnyGpuTensor | null, keep: (...t: (AnyGpuTensor | null | undefined)[]) => void) => Promise<R>): Promise<R> {
  const list: AnyGpuTensor[] = [];
  const keep = (...ts: (AnyGpuTensor | null | undefined)[]) => {
    for (const t of ts) if (t) list.push(t);
  };
  try {
    return await fn((t) => {
      if (!t) return null;
      const g = gpu.upload(t);
      list.push(g);
      return g;
    }, keep);
  } finally {
    for (const t of list) t.destroy();
  }
}

export const readValues = async (t: AnyGpuTensor) => valuesOf(await t.read());

interface RowCase {
  rms: boolean; rows: number; D: number; dt: DType; wdt: DType | null; bdt: DType | null; ibdt?: DType | null;
  add: boolean; offset?: number; mode?: "gemma" | "llama" | "none"; plan?: Partial<ExtPlan>; dh?: boolean; scale?: number; mean?: number; hostile?: boolean;
}

/** LayerNorm/RMSNorm (optionally the fused add) forward and backward on GPU tensors vs the reference. */
async function checkRows(gpu: GpuBackend, seed: number, k: RowCase): Promise<void> {
  const { rms, rows, D, dt } = k;
  const x = randomOf(seed, [rows, D], dt, k.scale ?? 1, k.mean ?? 0), dy = randomOf(seed + 1, [rows, D], dt);
  if (k.hostile && rows >= 4) {
    x.v[D + (D >> 1)] = NaN; // row 1: NaN
    x.v.fill(3.25, 2 * D, 3 * D); // row 2: constant, variance 0
    x.v[3 * D] = Infinity; // row 3: Inf
    Object.assign(x, halfOf(x.v, [rows, D], dt));
  }
  const r = k.add ? randomOf(seed + 2, [rows, D], dt) : null;
  const w = k.wdt ? randomOf(seed + 3, [D], k.wdt, 0.5, k.offset ? 0 : 1) : null;
  const b = k.bdt ? randomOf(seed + 4, [D], k.bdt, 0.5) : null;
  const ib = k.ibdt ? randomOf(seed + 5, [D], k.ibdt, 0.5) : null;
  const dh = k.dh ? randomOf(seed + 6, [rows, D], dt) : null;
  const eps = 1e-5;
  const dtypes = { x: dt, weight: k.wdt ?? undefined, bias: k.bdt ?? undefined, inputBias: k.ibdt ?? undefined };
  const ro = { weight: w?.v, bias: b?.v, eps, weightOffset: k.offset, castingMode: k.mode, dtypes, inputBias: ib?.v, dh: dh?.v };
  const f = k.add ? reference.addRowNormRef(rms, x.v, r!.v, rows, D, ro) : { y: reference.rowNormModeRef(rms, x.v, rows, D, ro), h: null };
  const hv = f.h ?? x.v;
  const g = k.add ? reference.addRowNormBackwardRef(rms, dy.v, hv, rows, D, ro) : { ...reference.rowNormModeBackwardRef(rms, dy.v, x.v, rows, D, ro), dinputBias: null };
  await held(gpu, async (up, keep) => {
    const o = { weight: up(w?.t), bias: up(b?.t), eps, weightOffset: k.offset, castingMode: k.mode, plan: k.plan };
    const gx = up(x.t)!, gdy = up(dy.t)!;
    const what = `${rms ? "rms" : "ln"}${k.add ? "+add" : ""} ${dt} [${rows}, ${D}] ${JSON.stringify(k.plan ?? {})}`;
    // float32 rounding growing with √D, relative to the output's scale (as the float32 property tests)
    const rel = 8e-6 * Math.sqrt(D) * (1 + Math.abs(k.mean ?? 0) / (k.scale ?? 1)) + 4e-5;
    const tol = (v: ArrayLike<number>, n = 1) => rel * n * scaleOf(v);
    let gh: AnyGpuTensor, mean: AnyGpuTensor | undefined, rstd: AnyGpuTensor;
    if (k.add) {
      const out = rms ? gpu.addRmsNorm(gx, up(r!.t)!, D, { ...o, inputBias: up(ib?.t) }) : gpu.addLayerNorm(gx, up(r!.t)!, D, { ...o, inputBias: up(ib?.t) });
      keep(out.y, out.h, out.rstd, "mean" in out ? (out.mean as AnyGpuTensor) : null);
      check(halfError(await readValues(out.y), f.y, dt, tol(f.y), `${what} y`));
      // h is exact: float32 sums, one rounding
      check(halfError(await readValues(out.h), f.h!, dt, 0, `${what} h`));
      ({ h: gh, rstd } = out);
      mean = "mean" in out ? (out.mean as AnyGpuTensor) : undefined;
    } else {
      const out = rms ? gpu.rmsNormForward(gx, D, o) : gpu.layerNormForward(gx, D, o);
      keep(out.y, out.rstd, "mean" in out ? (out.mean as AnyGpuTensor) : null);
      check(halfError(await readValues(out.y), f.y, dt, tol(f.y), `${what} y`));
      ({ rstd } = out);
      gh = gx;
      mean = "mean" in out ? (out.mean as AnyGpuTensor) : undefined;
    }
    const bo = { ...o, mean: mean as never, rstd: rstd as never };
    const gr = k.add
      ? (rms ? gpu.addRmsNormBackward : gpu.addLayerNormBackward).call(gpu, gdy, gh, D, { ...bo, inputBias: up(ib?.t), dh: up(dh?.t) })
      : (rms ? gpu.rmsNormBackward : gpu.layerNormBackward).call(gpu, gdy, gh, D, bo);
    const dib = "dinputBias" in gr ? (gr as { dinputBias: AnyGpuTensor | null }).dinputBias : null;
    keep(gr.dx, gr.dweight, gr.dbias, dib);
    check(halfError(await readValues(gr.dx), g.dx, dt, tol(g.dx), `${what} dx`));
    if (gr.dweight) check(halfError(await readValues(gr.dweight), g.dweight!, k.wdt!, tol(g.dweight!, 4), `${what} dweight`));
    if (gr.dbias) check(halfError(await readValues(gr.dbias), g.dbias!, k.bdt!, tol(g.dbias!, 4), `${what} dbias`));
    if (dib) check(halfError(await readValues(dib), g.dinputBias!, k.ibdt!, tol(g.dinputBias!, 4), `${what} dinputBias`));
  });
  check(gpu.errors.length ? `GPU errors: ${gpu.errors.join("; ")}` : null);
}

export function ops12PropertyTests(env: SuiteEnv): T[] {
  const { gpu } = env;
  const list: T[] = [];
  const add = (name: string, fn: () => Promise<void>) => list.push({ name, fn });
  let seed = 1200;

  // widths and variants: vec 4 / 2 / 1 (odd half widths go through the scratch and pack), registers and loop
  const rowCases: [number, number, Partial<ExtPlan> | undefined][] = [
    [1, 37, undefined], [3, 9, undefined], [6, 20, undefined], [64, 20, undefined], [130, 9, undefined], [1000, 5, undefined],
    [4097, 2, undefined], [96, 9, { vec: 1 }], [96, 9, { vec: 2, T: 4 }], [96, 9, { store: "loop", T: 8 }],
    [257, 3, { store: "loop" }], [512, 4, { T: 256, sg: 0 }],
  ];
  const dts: DType[] = ["float32", "float16", "bfloat16"];
  // each width and variant with one dtype, the dtypes in turn (every dtype meets every item width)
  rowCases.forEach(([D, rows, plan], j) => {
    const dt = dts[j % 3]!;
    const s = seed++;
    const rms = j % 2 === 0;
    const mixed = j % 4 === 1 ? "float32" : dt; // parameters of another dtype now and then
    add(`#12 property ${rms ? "rmsNorm" : "layerNorm"}+add ${dt} D=${D} rows=${rows} ${JSON.stringify(plan ?? {})}`, () =>
      checkRows(gpu, s, { rms, rows, D, dt, wdt: mixed, bdt: j % 5 === 0 ? null : dt, ibdt: j % 3 === 2 ? null : mixed, add: true, dh: j % 2 === 1, offset: j % 3 === 1 ? 1 : 0, plan }));
  });
  // casting modes: float16 with RMSNorm, bfloat16 with LayerNorm (the golden cases have both with both)
  for (const mode of ["gemma", "llama", "none"] as const) {
    for (const dt of ["float16", "bfloat16"] as const) {
      const rms = dt === "float16";
      const s = seed++;
      add(`#12 property ${rms ? "rmsNorm" : "layerNorm"} ${dt} castingMode ${mode} (+ weightOffset 1, vec 1/4)`, async () => {
        await checkRows(gpu, s, { rms, rows: 7, D: 48, dt, wdt: dt, bdt: rms ? null : dt, add: false, offset: 1, mode });
        await checkRows(gpu, s, { rms, rows: 5, D: 13, dt, wdt: "float32", bdt: "float32", add: false, mode, plan: { store: "loop" } });
      });
    }
  }
  add("#12 property hostile rows (NaN, Inf, constant) stay in their rows, half and float32", async () => {
    for (const dt of dts) await checkRows(gpu, seed + 77, { rms: false, rows: 6, D: 40, dt, wdt: dt, bdt: dt, add: false, hostile: true });
    await checkRows(gpu, seed + 78, { rms: true, rows: 6, D: 40, dt: "float16", wdt: "float16", bdt: null, add: true, hostile: true });
  });
  add("#12 property float16 rows of 60000 ± 800 (the variance overflows float16, not float32)", async () => {
    await checkRows(gpu, seed + 79, { rms: false, rows: 4, D: 256, dt: "float16", wdt: "float16", bdt: "float16", add: false, scale: 800, mean: 0 });
    await checkRows(gpu, seed + 80, { rms: true, rows: 4, D: 256, dt: "float16", wdt: "float16", bdt: null, add: true, scale: 800 });
  });

  // the error of wide rows does not grow with the width: compensated sums (tolerance without √D)
  add("#12 accuracy: a 262144-wide row's y and a 16384-row dweight within a fixed float32 error of the reference", async () => {
    for (const D of [4096, 262144]) {
      const x = randomOf(seed + D, [1, D], "float32", 1, 300);
      const ref = reference.rowNormModeRef(false, x.v, 1, D, { eps: 1e-5, weightOffset: 1, weight: new Float32Array(D) });
      await held(gpu, async (up, keep) => {
        const y = gpu.layerNorm(up(x.t)!, D, { weight: up({ shape: [D], data: new Float32Array(D) }), weightOffset: 1 });
        keep(y);
        // x̂ of a row with mean 300 and spread 1: float32 gives about 300·2⁻²⁴ ≈ 2e-5 from rounding x − μ; the sums add no more at any width
        check(halfError(await readValues(y), ref, "float32", 4e-5 * scaleOf(ref), `y D=${D}`));
      });
    }
    const rows = 16384, D = 8;
    const x = randomOf(seed + 3, [rows, D], "float32"), dy = randomOf(seed + 4, [rows, D], "float32", 1, 1);
    const w = { shape: [D], data: new Float32Array(D).fill(1) };
    const g = reference.rowNormModeBackwardRef(true, dy.v, x.v, rows, D, { eps: 1e-5, weight: w.data, weightOffset: 1 });
    await held(gpu, async (up, keep) => {
      const r = gpu.rmsNormBackward(up(dy.t)!, up(x.t)!, D, { weight: up(w), weightOffset: 1, eps: 1e-5 });
      keep(r.dx, r.dweight);
      check(halfError(await readValues(r.dweight!), g.dweight!, "float32", 2e-6 * scaleOf(g.dweight!), "dweight over 16384 rows"));
    });
  });

  // a row's result does not depend on the other rows (bitwise), for every #12 map
  add("#12 batch invariance: rows, channels-last groups and instances alone = in a batch (bitwise, half)", async () => {
    const dt = "float16" as const;
    const rows = 200, D = 72, k = 5;
    const x = randomOf(seed + 5, [rows, D], dt), r = randomOf(seed + 6, [rows, D], dt), w = randomOf(seed + 7, [D], dt, 0.5, 1);
    const bits = async (t: AnyGpuTensor) => Array.from((await t.read()).data);
    const slice = (t: AnyT, n: number, per: number, shape: number[]): AnyT => ({ ...t, shape, data: t.data.slice(0, n * per) } as AnyT);
    await held(gpu, async (up, keep) => {
      const all = gpu.addRmsNorm(up(x.t)!, up(r.t)!, D, { weight: up(w.t), weightOffset: 1 });
      const few = gpu.addRmsNorm(up(slice(x.t, k, D, [k, D]))!, up(slice(r.t, k, D, [k, D]))!, D, { weight: up(w.t), weightOffset: 1 });
      keep(all.y, all.h, all.rstd, few.y, few.h, few.rstd);
      const [ya, yf] = [await bits(all.y), await bits(few.y)];
      if (yf.some((v, i) => v !== ya[i])) throw new Error("addRmsNorm y of 5 rows differs from the same rows in a batch of 200");
      const ga = gpu.addRmsNormBackward(up(r.t)!, all.h, D, { weight: up(w.t), weightOffset: 1 });
      const gf = gpu.addRmsNormBackward(up(slice(r.t, k, D, [k, D]))!, few.h, D, { weight: up(w.t), weightOffset: 1 });
      keep(ga.dx, ga.dweight, gf.dx, gf.dweight);
      const [da, df] = [await bits(ga.dx), await bits(gf.dx)];
      if (df.some((v, i) => v !== da[i])) throw new Error("dx of 5 rows differs from the same rows in a batch");
      // channels-last GroupNorm + SiLU and InstanceNorm: sample 0 alone vs in a batch of 6
      const N = 6, S = 12, C = 16;
      const xg = randomOf(seed + 8, [N, S, C], dt), wg = randomOf(seed + 9, [C], dt, 0.5, 1);
      const one = (t: AnyT, shape: number[]) => slice(t, 1, S * C, shape);
      const gA = gpu.groupNorm(up(xg.t)!, 4, { channelsLast: true, activation: "silu", weight: up(wg.t) });
      const gO = gpu.groupNorm(up(one(xg.t, [1, S, C]))!, 4, { channelsLast: true, activation: "silu", weight: up(wg.t) });
      const iA = gpu.instanceNorm(up({ ...xg.t, shape: [N, C, S] } as AnyT)!, { weight: up(wg.t) });
      const iO = gpu.instanceNorm(up(one(xg.t, [1, C, S]))!, { weight: up(wg.t) });
      keep(gA, gO, iA, iO);
      for (const [a, o, what] of [[gA, gO, "groupNorm channels-last + SiLU"], [iA, iO, "instanceNorm"]] as const) {
        const [ba, bo] = [await bits(a), await bits(o)];
        if (bo.some((v, i) => v !== ba[i])) throw new Error(`${what}: sample 0 alone differs from sample 0 in a batch of ${N}`);
      }
    });
  });

  // GroupNorm channels-last / channels-first with SiLU, every dtype, odd C/G (the scratch path)
  const gnShapes: [number, number[], number, boolean, DType][] = [
    [2, [5, 6], 3, true, "float16"], [2, [3, 4, 12], 4, true, "bfloat16"], [3, [7, 10], 5, true, "float32"], [2, [6, 9], 3, false, "float16"],
    [1, [16, 16, 64], 32, true, "float16"], [2, [8, 5], 2, false, "bfloat16"],
  ];
  for (const [N, rest, G, cl, dt] of gnShapes) {
    add(`#12 property groupNorm ${cl ? "channels-last" : "channels-first"} + SiLU ${dt} [${N}, ${rest}] G=${G}`, async () => {
      const shape = [N, ...rest];
      const C = cl ? rest[rest.length - 1]! : rest[0]!;
      const S = shape.reduce((a, b) => a * b, 1) / (N * C);
      const s = seed + N * 31 + C;
      const x = randomOf(s, shape, dt, 2, 1), dy = randomOf(s + 1, shape, dt), w = randomOf(s + 2, [C], dt, 0.5, 1), b = randomOf(s + 3, [C], dt);
      const o = { weight: w.v, bias: b.v, eps: 1e-5, channelsLast: cl, activation: "silu" as const };
      const yRef = reference.groupNormModeRef(x.v, N, C, S, G, o);
      const gRef = reference.groupNormModeBackwardRef(dy.v, x.v, N, C, S, G, o);
      await held(gpu, async (up, keep) => {
        const go = { weight: up(w.t), bias: up(b.t), channelsLast: cl, activation: "silu" as const };
        const f = gpu.groupNormForward(up(x.t)!, G, go);
        const g = gpu.groupNormBackward(up(dy.t)!, up(x.t)!, G, { ...go, mean: f.mean, rstd: f.rstd });
        keep(f.y, f.mean, f.rstd, g.dx, g.dweight, g.dbias);
        const L = (C / G) * S;
        const tol = (v: ArrayLike<number>, n = 1) => (2e-5 * Math.sqrt(L) + 1e-5) * n * scaleOf(v);
        check(halfError(await readValues(f.y), yRef, dt, tol(yRef), "y"));
        check(halfError(await readValues(g.dx), gRef.dx, dt, tol(gRef.dx, 4), "dx"));
        check(halfError(await readValues(g.dweight!), gRef.dweight!, dt, tol(gRef.dweight!, 8), "dweight"));
        check(halfError(await readValues(g.dbias!), gRef.dbias!, dt, tol(gRef.dbias!, 8), "dbias"));
      });
    });
  }

  // BatchNorm / InstanceNorm on the per-channel kernels: training with the running update, eval
  const bnShapes: [number[], DType, boolean][] = [[[64, 6], "float32", true], [[5, 3, 7], "float16", true], [[4, 4, 4, 9], "bfloat16", false], [[3, 2, 2000], "float32", true]];
  for (const [shape, dt, training] of bnShapes) {
    add(`#12 property batchNorm ${training ? "training" : "eval"} ${dt} [${shape}]`, async () => {
      const [N, C] = shape as [number, number];
      const S = shape.slice(2).reduce((a, b) => a * b, 1);
      const s = seed + N + C;
      const x = randomOf(s, shape, dt, 2, 3), dy = randomOf(s + 1, shape, dt), w = randomOf(s + 2, [C], dt, 0.5, 1), b = randomOf(s + 3, [C], "float32");
      const rm = randomOf(s + 4, [C], "float32", 0.1), rv = randomOf(s + 5, [C], "float32", 0.1, 1);
      const ro = { weight: w.v, bias: b.v, runningMean: rm.v.slice(), runningVar: rv.v.slice(), training, momentum: 0.2, eps: 1e-5 };
      const yRef = reference.batchNormRef(x.v, N, C, S, ro);
      const gRef = reference.batchNormBackwardRef(dy.v, x.v, N, C, S, { ...ro, runningMean: rm.v, runningVar: rv.v });
      await held(gpu, async (up, keep) => {
        const grm = up(rm.t)!, grv = up(rv.t)!;
        const go = { weight: up(w.t), bias: up(b.t), training, momentum: 0.2 };
        const y = gpu.batchNorm(up(x.t)!, { ...go, runningMean: grm as never, runningVar: grv as never });
        keep(y);
        const tol = (v: ArrayLike<number>, n = 1) => (2e-5 * Math.sqrt(N * S) + 1e-5) * n * scaleOf(v);
        check(halfError(await readValues(y), yRef.y, dt, tol(yRef.y), "y"));
        check(halfError(await readValues(grm), yRef.runningMean!, "float32", 1e-6, "runningMean"));
        check(halfError(await readValues(grv), yRef.runningVar!, "float32", 1e-5, "runningVar"));
        const g = gpu.batchNormBackward(up(dy.t)!, up(x.t)!, { ...go, runningMean: up(rm.t) as never, runningVar: up(rv.t) as never });
        keep(g.dx, g.dweight, g.dbias);
        check(halfError(await readValues(g.dx), gRef.dx, dt, tol(gRef.dx, 4), "dx"));
        check(halfError(await readValues(g.dweight!), gRef.dweight!, dt, tol(gRef.dweight!, 8), "dweight"));
        check(halfError(await readValues(g.dbias!), gRef.dbias!, "float32", tol(gRef.dbias!, 8), "dbias"));
      });
    });
  }
  add("#12 property instanceNorm training (running statistics) and eval, float16 [3, 4, 50]", async () => {
    const [N, C, S] = [3, 4, 50];
    const dt = "float16" as const;
    const x = randomOf(seed + 90, [N, C, S], dt, 2, 1), dy = randomOf(seed + 91, [N, C, S], dt), w = randomOf(seed + 92, [C], dt, 0.5, 1);
    const rm = randomOf(seed + 93, [C], "float32", 0.1), rv = randomOf(seed + 94, [C], "float32", 0.1, 1);
    for (const useInputStats of [true, false]) {
      const ro = { weight: w.v, runningMean: rm.v.slice(), runningVar: rv.v.slice(), useInputStats, momentum: 0.3, eps: 1e-5 };
      const yRef = reference.instanceNormRef(x.v, N, C, S, ro);
      const gRef = reference.instanceNormBackwardRef(dy.v, x.v, N, C, S, { ...ro, runningMean: rm.v, runningVar: rv.v });
      await held(gpu, async (up, keep) => {
        const grm = up(rm.t)!, grv = up(rv.t)!;
        const y = gpu.instanceNorm(up(x.t)!, { weight: up(w.t), runningMean: grm as never, runningVar: grv as never, useInputStats, momentum: 0.3 });
        const g = gpu.instanceNormBackward(up(dy.t)!, up(x.t)!, { weight: up(w.t), runningMean: up(rm.t) as never, runningVar: up(rv.t) as never, useInputStats });
        keep(y, g.dx, g.dweight);
        const tol = (v: ArrayLike<number>, n = 1) => 2e-4 * n * scaleOf(v);
        check(halfError(await readValues(y), yRef.y, dt, tol(yRef.y), `y (useInputStats ${useInputStats})`));
        check(halfError(await readValues(grm), yRef.runningMean!, "float32", 1e-6, "runningMean"));
        check(halfError(await readValues(grv), yRef.runningVar!, "float32", 1e-5, "runningVar"));
        check(halfError(await readValues(g.dx), gRef.dx, dt, tol(gRef.dx, 4), "dx"));
        check(halfError(await readValues(g.dweight!), gRef.dweight!, dt, tol(gRef.dweight!, 8), "dweight"));
      });
    }
  });

  // the shader's float32 → half rounding is the CPU's, bit for bit (ties, overflow, subnormals, NaN)
  add("#12 cast: GPU rounding to float16/bfloat16 = src/dtype.ts bit for bit; half → float32 exact for all 65536 patterns", async () => {
    const r = rng(4242);
    const specials = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e9, Infinity, -Infinity, NaN, 2 ** -24, 2 ** -25, 2 ** -25 * 1.5, 3 * 2 ** -26, 2 ** -14, 2 ** -14 - 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 3.4e38];
    const f = new Float32Array(4096 + specials.length);
    f.set(specials);
    for (let i = specials.length; i < f.length; i++) f[i] = r.normal() * 2 ** Math.floor(r.u() * 60 - 30);
    // ties of float16 and bfloat16: midpoints between neighbours
    for (let i = 0; i < 512; i++) f[specials.length + i] = (1 + (2 * i + 1) * 2 ** -11) * 2 ** (i % 20 - 10);
    for (let i = 0; i < 512; i++) f[specials.length + 512 + i] = (1 + (2 * i + 1) * 2 ** -8) * 2 ** (i % 60 - 30);
    await held(gpu, async (up, keep) => {
      const g = up({ shape: [f.length], data: f })!;
      for (const dt of ["float16", "bfloat16"] as const) {
        const h = gpu.cast(g, dt);
        keep(h);
        const got = (await h.read()).data as Uint16Array;
        const want = dt === "float16" ? f32ToF16BitsArray(f) : f32ToBf16BitsArray(f);
        const bad = want.findIndex((v, i) => v !== got[i]);
        if (bad >= 0) throw new Error(`${dt}(${f[bad]}): GPU bits 0x${got[bad]!.toString(16)}, CPU 0x${want[bad]!.toString(16)}`);
      }
      for (const dt of ["float16", "bfloat16"] as const) {
        const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
        const back = gpu.cast(up({ shape: [65536], data: all, dtype: dt })!, "float32");
        keep(back);
        const got = (await back.read()).data as Float32Array;
        const want = valuesOf({ shape: [65536], data: all, dtype: dt });
        const bad = want.findIndex((v, i) => !(Object.is(v, got[i]) || (Number.isNaN(v) && Number.isNaN(got[i]!))));
        if (bad >= 0) throw new Error(`${dt} bits 0x${bad.toString(16)}: GPU ${got[bad]}, exact ${want[bad]}`);
      }
    });
  });

  add("#12 shader-f16: float16 on native f16 arrays = on u32 words, bit for bit", async () => {
    if (!gpu.device.features.has("shader-f16")) throw new Skip("this adapter has no shader-f16 (SwiftShader has none): the u32-word path runs everywhere");
    const x = randomOf(seed + 95, [9, 36], "float16"), r = randomOf(seed + 96, [9, 36], "float16"), w = randomOf(seed + 97, [36], "float16", 0.5, 1);
    await held(gpu, async (up, keep) => {
      for (const vec of [1, 2, 4] as const) {
        const a = gpu.addLayerNorm(up(x.t)!, up(r.t)!, 36, { weight: up(w.t), plan: { f16: true, vec } });
        const b = gpu.addLayerNorm(up(x.t)!, up(r.t)!, 36, { weight: up(w.t), plan: { f16: false, vec } });
        keep(a.y, a.h, a.mean, a.rstd, b.y, b.h, b.mean, b.rstd);
        const [ya, yb] = [(await a.y.read()).data, (await b.y.read()).data];
        if (ya.some((v, i) => v !== yb[i])) throw new Error(`vec ${vec}: y differs between f16 arrays and u32 words`);
      }
    });
  });
  return list;
}
