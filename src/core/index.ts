/**
 * The validation core: every argument check of every public entry point (sync ops, pool,
 * modules, the WebGPU backend) lives under src/core, one job per file:
 * - tensor.ts: tensor-likes, typed arrays (the subclass/proxy policy), shapes of tensors
 * - options.ts, suggest.ts: options objects (own properties, unknown keys, typed values)
 * - shapes.ts: normalizedShape, parameters, dy against x
 * - aliasing.ts: written arrays never overlap read ones
 * - grads.ts: saved statistics, `into` gradients, result tensors
 * - rowArgs.ts, channelArgs.ts: the arguments of LayerNorm/RMSNorm and BatchNorm/GroupNorm
 * - resident.ts: views of normkit's WebAssembly memory (resident tensors): identity, liveness
 * - modules.ts: module constructors and state dicts; defaults.ts: PyTorch's defaults, option keys
 */
export * from "./defaults.js";
export * from "./tensor.js";
export * from "./options.js";
export * from "./shapes.js";
export * from "./aliasing.js";
export * from "./grads.js";
export * from "./rowArgs.js";
export * from "./channelArgs.js";
export * from "./modules.js";
export * from "./resident.js";
export { closest, didYouMean } from "./suggest.js";
