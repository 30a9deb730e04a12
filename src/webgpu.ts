/**
 * The WebGPU backend ("normkit/webgpu"): GPU tensors and the normalization ops on a GPUDevice, in
 * browsers (navigator.gpu) or on any WebGPU implementation passed as `gpu`. Node users with Dawn
 * import "normkit/webgpu-node" instead, which re-exports all of this.
 *
 * Its own entry because its types name WebGPU's globals (GPUDevice, GPUBuffer, …), which a TypeScript
 * consumer gets from `@webgpu/types` (TypeScript 5.x) or from lib.dom (TypeScript 7, where adding
 * @webgpu/types too conflicts: so no `/// <reference types>` here). The main entry's types need
 * none of them (test/package type-checks both entries on TypeScript 5.0, 5.4, 5.9 and 7).
 */
export * from "./backends/webgpu/index.js";
