/// <reference types="@webgpu/types" />
/** The WebGPU backend's option and result types. */
import type { GpuTensor } from "./tensor.js";
import type { KernelPlan } from "./wgsl.js";

export interface GpuBackendOptions {
  /** A device to run on (Node: from Dawn; browsers: your own). Omitted: one is requested from `gpu`. */
  device?: GPUDevice;
  /** Where to find an adapter when no device is given; defaults to navigator.gpu. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Use subgroup reductions when the device supports them (default true). */
  subgroups?: boolean;
}

/** Options of the GPU ops: weight/bias are GpuTensors; `plan` forces a kernel variant (benchmarks). */
export interface GpuNormOptions {
  weight?: GpuTensor | null;
  bias?: GpuTensor | null;
  eps?: number;
  plan?: Partial<KernelPlan>;
}

export interface GpuBackwardOptions extends GpuNormOptions {
  /** Statistics saved by the forward (skips recomputing them). */
  mean?: GpuTensor;
  rstd?: GpuTensor;
  /**
   * Accumulate parameter gradients into these (+=) instead of returning fresh ones. Each must share
   * its GPUBuffer with no input and not with the other (NormError otherwise).
   */
  into?: { dweight?: GpuTensor | null; dbias?: GpuTensor | null };
}

export interface GpuGrads {
  dx: GpuTensor;
  dweight: GpuTensor | null;
  dbias: GpuTensor | null;
}

/** Options of `gpu.wrap`. */
export interface GpuWrapOptions {
  /** Where the tensor starts in the buffer: a multiple of the device's minStorageBufferOffsetAlignment (256 by default). */
  byteOffset?: number;
}
