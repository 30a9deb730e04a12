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
import { checkAnyTensor, checkDType, checkTensor, field, type Tensor } from "../../core/index.js";
import type { DType, HalfDType } from "../../dtype.js";
import { GpuContext } from "./context.js";
import { cpuOps, type GpuCpuOps } from "./cpu.js";
import { openDevice } from "./device.js";
import { batchBackwardSteps, batchForwardSteps } from "./ext-batch-steps.js";
import { extGroupBackwardSteps, extGroupForwardSteps, instanceBackwardSteps, instanceForwardSteps } from "./ext-group-steps.js";
import { GROUP_EXT_KEYS, ROW_EXT_KEYS, wantsExt } from "./ext-route.js";
import { extBackwardSteps, extForwardSteps } from "./ext-row-steps.js";
import { Work } from "./ext-steps.js";
import { groupBackwardSteps, groupForwardSteps } from "./group-steps.js";
import { backwardSteps, forwardSteps } from "./row-steps.js";
import type { GpuTensor } from "./tensor.js";
import type {
  AnyGpuTensor, GpuAddGrads, GpuAddNormBackwardOptions, GpuAddNormOptions, GpuBackendOptions, GpuBackwardOptions, GpuBatchNormBackwardOptions,
  GpuBatchNormOptions, GpuGrads, GpuGroupNormBackwardOptions, GpuGroupNormOptions, GpuInstanceNormBackwardOptions, GpuInstanceNormOptions,
  GpuNormOptions, GpuRowBackwardOptions, GpuRowNormOptions, GpuWrapOptions, HalfTensor,
} from "./types.js";
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

  /**
   * Copies a CPU tensor to the GPU (its shape is copied: later changes to the array do nothing).
   * Half tensors: `{ shape, data: Uint16Array, dtype: "float16" | "bfloat16" }` (bit patterns) or a
   * Float16Array `data` (float16); the GPU tensor keeps the dtype.
   */
  upload(t: Tensor, name?: string): GpuTensor;
  upload<D extends HalfDType>(t: HalfTensor<D>, name?: string): GpuTensor<D>;
  upload(t: Tensor | HalfTensor, name?: string): AnyGpuTensor;
  upload(t: Tensor | HalfTensor, name = "tensor"): AnyGpuTensor {
    return this.#ctx.call("upload", (c) => {
      // one read of shape, data and dtype (own or class properties, never Object.prototype's): a
      // getter or Proxy cannot change them between check and use
      const o = t as object | null;
      const snap = typeof o === "object" && o !== null
        ? (() => {
            const shape = field(o, "shape");
            return { shape: Array.isArray(shape) ? [...shape] : shape, data: field(o, "data"), dtype: field(o, "dtype") };
          })()
        : o;
      const plain = snap !== null && typeof snap === "object" && (snap.dtype === undefined || snap.dtype === "float32") && snap.data instanceof Float32Array;
      const src = plain ? { ...checkTensor(snap, name), dtype: "float32" as const } : checkAnyTensor(snap, name);
      const g = c.empty(src.shape, name, src.dtype);
      let data = src.data;
      // writeBuffer moves whole 32-bit words: an odd number of halves gets a padding half
      if (data instanceof Uint16Array && data.length % 2 === 1) {
        const padded = new Uint16Array(data.length + 1);
        padded.set(data);
        data = padded;
      }
      if (data.length > 0) this.#ctx.device.queue.writeBuffer(g.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
      return g;
    });
  }

  /** A new tensor: `t` converted to `dtype` (round to nearest even; NaN stays NaN, overflow → ±Inf), as the CPU's cast(t, dtype). */
  cast<D extends DType>(t: AnyGpuTensor, dtype: D): GpuTensor<D> {
    return this.#ctx.call("cast", (c) => {
      const src = c.readAny(t, "t");
      const dt = checkDType(dtype, "dtype");
      const out = c.empty(src.shape, "y", dt);
      const w = new Work(c);
      w.cast(src, out, false);
      this.#ctx.submit(w.steps, w.temps);
      return out as GpuTensor<D>;
    });
  }

  /**
   * A caller's GPUBuffer as a GpuTensor, without a copy: `shape` floats from `byteOffset`. normkit
   * never destroys it (the tensor's destroy() only detaches it); see wrap.ts for the checks.
   */
  wrap(buffer: GPUBuffer, shape: readonly number[], options?: GpuWrapOptions & { dtype?: "float32" }): GpuTensor;
  wrap(buffer: GPUBuffer, shape: readonly number[], options?: GpuWrapOptions): AnyGpuTensor;
  wrap(buffer: GPUBuffer, shape: readonly number[], options?: GpuWrapOptions): AnyGpuTensor {
    return this.#ctx.call("wrap", (c) => wrapBuffer(c, buffer, shape, options));
  }

  /** Reads a GPU tensor back (GpuTensor.read calls it). */
  read(t: AnyGpuTensor): Promise<Tensor | HalfTensor> {
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

  #ext(op: string, rms: boolean, x: unknown, residual: unknown, ns: unknown, options: unknown, add: boolean, keepStats: boolean) {
    return this.#ctx.call(op, (c) => {
      const f = extForwardSteps(c, rms, x, residual, ns, options, add);
      this.#ctx.submit(f.steps, [...f.temps, ...(keepStats ? [] : [f.out.rstd, ...(f.out.mean ? [f.out.mean] : [])])]);
      return f.out;
    });
  }
  #extBackward(op: string, rms: boolean, dy: unknown, x: unknown, ns: unknown, options: unknown, add: boolean) {
    return this.#ctx.call(op, (c) => {
      const b = extBackwardSteps(c, rms, dy, x, ns, options, add);
      this.#ctx.submit(b.steps, b.temps);
      return b.grads;
    });
  }
  #rowForward(op: string, rms: boolean, x: unknown, ns: unknown, options: unknown, keepStats: boolean) {
    return wantsExt([x], options, ROW_EXT_KEYS) ? this.#ext(op, rms, x, undefined, ns, options, false, keepStats) : this.#forward(op, rms, x, ns, options, keepStats);
  }
  #rowBackward(op: string, rms: boolean, dy: unknown, x: unknown, ns: unknown, options: unknown) {
    return wantsExt([dy, x], options, ROW_EXT_KEYS) ? this.#extBackward(op, rms, dy, x, ns, options, false) : this.#backward(op, rms, dy, x, ns, options);
  }

  /**
   * LayerNorm forward with its statistics (x's leading dims; keep them for layerNormBackward). Any
   * dtype: y has x's dtype; weight and bias may each be float32 or half; statistics are float32.
   */
  layerNormForward<D extends DType = "float32">(x: GpuTensor<D>, ns: NS, options?: GpuNormOptions | GpuRowNormOptions) {
    const o = this.#rowForward("layerNormForward", false, x, ns, options, true);
    return { y: o.y as GpuTensor<D>, mean: o.mean!, rstd: o.rstd };
  }
  layerNorm<D extends DType = "float32">(x: GpuTensor<D>, ns: NS, options?: GpuNormOptions | GpuRowNormOptions): GpuTensor<D> {
    return this.#rowForward("layerNorm", false, x, ns, options, false).y as GpuTensor<D>;
  }
  layerNormBackward(dy: GpuTensor, x: GpuTensor, ns: NS, options?: GpuBackwardOptions): GpuGrads;
  layerNormBackward(dy: AnyGpuTensor, x: AnyGpuTensor, ns: NS, options?: GpuRowBackwardOptions): GpuGrads<DType>;
  layerNormBackward(dy: AnyGpuTensor, x: AnyGpuTensor, ns: NS, options?: GpuBackwardOptions | GpuRowBackwardOptions): GpuGrads<DType> {
    return this.#rowBackward("layerNormBackward", false, dy, x, ns, options);
  }
  /** RMSNorm forward with its statistics (keep rstd for rmsNormBackward); any dtype, as layerNormForward. */
  rmsNormForward<D extends DType = "float32">(x: GpuTensor<D>, ns: NS, options?: GpuNormOptions | GpuRowNormOptions) {
    const o = this.#rowForward("rmsNormForward", true, x, ns, options, true);
    return { y: o.y as GpuTensor<D>, rstd: o.rstd };
  }
  rmsNorm<D extends DType = "float32">(x: GpuTensor<D>, ns: NS, options?: GpuNormOptions | GpuRowNormOptions): GpuTensor<D> {
    return this.#rowForward("rmsNorm", true, x, ns, options, false).y as GpuTensor<D>;
  }
  rmsNormBackward(dy: GpuTensor, x: GpuTensor, ns: NS, options?: GpuBackwardOptions): GpuGrads;
  rmsNormBackward(dy: AnyGpuTensor, x: AnyGpuTensor, ns: NS, options?: GpuRowBackwardOptions): GpuGrads<DType>;
  rmsNormBackward(dy: AnyGpuTensor, x: AnyGpuTensor, ns: NS, options?: GpuBackwardOptions | GpuRowBackwardOptions): GpuGrads<DType> {
    return this.#rowBackward("rmsNormBackward", true, dy, x, ns, options);
  }

  /**
   * Fused residual add + LayerNorm (ONNX Runtime's SkipLayerNormalization): h = (x + residual) +
   * inputBias rounded to x's dtype, y = LayerNorm(h). `residualOut: residual` writes h over the
   * residual (in place); returns { y, h, mean, rstd } (statistics for addLayerNormBackward).
   */
  addLayerNorm<D extends DType = "float32">(x: GpuTensor<D>, residual: GpuTensor<D>, ns: NS, options?: GpuAddNormOptions) {
    const o = this.#ext("addLayerNorm", false, x, residual, ns, options, true, true);
    return { y: o.y as GpuTensor<D>, h: o.h as GpuTensor<D>, mean: o.mean!, rstd: o.rstd };
  }
  /** Fused residual add + RMSNorm (SkipSimplifiedLayerNormalization, Liger's fused add + RMSNorm): { y, h, rstd }. */
  addRmsNorm<D extends DType = "float32">(x: GpuTensor<D>, residual: GpuTensor<D>, ns: NS, options?: GpuAddNormOptions) {
    const o = this.#ext("addRmsNorm", true, x, residual, ns, options, true, true);
    return { y: o.y as GpuTensor<D>, h: o.h as GpuTensor<D>, rstd: o.rstd };
  }
  /**
   * Backward of addLayerNorm, given h: dx (the one gradient of x and residual) = ∂norm/∂h·dy + dh;
   * dinputBias = Σ_rows dx when inputBias was given.
   */
  addLayerNormBackward(dy: AnyGpuTensor, h: AnyGpuTensor, ns: NS, options?: GpuAddNormBackwardOptions): GpuAddGrads {
    return this.#extBackward("addLayerNormBackward", false, dy, h, ns, options, true);
  }
  addRmsNormBackward(dy: AnyGpuTensor, h: AnyGpuTensor, ns: NS, options?: GpuAddNormBackwardOptions): GpuAddGrads {
    return this.#extBackward("addRmsNormBackward", true, dy, h, ns, options, true);
  }

  #groupForward(op: string, x: unknown, numGroups: unknown, options: unknown, keepStats: boolean) {
    const ext = wantsExt([x], options, GROUP_EXT_KEYS);
    return this.#ctx.call(op, (c) => {
      const f = ext ? extGroupForwardSteps(c, x, numGroups, options) : { ...groupForwardSteps(c, x, numGroups, options), temps: [] };
      this.#ctx.submit(f.steps, [...f.temps, ...(keepStats ? [] : [f.out.mean!, f.out.rstd])]);
      return { y: f.out.y, mean: f.out.mean! as GpuTensor, rstd: f.out.rstd as GpuTensor };
    });
  }

  /**
   * GroupNorm forward with its statistics ([N, G]; keep them for groupNormBackward). Any dtype;
   * `channelsLast: true` takes x as [N, *, C]; `activation: "silu"` returns y·σ(y).
   */
  groupNormForward<D extends DType = "float32">(x: GpuTensor<D>, numGroups: number, options?: GpuNormOptions | GpuGroupNormOptions) {
    const o = this.#groupForward("groupNormForward", x, numGroups, options, true);
    return { y: o.y as GpuTensor<D>, mean: o.mean, rstd: o.rstd };
  }
  groupNorm<D extends DType = "float32">(x: GpuTensor<D>, numGroups: number, options?: GpuNormOptions | GpuGroupNormOptions): GpuTensor<D> {
    return this.#groupForward("groupNorm", x, numGroups, options, false).y as GpuTensor<D>;
  }
  groupNormBackward(dy: GpuTensor, x: GpuTensor, numGroups: number, options?: GpuBackwardOptions): GpuGrads;
  groupNormBackward(dy: AnyGpuTensor, x: AnyGpuTensor, numGroups: number, options?: GpuGroupNormBackwardOptions): GpuGrads<DType>;
  groupNormBackward(dy: AnyGpuTensor, x: AnyGpuTensor, numGroups: number, options?: GpuBackwardOptions | GpuGroupNormBackwardOptions): GpuGrads<DType> {
    const ext = wantsExt([dy, x], options, GROUP_EXT_KEYS);
    return this.#ctx.call("groupNormBackward", (c) => {
      const b = ext ? extGroupBackwardSteps(c, dy, x, numGroups, options) : groupBackwardSteps(c, dy, x, numGroups, options);
      this.#ctx.submit(b.steps, b.temps);
      return b.grads;
    });
  }

  /**
   * InstanceNorm (F.instance_norm) on x [N, C, *]: each instance's statistics (useInputStats, the
   * default; running statistics, if given, updated in place with the batch mean of the instances'
   * mean and unbiased variance) or the running ones. Any dtype.
   */
  instanceNorm<D extends DType = "float32">(x: GpuTensor<D>, options?: GpuInstanceNormOptions): GpuTensor<D> {
    return this.#ctx.call("instanceNorm", (c) => {
      const f = instanceForwardSteps(c, x, options);
      this.#ctx.submit(f.steps, f.temps);
      return f.y as GpuTensor<D>;
    });
  }
  instanceNormBackward(dy: AnyGpuTensor, x: AnyGpuTensor, options?: GpuInstanceNormBackwardOptions): GpuGrads<DType> {
    return this.#ctx.call("instanceNormBackward", (c) => {
      const b = instanceBackwardSteps(c, dy, x, options);
      this.#ctx.submit(b.steps, b.temps);
      return b.grads;
    });
  }

  /**
   * BatchNorm (F.batch_norm) on x [N, C, *], any dtype: training normalizes with the batch
   * statistics and updates runningMean/runningVar in place (unbiased variance; momentum, or null
   * with numBatchesTracked for the cumulative average); eval uses the running statistics.
   */
  batchNorm<D extends DType = "float32">(x: GpuTensor<D>, options?: GpuBatchNormOptions): GpuTensor<D> {
    return this.#ctx.call("batchNorm", (c) => {
      const f = batchForwardSteps(c, x, options);
      this.#ctx.submit(f.steps, f.temps);
      return f.y as GpuTensor<D>;
    });
  }
  /** BatchNorm's backward (never touches the running statistics). */
  batchNormBackward(dy: AnyGpuTensor, x: AnyGpuTensor, options?: GpuBatchNormBackwardOptions): GpuGrads<DType> {
    return this.#ctx.call("batchNormBackward", (c) => {
      const b = batchBackwardSteps(c, dy, x, options);
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
