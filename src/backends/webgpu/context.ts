/// <reference types="@webgpu/types" />
/**
 * The device side of a GPU backend: the buffers it made (liveBuffers counts them, destroy frees
 * them), the pipeline cache, device loss, readback, and calls.
 *
 * A call (one public op, an upload, a wrap) runs its work inside error scopes (out-of-memory,
 * validation, internal). Scopes answer asynchronously while ops return at once, so a call's
 * verdict is attached to the tensors it made: `read()`/`ready()` reject with it, and once known
 * every later op given such a tensor throws it at the call. A call that fails frees every buffer it
 * made: at once when it throws, when the verdict comes back when the device rejects it. A call that
 * consumed a tensor of a failed call fails with it (its inputs were garbage), and so does a caller's
 * `into` tensor it added to.
 */
import { NormError, describe } from "../../errors.js";
import { requireFloat32, type Reader } from "../../core/index.js";
import type { DType } from "../../dtype.js";
import type { GpuBackend } from "./backend.js";
import { resolvePlan } from "./plan.js";
import { bytesOf, destroyedError, inheritedError, makeTensor, stateOf, type GpuTensor, type TensorState, type Verdict } from "./tensor.js";
import type { AnyGpuTensor } from "./types.js";
import type { KernelPlan } from "./wgsl.js";

// GPUBufferUsage / GPUMapMode values (the globals are absent in Node unless Dawn's are installed)
export const MAP_READ = 0x1;
export const COPY_SRC = 0x4;
export const COPY_DST = 0x8;
export const STORAGE = 0x80;
const TENSOR_USAGE = STORAGE | COPY_SRC | COPY_DST;

/** One dispatch: what the ops submit and what the benchmark replays. */
export interface GpuStep {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  groups: [number, number];
}

export type Arg = { t: AnyGpuTensor; name: string; s: TensorState };
type ScopeError = readonly [GPUErrorFilter, GPUError];

const PLAN_KEYS = new Set(["T", "vec", "sg", "store", "wgsum"]);

/** The tensors one call reads, writes and makes, for its checks, its verdict and its cleanup. */
export class Call {
  readonly reads: Arg[] = [];
  readonly writes: Arg[] = [];
  readonly made: AnyGpuTensor[] = [];
  readonly pipelines: string[] = [];
  constructor(
    readonly ctx: GpuContext,
    readonly op: string,
  ) {}
  /** Validates a float32 tensor the call reads (the core's validators take it as their `check`). */
  read = (t: unknown, name: string): GpuTensor => requireFloat32(this.readAny(t, name), name) as GpuTensor;
  /** Validates a tensor of any dtype the call reads. */
  readAny = (t: unknown, name: string): AnyGpuTensor => {
    const g = this.ctx.tensorArg(t, name);
    this.reads.push({ t: g, name, s: stateOf(g)! });
    return g;
  };
  /** Validates a caller's float32 tensor the call writes (`into.*`). */
  write = (t: unknown, name: string): GpuTensor => requireFloat32(this.writeAny(t, name), name) as GpuTensor;
  /** Validates a caller's tensor of any dtype the call writes. */
  writeAny = (t: unknown, name: string): AnyGpuTensor => {
    const g = this.ctx.tensorArg(t, name);
    this.writes.push({ t: g, name, s: stateOf(g)! });
    return g;
  };
  /** This call's tensors for the core's argument checks (rowBackwardOf, batchNormOf, …): read and written ones recorded for checkAliasing. */
  readonly reader: Reader<AnyGpuTensor> = { read: this.readAny, write: this.writeAny };
  /** A new zero-filled tensor of this call (freed if the call fails). */
  empty(shape: readonly number[], what: string): GpuTensor;
  empty(shape: readonly number[], what: string, dtype: DType): AnyGpuTensor;
  empty(shape: readonly number[], what: string, dtype: DType = "float32"): AnyGpuTensor {
    let n = 1;
    for (const d of shape) n *= d;
    const t = makeTensor(this.ctx, this.ctx.backend, this.ctx.buffer(bytesOf(n, dtype), TENSOR_USAGE, what), shape, 0, false, dtype);
    this.made.push(t);
    return t;
  }
  /** A temporary tensor holding `values` as uint32 (kernel parameters that vary per call), float32-typed. */
  meta(values: readonly number[], what: string): GpuTensor {
    const t = this.empty([values.length], what);
    this.ctx.device.queue.writeBuffer(stateOf(t)!.buffer!, 0, new Uint32Array(values));
    return t;
  }
  /**
   * Each written tensor shares its GPUBuffer with no read tensor and no other written one, as on
   * the CPU (inputs are never modified). The whole buffer counts: WebGPU forbids a buffer bound
   * for writing and for reading in one dispatch, whatever the ranges.
   */
  checkAliasing(): void {
    this.writes.forEach((w, k) => {
      for (const o of [...this.reads, ...this.writes.slice(0, k)]) {
        if (o.s.buffer === w.s.buffer) {
          const how = o.t === w.t ? "the same tensor" : "a tensor in the same GPUBuffer";
          throw new NormError("BAD_ARGUMENT", w.name, `expected a GPU buffer not shared with ${o.name} (inputs are never modified), got ${how}`);
        }
      }
    });
  }
}

export class GpuContext {
  readonly live = new Set<GPUBuffer>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly #filters: GPUErrorFilter[];
  lost: GPUDeviceLostInfo | null = null;
  /** set by gpu.destroy(): every tensor of the backend reports destroyed */
  destroyed = false;
  /** Uncaptured GPU errors (normkit's own work runs in error scopes, so these are others'). */
  readonly errors: string[] = [];
  /** Maximum bytes of one tensor on this device. */
  readonly maxBytes: number;
  /** Whether float16 tensors can be bound as native f16 arrays (the device has shader-f16). */
  readonly f16: boolean;

  constructor(
    readonly backend: GpuBackend,
    readonly device: GPUDevice,
    readonly subgroupSize: number,
    readonly ownsDevice: boolean,
  ) {
    this.maxBytes = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
    this.f16 = device.features.has("shader-f16");
    device.lost.then((info) => {
      this.lost = info;
    });
    device.addEventListener?.("uncapturederror", (e) => {
      this.errors.push((e as GPUUncapturedErrorEvent).error.message);
    });
    // "internal" scopes are newer than the other two; without them such errors stay uncaptured
    const filters: GPUErrorFilter[] = ["out-of-memory", "validation", "internal"];
    try {
      device.pushErrorScope("internal");
      void device.popErrorScope().catch(() => null);
    } catch {
      filters.pop();
    }
    this.#filters = filters;
  }

  /** Throws DEVICE_LOST once the backend is destroyed or its device lost. */
  alive(): void {
    if (this.destroyed) throw new NormError("DEVICE_LOST", "gpu", "this GPU backend was destroyed (gpu.destroy()); create a new backend");
    if (this.lost !== null) {
      throw new NormError("DEVICE_LOST", "device", `the GPU device was lost (${this.lost.reason}): ${this.lost.message || "no message"}; create a new backend`);
    }
  }

  /** A tracked buffer; `what` names it in the limit error and in the device's messages. */
  buffer(bytes: number, usage: number, what: string): GPUBuffer {
    this.alive();
    if (bytes > this.maxBytes) {
      const l = this.device.limits;
      throw new NormError(
        "LIMIT_EXCEEDED",
        what,
        `needs ${bytes} bytes but this GPU device allows at most ${this.maxBytes} bytes per buffer (min of maxBufferSize ${l.maxBufferSize} and maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize})`,
      );
    }
    // sizes rounded up to 16 bytes so that vec4 bindings of any tensor fit; 0 becomes 16
    const b = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage, label: `normkit ${what}` });
    this.live.add(b);
    return b;
  }

  /** Destroys a buffer this backend made (never a wrapped one: those are not in `live`). */
  release(b: GPUBuffer): void {
    if (this.live.delete(b)) b.destroy();
  }

  /** Validates a GpuTensor argument: a real one, ours, not destroyed or failed, device alive. */
  tensorArg(t: unknown, name: string): AnyGpuTensor {
    const s = stateOf(t);
    if (s === undefined) {
      throw new NormError("BAD_ARGUMENT", name, `expected a GpuTensor (from gpu.upload, gpu.wrap or an op; not a copy or Proxy of one), got ${describe(t)}`);
    }
    if (s.ctx !== this) throw new NormError("BAD_ARGUMENT", name, "GpuTensor belongs to another GPU backend");
    if (s.fault !== null) throw inheritedError(name, s.fault);
    if (s.buffer === null || this.destroyed) throw destroyedError(s, name);
    this.alive();
    if (s.wrapped && s.buffer.mapState !== "unmapped") {
      throw new NormError("BAD_ARGUMENT", name, `expected an unmapped GPUBuffer, got one that is ${s.buffer.mapState}: unmap it before normkit uses it`);
    }
    return t as AnyGpuTensor;
  }

  pipeline(c: Call, key: string, code: () => string): GPUComputePipeline {
    let p = this.#pipelines.get(key);
    if (p === undefined) {
      const module = this.device.createShaderModule({ code: code() });
      p = this.device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      this.#pipelines.set(key, p);
      c.pipelines.push(key);
    }
    return p;
  }

  /**
   * A bind group: binding → [tensor, bytes bound from its offset, extra byte offset] (null entries
   * are skipped). Bound sizes are rounded up to 4 bytes (a half tensor of odd size: its last word).
   */
  bind(p: GPUComputePipeline, entries: Record<number, readonly [AnyGpuTensor, number, number?] | null>): GPUBindGroup {
    const list: GPUBindGroupEntry[] = [];
    for (const [k, v] of Object.entries(entries)) {
      if (v === null) continue;
      const s = stateOf(v[0])!;
      list.push({ binding: Number(k), resource: { buffer: s.buffer!, offset: s.byteOffset + (v[2] ?? 0), size: Math.ceil(v[1] / 4) * 4 } });
    }
    return this.device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: list });
  }

  /** A 2-D grid of n workgroups within maxComputeWorkgroupsPerDimension. */
  groups(n: number): [number, number] {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(n, max);
    return [x, Math.ceil(n / x)];
  }

  /** The kernel plan for row width D (see plan.ts); `over` is an op's `plan` option. */
  plan(D: number, backward: boolean, over?: unknown): KernelPlan {
    if (over !== undefined && over !== null) {
      if (typeof over !== "object" || Array.isArray(over)) throw new NormError("BAD_ARGUMENT", "plan", `expected a partial kernel plan object, got ${describe(over)}`);
      for (const k of Object.keys(over)) {
        if (!PLAN_KEYS.has(k)) throw new NormError("BAD_ARGUMENT", `plan.${k}`, `unknown key; a plan has ${[...PLAN_KEYS].join(", ")}`);
      }
    }
    return resolvePlan(D, backward, this.subgroupSize, (over ?? undefined) as Partial<KernelPlan> | undefined, this.device.limits.maxComputeWorkgroupStorageSize);
  }

  /** Encodes steps into one compute pass and submits them; `temps` are freed after the submit. */
  submit(steps: readonly GpuStep[], temps: readonly AnyGpuTensor[] = []): void {
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

  /** Opens error scopes; the function returned closes them and resolves to the first error. */
  #scopes(): () => Promise<ScopeError | null> {
    for (const f of this.#filters) this.device.pushErrorScope(f);
    return () => {
      const pops = [...this.#filters].reverse().map((f) =>
        this.device.popErrorScope().then((e): ScopeError | null => (e ? [f, e] : null), () => null),
      );
      // out-of-memory first: an allocation that failed makes the later validation errors
      return Promise.all(pops).then((l) => l.reverse().find((e) => e !== null) ?? null);
    };
  }

  /**
   * Runs one call: `body` validates (c.read/c.write), allocates (c.empty) and submits. If it
   * throws, everything it made is freed at once; else the device's verdict is attached to what it
   * made (and to the `into` tensors it wrote), and a failure frees what it made when it arrives.
   */
  call<R>(op: string, body: (c: Call) => R): R {
    const c = new Call(this, op);
    const close = this.#scopes();
    let r: R;
    try {
      r = body(c);
    } catch (e) {
      for (const t of c.made) t.destroy();
      void close().then((v) => v && this.#forget(c.pipelines));
      throw e;
    }
    this.#settle(c, close());
    return r;
  }

  #settle(c: Call, own: Promise<ScopeError | null>): void {
    const upstream = [...c.reads, ...c.writes]
      .filter((a) => a.s.pending !== null)
      .map((a) => a.s.pending!.then((v): Verdict => v && { error: inheritedError(a.name, v.error), inherited: true }));
    const verdict = Promise.all([own, ...upstream]).then(([o, ...up]): Verdict =>
      up.find((v) => v !== null) ?? (o ? { error: this.#normError(c.op, [...c.reads, ...c.writes], o), inherited: false } : null),
    );
    // an `into` tensor is corrupted only when an input was (a call the device rejects runs nothing)
    const intoVerdict = verdict.then((v) => (v?.inherited ? v : null));
    for (const t of c.made) stateOf(t)!.pending = verdict;
    for (const w of c.writes) w.s.pending = intoVerdict;
    void verdict.then((v) => {
      for (const t of c.made) {
        const s = stateOf(t)!;
        if (s.pending === verdict) s.pending = null;
        if (v === null) continue;
        s.fault ??= v.error;
        if (s.buffer !== null && !s.wrapped) this.release(s.buffer);
        s.buffer = null;
      }
      for (const w of c.writes) {
        if (w.s.pending === intoVerdict) w.s.pending = null;
        if (v?.inherited) w.s.fault ??= v.error;
      }
      if (v !== null && !v.inherited) this.#forget(c.pipelines);
    });
  }

  /** Drops pipelines made by a failed call (an invalid pipeline would fail every later call). */
  #forget(keys: readonly string[]): void {
    for (const k of keys) this.#pipelines.delete(k);
  }

  #normError(op: string, args: readonly Arg[], [filter, err]: ScopeError): NormError {
    const msg = err.message.trim();
    if (filter === "validation") {
      const wrapped = [...new Set(args.filter((a) => a.s.wrapped).map((a) => a.name))];
      return new NormError(
        "BAD_ARGUMENT",
        wrapped.length > 0 ? wrapped.join(", ") : "device",
        `the GPU device rejected ${op}: ${msg}` +
          (wrapped.length > 0 ? "\n(a wrapped GPUBuffer that its owner destroyed, or one of another device, does this)" : "\n(not expected: please report it as a normkit bug)"),
      );
    }
    const what = filter === "out-of-memory" ? "ran out of memory" : "failed (internal error)";
    return new NormError("LIMIT_EXCEEDED", "device", `the GPU device ${what} in ${op}: ${msg}; free GPU tensors (destroy()) or use smaller inputs`);
  }

  /** The DEVICE_LOST error of a read that the device aborted (`e`: mapAsync's rejection). */
  #abortedRead(e: unknown): NormError {
    const why = this.destroyed
      ? "the backend was destroyed (gpu.destroy())"
      : this.lost !== null
        ? `the GPU device was lost (${this.lost.reason}): ${this.lost.message || "no message"}`
        : `the GPU device aborted it (${(e as Error)?.name ?? "Error"}${(e as Error)?.message ? `: ${(e as Error).message}` : ""}; a destroyed device does this)`;
    return new NormError("DEVICE_LOST", "tensor", `a read in flight was cancelled: ${why}`);
  }

  /**
   * Reads a GPU tensor back: its data once the GPU has written it (float32, or a half tensor's bit
   * patterns as a Uint16Array with its dtype), or the failed call's error.
   */
  async read(t: unknown): Promise<{ shape: readonly number[]; data: Float32Array } | { shape: readonly number[]; data: Uint16Array; dtype: "float16" | "bfloat16" }> {
    // a tensor of a failed call rejects with that call's error (ops given it say where it came from)
    const known = stateOf(t)?.fault;
    if (known) throw known;
    const src = stateOf(this.tensorArg(t, "tensor"))!;
    // copies move whole 32-bit words: a half tensor of odd size reads its last word whole
    const bytes = Math.ceil(bytesOf(src.size, src.dtype) / 4) * 4;
    if (src.wrapped && !(src.buffer!.usage & COPY_SRC)) {
      throw new NormError("BAD_ARGUMENT", "tensor", "expected a wrapped GPUBuffer with COPY_SRC usage to read it back, got one without");
    }
    if (bytes === 0) {
      await (t as GpuTensor).ready();
      return src.dtype === "float32" ? { shape: src.shape, data: new Float32Array(0) } : { shape: src.shape, data: new Uint16Array(0), dtype: src.dtype };
    }
    const staging = this.buffer(bytes, MAP_READ | COPY_DST, "staging");
    const pending = src.pending;
    try {
      const close = this.#scopes();
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(src.buffer!, src.byteOffset, staging, 0, bytes);
      this.device.queue.submit([enc.finish()]);
      const own = close();
      let aborted: unknown = null;
      await staging.mapAsync(MAP_READ, 0, bytes).catch((e: unknown) => {
        aborted = e ?? new Error("mapAsync rejected");
      });
      // a read the device aborted first: after a device loss the verdicts need not come back
      if (aborted !== null) throw this.#abortedRead(aborted);
      const up = pending === null ? null : await pending;
      if (up !== null) throw up.error;
      if (src.fault !== null) throw src.fault;
      const o = await own;
      if (o !== null) throw this.#normError("read", [{ t: t as GpuTensor, name: "tensor", s: src }], o);
      const raw = staging.getMappedRange(0, bytes).slice(0);
      staging.unmap();
      if (src.dtype !== "float32") return { shape: src.shape, data: new Uint16Array(raw, 0, src.size), dtype: src.dtype };
      return { shape: src.shape, data: new Float32Array(raw) };
    } finally {
      this.release(staging);
    }
  }

  /** Frees every buffer this backend made (wrapped ones are only detached), and the device if it made it. */
  destroy(): void {
    this.destroyed = true;
    for (const b of [...this.live]) this.release(b);
    this.#pipelines.clear();
    if (this.ownsDevice) this.device.destroy();
  }
}
