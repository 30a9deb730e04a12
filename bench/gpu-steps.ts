/// <reference types="@webgpu/types" />
/**
 * Benchmark-only access to the WebGPU backend's dispatches: the steps an op would submit, built
 * exactly as the op builds them (same validation, same error scopes, same plan resolution) but
 * not submitted, so that bench/gpu.ts can replay them inside timestamped passes; and the copy
 * kernel that gives the same run's bandwidth limit. Not part of the library.
 */
import type { GpuBackend, GpuBackwardOptions, GpuNormOptions, GpuStep, GpuTensor } from "../src/webgpu-node.js";
import { contextOf } from "../src/backends/webgpu/backend.js";
import { groupBackwardSteps, groupForwardSteps } from "../src/backends/webgpu/group-steps.js";
import { backwardSteps, forwardSteps } from "../src/backends/webgpu/row-steps.js";

/** Copy kernel for the bandwidth limit (vec4 per invocation, grid-stride in 2D). */
export const COPY_WGSL = `
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.y * nwg.x * 256u + g.x;
  if (i < arrayLength(&src)) { dst[i] = src[i]; }
}
`;

/** LayerNorm/RMSNorm forward steps and outputs (not submitted). */
export function rowForward(gpu: GpuBackend, rms: boolean, x: GpuTensor, D: number, options?: GpuNormOptions) {
  return contextOf(gpu).call("bench forward", (c) => forwardSteps(c, rms, x, D, options));
}

/** LayerNorm/RMSNorm backward steps, outputs and temporaries (not submitted). */
export function rowBackward(gpu: GpuBackend, rms: boolean, dy: GpuTensor, x: GpuTensor, D: number, options?: GpuBackwardOptions) {
  return contextOf(gpu).call("bench backward", (c) => backwardSteps(c, rms, dy, x, D, options));
}

/** GroupNorm forward steps and outputs (not submitted). */
export function groupForward(gpu: GpuBackend, x: GpuTensor, G: number, options?: GpuNormOptions) {
  return contextOf(gpu).call("bench groupNorm forward", (c) => groupForwardSteps(c, x, G, options));
}

/** GroupNorm backward steps, outputs and temporaries (not submitted). */
export function groupBackward(gpu: GpuBackend, dy: GpuTensor, x: GpuTensor, G: number, options?: GpuBackwardOptions) {
  return contextOf(gpu).call("bench groupNorm backward", (c) => groupBackwardSteps(c, dy, x, G, options));
}

/** Submits steps once, as the ops do. */
export function submitSteps(gpu: GpuBackend, steps: readonly GpuStep[]): void {
  contextOf(gpu).submit(steps);
}

/** Records steps into a compute pass (for timePasses). */
export const encodeSteps = (steps: readonly GpuStep[]) => (p: GPUComputePassEncoder) => {
  for (const s of steps) {
    p.setPipeline(s.pipeline);
    p.setBindGroup(0, s.bindGroup);
    p.dispatchWorkgroups(s.groups[0], s.groups[1]);
  }
};

/** The copy kernel's pipeline on a device. */
export function copyPipeline(device: GPUDevice): GPUComputePipeline {
  const module = device.createShaderModule({ code: COPY_WGSL });
  return device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
}

/** One copy-kernel dispatch from src to dst (bytes a multiple of 16). */
export function copyStep(device: GPUDevice, pipeline: GPUComputePipeline, src: GPUBuffer, dst: GPUBuffer, bytes: number): GpuStep {
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: src, size: bytes } }, { binding: 1, resource: { buffer: dst, size: bytes } }],
  });
  const groups = Math.ceil(bytes / 16 / 256);
  const gx = Math.min(groups, device.limits.maxComputeWorkgroupsPerDimension);
  return { pipeline, bindGroup, groups: [gx, Math.ceil(groups / gx)] };
}
