/// <reference types="@webgpu/types" />
/** The WebGPU backend's option and result types. */
import type { CastingMode, HalfTensor as CoreHalfTensor, Tensor } from "../../core/index.js";
import type { DType, HalfDType } from "../../dtype.js";
import type { ExtPlan } from "./ext-plan.js";
import type { GpuTensor } from "./tensor.js";
import type { KernelPlan } from "./wgsl.js";

/**
 * The core's HalfTensor (float16/bfloat16 bit patterns: what `read()` returns for a half GPU
 * tensor, and what `upload` takes besides float32 tensors), its dtype narrowed to D.
 */
export type HalfTensor<D extends HalfDType = HalfDType> = CoreHalfTensor & { readonly dtype: D };

/** The CPU tensor `read()` gives for a GPU tensor of dtype D. */
export type TensorOf<D extends DType> = D extends "float32" ? Tensor : D extends HalfDType ? HalfTensor<D> : never;

/** A GPU tensor of any dtype. */
export type AnyGpuTensor = GpuTensor<DType>;

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

export interface GpuGrads<D extends DType = "float32"> {
  dx: GpuTensor<D>;
  dweight: GpuTensor<D> | null;
  dbias: GpuTensor<D> | null;
}

/** Options of `gpu.wrap`. */
export interface GpuWrapOptions {
  /** Where the tensor starts in the buffer: a multiple of the device's minStorageBufferOffsetAlignment (256 by default). */
  byteOffset?: number;
  /** The elements' dtype (default "float32"); half tensors take 2 bytes per element. */
  dtype?: DType;
}

// ---------------------------------------------------------------- issue #12 options (any dtype)

/** Options of the #12 forms of LayerNorm/RMSNorm (any dtypes, weightOffset, castingMode). */
export interface GpuRowNormOptions {
  weight?: AnyGpuTensor | null;
  bias?: AnyGpuTensor | null;
  eps?: number;
  /** y = x̂·(weightOffset + w) + b (Gemma: 1); ignored without a weight. Default 0. */
  weightOffset?: number;
  /** Rounding of half x's intermediate values: "gemma" (default), "llama", "none" (docs/ops-semantics.md). */
  castingMode?: CastingMode;
  plan?: Partial<ExtPlan>;
}

export interface GpuRowBackwardOptions extends GpuRowNormOptions {
  mean?: GpuTensor | null;
  rstd?: GpuTensor | null;
  into?: { dweight?: AnyGpuTensor | null; dbias?: AnyGpuTensor | null } | null;
}

/** addLayerNorm/addRmsNorm: h = (x + residual) + inputBias, rounded to x's dtype; y = norm(h). */
export interface GpuAddNormOptions extends GpuRowNormOptions {
  /** ONNX SkipLayerNormalization's bias input, shape normalizedShape. */
  inputBias?: AnyGpuTensor | null;
  /** Where h goes: `residual` itself (in place, as FlashInfer's fused_add_rmsnorm), or a tensor of x's shape and dtype. */
  residualOut?: AnyGpuTensor | null;
}

export interface GpuAddNormBackwardOptions extends GpuRowBackwardOptions {
  inputBias?: AnyGpuTensor | null;
  /** The gradient arriving on h from its other uses (the residual stream), added to dx. */
  dh?: AnyGpuTensor | null;
  into?: { dweight?: AnyGpuTensor | null; dbias?: AnyGpuTensor | null; dinputBias?: AnyGpuTensor | null } | null;
}

export interface GpuAddGrads<D extends DType = DType> extends GpuGrads<D> {
  /** Σ over rows of dx, where inputBias was given (its dtype), else null. */
  dinputBias: GpuTensor<D> | null;
}

/** GroupNorm with any dtypes, channels-last layout and a fused SiLU. */
export interface GpuGroupNormOptions {
  weight?: AnyGpuTensor | null;
  bias?: AnyGpuTensor | null;
  eps?: number;
  /** x is [N, *spatial, C] (group g = channels [g·C/G, (g+1)·C/G) at every position). */
  channelsLast?: boolean;
  /** "silu": out = y·σ(y) of the normalized, affine y (ONNX Runtime's GroupNorm, activation 1). */
  activation?: "silu" | null;
  plan?: Partial<ExtPlan>;
}

export interface GpuGroupNormBackwardOptions extends GpuGroupNormOptions {
  mean?: GpuTensor | null;
  rstd?: GpuTensor | null;
  into?: { dweight?: AnyGpuTensor | null; dbias?: AnyGpuTensor | null } | null;
}

/** BatchNorm on GPU tensors; runningMean/runningVar (float32, [C]) are updated in place in training. */
export interface GpuBatchNormOptions {
  weight?: AnyGpuTensor | null;
  bias?: AnyGpuTensor | null;
  eps?: number;
  runningMean?: GpuTensor | null;
  runningVar?: GpuTensor | null;
  training?: boolean;
  /** Default 0.1; null: cumulative average, factor 1/(numBatchesTracked + 1). */
  momentum?: number | null;
  numBatchesTracked?: number;
  plan?: Partial<ExtPlan>;
}

export interface GpuBatchNormBackwardOptions extends Omit<GpuBatchNormOptions, "momentum" | "numBatchesTracked"> {
  momentum?: number | null;
  numBatchesTracked?: number;
  into?: { dweight?: AnyGpuTensor | null; dbias?: AnyGpuTensor | null } | null;
}

/** InstanceNorm (F.instance_norm) on GPU tensors; running statistics updated in place when useInputStats. */
export interface GpuInstanceNormOptions {
  weight?: AnyGpuTensor | null;
  bias?: AnyGpuTensor | null;
  eps?: number;
  runningMean?: GpuTensor | null;
  runningVar?: GpuTensor | null;
  /** Default true: normalize with each instance's statistics; false: with the running ones. */
  useInputStats?: boolean;
  momentum?: number | null;
  numBatchesTracked?: number;
  plan?: Partial<ExtPlan>;
}

export interface GpuInstanceNormBackwardOptions extends GpuInstanceNormOptions {
  into?: { dweight?: AnyGpuTensor | null; dbias?: AnyGpuTensor | null } | null;
}
