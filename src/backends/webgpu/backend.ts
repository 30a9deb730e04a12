/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend's public front: LayerNorm, RMSNorm and GroupNorm, forward and backward, on
 * GPU-resident tensors. It runs wherever a GPUDevice exists: browsers (navigator.gpu) or Node with
 * Dawn (see src/webgpu-node.ts, which is Node-only and not imported from here). Ops on GpuTensors
 * only encode and submit work, so they return at once and chain without reading back;
 * `await t.read()` brings a result home.
 *
 * Where the work is: context.ts (buffers, pipelines, error scopes, readback), tensor.ts (GpuTensor),
 * wrap.ts (a caller's GPUBuffer as a tensor), row-steps.ts and group-steps.ts (the dispatches),
 * cpu.ts (`gpu.cpu`), device.ts (opening a device); kernels in wgsl.ts, variants in plan.ts.
 */
import { checkTensor, type Tensor } from "../../core/index.js";
import { GpuContext } from "./context.js";
import { cpuOps, type GpuCpuOps } from "./cpu.js";
import { openDevice } from "./device.js";
import { groupBackwardSteps, groupForwardSteps } from "./group-steps.js";
import { backwardSteps, forwardSteps } from "./row-steps.js";
import type { GpuTensor } from "./tensor.js";
import type { GpuBackendOptions, GpuBackwardOptions, GpuGrads, GpuNormOptions, GpuWrapOptions } from "./types.js";
import type { KernelPlan } from "./wgsl.js";
import { wrapBuffer } from "./wrap.js";

type NS = number | readonly number[];

/** The context behind each backend (for bench/, which replays the ops' dispatches). */
const contexts = new WeakMap<GpuBackend, GpuContext>();
export const contextOf = (gpu: GpuBackend): GpuContext => contexts.get(gpu)!;

export class GpuBackend {
  readonly #ctx: GpuContext;
  /** The core API on CPU tensors, async: upload, run, read back, free (see cpu.ts). */
  readonly cpu: GpuCpuOps;

  constructor(
    device: GPUDevice,
    /** Subgroup size the reductions use; 0 when reductions go through workgroup memory. */
    readonly subgroupSize: number,
    readonly adapterInfo: { vendor: string; architecture: string; device: string; description: string },
    ownsDevice: boolean,
    /** The GPU object the device came from, held so that it lives as long as the device (dawn.node frees devices' instance otherwise). */
    readonly gpu: GPU | null = null,
  ) {
    this.#ctx = new GpuContext(this, device, subgroupSize, ownsDevice);
    contexts.set(this, this.#ctx);
    this.cpu = cpuOps(this);
  }

  get device(): GPUDevice {
    return this.#ctx.device;
  }
  /** Maximum bytes of one tensor on this device. */
  get maxBytes(): number {
    return this.#ctx.maxBytes;
  }
  /** Uncaptured GPU errors on the device; normkit's own work runs in error scopes and fails its call instead. */
  get errors(): string[] {
    return this.#ctx.errors;
  }
  get hasTimestamps(): boolean {
    return this.#ctx.device.features.has("timestamp-query");
  }
  /** GPU buffers made by this backend and not yet freed (tensors, staging, scratch; not wrapped ones). */
  liveBuffers(): number {
    return this.#ctx.live.size;
  }

  /** Copies a CPU tensor to the GPU (its shape is copied: later changes to the array do nothing). */
  upload(t: Tensor, name = "tensor"): GpuTensor {
    return this.#ctx.call("upload", (c) => {
      // one read of shape and data: a getter or Proxy cannot change them between check and use
      const o = t as Partial<Tensor> | null;
      const src = checkTensor(typeof o === "object" && o !== null ? { shape: Array.isArray(o.shape) ? [...o.shape] : o.shape, data: o.data } : o, name);
      const g = c.empty(src.shape, name);
      if (src.data.length > 0) this.#ctx.device.queue.writeBuffer(g.buffer, 0, src.data.buffer, src.data.byteOffset, src.data.byteLength);
      return g;
    });
  }

  /**
   * A caller's GPUBuffer as a GpuTensor, without a copy: `shape` floats from `byteOffset`. normkit
   * never destroys it (the tensor's destroy() only detaches it); see wrap.ts for the checks.
   */
  wrap(buffer: GPUBuffer, shape: readonly number[], options?: GpuWrapOptions): GpuTensor {
    return this.#ctx.call("wrap", (c) => wrapBuffer(c, buffer, shape, options));
  }

  /** Reads a GPU tensor back (GpuTensor.read calls it). */
  read(t: GpuTensor): Promise<Tensor> {
    return this.#ctx.read(t);
  }

  /** The kernel plan an op would use for row width D (see plan.ts). */
  plan(D: number, backward: boolean, over?: Partial<KernelPlan>): KernelPlan {
    return this.#ctx.plan(D, backward, over);
  }

  #forward(op: string, rms: boolean, x: unknown, ns: unknown, options: unknown, keepStats: boolean) {
    return this.#ctx.call(op, (c) => {
      const f = forwardSteps(c, rms, x, ns, options);
      this.#ctx.submit(f.steps, keepStats ? [] : [f.out.rstd, ...(f.out.mean ? [f.out.mean] : [])]);
      return f.out;
    });
  }
  #backward(op: string, rms: boolean, dy: unknown, x: unknown, ns: unknown, options: unknown): GpuGrads {
    return this.#ctx.call(op, (c) => {
      const b = backwardSteps(c, rms, dy, x, ns, options);
      this.#ctx.submit(b.steps, b.temps);
      return b.grads;
    });
  }

  /** LayerNorm forward with its statistics (x's leading dims; keep them for layerNormBackward). */
  layerNormForward(x: GpuTensor, ns: NS, options?: GpuNormOptions) {
    const o = this.#forward("layerNormForward", false, x, ns, options, true);
    return { y: o.y, mean: o.mean!, rstd: o.rstd };
  }
  layerNorm(x: GpuTensor, ns: NS, options?: GpuNormOptions): GpuTensor {
    return this.#forward("layerNorm", false, x, ns, options, false).y;
  }
  layerNormBackward(dy: GpuTensor, x: GpuTensor, ns: NS, options?: GpuBackwardOptions): GpuGrads {
    return this.#backward("layerNormBackward", false, dy, x, ns, options);
  }
  /** RMSNorm forward with its statistics (keep rstd for rmsNormBackward). */
  rmsNormForward(x: GpuTensor, ns: NS, options?: GpuNormOptions) {
    const o = this.#forward("rmsNormForward", true, x, ns, options, true);
    return { y: o.y, rstd: o.rstd };
  }
  rmsNorm(x: GpuTensor, ns: NS, options?: GpuNormOptions): GpuTensor {
    return this.#forward("rmsNorm", true, x, ns, options, false).y;
  }
  rmsNormBackward(dy: GpuTensor, x: GpuTensor, ns: NS, options?: GpuBackwardOptions): GpuGrads {
    return this.#backward("rmsNormBackward", true, dy, x, ns, options);
  }

  /** GroupNorm forward with its statistics ([N, G]; keep them for groupNormBackward). */
  groupNormForward(x: GpuTensor, numGroups: number, options?: GpuNormOptions) {
    return this.#ctx.call("groupNormForward", (c) => {
      const f = groupForwardSteps(c, x, numGroups, options);
      this.#ctx.submit(f.steps);
      return { y: f.out.y, mean: f.out.mean!, rstd: f.out.rstd };
    });
  }
  groupNorm(x: GpuTensor, numGroups: number, options?: GpuNormOptions): GpuTensor {
    return this.#ctx.call("groupNorm", (c) => {
      const f = groupForwardSteps(c, x, numGroups, options);
      this.#ctx.submit(f.steps, [f.out.mean!, f.out.rstd]);
      return f.out.y;
    });
  }
  groupNormBackward(dy: GpuTensor, x: GpuTensor, numGroups: number, options?: GpuBackwardOptions): GpuGrads {
    return this.#ctx.call("groupNormBackward", (c) => {
      const b = groupBackwardSteps(c, dy, x, numGroups, options);
      this.#ctx.submit(b.steps, b.temps);
      return b.grads;
    });
  }

  /**
   * Frees every buffer this backend made, and the device if the backend created it. Every tensor
   * it made or wrapped then reports `destroyed` (wrapped buffers are detached, not destroyed);
   * using one throws DESTROYED_TENSOR, other calls DEVICE_LOST, reads in flight reject with DEVICE_LOST.
   */
  destroy(): void {
    this.#ctx.destroy();
  }
}

/**
 * A WebGPU backend. In browsers it uses navigator.gpu; in Node pass `{ device }` or use
 * createNodeGpu() from "normkit/webgpu-node". Throws NormError BACKEND_UNAVAILABLE when there is no
 * WebGPU or no adapter.
 */
export async function createGpuBackend(options: GpuBackendOptions = {}): Promise<GpuBackend> {
  const d = await openDevice(options);
  return new GpuBackend(d.device, d.subgroupSize, d.adapterInfo, d.owns, options?.gpu ?? null);
}
