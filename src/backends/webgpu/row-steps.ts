/// <reference types="@webgpu/types" />
/**
 * LayerNorm / RMSNorm on the GPU as data: the dispatches (GpuStep) of one forward or backward and
 * the tensors they write, built inside a Call (see context.ts). Validation is the core's
 * (rowNormArgsOf, savedStats, gradsInto), then the aliasing of `into`, then allocation: a call
 * that throws has made nothing that survives it. The kernels are in wgsl.ts, the variants in plan.ts.
 */
import { NormError } from "../../errors.js";
import {
  gradsInto, readOptions, rowNormArgsOf, ROW_BACKWARD_KEYS, ROW_FORWARD_KEYS, ROW_MODE_KEYS, savedStats, statShape, LAYER_NORM_EPS, RMS_NORM_EPS, checkShapeEqual,
} from "../../core/index.js";
import type { Call, GpuStep } from "./context.js";
import { backwardBlocks, partialRows } from "./plan.js";
import type { GpuTensor } from "./tensor.js";
import type { GpuGrads } from "./types.js";
import { WORKGROUP, backwardWGSL, colsumWGSL, forwardWGSL, type KernelPlan, type RowKernelSpec } from "./wgsl.js";

export type Saved = { y: GpuTensor; mean: GpuTensor | null; rstd: GpuTensor };

/**
 * The GPU ops' option keys: the core's (no `out`: GPU ops return new tensors; not yet issue #12's
 * weightOffset/castingMode, which are UNKNOWN_OPTION here rather than ignored), plus `plan`.
 */
const FORWARD_KEYS = Object.freeze([...ROW_FORWARD_KEYS.filter((k) => k !== "out" && !ROW_MODE_KEYS.includes(k)), "plan"]);
const BACKWARD_KEYS = Object.freeze([...ROW_BACKWARD_KEYS.filter((k) => k !== "out" && !ROW_MODE_KEYS.includes(k)), "plan"]);

/** The caller's options read once (own properties, known keys), then the core's row arguments. */
function rowArgs(c: Call, rms: boolean, x: unknown, ns: unknown, options: unknown, keys: readonly string[]) {
  const o = readOptions(options, "options", keys);
  return { ...rowNormArgsOf(c.read, x, ns, o, rms ? RMS_NORM_EPS : LAYER_NORM_EPS, keys), o };
}

/** Forward dispatch + outputs; `steps` is empty when there is nothing to compute. */
export function forwardSteps(c: Call, rms: boolean, x: unknown, ns: unknown, options?: unknown) {
  const a = rowArgs(c, rms, x, ns, options, FORWARD_KEYS);
  const plan = c.ctx.plan(a.D, false, a.o.plan);
  return { ...forwardStepsOf(c, rms, a, plan), plan, args: a };
}

function forwardStepsOf(c: Call, rms: boolean, a: ReturnType<typeof rowArgs>, plan: KernelPlan) {
  const sshape = statShape(a.x.shape, a.normalizedShape);
  const out: Saved = { y: c.empty(a.x.shape, "y"), mean: rms ? null : c.empty(sshape, "mean"), rstd: c.empty(sshape, "rstd") };
  const steps: GpuStep[] = [];
  if (a.rows > 0 && a.D > 0) {
    const spec: RowKernelSpec = { rms, D: a.D, hasW: a.weight !== null, hasB: a.bias !== null, plan };
    const eps = Math.fround(a.eps);
    const p = c.ctx.pipeline(c, `fwd ${JSON.stringify(spec)} ${eps}`, () => forwardWGSL(spec, eps));
    const n = a.rows * a.D * 4;
    const bg = c.ctx.bind(p, {
      0: [a.x, n],
      1: a.weight && [a.weight, a.D * 4],
      2: a.bias && [a.bias, a.D * 4],
      3: [out.y, n],
      4: out.mean && [out.mean, a.rows * 4],
      5: [out.rstd, a.rows * 4],
    });
    steps.push({ pipeline: p, bindGroup: bg, groups: c.ctx.groups(Math.ceil(a.rows / (WORKGROUP / plan.T))) });
  }
  return { steps, out };
}

/**
 * Backward dispatches (dx + partial sums, then the fixed-order column sums) and outputs. Without
 * saved statistics, the forward steps that compute them come first. `temps` are freed after submit.
 */
export function backwardSteps(c: Call, rms: boolean, dy: unknown, x: unknown, ns: unknown, options?: unknown) {
  const a = rowArgs(c, rms, x, ns, options, BACKWARD_KEYS);
  const o = a.o;
  const g = c.read(dy, "dy");
  checkShapeEqual(g, a.x, "dy");
  const plan = c.ctx.plan(a.D, true, o.plan);
  const saved = savedStats(c.read, o, rms, statShape(a.x.shape, a.normalizedShape));
  const into = gradsInto(c.write, o.into, a.weight !== null, a.bias !== null, a.normalizedShape);
  c.checkAliasing();
  const colGroups = Math.ceil(a.D / 64);
  if ((a.weight !== null || a.bias !== null) && a.rows > 0 && colGroups > c.ctx.device.limits.maxComputeWorkgroupsPerDimension) {
    throw new NormError("LIMIT_EXCEEDED", "normalizedShape", `D = ${a.D} needs ${colGroups} workgroups, over this device's maxComputeWorkgroupsPerDimension`);
  }
  // validated: from here on only allocation and encoding
  const steps: GpuStep[] = [];
  const temps: GpuTensor[] = [];
  let mean: GpuTensor | null;
  let rstd: GpuTensor;
  if (saved !== null) {
    ({ mean, rstd } = saved);
  } else {
    const f = forwardStepsOf(c, rms, a, c.ctx.plan(a.D, false));
    steps.push(...f.steps);
    temps.push(f.out.y, f.out.rstd, ...(f.out.mean ? [f.out.mean] : []));
    ({ mean, rstd } = f.out);
  }
  const dx = c.empty(a.x.shape, "dx");
  const dweight = a.weight === null ? null : (into.dweight ?? c.empty(a.normalizedShape, "dweight"));
  const dbias = a.bias === null ? null : (into.dbias ?? c.empty(a.normalizedShape, "dbias"));
  if (a.rows > 0 && a.D > 0) {
    const spec: RowKernelSpec = { rms, D: a.D, hasW: a.weight !== null, hasB: false, plan };
    const blocks = backwardBlocks(a.rows, plan);
    const P = partialRows(blocks, plan);
    const pw = dweight && c.empty([P, a.D], "partial dweight");
    const pb = dbias && c.empty([P, a.D], "partial dbias");
    if (pw) temps.push(pw);
    if (pb) temps.push(pb);
    const p = c.ctx.pipeline(c, `bwd ${JSON.stringify(spec)} ${!!pw} ${!!pb}`, () => backwardWGSL(spec, !!pw, !!pb));
    const n = a.rows * a.D * 4;
    const bg = c.ctx.bind(p, {
      0: [g, n],
      1: [a.x, n],
      2: mean && [mean, a.rows * 4],
      3: [rstd, a.rows * 4],
      4: a.weight && [a.weight, a.D * 4],
      5: [dx, n],
      6: pw && [pw, P * a.D * 4],
      7: pb && [pb, P * a.D * 4],
    });
    steps.push({ pipeline: p, bindGroup: bg, groups: [blocks, 1] });
    for (const [part, dst, acc] of [[pw, dweight, into.dweight !== null], [pb, dbias, into.dbias !== null]] as const) {
      if (part === null || dst === null) continue;
      const cp = c.ctx.pipeline(c, `colsum ${a.D} ${acc}`, () => colsumWGSL(a.D, acc));
      const cbg = c.ctx.bind(cp, { 0: [part, P * a.D * 4], 1: [dst, a.D * 4] });
      steps.push({ pipeline: cp, bindGroup: cbg, groups: [colGroups, 1] });
    }
  } else {
    // no rows: gradients are zero (fresh buffers are zero-initialized by WebGPU), dx is empty
  }
  return { steps, temps, grads: { dx, dweight, dbias } as GpuGrads, plan, args: a };
}
