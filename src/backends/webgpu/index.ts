/** The WebGPU backend's public surface (browser-safe: nothing here imports Node modules). */
export { createGpuBackend, GpuBackend } from "./backend.js";
export { GpuTensor } from "./tensor.js";
export type { GpuCpuOps } from "./cpu.js";
export type { CpuGrads, CpuGradsOf, CpuOut, CpuRowOptions, CpuRowBackwardOptions, CpuGroupOptions } from "./cpu.js";
export type { CpuResult } from "./ext-cpu.js";
export type {
  GpuBackendOptions, GpuBackwardOptions, GpuGrads, GpuNormOptions, GpuWrapOptions, AnyGpuTensor, HalfTensor, TensorOf,
  GpuRowNormOptions, GpuRowBackwardOptions, GpuAddNormOptions, GpuAddNormBackwardOptions, GpuAddGrads, GpuGroupNormOptions,
  GpuGroupNormBackwardOptions, GpuBatchNormOptions, GpuBatchNormBackwardOptions, GpuInstanceNormOptions, GpuInstanceNormBackwardOptions,
} from "./types.js";
export type { GpuStep } from "./context.js";
export type { KernelPlan } from "./wgsl.js";
export type { ExtPlan } from "./ext-plan.js";
