/// <reference types="@webgpu/types" />
/**
 * Dispatch helpers shared by the issue #12 steps (ext-row-steps.ts, ext-group-steps.ts,
 * ext-batch-steps.ts): pipelines of the generated kernels, x-typed outputs through a float32
 * scratch where a kernel cannot store them directly, casts, and parameter gradients summed from
 * partial rows into a tensor of any dtype (accumulating for `into`).
 */
import { NormError } from "../../errors.js";
import type { DType } from "../../dtype.js";
import type { Call, GpuStep } from "./context.js";
import type { AnyGpuTensor } from "./types.js";
import type { Store } from "./wgsl-half.js";
import { castWGSL, colsumExtWGSL, elementwiseThreads } from "./wgsl-ext-aux.js";

/** The steps of one call, and the temporaries freed after its submit. */
export class Work {
  readonly steps: GpuStep[] = [];
  readonly temps: AnyGpuTensor[] = [];
  constructor(readonly c: Call) {}

  /** A tensor freed after the submit. */
  temp(shape: readonly number[], what: string, dtype: DType = "float32"): AnyGpuTensor {
    const t = this.c.empty(shape, what, dtype);
    this.temps.push(t);
    return t;
  }

  /** One dispatch of `code` (cached by `key`) over `groups` workgroups with these bindings. */
  run(key: string, code: () => string, bindings: Record<number, readonly [AnyGpuTensor, number, number?] | null>, groups: [number, number]): void {
    const p = this.c.ctx.pipeline(this.c, key, code);
    this.steps.push({ pipeline: p, bindGroup: this.c.ctx.bind(p, bindings), groups });
  }

  /** A workgroup grid (2-D past maxComputeWorkgroupsPerDimension) for n workgroups. */
  grid(n: number): [number, number] {
    return this.c.ctx.groups(n);
  }

  /** dst (+)= src (dst's size in elements, from `srcByteOffset` of src), converted to dst's dtype. */
  cast(src: AnyGpuTensor, dst: AnyGpuTensor, accumulate: boolean, srcByteOffset = 0): void {
    const n = dst.size;
    if (n === 0) return;
    const f16 = this.c.ctx.f16;
    const s: Store = { dt: src.dtype, w: 1, f16 }, d: Store = { dt: dst.dtype, w: 1, f16 };
    const meta = this.c.meta([n], "cast size");
    this.temps.push(meta);
    this.run(`cast ${JSON.stringify([s, d, accumulate])}`, () => castWGSL(s, d, accumulate), {
      0: [src, n * (src.dtype === "float32" ? 4 : 2), srcByteOffset], 1: [dst, bytes(dst)], 7: [meta, 4],
    }, this.grid(Math.ceil(elementwiseThreads(n, d) / 256)));
  }

  /**
   * target (+)= Σ_p part[p·D + c] for P partial rows starting `byteOffset` into `part` (compensated):
   * straight into a float32 target, else into a float32 temporary and cast into the target.
   */
  colsum(part: AnyGpuTensor, byteOffset: number, P: number, D: number, target: AnyGpuTensor, accumulate: boolean): void {
    const groups = Math.ceil(D / 64);
    if (groups > this.c.ctx.device.limits.maxComputeWorkgroupsPerDimension) {
      throw new NormError("LIMIT_EXCEEDED", "normalizedShape", `D = ${D} needs ${groups} workgroups, over this device's maxComputeWorkgroupsPerDimension`);
    }
    const direct = target.dtype === "float32";
    const dst = direct ? target : this.temp([D], "gradient sum");
    const acc = direct && accumulate;
    this.run(`xcolsum ${acc}`, () => colsumExtWGSL(acc), { 0: [part, P * D * 4, byteOffset], 1: [dst, D * 4] }, [groups, 1]);
    if (!direct) this.cast(dst, target, accumulate);
  }
}

/** Bytes of a tensor's data. */
export const bytes = (t: AnyGpuTensor): number => t.size * (t.dtype === "float32" ? 4 : 2);

export { slotFloats } from "./wgsl-ext.js";

/** The device's storage-buffer limit per shader stage (the fused add + LayerNorm binds 9). */
export const storageLimit = (c: Call): number => c.ctx.device.limits.maxStorageBuffersPerShaderStage;
