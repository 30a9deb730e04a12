/// <reference types="@webgpu/types" />
/**
 * `gpu.wrap(buffer, shape, { byteOffset })`: a caller's GPUBuffer as a GpuTensor, without a copy,
 * so that normkit runs inside another WebGPU engine's pipeline (its activations in, its gradient
 * accumulators as `into`).
 *
 * Ownership: the caller's. normkit never destroys a wrapped buffer; the tensor's `destroy()` and
 * `gpu.destroy()` only detach it, and `liveBuffers()` does not count it. The caller must keep it
 * alive and unmapped while normkit's work on it is in flight, and may not write it from its own
 * passes while normkit reads it (queue order decides, as between any two WebGPU users).
 *
 * Checked here, synchronously: a GPUBuffer (not a normkit tensor's own buffer), STORAGE usage,
 * the offset aligned to minStorageBufferOffsetAlignment, the data inside the buffer, the binding
 * size limit, unmapped. Checked by the device (an error scope around a probe bind group): that the
 * buffer belongs to this backend's device; a buffer of another device makes the tensor fail as
 * any failed call does (`ready()`/`read()` reject, later ops throw).
 */
import { NormError, describe } from "../../errors.js";
import { checkDType, checkOptions, checkShape, numel, shapeStr } from "../../core/index.js";
import { STORAGE, type Call } from "./context.js";
import { bytesOf, makeTensor, stateOf } from "./tensor.js";
import type { AnyGpuTensor } from "./types.js";
import type { GpuWrapOptions } from "./types.js";

const COMPUTE_STAGE = 4; // GPUShaderStage.COMPUTE
const probeLayouts = new WeakMap<GPUDevice, GPUBindGroupLayout>();

const isBufferLike = (b: unknown): b is GPUBuffer =>
  typeof b === "object" && b !== null &&
  typeof (b as GPUBuffer).usage === "number" && typeof (b as GPUBuffer).size === "number" &&
  typeof (b as GPUBuffer).mapState === "string" && typeof (b as GPUBuffer).destroy === "function";

export function wrapBuffer(c: Call, buffer: unknown, shape: unknown, options?: unknown): AnyGpuTensor {
  const ctx = c.ctx;
  ctx.alive();
  const Ctor = (globalThis as { GPUBuffer?: abstract new () => GPUBuffer }).GPUBuffer;
  if (!isBufferLike(buffer) || (typeof Ctor === "function" && !(buffer instanceof Ctor))) {
    throw new NormError("BAD_ARGUMENT", "buffer", `expected a GPUBuffer, got ${describe(buffer)}`);
  }
  // a copy first: the checks and the tensor see the same dims whatever the caller does later
  const dims = checkShape(Array.isArray(shape) ? [...(shape as unknown[])] : shape, "shape");
  const o = checkOptions<GpuWrapOptions>(options, "options", ["byteOffset", "dtype"]);
  const dtype = o.dtype === undefined ? "float32" : checkDType(o.dtype, "options.dtype");
  const align = ctx.device.limits.minStorageBufferOffsetAlignment;
  const off = o.byteOffset ?? 0;
  if (typeof off !== "number" || !Number.isInteger(off) || off < 0 || off % align !== 0) {
    throw new NormError("BAD_ARGUMENT", "options.byteOffset", `expected a non-negative multiple of ${align} (this device's minStorageBufferOffsetAlignment), got ${describe(off)}`);
  }
  // kernels and copies move whole 32-bit words: a half tensor of odd size needs its last word in the buffer
  const bytes = Math.ceil(bytesOf(numel(dims), dtype) / 4) * 4;
  if (!(buffer.usage & STORAGE)) {
    throw new NormError("BAD_ARGUMENT", "buffer", `expected a GPUBuffer with STORAGE usage (GPUBufferUsage.STORAGE = 0x80), got usage 0x${buffer.usage.toString(16)}`);
  }
  if (off + bytes > buffer.size) {
    throw new NormError("BAD_ARGUMENT", "buffer", `shape ${shapeStr(dims)} needs ${bytes} bytes from byteOffset ${off}, but the buffer has ${buffer.size} bytes`);
  }
  if (bytes > ctx.maxBytes) {
    throw new NormError("LIMIT_EXCEEDED", "shape", `shape ${shapeStr(dims)} needs ${bytes} bytes but this GPU device binds at most ${ctx.maxBytes} bytes`);
  }
  if (ctx.live.has(buffer)) {
    throw new NormError("BAD_ARGUMENT", "buffer", "expected a caller's GPUBuffer, got the buffer of a normkit tensor (use that tensor: wrapping it would outlive its destroy())");
  }
  if (buffer.mapState !== "unmapped") {
    throw new NormError("BAD_ARGUMENT", "buffer", `expected an unmapped GPUBuffer, got one that is ${buffer.mapState}`);
  }
  if (off < buffer.size) {
    let layout = probeLayouts.get(ctx.device);
    if (layout === undefined) {
      layout = ctx.device.createBindGroupLayout({ entries: [{ binding: 0, visibility: COMPUTE_STAGE, buffer: { type: "storage" } }] });
      probeLayouts.set(ctx.device, layout);
    }
    try {
      // a buffer of another device makes this a validation error, reported to the call's scope
      ctx.device.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer, offset: off } }] });
    } catch (e) {
      throw new NormError("BAD_ARGUMENT", "buffer", `expected a GPUBuffer of this backend's device, got one the device refuses (${(e as Error)?.message ?? e})`);
    }
  }
  const t = makeTensor(ctx, ctx.backend, buffer, dims, off, true, dtype);
  c.made.push(t);
  c.reads.push({ t, name: "buffer", s: stateOf(t)! });
  return t;
}
