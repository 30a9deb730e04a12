/** BatchNorm/GroupNorm/InstanceNorm arguments: x seen as [N, C, S] with S the product of the spatial dims. */
import { NormError, describe } from "../errors.js";
import { checkWrites } from "./aliasing.js";
import {
  BATCH_NORM_EPS, BATCH_NORM_KEYS, BATCH_NORM_MOMENTUM, GROUP_NORM_EPS, GROUP_NORM_KEYS, INSTANCE_NORM_EPS, INSTANCE_NORM_KEYS, INSTANCE_NORM_MOMENTUM,
} from "./defaults.js";
import type { NormOptions } from "./rowArgs.js";
import { checkActivation, checkCount, checkEps, checkMomentum, optBool, readOptions, type Options } from "./options.js";
import { checkParam, checkParamShape } from "./shapes.js";
import { CPU_READER, checkTensor, numel, requireFloat32, shapeStr, type AnyTensor, type CheckedTensor, type Reader, type Stored, type Tensor, type Typed } from "./tensor.js";

export interface ChannelArgs {
  x: Tensor;
  N: number;
  C: number;
  S: number;
  weight: Float32Array | null;
  bias: Float32Array | null;
  eps: number;
}

export function channelArgs(op: string, x: unknown, options: unknown, defaultEps: number, keys: readonly string[] | null): ChannelArgs {
  const a = channelArgsOf(checkTensor, op, x, options, defaultEps, keys);
  return { ...a, weight: a.weight?.data ?? null, bias: a.bias?.data ?? null };
}

/** channelArgs for any tensor-like `check` accepts (CPU tensors, GPU tensors); weight/bias as tensor-likes. */
export function channelArgsOf<T extends { readonly shape: readonly number[] }>(
  check: (t: unknown, name: string) => T, op: string, x: unknown, options: unknown, defaultEps: number,
  keys: readonly string[] | null = null,
) {
  const o = readOptions(options, "options", keys);
  const t = check(x, "x");
  if (t.shape.length < 2) {
    throw new NormError("BAD_RANK", "x", `${op} expects an input of shape [N, C, ...] with at least 2 dims, got shape ${shapeStr(t.shape)}`);
  }
  const [N, C] = t.shape as [number, number];
  const S = numel(t.shape.slice(2));
  const param = (p: unknown, name: string): T | null => {
    if (p === undefined || p === null) return null;
    const c = check(p, name);
    checkParamShape(c, name, [C]);
    return c;
  };
  return { x: t, N, C, S, weight: param(o.weight, "weight"), bias: param(o.bias, "bias"), eps: checkEps(o.eps, defaultEps) };
}

export interface GroupNormArgs extends ChannelArgs {
  G: number;
}

/** GroupNorm's float32-only arguments (channels first, no activation), for calls that compute on float32 only. */
export function groupNormArgs(x: unknown, numGroups: unknown, options: unknown): GroupNormArgs {
  const o = readOptions(options, "options", GROUP_NORM_KEYS);
  rejectGroupModes(o);
  const a = channelArgs("groupNorm", x, o, GROUP_NORM_EPS, null);
  return { ...a, G: checkNumGroups(numGroups, a.C) };
}

/** For calls without issue #12's GroupNorm options: channelsLast true or an activation is a NormError, not ignored. */
export function rejectGroupModes(o: Options): void {
  if (optBool(o, "channelsLast", false)) throw new NormError("BAD_ARGUMENT", "channelsLast", "expected false (this call takes channels-first input only; groupNorm takes channelsLast), got true");
  if (checkActivation(o.activation) !== null) throw new NormError("BAD_ARGUMENT", "activation", `expected null (this call has no fused activation; groupNorm has), got "silu"`);
}

/** numGroups must be a positive integer dividing the C channels. */
export function checkNumGroups(numGroups: unknown, C: number): number {
  if (typeof numGroups !== "number" || !Number.isSafeInteger(numGroups) || numGroups <= 0 || C % numGroups !== 0) {
    throw new NormError("BAD_NUM_GROUPS", "numGroups", `expected a positive integer dividing the ${C} channels, got ${describe(numGroups)}`);
  }
  return numGroups;
}

export interface BatchNormOptions<T extends AnyTensor = Tensor> extends NormOptions<T> {
  /** Per-channel running mean, shape [C], float32; updated in place in training mode. */
  runningMean?: Tensor | null;
  /** Per-channel running (unbiased) variance, shape [C], float32; updated in place in training mode. */
  runningVar?: Tensor | null;
  /** true: normalize with batch statistics and update the running ones. Default false. */
  training?: boolean;
  /**
   * Weight of the new batch statistic in the running update, in [0, 1]. Default 0.1. null: the
   * cumulative moving average (PyTorch's momentum=None), weight 1/(numBatchesTracked + 1).
   */
  momentum?: number | null;
  /** With momentum null: how many batches the running statistics already average (nn.BatchNorm's num_batches_tracked). */
  numBatchesTracked?: number;
}

/** BatchNorm/InstanceNorm arguments of any dtype after validation: x seen as [N, C, S]. */
export interface ChannelSpec {
  x: CheckedTensor;
  N: number;
  C: number;
  S: number;
  weight: Stored | null;
  bias: Stored | null;
  eps: number;
  runningMean: Float32Array | null;
  runningVar: Float32Array | null;
  /** the running update's weight of this batch (momentum, or 1/(numBatchesTracked + 1)) */
  momentum: number;
}

export interface BatchNormArgs extends ChannelSpec {
  training: boolean;
}

/** Stored (data and dtype) of a checked CPU tensor. */
const st = (t: CheckedTensor | null) => (t === null ? null : ({ data: t.data, dtype: t.dtype } as Stored));

/**
 * The running statistics (float32, shape [C]) and the factor of their update, through a backend's
 * reader. They count as written in every mode and direction (the CPU's rule since BatchNorm came:
 * updating them in place is what they are for, so they may never alias an input or each other).
 * `updates`: whether the mode updates them (momentum null then needs numBatchesTracked).
 */
function runningOf<T extends Typed>(r: Reader<T>, o: Options, C: number, updates: boolean, defaultMomentum: number) {
  const m = checkMomentum(o.momentum, defaultMomentum);
  const tracked = o.numBatchesTracked === undefined ? null : checkCount(o.numBatchesTracked, "numBatchesTracked", 0, "BAD_ARGUMENT");
  const stat = (v: unknown, name: string): T | null => {
    if (v === undefined || v === null) return null;
    const t = requireFloat32(r.write(v, name), name);
    checkParamShape(t, name, [C]);
    return t;
  };
  const runningMean = stat(o.runningMean, "runningMean");
  const runningVar = stat(o.runningVar, "runningVar");
  if (m === null && updates && (runningMean !== null || runningVar !== null) && tracked === null) {
    throw new NormError("BAD_ARGUMENT", "numBatchesTracked", "expected the number of batches averaged so far (momentum null is a cumulative average), got none");
  }
  return { runningMean, runningVar, momentum: m ?? 1 / ((tracked ?? 0) + 1) };
}

function missingRunning(mean: unknown, o: Options, C: number, why: string): NormError {
  return new NormError(
    "MISSING_RUNNING_STATS",
    mean === null ? "runningMean" : "runningVar",
    `expected running statistics of shape [${C}] ${why}, got ${describe(mean === null ? o.runningMean : o.runningVar)}`,
  );
}

/**
 * BatchNorm's arguments through a backend's reader (options read with the call's keys): x as
 * [N, C, S] (any dtype), parameters [C], eps, training, the running statistics (forward and backward).
 */
export function batchNormOf<T extends Typed>(r: Reader<T>, x: unknown, o: Options) {
  const a = channelArgsOf(r.read, "batchNorm", x, o, BATCH_NORM_EPS);
  const training = optBool(o, "training", false);
  const run = runningOf(r, o, a.C, training, BATCH_NORM_MOMENTUM);
  if (!training && (run.runningMean === null || run.runningVar === null)) throw missingRunning(run.runningMean, o, a.C, "in eval mode (training: false)");
  if (training && a.N * a.S === 1) {
    throw new NormError("TOO_FEW_VALUES", "x", `expected more than 1 value per channel when training, got input of shape ${shapeStr(a.x.shape)}`);
  }
  return { ...a, ...run, training };
}

/** A channel op's arguments as the CPU kernels take them; the running statistics may not alias an input or each other. */
function cpuChannelSpec<A extends ReturnType<typeof channelArgsOf<CheckedTensor>> & ReturnType<typeof runningOf<CheckedTensor>>>(a: A) {
  const runningMean = (a.runningMean?.data ?? null) as Float32Array | null, runningVar = (a.runningVar?.data ?? null) as Float32Array | null;
  checkWrites([["runningMean", runningMean], ["runningVar", runningVar]], [["x", a.x.data], ["weight", a.weight?.data ?? null], ["bias", a.bias?.data ?? null]],
    "the running statistics are updated in place");
  return { x: a.x, N: a.N, C: a.C, S: a.S, weight: st(a.weight), bias: st(a.bias), eps: a.eps, runningMean, runningVar, momentum: a.momentum };
}

/** BatchNorm's arguments on the CPU (forward and backward). */
export function batchNormArgs(x: unknown, options: unknown): BatchNormArgs {
  const a = batchNormOf(CPU_READER, x, readOptions(options, "options", BATCH_NORM_KEYS));
  return { ...cpuChannelSpec(a), training: a.training };
}

/** instanceNorm/instanceNormBackward options: F.instance_norm's. */
export interface InstanceNormOptions<T extends AnyTensor = Tensor> extends NormOptions<T> {
  /** Per-channel running mean, shape [C], float32; updated in place when useInputStats. */
  runningMean?: Tensor | null;
  /** Per-channel running (unbiased) variance, shape [C], float32; updated in place when useInputStats. */
  runningVar?: Tensor | null;
  /** true (default): normalize each instance with its own statistics; false: with the running statistics. */
  useInputStats?: boolean;
  /** Weight of this batch in the running update; null: the cumulative average (with numBatchesTracked). Default 0.1. */
  momentum?: number | null;
  /** With momentum null: how many batches the running statistics already average. */
  numBatchesTracked?: number;
}

export interface InstanceNormArgs extends ChannelSpec {
  useInputStats: boolean;
}

/**
 * InstanceNorm's arguments through a backend's reader: as batchNormOf, with useInputStats (default
 * true: each instance's statistics, the running ones updated by a forward) instead of training.
 */
export function instanceNormOf<T extends Typed>(r: Reader<T>, x: unknown, o: Options) {
  const a = channelArgsOf(r.read, "instanceNorm", x, o, INSTANCE_NORM_EPS);
  const useInputStats = optBool(o, "useInputStats", true);
  const run = runningOf(r, o, a.C, useInputStats, INSTANCE_NORM_MOMENTUM);
  if (!useInputStats && (run.runningMean === null || run.runningVar === null)) throw missingRunning(run.runningMean, o, a.C, "with useInputStats: false");
  if (useInputStats && a.S <= 1 && a.N * a.C > 0) {
    throw new NormError("TOO_FEW_VALUES", "x", `expected more than 1 spatial element per instance when using input statistics, got input of shape ${shapeStr(a.x.shape)}`);
  }
  return { ...a, ...run, useInputStats };
}

/** InstanceNorm's arguments on the CPU (forward and backward). */
export function instanceNormArgs(x: unknown, options: unknown): InstanceNormArgs {
  const a = instanceNormOf(CPU_READER, x, readOptions(options, "options", INSTANCE_NORM_KEYS));
  return { ...cpuChannelSpec(a), useInputStats: a.useInputStats };
}

/** groupNorm options: NormOptions plus channels-last layout and a fused SiLU. */
export interface GroupNormOptions<T extends AnyTensor = Tensor> extends NormOptions<T> {
  /** x is [N, *spatial, C] (channels last) instead of [N, C, *spatial]. Default false. */
  channelsLast?: boolean;
  /** "silu": out = y·sigmoid(y) of the normalized, affine y (ONNX Runtime's GroupNorm, activation 1). Default null. */
  activation?: "silu" | null;
}

/** groupNormBackward options: also the statistics groupNormForward returned ([N, G], float32). */
export interface GroupNormBackwardOptions<T extends AnyTensor = Tensor> extends GroupNormOptions<T> {
  mean?: Tensor | null;
  rstd?: Tensor | null;
}

/** GroupNorm arguments of any dtype: x as [N, C, S] (or [N, S, C] channels last). */
export interface GroupNormSpec {
  x: CheckedTensor;
  N: number;
  C: number;
  S: number;
  G: number;
  weight: Stored | null;
  bias: Stored | null;
  eps: number;
  channelsLast: boolean;
  activation: "silu" | null;
}

/**
 * GroupNorm's arguments through a backend's reader (options read with the call's keys): x as
 * [N, C, S] or, channelsLast, [N, S, C] (the same checks on the shape seen as [N, C, *spatial]).
 */
export function groupNormOf<T extends Typed>(r: Reader<T>, x: unknown, numGroups: unknown, o: Options) {
  const channelsLast = optBool(o, "channelsLast", false);
  const activation = checkActivation(o.activation);
  let a: ReturnType<typeof channelArgsOf<T>>;
  if (!channelsLast) a = channelArgsOf(r.read, "groupNorm", x, o, GROUP_NORM_EPS);
  else {
    const t = r.read(x, "x");
    if (t.shape.length < 2) {
      throw new NormError("BAD_RANK", "x", `groupNorm with channelsLast expects an input of shape [N, ..., C] with at least 2 dims, got shape ${shapeStr(t.shape)}`);
    }
    const C = t.shape[t.shape.length - 1]!;
    const viewed = { ...t, shape: [t.shape[0]!, C, ...t.shape.slice(1, -1)] };
    a = { ...channelArgsOf((v, name) => (v === x ? viewed : r.read(v, name)), "groupNorm", x, o, GROUP_NORM_EPS), x: t };
  }
  return { ...a, G: checkNumGroups(numGroups, a.C), channelsLast, activation };
}

/** GroupNorm's arguments on the CPU. */
export function groupNormSpec(x: unknown, numGroups: unknown, options: unknown, keys: readonly string[] = GROUP_NORM_KEYS): GroupNormSpec {
  const a = groupNormOf(CPU_READER, x, numGroups, readOptions(options, "options", keys));
  return { x: a.x, N: a.N, C: a.C, S: a.S, G: a.G, weight: st(a.weight), bias: st(a.bias), eps: a.eps, channelsLast: a.channelsLast, activation: a.activation };
}
