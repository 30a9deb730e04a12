/// <reference types="@webgpu/types" />
/**
 * GroupNorm on the GPU as data (see row-steps.ts for the pattern). x [N, C, *]: each (n, g) is a
 * contiguous row of (C/G)·S values, run by the LayerNorm row kernel in its per-channel mode (γ/β
 * looked up per channel); statistics of shape [N, G]; dweight/dbias summed per channel over
 * samples and positions by chanGradWGSL in a fixed order.
 */
import {
  GROUP_NORM_EPS, GROUP_MODE_KEYS, GROUP_NORM_KEYS, checkNumGroups, channelArgsOf, gradsInto, savedStats, checkOptions, checkShapeEqual,
} from "../../core/index.js";
import type { Call, GpuStep } from "./context.js";
import { backwardBlocks } from "./plan.js";
import type { Saved } from "./row-steps.js";
import type { GpuTensor } from "./tensor.js";
import type { GpuBackwardOptions, GpuGrads, GpuNormOptions } from "./types.js";
import { WORKGROUP, backwardWGSL, chanGradWGSL, forwardWGSL, type KernelPlan, type RowKernelSpec } from "./wgsl.js";

/** The core's GroupNorm keys, not yet issue #12's channelsLast/activation (UNKNOWN_OPTION here rather than ignored). */
const GPU_GROUP_KEYS = GROUP_NORM_KEYS.filter((k) => !GROUP_MODE_KEYS.includes(k));

function groupArgs(c: Call, x: unknown, numGroups: unknown, o: Partial<GpuNormOptions>) {
  const a = channelArgsOf(c.read, "groupNorm", x, o, GROUP_NORM_EPS);
  const G = checkNumGroups(numGroups, a.C);
  return { ...a, G, rows: a.N * G, D: (a.C / G) * a.S };
}

/** The plan of a GroupNorm row: vec4 items must not straddle two channels. */
function groupPlan(c: Call, a: ReturnType<typeof groupArgs>, backward: boolean, over: unknown): KernelPlan {
  const forced = over !== undefined && over !== null ? checkOptions<KernelPlan>(over, "plan") : {};
  return c.ctx.plan(a.D, backward, { ...(backward ? { wgsum: false } : {}), ...(a.S % 4 !== 0 ? { vec: 1 as const } : {}), ...forced });
}

/** GroupNorm forward dispatch + outputs (statistics of shape [N, G]). */
export function groupForwardSteps(c: Call, x: unknown, numGroups: unknown, options?: unknown) {
  const o = checkOptions<GpuNormOptions>(options, "options", [...GPU_GROUP_KEYS, "plan"]);
  const a = groupArgs(c, x, numGroups, o);
  const plan = groupPlan(c, a, false, o.plan);
  return { ...groupForwardOf(c, a, plan), plan, args: a };
}

function groupForwardOf(c: Call, a: ReturnType<typeof groupArgs>, plan: KernelPlan) {
  const { rows, D, G } = a;
  const out: Saved = { y: c.empty(a.x.shape, "y"), mean: c.empty([a.N, G], "mean"), rstd: c.empty([a.N, G], "rstd") };
  const steps: GpuStep[] = [];
  if (rows > 0 && D > 0) {
    const spec: RowKernelSpec = { rms: false, D, hasW: a.weight !== null, hasB: a.bias !== null, plan, chan: { G, Cg: a.C / G, S: a.S } };
    const eps = Math.fround(a.eps);
    const p = c.ctx.pipeline(c, `fwd ${JSON.stringify(spec)} ${eps}`, () => forwardWGSL(spec, eps));
    const n = rows * D * 4;
    const bg = c.ctx.bind(p, {
      0: [a.x, n],
      1: a.weight && [a.weight, a.C * 4],
      2: a.bias && [a.bias, a.C * 4],
      3: [out.y, n],
      4: [out.mean!, rows * 4],
      5: [out.rstd, rows * 4],
    });
    steps.push({ pipeline: p, bindGroup: bg, groups: c.ctx.groups(Math.ceil(rows / (WORKGROUP / plan.T))) });
  }
  return { steps, out };
}

/**
 * GroupNorm backward: dx by the row kernel in its per-channel mode (from saved `mean`/`rstd` of
 * shape [N, G], else recomputed), then dweight/dbias per channel by chanGradWGSL.
 */
export function groupBackwardSteps(c: Call, dy: unknown, x: unknown, numGroups: unknown, options?: unknown) {
  const o = checkOptions<GpuBackwardOptions>(options, "options", [...GPU_GROUP_KEYS, "plan", "mean", "rstd", "into"]);
  const a = groupArgs(c, x, numGroups, o);
  const { rows, D, G } = a;
  const g = c.read(dy, "dy");
  checkShapeEqual(g, a.x, "dy");
  const plan = groupPlan(c, a, true, o.plan);
  const saved = savedStats(c.read, o, false, [a.N, G]);
  const into = gradsInto(c.write, o.into, a.weight !== null, a.bias !== null, [a.C]);
  c.checkAliasing();
  // validated: from here on only allocation and encoding
  const steps: GpuStep[] = [];
  const temps: GpuTensor[] = [];
  let mean: GpuTensor, rstd: GpuTensor;
  if (saved !== null) {
    mean = saved.mean!;
    rstd = saved.rstd;
  } else {
    const f = groupForwardOf(c, a, groupPlan(c, a, false, undefined));
    steps.push(...f.steps);
    temps.push(f.out.y, f.out.mean!, f.out.rstd);
    mean = f.out.mean!;
    rstd = f.out.rstd;
  }
  const dx = c.empty(a.x.shape, "dx");
  const dweight = a.weight === null ? null : (into.dweight ?? c.empty([a.C], "dweight"));
  const dbias = a.bias === null ? null : (into.dbias ?? c.empty([a.C], "dbias"));
  if (rows > 0 && D > 0) {
    const n = rows * D * 4;
    const spec: RowKernelSpec = { rms: false, D, hasW: a.weight !== null, hasB: false, plan, chan: { G, Cg: a.C / G, S: a.S } };
    const p = c.ctx.pipeline(c, `bwd ${JSON.stringify(spec)} false false`, () => backwardWGSL(spec, false, false));
    const bg = c.ctx.bind(p, {
      0: [g, n],
      1: [a.x, n],
      2: [mean, rows * 4],
      3: [rstd, rows * 4],
      4: a.weight && [a.weight, a.C * 4],
      5: [dx, n],
    });
    steps.push({ pipeline: p, bindGroup: bg, groups: [backwardBlocks(rows, plan), 1] });
    // one pass for both sums when they accumulate alike, else one each
    const outs = ([[dweight, into.dweight !== null, "w"], [dbias, into.dbias !== null, "b"]] as const).filter(([t]) => t !== null);
    const passes = outs.length === 2 && outs[0][1] === outs[1][1] ? [outs] : outs.map((x) => [x]);
    for (const pass of passes) {
      const hasW = pass.some(([, , k]) => k === "w"), hasB = pass.some(([, , k]) => k === "b"), acc = pass[0]![1];
      const cp = c.ctx.pipeline(c, `changrad ${a.C} ${a.S} ${G} ${hasW} ${hasB} ${acc}`, () => chanGradWGSL(a.C, a.S, G, hasW, hasB, acc));
      const cbg = c.ctx.bind(cp, {
        0: [g, n],
        1: [a.x, n],
        2: [mean, rows * 4],
        3: [rstd, rows * 4],
        4: hasW ? [dweight!, a.C * 4] : null,
        5: hasB ? [dbias!, a.C * 4] : null,
      });
      steps.push({ pipeline: cp, bindGroup: cbg, groups: c.ctx.groups(a.C) });
    }
  }
  return { steps, temps, grads: { dx, dweight, dbias } as GpuGrads, plan, args: a };
}
