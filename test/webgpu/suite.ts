/**
 * The WebGPU test suite. Browser-safe (no Node imports): headless Chromium runs it on SwiftShader
 * (test/webgpu/browser.test.ts) and Node runs it on Dawn (test/webgpu/node.test.ts). Each test
 * returns normally or throws; the drivers turn the list of results into node:test subtests.
 */
import { reference, type Grads, type Tensor } from "../../src/index.js";
import { createGpuBackend, type GpuBackend, type GpuTensor, type KernelPlan } from "../../src/webgpu.js";
import type { GoldenCase } from "../helpers.js";
import { bitwiseError, closeError, rng } from "../shared.js";
import type { AccuracyFixture } from "../accuracy.js";
import { Skip, check, problem, throwsNorm } from "./gpu-helpers.js";
import { lifecycleTests } from "./lifecycle.js";
import type { OpsCase } from "../ops-cases.js";
import { ops12Tests } from "./ops12-all.js";
import { wideRowTests } from "./wide.js";
import { wrapTests } from "./wrap.js";

export interface SuiteResult {
  name: string;
  ok: boolean;
  message?: string;
  /** Why the test could not run here (the drivers report it as skipped). */
  skipped?: string;
  ms: number;
}

export interface SuiteEnv {
  gpu: GpuBackend;
  cases: GoldenCase[];
  /** Makes a second backend with its own device (the lost-device test destroys it). */
  fresh: () => Promise<GpuBackend>;
  /** Calls of the leak test (10,000 by default). */
  leakCalls?: number;
  /** Runs only the tests whose name contains this. */
  filter?: string;
  /** The issue #12 golden cases (test/fixtures/ops-cases.json). */
  opsCases?: OpsCase[];
  /** test/fixtures/accuracy.json: the wide-row block (./wide.ts) runs its cases. */
  accuracy?: AccuracyFixture;
}

export type T = { name: string; fn: () => Promise<void> | void };

const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;
const f32 = (t: { shape: number[]; f32: string }): Tensor => ({ shape: t.shape, data: new Float32Array(b64(t.f32)) });
const f64 = (t: { f64: string }) => new Float64Array(b64(t.f64));

/** Compares GPU results with the float64 reference; tolerances scale with the conditioning. */
async function checkAgainstReference(
  gpu: GpuBackend, rms: boolean, seed: number, rows: number, D: number,
  o: { w: boolean; b: boolean; scale?: number; offset?: number; hostile?: boolean; plan?: Partial<KernelPlan> },
): Promise<void> {
  const p = problem(seed, rows, D, o);
  const eps = rms ? 1e-6 : 1e-5;
  const yRef = reference.rowNormRef(rms, p.x.data, rows, D, p.weight?.data, p.bias?.data, eps);
  const gRef = reference.rowNormBackwardRef(rms, p.dy.data, p.x.data, rows, D, p.weight?.data, p.bias?.data, eps);
  const up = (t: Tensor | undefined) => (t ? gpu.upload(t) : null);
  const held: GpuTensor[] = [];
  const keep = <X extends GpuTensor | null>(t: X): X => {
    if (t) held.push(t);
    return t;
  };
  try {
    const x = keep(up(p.x))!;
    const dy = keep(up(p.dy))!;
    const opts = { weight: keep(up(p.weight)), bias: keep(up(p.bias)), eps, plan: o.plan };
    const f = rms ? gpu.rmsNormForward(x, D, opts) : gpu.layerNormForward(x, D, opts);
    keep(f.y);
    keep(f.rstd);
    const mean = "mean" in f ? keep(f.mean as GpuTensor) : undefined;
    const g = rms ? gpu.rmsNormBackward(dy, x, D, { ...opts, rstd: f.rstd }) : gpu.layerNormBackward(dy, x, D, { ...opts, mean, rstd: f.rstd });
    keep(g.dx);
    keep(g.dweight);
    keep(g.dbias);
    // float32 rounding, growing with √D and with the offset/spread ratio (cancellation in x − mean),
    // relative to the largest finite value of each output (a norm-wise error bound)
    const rel = 8e-6 * Math.sqrt(D) * (1 + Math.abs(o.offset ?? 0) / (o.scale ?? 1)) + 4e-5;
    const tol = (ref: Float64Array, n = 1) => rel * n * ref.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 1);
    const what = `${rms ? "rms" : "ln"}[${rows},${D}]`;
    check(closeError((await f.y.read()).data, yRef, tol(yRef), `${what}.y`));
    check(closeError((await g.dx.read()).data, gRef.dx, tol(gRef.dx), `${what}.dx`));
    if (g.dweight) check(closeError((await g.dweight.read()).data, gRef.dweight!, tol(gRef.dweight!, 4), `${what}.dweight`));
    if (g.dbias) check(closeError((await g.dbias.read()).data, gRef.dbias!, tol(gRef.dbias!, 4), `${what}.dbias`));
  } finally {
    for (const t of held) t.destroy();
  }
  check(gpu.errors.length ? `GPU errors: ${gpu.errors.join("; ")}` : null);
}

function tests(env: SuiteEnv): T[] {
  const { gpu } = env;
  const list: T[] = [];
  const add = (name: string, fn: () => Promise<void> | void) => list.push({ name, fn });

  // -- every golden case for LayerNorm / RMSNorm, through the CPU-tensor convenience API
  for (const c of env.cases) {
    if (c.op !== "layerNorm" && c.op !== "rmsNorm" && c.op !== "groupNorm") continue;
    add(`golden ${c.op} ${c.name}`, async () => {
      const x = f32(c.x);
      const dy = f32(c.dy);
      const opts = { weight: c.weight ? f32(c.weight) : undefined, bias: c.bias ? f32(c.bias) : undefined, eps: c.eps ?? undefined };
      const ns = c.op === "groupNorm" ? c.numGroups! : c.normalizedShape!;
      const [fwd, bwd] = c.op === "groupNorm"
        ? [gpu.cpu.groupNorm as (x: Tensor, n: number, o: typeof opts) => Promise<Tensor>, gpu.cpu.groupNormBackward as (dy: Tensor, x: Tensor, n: number, o: typeof opts) => Promise<Grads>]
        : c.op === "layerNorm" ? [gpu.cpu.layerNorm, gpu.cpu.layerNormBackward] : [gpu.cpu.rmsNorm, gpu.cpu.rmsNormBackward];
      const g = await bwd(dy, x, ns as number, opts);
      const got: Record<string, Float32Array> = { y: (await fwd(x, ns as number, opts)).data, dx: g.dx.data };
      if (g.dweight) got.dweight = g.dweight.data;
      if (g.dbias) got.dbias = g.dbias.data;
      for (const [k, enc] of Object.entries(c.expected)) {
        if (!got[k]) throw new Error(`${k} missing from the result`);
        check(closeError(got[k], f64(enc), c.tolerance[k]!, `${c.name}.${k}`));
      }
      for (const k of Object.keys(got)) if (!(k in c.expected)) throw new Error(`unexpected output ${k}`);
    });
  }

  // -- property tests: shapes across every shape class (narrow/wide, D % 4 ≠ 0, registers/loop)
  const widths = [1, 2, 3, 4, 5, 7, 8, 16, 31, 33, 64, 100, 127, 128, 255, 256, 384, 511, 512, 768, 1000, 1024, 1025, 2048, 3000, 4096, 4097, 8192, 8195, 12288, 16384, 20001];
  let seed = 1;
  for (const rms of [false, true]) {
    for (const D of widths) {
      const rows = D >= 8192 ? 5 : D >= 1024 ? 37 : 300;
      const s = seed++;
      const w = s % 3 !== 0;
      const b = s % 2 === 0;
      add(`property ${rms ? "rmsNorm" : "layerNorm"} D=${D} rows=${rows} w=${w} b=${b}`, () => checkAgainstReference(gpu, rms, s, rows, D, { w, b }));
    }
    add(`property ${rms ? "rmsNorm" : "layerNorm"} large offset`, () => checkAgainstReference(gpu, rms, 99, 40, 1024, { w: true, b: true, offset: 300, scale: 1 }));
    add(`property ${rms ? "rmsNorm" : "layerNorm"} small scale`, () => checkAgainstReference(gpu, rms, 98, 40, 771, { w: true, b: false, scale: 1e-3 }));
    for (const D of [6, 100, 1024, 4099, 9000]) {
      add(`property ${rms ? "rmsNorm" : "layerNorm"} hostile rows D=${D}`, () => checkAgainstReference(gpu, rms, 7 + D, 9, D, { w: true, b: true, hostile: true }));
    }
  }

  // -- GroupNorm: the row kernels in their per-channel mode, and the per-channel gradient sums
  const gnShapes: [number, number, number, number, Partial<KernelPlan> | undefined][] = [
    [2, 4, 3, 2, undefined], [3, 6, 8, 3, undefined], [5, 8, 5, 4, undefined], [2, 16, 64, 4, undefined],
    [4, 32, 1, 8, undefined], [1, 4, 1000, 1, undefined], [7, 12, 2, 3, undefined], [3, 8, 16, 2, { vec: 1 }],
    [3, 8, 16, 2, { T: 256, sg: 0 }], [3, 8, 36, 4, { T: 4, sg: 0, store: "loop" }],
  ];
  for (const [N, C, S, G, plan] of gnShapes) {
    add(`property groupNorm [${N}, ${C}, ${S}] G=${G}${plan ? ` ${JSON.stringify(plan)}` : ""}`, async () => {
      const r = rng(N * 1000 + C * 10 + S);
      const x = r.tensor([N, C, S], 2, 1), dy = r.tensor([N, C, S]), w = r.tensor([C], 0.5, 1), b = r.tensor([C]);
      if (N > 1) x.data[C * S + 1] = NaN; // sample 1, group 0: NaN stays in that group row
      const yRef = reference.groupNormRef(x.data, N, C, S, G, w.data, b.data, 1e-5);
      const gRef = reference.groupNormBackwardRef(dy.data, x.data, N, C, S, G, w.data, b.data, 1e-5);
      const held: GpuTensor[] = [];
      const up = (t: Tensor) => { const g = gpu.upload(t); held.push(g); return g; };
      try {
        const [gx, gdy, gw, gb] = [up(x), up(dy), up(w), up(b)];
        const f = gpu.groupNormForward(gx, G, { weight: gw, bias: gb, plan });
        held.push(f.y, f.mean, f.rstd);
        if (f.mean.shape.join() !== `${N},${G}`) throw new Error(`statistics of shape ${f.mean.shape}`);
        const into = { dweight: up({ shape: [C], data: new Float32Array(C).fill(1) }) };
        const g = gpu.groupNormBackward(gdy, gx, G, { weight: gw, bias: gb, mean: f.mean, rstd: f.rstd, into, plan });
        held.push(g.dx, g.dbias!);
        const L = (C / G) * S;
        const rowsOk = (a: Float32Array, ref: Float64Array, tol: number, what: string) => {
          for (let row = 0; row < N * G; row++) {
            const seg = a.subarray(row * L, (row + 1) * L), refSeg = ref.subarray(row * L, (row + 1) * L);
            if (N > 1 && row === G) {
              if (!seg.every(Number.isNaN)) throw new Error(`${what}: the NaN group row is not all NaN`);
            } else check(closeError(seg, refSeg, tol, `${what} row ${row}`));
          }
        };
        rowsOk((await f.y.read()).data, yRef, 2e-5 * Math.sqrt(L) + 1e-5, "y");
        rowsOk((await g.dx.read()).data, gRef.dx, 1e-4 * Math.sqrt(L), "dx");
        // parameter gradients of the channels no NaN reaches (group 0's channels are NaN)
        const dw = (await g.dweight!.read()).data, db = (await g.dbias!.read()).data;
        const Cg = C / G;
        for (let c = N > 1 ? Cg : 0; c < C; c++) {
          const tol = 1e-5 * N * S * 4 + 1e-5;
          if (!(Math.abs(dw[c]! - (1 + gRef.dweight![c]!)) <= tol * (1 + Math.abs(gRef.dweight![c]!)))) throw new Error(`dweight[${c}] ${dw[c]} vs 1 + ${gRef.dweight![c]}`);
          if (!(Math.abs(db[c]! - gRef.dbias![c]!) <= tol * (1 + Math.abs(gRef.dbias![c]!)))) throw new Error(`dbias[${c}] ${db[c]} vs ${gRef.dbias![c]}`);
        }
      } finally {
        for (const t of held) t.destroy();
      }
      check(gpu.errors.length ? `GPU errors: ${gpu.errors.join("; ")}` : null);
    });
  }
  add("groupNorm: a sample alone = the same sample in a batch (bitwise); misuse is the core's NormError", async () => {
    const r = rng(5);
    const x = r.tensor([6, 8, 10], 2, 1), w = r.tensor([8], 0.5, 1), b = r.tensor([8]);
    const all = await gpu.cpu.groupNorm(x, 4, { weight: w, bias: b });
    const one = await gpu.cpu.groupNorm({ shape: [1, 8, 10], data: x.data.slice(5 * 80) }, 4, { weight: w, bias: b });
    check(bitwiseError(one.data, all.data.subarray(5 * 80), "last sample alone"));
    await throwsNorm(() => gpu.cpu.groupNorm(x, 3), "BAD_NUM_GROUPS");
    await throwsNorm(() => gpu.cpu.groupNorm({ shape: [8], data: new Float32Array(8) }, 2), "BAD_RANK");
    const gx = gpu.upload(x);
    try {
      await throwsNorm(() => gpu.groupNorm(gx, 4, { weight: gx }), "BAD_PARAM_SHAPE");
      await throwsNorm(() => gpu.groupNormBackward(gx, gx, 4, { rstd: gx, mean: gx }), "BAD_PARAM_SHAPE", "[6, 4]");
    } finally {
      gx.destroy();
    }
  });

  // -- every kernel variant (the ones the benchmark compares) against the reference
  const variants: Partial<KernelPlan>[] = [
    { T: 4, sg: 0, store: "regs" }, { T: 32, sg: 0 }, { T: 256, sg: 0 }, { T: 256, store: "loop", sg: 0 },
    { T: 64, store: "reread" }, { T: 128, store: "loop" }, { vec: 1 }, { vec: 1, T: 16, store: "loop" },
    { T: 16, wgsum: true }, { T: 16, wgsum: false }, { T: 8, vec: 1, store: "reread", wgsum: true },
  ];
  if (gpu.subgroupSize) variants.push({ T: gpu.subgroupSize, sg: gpu.subgroupSize }, { T: 256, sg: gpu.subgroupSize });
  for (const plan of variants) {
    for (const D of [4, 64, 520, 1024]) {
      try {
        gpu.plan(D, false, plan);
        gpu.plan(D, true, plan);
      } catch {
        continue; // a plan that cannot run at this width (too many items per thread, too little memory)
      }
      for (const rms of [false, true]) {
        add(`variant ${JSON.stringify(plan)} ${rms ? "rms" : "ln"} D=${D}`, () => checkAgainstReference(gpu, rms, D + 5, 45, D, { w: true, b: true, plan }));
      }
    }
  }

  // -- wide rows and large groups, within 4 × PyTorch's float32 error (./wide.ts)
  if (env.accuracy) wideRowTests(gpu, env.accuracy, (name, fn) => add(name, fn));

  // -- determinism: same inputs, same bits; a row's result does not depend on the other rows
  for (const [rms, D] of [[false, 1000], [true, 768], [false, 4096], [false, 37]] as const) {
    add(`deterministic and row-independent ${rms ? "rms" : "ln"} D=${D}`, async () => {
      const rows = D >= 4096 ? 40 : 700;
      const p = problem(D, rows, D, { w: true, b: true });
      const fwd = rms ? gpu.cpu.rmsNorm : gpu.cpu.layerNorm;
      const bwd = rms ? gpu.cpu.rmsNormBackward : gpu.cpu.layerNormBackward;
      const opts = { weight: p.weight, bias: p.bias };
      const [y1, y2] = [await fwd(p.x, D, opts), await fwd(p.x, D, opts)];
      check(bitwiseError(y1.data, y2.data, "y twice"));
      const [g1, g2] = [await bwd(p.dy, p.x, D, opts), await bwd(p.dy, p.x, D, opts)];
      check(bitwiseError(g1.dx.data, g2.dx.data, "dx twice"));
      check(bitwiseError(g1.dweight!.data, g2.dweight!.data, "dweight twice"));
      check(bitwiseError(g1.dbias!.data, g2.dbias!.data, "dbias twice"));
      const k = 7;
      const xs = { shape: [k, D], data: p.x.data.slice(0, k * D) };
      const dys = { shape: [k, D], data: p.dy.data.slice(0, k * D) };
      check(bitwiseError((await fwd(xs, D, opts)).data, y1.data.subarray(0, k * D), "y of 7 rows vs the same rows in a large batch"));
      check(bitwiseError((await bwd(dys, xs, D, opts)).dx.data, g1.dx.data.subarray(0, k * D), "dx of 7 rows vs the same rows in a large batch"));
    });
  }

  // -- chaining on the GPU equals the convenience path; accumulation into gradients
  add("chained GPU ops and into-accumulation", async () => {
    const D = 96;
    const p = problem(3, 50, D, { w: true, b: true });
    const x = gpu.upload(p.x), dy = gpu.upload(p.dy), w = gpu.upload(p.weight!), b = gpu.upload(p.bias!);
    const held = [x, dy, w, b];
    try {
      const y = gpu.layerNorm(x, D, { weight: w, bias: b });
      const z = gpu.rmsNorm(y, D, { weight: w });
      held.push(y, z);
      const y2 = await gpu.cpu.layerNorm(p.x, D, { weight: p.weight, bias: p.bias });
      const z2 = await gpu.cpu.rmsNorm(y2, D, { weight: p.weight });
      check(bitwiseError((await z.read()).data, z2.data, "chained"));
      const g = gpu.layerNormBackward(dy, x, D, { weight: w, bias: b });
      held.push(g.dx, g.dweight!, g.dbias!);
      const g2 = gpu.layerNormBackward(dy, x, D, { weight: w, bias: b, into: { dweight: g.dweight, dbias: g.dbias } });
      held.push(g2.dx);
      if (g2.dweight !== g.dweight) throw new Error("into.dweight not used");
      const once = await gpu.cpu.layerNormBackward(p.dy, p.x, D, { weight: p.weight, bias: p.bias });
      const twice = once.dweight!.data.map((v) => v + v);
      check(closeError((await g.dweight!.read()).data, twice, 1e-5, "dweight accumulated twice"));
    } finally {
      for (const t of held) t.destroy();
    }
  });

  add("the core API on CPU tensors: *Forward statistics (x's leading dims), saved mean/rstd, out and into", async () => {
    const D = 24;
    const r = rng(8);
    const x = r.tensor([2, 5, D], 2, 1), dy = r.tensor([2, 5, D]), weight = r.tensor([D], 0.5, 1), bias = r.tensor([D]);
    const f = await gpu.cpu.layerNormForward(x, D, { weight, bias });
    if (f.mean.shape.join() !== "2,5" || f.rstd.shape.join() !== "2,5") throw new Error(`statistics of shape ${f.mean.shape}/${f.rstd.shape}`);
    check(bitwiseError(f.y.data, (await gpu.cpu.layerNorm(x, D, { weight, bias })).data, "y with statistics"));
    const plain = await gpu.cpu.layerNormBackward(dy, x, D, { weight, bias });
    const out = { shape: x.shape, data: new Float32Array(x.data.length).fill(NaN) };
    const into = { dweight: { shape: [D], data: new Float32Array(D).fill(1) } };
    const g = await gpu.cpu.layerNormBackward(dy, x, D, { weight, bias, mean: f.mean, rstd: f.rstd, out, into });
    if (g.dx.data !== out.data || g.dweight!.data !== into.dweight.data) throw new Error("out/into not returned");
    check(bitwiseError(out.data, plain.dx.data, "dx from saved statistics into out"));
    check(closeError(into.dweight.data, plain.dweight!.data.map((v) => 1 + v), 1e-5, "dweight added into"));
    check(bitwiseError(g.dbias!.data, plain.dbias!.data, "dbias"));
    const rf = await gpu.cpu.rmsNormForward(x, D, { weight });
    const rg = await gpu.cpu.rmsNormBackward(dy, x, D, { weight, rstd: rf.rstd });
    check(bitwiseError(rg.dx.data, (await gpu.cpu.rmsNormBackward(dy, x, D, { weight })).dx.data, "rms dx from saved rstd"));
    // GPU tensors: the same statistics shape, and the core's checks of saved statistics and into
    const gx = gpu.upload(x), gdy = gpu.upload(dy), gw = gpu.upload(weight);
    const gf = gpu.layerNormForward(gx, D, { weight: gw });
    try {
      if (gf.rstd.shape.join() !== "2,5") throw new Error(`GPU rstd of shape ${gf.rstd.shape}`);
      await throwsNorm(() => gpu.layerNormBackward(gdy, gx, D, { rstd: gf.rstd }), "BAD_ARGUMENT", "mean");
      await throwsNorm(() => gpu.rmsNormBackward(gdy, gx, D, { mean: gf.mean, rstd: gf.rstd }), "BAD_ARGUMENT", "RMSNorm");
      await throwsNorm(() => gpu.layerNormBackward(gdy, gx, D, { mean: gf.mean, rstd: gw }), "BAD_PARAM_SHAPE", "[2, 5]");
      await throwsNorm(() => gpu.layerNormBackward(gdy, gx, D, { into: { dweight: gw } }), "BAD_ARGUMENT", "no weight");
      await throwsNorm(() => gpu.cpu.layerNormBackward(dy, x, D, { out: dy }), "BAD_ARGUMENT", "overlapping dy");
    } finally {
      for (const t of [gx, gdy, gw, gf.y, gf.mean, gf.rstd]) t.destroy();
    }
  });

  // -- errors
  add("error: destroyed tensor", async () => {
    const x = gpu.upload({ shape: [2, 4], data: new Float32Array(8) });
    x.destroy();
    x.destroy(); // idempotent
    await throwsNorm(() => gpu.layerNorm(x, 4), "DESTROYED_TENSOR");
    await throwsNorm(() => x.read(), "DESTROYED_TENSOR");
  });
  add("error: validation is the core's", async () => {
    const x = gpu.upload({ shape: [2, 4], data: new Float32Array(8) });
    const w = gpu.upload({ shape: [3], data: new Float32Array(3) });
    try {
      await throwsNorm(() => gpu.layerNorm(x, 5), "BAD_NORMALIZED_SHAPE");
      await throwsNorm(() => gpu.rmsNorm(x, 4, { weight: w }), "BAD_PARAM_SHAPE");
      await throwsNorm(() => gpu.layerNorm(x, 4, { eps: -1 }), "BAD_EPS");
      await throwsNorm(() => gpu.layerNorm({ shape: [2, 4], data: new Float32Array(8) } as unknown as GpuTensor, 4), "BAD_ARGUMENT");
      await throwsNorm(() => gpu.layerNormBackward(w, x, 4), "SHAPE_MISMATCH");
      await throwsNorm(() => gpu.cpu.layerNorm({ shape: [2, 4], data: new Float64Array(8) } as unknown as Tensor, 4), "BAD_DTYPE");
      await throwsNorm(() => gpu.layerNorm(x, 4, { plan: { T: 3 } }), "BAD_ARGUMENT");
    } finally {
      x.destroy();
      w.destroy();
    }
  });
  add("error: buffer over the device's limit names the limit", async () => {
    const n = Math.floor(gpu.maxBytes / 4) + 4;
    try {
      new Float32Array(n);
    } catch {
      throw new Skip(`a Float32Array of ${n} elements (over the device limit) cannot be allocated here`);
    }
    await throwsNorm(() => gpu.upload({ shape: [n / 4, 4], data: new Float32Array(n) }), "LIMIT_EXCEEDED", String(gpu.maxBytes));
  });
  add("error: lost device", async () => {
    const g2 = await env.fresh();
    const x = g2.upload({ shape: [2, 4], data: new Float32Array(8) });
    g2.device.destroy();
    await g2.device.lost;
    await throwsNorm(() => g2.layerNorm(x, 4), "DEVICE_LOST");
    await throwsNorm(() => g2.upload({ shape: [1], data: new Float32Array(1) }), "DEVICE_LOST");
  });
  add("error: no adapter", async () => {
    const gpuNone = { requestAdapter: async () => null } as unknown as GPU;
    await throwsNorm(() => createGpuBackend({ gpu: gpuNone }), "BACKEND_UNAVAILABLE", "adapter");
  });

  // -- no GPU buffer leaks over many calls (bookkeeping of the backend's own buffers)
  add(`no buffer leak over ${env.leakCalls ?? 10000} calls`, async () => {
    const calls = env.leakCalls ?? 10000;
    const before = gpu.liveBuffers();
    const D = 20;
    const p = problem(5, 8, D, { w: true, b: true });
    const x = gpu.upload(p.x), dy = gpu.upload(p.dy), w = gpu.upload(p.weight!), b = gpu.upload(p.bias!);
    for (let i = 0; i < calls; i++) {
      switch (i % 5) {
        case 0: gpu.layerNorm(x, D, { weight: w, bias: b }).destroy(); break;
        case 1: { const f = gpu.rmsNormForward(x, D, { weight: w }); f.y.destroy(); f.rstd.destroy(); break; }
        case 2: { const g = gpu.layerNormBackward(dy, x, D, { weight: w, bias: b }); g.dx.destroy(); g.dweight!.destroy(); g.dbias!.destroy(); break; }
        case 3: { const g = gpu.rmsNormBackward(dy, x, D, { weight: w }); g.dx.destroy(); g.dweight!.destroy(); break; }
        case 4: await (i % 20 === 4 ? gpu.cpu.rmsNormBackward(p.dy, p.x, D, { weight: p.weight }) : gpu.cpu.layerNorm(p.x, D, { bias: p.bias })); break;
      }
    }
    for (const t of [x, dy, w, b]) t.destroy();
    if (gpu.liveBuffers() !== before) throw new Error(`live GPU buffers ${before} before, ${gpu.liveBuffers()} after ${calls} calls`);
    check(gpu.errors.length ? `GPU errors: ${gpu.errors.join("; ")}` : null);
  });
  return list;
}

/** Runs the suite; never throws (failures are results). */
export async function runGpuSuite(env: SuiteEnv): Promise<SuiteResult[]> {
  const out: SuiteResult[] = [];
  for (const t of [...tests(env), ...lifecycleTests(env), ...wrapTests(env), ...ops12Tests(env)]) {
    if (env.filter && !t.name.includes(env.filter)) continue;
    const t0 = performance.now();
    try {
      await t.fn();
      out.push({ name: t.name, ok: true, ms: performance.now() - t0 });
    } catch (e) {
      if (e instanceof Skip) {
        out.push({ name: t.name, ok: true, skipped: e.message, ms: performance.now() - t0 });
        continue;
      }
      out.push({ name: t.name, ok: false, message: e instanceof Error ? `${e.message}` : String(e), ms: performance.now() - t0 });
    }
  }
  return out;
}
