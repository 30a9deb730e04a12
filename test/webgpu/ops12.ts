/**
 * The WebGPU suite's issue #12 golden cases: every case of test/fixtures/ops-cases.json (PyTorch;
 * pass rule in test/ops-cases.ts: half outputs within 1 ulp) through `gpu.cpu.*` (CPU tensors of
 * any dtype in and out) and, for a dtype-covering subset, through the GPU-tensor ops with the
 * statistics the forward saved. Browser-safe; run by runGpuSuite in Chromium and on Dawn.
 */
import type { GpuBackend, HalfTensor } from "../../src/backends/webgpu/index.js";
import type { Tensor } from "../../src/index.js";
import { bf16BitsToF32Array, f16BitsToF32Array } from "../../src/dtype.js";
import { decodeIn, outputError, type EncIn, type OpsCase } from "../ops-cases.js";
import { check } from "./gpu-helpers.js";
import type { SuiteEnv, T } from "./suite.js";

type CpuT = Tensor | HalfTensor;

/** A case's input as a CPU tensor of its dtype (null/absent: undefined). */
export function cpuTensor(e: EncIn | null | undefined): CpuT | undefined {
  if (!e) return undefined;
  const d = decodeIn(e);
  return d.dtype === "float32" ? { shape: d.shape, data: d.data as Float32Array } : { shape: d.shape, data: d.data as Uint16Array, dtype: d.dtype };
}

/** The values of a result tensor of any dtype (half: decoded exactly). */
export function valuesOf(t: CpuT): Float32Array {
  if ("dtype" in t && t.dtype === "float16") return f16BitsToF32Array(t.data);
  if ("dtype" in t && t.dtype === "bfloat16") return bf16BitsToF32Array(t.data);
  return t.data as Float32Array;
}

/** Runs one case through gpu.cpu.*: every expected output's values, by name. */
async function runCase(gpu: GpuBackend, c: OpsCase): Promise<Record<string, Float32Array>> {
  const cpu = gpu.cpu;
  const x = cpuTensor(c.x)!, dy = cpuTensor(c.dy)!;
  const common = { weight: cpuTensor(c.weight), bias: cpuTensor(c.bias), eps: c.eps ?? undefined };
  const got: Record<string, Float32Array> = {};
  const grads = (g: { dx: CpuT; dweight: CpuT | null; dbias: CpuT | null; dinputBias?: CpuT | null }) => {
    got.dx = valuesOf(g.dx);
    if (g.dweight) got.dweight = valuesOf(g.dweight);
    if (g.dbias) got.dbias = valuesOf(g.dbias);
    if (g.dinputBias) got.dinputBias = valuesOf(g.dinputBias);
  };
  switch (c.op) {
    case "layerNorm":
    case "rmsNorm": {
      const o = { ...common, weightOffset: c.weightOffset, castingMode: c.castingMode };
      const rms = c.op === "rmsNorm";
      const f = rms ? await cpu.rmsNormForward(x, c.normalizedShape!, o) : await cpu.layerNormForward(x, c.normalizedShape!, o);
      got.y = valuesOf(f.y);
      // backward from the saved statistics (as autograd), rstd of x's leading dims
      const saved = rms ? { rstd: f.rstd } : { mean: (f as unknown as { mean: Tensor }).mean, rstd: f.rstd };
      grads(await (rms ? cpu.rmsNormBackward : cpu.layerNormBackward)(dy, x, c.normalizedShape!, { ...o, ...saved } as never));
      break;
    }
    case "addLayerNorm":
    case "addRmsNorm": {
      const rms = c.op === "addRmsNorm";
      const o = { ...common, weightOffset: c.weightOffset, castingMode: c.castingMode, inputBias: cpuTensor(c.inputBias) };
      const f = await (rms ? cpu.addRmsNorm : cpu.addLayerNorm)(x, cpuTensor(c.residual)!, c.normalizedShape!, o);
      got.y = valuesOf(f.y!);
      got.h = valuesOf(f.h!);
      const saved = rms ? { rstd: f.rstd } : { mean: f.mean, rstd: f.rstd };
      grads(await (rms ? cpu.addRmsNormBackward : cpu.addLayerNormBackward)(dy, f.h!, c.normalizedShape!, { ...o, ...saved, dh: cpuTensor(c.dh) }) as never);
      break;
    }
    case "groupNorm": {
      const o = { ...common, channelsLast: c.channelsLast, activation: c.activation };
      const f = await cpu.groupNormForward(x, c.numGroups!, o);
      got.y = valuesOf(f.y);
      grads(await cpu.groupNormBackward(dy, x, c.numGroups!, { ...o, mean: f.mean as never, rstd: f.rstd as never }) as never);
      break;
    }
    case "batchNorm":
    case "instanceNorm": {
      // the running statistics are updated in place; the backward gets them as they were before
      const rm = cpuTensor(c.runningMean), rv = cpuTensor(c.runningVar);
      const o = { ...common, momentum: c.momentum, numBatchesTracked: c.numBatchesTracked, ...(c.op === "batchNorm" ? { training: c.training } : { useInputStats: c.useInputStats }) };
      const f = c.op === "batchNorm" ? cpu.batchNorm : cpu.instanceNorm;
      const b = c.op === "batchNorm" ? cpu.batchNormBackward : cpu.instanceNormBackward;
      got.y = valuesOf(await f(x, { ...o, runningMean: rm, runningVar: rv }));
      if (rm) got.runningMean = valuesOf(rm);
      if (rv) got.runningVar = valuesOf(rv);
      grads(await b(dy, x, { ...o, runningMean: cpuTensor(c.runningMean), runningVar: cpuTensor(c.runningVar) }) as never);
      break;
    }
  }
  return got;
}

export function ops12GoldenTests(env: SuiteEnv): T[] {
  const { gpu } = env;
  const list: T[] = [];
  for (const c of env.opsCases ?? []) {
    list.push({
      name: `golden #12 ${c.op} ${c.name}`,
      fn: async () => {
        const got = await runCase(gpu, c);
        for (const k of Object.keys(c.expected)) {
          if (!got[k]) throw new Error(`${c.name}: ${k} missing from the result`);
          check(outputError(c, k, got[k]!));
        }
        for (const k of Object.keys(got)) if (!(k in c.expected)) throw new Error(`${c.name}: unexpected output ${k}`);
        check(gpu.errors.length ? `GPU errors: ${gpu.errors.join("; ")}` : null);
      },
    });
  }
  return list;
}
