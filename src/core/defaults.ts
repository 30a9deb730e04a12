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

/** layerNorm/rmsNorm and their *Forward (sync, pool, gpu.cpu). */
export const ROW_FORWARD_KEYS = Object.freeze(["weight", "bias", "eps", "out"]);
/** layerNormBackward/rmsNormBackward. */
export const ROW_BACKWARD_KEYS = Object.freeze(["weight", "bias", "eps", "mean", "rstd", "out", "into"]);
/** `into` of a backward. */
export const INTO_KEYS = Object.freeze(["dweight", "dbias"]);
/** groupNorm/groupNormBackward. */
export const GROUP_NORM_KEYS = Object.freeze(["weight", "bias", "eps"]);
/** batchNorm/batchNormBackward. */
export const BATCH_NORM_KEYS = Object.freeze(["weight", "bias", "eps", "runningMean", "runningVar", "training", "momentum", "numBatchesTracked"]);
/** new LayerNorm/RMSNorm(shape, options). */
export const ROW_MODULE_KEYS = Object.freeze(["eps", "elementwiseAffine", "bias"]);
/** new GroupNorm(G, C, options). */
export const GROUP_MODULE_KEYS = Object.freeze(["eps", "affine"]);
/** new BatchNorm(C, options). */
export const BATCH_MODULE_KEYS = Object.freeze(["eps", "momentum", "affine", "trackRunningStats"]);
/** LayerNorm/RMSNorm module forward/backward(·, options). */
export const MODULE_CALL_KEYS = Object.freeze(["out"]);
/** createPool(options). */
export const POOL_KEYS = Object.freeze(["threads", "minElements"]);
