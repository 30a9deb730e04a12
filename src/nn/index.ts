/**
 * Modules for training: LayerNorm, RMSNorm, BatchNorm, GroupNorm, InstanceNorm. Each holds its parameters and
 * their gradients; `forward(x)` keeps a copy of x and the statistics it computed (mean, rstd), and
 * `backward(dy)` reuses them rather than recomputing, accumulating (+=) into the parameter gradients.
 */
export { NormModule, type Parameter, type StateDict, type StateValue } from "./module.js";
export { LayerNorm, RMSNorm, type ModuleCallOptions, type RowNormModuleOptions } from "./rowNorm.js";
export { GroupNorm, BatchNorm, type ChannelModuleOptions, type GroupNormModuleOptions, type BatchNormModuleOptions } from "./channel.js";
export { InstanceNorm, type InstanceNormModuleOptions } from "./instanceNorm.js";
