/** The WebGPU backend's public surface (browser-safe: nothing here imports Node modules). */
export {
  createGpuBackend, GpuBackend, GpuTensor,
  type GpuBackendOptions, type GpuNormOptions, type GpuBackwardOptions, type GpuGrads, type GpuStep,
} from "./backend.js";
export type { KernelPlan } from "./wgsl.js";
