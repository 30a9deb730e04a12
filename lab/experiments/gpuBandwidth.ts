/**
 * normkit's WebGPU LayerNorm and RMSNorm kernels timed against a copy of the same bytes on one
 * adapter, for the memory-efficiency claim. Front ends call it with their own GpuBackend (Node:
 * lab/gpu-child.ts on Dawn, in a child process; a browser: on navigator.gpu) and hand the result
 * to the experiment through LabEnvironment.gpuBandwidth. Timing and dispatches as bench/gpu.ts
 * (bench/gpu-timing.ts, bench/gpu-steps.ts): timestamp queries around passes where the device has
 * them (many dispatches per pass where stamps are coarse), else the wall clock of many passes in one
 * submit; the reference is the benchmark's copy kernel over the same bytes.
 */
import { createGpuBackend, type GpuBackend, type GpuStep, type GpuTensor } from "../../src/backends/webgpu/index.js";
import { copyPipeline, copyStep, encodeSteps, rowBackward, rowForward, submitSteps } from "../../bench/gpu-steps.js";
import { timeCopies, timePasses, timestampGridNs } from "../../bench/gpu-timing.js";
import type { GpuBandwidthRequest, GpuBandwidthResult, LabEnvironment } from "../types.js";
import { median } from "./common.js";

/** Software renderers: their numbers are the CPU's, and the report says so. */
export const isSoftwareAdapter = (info: { vendor: string; architecture: string; device: string; description: string }) =>
  /swiftshader|llvmpipe|lavapipe|warp|software/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);

export async function measureGpuBandwidth(gpu: GpuBackend, req: GpuBandwidthRequest): Promise<GpuBandwidthResult> {
  const software = isSoftwareAdapter(gpu.adapterInfo);
  const [R, D] = software ? req.softwareShape : req.shape;
  const n = R * D;
  const grid = await timestampGridNs(gpu);
  // coarse stamps (Dawn's default 65,536 ns grid, browsers' 100 µs): time batches of dispatches
  const perPass = grid === null || grid >= 1000 ? 16 : 1;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.7 + 0.3) * 2;
  const owned: GpuTensor[] = [];
  const up = (shape: number[], d: Float32Array) => {
    const t = gpu.upload({ shape, data: d });
    owned.push(t);
    return t;
  };
  try {
    const x = up([R, D], data);
    const dy = up([R, D], data.map((_, i) => Math.cos(i * 1.3)));
    const w = up([D], new Float32Array(D).map((_, j) => 1 + 0.01 * Math.sin(j)));
    const b = up([D], new Float32Array(D).map((_, j) => 0.01 * Math.cos(j)));
    const dst = up([R, D], new Float32Array(n));
    await timeCopies(gpu, x.buffer, dst.buffer, n * 4, 2);
    const copyBufferMs = median(await timeCopies(gpu, x.buffer, dst.buffer, n * 4, req.reps, perPass));
    const time = async (steps: readonly GpuStep[]) => {
      await timePasses(gpu, encodeSteps(steps), 1);
      return median(await timePasses(gpu, encodeSteps(steps), req.reps, perPass));
    };
    const copyMs = await time([copyStep(gpu.device, copyPipeline(gpu.device), x.buffer, dst.buffer, n * 4)]);
    const ms: GpuBandwidthResult["ms"] = { layerNormForward: 0, rmsNormForward: 0, layerNormBackward: null, rmsNormBackward: null };
    for (const rms of [false, true]) {
      const opts = { weight: w, bias: rms ? null : b };
      const f = rowForward(gpu, rms, x, D, opts);
      owned.push(f.out.y, f.out.rstd, ...(f.out.mean ? [f.out.mean] : []));
      const fwd = await time(f.steps);
      let bwd: number | null = null;
      if (!software) {
        submitSteps(gpu, f.steps);
        const bw = rowBackward(gpu, rms, dy, x, D, { ...opts, mean: f.out.mean ?? undefined, rstd: f.out.rstd });
        owned.push(bw.grads.dx, ...(bw.grads.dweight ? [bw.grads.dweight] : []), ...(bw.grads.dbias ? [bw.grads.dbias] : []), ...bw.temps);
        bwd = await time(bw.steps);
      }
      if (rms) Object.assign(ms, { rmsNormForward: fwd, rmsNormBackward: bwd });
      else Object.assign(ms, { layerNormForward: fwd, layerNormBackward: bwd });
    }
    const info = gpu.adapterInfo;
    const name = `${info.vendor} ${info.architecture} ${info.device}`.replace(/\s+/g, " ").trim();
    return {
      adapter: info.description ? `${name} (${info.description})` : name,
      cpu: software,
      shape: [R, D],
      timing: gpu.hasTimestamps ? `timestamps${perPass > 1 ? `, ${perPass} dispatches per pass (stamps on a ${grid} ns grid)` : ""}` : `wall clock, ${perPass} dispatches per pass`,
      copyMs,
      copyBufferMs,
      ms,
    };
  } finally {
    for (const t of owned) t.destroy();
  }
}

/**
 * A LabEnvironment for a front end that holds a WebGPU `GPU` object itself (a browser's
 * navigator.gpu, in a page or a Web Worker): the measurement runs in place on its adapter.
 */
export function webGpuEnvironment(gpuObject: GPU): LabEnvironment {
  return {
    async gpuBandwidth(req) {
      let backend: GpuBackend;
      try {
        backend = await createGpuBackend({ gpu: gpuObject });
      } catch (e) {
        return { results: [], note: `no WebGPU adapter (${(e as Error).message})` };
      }
      try {
        return { results: [await measureGpuBandwidth(backend, req)] };
      } finally {
        backend.destroy();
      }
    },
  };
}
