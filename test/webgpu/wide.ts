/**
 * The WebGPU suite's wide-row block (issue #9 §1): the accuracy cases of test/fixtures/accuracy.json
 * (rows 1 to 2^20 wide, GroupNorm groups of 10^4 to 10^6 values, many rows for dweight/dbias) on
 * every WGSL kernel variant that can run them, against the float64 reference within 4 × PyTorch's
 * own float32 error (test/accuracy.ts). WGSL has no float64: the kernels sum with compensated
 * (Neumaier) additions per thread and fixed-order trees (src/backends/webgpu/wgsl.ts); these cases
 * fail if a shader compiler reassociates the compensation away (an uncompensated run was measured to
 * miss the tolerances; docs/accuracy.md). Browser-safe: Chromium and Dawn both run it.
 */
import type { GpuBackend, GpuTensor, KernelPlan } from "../../src/webgpu.js";
import { accuracyError, expectedOf, inputsOf, type AccuracyCase, type AccuracyFixture, type Output } from "../accuracy.js";

type Add = (name: string, fn: () => Promise<void>) => void;

/** Forward (statistics kept), then backward from them, on GPU tensors; every output read back. */
export async function runCase(gpu: GpuBackend, c: AccuracyCase, p: ReturnType<typeof inputsOf>, plan?: Partial<KernelPlan>) {
  const held: GpuTensor[] = [];
  const up = (data: Float32Array | null, shape: number[]) => {
    if (data === null) return undefined;
    const t = gpu.upload({ shape, data });
    held.push(t);
    return t;
  };
  try {
    const P = c.op === "groupNorm" ? [p.C] : [p.D];
    const x = up(p.x, c.shape)!, dy = up(p.dy, c.shape)!;
    const opts = { weight: up(p.weight, P), bias: up(p.bias, P), eps: c.eps, plan };
    let f: { y: GpuTensor; mean?: GpuTensor; rstd: GpuTensor };
    let g: { dx: GpuTensor; dweight: GpuTensor | null; dbias: GpuTensor | null };
    if (c.op === "groupNorm") {
      f = gpu.groupNormForward(x, p.G, opts);
      held.push(f.y, f.mean!, f.rstd);
      g = gpu.groupNormBackward(dy, x, p.G, { ...opts, mean: f.mean, rstd: f.rstd });
    } else if (c.op === "layerNorm") {
      f = gpu.layerNormForward(x, p.D, opts);
      held.push(f.y, f.mean!, f.rstd);
      g = gpu.layerNormBackward(dy, x, p.D, { ...opts, mean: f.mean, rstd: f.rstd });
    } else {
      f = gpu.rmsNormForward(x, p.D, opts);
      held.push(f.y, f.rstd);
      g = gpu.rmsNormBackward(dy, x, p.D, { ...opts, rstd: f.rstd });
    }
    held.push(g.dx);
    if (g.dweight) held.push(g.dweight);
    if (g.dbias) held.push(g.dbias);
    const got: Partial<Record<Output, Float32Array>> = { y: (await f.y.read()).data, rstd: (await f.rstd.read()).data, dx: (await g.dx.read()).data };
    if (f.mean) got.mean = (await f.mean.read()).data;
    if (g.dweight) got.dweight = (await g.dweight.read()).data;
    if (g.dbias) got.dbias = (await g.dbias.read()).data;
    return got;
  } finally {
    for (const t of held) t.destroy();
  }
}

/**
 * The cases the suite runs on the GPU, with the variants each also runs beside its default plan.
 * SwiftShader compiles a pipeline per width and plan in about a second and emulates every
 * invocation, so the CPU tests run every case and this block a selection that shares widths
 * (~15 s per driver here): every case of width 1, 3 and 1000; rows of 65539 (scalar loads) with
 * the loop at 4 threads per row (16385 items per thread) and without subgroups; the wide
 * rows; 63 items per thread in registers and "reread" at 1000; many rows with one partial row per
 * team and with the loop that sums dweight/dbias in its partial buffer; groups of 10^4 to 10^6.
 */
const LOOP4: Partial<KernelPlan> = { T: 4, sg: 0, store: "loop" };
const GPU_CASES: Record<string, Partial<KernelPlan>[]> = {
  "ln relu [8, 1000]": [{ T: 4, sg: 0, store: "regs" }],
  "rms heavy [8, 1000]": [{ T: 64, store: "reread" }],
  "ln relu [2, 65539]": [LOOP4, { T: 256, sg: 0, store: "loop" }],
  "ln constant [2, 65539]": [],
  "ln massive [2, 65539]": [],
  "rms constant [2, 65539]": [],
  "rms massive [2, 65539]": [LOOP4],
  "ln relu [4, 262144] (issue)": [],
  "rms constant 0.1 [1, 1000000] (issue)": [],
  "ln relu [8192, 16] many rows": [{ T: 16, wgsum: false }, LOOP4],
  "rms heavy [4096, 32] many rows": [],
  "gn relu [1, 64, 16384] G=1": [],
  "gn massive [2, 8, 12500] G=2": [{ T: 256, sg: 0, store: "loop" }],
  "gn offset [4, 16, 625] G=1": [],
};

export function wideRowTests(gpu: GpuBackend, fixture: AccuracyFixture, add: Add): void {
  for (const c of fixture.cases) {
    const extra = GPU_CASES[c.name] ?? (c.op !== "groupNorm" && c.shape[1]! <= 1000 && c.shape[0]! <= 64 ? [] : null);
    if (extra === null) continue;
    const D = c.op === "groupNorm" ? (c.shape[1]! / c.numGroups!) * c.shape.slice(2).reduce((a, b) => a * b, 1) : c.shape[c.shape.length - 1]!;
    const plans: (Partial<KernelPlan> | undefined)[] = [undefined];
    for (const v of extra) {
      try {
        gpu.plan(D, false, v);
        gpu.plan(D, true, v);
        plans.push(v);
      } catch {
        // a plan that cannot run at this width
      }
    }
    add(`wide rows ${c.name}: ${plans.length} kernel plan(s) within 4 × PyTorch's float32 error`, async () => {
      const p = inputsOf(c);
      const want = expectedOf(c, p);
      const bad: string[] = [];
      for (const plan of plans) {
        const msg = accuracyError(c, await runCase(gpu, c, p, plan), want, `plan ${JSON.stringify(plan ?? "default")}`);
        if (msg !== null) bad.push(msg);
      }
      if (gpu.errors.length) bad.push(`GPU errors: ${gpu.errors.join("; ")}`);
      if (bad.length) throw new Error(bad.join("\n"));
    });
  }
}
