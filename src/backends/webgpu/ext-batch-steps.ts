/// <reference types="@webgpu/types" />
/**
 * BatchNorm on the GPU as data (any dtypes), and the per-channel ("bn" map) passes InstanceNorm's
 * eval shares: row c of the #12 row kernel is channel c, its N·S values. Training normalizes with
 * the batch statistics and updates the running ones in the same kernel (unbiased variance,
 * momentum or the cumulative average 1/(numBatchesTracked + 1), as PyTorch); eval normalizes with
 * the running ones. Backward recomputes the batch statistics (training) or uses the running ones
 * (eval: dx = dy·w·rstd); dweight/dbias are each channel's own sums, written per row.
 */
import { INTO_KEYS, batchNormOf, gradsIntoOf, likeX, readOptions } from "../../core/index.js";
import type { Call } from "./context.js";
import { EXT_BATCH_BACKWARD_KEYS, EXT_BATCH_KEYS } from "./ext-args.js";
import { extPlan } from "./ext-plan.js";
import { Work, bytes, slotFloats } from "./ext-steps.js";
import { backwardBlocks } from "./plan.js";
import type { GpuTensor } from "./tensor.js";
import type { AnyGpuTensor } from "./types.js";
import { extBackwardWGSL, type ExtBackwardSpec } from "./wgsl-ext-backward.js";
import { extForwardWGSL, type ExtForwardSpec } from "./wgsl-ext-forward.js";
import { scratched, type ExtSpec } from "./wgsl-ext.js";
import { WORKGROUP, type KernelPlan } from "./wgsl.js";

type Opt = AnyGpuTensor | null;

/** x [N, C, *] with its parameters, as the core reads channel ops. */
export type ChannelGpuArgs = { x: AnyGpuTensor; N: number; C: number; S: number; weight: Opt; bias: Opt; eps: number };

/** The #12 kernel spec of the per-channel passes. */
function bnSpec(a: ChannelGpuArgs, plan: ExtSpec["plan"]): ExtSpec {
  return {
    rms: false, D: a.N * a.S, map: { k: "bn", C: a.C, S: a.S }, plan, x: a.x.dtype, w: a.weight?.dtype ?? null, b: a.bias?.dtype ?? null,
    offset: 0, mode: "gemma", act: null,
  };
}

const nb = (t: AnyGpuTensor) => [t, bytes(t)] as const;

/**
 * y of the per-channel pass: batch statistics (training; `update` the running ones with factor
 * `momentum`; `save` mean/rstd [C] for a backward) or the running ones (eval).
 */
export function encodeBnForward(
  w: Work, a: ChannelGpuArgs, y: AnyGpuTensor, mode: "train" | "eval",
  run: { runningMean: GpuTensor | null; runningVar: GpuTensor | null }, momentum: number, save: { mean: GpuTensor; rstd: GpuTensor } | null,
): void {
  const c = w.c;
  if (a.N * a.C * a.S === 0) return;
  const plan = extPlan(a.N * a.S, a.S, false, c.ctx.subgroupSize, c.ctx.f16);
  const update = mode === "train" && (run.runningMean !== null || run.runningVar !== null);
  const spec: ExtForwardSpec = { ...bnSpec(a, plan), add: null, stats: mode === "train" ? "batch" : "running", update, save: save !== null, varOut: false };
  const scratch = scratched(spec);
  const ys = scratch ? w.temp(a.x.shape, "y scratch") : y;
  // a running statistic not given is updated in a temporary (PyTorch updates whichever exists)
  const rm = run.runningMean ?? (update || mode === "eval" ? w.temp([a.C], "running mean") : null);
  const rv = run.runningVar ?? (update || mode === "eval" ? w.temp([a.C], "running var") : null);
  const meta = update ? c.meta([new Uint32Array(new Float32Array([momentum]).buffer)[0]!], "momentum") : null;
  if (meta) w.temps.push(meta);
  const eps = Math.fround(a.eps);
  w.run(`xfwd ${JSON.stringify(spec)} ${eps}`, () => extForwardWGSL(spec, eps), {
    0: nb(a.x), 3: a.weight && nb(a.weight), 4: a.bias && nb(a.bias), 5: nb(ys),
    6: save && nb(save.mean), 7: save && nb(save.rstd), 9: rm && nb(rm), 10: rv && nb(rv), 12: meta && [meta, 4],
  }, w.grid(Math.ceil(a.C / (WORKGROUP / plan.T))));
  if (scratch) w.cast(ys, y, false);
}

/**
 * dx and the per-channel dweight/dbias of the per-channel pass, from batch statistics (`stats`:
 * saved mean/rstd [C]) or the running ones (eval). `into`: add the gradients into these.
 */
export function encodeBnBackward(
  w: Work, a: ChannelGpuArgs, dy: AnyGpuTensor, dx: AnyGpuTensor, stats: { mean: GpuTensor; rstd: GpuTensor } | { runningMean: GpuTensor; runningVar: GpuTensor },
  grads: { dweight: Opt; dbias: Opt }, acc: { dweight: boolean; dbias: boolean },
): void {
  const c = w.c;
  if (a.N * a.C * a.S === 0) return;
  const plan = extPlan(a.N * a.S, a.S, true, c.ctx.subgroupSize, c.ctx.f16);
  const running = "runningMean" in stats;
  const spec: ExtBackwardSpec = { ...bnSpec(a, plan), stats: running ? "running" : "batch", dh: false, grads: { dw: grads.dweight !== null, db: grads.dbias !== null, dib: false } };
  const scratch = scratched(spec);
  const dxs = scratch ? w.temp(a.x.shape, "dx scratch") : dx;
  const CS = slotFloats(1, a.C);
  const pg = grads.dweight || grads.dbias ? w.temp([2 * CS], "channel gradients") : null;
  const eps = Math.fround(a.eps);
  w.run(`xbwd ${JSON.stringify(spec)} ${eps}`, () => extBackwardWGSL(spec, eps), {
    0: nb(dy), 1: nb(a.x), 4: a.weight && nb(a.weight), 7: nb(dxs), 11: pg && nb(pg),
    ...(running ? { 9: nb(stats.runningMean), 10: nb(stats.runningVar) } : { 2: nb(stats.mean), 3: nb(stats.rstd) }),
  }, [backwardBlocks(a.C, { T: plan.T, wgsum: false } as KernelPlan), 1]);
  if (scratch) w.cast(dxs, dx, false);
  if (grads.dweight) w.cast(pg!, grads.dweight, acc.dweight, 0);
  if (grads.dbias) w.cast(pg!, grads.dbias, acc.dbias, CS * 4);
}

/** BatchNorm's arguments: the core's batchNormOf with this call's reader (running statistics recorded as written). */
function batchArgs(c: Call, x: unknown, options: unknown, keys: readonly string[]) {
  const o = readOptions(options, "options", keys);
  const a = batchNormOf(c.reader, x, o);
  return { ...a, runningMean: a.runningMean as GpuTensor | null, runningVar: a.runningVar as GpuTensor | null, o }; // float32: checked
}

/**
 * The start of a channel op's backward (BatchNorm, InstanceNorm, GroupNorm): dy (x's shape and
 * dtype) and `into` (each of its parameter's dtype), then the op's own last checks (`more`), the
 * aliasing check, and only then dx and the gradients not going into the caller's tensors.
 */
export function channelBackwardOf(c: Call, dy: unknown, a: ChannelGpuArgs, into: unknown, more: () => void = () => {}) {
  const g = likeX(c.readAny, dy, a.x, "dy");
  const i = gradsIntoOf(c.writeAny, into, [["dweight", "weight", a.weight], ["dbias", "bias", a.bias]], [a.C], INTO_KEYS);
  more();
  c.checkAliasing();
  // validated: from here on only allocation and encoding
  const grads = {
    dx: c.empty(a.x.shape, "dx", a.x.dtype),
    dweight: a.weight === null ? null : (i.dweight ?? c.empty([a.C], "dweight", a.weight.dtype)),
    dbias: a.bias === null ? null : (i.dbias ?? c.empty([a.C], "dbias", a.bias.dtype)),
  };
  return { dy: g, acc: { dweight: i.dweight != null, dbias: i.dbias != null }, w: new Work(c), grads };
}

/** BatchNorm forward: y (x's dtype); in training the running statistics are updated in place. */
export function batchForwardSteps(c: Call, x: unknown, options: unknown) {
  const a = batchArgs(c, x, options, EXT_BATCH_KEYS);
  c.checkAliasing();
  const w = new Work(c);
  const y = c.empty(a.x.shape, "y", a.x.dtype);
  encodeBnForward(w, a, y, a.training ? "train" : "eval", a, a.momentum, null);
  return { ...w, y };
}

/** BatchNorm backward: { dx, dweight, dbias } (batch statistics recomputed in training). */
export function batchBackwardSteps(c: Call, dy: unknown, x: unknown, options: unknown) {
  const a = batchArgs(c, x, options, EXT_BATCH_BACKWARD_KEYS);
  const { w, grads, ...gr } = channelBackwardOf(c, dy, a, a.o.into);
  let stats: { mean: GpuTensor; rstd: GpuTensor } | { runningMean: GpuTensor; runningVar: GpuTensor };
  if (a.training) {
    stats = { mean: w.temp([a.C], "mean") as GpuTensor, rstd: w.temp([a.C], "rstd") as GpuTensor };
    encodeBnForward(w, a, w.temp(a.x.shape, "y", a.x.dtype), "train", { runningMean: null, runningVar: null }, 0, stats);
  } else {
    stats = { runningMean: a.runningMean!, runningVar: a.runningVar! };
  }
  encodeBnBackward(w, a, gr.dy, grads.dx, stats, grads, gr.acc);
  return { ...w, grads };
}
