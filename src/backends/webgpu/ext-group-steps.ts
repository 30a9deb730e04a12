/// <reference types="@webgpu/types" />
/**
 * GroupNorm with the issue #12 features (any dtypes, channels-last, fused SiLU) and InstanceNorm
 * (GroupNorm with G = C, plus running statistics) on the GPU, as data. Each (sample, group) is a
 * row of the #12 row kernel: "cf" map for [N, C, *], "cl" map for [N, *, C]; statistics [N, G].
 * dweight/dbias: chanGradExtWGSL's partial sums per chunk of positions, then colsumExtWGSL.
 * InstanceNorm's eval (running statistics) is BatchNorm's eval pass (ext-batch-steps.ts).
 */
import { groupNormOf, instanceNormOf, readFloat32, readOptions, savedStats } from "../../core/index.js";
import type { Call } from "./context.js";
import { EXT_GROUP_BACKWARD_KEYS, EXT_GROUP_KEYS, INSTANCE_BACKWARD_KEYS, INSTANCE_KEYS } from "./ext-args.js";
import { channelBackwardOf, encodeBnBackward, encodeBnForward, type ChannelGpuArgs } from "./ext-batch-steps.js";
import { extPlan } from "./ext-plan.js";
import { Work, bytes, slotFloats } from "./ext-steps.js";
import { backwardBlocks } from "./plan.js";
import type { GpuTensor } from "./tensor.js";
import type { AnyGpuTensor } from "./types.js";
import { chanGradExtWGSL, instanceRunningWGSL, type ChanGradSpec } from "./wgsl-ext-aux.js";
import { extBackwardWGSL, type ExtBackwardSpec } from "./wgsl-ext-backward.js";
import { extForwardWGSL, type ExtForwardSpec } from "./wgsl-ext-forward.js";
import { scratched, type ExtSpec } from "./wgsl-ext.js";
import { WORKGROUP, type KernelPlan } from "./wgsl.js";

type Opt = AnyGpuTensor | null;
type GroupArgs = ChannelGpuArgs & { G: number; cl: boolean; act: "silu" | null };

/** x [N, C, *] or, channels-last, [N, *, C]; weight/bias [C]: the core's groupNormOf with this call's reader. */
function groupArgs(c: Call, x: unknown, numGroups: unknown, o: Readonly<Record<string, unknown>>): GroupArgs {
  const a = groupNormOf(c.reader, x, numGroups, o);
  return { ...a, cl: a.channelsLast, act: a.activation };
}

function groupSpec(a: GroupArgs, plan: ExtSpec["plan"]): ExtSpec {
  const Cg = a.C / a.G;
  return {
    rms: false, D: Cg * a.S, map: a.cl ? { k: "cl", G: a.G, Cg, S: a.S } : { k: "cf", G: a.G, Cg, S: a.S }, plan,
    x: a.x.dtype, w: a.weight?.dtype ?? null, b: a.bias?.dtype ?? null, offset: 0, mode: "gemma", act: a.act,
  };
}

/** Elements of a row's contiguous runs (what an item's width must divide). */
const runOf = (a: GroupArgs) => (a.cl ? a.C / a.G : a.S);
const nb = (t: AnyGpuTensor) => [t, bytes(t)] as const;

/** y (and mean/rstd [N, G]) of GroupNorm; `varOut`: each row's biased variance too (InstanceNorm's running update). */
function encodeGroupForward(w: Work, a: GroupArgs, out: { y: AnyGpuTensor; mean: GpuTensor; rstd: GpuTensor }, varOut: GpuTensor | null, plan0?: unknown) {
  const c = w.c;
  const rows = a.N * a.G, D = (a.C / a.G) * a.S;
  if (rows === 0 || D === 0) return;
  const plan = extPlan(D, runOf(a), false, c.ctx.subgroupSize, c.ctx.f16, plan0);
  const spec: ExtForwardSpec = { ...groupSpec(a, plan), add: null, stats: "batch", update: false, save: true, varOut: varOut !== null };
  const scratch = scratched(spec);
  const ys = scratch ? w.temp(a.x.shape, "y scratch") : out.y;
  const eps = Math.fround(a.eps);
  w.run(`xfwd ${JSON.stringify(spec)} ${eps}`, () => extForwardWGSL(spec, eps), {
    0: nb(a.x), 3: a.weight && nb(a.weight), 4: a.bias && nb(a.bias), 5: nb(ys), 6: nb(out.mean), 7: nb(out.rstd), 11: varOut && nb(varOut),
  }, w.grid(Math.ceil(rows / (WORKGROUP / plan.T))));
  if (scratch) w.cast(ys, out.y, false);
}

/** dx of GroupNorm (row kernel) and dweight/dbias (per-channel partial sums, then colsum). */
function encodeGroupBackward(
  w: Work, a: GroupArgs, dy: AnyGpuTensor, stats: { mean: GpuTensor; rstd: GpuTensor }, out: { dx: AnyGpuTensor; dweight: Opt; dbias: Opt },
  acc: { dweight: boolean; dbias: boolean }, plan0?: unknown,
) {
  const c = w.c;
  const rows = a.N * a.G, D = (a.C / a.G) * a.S;
  if (rows === 0 || D === 0) return;
  const plan = extPlan(D, runOf(a), true, c.ctx.subgroupSize, c.ctx.f16, plan0);
  const spec: ExtBackwardSpec = { ...groupSpec(a, plan), stats: "batch", dh: false, grads: { dw: false, db: false, dib: false } };
  const scratch = scratched(spec);
  const dxs = scratch ? w.temp(a.x.shape, "dx scratch") : out.dx;
  const eps = Math.fround(a.eps);
  w.run(`xbwd ${JSON.stringify(spec)} ${eps}`, () => extBackwardWGSL(spec, eps), {
    0: nb(dy), 1: nb(a.x), 2: nb(stats.mean), 3: nb(stats.rstd), 4: a.weight && nb(a.weight), 5: a.act && a.bias ? nb(a.bias) : null, 7: nb(dxs),
  }, [backwardBlocks(rows, { T: plan.T, wgsum: false } as KernelPlan), 1]);
  if (scratch) w.cast(dxs, out.dx, false);
  if (out.dweight === null && out.dbias === null) return;
  // parameter gradients: chunks of positions (fixed for a shape), 64 channels (cl) or one (cf) per workgroup
  const chunks = Math.min(64, Math.max(1, Math.ceil((a.N * a.S) / 512)));
  const stride = slotFloats(chunks, a.C);
  const part = w.temp([2 * stride], "channel partial sums");
  const cs: ChanGradSpec = { layout: a.cl ? "cl" : "cf", C: a.C, S: a.S, G: a.G, x: a.x.dtype, w: a.weight?.dtype ?? null, b: a.bias?.dtype ?? null, act: a.act, f16: plan.f16 };
  w.run(`changrad ${JSON.stringify(cs)}`, () => chanGradExtWGSL(cs), {
    0: nb(dy), 1: nb(a.x), 2: nb(stats.mean), 3: nb(stats.rstd), 4: a.act && a.weight ? nb(a.weight) : null, 5: a.act && a.bias ? nb(a.bias) : null, 6: nb(part),
  }, [a.cl ? Math.ceil(a.C / 64) : a.C, chunks]);
  if (out.dweight) w.colsum(part, 0, chunks, a.C, out.dweight, acc.dweight);
  if (out.dbias) w.colsum(part, stride * 4, chunks, a.C, out.dbias, acc.dbias);
}

/** GroupNorm forward (#12 features): y in x's dtype, statistics [N, G]. */
export function extGroupForwardSteps(c: Call, x: unknown, numGroups: unknown, options: unknown) {
  const o = readOptions(options, "options", EXT_GROUP_KEYS);
  const a = groupArgs(c, x, numGroups, o);
  c.checkAliasing();
  const w = new Work(c);
  const out = { y: c.empty(a.x.shape, "y", a.x.dtype), mean: c.empty([a.N, a.G], "mean"), rstd: c.empty([a.N, a.G], "rstd") };
  encodeGroupForward(w, a, out, null, o.plan);
  return { ...w, out };
}

/** GroupNorm backward (#12 features), from saved mean/rstd [N, G] or recomputed. */
export function extGroupBackwardSteps(c: Call, dy: unknown, x: unknown, numGroups: unknown, options: unknown) {
  const o = readOptions(options, "options", EXT_GROUP_BACKWARD_KEYS);
  const a = groupArgs(c, x, numGroups, o);
  let stats: { mean: GpuTensor; rstd: GpuTensor } | null = null;
  const { w, grads, ...gr } = channelBackwardOf(c, dy, a, o.into, () => {
    stats = savedStats((t, name) => readFloat32(c.reader, t, name), o, false, [a.N, a.G]) as typeof stats;
    extPlan((a.C / a.G) * a.S, runOf(a), true, c.ctx.subgroupSize, c.ctx.f16, o.plan); // a bad plan fails before allocation
  });
  if (stats === null) {
    stats = { mean: w.temp([a.N, a.G], "mean") as GpuTensor, rstd: w.temp([a.N, a.G], "rstd") as GpuTensor };
    encodeGroupForward(w, a, { y: w.temp(a.x.shape, "y", a.x.dtype), ...stats }, null);
  }
  encodeGroupBackward(w, a, gr.dy, stats, grads, gr.acc, o.plan);
  return { ...w, grads };
}

// ---------------------------------------------------------------- InstanceNorm

/** F.instance_norm's arguments: the core's instanceNormOf with this call's reader (running statistics recorded as written). */
function instanceArgs(c: Call, x: unknown, options: unknown, keys: readonly string[]) {
  const o = readOptions(options, "options", keys);
  const a = instanceNormOf(c.reader, x, o);
  return { ...a, runningMean: a.runningMean as GpuTensor | null, runningVar: a.runningVar as GpuTensor | null, o, G: a.C, cl: false, act: null } as const; // float32: checked
}

/** InstanceNorm forward: y; with useInputStats and running statistics, those are updated in place. */
export function instanceForwardSteps(c: Call, x: unknown, options: unknown) {
  const a = instanceArgs(c, x, options, INSTANCE_KEYS);
  c.checkAliasing();
  const w = new Work(c);
  const y = c.empty(a.x.shape, "y", a.x.dtype);
  if (!a.useInputStats) {
    encodeBnForward(w, a, y, "eval", a, 0, null);
    return { ...w, y };
  }
  const stats = { y, mean: w.temp([a.N, a.C], "mean") as GpuTensor, rstd: w.temp([a.N, a.C], "rstd") as GpuTensor };
  const updates = a.runningMean !== null || a.runningVar !== null;
  const variance = updates ? (w.temp([a.N * a.C], "variance") as GpuTensor) : null;
  encodeGroupForward(w, { ...a, G: a.C }, stats, variance, a.o.plan);
  if (variance && a.N * a.C > 0) {
    // PyTorch updates whichever running statistic exists: the other is updated in a temporary
    const rm = a.runningMean ?? (w.temp([a.C], "running mean") as GpuTensor), rv = a.runningVar ?? (w.temp([a.C], "running var") as GpuTensor);
    const meta = c.meta([new Uint32Array(new Float32Array([a.momentum]).buffer)[0]!], "momentum");
    w.temps.push(meta);
    w.run(`inrun ${a.C} ${a.S}`, () => instanceRunningWGSL(a.C, a.S), {
      0: nb(stats.mean), 1: nb(variance), 2: nb(rm), 3: nb(rv), 4: [meta, 4],
    }, [Math.ceil(a.C / 64), 1]);
  }
  return { ...w, y };
}

/** InstanceNorm backward: per-instance statistics recomputed (useInputStats), or the running ones. */
export function instanceBackwardSteps(c: Call, dy: unknown, x: unknown, options: unknown) {
  const a = instanceArgs(c, x, options, INSTANCE_BACKWARD_KEYS);
  const { w, grads, ...gr } = channelBackwardOf(c, dy, a, a.o.into);
  if (!a.useInputStats) {
    encodeBnBackward(w, a, gr.dy, grads.dx, { runningMean: a.runningMean!, runningVar: a.runningVar! }, grads, gr.acc);
  } else {
    const stats = { mean: w.temp([a.N, a.C], "mean") as GpuTensor, rstd: w.temp([a.N, a.C], "rstd") as GpuTensor };
    encodeGroupForward(w, a, { y: w.temp(a.x.shape, "y", a.x.dtype), ...stats }, null);
    encodeGroupBackward(w, a, gr.dy, stats, grads, gr.acc, a.o.plan);
  }
  return { ...w, grads };
}
