/** PyTorch's defaults, and the option keys each public entry point accepts. */

/** F.layer_norm / nn.LayerNorm */
export const LAYER_NORM_EPS = 1e-5;
/** F.rms_norm with eps=None: float32 machine epsilon */
export const RMS_NORM_EPS = 2 ** -23;
/** F.group_norm / nn.GroupNorm */
export const GROUP_NORM_EPS = 1e-5;
/** F.batch_norm / nn.BatchNorm* */
export const BATCH_NORM_EPS = 1e-5;
export const BATCH_NORM_MOMENTUM = 0.1;

/** F.instance_norm / nn.InstanceNorm* */
export const INSTANCE_NORM_EPS = 1e-5;
export const INSTANCE_NORM_MOMENTUM = 0.1;

/** Issue #12's options of the row norms: Gemma's (offset + w) and Liger's casting modes. */
export const ROW_MODE_KEYS = Object.freeze(["weightOffset", "castingMode"]);
/** layerNorm/rmsNorm and their *Forward (sync, pool, gpu.cpu). */
export const ROW_FORWARD_KEYS = Object.freeze(["weight", "bias", "eps", "out", ...ROW_MODE_KEYS]);
/** layerNormBackward/rmsNormBackward. */
export const ROW_BACKWARD_KEYS = Object.freeze(["weight", "bias", "eps", "mean", "rstd", "out", "into", ...ROW_MODE_KEYS]);
/** addLayerNorm/addRmsNorm. */
export const ADD_FORWARD_KEYS = Object.freeze([...ROW_FORWARD_KEYS, "inputBias", "residualOut"]);
/** addLayerNormBackward/addRmsNormBackward. */
export const ADD_BACKWARD_KEYS = Object.freeze([...ROW_BACKWARD_KEYS, "inputBias", "dh"]);
/** `into` of a backward. */
export const INTO_KEYS = Object.freeze(["dweight", "dbias"]);
/** `into` of an add backward. */
export const ADD_INTO_KEYS = Object.freeze(["dweight", "dbias", "dinputBias"]);
/** Issue #12's options of GroupNorm: channels-last layout, fused SiLU. */
export const GROUP_MODE_KEYS = Object.freeze(["channelsLast", "activation"]);
/** groupNorm/groupNormForward. */
export const GROUP_NORM_KEYS = Object.freeze(["weight", "bias", "eps", ...GROUP_MODE_KEYS]);
/** groupNormBackward: also the statistics groupNormForward returned. */
export const GROUP_BACKWARD_KEYS = Object.freeze([...GROUP_NORM_KEYS, "mean", "rstd"]);
/** batchNorm/batchNormBackward. */
export const BATCH_NORM_KEYS = Object.freeze(["weight", "bias", "eps", "runningMean", "runningVar", "training", "momentum", "numBatchesTracked"]);
/** instanceNorm/instanceNormBackward. */
export const INSTANCE_NORM_KEYS = Object.freeze(["weight", "bias", "eps", "runningMean", "runningVar", "useInputStats", "momentum", "numBatchesTracked"]);
/** new LayerNorm/RMSNorm(shape, options). */
export const ROW_MODULE_KEYS = Object.freeze(["eps", "elementwiseAffine", "bias", ...ROW_MODE_KEYS]);
/** new GroupNorm(G, C, options). */
export const GROUP_MODULE_KEYS = Object.freeze(["eps", "affine", ...GROUP_MODE_KEYS]);
/** new InstanceNorm(C, options). */
export const INSTANCE_MODULE_KEYS = Object.freeze(["eps", "momentum", "affine", "trackRunningStats"]);
/** new BatchNorm(C, options). */
export const BATCH_MODULE_KEYS = Object.freeze(["eps", "momentum", "affine", "trackRunningStats"]);
/** LayerNorm/RMSNorm module forward/backward(·, options). */
export const MODULE_CALL_KEYS = Object.freeze(["out"]);
/** createPool(options). */
export const POOL_KEYS = Object.freeze(["threads", "minElements"]);
