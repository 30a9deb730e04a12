/** torch.nn.GroupNorm and torch.nn.BatchNorm1d/2d/3d: x is [N, C, *] (GroupNorm: or [N, *, C] channels last). */
import {
  BATCH_MODULE_KEYS, BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, GROUP_MODULE_KEYS, GROUP_NORM_EPS,
  batchNormArgs, checkActivation, checkCount, checkEps, checkLikeX, checkMomentum, checkNumGroups, groupNormSpec, optBool, readOptions,
  type AnyTensor, type BatchNormArgs, type CheckedTensor, type GroupNormSpec, type Like, type Stored, type Tensor,
} from "../core/index.js";
import { batchNormBackwardWithStats, batchNormForwardWithStats } from "../ops/batchNorm.js";
import { groupNormBackwardWithStats, groupNormForwardWithStats } from "../ops/groupNorm.js";
import type { AnyGrads } from "../ops/layerNorm.js";
import { NormModule, SavedInput, noForward, param, type Parameter, type StateEntry } from "./module.js";

export interface ChannelModuleOptions {
  eps?: number;
  /** Learnable per-channel γ (init 1) and β (init 0). Default true (InstanceNorm: false). */
  affine?: boolean;
}

export interface GroupNormModuleOptions extends ChannelModuleOptions {
  /** x is [N, *spatial, C] instead of [N, C, *spatial]. Default false. */
  channelsLast?: boolean;
  /** "silu": y·σ(y) after the affine (Stable Diffusion's GroupNorm + SiLU). Default null. */
  activation?: "silu" | null;
}

/** GroupNorm, BatchNorm and InstanceNorm modules take no per-call options. */
const NO_OPTIONS: readonly string[] = [];

type Into = { dweight: Stored | null; dbias: Stored | null };

/** A module's parameter gradients as the `into` of a backward (float32 storage). */
const gradsOf = (weight: Parameter | null, bias: Parameter | null): Into => ({
  dweight: weight && { data: weight.grad.data, dtype: "float32" },
  dbias: bias && { data: bias.grad.data, dtype: "float32" },
});

/** A channel module's backward: the saved forward (x copy, statistics), dy of x's shape and dtype, grads added into the parameters. */
export function savedBackward<A extends { x: CheckedTensor }, S>(
  name: string, saved: { a: A; mean: S; rstd: S } | null, dy: unknown, options: unknown,
  weight: Parameter | null, bias: Parameter | null, run: (a: A, dy: Stored, mean: S, rstd: S, into: Into) => AnyGrads,
): AnyTensor {
  readOptions(options, "options", NO_OPTIONS);
  const s = saved ?? noForward(name);
  return run(s.a, checkLikeX(dy, s.a.x, "dy"), s.mean, s.rstd, gradsOf(weight, bias)).dx;
}

/** torch.nn.GroupNorm; eps, affine (and channelsLast, activation) are fixed at construction, as in PyTorch. */
export class GroupNorm extends NormModule {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  /** the validated constructor options (a frozen copy) */
  readonly options: Readonly<GroupNormModuleOptions>;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  private saved: { a: GroupNormSpec; mean: Float32Array; rstd: Float32Array } | null = null;
  readonly #x = new SavedInput();

  constructor(numGroups: number, numChannels: number, options: GroupNormModuleOptions = {}) {
    super();
    this.numChannels = checkCount(numChannels, "numChannels", 0);
    this.numGroups = checkNumGroups(numGroups, this.numChannels);
    const o = readOptions(options, "options", GROUP_MODULE_KEYS);
    this.eps = checkEps(o.eps, GROUP_NORM_EPS);
    const affine = optBool(o, "affine", true);
    const channelsLast = optBool(o, "channelsLast", false);
    const activation = checkActivation(o.activation);
    this.options = Object.freeze({ eps: this.eps, affine, channelsLast, activation });
    this.weight = affine ? param("weight", [this.numChannels], 1) : null;
    this.bias = affine ? param("bias", [this.numChannels], 0) : null;
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  /** y for x (x's dtype); keeps x (a copy) and the group statistics for backward. */
  forward<T extends AnyTensor = Tensor>(x: T, options?: Record<string, never>): Like<T> {
    readOptions(options, "options", NO_OPTIONS);
    const { channelsLast, activation } = this.options;
    const a = groupNormSpec(x, this.numGroups, { weight: this.weight?.value, bias: this.bias?.value, eps: this.eps, channelsLast, activation });
    const kept = { ...a, x: this.#x.keep(a.x) };
    const { y, mean, rstd } = groupNormForwardWithStats(kept);
    this.saved = { a: kept, mean, rstd };
    return y as Like<T>;
  }

  /** dx for dy, from the forward's x and statistics; adds dweight/dbias into the parameters' grads. */
  backward<T extends AnyTensor = Tensor>(dy: T, options?: Record<string, never>): Like<T> {
    return savedBackward("GroupNorm", this.saved, dy, options, this.weight, this.bias, groupNormBackwardWithStats) as Like<T>;
  }
}

export interface BatchNormModuleOptions extends ChannelModuleOptions {
  /** Weight of each batch in the running statistics; null: their cumulative average (PyTorch's momentum=None). Default 0.1. */
  momentum?: number | null;
  /** Keep running statistics (used in eval mode). Default true (InstanceNorm: false). */
  trackRunningStats?: boolean;
}

/**
 * What BatchNorm and InstanceNorm share: parameters, running statistics (float32) and the count
 * of training batches (PyTorch's _NormBase), in the state dict as PyTorch's.
 */
export abstract class RunningStatsModule extends NormModule {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  /** the validated constructor options (a frozen copy) */
  readonly options: Readonly<BatchNormModuleOptions>;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  /** Training batches seen with running statistics (PyTorch's num_batches_tracked); momentum null averages over them. */
  numBatchesTracked = 0;
  protected readonly saved = new SavedInput();

  constructor(numFeatures: number, options: unknown, keys: readonly string[], defaults: { eps: number; momentum: number; affine: boolean; track: boolean }) {
    super();
    this.numFeatures = checkCount(numFeatures, "numFeatures", 0);
    const o = readOptions(options, "options", keys);
    this.eps = checkEps(o.eps, defaults.eps);
    this.momentum = checkMomentum(o.momentum, defaults.momentum);
    const affine = optBool(o, "affine", defaults.affine);
    const track = optBool(o, "trackRunningStats", defaults.track);
    this.options = Object.freeze({ eps: this.eps, momentum: this.momentum, affine, trackRunningStats: track });
    this.weight = affine ? param("weight", [this.numFeatures], 1) : null;
    this.bias = affine ? param("bias", [this.numFeatures], 0) : null;
    this.runningMean = track ? param("runningMean", [this.numFeatures], 0).value : null;
    this.runningVar = track ? param("runningVar", [this.numFeatures], 1).value : null;
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  override buffers() {
    return this.runningMean && this.runningVar
      ? [{ name: "runningMean", value: this.runningMean }, { name: "runningVar", value: this.runningVar }]
      : [];
  }

  protected override stateEntries(): StateEntry[] {
    if (this.runningMean === null) return super.stateEntries();
    return [...super.stateEntries(), {
      name: "numBatchesTracked", shape: [],
      read: () => [this.numBatchesTracked],
      check: (v) => void checkCount(v[0], "stateDict.numBatchesTracked", 0, "BAD_ARGUMENT"),
      write: (v) => void (this.numBatchesTracked = v[0]!),
    }];
  }

  /** The functional options of a forward call; `batchStats`: normalize with the batch's statistics. */
  protected callOptions(batchStats: boolean) {
    return {
      weight: this.weight?.value, bias: this.bias?.value, runningMean: this.runningMean, runningVar: this.runningVar,
      momentum: this.momentum, numBatchesTracked: this.numBatchesTracked, eps: this.eps, batchStats,
    };
  }
}

/** torch.nn.BatchNorm1d/2d/3d (one class: x is [N, C, *]). */
export class BatchNorm extends RunningStatsModule {
  private last: { a: BatchNormArgs; mean: Float64Array; rstd: Float64Array } | null = null;

  constructor(numFeatures: number, options: BatchNormModuleOptions = {}) {
    super(numFeatures, options, BATCH_MODULE_KEYS, { eps: BATCH_NORM_EPS, momentum: BATCH_NORM_MOMENTUM, affine: true, track: true });
  }

  /** y for x: batch statistics in training mode (updating the running ones), else the running statistics. */
  forward<T extends AnyTensor = Tensor>(x: T, options?: Record<string, never>): Like<T> {
    readOptions(options, "options", NO_OPTIONS);
    const tracking = this.training && this.runningMean !== null;
    // without running statistics, eval mode uses batch statistics, as PyTorch does
    const { batchStats, ...o } = this.callOptions(this.training || this.runningMean === null);
    const a = batchNormArgs(x, { ...o, training: batchStats });
    const kept = { ...a, x: this.saved.keep(a.x) };
    const { y, mean, rstd } = batchNormForwardWithStats(kept, true);
    if (tracking) this.numBatchesTracked++;
    this.last = { a: kept, mean, rstd };
    return y as Like<T>;
  }

  /** dx for dy in the forward's mode, from its x and statistics; adds dweight/dbias into the parameters' grads. */
  backward<T extends AnyTensor = Tensor>(dy: T, options?: Record<string, never>): Like<T> {
    return savedBackward("BatchNorm", this.last, dy, options, this.weight, this.bias, batchNormBackwardWithStats) as Like<T>;
  }
}
