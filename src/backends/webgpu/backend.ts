/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend: LayerNorm and RMSNorm, forward and backward, on GPU-resident tensors. It runs
 * wherever a GPUDevice exists: browsers (navigator.gpu) or Node with Dawn (see src/webgpu-node.ts,
 * which is Node-only and not imported from here). Ops on GpuTensors only encode and submit work,
 * so they return at once and chain without reading back; `await t.read()` brings a result home.
 * Validation is the core's (rowNormArgsOf); the kernels are in wgsl.ts, the variants in plan.ts.
 */
import { NormError, describe } from "../../errors.js";
import {
  GROUP_NORM_EPS, LAYER_NORM_EPS, RMS_NORM_EPS, channelArgsOf, checkNumGroups, checkOptions, checkSameShape, checkShapeEqual,
  checkTensor, gradsInto, groupNormArgs, numel, out, rowNormArgs, rowNormArgsOf, rowNormBackwardArgs, savedStats, shapeStr, statShape,
  type BackwardOptions, type ForwardOptions, type Grads, type NormOptions, type Tensor,
} from "../../core/index.js";
import { backwardBlocks, partialRows, resolvePlan } from "./plan.js";
import { SUBGROUP_PROBE, WORKGROUP, backwardWGSL, chanGradWGSL, colsumWGSL, forwardWGSL, type KernelPlan, type RowKernelSpec } from "./wgsl.js";

// GPUBufferUsage / GPUMapMode values (the globals are absent in Node unless Dawn's are installed)
const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const STORAGE = 0x80;
const TENSOR_USAGE = STORAGE | COPY_SRC | COPY_DST;

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
  /** Accumulate parameter gradients into these (+=) instead of returning fresh ones. */
  into?: { dweight?: GpuTensor | null; dbias?: GpuTensor | null };
}

export interface GpuGrads {
  dx: GpuTensor;
  dweight: GpuTensor | null;
  dbias: GpuTensor | null;
}

/** One dispatch: what the ops submit and what the benchmark replays. */
export interface GpuStep {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  groups: [number, number];
}

/** A float32 tensor living in a GPU buffer of the backend that made it. */
export class GpuTensor {
  #buffer: GPUBuffer | null;
  readonly size: number;
  constructor(
    readonly backend: GpuBackend,
    buffer: GPUBuffer,
    readonly shape: readonly number[],
  ) {
    this.#buffer = buffer;
    this.size = numel(shape);
  }
  get destroyed(): boolean {
    return this.#buffer === null;
  }
  /** The GPU buffer (throws once destroyed). */
  get buffer(): GPUBuffer {
    if (this.#buffer === null) {
      throw new NormError("DESTROYED_TENSOR", "tensor", `GPU tensor of shape ${shapeStr(this.shape)} was used after destroy()`);
    }
    return this.#buffer;
  }
  /** Copies the data back: a CPU tensor of the same shape. */
  read(): Promise<Tensor> {
    return this.backend.read(this);
  }
  /** Frees the GPU buffer now (idempotent); later use throws DESTROYED_TENSOR. */
  destroy(): void {
    if (this.#buffer !== null) this.backend.release(this.#buffer);
    this.#buffer = null;
  }
}

type Saved = { y: GpuTensor; mean: GpuTensor | null; rstd: GpuTensor };

export class GpuBackend {
  readonly #live = new Set<GPUBuffer>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  #lost: GPUDeviceLostInfo | null = null;
  /** Uncaptured GPU errors seen so far (validation errors would be normkit bugs). */
  readonly errors: string[] = [];
  /** Maximum bytes of one tensor on this device. */
  readonly maxBytes: number;

  constructor(
    readonly device: GPUDevice,
    /** Subgroup size the reductions use; 0 when reductions go through workgroup memory. */
    readonly subgroupSize: number,
    readonly adapterInfo: { vendor: string; architecture: string; device: string; description: string },
    private readonly ownsDevice: boolean,
    /** The GPU object the device came from, held so that it lives as long as the device (dawn.node frees devices' instance otherwise). */
    readonly gpu: GPU | null = null,
  ) {
    this.maxBytes = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
    device.lost.then((info) => {
      this.#lost = info;
    });
    device.addEventListener?.("uncapturederror", (e) => {
      this.errors.push((e as GPUUncapturedErrorEvent).error.message);
    });
  }

  get hasTimestamps(): boolean {
    return this.device.features.has("timestamp-query");
  }

  /** GPU buffers made by this backend and not yet destroyed (tensors, staging, scratch). */
  liveBuffers(): number {
    return this.#live.size;
  }

  #alive(): void {
    if (this.#lost !== null) {
      throw new NormError("DEVICE_LOST", "device", `the GPU device was lost (${this.#lost.reason}): ${this.#lost.message || "no message"}; create a new backend`);
    }
  }

  /** A tracked buffer; `what` names it in the limit error. */
  #buffer(bytes: number, usage: number, what: string): GPUBuffer {
    this.#alive();
    if (bytes > this.maxBytes) {
      throw new NormError(
        "LIMIT_EXCEEDED",
        what,
        `needs ${bytes} bytes but this GPU device allows at most ${this.maxBytes} bytes per buffer (min of maxBufferSize ${this.device.limits.maxBufferSize} and maxStorageBufferBindingSize ${this.device.limits.maxStorageBufferBindingSize})`,
      );
    }
    // sizes rounded up to 16 bytes so that vec4 bindings of any tensor fit; 0 becomes 16
    const b = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
    this.#live.add(b);
    return b;
  }

  /** Destroys a buffer made by this backend (internal; GpuTensor.destroy calls it). */
  release(b: GPUBuffer): void {
    if (this.#live.delete(b)) b.destroy();
  }

  #empty(shape: readonly number[], what: string): GpuTensor {
    return new GpuTensor(this, this.#buffer(numel(shape) * 4, TENSOR_USAGE, what), shape);
  }

  /** Copies a CPU tensor to the GPU. */
  upload(t: Tensor, name = "tensor"): GpuTensor {
    const c = checkTensor(t, name);
    const g = this.#empty(c.shape, name);
    if (c.data.length > 0) this.device.queue.writeBuffer(g.buffer, 0, c.data.buffer, c.data.byteOffset, c.data.byteLength);
    return g;
  }

  /** Reads a GPU tensor back (GpuTensor.read calls it). */
  async read(t: GpuTensor): Promise<Tensor> {
    const src = this.#tensor(t, "tensor");
    const bytes = src.size * 4;
    const shape = Object.freeze([...src.shape]);
    if (bytes === 0) return { shape, data: new Float32Array(0) };
    const staging = this.#buffer(bytes, MAP_READ | COPY_DST, "staging");
    try {
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(src.buffer, 0, staging, 0, Math.ceil(bytes / 4) * 4);
      this.device.queue.submit([enc.finish()]);
      try {
        await staging.mapAsync(1 /* GPUMapMode.READ */, 0, bytes);
      } catch (e) {
        this.#alive();
        throw e;
      }
      const data = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
      staging.unmap();
      return { shape, data };
    } finally {
      this.release(staging);
    }
  }

  /** Validates a GpuTensor argument: ours, alive, device alive. */
  #tensor = (t: unknown, name: string): GpuTensor => {
    this.#alive();
    if (!(t instanceof GpuTensor)) {
      throw new NormError("BAD_ARGUMENT", name, `expected a GpuTensor (from gpu.upload), got ${describe(t)}`);
    }
    if (t.backend !== this) throw new NormError("BAD_ARGUMENT", name, "GpuTensor belongs to another GPU backend");
    if (t.destroyed) {
      throw new NormError("DESTROYED_TENSOR", name, `GPU tensor of shape ${shapeStr(t.shape)} was used after destroy()`);
    }
    return t;
  };

  #pipeline(key: string, code: () => string): GPUComputePipeline {
    let p = this.#pipelines.get(key);
    if (p === undefined) {
      const module = this.device.createShaderModule({ code: code() });
      p = this.device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  #bind(p: GPUComputePipeline, entries: Record<number, { t: GPUBuffer; bytes: number } | null>): GPUBindGroup {
    const list: GPUBindGroupEntry[] = [];
    for (const [k, v] of Object.entries(entries)) {
      if (v !== null) list.push({ binding: Number(k), resource: { buffer: v.t, size: v.bytes } });
    }
    return this.device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: list });
  }

  /** The kernel plan an op would use for row width D (see plan.ts). */
  plan(D: number, backward: boolean, over?: Partial<KernelPlan>): KernelPlan {
    return resolvePlan(D, backward, this.subgroupSize, over, this.device.limits.maxComputeWorkgroupStorageSize);
  }

  #groups(n: number): [number, number] {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(n, max);
    return [x, Math.ceil(n / x)];
  }

  #args(rms: boolean, x: unknown, ns: unknown, options: unknown) {
    return rowNormArgsOf(this.#tensor, x, ns, options, rms ? RMS_NORM_EPS : LAYER_NORM_EPS);
  }

  /** Forward dispatch + outputs; `steps` is empty when there is nothing to compute. */
  forwardSteps(rms: boolean, x: unknown, ns: number | readonly number[], options?: GpuNormOptions) {
    const a = this.#args(rms, x, ns, options);
    const plan = this.plan(a.D, false, options?.plan);
    const out: Saved = {
      y: this.#empty(a.x.shape, "y"),
      mean: rms ? null : this.#empty(statShape(a.x.shape, a.normalizedShape), "mean"),
      rstd: this.#empty(statShape(a.x.shape, a.normalizedShape), "rstd"),
    };
    const steps: GpuStep[] = [];
    if (a.rows > 0 && a.D > 0) {
      const spec: RowKernelSpec = { rms, D: a.D, hasW: a.weight !== null, hasB: a.bias !== null, plan };
      const eps = Math.fround(a.eps);
      const p = this.#pipeline(`fwd ${JSON.stringify(spec)} ${eps}`, () => forwardWGSL(spec, eps));
      const n = a.rows * a.D * 4;
      const bg = this.#bind(p, {
        0: { t: a.x.buffer, bytes: n },
        1: a.weight && { t: a.weight.buffer, bytes: a.D * 4 },
        2: a.bias && { t: a.bias.buffer, bytes: a.D * 4 },
        3: { t: out.y.buffer, bytes: n },
        4: out.mean && { t: out.mean.buffer, bytes: a.rows * 4 },
        5: { t: out.rstd.buffer, bytes: a.rows * 4 },
      });
      steps.push({ pipeline: p, bindGroup: bg, groups: this.#groups(Math.ceil(a.rows / (WORKGROUP / plan.T))) });
    }
    return { steps, out, plan, args: a };
  }

  /**
   * Backward dispatches (dx + partial sums, then the fixed-order column sums) and outputs. Without
   * saved statistics, the forward steps that compute them come first. `temps` are freed after submit.
   */
  backwardSteps(rms: boolean, dy: unknown, x: unknown, ns: number | readonly number[], options?: GpuBackwardOptions) {
    const a = this.#args(rms, x, ns, options);
    const g = this.#tensor(dy, "dy");
    checkShapeEqual(g, a.x, "dy");
    const plan = this.plan(a.D, true, options?.plan);
    const steps: GpuStep[] = [];
    const temps: GpuTensor[] = [];
    let mean: GpuTensor | null;
    let rstd: GpuTensor;
    const saved = savedStats(this.#tensor, options, rms, statShape(a.x.shape, a.normalizedShape));
    if (saved !== null) {
      ({ mean, rstd } = saved);
    } else {
      const f = this.forwardSteps(rms, a.x, a.normalizedShape, { ...options, plan: undefined });
      steps.push(...f.steps);
      temps.push(f.out.y, f.out.rstd);
      if (f.out.mean) temps.push(f.out.mean);
      ({ mean, rstd } = f.out);
    }
    const { dweight: intoW, dbias: intoB } = gradsInto(this.#tensor, options?.into, a.weight !== null, a.bias !== null, a.normalizedShape);
    const dx = this.#empty(a.x.shape, "dx");
    const dweight = a.weight === null ? null : (intoW ?? this.#empty(a.normalizedShape, "dweight"));
    const dbias = a.bias === null ? null : (intoB ?? this.#empty(a.normalizedShape, "dbias"));
    if (a.rows > 0 && a.D > 0) {
      const spec: RowKernelSpec = { rms, D: a.D, hasW: a.weight !== null, hasB: false, plan };
      const blocks = backwardBlocks(a.rows, plan);
      const P = partialRows(blocks, plan);
      const pw = dweight && this.#empty([P, a.D], "partial dweight");
      const pb = dbias && this.#empty([P, a.D], "partial dbias");
      if (pw) temps.push(pw);
      if (pb) temps.push(pb);
      const p = this.#pipeline(`bwd ${JSON.stringify(spec)} ${!!pw} ${!!pb}`, () => backwardWGSL(spec, !!pw, !!pb));
      const n = a.rows * a.D * 4;
      const bg = this.#bind(p, {
        0: { t: g.buffer, bytes: n },
        1: { t: a.x.buffer, bytes: n },
        2: mean && { t: mean.buffer, bytes: a.rows * 4 },
        3: { t: rstd.buffer, bytes: a.rows * 4 },
        4: a.weight && { t: a.weight.buffer, bytes: a.D * 4 },
        5: { t: dx.buffer, bytes: n },
        6: pw && { t: pw.buffer, bytes: P * a.D * 4 },
        7: pb && { t: pb.buffer, bytes: P * a.D * 4 },
      });
      steps.push({ pipeline: p, bindGroup: bg, groups: [blocks, 1] });
      const colGroups = Math.ceil(a.D / 64);
      if (colGroups > this.device.limits.maxComputeWorkgroupsPerDimension) {
        throw new NormError("LIMIT_EXCEEDED", "normalizedShape", `D = ${a.D} needs ${colGroups} workgroups, over this device's maxComputeWorkgroupsPerDimension`);
      }
      for (const [part, dst, acc] of [[pw, dweight, intoW !== null], [pb, dbias, intoB !== null]] as const) {
        if (part === null || dst === null) continue;
        const cp = this.#pipeline(`colsum ${a.D} ${acc}`, () => colsumWGSL(a.D, acc));
        const cbg = this.#bind(cp, { 0: { t: part.buffer, bytes: P * a.D * 4 }, 1: { t: dst.buffer, bytes: a.D * 4 } });
        steps.push({ pipeline: cp, bindGroup: cbg, groups: [colGroups, 1] });
      }
    } else {
      // no rows: gradients are zero (fresh buffers are zero-initialized by WebGPU), dx is empty
    }
    return { steps, temps, grads: { dx, dweight, dbias } as GpuGrads, plan, args: a };
  }

  /**
   * GroupNorm forward dispatch + outputs: x [N, C, *]; each (n, g) is a row of (C/G)·S values run
   * by the row kernel in its per-channel mode; statistics of shape [N, G].
   */
  groupNormForwardSteps(x: unknown, numGroups: unknown, options?: GpuNormOptions) {
    const o = checkOptions<GpuNormOptions>(options);
    const a = channelArgsOf(this.#tensor, "groupNorm", x, o, GROUP_NORM_EPS);
    const G = checkNumGroups(numGroups, a.C);
    const rows = a.N * G, D = (a.C / G) * a.S;
    // vec4 items must not straddle two channels
    const plan = this.plan(D, false, { ...(a.S % 4 !== 0 ? { vec: 1 as const } : {}), ...o.plan });
    const out: Saved = { y: this.#empty(a.x.shape, "y"), mean: this.#empty([a.N, G], "mean"), rstd: this.#empty([a.N, G], "rstd") };
    const steps: GpuStep[] = [];
    if (rows > 0 && D > 0) {
      const spec: RowKernelSpec = { rms: false, D, hasW: a.weight !== null, hasB: a.bias !== null, plan, chan: { G, Cg: a.C / G, S: a.S } };
      const eps = Math.fround(a.eps);
      const p = this.#pipeline(`fwd ${JSON.stringify(spec)} ${eps}`, () => forwardWGSL(spec, eps));
      const n = rows * D * 4;
      const bg = this.#bind(p, {
        0: { t: a.x.buffer, bytes: n },
        1: a.weight && { t: a.weight.buffer, bytes: a.C * 4 },
        2: a.bias && { t: a.bias.buffer, bytes: a.C * 4 },
        3: { t: out.y.buffer, bytes: n },
        4: { t: out.mean!.buffer, bytes: rows * 4 },
        5: { t: out.rstd.buffer, bytes: rows * 4 },
      });
      steps.push({ pipeline: p, bindGroup: bg, groups: this.#groups(Math.ceil(rows / (WORKGROUP / plan.T))) });
    }
    return { steps, out, plan, args: { ...a, G } };
  }

  /**
   * GroupNorm backward: dx by the row kernel in its per-channel mode (from saved `mean`/`rstd` of
   * shape [N, G], else recomputed), then dweight/dbias per channel by chanGradWGSL.
   */
  groupNormBackwardSteps(dy: unknown, x: unknown, numGroups: unknown, options?: GpuBackwardOptions) {
    const o = checkOptions<GpuBackwardOptions>(options);
    const a = channelArgsOf(this.#tensor, "groupNorm", x, o, GROUP_NORM_EPS);
    const G = checkNumGroups(numGroups, a.C);
    const g = this.#tensor(dy, "dy");
    checkShapeEqual(g, a.x, "dy");
    const rows = a.N * G, D = (a.C / G) * a.S;
    const plan = this.plan(D, true, { wgsum: false, ...(a.S % 4 !== 0 ? { vec: 1 as const } : {}), ...o.plan });
    const steps: GpuStep[] = [];
    const temps: GpuTensor[] = [];
    let mean: GpuTensor, rstd: GpuTensor;
    const saved = savedStats(this.#tensor, o, false, [a.N, G]);
    if (saved !== null) {
      mean = saved.mean!;
      rstd = saved.rstd;
    } else {
      const f = this.groupNormForwardSteps(a.x, G, { weight: a.weight, bias: a.bias, eps: a.eps });
      steps.push(...f.steps);
      temps.push(f.out.y, f.out.mean!, f.out.rstd);
      mean = f.out.mean!;
      rstd = f.out.rstd;
    }
    const { dweight: intoW, dbias: intoB } = gradsInto(this.#tensor, o.into, a.weight !== null, a.bias !== null, [a.C]);
    const dx = this.#empty(a.x.shape, "dx");
    const dweight = a.weight === null ? null : (intoW ?? this.#empty([a.C], "dweight"));
    const dbias = a.bias === null ? null : (intoB ?? this.#empty([a.C], "dbias"));
    if (rows > 0 && D > 0) {
      const n = rows * D * 4;
      const spec: RowKernelSpec = { rms: false, D, hasW: a.weight !== null, hasB: false, plan, chan: { G, Cg: a.C / G, S: a.S } };
      const p = this.#pipeline(`bwd ${JSON.stringify(spec)} false false`, () => backwardWGSL(spec, false, false));
      const bg = this.#bind(p, {
        0: { t: g.buffer, bytes: n },
        1: { t: a.x.buffer, bytes: n },
        2: { t: mean.buffer, bytes: rows * 4 },
        3: { t: rstd.buffer, bytes: rows * 4 },
        4: a.weight && { t: a.weight.buffer, bytes: a.C * 4 },
        5: { t: dx.buffer, bytes: n },
      });
      steps.push({ pipeline: p, bindGroup: bg, groups: [backwardBlocks(rows, plan), 1] });
      // one pass for both sums when they accumulate alike, else one each
      const outs = ([[dweight, intoW !== null, "w"], [dbias, intoB !== null, "b"]] as const).filter(([t]) => t !== null);
      const passes = outs.length === 2 && outs[0][1] === outs[1][1] ? [outs] : outs.map((x) => [x]);
      for (const pass of passes) {
        const hasW = pass.some(([, , k]) => k === "w"), hasB = pass.some(([, , k]) => k === "b"), acc = pass[0]![1];
        const cp = this.#pipeline(`changrad ${a.C} ${a.S} ${G} ${hasW} ${hasB} ${acc}`, () => chanGradWGSL(a.C, a.S, G, hasW, hasB, acc));
        const cbg = this.#bind(cp, {
          0: { t: g.buffer, bytes: n },
          1: { t: a.x.buffer, bytes: n },
          2: { t: mean.buffer, bytes: rows * 4 },
          3: { t: rstd.buffer, bytes: rows * 4 },
          4: hasW ? { t: dweight!.buffer, bytes: a.C * 4 } : null,
          5: hasB ? { t: dbias!.buffer, bytes: a.C * 4 } : null,
        });
        steps.push({ pipeline: cp, bindGroup: cbg, groups: this.#groups(a.C) });
      }
    }
    return { steps, temps, grads: { dx, dweight, dbias } as GpuGrads, plan, args: { ...a, G } };
  }

  /** Encodes steps into one compute pass and submits them. */
  run(steps: readonly GpuStep[], temps: readonly GpuTensor[] = []): void {
    if (steps.length > 0) {
      const enc = this.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (const s of steps) {
        pass.setPipeline(s.pipeline);
        pass.setBindGroup(0, s.bindGroup);
        pass.dispatchWorkgroups(s.groups[0], s.groups[1]);
      }
      pass.end();
      this.device.queue.submit([enc.finish()]);
    }
    // destroying after submit is safe: WebGPU frees the memory once the submitted work is done
    for (const t of temps) t.destroy();
  }

  #forward(rms: boolean, x: unknown, ns: number | readonly number[], options?: GpuNormOptions): Saved {
    const f = this.forwardSteps(rms, x, ns, options);
    this.run(f.steps);
    return f.out;
  }

  /** LayerNorm forward with its statistics (keep them for layerNormBackward). */
  layerNormForward(x: GpuTensor, ns: number | readonly number[], options?: GpuNormOptions) {
    const o = this.#forward(false, x, ns, options);
    return { y: o.y, mean: o.mean!, rstd: o.rstd };
  }
  layerNorm(x: GpuTensor, ns: number | readonly number[], options?: GpuNormOptions): GpuTensor {
    const o = this.#forward(false, x, ns, options);
    o.mean!.destroy();
    o.rstd.destroy();
    return o.y;
  }
  layerNormBackward(dy: GpuTensor, x: GpuTensor, ns: number | readonly number[], options?: GpuBackwardOptions): GpuGrads {
    const b = this.backwardSteps(false, dy, x, ns, options);
    this.run(b.steps, b.temps);
    return b.grads;
  }
  /** RMSNorm forward with its statistics (keep rstd for rmsNormBackward). */
  rmsNormForward(x: GpuTensor, ns: number | readonly number[], options?: GpuNormOptions) {
    const o = this.#forward(true, x, ns, options);
    return { y: o.y, rstd: o.rstd };
  }
  rmsNorm(x: GpuTensor, ns: number | readonly number[], options?: GpuNormOptions): GpuTensor {
    const o = this.#forward(true, x, ns, options);
    o.rstd.destroy();
    return o.y;
  }
  rmsNormBackward(dy: GpuTensor, x: GpuTensor, ns: number | readonly number[], options?: GpuBackwardOptions): GpuGrads {
    const b = this.backwardSteps(true, dy, x, ns, options);
    this.run(b.steps, b.temps);
    return b.grads;
  }

  /** GroupNorm forward with its statistics ([N, G]; keep them for groupNormBackward). */
  groupNormForward(x: GpuTensor, numGroups: number, options?: GpuNormOptions) {
    const f = this.groupNormForwardSteps(x, numGroups, options);
    this.run(f.steps);
    return { y: f.out.y, mean: f.out.mean!, rstd: f.out.rstd };
  }
  groupNorm(x: GpuTensor, numGroups: number, options?: GpuNormOptions): GpuTensor {
    const f = this.groupNormForward(x, numGroups, options);
    f.mean.destroy();
    f.rstd.destroy();
    return f.y;
  }
  groupNormBackward(dy: GpuTensor, x: GpuTensor, numGroups: number, options?: GpuBackwardOptions): GpuGrads {
    const b = this.groupNormBackwardSteps(dy, x, numGroups, options);
    this.run(b.steps, b.temps);
    return b.grads;
  }

  /**
   * The core API on CPU tensors, async: upload, run, read back, free. Same validation and options
   * (`out`, saved `mean`/`rstd`, `into`); `out` and `into` are filled on the CPU after the read.
   */
  readonly cpu = {
    layerNorm: async (x: Tensor, ns: number | readonly number[], options?: ForwardOptions) =>
      (await this.#cpuForward(false, x, ns, options)).y,
    rmsNorm: async (x: Tensor, ns: number | readonly number[], options?: ForwardOptions) =>
      (await this.#cpuForward(true, x, ns, options)).y,
    layerNormForward: async (x: Tensor, ns: number | readonly number[], options?: ForwardOptions) => {
      const r = await this.#cpuForward(false, x, ns, options, true);
      return { y: r.y, mean: r.mean!, rstd: r.rstd! };
    },
    rmsNormForward: async (x: Tensor, ns: number | readonly number[], options?: ForwardOptions) => {
      const r = await this.#cpuForward(true, x, ns, options, true);
      return { y: r.y, rstd: r.rstd! };
    },
    layerNormBackward: (dy: Tensor, x: Tensor, ns: number | readonly number[], options?: BackwardOptions) =>
      this.#cpuBackward(false, dy, x, ns, options),
    rmsNormBackward: (dy: Tensor, x: Tensor, ns: number | readonly number[], options?: BackwardOptions) =>
      this.#cpuBackward(true, dy, x, ns, options),
    groupNorm: async (x: Tensor, numGroups: number, options?: NormOptions): Promise<Tensor> => {
      const a = groupNormArgs(x, numGroups, options);
      const { held, up } = this.#uploader();
      try {
        const y = this.groupNorm(up(a.x.data, a.x.shape, "x")!, a.G, { weight: up(a.weight, [a.C], "weight"), bias: up(a.bias, [a.C], "bias"), eps: a.eps });
        held.push(y);
        return await y.read();
      } finally {
        for (const t of held) t.destroy();
      }
    },
    groupNormBackward: async (dy: Tensor, x: Tensor, numGroups: number, options?: NormOptions): Promise<Grads> => {
      const a = groupNormArgs(x, numGroups, options);
      const g = checkSameShape(dy, a.x);
      const { held, up } = this.#uploader();
      try {
        const r = this.groupNormBackward(up(g.data, a.x.shape, "dy")!, up(a.x.data, a.x.shape, "x")!, a.G, {
          weight: up(a.weight, [a.C], "weight"), bias: up(a.bias, [a.C], "bias"), eps: a.eps,
        });
        held.push(r.dx, ...(r.dweight ? [r.dweight] : []), ...(r.dbias ? [r.dbias] : []));
        const [dx, dw, db] = await Promise.all([r.dx.read(), r.dweight?.read() ?? null, r.dbias?.read() ?? null]);
        return { dx, dweight: dw, dbias: db };
      } finally {
        for (const t of held) t.destroy();
      }
    },
  };

  /** Uploads the given CPU arrays (null stays null); `held` lists what the caller frees. */
  #uploader() {
    const held: GpuTensor[] = [];
    const up = (t: Float32Array | null, shape: readonly number[], name: string) => {
      if (t === null) return null;
      const g = this.upload({ shape, data: t }, name);
      held.push(g);
      return g;
    };
    return { held, up };
  }

  async #cpuForward(rms: boolean, x: Tensor, ns: number | readonly number[], options?: ForwardOptions, stats = false) {
    const a = rowNormArgs(x, ns, options, rms ? RMS_NORM_EPS : LAYER_NORM_EPS, true);
    const { held, up } = this.#uploader();
    try {
      const gx = up(a.x.data, a.x.shape, "x")!;
      const opts = { weight: up(a.weight, a.normalizedShape, "weight"), bias: up(a.bias, a.normalizedShape, "bias"), eps: a.eps };
      const o = this.#forward(rms, gx, a.normalizedShape, opts);
      held.push(o.y, o.rstd, ...(o.mean ? [o.mean] : []));
      const [y, mean, rstd] = await Promise.all([o.y.read(), stats ? (o.mean?.read() ?? null) : null, stats ? o.rstd.read() : null]);
      return { y: a.out !== null ? (a.out.set(y.data), out(a.out, y.shape)) : y, mean, rstd };
    } finally {
      for (const g of held) g.destroy();
    }
  }

  async #cpuBackward(rms: boolean, dy: Tensor, x: Tensor, ns: number | readonly number[], options?: BackwardOptions): Promise<Grads> {
    const a = rowNormBackwardArgs(dy, x, ns, options, rms ? RMS_NORM_EPS : LAYER_NORM_EPS, rms);
    const { held, up } = this.#uploader();
    try {
      const sshape = statShape(a.x.shape, a.normalizedShape);
      const b = this.backwardSteps(rms, up(a.dy, a.x.shape, "dy"), up(a.x.data, a.x.shape, "x"), a.normalizedShape, {
        weight: up(a.weight, a.normalizedShape, "weight"), bias: up(a.bias, a.normalizedShape, "bias"), eps: a.eps,
        mean: up(a.stats?.mean ?? null, sshape, "mean") ?? undefined, rstd: up(a.stats?.rstd ?? null, sshape, "rstd") ?? undefined,
      });
      const { dx, dweight, dbias } = b.grads;
      held.push(dx, ...(dweight ? [dweight] : []), ...(dbias ? [dbias] : []));
      this.run(b.steps, b.temps);
      const [rx, rw, rb] = await Promise.all([dx.read(), dweight?.read() ?? null, dbias?.read() ?? null]);
      // out and into are written only now, after every read succeeded
      const grad = (into: Float32Array | null, r: Tensor | null) => {
        if (r === null || into === null) return r;
        for (let i = 0; i < into.length; i++) into[i] += r.data[i];
        return out(into, a.normalizedShape);
      };
      if (a.out !== null) a.out.set(rx.data);
      return { dx: a.out !== null ? out(a.out, a.x.shape) : rx, dweight: grad(a.into.dweight, rw), dbias: grad(a.into.dbias, rb) };
    } finally {
      for (const g of held) g.destroy();
    }
  }

  /** Frees every buffer this backend made, and the device if the backend created it. */
  destroy(): void {
    for (const b of [...this.#live]) this.release(b);
    this.#pipelines.clear();
    if (this.ownsDevice) this.device.destroy();
  }
}

/** Checks, on the device, that subgroups are aligned runs of `size` invocations (what the kernels assume). */
async function probeSubgroups(device: GPUDevice): Promise<number> {
  const module = device.createShaderModule({ code: SUBGROUP_PROBE });
  const p = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const bytes = WORKGROUP * 8;
  const out = device.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC });
  const st = device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
  try {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(p);
    pass.setBindGroup(0, device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] }));
    pass.dispatchWorkgroups(1);
    pass.end();
    enc.copyBufferToBuffer(out, 0, st, 0, bytes);
    device.queue.submit([enc.finish()]);
    await st.mapAsync(1);
    const o = new Uint32Array(st.getMappedRange().slice(0));
    st.unmap();
    const size = o[1]!;
    if (!(size >= 4 && size <= WORKGROUP && Number.isInteger(Math.log2(size)))) return 0;
    for (let i = 0; i < WORKGROUP; i++) if (o[2 * i] !== i - (i % size) || o[2 * i + 1] !== size) return 0;
    return size;
  } finally {
    out.destroy();
    st.destroy();
  }
}

/**
 * A WebGPU backend. In browsers it uses navigator.gpu; in Node pass `{ device }` or use
 * createNodeGpu() from "normkit/webgpu-node". Throws NormError BACKEND_UNAVAILABLE when there is no
 * WebGPU or no adapter.
 */
export async function createGpuBackend(options: GpuBackendOptions = {}): Promise<GpuBackend> {
  let device = options.device;
  let info: GPUAdapterInfo | undefined;
  const owns = device === undefined;
  if (device === undefined) {
    const gpu = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (gpu === undefined) {
      throw new NormError(
        "BACKEND_UNAVAILABLE",
        "gpu",
        "WebGPU is not available here (no navigator.gpu); in Node use createNodeGpu() from \"normkit/webgpu-node\" or pass { device }",
      );
    }
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
    if (adapter === null) {
      throw new NormError("BACKEND_UNAVAILABLE", "gpu", "no WebGPU adapter found (no usable GPU or software renderer)");
    }
    info = adapter.info;
    const want = (["subgroups", "timestamp-query"] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
    // the largest buffers the adapter allows, not the 128/256 MiB defaults
    const requiredLimits = {
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      // more workgroup memory lets backward sum its partials per workgroup at wider rows (plan.ts)
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    };
    device = await adapter.requestDevice({ requiredFeatures: want, requiredLimits });
  } else {
    info = device.adapterInfo;
  }
  let sg = 0;
  const fixedSize = info === undefined || info.subgroupMinSize === undefined || info.subgroupMinSize === info.subgroupMaxSize;
  if (options.subgroups !== false && device.features.has("subgroups") && fixedSize) sg = await probeSubgroups(device);
  const ai = { vendor: info?.vendor ?? "", architecture: info?.architecture ?? "", device: info?.device ?? "", description: info?.description ?? "" };
  return new GpuBackend(device, sg, ai, owns, options.gpu ?? null);
}
