/** The WebGPU backend's public surface (browser-safe: nothing here imports Node modules). */
export { createGpuBackend, GpuBackend } from "./backend.js";
export { GpuTensor } from "./tensor.js";
export type { GpuCpuOps } from "./cpu.js";
export type { GpuBackendOptions, GpuBackwardOptions, GpuGrads, GpuNormOptions, GpuWrapOptions } from "./types.js";
export type { GpuStep } from "./context.js";
export type { KernelPlan } from "./wgsl.js";
