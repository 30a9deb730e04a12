/**
 * normkit — normalization layers for JavaScript runtimes, forward and backward, with the semantics
 * of PyTorch. Functional ops (layerNorm, rmsNorm, batchNorm, groupNorm and their *Backward), modules
 * for training (LayerNorm, RMSNorm, BatchNorm, GroupNorm), and a float64 reference.
 */
export { NormError, type NormErrorCode } from "./errors.js";
export { tensor, numel, type Tensor, type HalfTensor, type AnyTensor, type Like } from "./core/tensor.js";
export type {
  NormOptions, ForwardOptions, BackwardOptions, RowModeOptions, NormalizedShape, Grads, CastingMode, GroupNormOptions, GroupNormBackwardOptions, InstanceNormOptions,
} from "./core/index.js";
export { cast } from "./ops/cast.js";
export { layerNorm, layerNormForward, layerNormBackward, LAYER_NORM_EPS, type AnyGrads } from "./ops/layerNorm.js";
export { rmsNorm, rmsNormForward, rmsNormBackward, RMS_NORM_EPS } from "./ops/rmsNorm.js";
export {
  addLayerNorm, addRmsNorm, addLayerNormBackward, addRmsNormBackward, type AddNormOptions, type AddNormBackwardOptions, type AddNormGrads,
} from "./ops/addNorm.js";
export { batchNorm, batchNormBackward, BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, type BatchNormOptions } from "./ops/batchNorm.js";
export { groupNorm, groupNormForward, groupNormBackward, GROUP_NORM_EPS } from "./ops/groupNorm.js";
export { instanceNorm, instanceNormBackward, INSTANCE_NORM_EPS, INSTANCE_NORM_MOMENTUM } from "./ops/instanceNorm.js";
// registers the WebAssembly backend as the default where it can be instantiated (falls back to js)
import "./backends/wasm/index.js";

export { setBackend, getBackend, listBackends, type BackendName } from "./backends/registry.js";
export type {
  Kernels, Stored, RowJob, RowBackwardJob, GroupJob, GroupBackwardJob, ChannelJob, ChannelBackwardJob,
} from "./backends/types.js";
export { createPool, sharedTensor, type Pool, type PoolOptions } from "./pool/index.js";
// The WebGPU backend is the entry "normkit/webgpu" (src/webgpu.ts): its types need @webgpu/types.
export {
  LayerNorm, RMSNorm, BatchNorm, GroupNorm, InstanceNorm, NormModule,
  type Parameter, type StateDict, type StateValue, type RowNormModuleOptions, type ModuleCallOptions, type ChannelModuleOptions, type BatchNormModuleOptions,
  type GroupNormModuleOptions, type InstanceNormModuleOptions,
} from "./nn/index.js";
export * as reference from "./reference/index.js";
export { f32ToF16Bits, f16BitsToF32, f32ToBf16Bits, bf16BitsToF32, f32ToF16BitsArray, f16BitsToF32Array, f32ToBf16BitsArray, bf16BitsToF32Array, f64ToF16Bits, f64ToBf16Bits, roundToDType, type DType, type HalfDType } from "./dtype.js";
