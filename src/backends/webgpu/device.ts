/// <reference types="@webgpu/types" />
/**
 * Opening a device for the WebGPU backend: the adapter's largest buffer and workgroup-memory
 * limits, the subgroups and timestamp features when present, and a probe that checks, on the
 * device, that subgroups are what the kernels assume before reductions use them.
 */
import { NormError, describe } from "../../errors.js";
import { checkOptions } from "../../core/index.js";
import { COPY_DST, COPY_SRC, MAP_READ, STORAGE } from "./context.js";
import type { GpuBackendOptions } from "./types.js";
import { SUBGROUP_PROBE, WORKGROUP } from "./wgsl.js";

const OPTION_KEYS = ["device", "gpu", "powerPreference", "subgroups"];

/** Checks, on the device, that subgroups are aligned runs of `size` invocations (what the kernels assume). */
async function probeSubgroups(device: GPUDevice): Promise<number> {
  const module = device.createShaderModule({ code: SUBGROUP_PROBE });
  const p = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const bytes = WORKGROUP * 8;
  const out = device.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC });
  const st = device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
  try {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(p);
    pass.setBindGroup(0, device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] }));
    pass.dispatchWorkgroups(1);
    pass.end();
    enc.copyBufferToBuffer(out, 0, st, 0, bytes);
    device.queue.submit([enc.finish()]);
    await st.mapAsync(MAP_READ);
    const o = new Uint32Array(st.getMappedRange().slice(0));
    st.unmap();
    const size = o[1]!;
    if (!(size >= 4 && size <= WORKGROUP && Number.isInteger(Math.log2(size)))) return 0;
    for (let i = 0; i < WORKGROUP; i++) if (o[2 * i] !== i - (i % size) || o[2 * i + 1] !== size) return 0;
    return size;
  } finally {
    out.destroy();
    st.destroy();
  }
}

/** Reads a backend's options: only `keys` (createGpuBackend's by default), `subgroups` a boolean, `powerPreference` WebGPU's. */
export function backendOptions<O extends object = GpuBackendOptions>(options: unknown, keys: readonly string[] = OPTION_KEYS): Partial<O> {
  const o = checkOptions<GpuBackendOptions>(options, "options", keys);
  if (o.subgroups !== undefined && typeof o.subgroups !== "boolean") {
    throw new NormError("BAD_ARGUMENT", "options.subgroups", `expected a boolean, got ${describe(o.subgroups)}`);
  }
  if (o.powerPreference !== undefined && o.powerPreference !== "low-power" && o.powerPreference !== "high-performance") {
    throw new NormError("BAD_ARGUMENT", "options.powerPreference", `expected "low-power" or "high-performance", got ${describe(o.powerPreference)}`);
  }
  return o as Partial<O>;
}

/** The device (given, or requested from `gpu`/navigator.gpu), its adapter's description and usable subgroup size. */
export async function openDevice(options: GpuBackendOptions | undefined) {
  const o = backendOptions(options);
  let device = o.device;
  let info: GPUAdapterInfo | undefined;
  const owns = device === undefined;
  if (device === undefined) {
    const gpu = o.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (gpu === undefined) {
      throw new NormError(
        "BACKEND_UNAVAILABLE",
        "gpu",
        "WebGPU is not available here (no navigator.gpu); in Node use createNodeGpu() from \"normkit/webgpu-node\" or pass { device }",
      );
    }
    const adapter = await gpu.requestAdapter({ powerPreference: o.powerPreference });
    if (adapter === null) {
      throw new NormError("BACKEND_UNAVAILABLE", "gpu", "no WebGPU adapter found (no usable GPU or software renderer)");
    }
    info = adapter.info;
    // shader-f16: float16 tensors bound as f16 arrays (the #12 kernels; without it, u32 words)
    const want = (["subgroups", "timestamp-query", "shader-f16"] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
    // the largest buffers the adapter allows, not the 128/256 MiB defaults
    const requiredLimits = {
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      // more workgroup memory lets backward sum its partials per workgroup at wider rows (plan.ts)
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      // the fused add + LayerNorm binds 9 buffers (the default limit is 8; with 8 it runs in two passes)
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    };
    device = await adapter.requestDevice({ requiredFeatures: want, requiredLimits });
  } else {
    info = device.adapterInfo;
  }
  let sg = 0;
  const fixedSize = info === undefined || info.subgroupMinSize === undefined || info.subgroupMinSize === info.subgroupMaxSize;
  if (o.subgroups !== false && device.features.has("subgroups") && fixedSize) sg = await probeSubgroups(device);
  const adapterInfo = { vendor: info?.vendor ?? "", architecture: info?.architecture ?? "", device: info?.device ?? "", description: info?.description ?? "" };
  return { device, subgroupSize: sg, adapterInfo, owns };
}
