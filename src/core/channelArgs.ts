/** BatchNorm/GroupNorm arguments: x seen as [N, C, S] with S the product of the spatial dims. */
import { NormError, describe } from "../errors.js";
import { checkWrites } from "./aliasing.js";
import { BATCH_NORM_EPS, BATCH_NORM_KEYS, BATCH_NORM_MOMENTUM, GROUP_NORM_EPS, GROUP_NORM_KEYS } from "./defaults.js";
import type { NormOptions } from "./rowArgs.js";
import { checkCount, checkEps, checkMomentum, optBool, readOptions } from "./options.js";
import { checkParam, checkParamShape } from "./shapes.js";
import { checkTensor, numel, shapeStr, type Tensor } from "./tensor.js";

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

export function groupNormArgs(x: unknown, numGroups: unknown, options: unknown): GroupNormArgs {
  const a = channelArgs("groupNorm", x, options, GROUP_NORM_EPS, GROUP_NORM_KEYS);
  return { ...a, G: checkNumGroups(numGroups, a.C) };
}

/** numGroups must be a positive integer dividing the C channels. */
export function checkNumGroups(numGroups: unknown, C: number): number {
  if (typeof numGroups !== "number" || !Number.isSafeInteger(numGroups) || numGroups <= 0 || C % numGroups !== 0) {
    throw new NormError("BAD_NUM_GROUPS", "numGroups", `expected a positive integer dividing the ${C} channels, got ${describe(numGroups)}`);
  }
  return numGroups;
}

export interface BatchNormOptions extends NormOptions {
  /** Per-channel running mean, shape [C]; updated in place in training mode. */
  runningMean?: Tensor | null;
  /** Per-channel running (unbiased) variance, shape [C]; updated in place in training mode. */
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

export interface BatchNormArgs extends ChannelArgs {
  runningMean: Float32Array | null;
  runningVar: Float32Array | null;
  training: boolean;
  /** the running update's weight of this batch (momentum, or 1/(numBatchesTracked + 1)) */
  momentum: number;
}

export function batchNormArgs(x: unknown, options: unknown): BatchNormArgs {
  const o = readOptions(options, "options", BATCH_NORM_KEYS);
  const a = channelArgs("batchNorm", x, o, BATCH_NORM_EPS, null);
  const training = optBool(o, "training", false);
  const m = checkMomentum(o.momentum, BATCH_NORM_MOMENTUM);
  const tracked = o.numBatchesTracked === undefined ? null : checkCount(o.numBatchesTracked, "numBatchesTracked", 0, "BAD_ARGUMENT");
  const runningMean = checkParam(o.runningMean, "runningMean", [a.C])?.data ?? null;
  const runningVar = checkParam(o.runningVar, "runningVar", [a.C])?.data ?? null;
  if (!training && (runningMean === null || runningVar === null)) {
    throw new NormError(
      "MISSING_RUNNING_STATS",
      runningMean === null ? "runningMean" : "runningVar",
      `expected running statistics of shape [${a.C}] in eval mode (training: false), got ${describe(runningMean === null ? o.runningMean : o.runningVar)}`,
    );
  }
  if (m === null && training && (runningMean !== null || runningVar !== null) && tracked === null) {
    throw new NormError("BAD_ARGUMENT", "numBatchesTracked", "expected the number of batches averaged so far (momentum null is a cumulative average), got none");
  }
  if (training && a.N * a.S === 1) {
    throw new NormError("TOO_FEW_VALUES", "x", `expected more than 1 value per channel when training, got input of shape ${shapeStr(a.x.shape)}`);
  }
  // the running statistics are written in training mode: they may not alias an input or each other
  checkWrites([["runningMean", runningMean], ["runningVar", runningVar]], [["x", a.x.data], ["weight", a.weight], ["bias", a.bias]],
    "BatchNorm updates the running statistics in place");
  return { ...a, runningMean, runningVar, training, momentum: m ?? 1 / ((tracked ?? 0) + 1) };
}
